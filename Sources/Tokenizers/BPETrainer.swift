/// Trains a byte-level BPE vocabulary on a text corpus, deterministically.
///
/// Ids: the special tokens first (0..<k, in the order given), then the 256 single bytes in byte
/// order (k + b for byte b), then one id per merge in the order learned. The corpus is cut at
/// occurrences of the special tokens (they are never learned from), split with GPT-2's
/// pre-tokenizer (`PreTokenScanner`), and identical pieces are counted once with a weight.
/// Each step merges the adjacent pair with the highest count summed over all pieces;
/// **ties go to the smaller pair of ids (left id, then right id)**, so the same corpus and
/// options always give the same merges, whatever the hashing seed. Training stops at
/// `vocabularySize` tokens or when no pair occurs `minimumFrequency` times.
///
/// Cost: pair counts are kept incrementally. A merge touches only the pieces that hold the
/// pair (found through a pair -> pieces index) and a max-heap with lazy deletion gives the
/// next best pair, so a few MB of text trains to a few thousand tokens in seconds.
public enum BPETrainer {
    /// Trains on `text` and returns the tokenizer (the first special token that is a known
    /// end-of-text marker becomes its EOS, e.g. `<|endoftext|>`).
    /// Throws `TokenizerError.invalidTrainingOptions` when `vocabularySize` cannot hold the
    /// special tokens and the 256 bytes, or special tokens are empty or repeated.
    public static func train(text: String, vocabularySize: Int, specialTokens: [String] = [],
                             minimumFrequency: Int = 1) throws -> BPETokenizer {
        let base = specialTokens.count + 256
        guard vocabularySize >= base else {
            throw TokenizerError.invalidTrainingOptions(
                detail: "vocabulary size \(vocabularySize) is below the \(specialTokens.count) special tokens + 256 bytes; "
                    + "ask for at least \(base).")
        }
        guard Set(specialTokens).count == specialTokens.count, !specialTokens.contains("") else {
            throw TokenizerError.invalidTrainingOptions(detail: "special tokens must be non-empty and distinct: \(specialTokens)")
        }

        // 1. Count pieces.
        var pieceIndex: [[UInt8]: Int32] = [:]
        var words: [[Int32]] = []
        var weights: [Int] = []
        var text = text
        text.withUTF8 { buf in
            for segment in cutSpecials(buf, specialTokens) {
                var scanner = PreTokenScanner(UnsafeBufferPointer(rebasing: buf[segment]))
                while let r = scanner.next() {
                    let piece = Array(buf[(segment.lowerBound + r.lowerBound)..<(segment.lowerBound + r.upperBound)])
                    if let w = pieceIndex[piece] {
                        weights[Int(w)] += 1
                    } else {
                        pieceIndex[piece] = Int32(words.count)
                        words.append(piece.map { Int32(specialTokens.count) + Int32($0) })
                        weights.append(1)
                    }
                }
            }
        }

        // 2. Initial pair counts and where each pair occurs.
        var pairCount: [UInt64: Int] = [:]
        var pairWords: [UInt64: [Int32]] = [:]
        for (w, symbols) in words.enumerated() where symbols.count >= 2 {
            for k in 0..<(symbols.count - 1) {
                let key = pairKey(symbols[k], symbols[k + 1])
                pairCount[key, default: 0] += weights[w]
                pairWords[key, default: []].append(Int32(w))
            }
        }
        var heap = PairHeap()
        for (key, count) in pairCount { heap.push(count: count, key: key) }

        // 3. Merge.
        var tokenBytes: [[UInt8]] = specialTokens.map { Array($0.utf8) } + (0..<256).map { [UInt8($0)] }
        var merges: [(Int32, Int32)] = []
        var lastVisit = [Int](repeating: -1, count: words.count)
        while tokenBytes.count < vocabularySize, let top = heap.pop() {
            guard let current = pairCount[top.key], current == top.count else { continue }  // stale entry
            guard current >= max(1, minimumFrequency) else { break }
            let left = Int32(truncatingIfNeeded: top.key >> 32)
            let right = Int32(truncatingIfNeeded: top.key & 0xFFFF_FFFF)
            let newID = Int32(tokenBytes.count)
            tokenBytes.append(tokenBytes[Int(left)] + tokenBytes[Int(right)])
            merges.append((left, right))
            var touched: Set<UInt64> = []
            for w32 in pairWords[top.key] ?? [] {
                let w = Int(w32)
                if lastVisit[w] == merges.count { continue }
                lastVisit[w] = merges.count
                let old = words[w]
                var merged: [Int32] = []
                merged.reserveCapacity(old.count)
                var i = 0
                var changed = false
                while i < old.count {
                    if i + 1 < old.count && old[i] == left && old[i + 1] == right {
                        merged.append(newID)
                        i += 2
                        changed = true
                    } else {
                        merged.append(old[i])
                        i += 1
                    }
                }
                if !changed { continue }
                let weight = weights[w]
                for k in 0..<(old.count - 1) {
                    let key = pairKey(old[k], old[k + 1])
                    pairCount[key, default: 0] -= weight
                    touched.insert(key)
                }
                if merged.count >= 2 {
                    for k in 0..<(merged.count - 1) {
                        let key = pairKey(merged[k], merged[k + 1])
                        pairCount[key, default: 0] += weight
                        if touched.insert(key).inserted || merged[k] == newID || merged[k + 1] == newID {
                            pairWords[key, default: []].append(w32)
                        }
                    }
                }
                words[w] = merged
            }
            pairWords[top.key] = nil
            pairCount[top.key] = nil
            for key in touched.sorted() {
                guard let count = pairCount[key] else { continue }
                if count <= 0 {
                    pairCount[key] = nil
                } else {
                    heap.push(count: count, key: key)
                }
            }
        }

        // 4. The tokenizer.
        var vocab: [String: Int32] = [:]
        var strings: [String] = []
        var added: [AddedToken] = []
        for (id, bytes) in tokenBytes.enumerated() {
            let s = id < specialTokens.count ? specialTokens[id] : ByteLevel.encode(bytes)
            if vocab[s] != nil {
                throw TokenizerError.invalidTrainingOptions(
                    detail: "learned token '\(s)' has the same text as a special token; rename the special token")
            }
            vocab[s] = Int32(id)
            strings.append(s)
            if id < specialTokens.count { added.append(AddedToken(id: Int32(id), content: s, special: true)) }
        }
        let mergeStrings = merges.map { (strings[Int($0.0)], strings[Int($0.1)]) }
        return try BPETokenizer(vocab: vocab, merges: mergeStrings, addedTokens: added,
                                bosToken: BPETokenizer.defaultBOS(added), eosToken: BPETokenizer.defaultEOS(added))
    }

