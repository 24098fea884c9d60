/// How a split treats the delimiters it finds (HF `SplitDelimiterBehavior`).
enum SplitBehavior: String, Sendable, CaseIterable {
    case removed = "Removed", isolated = "Isolated", mergedWithPrevious = "MergedWithPrevious"
    case mergedWithNext = "MergedWithNext", contiguous = "Contiguous"
}

/// What a split looks for.
enum SplitPattern: Sendable {
    /// A literal string (HF `{"String": ...}`): each occurrence is a match.
    case literal([UInt8])
    /// GPT-2's regex, matched by `PreTokenScanner`.
    case gpt2
    /// Llama 3's (`maxDigits` 3) or Qwen2's (`maxDigits` 1) regex, matched by `Llama3Scanner`.
    case llama3(maxDigits: Int)
    /// Any other regex, matched by ICU.
    case regex(CompiledRegex)
    /// Each character for which the predicate holds is a match of its own (HF's `Fn(char) -> bool` patterns).
    case character(CharacterPredicate)

    /// Calls `body` with each match, left to right, without collecting them (the scanners and
    /// character tests; the others go through `matches`).
    @inline(__always)
    func forEachMatch(in bytes: UnsafeBufferPointer<UInt8>, _ body: (Range<Int>) -> Void) {
        switch self {
        case .gpt2:
            var scanner = PreTokenScanner(bytes)
            while let r = scanner.next() { body(r) }
        case .llama3(let maxDigits):
            var scanner = Llama3Scanner(bytes, maxDigits: maxDigits)
            while let r = scanner.next() { body(r) }
        case .character(let predicate):
            var i = 0
            while i < bytes.count {
                let (scalar, length) = decodeScalar(bytes, at: i)
                if predicate.holds(scalar) { body(i..<(i + length)) }
                i += length
            }
        case .literal, .regex:
            for r in matches(in: bytes) { body(r) }
        }
    }

    /// Matches as byte ranges of `bytes`, left to right, non-overlapping.
    func matches(in bytes: UnsafeBufferPointer<UInt8>) -> [Range<Int>] {
        var out: [Range<Int>] = []
        switch self {
        case .literal(let needle):
            return literalMatches(of: needle, in: bytes)
        case .gpt2:
            var scanner = PreTokenScanner(bytes)
            while let r = scanner.next() { out.append(r) }
        case .llama3(let maxDigits):
            var scanner = Llama3Scanner(bytes, maxDigits: maxDigits)
            while let r = scanner.next() { out.append(r) }
        case .regex(let re):
            return re.matches(in: bytes)
        case .character(let predicate):
            var i = 0
            while i < bytes.count {
                let (scalar, length) = decodeScalar(bytes, at: i)
                if predicate.holds(scalar) { out.append(i..<(i + length)) }
                i += length
            }
        }
        return out
    }
}

/// The character classes HF tests one character at a time.
enum CharacterPredicate: Sendable {
    /// Rust `char::is_numeric`: general categories Nd, Nl, No (HF `Digits`).
    case numeric
    /// ASCII punctuation or Unicode categories Pc, Pd, Ps, Pe, Pi, Pf, Po as of Unicode 8.0 (HF `Punctuation`).
    case punctuation
    /// White_Space (HF `WhitespaceSplit`).
    case whitespace
    /// One given character (HF `Metaspace` splitting on its replacement).
    case scalar(UInt32)

