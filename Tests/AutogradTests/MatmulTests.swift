import XCTest
import Autograd
import TestSupport

final class MatmulTests: XCTestCase {
    /// Float64 reference product of op(a) @ op(b) for rank-2 operands.
    func reference(_ a: Tensor, _ b: Tensor, _ ta: Bool, _ tb: Bool) -> Tensor {
        let m = ta ? a.shape[1] : a.shape[0], k = ta ? a.shape[0] : a.shape[1]
        let n = tb ? b.shape[0] : b.shape[1]
        var out = [Float](repeating: 0, count: m * n)
        for i in 0..<m { for j in 0..<n {
            var s = 0.0
            for p in 0..<k {
                let av = ta ? a[flat: p * m + i] : a[flat: i * k + p]
                let bv = tb ? b[flat: j * k + p] : b[flat: p * n + j]
                s += Double(av) * Double(bv)
            }
            out[i * n + j] = Float(s)
        } }
        return Tensor(shape: [m, n], scalars: out)
    }

    func test_matmul2D_allTransposes_matchFloat64Reference() {
        for (ta, tb) in [(false, false), (false, true), (true, false), (true, true)] {
            let a = testTensor(ta ? [7, 5] : [5, 7], seed: 1)
            let b = testTensor(tb ? [3, 7] : [7, 3], seed: 2)
            assertClose(Tensor.matmul(a, b, transposeA: ta, transposeB: tb), reference(a, b, ta, tb), atol: 1e-5)
        }
    }

    func test_matmul_allTransposes_gradients() {
        for (ta, tb) in [(false, false), (false, true), (true, false), (true, true)] {
            let a = testTensor(ta ? [4, 3] : [3, 4], seed: 3)
            let b = testTensor(tb ? [2, 4] : [4, 2], seed: 4)
            checkGradients([a, b]) { Tensor.matmul($0[0], $0[1], transposeA: ta, transposeB: tb) }
            // Batched, both operands batched.
            let ab = testTensor([2] + (ta ? [4, 3] : [3, 4]), seed: 5)
            let bb = testTensor([2] + (tb ? [2, 4] : [4, 2]), seed: 6)
            checkGradients([ab, bb]) { Tensor.matmul($0[0], $0[1], transposeA: ta, transposeB: tb) }
            // Batched with a shared rank-2 right operand (a linear layer) and a shared left one.
            checkGradients([ab, b]) { Tensor.matmul($0[0], $0[1], transposeA: ta, transposeB: tb) }
            checkGradients([a, bb]) { Tensor.matmul($0[0], $0[1], transposeA: ta, transposeB: tb) }
        }
    }

    /// c + a @ op(b) in one sgemm equals the two-step sum, and its gradients (c, a, b,
    /// with a of rank 3 and a size-1 inner dimension) match finite differences.
    func test_matmulAdding_equalsSumAndGradients() {
        for tb in [false, true] {
            for k in [1, 4] {
                let a = testTensor([2, 3, k], seed: 1), b = testTensor(tb ? [5, k] : [k, 5], seed: 2)
                let c = testTensor([2, 3, 5], seed: 3)
                assertClose(Tensor.matmul(a, b, transposeB: tb, adding: c), c + Tensor.matmul(a, b, transposeB: tb), atol: 1e-6)
                checkGradients([a, b, c]) { t in Tensor.matmul(t[0], t[1], transposeB: tb, adding: t[2]) }
            }
        }
        // Only some inputs tracked: the others get no gradient and nothing breaks.
        let a = testTensor([3, 4], seed: 4), b = testTensor([4, 2], seed: 5), c = testTensor([3, 2], seed: 6)
        let ta = a.trackingGradients()
        let g = gradients(of: Tensor.matmul(ta, b, adding: c).sum(), wrt: [ta])
        assertClose(g[0], Tensor.matmul(Tensor.ones([3, 2]), b, transposeB: true), atol: 1e-6)
    }

