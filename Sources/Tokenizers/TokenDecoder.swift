/// One step of a Hugging Face decoder. Decoding maps ids to their token strings, runs the steps
/// over the list of strings in order, and joins what is left; with no decoder at all, HF joins
/// the token strings with single spaces.
enum DecoderStep: Sendable {
    /// `ByteLevel`: all tokens become one string; each token whose characters are all in GPT-2's
    /// byte alphabet gives those bytes, any other token its own UTF-8; invalid UTF-8 becomes U+FFFD.
    case byteLevel
    /// `Replace`: every match in each token replaced by `content`.
    case replace(ReplacePattern, content: String)
    /// `ByteFallback`: runs of `<0xAB>` tokens become the text of their bytes, or one U+FFFD per
    /// byte when the run is not valid UTF-8.
    case byteFallback
    /// `Fuse`: all tokens become one.
    case fuse
    /// `Strip`: up to `start` leading and `stop` trailing `content` characters removed from each token.
    case strip(content: Unicode.Scalar, start: Int, stop: Int)
    /// `Metaspace`: the replacement character becomes a space, except in the first token when
    /// the prepend scheme is not `never` (there it is dropped).
    case metaspace(replacement: Unicode.Scalar, prependScheme: PrependScheme)

    func apply(_ tokens: [String]) -> [String] {
        switch self {
        case .byteLevel:
            var bytes: [UInt8] = []
            for token in tokens {
                if let raw = ByteLevel.decode(token) { bytes.append(contentsOf: raw) } else { bytes.append(contentsOf: token.utf8) }
            }
            return [String(decoding: bytes, as: UTF8.self)]
        case .replace(let pattern, let content):
            return tokens.map { pattern.replacing(in: $0, with: content) }
        case .byteFallback:
            var out: [String] = []
            out.reserveCapacity(tokens.count)
            var pending: [UInt8] = []
            func flush() {
                guard !pending.isEmpty else { return }
                if let s = String(validating: pending, as: UTF8.self) {
                    out.append(s)
                } else {
                    out.append(contentsOf: repeatElement("\u{FFFD}", count: pending.count))
                }
                pending.removeAll(keepingCapacity: true)
            }
            for token in tokens {
                if let byte = DecoderStep.fallbackByte(token) {
                    pending.append(byte)
                } else {
                    flush()
                    out.append(token)
                }
            }
            flush()
            return out
        case .fuse:
            return [tokens.joined()]
        case .strip(let content, let start, let stop):
            return tokens.map { token in
                let scalars = Array(token.unicodeScalars)
                var lower = 0
                while lower < min(start, scalars.count) && scalars[lower] == content { lower += 1 }
                var upper = scalars.count
                var removed = 0
                while removed < stop && upper > lower && scalars[upper - 1] == content {
                    upper -= 1
                    removed += 1
                }
                var s = String.UnicodeScalarView()
                s.append(contentsOf: scalars[lower..<upper])
                return String(s)
            }
        case .metaspace(let replacement, let scheme):
            return tokens.enumerated().map { index, token in
                var s = String.UnicodeScalarView()
                for scalar in token.unicodeScalars {
                    if scalar == replacement {
                        if index == 0 && scheme != .never { continue }
                        s.append(" ")
                    } else {
                        s.append(scalar)
                    }
                }
                return String(s)
            }
        }
    }

    /// The byte of a `<0xAB>` token (exactly six characters, two hex digits), else nil.
    static func fallbackByte(_ token: String) -> UInt8? {
        let u = Array(token.utf8)
        guard u.count == 6, u[0] == UInt8(ascii: "<"), u[1] == UInt8(ascii: "0"), u[2] == UInt8(ascii: "x"),
              u[5] == UInt8(ascii: ">")
        else { return nil }
        return UInt8(String(decoding: u[3..<5], as: UTF8.self), radix: 16)
    }
}

/// A whole decoder: its steps in order, or (`steps == nil`) no decoder, which joins tokens with spaces.
struct TokenDecoderPipeline: Sendable {
    var steps: [DecoderStep]?

    func decode(_ tokens: [String]) -> String {
        guard let steps else { return tokens.joined(separator: " ") }
        var tokens = tokens
        for step in steps { tokens = step.apply(tokens) }
        return tokens.joined()
    }
}
