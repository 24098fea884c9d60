import XCTest
import Autograd
import TestSupport

final class AttentionTests: XCTestCase {
    /// Naive Float64 attention that materialises the full [T, T] score matrix of every
    /// (row, head) with the block-causal mask: i sees j iff j <= i and every token from
    /// j to i has the same segment id. Returns O and, for upstream gradient `dO`, dQ, dK,
    /// dV (dense softmax Jacobian, GQA heads summed into their kv head).
    func reference(q: Tensor, k: Tensor, v: Tensor, ids: [Int32], scale: Double, dO: Tensor)
        -> (o: Tensor, dq: Tensor, dk: Tensor, dv: Tensor) {
        let (b, t, hq, d) = (q.shape[0], q.shape[1], q.shape[2], q.shape[3])
        let hkv = k.shape[2], group = hq / hkv
        let qv = q.scalars.map(Double.init), kv = k.scalars.map(Double.init), vv = v.scalars.map(Double.init)
        let gv = dO.scalars.map(Double.init)
        var o = [Double](repeating: 0, count: q.count), dq = o
        var dk = [Double](repeating: 0, count: k.count), dv = dk
        func qi(_ r: Int, _ i: Int, _ h: Int) -> Int { ((r * t + i) * hq + h) * d }
        func ki(_ r: Int, _ j: Int, _ h: Int) -> Int { ((r * t + j) * hkv + h) * d }
        for r in 0..<b {
            var mask = [[Bool]](repeating: [Bool](repeating: false, count: t), count: t)
            for i in 0..<t { for j in 0...i {
                mask[i][j] = (j...i).allSatisfy { ids[r * t + $0] == ids[r * t + i] }
            } }
            for h in 0..<hq {
                let kh = h / group
                var p = [[Double]](repeating: [Double](repeating: 0, count: t), count: t)
                for i in 0..<t {
                    var s = [Double](repeating: -Double.infinity, count: t)
                    for j in 0..<t where mask[i][j] {
                        var dot = 0.0
                        for c in 0..<d { dot += qv[qi(r, i, h) + c] * kv[ki(r, j, kh) + c] }
                        s[j] = scale * dot
                    }
                    let m = s.max()!
                    let z = s.reduce(0.0) { $0 + Foundation.exp($1 - m) }
                    for j in 0..<t { p[i][j] = Foundation.exp(s[j] - m) / z }
                    for j in 0..<t { for c in 0..<d { o[qi(r, i, h) + c] += p[i][j] * vv[ki(r, j, kh) + c] } }
                }
                for i in 0..<t {
                    // dP_ij = dO_i . V_j ; dS_ij = P_ij (dP_ij - sum_l P_il dP_il)
                    var dp = [Double](repeating: 0, count: t)
                    for j in 0..<t { for c in 0..<d { dp[j] += gv[qi(r, i, h) + c] * vv[ki(r, j, kh) + c] } }
                    var inner = 0.0
                    for j in 0..<t { inner += p[i][j] * dp[j] }
                    for j in 0..<t {
                        let ds = p[i][j] * (dp[j] - inner)
                        for c in 0..<d {
                            dv[ki(r, j, kh) + c] += p[i][j] * gv[qi(r, i, h) + c]
                            dq[qi(r, i, h) + c] += scale * ds * kv[ki(r, j, kh) + c]
                            dk[ki(r, j, kh) + c] += scale * ds * qv[qi(r, i, h) + c]
                        }
                    }
                }
            }
        }
        func tensor(_ x: [Double], _ s: [Int]) -> Tensor { Tensor(shape: s, scalars: x.map(Float.init)) }
        return (tensor(o, q.shape), tensor(dq, q.shape), tensor(dk, k.shape), tensor(dv, v.shape))
    }

    /// Kernel output and gradients of sum(O * dO).
    func kernel(q: Tensor, k: Tensor, v: Tensor, ids: [Int32], scale: Float?, dO: Tensor) -> (Tensor, [Tensor]) {
        let o = Tensor.causalAttention(q, k, v, segmentIDs: ids, scale: scale)
        let (_, g) = valueAndGradients(at: [q, k, v]) {
            (Tensor.causalAttention($0[0], $0[1], $0[2], segmentIDs: ids, scale: scale) * dO).sum()
        }
        return (o, g)
    }

