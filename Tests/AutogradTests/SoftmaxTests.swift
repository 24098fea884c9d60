import XCTest
import Autograd
import TestSupport

final class SoftmaxTests: XCTestCase {
    /// Float64 softmax (or log-softmax) over the last axis.
    func reference(_ x: Tensor, log: Bool) -> Tensor {
        let c = x.shape[x.rank - 1], v = x.scalars
        var out = [Float](repeating: 0, count: v.count)
        for r in 0..<(v.count / c) {
            let row = (0..<c).map { Double(v[r * c + $0]) }
            let m = row.max()!
            let s = row.reduce(0.0) { $0 + Foundation.exp($1 - m) }
            for j in 0..<c {
                out[r * c + j] = Float(log ? row[j] - m - Foundation.log(s) : Foundation.exp(row[j] - m) / s)
            }
        }
        return Tensor(shape: x.shape, scalars: out)
    }

    func test_softmax_randomRows_matchFloat64Reference() {
        for shape in [[3, 7], [1, 1], [2, 3, 5], [4, 1], [1, 9]] {
            let x = testTensor(shape, seed: 1, low: -4, high: 4)
            assertClose(x.softmax(), reference(x, log: false), atol: 1e-6, rtol: 1e-5, "softmax \(shape)")
            assertClose(x.logSoftmax(), reference(x, log: true), atol: 2e-6, rtol: 1e-5, "logSoftmax \(shape)")
        }
    }

    func test_softmax_logitsOfMagnitude1e4_finiteAndCorrect() {
        let x = Tensor(shape: [2, 4], scalars: [1e4, -1e4, 9999, 0, -1e4, -1e4, -9990, -1e4])
        let y = x.softmax(), ly = x.logSoftmax()
        XCTAssertTrue(y.scalars.allSatisfy { $0.isFinite })
        XCTAssertTrue(ly.scalars.allSatisfy { $0.isFinite })
        assertClose(y, reference(x, log: false), atol: 1e-6, rtol: 1e-5)
        // Entries near the maximum stay accurate; those 2e4 below it are exact to Float32 spacing (2e-3).
        assertClose(ly, reference(x, log: true), atol: 1e-6, rtol: 1e-6)
    }

    func test_softmax_gradients_includingSizeOneAndNonSquare() {
        for shape in [[3, 5], [1, 1], [4, 1], [1, 6], [2, 3, 4]] {
            checkGradients([testTensor(shape, seed: 2, low: -2, high: 2)]) { $0[0].softmax() }
            checkGradients([testTensor(shape, seed: 3, low: -2, high: 2)]) { $0[0].logSoftmax() }
        }
    }

    func test_softmax_rowsSumToOne() {
        let y = testTensor([5, 11], seed: 4, low: -30, high: 30).softmax().sum(axis: 1)
        assertClose(y, Tensor.ones([5]), atol: 1e-6, rtol: 0)
    }
}
