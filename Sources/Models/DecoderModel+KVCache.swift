import Autograd
import Dispatch
import Foundation
import NN

/// Incremental decoding: the keys and values of tokens already seen are kept per layer,
/// so each new token costs one forward pass over itself (attention reads the cache)
/// instead of a pass over the whole sequence.
///
/// Layout of one layer's buffers, B rows of `capacity` slots:
///
///     keys, values:  [B, capacity, Hkv, D]     slot s of row b at ((b * capacity + s) * Hkv + h) * D
///     row b:         | pad pad | prompt ... | generated ... |        free        |
///                    0    startOffsets[b]                 length           capacity
///
/// Every call appends the same number n of tokens to every row, so all rows share one
/// `length`. Rows of different prompt lengths are left-padded to a common length; slots
/// before a row's `startOffsets[b]` are never attended by that row's real tokens (a padding
/// query attends only to itself, so its output is finite and simply unused). Positions are
/// explicit, so a row's first real token gets position 0 whatever its padding.

/// The cached keys and values of every layer for B rows (a value: copying it copies the
/// buffers lazily, on the first write, like any `Tensor`).
public struct KVCache: Sendable {
    /// B: rows.
    public let batch: Int
    /// Slots per row, the longest sequence (padding included) the cache can hold.
    public let capacity: Int
    /// Number of transformer blocks.
    public let layers: Int
    /// Hkv: key/value heads.
    public let kvHeads: Int
    /// D: head size.
    public let headDim: Int
    /// Per row: the first slot its real tokens attend to; slots before it are left padding.
    public let startOffsets: [Int]
    /// Slots filled in every row (padding included).
    public internal(set) var length: Int = 0
    /// Per layer: keys [B, capacity, Hkv, D].
    var keys: [Tensor]
    /// Per layer: values [B, capacity, Hkv, D].
    var values: [Tensor]

    /// An empty cache. `startOffsets` (default all 0) gives each row's amount of left padding.
    public init(batch: Int, capacity: Int, layers: Int, kvHeads: Int, headDim: Int, startOffsets: [Int]? = nil) {
        precondition(batch >= 1 && capacity >= 1 && layers >= 1 && kvHeads >= 1 && headDim >= 1,
                     "KVCache: batch, capacity, layers, kvHeads and headDim must be at least 1; got \(batch), \(capacity), \(layers), \(kvHeads), \(headDim)")
        let offsets = startOffsets ?? Array(repeating: 0, count: batch)
        precondition(offsets.count == batch && offsets.allSatisfy { $0 >= 0 && $0 < capacity },
                     "KVCache: need \(batch) start offsets in 0..<\(capacity), got \(offsets)")
        self.batch = batch
        self.capacity = capacity
        self.layers = layers
        self.kvHeads = kvHeads
        self.headDim = headDim
        self.startOffsets = offsets
        let shape = [batch, capacity, kvHeads, headDim]
        keys = (0..<layers).map { _ in Tensor.zeros(shape) }
        values = (0..<layers).map { _ in Tensor.zeros(shape) }
    }

    /// Per row: the number of real (non-padding) tokens cached.
    public var rowLengths: [Int] { startOffsets.map { Swift.max(0, length - $0) } }

    /// Free slots per row.
    public var remaining: Int { capacity - length }

    /// Bytes held by the buffers (2 * layers * B * capacity * Hkv * D floats).
    public var byteCount: Int { 2 * layers * batch * capacity * kvHeads * headDim * MemoryLayout<Float>.size }

    /// Copies k, v [B, n, Hkv, D] of the new tokens into slots `start..<start+n` of `layer`.
    mutating func store(layer: Int, _ k: Tensor, _ v: Tensor, at start: Int) {
        let n = k.shape[1], row = kvHeads * headDim, b = batch, cap = capacity
        for (source, isKey) in [(k, true), (v, false)] {
            source.withUnsafeBufferPointer { src in
                func copy(_ dst: UnsafeMutableBufferPointer<Float>) {
                    for r in 0..<b {
                        (dst.baseAddress! + (r * cap + start) * row)   // buffers are never empty (capacity >= 1)
                            .update(from: src.baseAddress! + r * n * row, count: n * row)
                    }
                }
                if isKey { keys[layer].withUnsafeMutableBufferPointer(copy) } else { values[layer].withUnsafeMutableBufferPointer(copy) }
            }
        }
    }
}

/// Query rows per block in cached attention (bounds the score scratch during prefill).
let cachedAttentionQueryBlock = 64

