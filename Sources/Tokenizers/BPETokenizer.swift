/// A token matched whole before pre-tokenization (`<|endoftext|>`, `<|im_start|>`, ...).
public struct AddedToken: Equatable, Sendable {
    /// Its id in the vocabulary.
    public var id: Int32
    /// Its exact text.
    public var content: String
    /// True for control tokens (HF's `special` flag); false for plain added words.
    public var special: Bool
    /// A match also swallows the whitespace right before it (HF `lstrip`).
    public var lstrip: Bool
    /// A match also swallows the whitespace right after it (HF `rstrip`).
    public var rstrip: Bool
    /// Matched in the normalized text, against its own normalized content (HF `normalized`),
    /// rather than in the raw text. HF's default is `!special`.
    public var normalized: Bool

    /// An added token with its id, text and flags; `normalized` defaults to `!special` as in HF.
    public init(id: Int32, content: String, special: Bool, lstrip: Bool = false, rstrip: Bool = false,
                normalized: Bool? = nil) {
        self.id = id
        self.content = content
        self.special = special
        self.lstrip = lstrip
        self.rstrip = rstrip
        self.normalized = normalized ?? !special
    }
}

/// Options of a BPE model beyond its vocabulary and merges (tokenizer.json `model` keys).
struct BPEModelOptions: Equatable, Sendable {
    /// Symbols are bytes written in GPT-2's byte alphabet (a `ByteLevel` pre-tokenizer); otherwise
    /// they are Unicode characters.
    var byteLevel = true
    /// A character without a token becomes its UTF-8 bytes as `<0xAB>` tokens (HF `byte_fallback`).
    var byteFallback = false
    /// Consecutive unknown characters become one `unk_token` (HF `fuse_unk`).
    var fuseUnknown = false
    /// A piece that is itself a token is not merged from its characters (HF `ignore_merges`, Llama 3).
    var ignoreMerges = false
}

/// How text becomes pieces and ids become text around the BPE model: the tokenizer.json
/// `normalizer`, `pre_tokenizer`, `decoder` and what the `post_processor` would add.
struct TokenizerPipeline: Sendable {
    var normalizer: Normalizer?
    var preTokenizer: PreTokenizerPipeline
    var decoder: TokenDecoderPipeline
    var addsBOS: Bool

    /// GPT-2's: no normalizer, ByteLevel pre-tokenizer and decoder.
    static func byteLevel(addPrefixSpace: Bool) -> TokenizerPipeline {
        TokenizerPipeline(normalizer: nil,
                          preTokenizer: PreTokenizerPipeline(steps: [.byteLevel(addPrefixSpace: addPrefixSpace, useRegex: true)]),
                          decoder: TokenDecoderPipeline(steps: [.byteLevel]), addsBOS: false)
    }
}

/// BPE exactly as Hugging Face `tokenizers` does it, for the tokenizer.json files of current
/// small models: GPT-2, SmolLM2, Llama 2/3, Qwen2, Mistral-style Metaspace and more (the
/// supported components are listed in docs/tokenizers.md).
///
/// Encoding: (1) added tokens are cut out first, leftmost-longest: those with `normalized` false
/// in the raw text, then the text between them is normalized and those with `normalized` true are
/// cut out of it; with `allowSpecial` false, special tokens are left in the text as text;
/// (2) each remaining stretch is pre-tokenized into pieces; (3) each piece becomes one symbol per
/// byte (byte-level) or per character (with byte fallback or `unk` for characters without a
/// token), then the adjacent pair with the lowest merge rank is merged, leftmost first,
/// until no pair has a merge. Results are cached per piece.
///
/// The GPT-2 layout (no normalizer, ByteLevel with GPT-2's regex) runs on a fast path with the
/// hand-written `PreTokenScanner` and no intermediate buffers. Decoding runs the file's decoder
/// (for GPT-2: each id's bytes, read as UTF-8; invalid sequences, which only a partial id list
/// can produce, become U+FFFD). Encode never adds BOS/EOS; `addsBOS` says whether HF's
/// post-processor would.
public final class BPETokenizer: TextTokenizer, @unchecked Sendable {
    /// `tokenBytes[id]`: the raw bytes of each id (an added token's UTF-8), empty for unused ids.
    public let tokenBytes: [[UInt8]]
    /// `tokenStrings[id]`: each id as written in a tokenizer.json (byte-level alphabet), "" if unused.
    public let tokenStrings: [String]
    /// Merges in rank order (rank 0 first), as pairs of ids.
    public let merges: [(Int32, Int32)]
    /// Added and special tokens, in the order given.
    public let addedTokens: [AddedToken]
    /// Whether the ByteLevel pre-tokenizer puts a space in front of each piece that does not
    /// start with one (HF `add_prefix_space`).
    public let addPrefixSpace: Bool
    /// The id used for a byte or character that has no token (HF `unk_token`).
    public let unknownTokenID: Int32?
    /// `inModelVocabulary[id]`: the id is in the BPE model's vocabulary (not only an added token).
    public let inModelVocabulary: [Bool]
    /// Whether HF's post-processor would put a special token (BOS) in front of an encoded text
    /// (a `TemplateProcessing` whose single-sequence template starts with one). `encode` never
    /// does; a caller encoding a plain prompt adds `bosTokenID` when this is true, while a chat
    /// template's rendering already holds it.
    public let addsBOS: Bool

