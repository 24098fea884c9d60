/// Turns a growing list of generated token ids into text that can be shown as it comes.
///
/// Each `append` decodes all ids so far and returns only the text not returned before.
/// Text is held back while it could still change: when the decoding ends in U+FFFD (a
/// character whose UTF-8 bytes are split across tokens) or in the beginning of a stop
/// string. Once a stop string appears, the text before it is released and `stopped` is set;
/// the stop string itself is never returned. `finish` releases what is held back. The
/// concatenation of everything returned equals `text` (the full decoding, cut at the first
/// stop string).
public struct TextStream {
    /// Turns ids into text (pass `tokenizer.decode`).
    public let decode: ([Int32]) -> String
    /// Strings that end the text; empty strings are ignored.
    public let stopStrings: [String]
    /// Ids appended so far.
    public private(set) var tokens: [Int32] = []
    /// Whether a stop string has appeared.
    public private(set) var stopped = false
    private var emitted = 0  // characters of `text` already returned

    public init(decode: @escaping ([Int32]) -> String, stopStrings: [String] = []) {
        self.decode = decode
        self.stopStrings = stopStrings.filter { !$0.isEmpty }
    }

    /// The text so far, cut before the first stop string.
    public var text: String { cut(decode(tokens)).text }

    /// Adds one id; returns the newly final text (possibly empty).
    public mutating func append(_ token: Int32) -> String {
        guard !stopped else { return "" }
        tokens.append(token)
        let (full, hit) = cut(decode(tokens))
        if hit {
            stopped = true
            return release(full, upTo: full.count)
        }
        var safe = full.count
        if full.last == "\u{FFFD}" { safe -= 1 }
        safe -= heldSuffix(full)
        return release(full, upTo: Swift.max(safe, emitted))
    }

    /// Releases everything held back (at the end of generation).
    public mutating func finish() -> String {
        let full = text
        return release(full, upTo: full.count)
    }

    private mutating func release(_ full: String, upTo end: Int) -> String {
        guard end > emitted else { return "" }
        let chars = Array(full)
        let out = String(chars[emitted..<Swift.min(end, chars.count)])
        emitted = Swift.min(end, chars.count)
        return out
    }

    /// `s` before its first stop string, and whether there was one.
    private func cut(_ s: String) -> (text: String, hit: Bool) {
        var best: String.Index? = nil
        for stop in stopStrings {
            if let r = s.range(of: stop), best.map({ r.lowerBound < $0 }) ?? true { best = r.lowerBound }
        }
        guard let best else { return (s, false) }
        return (String(s[..<best]), true)
    }

    /// Length in characters of the longest suffix of `s` that is a proper prefix of a stop string.
    private func heldSuffix(_ s: String) -> Int {
        var longest = 0
        let chars = Array(s)
        for stop in stopStrings {
            let stopChars = Array(stop)
            var n = Swift.min(stopChars.count - 1, chars.count)
            while n > longest {
                if Array(chars[(chars.count - n)...]) == Array(stopChars[..<n]) { longest = n; break }
                n -= 1
            }
        }
        return longest
    }
}
