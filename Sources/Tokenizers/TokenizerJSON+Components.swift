import Foundation

/// Reads the components of a tokenizer.json (`normalizer`, `pre_tokenizer`, `decoder`,
/// `post_processor`) into our pipeline types. Every error names the file and the JSON path of
/// the value (`pre_tokenizer.pretokenizers[2]`); an unknown component type is refused with the
/// list of those we implement, rather than giving other ids than HF.
struct TokenizerJSONReader {
    /// The file, for errors.
    let path: String

    static let supportedNormalizers = ["Sequence", "NFC", "NFD", "NFKC", "NFKD", "Lowercase", "Strip", "Prepend", "Replace"]
    static let supportedPreTokenizers = ["Sequence", "ByteLevel", "Split", "Digits", "Metaspace", "Whitespace",
                                         "WhitespaceSplit", "Punctuation"]
    static let supportedDecoders = ["Sequence", "ByteLevel", "Replace", "ByteFallback", "Fuse", "Strip", "Metaspace"]

    /// GPT-2's split regex, as tokenizer.json files write it.
    static let gpt2Pattern = #"'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+"#
    /// Llama 3's split regex.
    static let llama3Pattern =
        #"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+"#
    /// Qwen2's split regex (Llama 3's with single digits).
    static let qwen2Pattern =
        #"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+"#

    // MARK: Helpers

    func object(_ value: Any?, _ key: String) throws -> [String: Any] {
        guard let obj = value as? [String: Any] else {
            throw TokenizerError.missingKey(path: path, key: key, expected: "an object")
        }
        return obj
    }

    func type(of obj: [String: Any], _ key: String) throws -> String {
        guard let type = obj["type"] as? String else {
            throw TokenizerError.missingKey(path: path, key: key + ".type", expected: "a string")
        }
        return type
    }

    func bool(_ obj: [String: Any], _ name: String, _ key: String, default value: Bool) throws -> Bool {
        guard let raw = obj[name], !(raw is NSNull) else { return value }
        guard let b = raw as? Bool else { throw TokenizerError.missingKey(path: path, key: key + "." + name, expected: "true or false") }
        return b
    }

    func string(_ obj: [String: Any], _ name: String, _ key: String) throws -> String {
        guard let s = obj[name] as? String else {
            throw TokenizerError.missingKey(path: path, key: key + "." + name, expected: "a string")
        }
        return s
    }

    func count(_ obj: [String: Any], _ name: String, _ key: String) throws -> Int {
        guard let n = obj[name] as? NSNumber, n.intValue >= 0, n.intValue < 1 << 20 else {
            throw TokenizerError.missingKey(path: path, key: key + "." + name, expected: "a non-negative integer")
        }
        return n.intValue
    }

    func list(_ obj: [String: Any], _ name: String, _ key: String) throws -> [Any] {
        guard let l = obj[name] as? [Any] else {
            throw TokenizerError.missingKey(path: path, key: key + "." + name, expected: "an array")
        }
        return l
    }