    /// BOS: from the GGUF metadata, else a special `<s>`, `<|begin_of_text|>` or `<bos>`, else the
    /// special token the post-processor puts first (GPT-2 has none).
    public let bosTokenID: Int32?
    /// EOS: from the GGUF metadata, else a special `<|endoftext|>`, `</s>`, `<|end_of_text|>` or `<eos>`.
    public let eosTokenID: Int32?

    let options: BPEModelOptions
    let pipeline: TokenizerPipeline
    /// The tokenizer.json text this was loaded from (or built from GGUF metadata), kept when it
    /// holds components `tokenizerJSON()` would not write; nil for the GPT-2 layout.
    let sourceJSON: String?

    /// (left << 32 | right) -> (rank << 32 | merged id).
    let mergeTable: [UInt64: UInt64]
    /// Whether merging every occurrence of the best pair at once equals HF's one-at-a-time order:
    /// true when no merge uses a token that some merge of equal or later rank creates.
    let mergesInRankOrder: Bool
    /// `byteIDs[b]`: id of the one-byte token for byte `b`, or -1.
    let byteIDs: [Int32]
    /// `fallbackIDs[b]`: id of the `<0xAB>` token for byte `b`, or -1.
    let fallbackIDs: [Int32]
    /// Id of each one-character token (character-level models), keyed by its packed UTF-8.
    let characterIDs: [UInt64: Int32]
    /// Model vocabulary by raw bytes (for `ignore_merges`); empty when not needed.
    let vocabularyByBytes: [[UInt8]: Int32]
    /// The GPT-2 fast path applies (see the type's summary).
    let fastPath: Bool
    /// The token string HF decodes for each id (a normalized added token's normalized content).
    let decodeStrings: [String]
    /// Bytes the ByteLevel decoder gives for each id.
    let decodeBytes: [[UInt8]]
    let isSpecial: [Bool]
    let addedByContent: [String: AddedToken]
    /// Matchers for added tokens with `normalized` false (raw text) and true (normalized text).
    let rawMatcher: AddedTokenMatcher
    let normalizedMatcher: AddedTokenMatcher
    private let fingerprint: [UInt8]
    let cachePool = CachePool()

    /// Bytes of UTF-8 text that a byte-level vocabulary has no token for and that, as in HF, are
    /// dropped when encoding (SmolLM2 lacks 0x04, 0x06, 0x13, 0x14, 0x16, 0x1D, 0xF1, 0xF2).
    /// Loading throws instead when a common text byte is missing (`isCommonTextByte`) or, for
    /// any missing byte, when there is an `unk_token` (it is used) or byte fallback.
    public let bytesWithoutToken: [UInt8]

    /// Whether `b` can occur in valid UTF-8 at all (not 0xC0, 0xC1, 0xF5...0xFF).
    static func occursInUTF8(_ b: UInt8) -> Bool { !(b == 0xC0 || b == 0xC1 || b >= 0xF5) }

    /// Bytes every byte-level vocabulary needs: tab, newline, carriage return, printable ASCII,
    /// continuation bytes, and the lead bytes of the Basic Multilingual Plane and planes 1-3
    /// (0xC2...0xF0). A vocabulary without one of these is refused at load rather than dropping
    /// such text.
    static func isCommonTextByte(_ b: UInt8) -> Bool {
        b == 0x09 || b == 0x0A || b == 0x0D || (0x20...0x7E).contains(b) || (0x80...0xBF).contains(b) || (0xC2...0xF0).contains(b)
    }