    func compareWithReference(b: Int, t: Int, hq: Int, hkv: Int, d: Int, ids: [Int32], scale: Float?,
                              seed: UInt64, tol: Float, file: StaticString = #filePath, line: UInt = #line) {
        let q = testTensor([b, t, hq, d], seed: seed), k = testTensor([b, t, hkv, d], seed: seed + 1)
        let v = testTensor([b, t, hkv, d], seed: seed + 2), dO = testTensor([b, t, hq, d], seed: seed + 3)
        let ref = reference(q: q, k: k, v: v, ids: ids, scale: Double(scale ?? 1 / Float(d).squareRoot()), dO: dO)
        let (o, g) = kernel(q: q, k: k, v: v, ids: ids, scale: scale, dO: dO)
        let what = "B\(b) T\(t) Hq\(hq) Hkv\(hkv) D\(d)"
        assertClose(o, ref.o, atol: tol, rtol: tol, "O \(what)", file: file, line: line)
        assertClose(g[0], ref.dq, atol: tol, rtol: tol, "dQ \(what)", file: file, line: line)
        assertClose(g[1], ref.dk, atol: tol, rtol: tol, "dK \(what)", file: file, line: line)
        assertClose(g[2], ref.dv, atol: tol, rtol: tol, "dV \(what)", file: file, line: line)
    }

    func test_attention_segmentsAndGQA_matchFloat64Reference() {
        // Row 0: segments of lengths 3, 1, 4, 1 (length-1 segments attend only to themselves).
        // Row 1: ids reappear after a different id: [5 5 7 7 5 5 5 9 9] is four segments.
        let ids: [Int32] = [0, 0, 0, 1, 2, 2, 2, 2, 3,
                            5, 5, 7, 7, 5, 5, 5, 9, 9]
        compareWithReference(b: 2, t: 9, hq: 4, hkv: 2, d: 3, ids: ids, scale: nil, seed: 1, tol: 2e-5)
        compareWithReference(b: 2, t: 9, hq: 2, hkv: 2, d: 5, ids: ids, scale: nil, seed: 5, tol: 2e-5)
        compareWithReference(b: 2, t: 9, hq: 3, hkv: 1, d: 4, ids: ids, scale: 0.7, seed: 9, tol: 2e-5)
    }

    func test_attention_sizeOneShapes_matchFloat64Reference() {
        compareWithReference(b: 1, t: 1, hq: 1, hkv: 1, d: 1, ids: [0], scale: nil, seed: 13, tol: 1e-6)
        compareWithReference(b: 1, t: 4, hq: 1, hkv: 1, d: 1, ids: [0, 0, 0, 0], scale: nil, seed: 17, tol: 1e-5)
        compareWithReference(b: 3, t: 1, hq: 2, hkv: 1, d: 2, ids: [0, 0, 0], scale: nil, seed: 21, tol: 1e-6)
    }

    func test_attention_longSegments_bothSchedules_matchFloat64ReferenceAndRepeatBitForBit() {
        // Segments longer than one query block (64 rows). With a multi-threaded BLAS the
        // items run in order (rows split across cores); with a single-threaded BLAS the
        // items run concurrently. Both must match the reference and repeat bit for bit.
        let t = 150
        let ids: [Int32] = (0..<t).map { $0 < 100 ? 0 : 1 } + (0..<t).map { $0 < 7 ? 3 : 4 }
        let q = testTensor([2, t, 4, 8], seed: 26), k = testTensor([2, t, 2, 8], seed: 27)
        let v = testTensor([2, t, 2, 8], seed: 28), dO = testTensor([2, t, 4, 8], seed: 29)
        let savedThreads = BLAS.threadCount
        defer { BLAS.setThreadCount(savedThreads) }
        for threads in [1, 2] {
            BLAS.setThreadCount(threads)
            compareWithReference(b: 2, t: t, hq: 4, hkv: 2, d: 8, ids: ids, scale: nil, seed: 25, tol: 5e-5)
            let (o1, g1) = kernel(q: q, k: k, v: v, ids: ids, scale: nil, dO: dO)
            let (o2, g2) = kernel(q: q, k: k, v: v, ids: ids, scale: nil, dO: dO)
            XCTAssertEqual(o1.scalars, o2.scalars, "BLAS threads \(threads)")
            for i in 0..<3 { XCTAssertEqual(g1[i].scalars, g2[i].scalars, "BLAS threads \(threads)") }
        }
    }

