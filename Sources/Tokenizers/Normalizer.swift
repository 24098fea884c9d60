import Foundation

/// A compiled regular expression from a tokenizer.json (`{"Regex": "..."}`), shared read-only.
///
/// ICU (`NSRegularExpression`) stands in for the Oniguruma engine Hugging Face `tokenizers`
/// uses. They agree on the constructs tokenizer files use (`\p{L}`, `\p{N}`, `\s`, classes,
/// `(?i:...)`, `(?!...)`, greedy quantifiers; tested against HF on the Llama 3 pattern); an exotic
/// construct could still differ. Matching is on UTF-16 and results are converted to UTF-8 offsets.
final class CompiledRegex: @unchecked Sendable {  // NSRegularExpression is immutable and thread-safe
    let pattern: String
    let regex: NSRegularExpression

    init(_ pattern: String) throws {
        self.pattern = pattern
        self.regex = try NSRegularExpression(pattern: pattern, options: [])
    }

    /// Byte ranges (into `bytes`, which must be valid UTF-8) of the non-overlapping matches, left to right.
    /// Empty matches are dropped (they split nothing).
    func matches(in bytes: UnsafeBufferPointer<UInt8>) -> [Range<Int>] {
        guard !bytes.isEmpty else { return [] }
        let text = String(decoding: bytes, as: UTF8.self)
        let ns = text as NSString
        let found = regex.matches(in: text, options: [], range: NSRange(location: 0, length: ns.length))
        guard !found.isEmpty else { return [] }
        // UTF-16 offset -> UTF-8 offset, walking the scalars once.
        var utf16ToUTF8 = [Int](repeating: 0, count: ns.length + 1)
        var u16 = 0
        var u8 = 0
        for scalar in text.unicodeScalars {
            let w16 = UTF16.width(scalar)
            let w8 = UTF8.width(scalar)
            utf16ToUTF8[u16] = u8
            if w16 == 2 { utf16ToUTF8[u16 + 1] = u8 }
            u16 += w16
            u8 += w8
        }
        utf16ToUTF8[u16] = u8
        var out: [Range<Int>] = []
        out.reserveCapacity(found.count)
        for m in found where m.range.length > 0 {
            out.append(utf16ToUTF8[m.range.location]..<utf16ToUTF8[m.range.location + m.range.length])
        }
        return out
    }
}

/// What a `Replace` normalizer or decoder looks for: a literal string or a regular expression.
enum ReplacePattern: Sendable {
    case literal([UInt8])
    case regex(CompiledRegex)

    /// Non-overlapping matches, left to right, as byte ranges of `bytes`.
    func matches(in bytes: UnsafeBufferPointer<UInt8>) -> [Range<Int>] {
        switch self {
        case .regex(let re):
            return re.matches(in: bytes)
        case .literal(let needle):
            return literalMatches(of: needle, in: bytes)
        }
    }

    /// `text` with every match replaced by `content`.
    func replacing(in text: String, with content: String) -> String {
        var text = text
        return text.withUTF8 { buf in
            let found = matches(in: buf)
            guard !found.isEmpty else { return String(decoding: buf, as: UTF8.self) }
            var out: [UInt8] = []
            out.reserveCapacity(buf.count + found.count * content.utf8.count)
            var last = 0
            for r in found {
                out.append(contentsOf: UnsafeBufferPointer(rebasing: buf[last..<r.lowerBound]))
                out.append(contentsOf: content.utf8)
                last = r.upperBound
            }
            out.append(contentsOf: UnsafeBufferPointer(rebasing: buf[last..<buf.count]))
            return String(decoding: out, as: UTF8.self)
        }
    }
}

/// Non-overlapping occurrences of `needle` in `bytes`, left to right. UTF-8 is self-synchronizing,
/// so a match of a valid UTF-8 needle always starts and ends on character boundaries.
func literalMatches(of needle: [UInt8], in bytes: UnsafeBufferPointer<UInt8>) -> [Range<Int>] {
    guard let first = needle.first, needle.count <= bytes.count else { return [] }
    var out: [Range<Int>] = []
    var i = 0
    let last = bytes.count - needle.count
    while i <= last {
        if bytes[i] == first {
            var k = 1
            while k < needle.count && bytes[i + k] == needle[k] { k += 1 }
            if k == needle.count {
                out.append(i..<(i + needle.count))
                i += needle.count
                continue
            }
        }
        i += 1
    }
    return out
}

