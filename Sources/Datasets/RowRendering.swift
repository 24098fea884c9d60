import Tokenizers

/// Text views of packed rows and reports for `instruct data inspect`. The library builds the
/// strings; the command line only prints them.
public enum RowRenderer {
    /// How to mark token roles.
    public enum Style: Sendable {
        /// ANSI colours: trained green, not trained grey, padding dark; segment headers bold.
        case ansi
        /// No escape codes: trained spans in `[[ ]]`, padding as `<pad xN>`.
        case plain
    }

    /// The role of token `t` of `row`: trained means the model learns to predict it.
    public enum TokenRole: Equatable, Sendable {
        case trained, notTrained, padding
    }

    /// The role of each token of `row`, `[T]`.
    public static func roles(of row: PackedRow) -> [TokenRole] {
        row.tokens.indices.map { t in
            if row.segmentIDs[t] == 0 { return .padding }
            if t > 0 && row.segmentIDs[t - 1] == row.segmentIDs[t] && row.lossMask[t - 1] == 1 { return .trained }
            return .notTrained
        }
    }

    /// Renders `row` token by token, one block per example with a header line
    /// (`── example 2 · positions 0-87 · 40 trained ──`), then the padding.
    /// Newlines inside tokens are shown as `⏎` followed by a real newline.
    public static func render(_ row: PackedRow, tokenizer: any TextTokenizer, style: Style) -> String {
        let roles = roles(of: row)
        var out = ""
        let legend = style == .ansi
            ? "legend: \(ansiGreen)trained\(ansiReset) \(ansiGrey)not trained\(ansiReset) \(ansiDark)padding\(ansiReset)\n"
            : "legend: [[trained]] not trained <pad xN>\n"
        out += legend
        var t = 0
        let T = row.tokens.count
        while t < T {
            let seg = row.segmentIDs[t]
            var end = t
            while end < T && row.segmentIDs[end] == seg { end += 1 }
            if seg == 0 {
                out += style == .ansi ? "\(ansiDark)<pad x\(end - t)>\(ansiReset)\n" : "<pad x\(end - t)>\n"
                t = end
                continue
            }
            let trained = roles[t..<end].filter { $0 == .trained }.count
            let header = "── example \(seg) · positions 0-\(end - t - 1) · \(end - t) tokens · \(trained) trained ──"
            out += (style == .ansi ? "\(ansiBold)\(header)\(ansiReset)" : header) + "\n"
            var inTrained = false
            for i in t..<end {
                let text = visible(tokenizer.decode([row.tokens[i]]))
                switch style {
                case .ansi:
                    out += (roles[i] == .trained ? ansiGreen : ansiGrey) + text + ansiReset
                case .plain:
                    let isTrained = roles[i] == .trained
                    if isTrained && !inTrained { out += "[[" }
                    if !isTrained && inTrained { out += "]]" }
                    inTrained = isTrained
                    out += text
                }
            }
            if inTrained { out += "]]" }
            out += "\n"
            t = end
        }
        return out
    }

    /// The report as aligned lines of text.
    public static func render(_ report: PreflightReport, seqLen: Int) -> String {
        func pct(_ x: Double) -> String { String(Double(Int((x * 1000).rounded())) / 10) + "%" }
        func reasons(_ d: [String: Int]) -> String {
            d.isEmpty ? "" : " (" + d.sorted { $0.key < $1.key }.map { "\($0.key): \($0.value)" }.joined(separator: ", ") + ")"
        }
        var lines = [
            "records read        \(report.records)",
            "skipped             \(report.skipped)\(reasons(report.skippedByReason))",
            "dropped             \(report.dropped)\(reasons(report.droppedByReason))",
            "truncated           \(report.truncated)",
            "examples            \(report.examples) (\(report.validationExamples) for validation)",
            "tokens              \(report.tokens)",
            "trained tokens      \(report.trainedTokens)",
            "rows of \(seqLen)".padding(toLength: 20, withPad: " ", startingAt: 0) + "\(report.rows)",
            "packing efficiency  \(pct(report.packingEfficiency)) non-padding",
            "example lengths:",
        ]
        let top = max(1, report.lengthHistogram.map(\.count).max() ?? 1)
        for b in report.lengthHistogram {
            let range = "  \(b.lower)-\(b.upper)".padding(toLength: 14, withPad: " ", startingAt: 0)
            let bar = String(repeating: "#", count: (b.count * 40 + top - 1) / top)
            lines.append(range + String("\(b.count)".padding(toLength: 7, withPad: " ", startingAt: 0)) + bar)
        }
        return lines.joined(separator: "\n") + "\n"
    }

    private static func visible(_ s: String) -> String {
        s.replacingOccurrences(of: "\n", with: "⏎\n")
    }

    private static let ansiGreen = "\u{1B}[32m"
    private static let ansiGrey = "\u{1B}[90m"
    private static let ansiDark = "\u{1B}[2;37m"
    private static let ansiBold = "\u{1B}[1m"
    private static let ansiReset = "\u{1B}[0m"
}