    func test_attention_gradients_finiteDifferences() {
        let ids: [Int32] = [0, 0, 1, 1, 1, 2, 7, 7, 7, 7]
        let q = testTensor([2, 5, 4, 3], seed: 30), k = testTensor([2, 5, 2, 3], seed: 31), v = testTensor([2, 5, 2, 3], seed: 32)
        checkGradients([q, k, v]) { Tensor.causalAttention($0[0], $0[1], $0[2], segmentIDs: ids) }
        // Hq = Hkv, non-square head size, one segment per row.
        let q2 = testTensor([1, 6, 2, 5], seed: 33), k2 = testTensor([1, 6, 2, 5], seed: 34), v2 = testTensor([1, 6, 2, 5], seed: 35)
        checkGradients([q2, k2, v2]) { Tensor.causalAttention($0[0], $0[1], $0[2], segmentIDs: [Int32](repeating: 4, count: 6), scale: 0.9) }
        // Size one everywhere.
        checkGradients([testTensor([1, 1, 1, 1], seed: 36), testTensor([1, 1, 1, 1], seed: 37), testTensor([1, 1, 1, 1], seed: 38)]) {
            Tensor.causalAttention($0[0], $0[1], $0[2], segmentIDs: [0])
        }
    }

    func test_attention_packedQKV_equalsSplitQKV_bitForBit() {
        // GQA (4 query heads over 2 kv heads), head size 3, two segments in the second row.
        let (b, t, hq, hkv, d) = (2, 5, 4, 2, 3)
        let ids: [Int32] = [0, 0, 0, 0, 0, 1, 1, 2, 2, 2]
        let qkv = testTensor([b, t, (hq + 2 * hkv) * d], seed: 70), dO = testTensor([b, t, hq, d], seed: 71)
        let packedIn = qkv.trackingGradients()
        let packed = Tensor.causalAttention(packedQKV: packedIn, heads: hq, kvHeads: hkv, segmentIDs: ids)
        let packedGrad = gradients(of: (packed * dO).sum(), wrt: [packedIn])[0]
        let splitIn = qkv.trackingGradients()
        let parts = splitIn.split(axis: 2, sizes: [hq * d, hkv * d, hkv * d])
        let split = Tensor.causalAttention(parts[0].reshaped([b, t, hq, d]), parts[1].reshaped([b, t, hkv, d]),
                                           parts[2].reshaped([b, t, hkv, d]), segmentIDs: ids)
        let splitGrad = gradients(of: (split * dO).sum(), wrt: [splitIn])[0]
        XCTAssertEqual(packed.shape, [b, t, hq, d])
        XCTAssertEqual(packed.scalars, split.scalars)
        XCTAssertEqual(packedGrad.shape, qkv.shape)
        XCTAssertEqual(packedGrad.scalars, splitGrad.scalars)
    }

    func test_attention_packedQKV_gradients_finiteDifferences() {
        let ids: [Int32] = [0, 0, 1, 1, 1, 2, 7, 7, 7, 7]
        checkGradients([testTensor([2, 5, (4 + 2 * 2) * 3], seed: 72)]) {
            Tensor.causalAttention(packedQKV: $0[0], heads: 4, kvHeads: 2, segmentIDs: ids)
        }
        checkGradients([testTensor([1, 1, 3], seed: 73)]) {
            Tensor.causalAttention(packedQKV: $0[0], heads: 1, kvHeads: 1, segmentIDs: [0])
        }
    }

