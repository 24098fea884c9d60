import Foundation

/// The `tokenizer.ggml.*` metadata of a GGUF file as plain values (`Tokenizers` has no GGUF
/// reader; the caller reads the file and fills this in).
public struct GGUFTokenizerMetadata: Sendable {
    /// `tokenizer.ggml.model`: "gpt2" (byte-level BPE) or "llama" (SentencePiece BPE with scores).
    public var model: String
    /// `tokenizer.ggml.pre`: the pre-tokenizer family ("smollm", "llama-bpe", "qwen2", "gpt2",
    /// "default", ...); nil when absent.
    public var pre: String?
    /// `tokenizer.ggml.tokens`, by id.
    public var tokens: [String]
    /// `tokenizer.ggml.token_type`, by id: 1 normal, 2 unknown, 3 control, 4 user-defined, 5 unused, 6 byte.
    public var tokenTypes: [Int32]?
    /// `tokenizer.ggml.scores`, by id (SentencePiece models: higher merges first).
    public var scores: [Float]?
    /// `tokenizer.ggml.merges`: "left right" strings in rank order (byte-level models).
    public var merges: [String]?
    /// `tokenizer.ggml.bos_token_id`.
    public var bosTokenID: Int32?
    /// `tokenizer.ggml.eos_token_id`.
    public var eosTokenID: Int32?
    /// `tokenizer.ggml.unknown_token_id`.
    public var unknownTokenID: Int32?
    /// `tokenizer.ggml.padding_token_id` (checked to be in range; not used for encoding).
    public var paddingTokenID: Int32?
    /// `tokenizer.ggml.add_bos_token`; when absent, true for "llama" and false for "gpt2", as llama.cpp does.
    public var addBOSToken: Bool?
    /// `tokenizer.ggml.add_space_prefix` ("llama" only; true when absent).
    public var addSpacePrefix: Bool?

    /// The metadata values; all but `model` and `tokens` are optional, as in GGUF files.
    public init(model: String, pre: String? = nil, tokens: [String], tokenTypes: [Int32]? = nil, scores: [Float]? = nil,
                merges: [String]? = nil, bosTokenID: Int32? = nil, eosTokenID: Int32? = nil,
                unknownTokenID: Int32? = nil, paddingTokenID: Int32? = nil, addBOSToken: Bool? = nil,
                addSpacePrefix: Bool? = nil) {
        self.model = model
        self.pre = pre
        self.tokens = tokens
        self.tokenTypes = tokenTypes
        self.scores = scores
        self.merges = merges
        self.bosTokenID = bosTokenID
        self.eosTokenID = eosTokenID
        self.unknownTokenID = unknownTokenID
        self.paddingTokenID = paddingTokenID
        self.addBOSToken = addBOSToken
        self.addSpacePrefix = addSpacePrefix
    }

    /// Pre-tokenizer families of byte-level ("gpt2") GGUF files, by `tokenizer.ggml.pre`, following
    /// llama.cpp's llama-vocab.cpp and each model's original tokenizer.json.
    public static let knownPreTokenizers: [String: String] = {
        var table: [String: String] = [:]
        for name in ["gpt2", "gpt-2", "default", "mpt", "olmo", "phi-2", "jais", "exaone4"] { table[name] = "gpt2" }
        for name in ["smollm", "starcoder", "refact", "codeshell", "exaone", "minerva-7b"] { table[name] = "smollm" }
        for name in ["llama3", "llama-v3", "llama-bpe", "falcon3", "dbrx", "smaug-bpe", "pixtral"] { table[name] = "llama3" }
        for name in ["qwen2", "deepseek-r1-qwen", "megrez", "stablelm2"] { table[name] = "qwen2" }
        return table
    }()
}

