import Foundation

/// The tokenizer of llama2.c (`tokenizer.bin`, `tok512.bin`): SentencePiece-style BPE over
/// pieces with scores and byte fallback, encoded exactly as llama2.c's `run.c` `encode`.
///
/// File: int32 `max_token_length`, then per token until the end of the file: float32 score,
/// int32 byte length, the piece's bytes (little-endian). Conventions (stories260K NOTES.md):
/// id 0 `<unk>`, 1 BOS (`<s>`), 2 EOS (`</s>`), ids 3...258 the byte-fallback pieces
/// `<0x00>`...`<0xFF>`, then merged pieces with score = -rank.
///
/// Encoding non-empty text: a dummy-prefix space piece, then each character's piece (or its
/// UTF-8 bytes as byte-fallback ids when it has none); then, repeatedly, the adjacent pair whose
/// concatenation is a piece with the highest score (leftmost on ties) is merged, until none is.
/// BOS/EOS are not added. Decoding concatenates pieces (byte pieces as raw bytes), writes
/// ids 0/1/2 as `<unk>`/`<s>`/`</s>`, and drops the dummy-prefix space of the first piece,
/// so `decode(encode(x)) == x` for every string.
public final class Llama2cTokenizer: TextTokenizer, @unchecked Sendable {
    /// The bytes of each piece, by id.
    public let pieces: [[UInt8]]
    /// The merge score of each piece, by id.
    public let scores: [Float]
    /// The file's declared longest piece, in bytes.
    public let maxTokenLength: Int

    /// BOS is id 1 (`<s>`) in llama2.c.
    public let bosTokenID: Int32? = 1
    /// EOS is id 2 (`</s>`) in llama2.c.
    public let eosTokenID: Int32? = 2

    private let idOfPiece: [[UInt8]: Int32]
    /// (left << 32 | right) -> id of the piece that is their concatenation.
    private let pairTable: [UInt64: Int32]
    /// For vocabularies up to `denseLimit` ids: `densePairs[left * V + right]` = merged id or -1,
    /// the same content as `pairTable` without hashing.
    private let densePairs: [Int32]
    private static let denseLimit = 1024
    /// Id of the piece that is exactly one character, keyed by its UTF-8 bytes packed little-endian.
    private let characterPiece: [UInt64: Int32]
    private let specials: [(text: String, id: Int32)] = [("<unk>", 0), ("<s>", 1), ("</s>", 2)]
    private let fingerprint: [UInt8]

    /// Reads a llama2.c tokenizer file. Throws `TokenizerError.truncatedBinary` naming the
    /// offset when the file ends inside a record or holds a negative length.
    public init(path: String) throws {
        guard let data = FileManager.default.contents(atPath: path) else { throw TokenizerError.fileNotFound(path: path) }
        let bytes = [UInt8](data)
        var offset = 0
        func int32() throws -> Int32 {
            guard offset + 4 <= bytes.count else {
                throw TokenizerError.truncatedBinary(path: path, offset: offset, detail: "expected a 4-byte integer")
            }
            let v = UInt32(bytes[offset]) | UInt32(bytes[offset + 1]) << 8 | UInt32(bytes[offset + 2]) << 16
                | UInt32(bytes[offset + 3]) << 24
            offset += 4
            return Int32(bitPattern: v)
        }
        let maxLength = try int32()
        guard maxLength > 0 else {
            throw TokenizerError.truncatedBinary(path: path, offset: 0, detail: "max_token_length \(maxLength) is not positive")
        }
        var pieces: [[UInt8]] = []
        var scores: [Float] = []
        while offset < bytes.count {
            let score = Float(bitPattern: UInt32(bitPattern: try int32()))
            let lengthOffset = offset
            let length = Int(try int32())
            guard length >= 0, length <= Int(maxLength) * 4 + 16, offset + length <= bytes.count else {
                throw TokenizerError.truncatedBinary(
                    path: path, offset: lengthOffset,
                    detail: "token \(pieces.count) has length \(length) but \(bytes.count - offset) bytes remain")
            }
            pieces.append(Array(bytes[offset..<(offset + length)]))
            scores.append(score)
            offset += length
        }
        guard pieces.count >= 259 else {
            throw TokenizerError.truncatedBinary(
                path: path, offset: offset,
                detail: "only \(pieces.count) tokens; expected <unk>, <s>, </s> and 256 byte tokens at least")
        }
        self.pieces = pieces
        self.scores = scores
        self.maxTokenLength = Int(maxLength)
        var idOf: [[UInt8]: Int32] = [:]
        for (id, piece) in pieces.enumerated() where idOf[piece] == nil { idOf[piece] = Int32(id) }
        self.idOfPiece = idOf
        var pairs: [UInt64: Int32] = [:]
        for (id, piece) in pieces.enumerated() where id >= 3 && piece.count >= 2 {
            for cut in 1..<piece.count {
                guard let a = idOf[Array(piece[..<cut])], let b = idOf[Array(piece[cut...])] else { continue }
                let key = UInt64(UInt32(a)) << 32 | UInt64(UInt32(b))
                if let existing = pairs[key], existing <= Int32(id) { continue }
                pairs[key] = idOf[piece] ?? Int32(id)
            }
        }
        self.pairTable = pairs
        let v = pieces.count
        if v <= Llama2cTokenizer.denseLimit {
            var dense = [Int32](repeating: -1, count: v * v)
            for (key, id) in pairs { dense[Int(key >> 32) * v + Int(key & 0xFFFF_FFFF)] = id }
            self.densePairs = dense
        } else {
            self.densePairs = []
        }
        var characters: [UInt64: Int32] = [:]
        for (id, piece) in pieces.enumerated() where (1...4).contains(piece.count) {
            // Only whole, single UTF-8 characters: the first byte says how long the character is.
            let b = piece[0]
            let length = b < 0x80 ? 1 : b >= 0xF0 ? 4 : b >= 0xE0 ? 3 : 2
            guard length == piece.count else { continue }
            let key = Llama2cTokenizer.packCharacter(piece[...])
            if characters[key] == nil { characters[key] = Int32(id) }
        }
        self.characterPiece = characters
        self.fingerprint = Array("InstructKit llama2.c tokenizer v1\n".utf8) + bytes
    }