    /// Ids at or above this (16M) are rejected as corrupt rather than allocating tables for them.
    public static let maximumID: Int32 = 1 << 24

    /// Builds a byte-level tokenizer (GPT-2's pipeline) from a vocabulary (token string -> id, in
    /// the byte-level alphabet) and merges (pairs of token strings, rank order). `source` names
    /// the file in errors. Added tokens whose content is not in `vocab` take the ids they carry.
    /// Throws when a merge names an unknown token or its result, an id is negative or used twice,
    /// or a byte has no token and there is no `unknownToken`.
    public convenience init(vocab: [String: Int32], merges mergeStrings: [(String, String)], addedTokens: [AddedToken],
                            addPrefixSpace: Bool = false, unknownToken: String? = nil,
                            bosToken: String? = nil, eosToken: String? = nil, source: String = "<memory>") throws {
        try self.init(vocab: vocab, merges: mergeStrings, addedTokens: addedTokens, unknownToken: unknownToken,
                      options: BPEModelOptions(), pipeline: .byteLevel(addPrefixSpace: addPrefixSpace),
                      bosToken: bosToken, eosToken: eosToken, bosID: nil, eosID: nil, sourceJSON: nil, source: source)
    }

    /// The general initializer behind every loader.
    init(vocab: [String: Int32], merges mergeStrings: [(String, String)], addedTokens: [AddedToken],
         unknownToken: String?, options: BPEModelOptions, pipeline: TokenizerPipeline,
         bosToken: String?, eosToken: String?, bosID: Int32?, eosID: Int32?,
         sourceJSON: String?, source: String) throws {
        var maxID: Int32 = -1
        for (token, id) in vocab {
            guard id >= 0, id < BPETokenizer.maximumID else { throw TokenizerError.badTokenID(path: source, token: token, id: Int(id)) }
            maxID = max(maxID, id)
        }
        for added in addedTokens {
            guard added.id >= 0, added.id < BPETokenizer.maximumID else {
                throw TokenizerError.badTokenID(path: source, token: added.content, id: Int(added.id))
            }
            maxID = max(maxID, added.id)
        }
        let size = Int(maxID) + 1
        var bytesByID = [[UInt8]](repeating: [], count: size)
        var stringsByID = [String](repeating: "", count: size)
        var used = [Bool](repeating: false, count: size)
        var byteIDs = [Int32](repeating: -1, count: 256)
        var fallbackIDs = [Int32](repeating: -1, count: 256)
        var characterIDs: [UInt64: Int32] = [:]
        for (token, id) in vocab {
            guard !used[Int(id)] else { throw TokenizerError.badTokenID(path: source, token: token, id: Int(id)) }
            used[Int(id)] = true
            stringsByID[Int(id)] = token
            if options.byteLevel {
                let decoded = ByteLevel.decode(token)
                let raw = decoded ?? Array(token.utf8)
                bytesByID[Int(id)] = raw
                if raw.count == 1, decoded != nil { byteIDs[Int(raw[0])] = id }
            } else {
                let raw = Array(token.utf8)
                bytesByID[Int(id)] = raw
                if token.unicodeScalars.count == 1 { characterIDs[packCharacter(raw[...])] = id }
            }
        }
        if options.byteFallback {
            // HF looks up exactly "<0x%02X>" (upper-case hex) in the model vocabulary.
            for b in 0..<256 { fallbackIDs[b] = vocab[BPETokenizer.fallbackToken(UInt8(b))] ?? -1 }
        }
        let inVocab = used
        var special = [Bool](repeating: false, count: size)
        for added in addedTokens {
            let i = Int(added.id)
            if used[i] {
                guard stringsByID[i] == added.content else {
                    throw TokenizerError.badTokenID(path: source, token: added.content, id: i)
                }
            }
            used[i] = true
            stringsByID[i] = added.content
            bytesByID[i] = Array(added.content.utf8)
            special[i] = added.special
        }

        var table: [UInt64: UInt64] = [:]
        table.reserveCapacity(mergeStrings.count)
        var mergeIDs: [(Int32, Int32)] = []
        mergeIDs.reserveCapacity(mergeStrings.count)
        var lastCreation = [Int](repeating: -1, count: size)
        for (rank, (a, b)) in mergeStrings.enumerated() {
            guard let ia = vocab[a] else { throw TokenizerError.unknownTokenInMerge(path: source, line: rank + 1, token: a) }
            guard let ib = vocab[b] else { throw TokenizerError.unknownTokenInMerge(path: source, line: rank + 1, token: b) }
            guard let merged = vocab[a + b] else {
                throw TokenizerError.unknownTokenInMerge(path: source, line: rank + 1, token: a + b)
            }
            let key = UInt64(UInt32(ia)) << 32 | UInt64(UInt32(ib))
            // A repeated merge keeps its first (lowest) rank, as HF does.
            if table[key] == nil {
                table[key] = UInt64(rank) << 32 | UInt64(UInt32(merged))
                lastCreation[Int(merged)] = max(lastCreation[Int(merged)], rank)
            }
            mergeIDs.append((ia, ib))
        }
        var inRankOrder = true
        for (key, value) in table {
            let rank = Int(value >> 32)
            if lastCreation[Int(key >> 32)] >= rank || lastCreation[Int(key & 0xFFFF_FFFF)] >= rank {
                inRankOrder = false
                break
            }
        }

        var byContent: [String: AddedToken] = [:]
        for added in addedTokens where !added.content.isEmpty { byContent[added.content] = added }
        let normalizer = pipeline.normalizer
        self.rawMatcher = AddedTokenMatcher(addedTokens.filter { !$0.normalized }.map { ($0, Array($0.content.utf8)) })
        self.normalizedMatcher = AddedTokenMatcher(addedTokens.filter(\.normalized).map { token in
            (token, Array((normalizer?.apply(token.content) ?? token.content).utf8))
        })

        func lookup(_ t: String?) -> Int32? {
            guard let t else { return nil }
            return byContent[t]?.id ?? vocab[t]
        }
        let unknownID = lookup(unknownToken)
        var withoutToken: [UInt8] = []
        if options.byteLevel && unknownID == nil && !options.byteFallback {
            for b in 0..<256 where byteIDs[b] < 0 && BPETokenizer.occursInUTF8(UInt8(b)) {
                if BPETokenizer.isCommonTextByte(UInt8(b)) { throw TokenizerError.missingByteToken(path: source, byte: UInt8(b)) }
                withoutToken.append(UInt8(b))
            }
        }

        // HF decodes a normalized added token as its normalized content.
        var decodeStrings = stringsByID
        if let normalizer = pipeline.normalizer {
            for added in addedTokens where added.normalized { decodeStrings[Int(added.id)] = normalizer.apply(added.content) }
        }
        var decodeBytes = [[UInt8]](repeating: [], count: size)
        for id in 0..<size where used[id] {
            decodeBytes[id] = ByteLevel.decode(decodeStrings[id]) ?? Array(decodeStrings[id].utf8)
        }

        let plainSteps: Bool
        if case .byteLevel(_, true)? = pipeline.preTokenizer.steps.first, pipeline.preTokenizer.steps.count == 1 {
            plainSteps = true
        } else {
            plainSteps = false
        }
        let allBytes = !byteIDs.contains(-1)
        self.fastPath = options.byteLevel && pipeline.normalizer == nil && plainSteps && !options.ignoreMerges
            && inRankOrder && (allBytes || (!options.fuseUnknown && !options.byteFallback))
        var prefixSpace = false
        for step in pipeline.preTokenizer.steps {
            if case .byteLevel(let add, _) = step { prefixSpace = add }
        }

        self.options = options
        self.pipeline = pipeline
        self.sourceJSON = sourceJSON
        self.inModelVocabulary = inVocab
        self.tokenBytes = bytesByID
        self.tokenStrings = stringsByID
        self.merges = mergeIDs
        self.addedTokens = addedTokens
        self.addPrefixSpace = prefixSpace
        self.addsBOS = pipeline.addsBOS
        self.mergeTable = table
        self.mergesInRankOrder = inRankOrder
        self.byteIDs = byteIDs
        self.fallbackIDs = fallbackIDs
        self.characterIDs = characterIDs
        var byBytes: [[UInt8]: Int32] = [:]
        if options.ignoreMerges {
            byBytes.reserveCapacity(vocab.count)
            for (_, id) in vocab { byBytes[bytesByID[Int(id)]] = id }
        }
        self.vocabularyByBytes = byBytes
        self.decodeBytes = decodeBytes
        self.decodeStrings = decodeStrings
        self.bytesWithoutToken = withoutToken
        self.isSpecial = special
        self.addedByContent = byContent
        self.unknownTokenID = unknownID
        self.bosTokenID = bosID ?? lookup(bosToken)
        self.eosTokenID = eosID ?? lookup(eosToken)
        var fingerprintBytes = BPETokenizer.makeFingerprint(
            strings: stringsByID, merges: mergeIDs, added: addedTokens, addPrefixSpace: prefixSpace,
            unknown: unknownID)
        if let sourceJSON {
            fingerprintBytes += Array("\npipeline from tokenizer.json\n".utf8)
            fingerprintBytes += Array(sourceJSON.utf8)
        }
        self.fingerprint = fingerprintBytes
    }

