import Dispatch
import Foundation

/// Causal self-attention over packed rows, fused.
///
/// A packed row holds several examples back to back; `segmentIDs` marks them. Segments are
/// maximal runs of equal ids within a row (padding is simply one more segment). Token i
/// attends to token j only when j <= i and both lie in the same segment. Work is done per
/// (row, segment, head), directly on the strided [B, T, H, D] layout with sgemm (leading
/// dimension H*D, no copies), so blocks between different segments cost nothing. For
/// one row with segment ids `a a a b b c c` the mask (query down, key across) is
///
///     a a a b b c c
///     1 . . . . . .      each segment is its own causal triangle;
///     1 1 . . . . .      only the triangles' row blocks are computed
///     1 1 1 . . . .
///     . . . 1 . . .
///     . . . 1 1 . .
///     . . . . . 1 .
///     . . . . . 1 1
///
/// Within a segment, queries go in blocks of `attentionQueryBlock` rows; a block of rows
/// [r0, r1) only needs keys [0, r1), so the masked upper triangle is mostly skipped and the
/// scratch is bounded by `attentionQueryBlock * L` floats for a segment of length L.
///
/// Numerics: scores are `scale * q.k`; each row's softmax subtracts the row maximum
/// (stable), and the forward pass saves the row's logsumexp [B, T, Hq]. The backward pass
/// recomputes `P = exp(S - lse)` block by block instead of keeping P for every head, then
/// `dV = P^T dO`, `dP = dO V^T`, `dS = P * (dP - rowsum(dO * O))`, `dQ = scale dS K`,
/// `dK = scale dS^T Q`.
///
/// Parallelism and determinism: work items are (segment, query head) in the forward pass
/// and (segment, kv head) in the backward pass, so the gradient of a kv head shared by a
/// group of query heads (grouped-query attention) is accumulated inside one item, in a fixed
/// order. Items write disjoint parts of the outputs, so results do not depend on which core
/// runs which item. With a single-threaded BLAS, items run concurrently (when there are at
/// least two and the work exceeds `Parallel.minimumParallelWork`); with a multi-threaded
/// BLAS they run in order, each product uses BLAS's threads and the row softmax work of a
/// query block is split across cores (see `forEachAttentionItem`). Either way results are
/// bit-identical from run to run at a given BLAS thread count.

/// Query rows per block inside a segment.
let attentionQueryBlock = 64

/// Sizes and row strides of attention's operands. q, k and v rows (tokens) are `ldq`,
/// `ldkv` floats apart: H*D for separate tensors, (Hq + 2 Hkv) * D inside a packed
/// projection. Output and its gradient are always [B, T, Hq, D] (row stride Hq*D); the
/// gradients of q, k, v use the strides of q, k, v.
struct AttentionLayout {
    var time: Int, heads: Int, kvHeads: Int, headSize: Int
    var ldq: Int, ldkv: Int
}

/// One maximal run of equal segment ids in a row: tokens `start..<start+length` of row `row`.
struct AttentionSegment {
    var row: Int
    var start: Int
    var length: Int
}