    func test_matmul_sizeOneAndNonSquare() {
        checkGradients([testTensor([1, 5], seed: 7), testTensor([5, 1], seed: 8)]) { Tensor.matmul($0[0], $0[1]) }
        checkGradients([testTensor([2, 3, 1, 4], seed: 9), testTensor([4, 6], seed: 10)]) { Tensor.matmul($0[0], $0[1]) }
    }

    func test_batchedMatmul_matchesPerBatchProducts() {
        let a = testTensor([3, 4, 5], seed: 11), b = testTensor([3, 6, 5], seed: 12)
        let c = Tensor.matmul(a, b, transposeB: true)
        for i in 0..<3 {
            let ai = a.slice(axis: 0, i..<(i + 1)).reshaped([4, 5])
            let bi = b.slice(axis: 0, i..<(i + 1)).reshaped([6, 5])
            assertClose(c.slice(axis: 0, i..<(i + 1)).reshaped([4, 6]), reference(ai, bi, false, true), atol: 1e-5)
        }
    }

    /// The fused linear op equals matmul plus a broadcast bias, in both weight layouts,
    /// with and without bias, for rank-2 and rank-3 inputs.
    func test_linear_equalsMatmulPlusBias_bothLayouts() {
        for transposed in [false, true] {
            let x = testTensor([2, 3, 5], seed: 13)
            let w = testTensor(transposed ? [4, 5] : [5, 4], seed: 14), b = testTensor([4], seed: 15)
            let fused = Tensor.linear(x, w, bias: b, transposeWeight: transposed)
            XCTAssertEqual(fused.shape, [2, 3, 4])
            assertClose(fused, Tensor.matmul(x, w, transposeB: transposed) + b, atol: 1e-5)
            assertClose(Tensor.linear(x, w, bias: nil, transposeWeight: transposed),
                        Tensor.matmul(x, w, transposeB: transposed), atol: 1e-6)
        }
    }

    func test_linear_gradients_allInputs_bothLayouts() {
        for transposed in [false, true] {
            let w = testTensor(transposed ? [3, 4] : [4, 3], seed: 16), b = testTensor([3], seed: 17)
            checkGradients([testTensor([2, 5, 4], seed: 18), w, b]) {
                Tensor.linear($0[0], $0[1], bias: $0[2], transposeWeight: transposed)
            }
            checkGradients([testTensor([1, 4], seed: 19), w]) {
                Tensor.linear($0[0], $0[1], bias: nil, transposeWeight: transposed)
            }
        }
        // Enough rows and columns for the column sums to split across cores (bias gradient).
        let x = testTensor([300, 8], seed: 20), w = testTensor([8, 130], seed: 21), b = testTensor([130], seed: 22)
        let xt = x.trackingGradients(), wt = w.trackingGradients(), bt = b.trackingGradients()
        let y = Tensor.linear(xt, wt, bias: bt)
        let weights = testTensor([300, 130], seed: 23)
        let g = gradients(of: (y * weights).sum(), wrt: [bt])[0]
        assertClose(g, weights.sum(axis: 0), atol: 1e-4)
    }

    /// `linear(adding: residual)` equals residual + linear, with and without bias, in both
    /// layouts; its gradients (residual included) pass the finite-difference check; and
    /// rows enough to split the residual copy across cores give the same sum.
    func test_linear_addingResidual_equalsSum_andGradients() {
        for transposed in [false, true] {
            let x = testTensor([2, 3, 5], seed: 40), r = testTensor([2, 3, 4], seed: 41)
            let w = testTensor(transposed ? [4, 5] : [5, 4], seed: 42), b = testTensor([4], seed: 43)
            for bias in [b, nil] {
                let fused = Tensor.linear(x, w, bias: bias, transposeWeight: transposed, adding: r)
                XCTAssertEqual(fused.shape, [2, 3, 4])
                assertClose(fused, r + Tensor.linear(x, w, bias: bias, transposeWeight: transposed), atol: 1e-5)
            }
            checkGradients([x, w, b, r]) {
                Tensor.linear($0[0], $0[1], bias: $0[2], transposeWeight: transposed, adding: $0[3])
            }
            checkGradients([x, w, r]) {
                Tensor.linear($0[0], $0[1], bias: nil, transposeWeight: transposed, adding: $0[2])
            }
        }
        let x = testTensor([600, 8], seed: 44), w = testTensor([8, 130], seed: 45)
        let b = testTensor([130], seed: 46), r = testTensor([600, 130], seed: 47)
        assertClose(Tensor.linear(x, w, bias: b, adding: r), r + Tensor.linear(x, w, bias: b), atol: 1e-4)
        assertClose(Tensor.linear(x, w, bias: nil, adding: r), r + Tensor.linear(x, w, bias: nil), atol: 1e-4)
    }

