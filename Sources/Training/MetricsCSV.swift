import Foundation

/// The rows of `metrics.csv`: the same lines as metrics.jsonl, one per logged step or
/// evaluation, in fixed columns for spreadsheets and `pandas.read_csv`. A step row leaves the
/// evaluation columns empty and an evaluation row the step columns; so does a value that is
/// absent (a step without trained tokens has no loss, one process has no all-reduce time).
/// Numbers are Swift's shortest round-trip text (`0.0003`, `1e-05`), which every CSV reader
/// parses back to the same Double.
public enum MetricsCSV {
    /// The header, in column order.
    public static let columns = [
        "step", "epoch", "loss", "lr", "grad_norm", "tokens", "trained_tokens", "tokens_per_s", "trained_tokens_per_s",
        "elapsed_s", "allreduce_s", "rank_wait_s", "eval_loss", "eval_ppl", "eval_tokens",
    ]

    /// The header line, newline included.
    public static var header: String { columns.joined(separator: ",") + "\n" }

    /// A step's row, newline included.
    public static func row(_ m: StepMetrics) -> String {
        line([m.step, m.epoch, m.loss, m.lr, m.gradNorm, m.tokens, m.trainedTokens, m.tokensPerSecond, m.trainedTokensPerSecond,
              m.elapsedSeconds, m.allreduceSeconds, m.rankWaitSeconds, nil, nil, nil])
    }

    /// An evaluation's row, newline included.
    public static func row(_ e: EvalMetrics) -> String {
        line([e.step, nil, nil, nil, nil, nil, nil, nil, nil, nil, nil, nil, e.evalLoss, e.evalPerplexity, e.evalTokens])
    }

    /// `metrics.csv` for the lines of a metrics.jsonl (lines that are neither a step nor an
    /// evaluation are left out, as MetricsLog leaves them out of the curve).
    static func text(jsonLines: [String]) -> String {
        let decoder = JSONDecoder()
        var out = header
        for line in jsonLines {
            let data = Data(line.utf8)
            if line.contains("\"eval_loss\""), let e = try? decoder.decode(EvalMetrics.self, from: data) {
                out += row(e)
            } else if let m = try? decoder.decode(StepMetrics.self, from: data) {
                out += row(m)
            }
        }
        return out
    }

    private static func line(_ values: [(any CustomStringConvertible)?]) -> String {
        precondition(values.count == columns.count, "MetricsCSV: \(values.count) values for \(columns.count) columns")
        return values.map { value in
            switch value {
            case nil: return ""
            case let d as Double: return d.isFinite ? "\(d)" : (d.isNaN ? "nan" : (d > 0 ? "inf" : "-inf"))
            case let v?: return v.description
            }
        }.joined(separator: ",") + "\n"
    }
}