    func holds(_ value: UInt32) -> Bool {
        switch self {
        case .scalar(let s):
            return value == s
        case .numeric:
            if value < 0x80 { return value &- 0x30 < 10 }
            guard let s = Unicode.Scalar(value) else { return false }
            switch s.properties.generalCategory {
            case .decimalNumber, .letterNumber, .otherNumber: return true
            default: return false
            }
        case .punctuation:
            if value < 0x80 {
                return (0x21...0x2F).contains(value) || (0x3A...0x40).contains(value)
                    || (0x5B...0x60).contains(value) || (0x7B...0x7E).contains(value)
            }
            // HF tests `unicode_categories`' tables, which are Unicode 8.0's: punctuation added
            // later is not punctuation there, and two characters that were punctuation then still are.
            if value == 0x166D || value == 0x111C9 { return true }
            guard let s = Unicode.Scalar(value), let age = s.properties.age, age.major < 8 || (age.major == 8 && age.minor == 0)
            else { return false }
            switch s.properties.generalCategory {
            case .connectorPunctuation, .dashPunctuation, .openPunctuation, .closePunctuation,
                 .initialPunctuation, .finalPunctuation, .otherPunctuation:
                return true
            default:
                return false
            }
        case .whitespace:
            if value < 0x80 { return value == 0x20 || value &- 0x09 < 5 }
            return Unicode.Scalar(value)?.properties.isWhitespace ?? false
        }
    }
}

/// The scalar value and UTF-8 length at `i` of valid UTF-8.
@inline(__always)
func decodeScalar(_ bytes: UnsafeBufferPointer<UInt8>, at i: Int) -> (UInt32, Int) {
    let b0 = bytes[i]
    if b0 < 0x80 { return (UInt32(b0), 1) }
    var value: UInt32
    let length: Int
    if b0 >= 0xF0 {
        length = 4; value = UInt32(b0 & 0x07)
    } else if b0 >= 0xE0 {
        length = 3; value = UInt32(b0 & 0x0F)
    } else {
        length = 2; value = UInt32(b0 & 0x1F)
    }
    var k = 1
    while k < length && i + k < bytes.count {
        value = (value << 6) | UInt32(bytes[i + k] & 0x3F)
        k += 1
    }
    return (value, k)
}

/// When Metaspace puts its replacement character in front of a piece (HF `PrependScheme`).
enum PrependScheme: String, Sendable, CaseIterable {
    case always, first, never
}

/// One step of a Hugging Face pre-tokenizer. Steps run in order; each cuts every piece the
/// previous one produced.
enum PreTokenizerStep: Sendable {
    /// `ByteLevel`: a space in front of each piece not starting with one (`add_prefix_space`),
    /// then GPT-2's split (`use_regex`). The model then works on bytes. Must be the last step.
    case byteLevel(addPrefixSpace: Bool, useRegex: Bool)
    /// `Split` with a pattern, a delimiter behavior and `invert`.
    case split(SplitPattern, SplitBehavior, invert: Bool)
    /// `Metaspace`: spaces become `replacement`, which is also put in front per `prependScheme`;
    /// with `split`, each piece is cut before every replacement character.
    case metaspace(replacement: String, prependScheme: PrependScheme, split: Bool)
    /// `Whitespace`: the pieces are the matches of `\w+|[^\w\s]+`; the rest is dropped.
    case whitespace
}

/// Pieces of text as ranges of one byte buffer, with whether the first piece starts at the very
/// beginning of the encoded text (HF's "original offset 0", which `Metaspace` `first` tests).
struct PieceList {
    var bytes: [UInt8]
    var ranges: [Range<Int>]
    var firstAtTextStart: Bool
}

extension PreTokenizerStep {
    /// Applies the step to every piece.
    func apply(_ input: PieceList) -> PieceList {
        switch self {
        case .byteLevel(let addPrefixSpace, let useRegex):
            var list = input
            if addPrefixSpace { list = prependingToEach(list, [0x20], when: { $0.first != 0x20 }) }
            guard useRegex else { return list }
            return splitting(list, pattern: .gpt2, behavior: .isolated, invert: false)
        case .split(let pattern, let behavior, let invert):
            return splitting(input, pattern: pattern, behavior: behavior, invert: invert)
        case .metaspace(let replacement, let scheme, let split):
            let rep = Array(replacement.utf8)
            var out = PieceList(bytes: [], ranges: [], firstAtTextStart: input.firstAtTextStart)
            out.bytes.reserveCapacity(input.bytes.count + 8)
            for (index, range) in input.ranges.enumerated() {
                let start = out.bytes.count
                let piece = input.bytes[range]
                let startsWithReplacement = piece.starts(with: rep)
                let startsWithSpace = piece.first == 0x20
                let prepend: Bool
                switch scheme {
                case .always: prepend = !startsWithReplacement && !startsWithSpace
                case .first: prepend = !startsWithReplacement && !startsWithSpace && index == 0 && input.firstAtTextStart
                case .never: prepend = false
                }
                if prepend { out.bytes.append(contentsOf: rep) }
                for b in piece {
                    if b == 0x20 { out.bytes.append(contentsOf: rep) } else { out.bytes.append(b) }
                }
                out.ranges.append(start..<out.bytes.count)
            }
            guard split, let scalar = replacement.unicodeScalars.first, replacement.unicodeScalars.count == 1 else {
                return out
            }
            return splitting(out, pattern: .character(.scalar(scalar.value)), behavior: .mergedWithNext, invert: false)
        case .whitespace:
            return keepingWords(input)
        }
    }