extension Tensor {
    /// Causal self-attention within segments of packed rows, with grouped-query attention.
    ///
    /// - Parameters:
    ///   - q: [B, T, Hq, D] queries.
    ///   - k: [B, T, Hkv, D] keys; `Hq % Hkv == 0`, query head h uses kv head `h / (Hq / Hkv)`.
    ///   - v: [B, T, Hkv, D] values.
    ///   - segmentIDs: B*T ids, token-major (`b * T + t`); token i attends to j <= i only
    ///     when every token from j to i has the same id.
    ///   - scale: multiplies the scores; default `1 / sqrt(D)`.
    /// - Returns: [B, T, Hq, D].
    public static func causalAttention(_ q: Tensor, _ k: Tensor, _ v: Tensor, segmentIDs: [Int32],
                                       scale: Float? = nil) -> Tensor {
        precondition(q.rank == 4 && k.rank == 4 && v.rank == 4,
                     "causalAttention: q, k, v must be [B, T, H, D], got \(q.shape), \(k.shape), \(v.shape)")
        let b = q.shape[0], t = q.shape[1], hq = q.shape[2], d = q.shape[3], hkv = k.shape[2]
        precondition(k.shape == v.shape, "causalAttention: k \(k.shape) and v \(v.shape) differ")
        precondition(k.shape[0] == b && k.shape[1] == t && k.shape[3] == d,
                     "causalAttention: q \(q.shape) and k \(k.shape) differ in B, T or D")
        precondition(d >= 1 && hkv >= 1 && hq % hkv == 0,
                     "causalAttention: need D >= 1 and Hq a multiple of Hkv, got q \(q.shape), k \(k.shape)")
        precondition(segmentIDs.count == b * t,
                     "causalAttention: q \(q.shape) needs B*T = \(b * t) segment ids, got \(segmentIDs.count)")
        let s = scale ?? 1 / Float(d).squareRoot()
        let segments = attentionSegments(segmentIDs, rows: b, time: t)
        let out = Tensor.uninitialized(q.shape)
        let lse = Tensor.uninitialized([b, t, hq])
        let layout = AttentionLayout(time: t, heads: hq, kvHeads: hkv, headSize: d, ldq: hq * d, ldkv: hkv * d)
        attentionForward(layout, q: q.storage.pointer, k: k.storage.pointer, v: v.storage.pointer,
                         out: out.storage.pointer, lse: lse.storage.pointer, segments: segments, scale: s)
        guard anyTracked([q, k, v]) else { return out }
        let qs = q.detached, ks = k.detached, vs = v.detached, os = out
        let needs = (q.isTracked, k.isTracked, v.isTracked)
        return out.recorded([q, k, v]) { g in
            // Every row of each gradient is written (see causalAttentionBackward).
            let dq = Tensor.uninitialized(needs.0 ? qs.shape : [0])
            let dk = Tensor.uninitialized(needs.1 ? ks.shape : [0]), dv = Tensor.uninitialized(needs.2 ? vs.shape : [0])
            causalAttentionBackward(layout, q: qs.storage.pointer, k: ks.storage.pointer, v: vs.storage.pointer,
                                    out: os.storage.pointer, lse: lse.storage.pointer, dOut: g.storage.pointer,
                                    dq: needs.0 ? dq.storage.pointer : nil, dk: needs.1 ? dk.storage.pointer : nil,
                                    dv: needs.2 ? dv.storage.pointer : nil, segments: segments, scale: s)
            return [needs.0 ? dq : nil, needs.1 ? dk : nil, needs.2 ? dv : nil]
        }
    }

    /// Causal self-attention reading q, k and v straight from one packed projection, as
    /// GPT-2's `c_attn` output: the last axis of `qkv` [B, T, (Hq + 2 Hkv) * D] holds the Hq
    /// query heads, then the Hkv key heads, then the Hkv value heads. Same result as
    /// splitting `qkv` and calling `causalAttention(q, k, v, ...)` (bit for bit: the same
    /// products on the same numbers, only the row strides differ), without the three slice
    /// copies forward and, backward, without three zero-padded gradients and their sum:
    /// the gradient is written into one [B, T, (Hq + 2 Hkv) * D] tensor.
    /// - Returns: [B, T, Hq, D].
    public static func causalAttention(packedQKV qkv: Tensor, heads hq: Int, kvHeads hkv: Int,
                                       segmentIDs: [Int32], scale: Float? = nil) -> Tensor {
        precondition(qkv.rank == 3 && hq >= 1 && hkv >= 1 && hq % hkv == 0 && qkv.shape[2] % (hq + 2 * hkv) == 0
                     && qkv.shape[2] >= hq + 2 * hkv,
                     "causalAttention(packedQKV:): qkv must be [B, T, (Hq + 2 Hkv) * D] with Hq a multiple of Hkv; got \(qkv.shape), Hq \(hq), Hkv \(hkv)")
        let b = qkv.shape[0], t = qkv.shape[1], ld = qkv.shape[2], d = ld / (hq + 2 * hkv)
        precondition(segmentIDs.count == b * t,
                     "causalAttention(packedQKV:): qkv \(qkv.shape) needs B*T = \(b * t) segment ids, got \(segmentIDs.count)")
        let s = scale ?? 1 / Float(d).squareRoot()
        let segments = attentionSegments(segmentIDs, rows: b, time: t)
        let out = Tensor.uninitialized([b, t, hq, d])
        let lse = Tensor.uninitialized([b, t, hq])
        let layout = AttentionLayout(time: t, heads: hq, kvHeads: hkv, headSize: d, ldq: ld, ldkv: ld)
        let pq = qkv.storage.pointer, pk = pq + hq * d, pv = pk + hkv * d
        attentionForward(layout, q: pq, k: pk, v: pv, out: out.storage.pointer, lse: lse.storage.pointer,
                         segments: segments, scale: s)
        guard anyTracked(qkv) else { return out }
        let xs = qkv.detached, os = out
        return out.recorded([qkv]) { g in
            // Not zeroed: every row of dQ, dK and dV is written (see causalAttentionBackward).
            let dx = Tensor.uninitialized(xs.shape)
            let pq = xs.storage.pointer, pdq = dx.storage.pointer
            causalAttentionBackward(layout, q: pq, k: pq + hq * d, v: pq + (hq + hkv) * d,
                                    out: os.storage.pointer, lse: lse.storage.pointer, dOut: g.storage.pointer,
                                    dq: pdq, dk: pdq + hq * d, dv: pdq + (hq + hkv) * d, segments: segments, scale: s)
            return [dx]
        }
    }

