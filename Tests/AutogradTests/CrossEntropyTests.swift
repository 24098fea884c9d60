import XCTest
import Autograd
import TestSupport

final class CrossEntropyTests: XCTestCase {
    /// Float64 reference: the summed loss, the count, and d(sum)/d(logits).
    func reference(_ logits: Tensor, _ targets: [Int32], ignore: Int32 = -100) -> (Double, Int, Tensor) {
        let n = logits.shape[0], v = logits.shape[1], x = logits.scalars
        var total = 0.0, count = 0
        var grad = [Float](repeating: 0, count: n * v)
        for r in 0..<n where targets[r] != ignore {
            let row = (0..<v).map { Double(x[r * v + $0]) }
            let m = row.max()!
            let lse = m + Foundation.log(row.reduce(0.0) { $0 + Foundation.exp($1 - m) })
            total += lse - row[Int(targets[r])]
            count += 1
            for j in 0..<v { grad[r * v + j] = Float(Foundation.exp(row[j] - lse) - (j == Int(targets[r]) ? 1 : 0)) }
        }
        return (total, count, Tensor(shape: [n, v], scalars: grad))
    }

    func test_crossEntropy_withIgnoredRows_matchesFloat64Reference() {
        let logits = testTensor([6, 9], seed: 1, low: -5, high: 5)
        let targets: [Int32] = [3, -100, 0, 8, -100, 5]
        let (sum, count) = Tensor.crossEntropy(logits: logits, targets: targets)
        let (refSum, refCount, refGrad) = reference(logits, targets)
        XCTAssertEqual(sum.shape, [])
        XCTAssertEqual(count, refCount)
        XCTAssertEqual(count, 4)
        XCTAssertEqual(Double(sum.scalar), refSum, accuracy: 1e-5 * abs(refSum))
        let (_, grads) = valueAndGradients(at: [logits]) { Tensor.crossEntropy(logits: $0[0], targets: targets).sum }
        assertClose(grads[0], refGrad, atol: 1e-6, rtol: 1e-5)
        // Ignored rows get exactly zero gradient.
        for r in [1, 4] { for j in 0..<9 { XCTAssertEqual(grads[0][flat: r * 9 + j], 0) } }
    }

    func test_crossEntropy_customIgnoreIndex_countsOnlyOtherRows() {
        let logits = testTensor([3, 4], seed: 2)
        let (sum, count) = Tensor.crossEntropy(logits: logits, targets: [0, 2, 0], ignoreIndex: 0)
        let (refSum, refCount, _) = reference(logits, [0, 2, 0], ignore: 0)
        XCTAssertEqual(count, 1)
        XCTAssertEqual(refCount, 1)
        XCTAssertEqual(Double(sum.scalar), refSum, accuracy: 1e-5)
    }

    func test_crossEntropy_allRowsIgnored_zeroSumZeroCountZeroGradient() {
        let logits = testTensor([3, 5], seed: 3)
        let targets: [Int32] = [-100, -100, -100]
        let (sum, count) = Tensor.crossEntropy(logits: logits, targets: targets)
        XCTAssertEqual(sum.scalar, 0)
        XCTAssertEqual(count, 0)
        let (_, grads) = valueAndGradients(at: [logits]) { Tensor.crossEntropy(logits: $0[0], targets: targets).sum }
        XCTAssertEqual(grads[0].scalars, [Float](repeating: 0, count: 15))
    }

    func test_crossEntropy_logitsOfMagnitude1e4_finiteAndCorrect() {
        let logits = Tensor(shape: [3, 4], scalars: [1e4, -1e4, 9998, 0,
                                                     -1e4, 1e4, -1e4, -1e4,
                                                     5000, -5000, 1e4, 9999.5])
        let targets: [Int32] = [2, 0, 3]
        let (sum, _) = Tensor.crossEntropy(logits: logits, targets: targets)
        let (refSum, _, refGrad) = reference(logits, targets)
        XCTAssertTrue(sum.scalar.isFinite)
        // Row 1's loss is 2e4; Float32 resolves it to ~1e-3.
        XCTAssertEqual(Double(sum.scalar), refSum, accuracy: 1e-6 * abs(refSum))
        let (_, grads) = valueAndGradients(at: [logits]) { Tensor.crossEntropy(logits: $0[0], targets: targets).sum }
        XCTAssertTrue(grads[0].scalars.allSatisfy { $0.isFinite })
        assertClose(grads[0], refGrad, atol: 1e-5, rtol: 1e-5)
    }

    func test_crossEntropy_gradients_includingSizeOneAndNonSquare() {
        let cases: [([Int], [Int32])] = [([4, 7], [6, 0, -100, 3]), ([1, 1], [0]), ([1, 5], [4]), ([5, 2], [1, 0, 1, -100, 0])]
        for (shape, targets) in cases {
            checkGradients([testTensor(shape, seed: 4, low: -3, high: 3)]) {
                Tensor.crossEntropy(logits: $0[0], targets: targets).sum
            }
        }
    }

    func test_crossEntropy_upstreamGradientScalesBackward() {
        // d(2 * sum / count) = 2 / count * (softmax - onehot): the mean-over-tokens use.
        let logits = testTensor([3, 4], seed: 5)
        let targets: [Int32] = [1, 2, 3]
        let (_, _, refGrad) = reference(logits, targets)
        let (_, grads) = valueAndGradients(at: [logits]) {
            let (s, n) = Tensor.crossEntropy(logits: $0[0], targets: targets)
            return s * (2 / Float(n))
        }
        assertClose(grads[0], Tensor(shape: [3, 4], scalars: refGrad.scalars.map { $0 * 2 / 3 }), atol: 1e-6, rtol: 1e-5)
    }
}