    @inline(__always)
    static func pairKey(_ a: Int32, _ b: Int32) -> UInt64 { UInt64(UInt32(a)) << 32 | UInt64(UInt32(b)) }

    /// The byte ranges of `buf` between occurrences of the special tokens (leftmost-longest).
    static func cutSpecials(_ buf: UnsafeBufferPointer<UInt8>, _ specials: [String]) -> [Range<Int>] {
        let patterns = specials.map { Array($0.utf8) }.sorted { $0.count > $1.count }
        guard !patterns.isEmpty else { return [0..<buf.count] }
        var segments: [Range<Int>] = []
        var start = 0
        var i = 0
        while i < buf.count {
            var hit = 0
            for p in patterns where p.count <= buf.count - i && buf[i] == p[0] {
                if (0..<p.count).allSatisfy({ buf[i + $0] == p[$0] }) { hit = p.count; break }
            }
            if hit > 0 {
                if start < i { segments.append(start..<i) }
                i += hit
                start = i
            } else {
                i += 1
            }
        }
        if start < buf.count { segments.append(start..<buf.count) }
        return segments
    }
}

/// A pair of ids (packed in `key`) and how often it occurs: the trainer's heap entry.
/// Higher count first; ties go to the smaller key (left id, then right id).
struct PairCount: HeapOrdered {
    var count: Int
    var key: UInt64

    @inline(__always)
    static func before(_ a: PairCount, _ b: PairCount) -> Bool {
        a.count != b.count ? a.count > b.count : a.key < b.key
    }
}

typealias PairHeap = BinaryHeap<PairCount>

extension BinaryHeap where Element == PairCount {
    mutating func push(count: Int, key: UInt64) { push(PairCount(count: count, key: key)) }
}