/// One step of a Hugging Face normalizer. Each stretch of text between added tokens is
/// normalized on its own, before pre-tokenization.
enum NormalizerStep: Sendable {
    /// Unicode normalization forms (Foundation's, limited to Unicode 9.0's characters as HF's are).
    case nfc, nfd, nfkc, nfkd
    /// Each character's full lowercase mapping, without context (HF: Rust `char::to_lowercase`,
    /// so a final capital sigma becomes σ, not ς).
    case lowercase
    /// Removes leading and/or trailing White_Space characters.
    case strip(left: Bool, right: Bool)
    /// Puts `prepend` in front of non-empty text.
    case prepend(String)
    /// Replaces every match of the pattern with `content`.
    case replace(ReplacePattern, content: String)

    /// `form` applied as HF applies it. HF's normalization tables (the unicode-normalization-alignments
    /// crate) are Unicode 9.0's: a character assigned later (or unassigned) has no decomposition and
    /// combining class 0 there, so nothing composes or reorders across it. Runs of older characters
    /// are normalized on their own and newer ones kept as they are, which gives HF's result.
    static func normalizeAsHF(_ text: String, _ form: (String) -> String) -> String {
        @inline(__always) func known(_ scalar: Unicode.Scalar) -> Bool {
            scalar.value < 0x300 || (scalar.properties.age.map { $0.major < 9 || ($0.major == 9 && $0.minor == 0) } ?? false)
        }
        guard !text.unicodeScalars.allSatisfy(known) else { return form(text) }
        var run = String.UnicodeScalarView()
        var out = ""
        for scalar in text.unicodeScalars {
            if known(scalar) {
                run.append(scalar)
            } else {
                out += form(String(run))
                run.removeAll()
                out.unicodeScalars.append(scalar)
            }
        }
        return out + form(String(run))
    }

    func apply(_ text: String) -> String {
        switch self {
        case .nfc:
            // Text of scalars below U+0300 (no UTF-8 lead byte 0xCC or above) is already NFC:
            // composition needs a combining mark or a later script.
            var copy = text
            if copy.withUTF8({ $0.allSatisfy { $0 < 0xCC } }) { return text }
            return NormalizerStep.normalizeAsHF(text) { $0.precomposedStringWithCanonicalMapping }
        case .nfd: return NormalizerStep.normalizeAsHF(text) { $0.decomposedStringWithCanonicalMapping }
        case .nfkc: return NormalizerStep.normalizeAsHF(text) { $0.precomposedStringWithCompatibilityMapping }
        case .nfkd: return NormalizerStep.normalizeAsHF(text) { $0.decomposedStringWithCompatibilityMapping }
        case .lowercase:
            var out = String.UnicodeScalarView()
            for scalar in text.unicodeScalars {
                if scalar.isASCII {
                    let v = scalar.value
                    out.append(v >= 0x41 && v <= 0x5A ? Unicode.Scalar(UInt8(v + 32)) : scalar)
                } else {
                    out.append(contentsOf: scalar.properties.lowercaseMapping.unicodeScalars)
                }
            }
            return String(out)
        case .strip(let left, let right):
            let scalars = text.unicodeScalars
            var start = scalars.startIndex
            var end = scalars.endIndex
            if left { while start < end && scalars[start].properties.isWhitespace { start = scalars.index(after: start) } }
            if right {
                while end > start && scalars[scalars.index(before: end)].properties.isWhitespace {
                    end = scalars.index(before: end)
                }
            }
            return String(scalars[start..<end])
        case .prepend(let prefix):
            return text.isEmpty ? text : prefix + text
        case .replace(let pattern, let content):
            return pattern.replacing(in: text, with: content)
        }
    }
}

/// A normalizer: its steps in order (a tokenizer.json `Sequence`, or one step).
struct Normalizer: Sendable {
    var steps: [NormalizerStep]

    func apply(_ text: String) -> String {
        var text = text
        for step in steps { text = step.apply(text) }
        return text
    }
}