    /// Splits every row into maximal runs of equal ids.
    static func attentionSegments(_ ids: [Int32], rows: Int, time: Int) -> [AttentionSegment] {
        var segments: [AttentionSegment] = []
        for r in 0..<rows {
            var start = 0
            while start < time {
                let id = ids[r * time + start]
                var end = start + 1
                while end < time && ids[r * time + end] == id { end += 1 }
                segments.append(AttentionSegment(row: r, start: start, length: end - start))
                start = end
            }
        }
        return segments
    }

    /// Runs `body(item, rowsInParallel)` for `0..<count`. Items run concurrently only when
    /// BLAS is single-threaded, there are several items and `totalWork` (multiply-adds) is
    /// large enough; otherwise they run in order, each product uses BLAS's own threads, and
    /// `rowsInParallel` tells the item to split its row-wise softmax work across cores.
    /// (OpenBLAS serialises concurrent multi-threaded calls behind one lock and its
    /// spinning workers compete with ours: concurrent items with a multi-threaded BLAS
    /// measured 5-15x slower than either scheme here.) Each item must write disjoint data.
    static func forEachAttentionItem(_ count: Int, totalWork: Int, _ body: (Int, Bool) -> Void) {
        if count >= 2 && totalWork >= Parallel.minimumParallelWork && BLAS.threadCount == 1 {
            DispatchQueue.concurrentPerform(iterations: count) { body($0, false) }
        } else {
            for i in 0..<count { body(i, true) }
        }
    }

    /// Calls `body(i)` for every row `0..<rows` of a query block, split across cores when
    /// asked and the block is large. Rows are independent, so the split changes nothing.
    @inline(__always)
    static func attentionRows(_ rows: Int, columns: Int, inParallel: Bool, _ body: (Int) -> Void) {
        if inParallel {
            Parallel.forRanges(rows, costPerElement: 8 * columns) { r in for i in r { body(i) } }
        } else {
            for i in 0..<rows { body(i) }
        }
    }

    /// Multiply-adds of one (segment, head) pair, roughly: the causal triangle times D.
    static func attentionWork(_ segments: [AttentionSegment], headSize d: Int) -> Int {
        var w = 0
        for seg in segments { w += seg.length * (seg.length + 1) / 2 * d }
        return w
    }

