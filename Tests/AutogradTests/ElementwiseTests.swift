import XCTest
import Autograd
import TestSupport

final class ElementwiseTests: XCTestCase {
    func test_add_broadcastShapes_gradientsMatchFiniteDifferences() {
        let cases: [([Int], [Int])] = [([2, 3], [2, 3]), ([2, 3], [3]), ([3], [2, 3]), ([2, 1, 4], [3, 1]),
                                       ([1], [2, 2]), ([4, 1], [1, 5]), ([2, 3], [])]
        for (sa, sb) in cases {
            checkGradients([testTensor(sa, seed: 1), testTensor(sb, seed: 2)]) { $0[0] + $0[1] }
            checkGradients([testTensor(sa, seed: 3), testTensor(sb, seed: 4)]) { $0[0] - $0[1] }
            checkGradients([testTensor(sa, seed: 5), testTensor(sb, seed: 6)]) { $0[0] * $0[1] }
            checkGradients([testTensor(sa, seed: 7), testTensor(sb, seed: 8, low: 0.5, high: 2)]) { $0[0] / $0[1] }
        }
    }

    func test_binary_generalBroadcast_matchesFloat64Loop() {
        let a = testTensor([2, 1, 4], seed: 1), b = testTensor([3, 1], seed: 2)
        let y = a * b
        XCTAssertEqual(y.shape, [2, 3, 4])
        var expected = [Float]()
        for i in 0..<2 { for j in 0..<3 { for k in 0..<4 {
            expected.append(Float(Double(a[flat: i * 4 + k]) * Double(b[flat: j])))
        } } }
        assertClose(y, Tensor(shape: [2, 3, 4], scalars: expected))
    }

    func test_scalarForms_gradients() {
        let x = testTensor([3, 2], seed: 9, low: 0.5, high: 2)
        checkGradients([x]) { 2 * $0[0] + 1 }
        checkGradients([x]) { 3 - $0[0] / 2 }
        checkGradients([x]) { 1 / $0[0] }
    }

    func test_unaryOps_gradientsMatchFiniteDifferences() {
        let x = testTensor([3, 5], seed: 11)
        let pos = testTensor([3, 5], seed: 12, low: 0.3, high: 3)
        checkGradients([x]) { -$0[0] }
        checkGradients([x]) { $0[0].exp() }
        checkGradients([pos]) { $0[0].log() }
        checkGradients([pos]) { $0[0].sqrt() }
        checkGradients([x]) { $0[0].tanh() }
        checkGradients([pos]) { $0[0].pow(2.5) }
        checkGradients([x]) { $0[0].pow(3) }
        checkGradients([testTensor([4, 3], seed: 13, low: -4, high: 4)]) { $0[0].gelu() }
        checkGradients([testTensor([4, 3], seed: 14, low: -4, high: 4)]) { $0[0].silu() }
        // ReLU away from its kink at 0.
        checkGradients([testTensor([2, 3], seed: 15, low: 0.1, high: 1) * Tensor(shape: [3], scalars: [1, -1, 1])]) { $0[0].relu() }
    }

    func test_gelu_matchesTanhFormula() {
        let x = Tensor(shape: [5], scalars: [-3, -1, 0, 0.5, 2])
        let expected = x.scalars.map { v -> Float in
            let d = Double(v)
            return Float(0.5 * d * (1 + Foundation.tanh(0.7978845608028654 * (d + 0.044715 * d * d * d))))
        }
        assertClose(x.gelu(), Tensor(shape: [5], scalars: expected), atol: 1e-6)
    }

    func test_copyOnWrite_mutatingCopyLeavesOriginal() {
        let a = Tensor(shape: [3], scalars: [1, 2, 3])
        var b = a
        XCTAssertTrue(b.sharesStorage(with: a))
        b[flat: 0] = 9
        XCTAssertEqual(a.scalars, [1, 2, 3])
        XCTAssertEqual(b.scalars, [9, 2, 3])
        XCTAssertFalse(b.sharesStorage(with: a))
    }

    func test_untrackedOps_recordNothing() {
        let a = testTensor([4, 4], seed: 1), b = testTensor([4], seed: 2)
        let y = ((a + b).exp() * a).sum()
        XCTAssertFalse(y.isTracked)
        let t = a.trackingGradients()
        XCTAssertTrue(((t + b).exp() * a).sum().isTracked)
    }

    func test_gradients_leafUsedTwice_accumulates() {
        let x = Tensor(shape: [2], scalars: [3, 4]).trackingGradients()
        let y = (x * x + x).sum()
        let g = gradients(of: y, wrt: [x])[0]
        XCTAssertEqual(g.scalars, [7, 9])
    }

    func test_gradients_unrelatedInput_getsZeros() {
        let x = Tensor(shape: [2], scalars: [1, 2]).trackingGradients()
        let z = Tensor(shape: [3], scalars: [1, 2, 3]).trackingGradients()
        let g = gradients(of: (x * 2).sum(), wrt: [x, z])
        XCTAssertEqual(g[1].scalars, [0, 0, 0])
    }
}

final class ActivationTests: XCTestCase {
    /// The eight-lane GELU and SiLU against the Float64 formulas, over a range that covers
    /// both saturations and a length that is not a multiple of eight (tail handling).
    func test_vectorGELUAndSiLU_matchFloat64Formulas() {
        let n = 1003
        let x = Tensor(shape: [n], scalars: (0..<n).map { Float($0 - 501) * 0.02 })
        let g = x.gelu().scalars, s = x.silu().scalars
        for i in 0..<n {
            let d = Double(x[flat: i])
            let geluRef = 0.5 * d * (1 + Foundation.tanh(0.7978845608028654 * (d + 0.044715 * d * d * d)))
            let siluRef = d / (1 + Foundation.exp(-d))
            XCTAssertEqual(Double(g[i]), geluRef, accuracy: 1e-6 * Swift.max(1, abs(d)), "gelu(\(d))")
            XCTAssertEqual(Double(s[i]), siluRef, accuracy: 1e-6 * Swift.max(1, abs(d)), "silu(\(d))")
        }
        XCTAssertEqual(Tensor(shape: [3], scalars: [-100, 0, 100]).gelu().scalars, [0, 0, 100])
    }

    func test_vectorActivations_gradients_includingTail() {
        checkGradients([testTensor([3, 7], seed: 41, low: -4, high: 4)]) { $0[0].gelu() }
        checkGradients([testTensor([3, 7], seed: 42, low: -4, high: 4)]) { $0[0].silu() }
        checkGradients([testTensor([3, 7], seed: 43, low: -4, high: 4)]) { $0[0].geluReference() }
        checkGradients([testTensor([3, 7], seed: 44, low: -4, high: 4)]) { $0[0].siluReference() }
    }
}
