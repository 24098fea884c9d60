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

    /// An added token with its id, text and flags.
    public init(id: Int32, content: String, special: Bool, lstrip: Bool = false, rstrip: Bool = false) {
        self.id = id
        self.content = content
        self.special = special
        self.lstrip = lstrip
        self.rstrip = rstrip
    }
}

/// Byte-level BPE exactly as GPT-2 and Hugging Face `tokenizers` do it.
///
/// Encoding: (1) with `allowSpecial`, added tokens are cut out first, leftmost-longest;
/// (2) each remaining segment is split by `PreTokenScanner` (GPT-2's regex);
/// (3) each piece's UTF-8 bytes become one id per byte, then the adjacent pair with the
/// lowest merge rank is merged everywhere in the piece, repeatedly, until no pair has a
/// merge. Results are cached per piece. Decoding concatenates each id's bytes and reads
/// them as UTF-8 (invalid sequences, which only a partial id list can produce, become U+FFFD).
/// Encode never adds BOS/EOS; callers add them.
public final class BPETokenizer: TextTokenizer, @unchecked Sendable {
    /// `tokenBytes[id]`: the raw bytes of each id (an added token's UTF-8), empty for unused ids.
    public let tokenBytes: [[UInt8]]
    /// `tokenStrings[id]`: each id as written in a tokenizer.json (byte-level alphabet), "" if unused.
    public let tokenStrings: [String]
    /// Merges in rank order (rank 0 first), as pairs of ids.
    public let merges: [(Int32, Int32)]
    /// Added and special tokens, in the order given.
    public let addedTokens: [AddedToken]
    /// Whether a space is put in front of each segment that does not start with one (HF `add_prefix_space`).
    public let addPrefixSpace: Bool
    /// The id used for a byte that has no token (HF `unk_token`); such bytes are dropped when nil.
    public let unknownTokenID: Int32?
    /// `inModelVocabulary[id]`: the id is in the BPE model's vocabulary (not only an added token).
    public let inModelVocabulary: [Bool]

    /// BOS: a special `<s>`, `<|begin_of_text|>` or `<bos>` when present (GPT-2 has none).
    public let bosTokenID: Int32?
    /// EOS: a special `<|endoftext|>`, `</s>`, `<|end_of_text|>` or `<eos>` when present.
    public let eosTokenID: Int32?

    /// (left << 32 | right) -> (rank << 32 | merged id).
    private let mergeTable: [UInt64: UInt64]
    /// `byteIDs[b]`: id of the one-byte token for byte `b`, or -1.
    private let byteIDs: [Int32]
    private let addedByContent: [String: AddedToken]
    /// Added tokens by first byte, longest first.
    private let addedByFirstByte: [[(bytes: [UInt8], token: AddedToken)]]
    private let fingerprint: [UInt8]
    private let cachePool = CachePool()

    /// Ids at or above this (16M) are rejected as corrupt rather than allocating tables for them.
    public static let maximumID: Int32 = 1 << 24

    /// Builds a tokenizer from a byte-level vocabulary (token string -> id) and merges (pairs of
    /// token strings, rank order). `source` names the file in errors. Added tokens whose content is
    /// not in `vocab` take the ids they carry. Throws when a merge names an unknown token or its
    /// result, or an id is negative or used twice.
    public init(vocab: [String: Int32], merges mergeStrings: [(String, String)], addedTokens: [AddedToken],
                addPrefixSpace: Bool = false, unknownToken: String? = nil,
                bosToken: String? = nil, eosToken: String? = nil, source: String = "<memory>") throws {
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
        for (token, id) in vocab {
            guard !used[Int(id)] else { throw TokenizerError.badTokenID(path: source, token: token, id: Int(id)) }
            used[Int(id)] = true
            stringsByID[Int(id)] = token
            let raw = ByteLevel.decode(token) ?? Array(token.utf8)
            bytesByID[Int(id)] = raw
            if raw.count == 1, ByteLevel.decode(token) != nil { byteIDs[Int(raw[0])] = id }
        }
        let inVocab = used
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
        }