extension BPETokenizer {
    /// Builds the tokenizer a GGUF file describes, and the tokenizer.json text for it (which HF
    /// `tokenizers` loads with the same ids; an imported model carries it as its tokenizer.json).
    ///
    /// - "gpt2" (byte-level BPE) with `pre`: "gpt2"/"default"... -> ByteLevel with GPT-2's regex;
    ///   "smollm"/"starcoder"... -> `Sequence[Digits(individual_digits), ByteLevel]` (SmolLM2's original
    ///   tokenizer.json; transformers' own GGUF conversion gives plain ByteLevel, which differs on
    ///   digits); "llama-bpe"/"llama3"... -> Llama 3's Split regex + ByteLevel and `ignore_merges`;
    ///   "qwen2"... -> NFC, Qwen2's Split regex + ByteLevel. Unknown values are refused, naming the known.
    /// - "llama" (SentencePiece BPE: Llama 2, Mistral, TinyLlama): Llama 2's tokenizer.json layout,
    ///   as transformers' converters write it: normalizer `Prepend("▁")` + `Replace(" ", "▁")`, BPE with
    ///   `byte_fallback` and `fuse_unk` and merges derived from the scores (transformers'
    ///   `generate_merges`), decoders Replace/ByteFallback/Fuse/Strip.
    ///
    /// Control (3) and unknown (2) tokens become special added tokens, user-defined ones (4) plain
    /// added tokens. BOS/EOS ids come from the metadata; `addsBOS` from `add_bos_token` (a
    /// TemplateProcessing post-processor in the JSON). Throws `TokenizerError.invalidGGUFTokenizer`
    /// naming the key on inconsistent metadata.
    public static func fromGGUF(_ metadata: GGUFTokenizerMetadata) throws -> (tokenizerJSON: String, tokenizer: BPETokenizer) {
        let json = try tokenizerJSON(fromGGUF: metadata)
        let source = "<GGUF tokenizer metadata>"
        let root = try parseJSONObject(Data(json.utf8), path: source)
        let tokenizer = try BPETokenizer(tokenizerJSONObject: root, text: json, source: source,
                                         bosID: metadata.bosTokenID, eosID: metadata.eosTokenID)
        return (json, tokenizer)
    }

    /// The tokenizer.json text `fromGGUF` builds (deterministic: the same metadata gives the same bytes).
    public static func tokenizerJSON(fromGGUF m: GGUFTokenizerMetadata) throws -> String {
        let n = m.tokens.count
        guard n > 0, n < Int(BPETokenizer.maximumID) else {
            throw TokenizerError.invalidGGUFTokenizer(key: "tokens", detail: "\(n) tokens; expected 1 to \(BPETokenizer.maximumID - 1)")
        }
        if let types = m.tokenTypes, types.count != n {
            throw TokenizerError.invalidGGUFTokenizer(key: "token_type", detail: "\(types.count) entries for \(n) tokens")
        }
        if let scores = m.scores {
            guard scores.count == n else {
                throw TokenizerError.invalidGGUFTokenizer(key: "scores", detail: "\(scores.count) entries for \(n) tokens")
            }
            if let bad = scores.firstIndex(where: { !$0.isFinite }) {
                throw TokenizerError.invalidGGUFTokenizer(key: "scores", detail: "score of token \(bad) is \(scores[bad])")
            }
        }
        for (key, id) in [("bos_token_id", m.bosTokenID), ("eos_token_id", m.eosTokenID),
                          ("unknown_token_id", m.unknownTokenID), ("padding_token_id", m.paddingTokenID)] {
            if let id, id < 0 || Int(id) >= n {
                throw TokenizerError.invalidGGUFTokenizer(key: key, detail: "id \(id) is outside the \(n) tokens")
            }
        }
        var idOf: [String: Int] = [:]
        idOf.reserveCapacity(n)
        for (id, token) in m.tokens.enumerated() {
            if let first = idOf[token] {
                throw TokenizerError.invalidGGUFTokenizer(
                    key: "tokens", detail: "token \(JSONText.quoted(token)) appears twice (ids \(first) and \(id))")
            }
            idOf[token] = id
        }
        switch m.model {
        case "gpt2": return try byteLevelJSON(m, idOf: idOf)
        case "llama": return try sentencePieceJSON(m, idOf: idOf)
        default:
            throw TokenizerError.invalidGGUFTokenizer(
                key: "model", detail: "\(JSONText.quoted(m.model)) is not supported; supported: \"gpt2\" (byte-level BPE), \"llama\" (SentencePiece BPE)")
        }
    }

