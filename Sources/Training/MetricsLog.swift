import Foundation

/// `metrics.jsonl` in a run directory: one JSON object per logged step or evaluation,
/// appended and flushed line by line so a killed run loses at most the line being written.
/// `metrics.csv` beside it holds the same lines as rows (`MetricsCSV`), written alike;
/// `loss_curve.svg` is rewritten (atomically) from the same points; with `tensorBoard`, the
/// same values also go to a TensorBoard event file in `tensorboard/` (`TensorBoardWriter`).
public final class MetricsLog {
    public let directory: URL
    public var metricsURL: URL { directory.appendingPathComponent("metrics.jsonl") }
    public var curveURL: URL { directory.appendingPathComponent("loss_curve.svg") }
    public var csvURL: URL { directory.appendingPathComponent("metrics.csv") }
    private let handle: FileHandle
    private let csvHandle: FileHandle
    /// The TensorBoard event file this log writes too (nil unless asked for).
    public let tensorBoard: TensorBoardWriter?
    private var trainPoints: [(Int, Double)] = []
    private var evalPoints: [(Int, Double)] = []
    private let encoder: JSONEncoder

    /// Opens (creating when absent) `metrics.jsonl` in `directory`. With `truncateAfterStep`,
    /// lines of later steps are removed first (a resumed run continues with no duplicated
    /// or missing step); existing points are loaded for the curve. `metrics.csv` is rewritten
    /// from the lines kept (so it always matches metrics.jsonl, also in a run folder written
    /// before the CSV existed). With `tensorBoard`, a new event file is started in
    /// `directory/tensorboard` whose session starts after `truncateAfterStep`.
    public init(directory: URL, truncateAfterStep: Int? = nil, tensorBoard: Bool = false) throws {
        self.directory = directory
        encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        let fm = FileManager.default
        do {
            try fm.createDirectory(at: directory, withIntermediateDirectories: true)
        } catch {
            throw TrainingError.io(path: directory.path, reason: "cannot create the run directory (\(error.localizedDescription)); check permissions or choose another output.dir")
        }
        let url = directory.appendingPathComponent("metrics.jsonl")
        var kept: [String] = []
        if let text = try? String(contentsOf: url, encoding: .utf8) {
            for line in text.split(separator: "\n") where !line.isEmpty {
                guard let obj = try? JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any],
                      let step = obj["step"] as? Int else { continue }
                if let limit = truncateAfterStep, step > limit { continue }
                kept.append(String(line))
                if let l = obj["loss"] as? Double { trainPoints.append((step, l)) }
                if let l = obj["eval_loss"] as? Double { evalPoints.append((step, l)) }
            }
        }
        let body = kept.isEmpty ? "" : kept.joined(separator: "\n") + "\n"
        if truncateAfterStep != nil || !fm.fileExists(atPath: url.path) {
            guard fm.createFile(atPath: url.path, contents: Data(body.utf8)) else {
                throw TrainingError.io(path: url.path, reason: "cannot write metrics; check permissions and free disk space")
            }
        }
        do {
            handle = try FileHandle(forWritingTo: url)
            try handle.seekToEnd()
        } catch {
            throw TrainingError.io(path: url.path, reason: "cannot open metrics for appending (\(error.localizedDescription))")
        }
        let csv = directory.appendingPathComponent("metrics.csv")
        let text = MetricsCSV.text(jsonLines: kept)
        do {
            try Data(text.utf8).write(to: csv, options: .atomic)
            csvHandle = try FileHandle(forWritingTo: csv)
            try csvHandle.seekToEnd()
        } catch {
            try? handle.close()
            throw TrainingError.io(path: csv.path, reason: "cannot write metrics.csv (\(error.localizedDescription)); check permissions and free disk space")
        }
        do {
            self.tensorBoard = tensorBoard
                ? try TensorBoardWriter(directory: directory.appendingPathComponent("tensorboard"), firstStep: (truncateAfterStep ?? 0) + 1)
                : nil
        } catch {
            try? handle.close()
            try? csvHandle.close()
            throw error
        }
    }

    deinit {
        try? handle.close()
        try? csvHandle.close()
    }

    /// Appends a step line.
    public func append(_ m: StepMetrics) throws {
        try write(m)
        try writeCSV(MetricsCSV.row(m))
        var scalars: [(tag: String, value: Double)] = [("train/lr", m.lr), ("train/tokens_per_s", m.tokensPerSecond)]
        if let l = m.loss { scalars.insert(("train/loss", l), at: 0) }
        if let g = m.gradNorm { scalars.append(("train/grad_norm", g)) }
        if let p = m.preference { scalars += zip(PreferenceMetrics.names, p.values).map { ("train/" + $0, $1) } }
        try tensorBoard?.add(scalars, step: m.step)
        if let l = m.loss { trainPoints.append((m.step, l)) }
    }

    /// Appends an evaluation line.
    public func append(_ m: EvalMetrics) throws {
        try write(m)
        try writeCSV(MetricsCSV.row(m))
        var scalars: [(tag: String, value: Double)] = [("eval/loss", m.evalLoss), ("eval/perplexity", m.evalPerplexity)]
        if let p = m.preference { scalars += zip(PreferenceMetrics.names, p.values).map { ("eval/" + $0, $1) } }
        try tensorBoard?.add(scalars, step: m.step)
        evalPoints.append((m.step, m.evalLoss))
    }

    private func writeCSV(_ row: String) throws {
        do {
            try csvHandle.write(contentsOf: Data(row.utf8))
        } catch {
            throw TrainingError.io(path: csvURL.path, reason: "cannot append metrics (\(error.localizedDescription)); is the disk full?")
        }
    }

    private func write<T: Encodable>(_ value: T) throws {
        var data = try encoder.encode(value)
        data.append(0x0A)
        do {
            try handle.write(contentsOf: data)
        } catch {
            throw TrainingError.io(path: metricsURL.path, reason: "cannot append metrics (\(error.localizedDescription)); is the disk full?")
        }
    }

    /// The hidden file the loss curve is written to before it is renamed into place.
    public static let temporaryCurveName = ".loss_curve.svg.tmp"

    /// Held while the curve's temporary file exists, so that a process about to `_exit` can
    /// wait out a write in progress and keep any later one from starting.
    private static let curveWrites = NSLock()

    /// Waits for a loss-curve write in progress to finish and stops this process from
    /// starting another, for good: for a process that removes the temporary file and then
    /// calls `_exit` (the second Ctrl-C), so that no write recreates the file in between.
    public static func stopCurveWrites() {
        curveWrites.lock()
    }

    /// Rewrites `loss_curve.svg` from every point so far (temporary file, then rename).
    public func writeCurve(title: String) throws {
        let svg = LossCurve.svg(train: trainPoints, eval: evalPoints, title: title)
        let tmp = directory.appendingPathComponent(Self.temporaryCurveName)
        Self.curveWrites.lock()
        defer { Self.curveWrites.unlock() }
        do {
            try Data(svg.utf8).write(to: tmp)
            guard rename(tmp.path, curveURL.path) == 0 else {
                throw TrainingError.io(path: curveURL.path, reason: "cannot rename the new loss curve into place (errno \(errno))")
            }
        } catch let e as TrainingError {
            throw e
        } catch {
            throw TrainingError.io(path: curveURL.path, reason: "cannot write the loss curve (\(error.localizedDescription))")
        }
    }
}