        var table: [UInt64: UInt64] = [:]
        table.reserveCapacity(mergeStrings.count)
        var mergeIDs: [(Int32, Int32)] = []
        mergeIDs.reserveCapacity(mergeStrings.count)
        for (rank, (a, b)) in mergeStrings.enumerated() {
            guard let ia = vocab[a] else { throw TokenizerError.unknownTokenInMerge(path: source, line: rank + 1, token: a) }
            guard let ib = vocab[b] else { throw TokenizerError.unknownTokenInMerge(path: source, line: rank + 1, token: b) }
            guard let merged = vocab[a + b] else {
                throw TokenizerError.unknownTokenInMerge(path: source, line: rank + 1, token: a + b)
            }
            let key = UInt64(UInt32(ia)) << 32 | UInt64(UInt32(ib))
            // A repeated merge keeps its first (lowest) rank, as HF does.
            if table[key] == nil { table[key] = UInt64(rank) << 32 | UInt64(UInt32(merged)) }
            mergeIDs.append((ia, ib))
        }

        var byContent: [String: AddedToken] = [:]
        var byFirst = [[(bytes: [UInt8], token: AddedToken)]](repeating: [], count: 256)
        for added in addedTokens where !added.content.isEmpty {
            byContent[added.content] = added
            let raw = Array(added.content.utf8)
            byFirst[Int(raw[0])].append((raw, added))
        }
        for i in 0..<256 { byFirst[i].sort { $0.bytes.count > $1.bytes.count } }