    /// `BLAS.product` split across two threads (by rows, or by columns when C has few rows)
    /// equals one single-call sgemm, for every transpose combination, and is the same on
    /// a second call.
    func test_product_splitAcrossThreads_equalsOneCall() {
        let before = BLAS.productThreads
        BLAS.setThreadCount(2)
        defer { BLAS.setThreadCount(before) }
        for (m, n, k) in [(200, 96, 64), (40, 700, 64)] {   // row split; column split (few rows)
            for (ta, tb) in [(false, false), (false, true), (true, false), (true, true)] {
                let a = testTensor(ta ? [k, m] : [m, k], seed: 24), b = testTensor(tb ? [n, k] : [k, n], seed: 25)
                func run(_ useProduct: Bool) -> [Float] {
                    var c = [Float](repeating: 0, count: m * n)
                    a.withUnsafeBufferPointer { pa in
                        b.withUnsafeBufferPointer { pb in
                            c.withUnsafeMutableBufferPointer { pc in
                                if useProduct {
                                    BLAS.product(transposeA: ta, transposeB: tb, m: m, n: n, k: k, a: pa.baseAddress!,
                                                 lda: a.shape[1], b: pb.baseAddress!, ldb: b.shape[1], c: pc.baseAddress!, ldc: n)
                                } else {
                                    BLAS.sgemm(transposeA: ta, transposeB: tb, m: m, n: n, k: k, a: pa.baseAddress!,
                                               lda: a.shape[1], b: pb.baseAddress!, ldb: b.shape[1], c: pc.baseAddress!, ldc: n)
                                }
                            }
                        }
                    }
                    return c
                }
                let split = run(true), single = run(false), again = run(true)
                XCTAssertEqual(split, again, "split product not repeatable: \(m)x\(n)x\(k) ta \(ta) tb \(tb)")
                assertClose(Tensor(shape: [m, n], scalars: split), Tensor(shape: [m, n], scalars: single), atol: 1e-4,
                            "\(m)x\(n)x\(k) ta \(ta) tb \(tb)")
                assertClose(Tensor(shape: [m, n], scalars: split), reference(a, b, ta, tb), atol: 1e-3)
            }
        }
    }
}

final class BLASCoreTests: XCTestCase {
    func test_recommendedCoreType_onlyReplacesGenericKernels() {
        let avx512: Set<String> = ["avx2", "fma", "avx512f", "avx512bw", "avx512vl", "avx512dq", "avx512cd"]
        XCTAssertEqual(BLAS.recommendedCoreType(current: "Prescott", cpuFlags: avx512), "SkylakeX")
        XCTAssertEqual(BLAS.recommendedCoreType(current: "Prescott", cpuFlags: ["avx2", "fma"]), "Haswell")
        XCTAssertNil(BLAS.recommendedCoreType(current: "Prescott", cpuFlags: ["sse3"]))
        XCTAssertNil(BLAS.recommendedCoreType(current: "Zen", cpuFlags: avx512))
        XCTAssertNil(BLAS.recommendedCoreType(current: "SkylakeX", cpuFlags: avx512))
    }

}