    private static func byteLevelJSON(_ m: GGUFTokenizerMetadata, idOf: [String: Int]) throws -> String {
        let pre = m.pre ?? "default"
        guard let family = GGUFTokenizerMetadata.knownPreTokenizers[pre] else {
            throw TokenizerError.invalidGGUFTokenizer(
                key: "pre", detail: "\(JSONText.quoted(pre)) is not a pre-tokenizer we know; known: "
                    + GGUFTokenizerMetadata.knownPreTokenizers.keys.sorted().joined(separator: ", "))
        }
        guard let merges = m.merges else {
            throw TokenizerError.invalidGGUFTokenizer(key: "merges", detail: "missing; a \"gpt2\" tokenizer needs its merges")
        }
        var pairs: [(String, String)] = []
        pairs.reserveCapacity(merges.count)
        for (i, merge) in merges.enumerated() {
            let parts = merge.split(separator: " ", omittingEmptySubsequences: false)
            guard parts.count == 2 else {
                throw TokenizerError.invalidGGUFTokenizer(key: "merges", detail: "entry \(i) \(JSONText.quoted(merge)) is not two tokens")
            }
            pairs.append((String(parts[0]), String(parts[1])))
        }
        let byteLevel = #"{"type": "ByteLevel", "add_prefix_space": false, "trim_offsets": true, "use_regex": "#
        var normalizer = "null"
        var preTokenizer: String
        var ignoreMerges = false
        switch family {
        case "smollm":
            preTokenizer = #"{"type": "Sequence", "pretokenizers": [{"type": "Digits", "individual_digits": true}, "#
                + byteLevel + "true}]}"
        case "llama3", "qwen2":
            let regex = family == "llama3" ? TokenizerJSONReader.llama3Pattern : TokenizerJSONReader.qwen2Pattern
            preTokenizer = #"{"type": "Sequence", "pretokenizers": [{"type": "Split", "pattern": {"Regex": "#
                + JSONText.quoted(regex) + #"}, "behavior": "Isolated", "invert": false}, "# + byteLevel + "false}]}"
            ignoreMerges = family == "llama3"
            if family == "qwen2" { normalizer = #"{"type": "NFC"}"# }
        default:
            preTokenizer = byteLevel + "true}"
        }
        // Control tokens written outside the byte alphabet are llama.cpp mislabels (as transformers notes).
        let added = addedTokens(m) { token in ByteLevel.decode(token) != nil }
        // Byte-level models have no unk_token in their tokenizer.json (transformers' GPT-2 converter
        // writes none): a byte without a token is dropped, as there. `unknown_token_id` is not used.
        return assemble(m, added: added, normalizer: normalizer, preTokenizer: preTokenizer,
                        decoder: #"{"type": "ByteLevel", "add_prefix_space": true, "trim_offsets": true, "use_regex": true}"#,
                        unk: nil, fuseUnknown: false, byteFallback: false, ignoreMerges: ignoreMerges,
                        merges: pairs, addBOS: m.addBOSToken ?? false)
    }

    private static func sentencePieceJSON(_ m: GGUFTokenizerMetadata, idOf: [String: Int]) throws -> String {
        if let pre = m.pre, pre != "default" {
            throw TokenizerError.invalidGGUFTokenizer(
                key: "pre", detail: "\(JSONText.quoted(pre)) with model \"llama\" is not one we know; known: default (or absent)")
        }
        guard let scores = m.scores else {
            throw TokenizerError.invalidGGUFTokenizer(key: "scores", detail: "missing; a \"llama\" tokenizer needs its scores")
        }
        // Deriving merges tries every cut of every token: refuse tokens long enough to make that
        // quadratic blow up (real SentencePiece pieces are at most a few dozen characters).
        if let long = m.tokens.firstIndex(where: { $0.utf8.count > BPETokenizer.longestGGUFPiece }) {
            throw TokenizerError.invalidGGUFTokenizer(
                key: "tokens", detail: "token \(long) is \(m.tokens[long].utf8.count) bytes long; at most \(BPETokenizer.longestGGUFPiece) expected")
        }
        let prefix = m.addSpacePrefix ?? true
        let replace = #"{"type": "Replace", "pattern": {"String": " "}, "content": "▁"}"#
        let normalizer = prefix
            ? #"{"type": "Sequence", "normalizers": [{"type": "Prepend", "prepend": "▁"}, "# + replace + "]}"
            : replace
        var decoder = #"{"type": "Sequence", "decoders": [{"type": "Replace", "pattern": {"String": "▁"}, "content": " "}, "#
            + #"{"type": "ByteFallback"}, {"type": "Fuse"}"#
        decoder += prefix ? #", {"type": "Strip", "content": " ", "start": 1, "stop": 0}]}"# : "]}"
        var unk = m.unknownTokenID.map { m.tokens[Int($0)] }
        if unk == nil, let types = m.tokenTypes, let i = types.firstIndex(of: 2) { unk = m.tokens[i] }
        if unk == nil, idOf["<unk>"] != nil { unk = "<unk>" }
        let merges = generateMerges(tokens: m.tokens, scores: scores, idOf: idOf)
        return assemble(m, added: addedTokens(m) { _ in true }, normalizer: normalizer, preTokenizer: "null",
                        decoder: decoder, unk: unk, fuseUnknown: true, byteFallback: true, ignoreMerges: false,
                        merges: merges, addBOS: m.addBOSToken ?? true)
    }

    /// The longest SentencePiece token (in bytes) `fromGGUF` derives merges for.
    static let longestGGUFPiece = 1024

    /// transformers' `generate_merges(vocab, vocab_scores)`: for each token in id order, every cut
    /// into two tokens (ordered by their ids); then all of them, stably, by score, length of the
    /// left part and length of the right part, each descending. Lengths count Unicode scalars, as
    /// Python does.
    static func generateMerges(tokens: [String], scores: [Float], idOf: [String: Int]) -> [(String, String)] {
        struct Entry { let left: String, right: String, score: Float, leftLength: Int, rightLength: Int, order: Int }
        var entries: [Entry] = []
        for (id, token) in tokens.enumerated() {
            let scalars = Array(token.unicodeScalars)
            guard scalars.count >= 2 else { continue }
            var local: [(String, String, Int, Int, Int)] = []
            for cut in 1..<scalars.count {
                var l = String.UnicodeScalarView()
                l.append(contentsOf: scalars[..<cut])
                var r = String.UnicodeScalarView()
                r.append(contentsOf: scalars[cut...])
                let left = String(l), right = String(r)
                if let il = idOf[left], let ir = idOf[right] { local.append((left, right, il, ir, cut)) }
            }
            local.sort { ($0.2, $0.3) < ($1.2, $1.3) }
            for (left, right, _, _, cut) in local {
                entries.append(Entry(left: left, right: right, score: scores[id], leftLength: cut,
                                     rightLength: scalars.count - cut, order: entries.count))
            }
        }
        entries.sort { a, b in
            if a.score != b.score { return a.score > b.score }
            if a.leftLength != b.leftLength { return a.leftLength > b.leftLength }
            if a.rightLength != b.rightLength { return a.rightLength > b.rightLength }
            return a.order < b.order
        }
        return entries.map { ($0.left, $0.right) }
    }

    /// Added tokens from the token types: unknown (2) and control (3) special, user-defined (4) not.
    private static func addedTokens(_ m: GGUFTokenizerMetadata, controlAllowed: (String) -> Bool) -> [AddedToken] {
        guard let types = m.tokenTypes else { return [] }
        var out: [AddedToken] = []
        for (id, type) in types.enumerated() {
            let token = m.tokens[id]
            switch type {
            case 2, 3:
                if controlAllowed(token) { out.append(AddedToken(id: Int32(id), content: token, special: true, normalized: false)) }
            case 4:
                out.append(AddedToken(id: Int32(id), content: token, special: false, normalized: false))
            default:
                break
            }
        }
        return out
    }

    private static func assemble(_ m: GGUFTokenizerMetadata, added: [AddedToken], normalizer: String, preTokenizer: String,
                                 decoder: String, unk: String?, fuseUnknown: Bool, byteFallback: Bool, ignoreMerges: Bool,
                                 merges: [(String, String)], addBOS: Bool) -> String {
        var out = headerJSON(added)
        out += "  \"normalizer\": \(normalizer),\n"
        out += "  \"pre_tokenizer\": \(preTokenizer),\n"
        if addBOS, let bos = m.bosTokenID {
            let name = JSONText.quoted(m.tokens[Int(bos)])
            out += "  \"post_processor\": {\"type\": \"TemplateProcessing\", "
            out += "\"single\": [{\"SpecialToken\": {\"id\": \(name), \"type_id\": 0}}, {\"Sequence\": {\"id\": \"A\", \"type_id\": 0}}], "
            out += "\"pair\": [{\"SpecialToken\": {\"id\": \(name), \"type_id\": 0}}, {\"Sequence\": {\"id\": \"A\", \"type_id\": 0}}, "
            out += "{\"SpecialToken\": {\"id\": \(name), \"type_id\": 1}}, {\"Sequence\": {\"id\": \"B\", \"type_id\": 1}}], "
            out += "\"special_tokens\": {\(name): {\"id\": \(name), \"ids\": [\(bos)], \"tokens\": [\(name)]}}},\n"
        } else {
            out += "  \"post_processor\": null,\n"
        }
        out += "  \"decoder\": \(decoder),\n"
        out += "  \"model\": {\n    \"type\": \"BPE\",\n    \"dropout\": null,\n"
        out += "    \"unk_token\": \(unk.map(JSONText.quoted) ?? "null"),\n"
        out += "    \"continuing_subword_prefix\": null,\n    \"end_of_word_suffix\": null,\n"
        out += "    \"fuse_unk\": \(fuseUnknown),\n    \"byte_fallback\": \(byteFallback),\n    \"ignore_merges\": \(ignoreMerges),\n"
        out += "    \"vocab\": {"
        for (id, token) in m.tokens.enumerated() {
            out += id == 0 ? "\n      " : ",\n      "
            out += "\(JSONText.quoted(token)): \(id)"
        }
        out += "\n    },\n    \"merges\": ["
        for (i, (a, b)) in merges.enumerated() {
            out += i == 0 ? "\n      " : ",\n      "
            out += "[\(JSONText.quoted(a)), \(JSONText.quoted(b))]"
        }
        out += merges.isEmpty ? "]\n  }\n}\n" : "\n    ]\n  }\n}\n"
        return out
    }
}