    func test_attention_packedRowOfTwoExamples_equalsEachExampleAlone() {
        let (h, hkv, d) = (4, 2, 6)
        let lens = [5, 3]
        let q = testTensor([1, 8, h, d], seed: 40), k = testTensor([1, 8, hkv, d], seed: 41)
        let v = testTensor([1, 8, hkv, d], seed: 42), dO = testTensor([1, 8, h, d], seed: 43)
        let ids: [Int32] = [0, 0, 0, 0, 0, 1, 1, 1]
        let (packed, packedGrads) = kernel(q: q, k: k, v: v, ids: ids, scale: nil, dO: dO)
        var start = 0
        for len in lens {
            func part(_ x: Tensor) -> Tensor { x.slice(axis: 1, start..<(start + len)) }
            let (alone, aloneGrads) = kernel(q: part(q), k: part(k), v: part(v),
                                             ids: [Int32](repeating: 0, count: len), scale: nil, dO: part(dO))
            assertClose(part(packed), alone, atol: 1e-6, rtol: 1e-6, "output of example at \(start)")
            for i in 0..<3 {
                assertClose(part(packedGrads[i]), aloneGrads[i], atol: 1e-6, rtol: 1e-6, "gradient \(i) of example at \(start)")
            }
            start += len
        }
    }

    func test_attention_noLeakAcrossSegments() {
        // Changing keys and values of the first segment leaves the second segment's outputs
        // bit-identical.
        let ids: [Int32] = [0, 0, 0, 1, 1]
        let q = testTensor([1, 5, 2, 4], seed: 50), k = testTensor([1, 5, 1, 4], seed: 51), v = testTensor([1, 5, 1, 4], seed: 52)
        var k2 = k, v2 = v
        for i in 0..<12 { k2[flat: i] += 3; v2[flat: i] -= 2 }
        let a = Tensor.causalAttention(q, k, v, segmentIDs: ids), b = Tensor.causalAttention(q, k2, v2, segmentIDs: ids)
        XCTAssertEqual(Array(a.scalars[24...]), Array(b.scalars[24...]))
        XCTAssertNotEqual(Array(a.scalars[..<24]), Array(b.scalars[..<24]))
    }

    func test_attention_onlySomeInputsTracked_givesThoseGradients() {
        let ids: [Int32] = [0, 0, 0, 1, 1, 1, 1]
        let q = testTensor([1, 7, 4, 3], seed: 60), k = testTensor([1, 7, 2, 3], seed: 61)
        let v = testTensor([1, 7, 2, 3], seed: 62), dO = testTensor([1, 7, 4, 3], seed: 63)
        let ref = reference(q: q, k: k, v: v, ids: ids, scale: 1 / Double(3).squareRoot(), dO: dO)
        func grads(_ track: [Bool]) -> [Tensor] {
            let ins = [q, k, v].enumerated().map { track[$0.offset] ? $0.element.trackingGradients() : $0.element }
            let y = (Tensor.causalAttention(ins[0], ins[1], ins[2], segmentIDs: ids) * dO).sum()
            return gradients(of: y, wrt: ins.enumerated().filter { track[$0.offset] }.map(\.element))
        }
        assertClose(grads([true, false, false])[0], ref.dq, atol: 2e-5, rtol: 2e-5, "only q")
        assertClose(grads([false, true, false])[0], ref.dk, atol: 2e-5, rtol: 2e-5, "only k")
        assertClose(grads([false, false, true])[0], ref.dv, atol: 2e-5, rtol: 2e-5, "only v")
        let kv = grads([false, true, true])
        assertClose(kv[0], ref.dk, atol: 2e-5, rtol: 2e-5, "k of k, v")
        assertClose(kv[1], ref.dv, atol: 2e-5, rtol: 2e-5, "v of k, v")
    }

    func test_attention_threeAndMoreQueryBlocks_matchFloat64Reference() {
        // Segments of 150 (three query blocks, the last partial), 140 and 10 tokens, two query
        // heads per kv head: the backward pass goes from the last block to the first, and
        // the first dK/dV product of each (segment, kv head) overwrites the uninitialised
        // gradient while all later ones add to it.
        let ids: [Int32] = [Int32](repeating: 3, count: 150) + [Int32](repeating: 0, count: 140) + [Int32](repeating: 1, count: 10)
        compareWithReference(b: 2, t: 150, hq: 4, hkv: 2, d: 8, ids: ids, scale: nil, seed: 90, tol: 5e-5)
    }

