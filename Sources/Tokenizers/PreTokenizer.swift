/// GPT-2's pre-tokenizer: splits text into the pieces that BPE then works on, one by one.
///
/// It is a hand-written scanner equivalent to the regular expression used by GPT-2 and by
/// Hugging Face `tokenizers`' `ByteLevel` pre-tokenizer:
///
///     's|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+
///
/// At each position the first alternative that matches wins and is greedy. `\p{L}` and
/// `\p{N}` are the Unicode general categories L* and N*; `\s` is the White_Space property.
/// Contractions are case-sensitive (`'S` is punctuation then a letter), exactly as in GPT-2.
/// The scanner walks UTF-8 bytes and decodes scalars itself; ASCII takes a table lookup.
/// Unicode property tables come from the Swift standard library, so a character assigned
/// in a newer Unicode version than the one HF's regex engine knows may be classified differently.
struct PreTokenScanner {
    enum CharClass: UInt8 { case letter, number, space, other }

    private let bytes: UnsafeBufferPointer<UInt8>
    private var position: Int

    /// `bytes` must be valid UTF-8 (any Swift string's UTF-8 is) and outlive the scanner.
    init(_ bytes: UnsafeBufferPointer<UInt8>, start: Int = 0) {
        self.bytes = bytes
        self.position = start
    }

    @inline(__always)
    private static func asciiClass(_ b: UInt8) -> CharClass {
        if b &- 0x61 < 26 || b &- 0x41 < 26 { return .letter }  // a-z, A-Z
        if b &- 0x30 < 10 { return .number }
        if b == 0x20 || b &- 0x09 < 5 { return .space }  // space, \t \n \v \f \r
        return .other
    }

    /// Class of a non-ASCII scalar by its Unicode properties.
    static func classify(_ value: UInt32) -> CharClass {
        guard let scalar = Unicode.Scalar(value) else { return .other }
        let props = scalar.properties
        switch props.generalCategory {
        case .uppercaseLetter, .lowercaseLetter, .titlecaseLetter, .modifierLetter, .otherLetter:
            return .letter
        case .decimalNumber, .letterNumber, .otherNumber:
            return .number
        default:
            return props.isWhitespace ? .space : .other
        }
    }

    /// Class and UTF-8 length of the scalar starting at `i` (which is < count).
    @inline(__always)
    private func scalar(at i: Int) -> (CharClass, Int) {
        let b0 = bytes[i]
        if b0 < 0x80 { return (PreTokenScanner.asciiClass(b0), 1) }
        let (value, k) = decodeScalar(bytes, at: i)
        return (PreTokenScanner.classify(value), k)
    }

    /// End of the run of characters of class `cls` starting at `i`.
    @inline(__always)
    private func run(of cls: CharClass, from i: Int) -> Int {
        var j = i
        while j < bytes.count {
            let (c, len) = scalar(at: j)
            if c != cls { break }
            j += len
        }
        return j
    }

    /// The byte range of the next pre-token, or nil at the end of the text.
    mutating func next() -> Range<Int>? {
        let n = bytes.count
        let i = position
        guard i < n else { return nil }
        let end = matchEnd(at: i, count: n)
        position = end
        return i..<end
    }

    private func matchEnd(at i: Int, count n: Int) -> Int {
        let b = bytes[i]
        // 's 't 're 've 'm 'll 'd
        if b == UInt8(ascii: "'") && i + 1 < n {
            let b1 = bytes[i + 1]
            switch b1 {
            case UInt8(ascii: "s"), UInt8(ascii: "t"), UInt8(ascii: "m"), UInt8(ascii: "d"):
                return i + 2
            case UInt8(ascii: "r"), UInt8(ascii: "v"):
                if i + 2 < n && bytes[i + 2] == UInt8(ascii: "e") { return i + 3 }
            case UInt8(ascii: "l"):
                if i + 2 < n && bytes[i + 2] == UInt8(ascii: "l") { return i + 3 }
            default:
                break
            }
        }
        let (c0, l0) = scalar(at: i)
        // ` ?\p{L}+`, ` ?\p{N}+`, ` ?[^\s\p{L}\p{N}]+` with the optional leading space.
        if b == 0x20 && i + 1 < n {
            let (c1, l1) = scalar(at: i + 1)
            if c1 != .space { return run(of: c1, from: i + 1 + l1) }
        }
        if c0 != .space { return run(of: c0, from: i + l0) }
        // `\s+(?!\S)` then `\s+`: a whitespace run followed by a non-space gives back
        // its last character (which then starts the next piece), unless it is the only one.
        var j = i + l0
        var lastStart = i
        while j < n {
            let (c, len) = scalar(at: j)
            if c != .space { break }
            lastStart = j
            j += len
        }
        if j == n || lastStart == i { return j }
        return lastStart
    }
}