    /// Each piece prefixed with `prefix` when `when(piece)` holds (a new buffer).
    private func prependingToEach(_ input: PieceList, _ prefix: [UInt8], when: (ArraySlice<UInt8>) -> Bool) -> PieceList {
        var out = PieceList(bytes: [], ranges: [], firstAtTextStart: input.firstAtTextStart)
        out.bytes.reserveCapacity(input.bytes.count + input.ranges.count * prefix.count)
        for range in input.ranges {
            let start = out.bytes.count
            let piece = input.bytes[range]
            if when(piece) { out.bytes.append(contentsOf: prefix) }
            out.bytes.append(contentsOf: piece)
            out.ranges.append(start..<out.bytes.count)
        }
        return out
    }

    /// HF `NormalizedString::split`: matches and the text between them, arranged per `behavior`;
    /// empty pieces are dropped.
    private func splitting(_ input: PieceList, pattern: SplitPattern, behavior: SplitBehavior, invert: Bool) -> PieceList {
        var out = PieceList(bytes: input.bytes, ranges: [], firstAtTextStart: false)
        out.ranges.reserveCapacity(input.ranges.count * 2)
        input.bytes.withUnsafeBufferPointer { all in
            for (index, range) in input.ranges.enumerated() {
                let piece = UnsafeBufferPointer(rebasing: all[range])
                let before = out.ranges.count
                if behavior == .isolated {
                    // Matches and the gaps between them, each a piece (`invert` changes nothing here);
                    // no intermediate arrays, as this is the common case (Digits, ByteLevel, Llama 3).
                    var last = 0
                    let base = range.lowerBound
                    pattern.forEachMatch(in: piece) { m in
                        if m.lowerBound > last { out.ranges.append((base + last)..<(base + m.lowerBound)) }
                        if !m.isEmpty { out.ranges.append((base + m.lowerBound)..<(base + m.upperBound)) }
                        last = m.upperBound
                    }
                    if last < piece.count { out.ranges.append((base + last)..<(base + piece.count)) }
                    if index == 0 && input.firstAtTextStart && out.ranges.count > before
                        && out.ranges[before].lowerBound == range.lowerBound {
                        out.firstAtTextStart = true
                    }
                    continue
                }
                let found = pattern.matches(in: piece)
                // (range, isMatch) covering the piece, as HF's `find_matches` gives them.
                var parts: [(Range<Int>, Bool)] = []
                parts.reserveCapacity(found.count * 2 + 1)
                var last = 0
                for m in found {
                    if m.lowerBound > last { parts.append((last..<m.lowerBound, invert)) }
                    parts.append((m, !invert))
                    last = m.upperBound
                }
                if last < piece.count || parts.isEmpty { parts.append((last..<piece.count, invert)) }
                for r in SplitBehavior.arrange(parts, behavior) where !r.isEmpty {
                    out.ranges.append((range.lowerBound + r.lowerBound)..<(range.lowerBound + r.upperBound))
                }
                if index == 0 && input.firstAtTextStart && out.ranges.count > before
                    && out.ranges[before].lowerBound == range.lowerBound {
                    out.firstAtTextStart = true
                }
            }
        }
        return out
    }