        self.inModelVocabulary = inVocab
        self.tokenBytes = bytesByID
        self.tokenStrings = stringsByID
        self.merges = mergeIDs
        self.addedTokens = addedTokens
        self.addPrefixSpace = addPrefixSpace
        self.mergeTable = table
        self.byteIDs = byteIDs
        self.addedByContent = byContent
        self.addedByFirstByte = byFirst
        func lookup(_ t: String?) -> Int32? {
            guard let t else { return nil }
            return byContent[t]?.id ?? vocab[t]
        }
        self.unknownTokenID = lookup(unknownToken)
        self.bosTokenID = lookup(bosToken)
        self.eosTokenID = lookup(eosToken)
        self.fingerprint = BPETokenizer.makeFingerprint(
            strings: stringsByID, merges: mergeIDs, added: addedTokens, addPrefixSpace: addPrefixSpace,
            unknown: self.unknownTokenID)
    }

    /// Largest id + 1 (model vocabulary and added tokens).
    public var vocabularySize: Int { tokenBytes.count }

    /// The id of an added or special token by its exact text.
    public func specialTokenID(_ token: String) -> Int32? { addedByContent[token]?.id }

    /// Tokens (id order), merges, added tokens and options, serialized; computed once at load.
    public func fingerprintBytes() -> [UInt8] { fingerprint }

    // MARK: Encoding

    /// Encodes `text` (see the type's summary). Safe to call from several threads at once:
    /// each call borrows its own word cache from a pool.
    public func encode(_ text: String, allowSpecial: Bool) -> [Int32] {
        var cache = cachePool.borrow()
        defer { cachePool.giveBack(cache) }
        return encode(text, allowSpecial: allowSpecial, cache: &cache)
    }

    /// `encode` with a caller-owned cache (one per thread), for batch and parallel encoding.
    func encode(_ text: String, allowSpecial: Bool, cache: inout BPEWordCache) -> [Int32] {
        var text = text
        var out: [Int32] = []
        out.reserveCapacity(text.utf8.count / 3 + 1)
        text.withUTF8 { buf in
            guard allowSpecial && !addedByContent.isEmpty else {
                encodeSegment(buf, 0..<buf.count, into: &out, cache: &cache)
                return
            }
            var segmentStart = 0
            var i = 0
            let n = buf.count
            while i < n {
                var matched = false
                for candidate in addedByFirstByte[Int(buf[i])] where candidate.bytes.count <= n - i {
                    var equal = true
                    for k in 1..<candidate.bytes.count where buf[i + k] != candidate.bytes[k] {
                        equal = false
                        break
                    }
                    if equal {
                        var start = i
                        var end = i + candidate.bytes.count
                        if candidate.token.lstrip {
                            while start > segmentStart, let previous = whitespaceScalarStart(before: start, in: buf) {
                                start = previous
                            }
                        }
                        if candidate.token.rstrip {
                            while end < n, let after = whitespaceScalarEnd(at: end, in: buf) { end = after }
                        }
                        encodeSegment(buf, segmentStart..<start, into: &out, cache: &cache)
                        out.append(candidate.token.id)
                        i = end
                        segmentStart = i
                        matched = true
                        break
                    }
                }
                if !matched { i += 1 }
            }
            encodeSegment(buf, segmentStart..<n, into: &out, cache: &cache)
        }
        return out
    }

    /// Start of the scalar that ends at `end`, if it is whitespace (Unicode White_Space).
    private func whitespaceScalarStart(before end: Int, in buf: UnsafeBufferPointer<UInt8>) -> Int? {
        var start = end - 1
        while start > 0 && buf[start] & 0xC0 == 0x80 { start -= 1 }
        return whitespaceScalarEnd(at: start, in: buf) == end ? start : nil
    }

    /// End of the scalar that starts at `start`, if it is whitespace (Unicode White_Space).
    private func whitespaceScalarEnd(at start: Int, in buf: UnsafeBufferPointer<UInt8>) -> Int? {
        var decoder = UTF8()
        var iterator = UnsafeBufferPointer(rebasing: buf[start...]).makeIterator()
        guard case .scalarValue(let scalar) = decoder.decode(&iterator), scalar.properties.isWhitespace else { return nil }
        return start + UTF8.width(scalar)
    }

    private func encodeSegment(_ buf: UnsafeBufferPointer<UInt8>, _ range: Range<Int>,
                               into out: inout [Int32], cache: inout BPEWordCache) {
        guard !range.isEmpty, let base = buf.baseAddress else { return }
        if addPrefixSpace && buf[range.lowerBound] != 0x20 {
            let spaced: [UInt8] = [0x20] + buf[range]
            spaced.withUnsafeBufferPointer { encodePieces($0, into: &out, cache: &cache) }
        } else {
            encodePieces(UnsafeBufferPointer(start: base + range.lowerBound, count: range.count),
                         into: &out, cache: &cache)
        }
    }

    private func encodePieces(_ segment: UnsafeBufferPointer<UInt8>, into out: inout [Int32],
                              cache: inout BPEWordCache) {
        guard let base = segment.baseAddress else { return }
        var scanner = PreTokenScanner(segment)
        while let piece = scanner.next() {
            let p = base + piece.lowerBound
            let count = piece.count
            if count < 16 {
                let key = BPEWordCache.shortKey(p, count)
                if let range = cache.find(key) {
                    if range.count == 1 {
                        out.append(cache.ids[range.lowerBound])
                    } else {
                        for k in range { out.append(cache.ids[k]) }
                    }
                } else {
                    let ids = bpe(p, count)
                    cache.insert(key, ids)
                    out.append(contentsOf: ids)
                }
            } else {
                let key = Array(UnsafeBufferPointer(start: p, count: count))
                if let ids = cache.long[key] {
                    out.append(contentsOf: ids)
                } else {
                    let ids = bpe(p, count)
                    cache.makeRoomForLong()
                    cache.long[key] = ids
                    out.append(contentsOf: ids)
                }
            }
        }
    }

    /// BPE on one piece: one id per byte, then merge the lowest-ranked adjacent pair
    /// (all its occurrences, left to right) until no adjacent pair has a merge.
    func bpe(_ p: UnsafePointer<UInt8>, _ count: Int) -> [Int32] {
        var symbols: [Int32] = []
        symbols.reserveCapacity(count)
        for k in 0..<count {
            let id = byteIDs[Int(p[k])]
            if id >= 0 {
                symbols.append(id)
            } else if let unk = unknownTokenID {
                symbols.append(unk)
            }
        }
        while symbols.count >= 2 {
            var bestRank = UInt64.max
            var bestMerged: Int32 = -1
            var bestLeft: Int32 = -1
            var bestRight: Int32 = -1
            for k in 0..<(symbols.count - 1) {
                let key = UInt64(UInt32(symbols[k])) << 32 | UInt64(UInt32(symbols[k + 1]))
                if let value = mergeTable[key], value >> 32 < bestRank {
                    bestRank = value >> 32
                    bestMerged = Int32(truncatingIfNeeded: value & 0xFFFF_FFFF)
                    bestLeft = symbols[k]
                    bestRight = symbols[k + 1]
                }
            }
            if bestMerged < 0 { break }
            var write = 0
            var read = 0
            while read < symbols.count {
                if read + 1 < symbols.count && symbols[read] == bestLeft && symbols[read + 1] == bestRight {
                    symbols[write] = bestMerged
                    read += 2
                } else {
                    symbols[write] = symbols[read]
                    read += 1
                }
                write += 1
            }
            symbols.removeLast(symbols.count - write)
        }
        return symbols
    }

    // MARK: Decoding

    /// Concatenates the bytes of each id; ids outside `0..<vocabularySize` are skipped.
    public func decode(_ ids: [Int32]) -> String {
        var bytes: [UInt8] = []
        bytes.reserveCapacity(ids.count * 4)
        for id in ids where id >= 0 && Int(id) < tokenBytes.count {
            bytes.append(contentsOf: tokenBytes[Int(id)])
        }
        return String(decoding: bytes, as: UTF8.self)
    }

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
