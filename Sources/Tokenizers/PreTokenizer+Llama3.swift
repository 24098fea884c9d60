/// The split regex of Llama 3 (and, with single digits, of Qwen2), as a hand-written scanner:
///
///     (?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+
///
/// Qwen2 writes `\p{N}` where Llama 3 writes `\p{N}{1,3}`. At each position the first alternative
/// that matches wins (with the backtracking an Oniguruma engine does inside it); the alternatives
/// cover every character, so matches tile the text. Character classes are those of
/// `PreTokenScanner` (Swift's Unicode tables). The contractions are matched case-insensitively
/// for ASCII letters only; the Kelvin sign and long s, which Unicode case folding would also
/// accept, are not (no such text was found to differ from HF in the tests).
struct Llama3Scanner {
    private let bytes: UnsafeBufferPointer<UInt8>
    private var position: Int
    /// 3 for Llama 3 (`\p{N}{1,3}`), 1 for Qwen2 (`\p{N}`).
    private let maxDigits: Int

    init(_ bytes: UnsafeBufferPointer<UInt8>, maxDigits: Int) {
        self.bytes = bytes
        self.position = 0
        self.maxDigits = maxDigits
    }

    /// Class and UTF-8 length of the scalar at `i`; `\r` and `\n` are told apart from other spaces.
    @inline(__always)
    private func scalar(at i: Int) -> (PreTokenScanner.CharClass, Int, Bool) {
        let b0 = bytes[i]
        if b0 < 0x80 {
            let isNewline = b0 == 0x0A || b0 == 0x0D
            if b0 &- 0x61 < 26 || b0 &- 0x41 < 26 { return (.letter, 1, false) }
            if b0 &- 0x30 < 10 { return (.number, 1, false) }
            if b0 == 0x20 || b0 &- 0x09 < 5 { return (.space, 1, isNewline) }
            return (.other, 1, false)
        }
        let (value, k) = decodeScalar(bytes, at: i)
        return (PreTokenScanner.classify(value), k, false)
    }

    /// End of the run of `cls` characters from `i`, at most `limit` characters.
    @inline(__always)
    private func run(of cls: PreTokenScanner.CharClass, from i: Int, limit: Int = .max) -> Int {
        var j = i
        var count = 0
        while j < bytes.count && count < limit {
            let (c, len, _) = scalar(at: j)
            if c != cls { break }
            j += len
            count += 1
        }
        return j
    }

    /// The byte range of the next match, or nil at the end.
    mutating func next() -> Range<Int>? {
        let i = position
        guard i < bytes.count else { return nil }
        let end = matchEnd(at: i)
        position = end
        return i..<end
    }

    @inline(__always)
    private static func lower(_ b: UInt8) -> UInt8 { b &- 0x41 < 26 ? b + 32 : b }

    private func matchEnd(at i: Int) -> Int {
        let n = bytes.count
        // (?i:'s|'t|'re|'ve|'m|'ll|'d)
        if bytes[i] == UInt8(ascii: "'") && i + 1 < n {
            switch Llama3Scanner.lower(bytes[i + 1]) {
            case UInt8(ascii: "s"), UInt8(ascii: "t"), UInt8(ascii: "m"), UInt8(ascii: "d"):
                return i + 2
            case UInt8(ascii: "r"), UInt8(ascii: "v"):
                if i + 2 < n && Llama3Scanner.lower(bytes[i + 2]) == UInt8(ascii: "e") { return i + 3 }
            case UInt8(ascii: "l"):
                if i + 2 < n && Llama3Scanner.lower(bytes[i + 2]) == UInt8(ascii: "l") { return i + 3 }
            default:
                break
            }
        }
        let (c0, l0, newline0) = scalar(at: i)
        // [^\r\n\p{L}\p{N}]?\p{L}+
        if c0 == .letter { return run(of: .letter, from: i + l0) }
        if c0 != .number && !newline0 && i + l0 < n {
            let (c1, l1, _) = scalar(at: i + l0)
            if c1 == .letter { return run(of: .letter, from: i + l0 + l1) }
        }
        // \p{N}{1,3}
        if c0 == .number { return run(of: .number, from: i + l0, limit: maxDigits - 1) }
        // ` ?[^\s\p{L}\p{N}]+[\r\n]*`
        var start = -1
        if c0 == .other {
            start = i
        } else if bytes[i] == 0x20 && i + 1 < n {
            let (c1, _, _) = scalar(at: i + 1)
            if c1 == .other { start = i + 1 }
        }
        if start >= 0 {
            var j = run(of: .other, from: start)
            while j < n && (bytes[j] == 0x0A || bytes[j] == 0x0D) { j += 1 }
            return j
        }
        // Here c0 is whitespace. `\s*[\r\n]+`: the whitespace run up to its last \r or \n.
        var j = i
        var lastNewlineEnd = -1
        var lastStart = i
        while j < n {
            let (c, len, newline) = scalar(at: j)
            if c != .space { break }
            if newline { lastNewlineEnd = j + len }
            lastStart = j
            j += len
        }
        if lastNewlineEnd >= 0 { return lastNewlineEnd }
        // `\s+(?!\S)`, then `\s+`.
        if j == n || lastStart == i { return j }
        return lastStart
    }
}