    /// HF `Whitespace`: keeps the matches of `\w+|[^\w\s]+` (Oniguruma's Unicode `\w`: Alphabetic,
    /// marks, decimal digits, connector punctuation, Join_Control).
    private func keepingWords(_ input: PieceList) -> PieceList {
        var out = PieceList(bytes: input.bytes, ranges: [], firstAtTextStart: false)
        input.bytes.withUnsafeBufferPointer { all in
            for (index, range) in input.ranges.enumerated() {
                var i = range.lowerBound
                var runStart = -1
                var runIsWord = false
                func close(_ end: Int) {
                    if runStart >= 0 {
                        if index == 0 && input.firstAtTextStart && out.ranges.isEmpty && runStart == range.lowerBound {
                            out.firstAtTextStart = true
                        }
                        out.ranges.append(runStart..<end)
                    }
                    runStart = -1
                }
                while i < range.upperBound {
                    let (value, length) = decodeScalar(all, at: i)
                    let kind = wordClass(value)
                    if kind == 0 {
                        close(i)
                    } else if runStart < 0 || runIsWord != (kind == 1) {
                        close(i)
                        runStart = i
                        runIsWord = kind == 1
                    }
                    i += length
                }
                close(range.upperBound)
            }
        }
        return out
    }

    /// 0 for whitespace, 1 for a word character, 2 for anything else.
    private func wordClass(_ value: UInt32) -> Int {
        if value < 0x80 {
            if value &- 0x61 < 26 || value &- 0x41 < 26 || value &- 0x30 < 10 || value == 0x5F { return 1 }
            if value == 0x20 || value &- 0x09 < 5 { return 0 }
            return 2
        }
        guard let s = Unicode.Scalar(value) else { return 2 }
        let props = s.properties
        if props.isAlphabetic || value == 0x200C || value == 0x200D { return 1 }  // with Join_Control
        switch props.generalCategory {
        case .nonspacingMark, .spacingMark, .enclosingMark, .decimalNumber, .connectorPunctuation:
            return 1
        default:
            return props.isWhitespace ? 0 : 2
        }
    }
}

extension SplitBehavior {
    /// HF's arrangement of (range, isMatch) parts into pieces for each behavior.
    static func arrange(_ parts: [(Range<Int>, Bool)], _ behavior: SplitBehavior) -> [Range<Int>] {
        switch behavior {
        case .isolated:
            return parts.map(\.0)
        case .removed:
            return parts.filter { !$0.1 }.map(\.0)
        case .mergedWithPrevious:
            var out: [Range<Int>] = []
            var previousMatch = false
            for (r, isMatch) in parts {
                if isMatch && !previousMatch, let last = out.last {
                    out[out.count - 1] = last.lowerBound..<r.upperBound
                } else {
                    out.append(r)
                }
                previousMatch = isMatch
            }
            return out
        case .mergedWithNext:
            var out: [Range<Int>] = []
            var previousMatch = false
            for (r, isMatch) in parts.reversed() {
                if isMatch && !previousMatch, let last = out.last {
                    out[out.count - 1] = r.lowerBound..<last.upperBound
                } else {
                    out.append(r)
                }
                previousMatch = isMatch
            }
            return out.reversed()
        case .contiguous:
            var out: [Range<Int>] = []
            var previousMatch = false
            for (r, isMatch) in parts {
                if isMatch == previousMatch, let last = out.last {
                    out[out.count - 1] = last.lowerBound..<r.upperBound
                } else {
                    out.append(r)
                }
                previousMatch = isMatch
            }
            return out
        }
    }
}

/// A whole pre-tokenizer: its steps in order.
struct PreTokenizerPipeline: Sendable {
    var steps: [PreTokenizerStep]

    /// Cuts `segment` into pieces. `atTextStart`: the segment begins the encoded text.
    func pieces(of segment: [UInt8], atTextStart: Bool) -> PieceList {
        var list = PieceList(bytes: segment, ranges: segment.isEmpty ? [] : [0..<segment.count],
                             firstAtTextStart: atTextStart)
        for step in steps where !list.ranges.isEmpty { list = step.apply(list) }
        return list
    }
}