    /// Forward kernel: writes `out` [B, T, Hq, D] and `lse` [B, T, Hq].
    static func attentionForward(_ layout: AttentionLayout, q pq: UnsafeMutablePointer<Float>,
                                 k pk: UnsafeMutablePointer<Float>, v pv: UnsafeMutablePointer<Float>,
                                 out po: UnsafeMutablePointer<Float>, lse pl: UnsafeMutablePointer<Float>,
                                 segments: [AttentionSegment], scale: Float) {
        let t = layout.time, hq = layout.heads, d = layout.headSize, hkv = layout.kvHeads
        let group = hq / hkv
        let ldq = layout.ldq, ldk = layout.ldkv, ldo = hq * d
        let work = attentionWork(segments, headSize: d) * 2 * hq
        segments.withUnsafeBufferPointer { segs in
            forEachAttentionItem(segs.count * hq, totalWork: work) { item, rowsInParallel in
                let seg = segs[item / hq], h = item % hq, kvh = h / group
                let len = seg.length, token0 = seg.row * t + seg.start
                let qh = pq + token0 * ldq + h * d, oh = po + token0 * ldo + h * d
                let kh = pk + token0 * ldk + kvh * d, vh = pv + token0 * ldk + kvh * d
                let lseh = pl + token0 * hq + h
                let blockRows = Swift.min(len, attentionQueryBlock)
                // Scratch from tensor storage (counted by `TensorBytes`, as the tests of memory in T check).
                let scratchStorage = TensorStorage(uninitializedCount: blockRows * len + blockRows)
                let scratch = scratchStorage.pointer
                defer { withExtendedLifetime(scratchStorage) {} }
                let inverse = scratch + blockRows * len
                var r0 = 0
                while r0 < len {
                    let r1 = Swift.min(len, r0 + attentionQueryBlock), rb = r1 - r0, nk = r1
                    // S [rb, nk] = scale * Q[r0..<r1] K[0..<r1]^T
                    BLAS.sgemm(transposeA: false, transposeB: true, m: rb, n: nk, k: d, alpha: scale,
                               a: qh + r0 * ldq, lda: ldq, b: kh, ldb: ldk, beta: 0, c: scratch, ldc: nk)
                    // E = exp(S - rowmax), zero above the diagonal; the row sums' inverses are
                    // applied to the D-wide output rows below instead of the nk-wide E rows.
                    attentionRows(rb, columns: nk, inParallel: rowsInParallel) { i in
                        let row = scratch + i * nk, valid = r0 + i + 1
                        let m = VectorExp.max(row, count: valid)
                        let sum = VectorExp.expShifted(row, row, count: valid, a: m)
                        (row + valid).update(repeating: 0, count: nk - valid)
                        inverse[i] = 1 / sum
                        lseh[(r0 + i) * hq] = m + Foundation.log(sum)
                    }
                    // O[r0..<r1] = diag(1 / rowsum) E V[0..<r1]
                    BLAS.sgemm(transposeA: false, transposeB: false, m: rb, n: d, k: nk,
                               a: scratch, lda: nk, b: vh, ldb: ldk, beta: 0, c: oh + r0 * ldo, ldc: ldo)
                    for i in 0..<rb { VectorExp.scale(oh + (r0 + i) * ldo, count: d, by: inverse[i]) }
                    r0 = r1
                }
            }
        }
    }