    /// `<0xAB>`: HF's name for the byte-fallback token of byte 0xAB.
    static func fallbackToken(_ b: UInt8) -> String {
        let hex = String(b, radix: 16, uppercase: true)
        return "<0x" + (hex.count == 1 ? "0" + hex : hex) + ">"
    }

    /// Largest id + 1 (model vocabulary and added tokens).
    public var vocabularySize: Int { tokenBytes.count }

    /// The id of an added or special token by its exact text.
    public func specialTokenID(_ token: String) -> Int32? { addedByContent[token]?.id }

    /// True when `id` is an added token marked special (HF `special`), which
    /// `decode(_:skipSpecialTokens:)` leaves out.
    public func isSpecialToken(_ id: Int32) -> Bool { id >= 0 && Int(id) < isSpecial.count && isSpecial[Int(id)] }

    /// Tokens (id order), merges, added tokens and options (and the source tokenizer.json when the
    /// pipeline is not GPT-2's), serialized; computed once at load.
    public func fingerprintBytes() -> [UInt8] { fingerprint }

    // MARK: Fingerprint

    private static func makeFingerprint(strings: [String], merges: [(Int32, Int32)], added: [AddedToken],
                                        addPrefixSpace: Bool, unknown: Int32?) -> [UInt8] {
        var out = Array("InstructKit byte-level BPE v1\n".utf8)
        func int(_ v: Int) { withUnsafeBytes(of: Int64(v).littleEndian) { out.append(contentsOf: $0) } }
        int(strings.count)
        for s in strings { int(s.utf8.count); out.append(contentsOf: s.utf8) }
        int(merges.count)
        for (a, b) in merges { int(Int(a)); int(Int(b)) }
        int(added.count)
        for t in added {
            int(Int(t.id))
            int((t.special ? 1 : 0) | (t.lstrip ? 2 : 0) | (t.rstrip ? 4 : 0))
            int(t.content.utf8.count)
            out.append(contentsOf: t.content.utf8)
        }
        int(addPrefixSpace ? 1 : 0)
        int(Int(unknown ?? -1))
        return out
    }
}