    /// Number of pieces in the file.
    public var vocabularySize: Int { pieces.count }

    /// `<unk>` -> 0, `<s>` -> 1, `</s>` -> 2.
    public func specialTokenID(_ token: String) -> Int32? { specials.first { $0.text == token }?.id }

    /// Ids 0, 1, 2 (`<unk>`, `<s>`, `</s>`) are special.
    public func isSpecialToken(_ id: Int32) -> Bool { id >= 0 && id <= 2 }

    /// `<unk>`, `<s>` and `</s>` as special added tokens.
    public var addedTokens: [AddedToken] { specials.map { AddedToken(id: $0.id, content: $0.text, special: true) } }

    /// True: llama2.c's run.c (and Llama 2's HF tokenizer) put BOS in front of a prompt.
    public var addsBOS: Bool { true }

    /// A header and the file's bytes.
    public func fingerprintBytes() -> [UInt8] { fingerprint }

    /// Encodes as run.c does (see the type's summary); with `allowSpecial`, `<unk>`, `<s>` and
    /// `</s>` in the text become ids 0, 1, 2 and only a segment at the very start gets the dummy prefix.
    public func encode(_ text: String, allowSpecial: Bool) -> [Int32] {
        var out: [Int32] = []
        guard !text.isEmpty else { return out }
        var utf8 = Array(text.utf8)
        guard allowSpecial else {
            encodeSegment(utf8[...], dummyPrefix: true, into: &out)
            return out
        }
        var start = 0
        var i = 0
        utf8.append(0)  // sentinel so the matcher below may look one byte ahead
        let n = utf8.count - 1
        while i < n {
            var matched = false
            if utf8[i] == UInt8(ascii: "<") {
                for special in specials {
                    let s = Array(special.text.utf8)
                    if i + s.count <= n && Array(utf8[i..<(i + s.count)]) == s {
                        encodeSegment(utf8[start..<i], dummyPrefix: start == 0, into: &out)
                        out.append(special.id)
                        i += s.count
                        start = i
                        matched = true
                        break
                    }
                }
            }
            if !matched { i += 1 }
        }
        encodeSegment(utf8[start..<n], dummyPrefix: start == 0, into: &out)
        return out
    }

    private func encodeSegment(_ text: ArraySlice<UInt8>, dummyPrefix: Bool, into out: inout [Int32]) {
        guard !text.isEmpty else { return }
        out.append(contentsOf: mergeByHeap(initialSymbols(text, dummyPrefix: dummyPrefix)))
    }

    /// Before merging: the dummy-prefix space piece, then one piece per character, or the
    /// character's UTF-8 bytes as byte-fallback ids (byte + 3) when it has no piece.
    func initialSymbols(_ text: ArraySlice<UInt8>, dummyPrefix: Bool) -> [Int32] {
        var tokens: [Int32] = []
        tokens.reserveCapacity(text.count + 1)
        if dummyPrefix, let space = idOfPiece[[0x20]] { tokens.append(space) }
        var i = text.startIndex
        while i < text.endIndex {
            let b = text[i]
            let length = b < 0x80 ? 1 : b >= 0xF0 ? 4 : b >= 0xE0 ? 3 : 2
            let end = min(i + length, text.endIndex)
            if let id = characterPiece[Llama2cTokenizer.packCharacter(text[i..<end])] {
                tokens.append(id)
            } else {
                for k in i..<end { tokens.append(Int32(text[k]) + 3) }
            }
            i = end
        }
        return tokens
    }