    /// d(loss)/d(q, k, v) of `causalAttention`, given `dOut` [B, T, Hq, D] and the saved
    /// output and logsumexp. Writes every row of `dq`, `dk` and `dv` (they need no
    /// initialisation); a nil gradient is not computed. Query blocks go from the last to the
    /// first: the last block's keys are the whole segment, so its dK and dV products write
    /// (beta 0) every key row of the (segment, kv head) and later blocks and heads add into
    /// them (beta 1). That saves zeroing the gradients first.
    static func causalAttentionBackward(_ layout: AttentionLayout, q pq: UnsafeMutablePointer<Float>,
                                        k pk: UnsafeMutablePointer<Float>, v pv: UnsafeMutablePointer<Float>,
                                        out po: UnsafeMutablePointer<Float>, lse pl: UnsafeMutablePointer<Float>,
                                        dOut pg: UnsafeMutablePointer<Float>,
                                        dq pdq: UnsafeMutablePointer<Float>?, dk pdk: UnsafeMutablePointer<Float>?,
                                        dv pdv: UnsafeMutablePointer<Float>?,
                                        segments: [AttentionSegment], scale: Float) {
        let t = layout.time, hq = layout.heads, d = layout.headSize, hkv = layout.kvHeads
        let group = hq / hkv
        let ldq = layout.ldq, ldk = layout.ldkv, ldo = hq * d
        let needS = pdq != nil || pdk != nil
        let work = attentionWork(segments, headSize: d) * 5 * hq
        segments.withUnsafeBufferPointer { segs in
            forEachAttentionItem(segs.count * hkv, totalWork: work) { item, rowsInParallel in
                let seg = segs[item / hkv], kvh = item % hkv
                let len = seg.length, token0 = seg.row * t + seg.start
                let kh = pk + token0 * ldk + kvh * d, vh = pv + token0 * ldk + kvh * d
                let dkh = pdk.map { $0 + token0 * ldk + kvh * d }, dvh = pdv.map { $0 + token0 * ldk + kvh * d }
                let blockRows = Swift.min(len, attentionQueryBlock)
                let scratch = TensorStorage(uninitializedCount: 2 * blockRows * len)
                let p = scratch.pointer, dp = scratch.pointer + blockRows * len
                defer { withExtendedLifetime(scratch) {} }
                for h in (kvh * group)..<((kvh + 1) * group) {
                    let qh = pq + token0 * ldq + h * d, oh = po + token0 * ldo + h * d
                    let gh = pg + token0 * ldo + h * d, dqh = pdq.map { $0 + token0 * ldq + h * d }
                    let lseh = pl + token0 * hq + h
                    var r0 = (len - 1) / attentionQueryBlock * attentionQueryBlock
                    while r0 >= 0 {
                        let r1 = Swift.min(len, r0 + attentionQueryBlock), rb = r1 - r0, nk = r1
                        // The first product into dK / dV rows [0, len) of this item overwrites.
                        let kvBeta: Float = h == kvh * group && r1 == len ? 0 : 1
                        // P [rb, nk] = exp(scale * Q K^T - lse), zero above the diagonal.
                        BLAS.sgemm(transposeA: false, transposeB: true, m: rb, n: nk, k: d, alpha: scale,
                                   a: qh + r0 * ldq, lda: ldq, b: kh, ldb: ldk, beta: 0, c: p, ldc: nk)
                        attentionRows(rb, columns: nk, inParallel: rowsInParallel) { i in
                            let row = p + i * nk, valid = r0 + i + 1, l = lseh[(r0 + i) * hq]
                            _ = VectorExp.expShifted(row, row, count: valid, a: l)
                            (row + valid).update(repeating: 0, count: nk - valid)
                        }
                        // dV[0..<r1] += P^T dO[r0..<r1]
                        if let dvh = dvh {
                            BLAS.sgemm(transposeA: true, transposeB: false, m: nk, n: d, k: rb,
                                       a: p, lda: nk, b: gh + r0 * ldo, ldb: ldo, beta: kvBeta, c: dvh, ldc: ldk)
                        }
                        if needS {
                            // dP [rb, nk] = dO[r0..<r1] V[0..<r1]^T
                            BLAS.sgemm(transposeA: false, transposeB: true, m: rb, n: nk, k: d,
                                       a: gh + r0 * ldo, lda: ldo, b: vh, ldb: ldk, beta: 0, c: dp, ldc: nk)
                            // dS = P * (dP - rowsum(dO * O)), stored over dP.
                            attentionRows(rb, columns: nk, inParallel: rowsInParallel) { i in
                                let go = gh + (r0 + i) * ldo, oo = oh + (r0 + i) * ldo
                                let delta = VectorExp.dot(go, oo, count: d)
                                VectorExp.softmaxBackwardRow(p + i * nk, dp + i * nk, count: nk, delta: delta)
                            }
                            // dQ[r0..<r1] = scale dS K[0..<r1]
                            if let dqh = dqh {
                                BLAS.sgemm(transposeA: false, transposeB: false, m: rb, n: d, k: nk, alpha: scale,
                                           a: dp, lda: nk, b: kh, ldb: ldk, beta: 0, c: dqh + r0 * ldq, ldc: ldq)
                            }
                            // dK[0..<r1] += scale dS^T Q[r0..<r1]
                            if let dkh = dkh {
                                BLAS.sgemm(transposeA: true, transposeB: false, m: nk, n: d, k: rb, alpha: scale,
                                           a: dp, lda: nk, b: qh + r0 * ldq, ldb: ldq, beta: kvBeta, c: dkh, ldc: ldk)
                            }
                        }
                        r0 -= attentionQueryBlock
                    }
                }
            }
        }
    }
}