/// A character's 1...4 UTF-8 bytes packed into one integer, with the length above them.
@inline(__always)
func packCharacter(_ bytes: ArraySlice<UInt8>) -> UInt64 {
    var key = UInt64(bytes.count) << 32
    var shift: UInt64 = 0
    for b in bytes.prefix(4) {
        key |= UInt64(b) << shift
        shift += 8
    }
    return key
}

/// Leftmost-longest matching of added tokens in UTF-8 text (HF's Aho-Corasick `LeftmostLongest`).
struct AddedTokenMatcher: Sendable {
    /// Candidates by first byte, longest first.
    private let byFirstByte: [[(bytes: [UInt8], token: AddedToken)]]
    let isEmpty: Bool

    init(_ tokens: [(AddedToken, [UInt8])]) {
        var byFirst = [[(bytes: [UInt8], token: AddedToken)]](repeating: [], count: 256)
        for (token, bytes) in tokens where !bytes.isEmpty { byFirst[Int(bytes[0])].append((bytes, token)) }
        for i in 0..<256 { byFirst[i].sort { $0.bytes.count > $1.bytes.count } }
        self.byFirstByte = byFirst
        self.isEmpty = tokens.allSatisfy { $0.1.isEmpty }
    }

    /// The longest token whose bytes start at `i`, and its length.
    @inline(__always)
    func match(_ buf: UnsafeBufferPointer<UInt8>, at i: Int) -> (token: AddedToken, length: Int)? {
        let n = buf.count
        for candidate in byFirstByte[Int(buf[i])] where candidate.bytes.count <= n - i {
            var equal = true
            for k in 1..<candidate.bytes.count where buf[i + k] != candidate.bytes[k] {
                equal = false
                break
            }
            if equal { return (candidate.token, candidate.bytes.count) }
        }
        return nil
    }
}