/// A self-contained SVG line chart of training (and evaluation) loss against step.
public enum LossCurve {
    public static func svg(train: [(Int, Double)], eval: [(Int, Double)], title: String,
                           width: Int = 640, height: Int = 360) -> String {
        let left = 56.0, right = 16.0, top = 28.0, bottom = 36.0
        let w = Double(width) - left - right, h = Double(height) - top - bottom
        let all = train + eval
        let maxStep = Double(max(all.map(\.0).max() ?? 1, 1))
        var lo = all.map(\.1).min() ?? 0, hi = all.map(\.1).max() ?? 1
        if hi - lo < 1e-9 { hi = lo + 1 }
        lo = min(lo, hi) - 0.02 * (hi - lo)
        func x(_ s: Int) -> Double { left + w * Double(s) / maxStep }
        func y(_ v: Double) -> Double { top + h * (1 - (v - lo) / (hi - lo)) }
        func f(_ v: Double) -> String { String(format: "%.1f", v) }
        var out = """
            <svg xmlns="http://www.w3.org/2000/svg" width="\(width)" height="\(height)" font-family="sans-serif" font-size="11">
            <rect width="100%" height="100%" fill="white"/>
            <text x="\(f(left))" y="18" font-size="13">\(escape(title))</text>
            <line x1="\(f(left))" y1="\(f(top + h))" x2="\(f(left + w))" y2="\(f(top + h))" stroke="#444"/>
            <line x1="\(f(left))" y1="\(f(top))" x2="\(f(left))" y2="\(f(top + h))" stroke="#444"/>

            """
        for i in 0...4 {
            let v = lo + (hi - lo) * Double(i) / 4
            out += "<text x=\"\(f(left - 6))\" y=\"\(f(y(v) + 4))\" text-anchor=\"end\">\(String(format: "%.3g", v))</text>\n"
            out += "<line x1=\"\(f(left))\" y1=\"\(f(y(v)))\" x2=\"\(f(left + w))\" y2=\"\(f(y(v)))\" stroke=\"#eee\"/>\n"
        }
        out += "<text x=\"\(f(left + w))\" y=\"\(f(top + h + 24))\" text-anchor=\"end\">step \(Int(maxStep))</text>\n"
        out += "<text x=\"\(f(left))\" y=\"\(f(top + h + 24))\">0</text>\n"
        if !train.isEmpty {
            let pts = train.map { "\(f(x($0.0))),\(f(y($0.1)))" }.joined(separator: " ")
            out += "<polyline fill=\"none\" stroke=\"#1f77b4\" stroke-width=\"1.5\" points=\"\(pts)\"/>\n"
            out += "<text x=\"\(f(left + w - 4))\" y=\"\(f(top + 12))\" text-anchor=\"end\" fill=\"#1f77b4\">train loss</text>\n"
        }
        if !eval.isEmpty {
            let pts = eval.map { "\(f(x($0.0))),\(f(y($0.1)))" }.joined(separator: " ")
            out += "<polyline fill=\"none\" stroke=\"#d62728\" stroke-width=\"1.5\" points=\"\(pts)\"/>\n"
            for p in eval { out += "<circle cx=\"\(f(x(p.0)))\" cy=\"\(f(y(p.1)))\" r=\"2.5\" fill=\"#d62728\"/>\n" }
            out += "<text x=\"\(f(left + w - 4))\" y=\"\(f(top + 26))\" text-anchor=\"end\" fill=\"#d62728\">eval loss</text>\n"
        }
        out += "</svg>\n"
        return out
    }

    static func escape(_ s: String) -> String {
        s.replacingOccurrences(of: "&", with: "&amp;").replacingOccurrences(of: "<", with: "&lt;")
            .replacingOccurrences(of: ">", with: "&gt;")
    }
}
