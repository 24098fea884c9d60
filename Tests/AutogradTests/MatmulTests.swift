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
