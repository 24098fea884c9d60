extension BPETokenizer {
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
            splitAddedTokens(buf, 0..<buf.count, matcher: rawMatcher, allowSpecial: allowSpecial, into: &out) { range, out in
                encodeRaw(buf, range, into: &out, cache: &cache)
            }
        }
        return out
    }

    /// Cuts the added tokens `matcher` knows out of `buf[range]`, leftmost-longest, honouring
    /// `lstrip`/`rstrip`; their ids go to `out` and `encodeGap` gets the text between them.
    /// Without `allowSpecial`, a special token's match is skipped and stays text (HF with
    /// `encode_special_tokens`).
    private func splitAddedTokens(_ buf: UnsafeBufferPointer<UInt8>, _ range: Range<Int>, matcher: AddedTokenMatcher,
                                  allowSpecial: Bool, into out: inout [Int32],
                                  encodeGap: (Range<Int>, inout [Int32]) -> Void) {
        guard !matcher.isEmpty else {
            encodeGap(range, &out)
            return
        }
        var segmentStart = range.lowerBound
        var i = range.lowerBound
        let n = range.upperBound
        let window = UnsafeBufferPointer(rebasing: buf[..<n])
        while i < n {
            guard let (token, length) = matcher.match(window, at: i) else {
                i += 1
                continue
            }
            if !allowSpecial && token.special {
                i += length
                continue
            }
            var start = i
            var end = i + length
            if token.lstrip {
                while start > segmentStart, let previous = whitespaceScalarStart(before: start, in: window) { start = previous }
            }
            if token.rstrip {
                while end < n, let after = whitespaceScalarEnd(at: end, in: window) { end = after }
            }
            if start > segmentStart { encodeGap(segmentStart..<start, &out) }
            out.append(token.id)
            i = end
            segmentStart = end
        }
        if segmentStart < n { encodeGap(segmentStart..<n, &out) }
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

    /// Text between raw-matched added tokens: normalized, then cut at normalized added tokens,
    /// then pre-tokenized and encoded piece by piece.
    private func encodeRaw(_ buf: UnsafeBufferPointer<UInt8>, _ range: Range<Int>, into out: inout [Int32],
                           cache: inout BPEWordCache) {
        guard !range.isEmpty, let base = buf.baseAddress else { return }
        if fastPath && normalizedMatcher.isEmpty {
            encodeFast(UnsafeBufferPointer(start: base + range.lowerBound, count: range.count), into: &out, cache: &cache)
            return
        }
        let atTextStart = range.lowerBound == 0
        var normalized: [UInt8]
        if let normalizer = pipeline.normalizer {
            let text = String(decoding: UnsafeBufferPointer(rebasing: buf[range]), as: UTF8.self)
            normalized = Array(normalizer.apply(text).utf8)
        } else {
            normalized = Array(UnsafeBufferPointer(rebasing: buf[range]))
        }
        normalized.withUnsafeBufferPointer { nbuf in
            // Added tokens were cut already where `allowSpecial` applies; normalized ones here.
            splitAddedTokens(nbuf, 0..<nbuf.count, matcher: normalizedMatcher, allowSpecial: true, into: &out) { gap, out in
                if fastPath {
                    encodeFast(UnsafeBufferPointer(rebasing: nbuf[gap]), into: &out, cache: &cache)
                } else {
                    encodeGeneral(Array(nbuf[gap]), atTextStart: atTextStart && gap.lowerBound == 0, into: &out, cache: &cache)
                }
            }
        }
    }

    /// GPT-2's layout: an optional prefix space, the hand-written scanner, cached BPE per piece.
    private func encodeFast(_ segment: UnsafeBufferPointer<UInt8>, into out: inout [Int32], cache: inout BPEWordCache) {
        guard !segment.isEmpty else { return }
        if addPrefixSpace && segment[0] != 0x20 {
            let spaced: [UInt8] = [0x20] + segment
            spaced.withUnsafeBufferPointer { scanPieces($0, into: &out, cache: &cache) }
        } else {
            scanPieces(segment, into: &out, cache: &cache)
        }
    }

    private func scanPieces(_ segment: UnsafeBufferPointer<UInt8>, into out: inout [Int32], cache: inout BPEWordCache) {
        guard let base = segment.baseAddress else { return }
        var scanner = PreTokenScanner(segment)
        while let piece = scanner.next() {
            encodePiece(base + piece.lowerBound, piece.count, into: &out, cache: &cache)
        }
    }

    /// Any other pipeline: the pre-tokenizer's steps, then cached BPE per piece.
    private func encodeGeneral(_ segment: [UInt8], atTextStart: Bool, into out: inout [Int32], cache: inout BPEWordCache) {
        let pieces = pipeline.preTokenizer.pieces(of: segment, atTextStart: atTextStart)
        pieces.bytes.withUnsafeBufferPointer { all in
            guard let base = all.baseAddress else { return }
            for r in pieces.ranges { encodePiece(base + r.lowerBound, r.count, into: &out, cache: &cache) }
        }
    }

    /// Pieces longer than this (in bytes) are not cached (a whole unsplit Llama 2 text, say).
    static let longestCachedPiece = 256

    @inline(__always)
    private func encodePiece(_ p: UnsafePointer<UInt8>, _ count: Int, into out: inout [Int32], cache: inout BPEWordCache) {
        if count < 16 {
            let key = BPEWordCache.shortKey(p, count)
            if let range = cache.find(key) {
                if range.count == 1 {
                    out.append(cache.ids[range.lowerBound])
                } else {
                    for k in range { out.append(cache.ids[k]) }
                }
            } else {
                let ids = wordIDs(p, count)
                cache.insert(key, ids)
                out.append(contentsOf: ids)
            }
        } else if count <= BPETokenizer.longestCachedPiece {
            let key = Array(UnsafeBufferPointer(start: p, count: count))
            if let ids = cache.long[key] {
                out.append(contentsOf: ids)
            } else {
                let ids = wordIDs(p, count)
                cache.makeRoomForLong()
                cache.long[key] = ids
                out.append(contentsOf: ids)
            }
        } else {
            out.append(contentsOf: wordIDs(p, count))
        }
    }

    @inline(__always)
    private func wordIDs(_ p: UnsafePointer<UInt8>, _ count: Int) -> [Int32] {
        fastPath ? bpe(p, count) : tokenizeWord(p, count)
    }

    /// GPT-2's BPE on one piece: one id per byte (`unk` for a byte without a token), then merge
    /// the lowest-ranked adjacent pair (all its occurrences, left to right) until no pair has a
    /// merge. Used only when the merges are in rank order (`mergesInRankOrder`), where this
    /// equals HF's one-merge-at-a-time order (which long words use).
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
        if symbols.count > BPETokenizer.longestScannedWord { return mergeOneAtATime(symbols) }
        mergeAllByRank(&symbols)
        return symbols
    }

    /// Words of more symbols than this merge with the heap, O(n log n), even where the
    /// all-occurrences loop gives the same result: that loop costs O(n) per merge rank used, which
    /// a long unsplit piece (a whole Llama 2 text, a megabyte of one letter) turns quadratic.
    static let longestScannedWord = 64

    /// HF's `merge_word`: one symbol per byte (byte-level) or character, with byte fallback,
    /// `unk` (fused when `fuse_unk`) or nothing for those without a token; then the merges.
    func tokenizeWord(_ p: UnsafePointer<UInt8>, _ count: Int) -> [Int32] {
        let word = UnsafeBufferPointer(start: p, count: count)
        if options.ignoreMerges, let id = vocabularyByBytes[Array(word)] { return [id] }
        var symbols: [Int32] = []
        symbols.reserveCapacity(count)
        // HF keeps an unknown run pending until the next known character (or the end); byte-fallback
        // tokens do not flush it, so they can come before it, exactly as there.
        var pendingUnknown = false
        var i = 0
        while i < count {
            let length: Int
            let id: Int32
            if options.byteLevel {
                length = 1
                id = byteIDs[Int(p[i])]
            } else {
                length = min(decodeScalar(word, at: i).1, count - i)
                var key = UInt64(length) << 32
                for k in 0..<length { key |= UInt64(p[i + k]) << (8 * UInt64(k)) }
                id = characterIDs[key] ?? -1
            }
            defer { i += length }
            if id >= 0 {
                if pendingUnknown, let unk = unknownTokenID { symbols.append(unk) }
                pendingUnknown = false
                symbols.append(id)
                continue
            }
            if options.byteFallback {
                var all = true
                for k in i..<(i + length) where fallbackIDs[Int(p[k])] < 0 { all = false }
                if all {
                    for k in i..<(i + length) { symbols.append(fallbackIDs[Int(p[k])]) }
                    continue
                }
            }
            if let unk = unknownTokenID {
                if pendingUnknown && !options.fuseUnknown { symbols.append(unk) }
                pendingUnknown = true
            }
        }
        if pendingUnknown, let unk = unknownTokenID { symbols.append(unk) }
        if mergesInRankOrder && symbols.count <= BPETokenizer.longestScannedWord {
            mergeAllByRank(&symbols)
            return symbols
        }
        return mergeOneAtATime(symbols)
    }

    /// Merges the lowest-ranked adjacent pair, every occurrence left to right, until none has a merge.
    func mergeAllByRank(_ symbols: inout [Int32]) {
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
    }

    /// HF's `Word::merge_all` without dropout: a heap of candidate pairs ordered by (rank, position)
    /// over a linked list of symbols; the best pair is merged, its new neighbours' pairs pushed,
    /// stale entries skipped. O(n log n).
    func mergeOneAtATime(_ tokens: [Int32]) -> [Int32] {
        let n = tokens.count
        guard n >= 2 else { return tokens }
        var symbols = tokens
        var next = Array(1...n)  // n = end of list
        var previous = Array(-1..<(n - 1))
        var alive = [Bool](repeating: true, count: n)
        var heap = BinaryHeap<MergeCandidate>()
        func consider(_ i: Int) {
            guard i >= 0, next[i] < n else { return }
            let key = UInt64(UInt32(symbols[i])) << 32 | UInt64(UInt32(symbols[next[i]]))
            guard let value = mergeTable[key] else { return }
            heap.push(MergeCandidate(rank: UInt32(truncatingIfNeeded: value >> 32), position: Int32(i),
                                     left: symbols[i], right: symbols[next[i]],
                                     merged: Int32(truncatingIfNeeded: value & 0xFFFF_FFFF)))
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
}

/// A possible merge of the symbols at `position` and the next one: lower rank first, then leftmost.
struct MergeCandidate: HeapOrdered {
    var rank: UInt32
    var position: Int32
    var left: Int32
    var right: Int32
    var merged: Int32

    @inline(__always)
    static func before(_ a: MergeCandidate, _ b: MergeCandidate) -> Bool {
        a.rank != b.rank ? a.rank < b.rank : a.position < b.position
    }
}