extension KVCache {
    /// Attention of the n new queries q [B, n, Hq, D] (slots `start..<start+n`) over the
    /// cached keys and values of `layer` in slots up to each query's own: query slot t of
    /// row b attends to slots `startOffsets[b]...t` (only t itself when t is padding).
    /// Scores `q.k / sqrt(D)`, softmax with the row maximum subtracted. Returns
    /// [B, n, Hq, D]; records no gradient.
    func attention(layer: Int, _ q: Tensor, start: Int) -> Tensor {
        let b = batch, n = q.shape[1], hq = q.shape[2], d = headDim, hkv = kvHeads, cap = capacity
        let group = hq / hkv, ldq = hq * d, ldk = hkv * d
        let scale = 1 / Float(d).squareRoot()
        let outStorage = TensorStorage(uninitializedCount: q.count)
        let po = outStorage.pointer
        let offsets = startOffsets
        let keys = self.keys[layer], values = self.values[layer]
        q.withUnsafeBufferPointer { qb in
            keys.withUnsafeBufferPointer { kb in
                values.withUnsafeBufferPointer { vb in
                    let pq = qb.baseAddress!, pk = kb.baseAddress!, pv = vb.baseAddress!  // never empty
                    let work = b * hq * n * (start + n) * d * 2
                    let items = b * hq
                    let body: (Int) -> Void = { item in
                        let r = item / hq, h = item % hq, kvh = h / group
                        // Keys from slot kLo: the row's first real slot, or the first new slot if earlier.
                        let kLo = Swift.min(offsets[r], start)
                        let kh = pk + (r * cap + kLo) * ldk + kvh * d
                        let vh = pv + (r * cap + kLo) * ldk + kvh * d
                        let qh = pq + r * n * ldq + h * d, oh = po + r * n * ldq + h * d
                        let blockRows = Swift.min(n, cachedAttentionQueryBlock)
                        let scratch = UnsafeMutablePointer<Float>.allocate(capacity: blockRows * (start + n - kLo))
                        defer { scratch.deallocate() }
                        var r0 = 0
                        while r0 < n {
                            let r1 = Swift.min(n, r0 + cachedAttentionQueryBlock), rb = r1 - r0
                            let nk = start + r1 - kLo   // keys kLo..<start+r1
                            // S [rb, nk] = scale * Q[r0..<r1] K[kLo..<start+r1]^T
                            BLAS.sgemm(transposeA: false, transposeB: true, m: rb, n: nk, k: d, alpha: scale,
                                       a: qh + r0 * ldq, lda: ldq, b: kh, ldb: ldk, beta: 0, c: scratch, ldc: nk)
                            for i in 0..<rb {
                                let slot = start + r0 + i
                                let lo = (slot >= offsets[r] ? offsets[r] : slot) - kLo, hi = slot - kLo
                                let row = scratch + i * nk
                                var m = -Float.infinity
                                for j in lo...hi { m = Swift.max(m, row[j]) }
                                var sum: Float = 0
                                for j in lo...hi { let e = Foundation.exp(row[j] - m); row[j] = e; sum += e }
                                let inv = 1 / sum
                                for j in 0..<lo { row[j] = 0 }
                                for j in lo...hi { row[j] *= inv }
                                for j in (hi + 1)..<Swift.max(hi + 1, nk) { row[j] = 0 }
                            }
                            // O[r0..<r1] = P V[kLo..<start+r1]
                            BLAS.sgemm(transposeA: false, transposeB: false, m: rb, n: d, k: nk,
                                       a: scratch, lda: nk, b: vh, ldb: ldk, beta: 0, c: oh + r0 * ldq, ldc: ldq)
                            r0 = r1
                        }
                    }
                    if items >= 2 && work >= Parallel.minimumParallelWork {
                        DispatchQueue.concurrentPerform(iterations: items, execute: body)
                    } else {
                        for i in 0..<items { body(i) }
                    }
                }
            }
        }
        return Tensor(shape: q.shape, storage: outStorage)
    }
}

extension DecoderModel {
    /// An empty cache sized for this model: B rows of `capacity` slots, with
    /// `startOffsets[b]` slots of left padding in row b (default none).
    /// Memory: 2 * layers * B * capacity * Hkv * D floats.
    public func makeCache(batch: Int, capacity: Int, startOffsets: [Int]? = nil) -> KVCache {
        KVCache(batch: batch, capacity: capacity, layers: config.layers, kvHeads: config.kvHeads,
                headDim: config.headDim, startOffsets: startOffsets)
    }

    /// Logits [B*n, V] of n new tokens per row, appended to `cache`.
    ///
    /// Each new token attends to every cached token of its row from the row's start offset
    /// on, and causally to the new tokens before it. Prefill (the prompt) and decoding (n = 1)
    /// are both this call. Agrees with `logits(tokens:positions:segmentIDs:...)` over the whole
    /// sequence to float rounding (tested within 1e-5 on small models); records no gradient
    /// into the cache, so it is for inference only.
    ///
    /// - Parameters:
    ///   - tokens: B*n ids, token-major (`b * n + i`); B is `cache.batch`.
    ///   - positions: B*n positions (RoPE angles or rows of GPT-2's learned table), normally
    ///     the slot minus the row's start offset.
    ///   - cache: grows by n slots; needs `cache.remaining >= n`.
    public func logits(appending tokens: [Int32], positions: [Int32], cache: inout KVCache,
                       parameters p: Parameters) -> Tensor {
        let b = cache.batch, n = tokens.count / Swift.max(b, 1)
        precondition(n >= 1 && tokens.count == b * n && positions.count == tokens.count,
                     "DecoderModel.logits(appending:): need B*n tokens and positions for B = \(b) rows; got \(tokens.count) tokens, \(positions.count) positions")
        precondition(cache.layers == config.layers && cache.kvHeads == config.kvHeads && cache.headDim == config.headDim,
                     "DecoderModel.logits(appending:): cache of \(cache.layers) layers, \(cache.kvHeads) kv heads, head size \(cache.headDim) does not fit this model (\(config.layers), \(config.kvHeads), \(config.headDim))")
        precondition(cache.length + n <= cache.capacity,
                     "DecoderModel.logits(appending:): \(n) new tokens do not fit: cache holds \(cache.length) of \(cache.capacity) slots")
        let start = cache.length
        let out: Tensor
        switch config.family {
        case .gpt2:
            out = gpt2Forward(tokens: tokens, positions: positions, batch: b, time: n, p, nil) { layer, q, k, v in
                cache.store(layer: layer, k, v, at: start)
                return cache.attention(layer: layer, q, start: start)
            }
        case .llama:
            out = llamaForward(tokens: tokens, positions: positions, batch: b, time: n, p, nil) { layer, q, k, v in
                cache.store(layer: layer, k, v, at: start)
                return cache.attention(layer: layer, q, start: start)
            }
        }
        cache.length = start + n
        return out
    }
}