    /// `{"String": s}` or `{"Regex": r}` (HF's pattern object).
    func pattern(_ obj: [String: Any], _ name: String, _ key: String) throws -> (literal: String?, regex: String?) {
        let p = try object(obj[name], key + "." + name)
        if let s = p["String"] as? String { return (s, nil) }
        if let r = p["Regex"] as? String { return (nil, r) }
        throw TokenizerError.missingKey(path: path, key: key + "." + name, expected: #"{"String": ...} or {"Regex": ...}"#)
    }

    func compile(_ regex: String, _ key: String) throws -> CompiledRegex {
        do {
            return try CompiledRegex(regex)
        } catch {
            throw TokenizerError.invalidPattern(path: path, key: key, pattern: regex, detail: "\(error)")
        }
    }

    func replacePattern(_ obj: [String: Any], _ key: String) throws -> ReplacePattern {
        let (literal, regex) = try pattern(obj, "pattern", key)
        if let literal {
            guard !literal.isEmpty else { throw TokenizerError.unsupported(path: path, key: key + ".pattern", found: "an empty string") }
            return .literal(Array(literal.utf8))
        }
        return .regex(try compile(regex ?? "", key + ".pattern"))
    }

    // MARK: Normalizer

    /// The normalizer's steps (nil for `null` or absent).
    func normalizer(_ value: Any?, _ key: String = "normalizer") throws -> Normalizer? {
        guard let value, !(value is NSNull) else { return nil }
        var steps: [NormalizerStep] = []
        try appendNormalizer(value, key, into: &steps)
        return Normalizer(steps: steps)
    }

    private func appendNormalizer(_ value: Any, _ key: String, into steps: inout [NormalizerStep]) throws {
        let obj = try object(value, key)
        let kind = try type(of: obj, key)
        switch kind {
        case "Sequence":
            for (i, item) in try list(obj, "normalizers", key).enumerated() {
                try appendNormalizer(item, "\(key).normalizers[\(i)]", into: &steps)
            }
        case "NFC": steps.append(.nfc)
        case "NFD": steps.append(.nfd)
        case "NFKC": steps.append(.nfkc)
        case "NFKD": steps.append(.nfkd)
        case "Lowercase": steps.append(.lowercase)
        case "Strip":
            steps.append(.strip(left: try bool(obj, "strip_left", key, default: true),
                                right: try bool(obj, "strip_right", key, default: true)))
        case "Prepend":
            steps.append(.prepend(try string(obj, "prepend", key)))
        case "Replace":
            steps.append(.replace(try replacePattern(obj, key), content: try string(obj, "content", key)))
        default:
            throw TokenizerError.unsupportedComponent(path: path, key: key, type: kind,
                                                      supported: TokenizerJSONReader.supportedNormalizers)
        }
    }

    // MARK: Pre-tokenizer

    /// The pre-tokenizer's steps (none for `null` or absent: each stretch of text is one piece).
    func preTokenizer(_ value: Any?, _ key: String = "pre_tokenizer") throws -> PreTokenizerPipeline {
        var steps: [PreTokenizerStep] = []
        if let value, !(value is NSNull) { try appendPreTokenizer(value, key, into: &steps) }
        for (i, step) in steps.enumerated() {
            if case .byteLevel = step, i != steps.count - 1 {
                throw TokenizerError.unsupported(path: path, key: key, found: "a ByteLevel pre-tokenizer before other pre-tokenizers")
            }
        }
        return PreTokenizerPipeline(steps: steps)
    }

    private func appendPreTokenizer(_ value: Any, _ key: String, into steps: inout [PreTokenizerStep]) throws {
        let obj = try object(value, key)
        let kind = try type(of: obj, key)
        switch kind {
        case "Sequence":
            for (i, item) in try list(obj, "pretokenizers", key).enumerated() {
                try appendPreTokenizer(item, "\(key).pretokenizers[\(i)]", into: &steps)
            }
        case "ByteLevel":
            steps.append(.byteLevel(addPrefixSpace: try bool(obj, "add_prefix_space", key, default: true),
                                    useRegex: try bool(obj, "use_regex", key, default: true)))
        case "Split":
            let (literal, regex) = try pattern(obj, "pattern", key)
            let splitPattern: SplitPattern
            if let literal {
                guard !literal.isEmpty else { throw TokenizerError.unsupported(path: path, key: key + ".pattern", found: "an empty string") }
                splitPattern = .literal(Array(literal.utf8))
            } else if regex == TokenizerJSONReader.gpt2Pattern {
                splitPattern = .gpt2
            } else if regex == TokenizerJSONReader.llama3Pattern {
                splitPattern = .llama3(maxDigits: 3)
            } else if regex == TokenizerJSONReader.qwen2Pattern {
                splitPattern = .llama3(maxDigits: 1)
            } else {
                splitPattern = .regex(try compile(regex ?? "", key + ".pattern.Regex"))
            }
            steps.append(.split(splitPattern, try behavior(obj, key), invert: try bool(obj, "invert", key, default: false)))
        case "Digits":
            let individual = try bool(obj, "individual_digits", key, default: false)
            steps.append(.split(.character(.numeric), individual ? .isolated : .contiguous, invert: false))
        case "Punctuation":
            steps.append(.split(.character(.punctuation), obj["behavior"] == nil ? .isolated : try behavior(obj, key), invert: false))
        case "WhitespaceSplit":
            steps.append(.split(.character(.whitespace), .removed, invert: false))
        case "Whitespace":
            steps.append(.whitespace)
        case "Metaspace":
            let replacement = try string(obj, "replacement", key)
            guard replacement.unicodeScalars.count == 1 else {
                throw TokenizerError.unsupported(path: path, key: key + ".replacement", found: JSONText.quoted(replacement))
            }
            let scheme: PrependScheme
            if let raw = obj["prepend_scheme"] as? String {
                guard let s = PrependScheme(rawValue: raw) else {
                    throw TokenizerError.unsupported(path: path, key: key + ".prepend_scheme", found: JSONText.quoted(raw))
                }
                scheme = s
            } else {
                // Files older than prepend_scheme: add_prefix_space true meant "always".
                scheme = try bool(obj, "add_prefix_space", key, default: true) ? .always : .never
            }
            steps.append(.metaspace(replacement: replacement, prependScheme: scheme,
                                    split: try bool(obj, "split", key, default: true)))
        default:
            throw TokenizerError.unsupportedComponent(path: path, key: key, type: kind,
                                                      supported: TokenizerJSONReader.supportedPreTokenizers)
        }
    }

    private func behavior(_ obj: [String: Any], _ key: String) throws -> SplitBehavior {
        let raw = try string(obj, "behavior", key)
        guard let b = SplitBehavior(rawValue: raw) else {
            throw TokenizerError.unsupported(
                path: path, key: key + ".behavior",
                found: "\(JSONText.quoted(raw)) (expected one of \(SplitBehavior.allCases.map(\.rawValue).joined(separator: ", ")))")
        }
        return b
    }

    // MARK: Decoder

    /// The decoder's steps (nil for `null` or absent: HF then joins token strings with spaces).
    func decoder(_ value: Any?, _ key: String = "decoder") throws -> TokenDecoderPipeline {
        guard let value, !(value is NSNull) else { return TokenDecoderPipeline(steps: nil) }
        var steps: [DecoderStep] = []
        try appendDecoder(value, key, into: &steps)
        return TokenDecoderPipeline(steps: steps)
    }

    private func appendDecoder(_ value: Any, _ key: String, into steps: inout [DecoderStep]) throws {
        let obj = try object(value, key)
        let kind = try type(of: obj, key)
        switch kind {
        case "Sequence":
            for (i, item) in try list(obj, "decoders", key).enumerated() {
                try appendDecoder(item, "\(key).decoders[\(i)]", into: &steps)
            }
        case "ByteLevel": steps.append(.byteLevel)
        case "ByteFallback": steps.append(.byteFallback)
        case "Fuse": steps.append(.fuse)
        case "Replace":
            steps.append(.replace(try replacePattern(obj, key), content: try string(obj, "content", key)))
        case "Strip":
            let content = try string(obj, "content", key)
            guard let scalar = content.unicodeScalars.first, content.unicodeScalars.count == 1 else {
                throw TokenizerError.unsupported(path: path, key: key + ".content", found: JSONText.quoted(content))
            }
            steps.append(.strip(content: scalar, start: try count(obj, "start", key), stop: try count(obj, "stop", key)))
        case "Metaspace":
            let replacement = try string(obj, "replacement", key)
            guard let scalar = replacement.unicodeScalars.first, replacement.unicodeScalars.count == 1 else {
                throw TokenizerError.unsupported(path: path, key: key + ".replacement", found: JSONText.quoted(replacement))
            }
            let scheme: PrependScheme
            if let raw = obj["prepend_scheme"] as? String {
                guard let s = PrependScheme(rawValue: raw) else {
                    throw TokenizerError.unsupported(path: path, key: key + ".prepend_scheme", found: JSONText.quoted(raw))
                }
                scheme = s
            } else {
                scheme = try bool(obj, "add_prefix_space", key, default: true) ? .always : .never
            }
            steps.append(.metaspace(replacement: scalar, prependScheme: scheme))
        default:
            throw TokenizerError.unsupportedComponent(path: path, key: key, type: kind,
                                                      supported: TokenizerJSONReader.supportedDecoders)
        }
    }

    // MARK: Post-processor

    /// Whether the post-processor puts a special token in front of a single text, and which.
    /// Post-processors are never run (encode adds nothing); other types count as adding nothing.
    func leadingSpecialToken(_ value: Any?, _ key: String = "post_processor") throws -> (adds: Bool, token: String?) {
        guard let obj = value as? [String: Any], let kind = obj["type"] as? String else { return (false, nil) }
        switch kind {
        case "Sequence":
            for (i, item) in (obj["processors"] as? [Any] ?? []).enumerated() {
                let found = try leadingSpecialToken(item, "\(key).processors[\(i)]")
                if found.adds { return found }
            }
            return (false, nil)
        case "TemplateProcessing":
            guard let single = obj["single"] as? [Any], let first = single.first as? [String: Any] else { return (false, nil) }
            guard let special = first["SpecialToken"] as? [String: Any], let name = special["id"] as? String else {
                return (false, nil)
            }
            // `special_tokens[name].tokens[0]` is the token text; the name usually is that text.
            let table = obj["special_tokens"] as? [String: Any]
            let entry = table?[name] as? [String: Any]
            let text = (entry?["tokens"] as? [Any])?.first as? String ?? name
            return (true, text)
        case "BertProcessing", "RobertaProcessing":
            let cls = obj["cls"] as? [Any]
            return (true, cls?.first as? String)
        default:
            return (false, nil)
        }
    }
}