    func test_attention_headSize64AndLargeScores_matchFloat64Reference() {
        // A realistic head size across two query blocks.
        let ids: [Int32] = [Int32](repeating: 0, count: 70) + [Int32](repeating: 1, count: 10)
        compareWithReference(b: 1, t: 80, hq: 2, hkv: 1, d: 64, ids: ids, scale: nil, seed: 70, tol: 5e-5)
        // Scores of magnitude ~100 (peaked softmax): stable and finite.
        let q = testTensor([1, 12, 2, 16], seed: 71, low: -10, high: 10), k = testTensor([1, 12, 2, 16], seed: 72, low: -10, high: 10)
        let v = testTensor([1, 12, 2, 16], seed: 73), dO = testTensor([1, 12, 2, 16], seed: 74)
        let ids2 = [Int32](repeating: 3, count: 12)
        let ref = reference(q: q, k: k, v: v, ids: ids2, scale: 0.25, dO: dO)
        let (o, g) = kernel(q: q, k: k, v: v, ids: ids2, scale: 0.25, dO: dO)
        XCTAssertTrue(o.scalars.allSatisfy { $0.isFinite } && g.allSatisfy { $0.scalars.allSatisfy { $0.isFinite } })
        // Scores near 100 carry Float32 rounding of ~1e-5 into the exponent.
        assertClose(o, ref.o, atol: 1e-4, rtol: 1e-4, "O")
        assertClose(g[0], ref.dq, atol: 1e-3, rtol: 1e-3, "dQ")
        assertClose(g[1], ref.dk, atol: 1e-3, rtol: 1e-3, "dK")
        assertClose(g[2], ref.dv, atol: 1e-4, rtol: 1e-4, "dV")
    }

    /// Attention keeps out + logsumexp and works in 64-row query blocks, so the bytes it
    /// allocates and keeps grow linearly in T: 4x from T 512 to 2048, never the 16x of a
    /// [T, T] score matrix. Forward and backward, grouped-query heads.
    func test_attention_memory_growsLinearlyInT_not16x() {
        func peak(_ t: Int) -> (saved: Int, peak: Int) {
            // One kv head: the backward pass (the peak) is one work item, so its scratch is
            // one block's, not one per core depending on scheduling.
            let (hq, hkv, d) = (4, 1, 16)
            let q = testTensor([1, t, hq, d], seed: 40).trackingGradients()
            let k = testTensor([1, t, hkv, d], seed: 41).trackingGradients()
            let v = testTensor([1, t, hkv, d], seed: 42).trackingGradients()
            let ids = [Int32](repeating: 1, count: t)
            let dO = testTensor([1, t, hq, d], seed: 43)
            TensorBytes.resetPeak()
            let before = TensorBytes.liveBytes
            let out = Tensor.causalAttention(q, k, v, segmentIDs: ids)
            let saved = TensorBytes.liveBytes - before
            _ = gradients(of: (out * dO).sum(), wrt: [q, k, v])
            return (saved, TensorBytes.peakBytes - before)
        }
        let short = peak(512), long = peak(2048)
        // What the forward pass keeps: out [T, Hq, D] and the logsumexp [T, Hq], exactly.
        XCTAssertEqual(short.saved, 4 * 512 * 4 * (16 + 1))
        XCTAssertEqual(long.saved, 4 * 2048 * 4 * (16 + 1))
        let ratio = Double(long.peak) / Double(short.peak)
        print("attention peak bytes: T 512 \(short.peak), T 2048 \(long.peak), ratio \(ratio)")
        XCTAssertLessThan(ratio, 4.5, "attention's peak bytes grew \(ratio)x from T 512 to 2048 (\(short.peak) -> \(long.peak))")
        XCTAssertGreaterThan(ratio, 3.5)
        // And in absolute terms far below one [T, T] score matrix per head.
        XCTAssertLessThan(long.peak, 4 * 2048 * 2048)
    }
}