    /// run.c's merge loop, literally: each round scans all adjacent pairs and merges the one whose
    /// concatenation has the highest score (leftmost on ties). O(n^2); kept as the reference
    /// that `mergeByHeap` is tested against.
    func mergeByScan(_ tokens: [Int32]) -> [Int32] {
        var tokens = tokens
        while tokens.count >= 2 {
            var bestScore = -Float.greatestFiniteMagnitude
            var bestIndex = -1
            var bestID: Int32 = -1
            for k in 0..<(tokens.count - 1) {
                if let id = merged(tokens[k], tokens[k + 1]), scores[Int(id)] > bestScore {
                    bestScore = scores[Int(id)]
                    bestIndex = k
                    bestID = id
                }
            }
            if bestIndex < 0 { break }
            tokens[bestIndex] = bestID
            tokens.remove(at: bestIndex + 1)
        }
        return tokens
    }

    /// The same merges as `mergeByScan` in O(n log n): a heap of candidate pairs ordered by
    /// (score descending, position ascending) over a linked list of symbols. A merged symbol keeps
    /// its left part's position, so positions stay in text order and "leftmost" is preserved;
    /// entries whose symbols changed since they were pushed are skipped when popped.
    func mergeByHeap(_ tokens: [Int32]) -> [Int32] {
        let n = tokens.count
        guard n >= 2 else { return tokens }
        var symbols = tokens
        var next = Array(1...n)  // n = end of list
        var previous = Array(-1..<(n - 1))
        var alive = [Bool](repeating: true, count: n)
        var heap = CandidateHeap()
        func consider(_ i: Int) {
            guard i >= 0, next[i] < n, let id = merged(symbols[i], symbols[next[i]]) else { return }
            heap.push(Candidate(score: scores[Int(id)], position: Int32(i), left: symbols[i],
                                right: symbols[next[i]], merged: id))
        }
        for i in 0..<(n - 1) { consider(i) }
        while let c = heap.pop() {
            let i = Int(c.position)
            guard alive[i], symbols[i] == c.left, next[i] < n, symbols[next[i]] == c.right else { continue }
            let j = next[i]
            symbols[i] = c.merged
            alive[j] = false
            next[i] = next[j]
            if next[j] < n { previous[next[j]] = i }
            consider(previous[i])
            consider(i)
        }
        var out: [Int32] = []
        out.reserveCapacity(n)
        var i = 0
        while i < n {
            out.append(symbols[i])
            i = next[i]
        }
        return out
    }

    /// A character's 1...4 UTF-8 bytes packed into one integer, with the length above them.
    @inline(__always)
    static func packCharacter(_ bytes: ArraySlice<UInt8>) -> UInt64 {
        var key = UInt64(bytes.count) << 32
        var shift: UInt64 = 0
        for b in bytes.prefix(4) {
            key |= UInt64(b) << shift
            shift += 8
        }
        return key
    }

    /// The merged id of two adjacent symbols, if their concatenation is a piece.
    @inline(__always)
    private func merged(_ a: Int32, _ b: Int32) -> Int32? {
        if !densePairs.isEmpty {
            let id = densePairs[Int(a) * pieces.count + Int(b)]
            return id >= 0 ? id : nil
        }
        return pairTable[pairKey(a, b)]
    }

    @inline(__always)
    private func pairKey(_ a: Int32, _ b: Int32) -> UInt64 { UInt64(UInt32(a)) << 32 | UInt64(UInt32(b)) }

    /// Concatenates pieces; drops the first piece's leading (dummy-prefix) space; skips unknown ids.
    public func decode(_ ids: [Int32]) -> String {
        var bytes: [UInt8] = []
        for (position, id) in ids.enumerated() where id >= 0 && Int(id) < pieces.count {
            if let special = specials.first(where: { $0.id == id }) {
                bytes.append(contentsOf: special.text.utf8)
                continue
            }
            let piece = pieces[Int(id)]
            if id >= 3 && id < 259 {
                bytes.append(UInt8(id - 3))
            } else if position == 0 && piece.first == 0x20 {
                bytes.append(contentsOf: piece.dropFirst())
            } else {
                bytes.append(contentsOf: piece)
            }
        }
        return String(decoding: bytes, as: UTF8.self)
    }
}

/// A possible merge of the symbols at `position` and the next one.
struct Candidate: HeapOrdered {
    var score: Float
    var position: Int32
    var left: Int32
    var right: Int32
    var merged: Int32

    /// Higher score first, then smaller position.
    @inline(__always)
    static func before(_ a: Candidate, _ b: Candidate) -> Bool {
        a.score != b.score ? a.score > b.score : a.position < b.position
    }
}

/// Max-heap of candidates: higher score first, then smaller position.
typealias CandidateHeap = BinaryHeap<Candidate>
