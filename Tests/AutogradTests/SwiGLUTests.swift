import XCTest
import Autograd
import TestSupport

/// The fused SwiGLU against `silu() * up`.
final class SwiGLUTests: XCTestCase {
    func test_swiglu_forward_equalsSiluTimesUpBitForBit() {
        // 1000 elements: eight-lane blocks, a tail, and two cores' worth of work.
        for count in [1, 7, 8, 1000, 40_000] {
            let gate = testTensor([count], seed: 1, low: -12, high: 12), up = testTensor([count], seed: 2, low: -3, high: 3)
            XCTAssertEqual(Tensor.swiglu(gate: gate, up: up).scalars, (gate.silu() * up).scalars, "count \(count)")
        }
    }

    func test_swiglu_gradients_matchUnfused() {
        let gate = testTensor([3, 37], seed: 3, low: -8, high: 8), up = testTensor([3, 37], seed: 4, low: -2, high: 2)
        let weights = testTensor([3, 37], seed: 5)
        let (_, fused) = valueAndGradients(at: [gate, up]) { (Tensor.swiglu(gate: $0[0], up: $0[1]) * weights).sum() }
        let (_, unfused) = valueAndGradients(at: [gate, up]) { ($0[0].silu() * $0[1] * weights).sum() }
        assertClose(fused[0], unfused[0], atol: 1e-6, rtol: 1e-5)
        assertClose(fused[1], unfused[1], atol: 1e-6, rtol: 1e-5)
    }

    func test_swiglu_gradients_finiteDifferences_includingSizeOne() {
        for shape in [[1], [2, 9]] {
            checkGradients([testTensor(shape, seed: 6, low: -3, high: 3), testTensor(shape, seed: 7, low: -2, high: 2)]) {
                Tensor.swiglu(gate: $0[0], up: $0[1])
            }
        }
    }

    func test_swiglu_onlyUpTracked_givesUpGradientOnly() {
        let gate = testTensor([10], seed: 8), up = testTensor([10], seed: 9).trackingGradients()
        let y = Tensor.swiglu(gate: gate, up: up).sum()
        assertClose(gradients(of: y, wrt: [up])[0], gate.silu(), atol: 1e-6, rtol: 1e-6)
    }
}
