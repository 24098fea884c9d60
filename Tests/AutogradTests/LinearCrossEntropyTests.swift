import XCTest
import Autograd
import TestSupport

/// The fused, chunked head + cross-entropy against the unfused `matmul` + `crossEntropy`.
final class LinearCrossEntropyTests: XCTestCase {
    /// Loss, count and gradients (hidden, weight) of the unfused op for an upstream `scale`.
    func unfused(_ h: Tensor, _ w: Tensor, _ targets: [Int32], scale: Float = 1) -> (Float, Int, [Tensor]) {
        var count = 0
        let (value, grads) = valueAndGradients(at: [h, w]) {
            let (s, n) = Tensor.crossEntropy(logits: Tensor.matmul($0[0], $0[1], transposeB: true), targets: targets)
            count = n
            return s * scale
        }
        return (value, count, grads)
    }

    func fused(_ h: Tensor, _ w: Tensor, _ targets: [Int32], chunk: Int?, scale: Float = 1) -> (Float, Int, [Tensor]) {
        var count = 0
        let (value, grads) = valueAndGradients(at: [h, w]) {
            let (s, n) = Tensor.linearCrossEntropy(hidden: $0[0], weight: $0[1], targets: targets, chunkRows: chunk)
            count = n
            return s * scale
        }
        return (value, count, grads)
    }

    func test_linearCrossEntropy_ignoredRowsAndChunkSizes_matchUnfusedLossAndGradients() {
        let h = testTensor([11, 6], seed: 1, low: -2, high: 2), w = testTensor([13, 6], seed: 2, low: -2, high: 2)
        let targets: [Int32] = [3, -100, 0, 12, -100, 5, 7, -100, 1, 1, 9]
        let (refLoss, refCount, refGrads) = unfused(h, w, targets)
        XCTAssertEqual(refCount, 8)
        for chunk in [1, 3, 5, 8, 64, nil] as [Int?] {
            let (loss, count, grads) = fused(h, w, targets, chunk: chunk)
            XCTAssertEqual(count, refCount)
            XCTAssertEqual(loss, refLoss, accuracy: 1e-5 * abs(refLoss), "chunk \(String(describing: chunk))")
            assertClose(grads[0], refGrads[0], atol: 1e-6, rtol: 1e-5, "dHidden, chunk \(String(describing: chunk))")
            assertClose(grads[1], refGrads[1], atol: 1e-6, rtol: 1e-5, "dWeight, chunk \(String(describing: chunk))")
            // Ignored rows get exactly zero gradient.
            for r in [1, 4, 7] { for j in 0..<6 { XCTAssertEqual(grads[0][flat: r * 6 + j], 0) } }
        }
    }

    func test_linearCrossEntropy_everyRowCounted_matchesUnfused() {
        let h = testTensor([9, 8], seed: 3), w = testTensor([20, 8], seed: 4)
        let targets: [Int32] = [0, 19, 4, 4, 7, 13, 2, 11, 18]
        let (refLoss, _, refGrads) = unfused(h, w, targets)
        for chunk in [2, 4, 9] {
            let (loss, count, grads) = fused(h, w, targets, chunk: chunk)
            XCTAssertEqual(count, 9)
            XCTAssertEqual(loss, refLoss, accuracy: 1e-5 * abs(refLoss))
            assertClose(grads[0], refGrads[0], atol: 1e-6, rtol: 1e-5)
            assertClose(grads[1], refGrads[1], atol: 1e-6, rtol: 1e-5)
        }
    }

    func test_linearCrossEntropy_tiedHead_gradientSumsLookupAndHead() {
        // A tied head: the weight is both the embedding looked up for the hidden rows and the head.
        let w = testTensor([10, 4], seed: 5, low: -2, high: 2)
        let ids: [Int32] = [1, 9, 3, 3, 0, 7]
        let targets: [Int32] = [2, -100, 9, 0, 5, -100]
        func model(_ fusedHead: Bool) -> (Float, Tensor) {
            let (value, grads) = valueAndGradients(at: [w]) { p in
                let hidden = Tensor.gatherRows(p[0], indices: ids).tanh()
                if fusedHead {
                    return Tensor.linearCrossEntropy(hidden: hidden, weight: p[0], targets: targets, chunkRows: 3).sum
                }
                return Tensor.crossEntropy(logits: Tensor.matmul(hidden, p[0], transposeB: true), targets: targets).sum
            }
            return (value, grads[0])
        }
        let (refLoss, refGrad) = model(false), (loss, grad) = model(true)
        XCTAssertEqual(loss, refLoss, accuracy: 1e-5 * abs(refLoss))
        assertClose(grad, refGrad, atol: 1e-6, rtol: 1e-5)
    }

    func test_linearCrossEntropy_frozenHead_givesHiddenGradientOnly() {
        // LoRA's case: the head is not tracked, so no weight gradient is formed.
        let h = testTensor([5, 3], seed: 6), w = testTensor([7, 3], seed: 7)
        let targets: [Int32] = [6, 0, -100, 2, 2]
        let (_, _, refGrads) = unfused(h, w, targets)
        let tracked = h.trackingGradients()
        let (sum, _) = Tensor.linearCrossEntropy(hidden: tracked, weight: w, targets: targets, chunkRows: 2)
        assertClose(gradients(of: sum, wrt: [tracked])[0], refGrads[0], atol: 1e-6, rtol: 1e-5)
    }

    func test_linearCrossEntropy_upstreamScale_andSecondBackward_matchUnfused() {
        let h = testTensor([6, 5], seed: 8), w = testTensor([9, 5], seed: 9)
        let targets: [Int32] = [1, 8, -100, 0, 4, 4]
        let (_, _, refGrads) = unfused(h, w, targets, scale: 0.2)
        let th = h.trackingGradients(), tw = w.trackingGradients()
        let loss = Tensor.linearCrossEntropy(hidden: th, weight: tw, targets: targets, chunkRows: 4).sum * 0.2
        // The first backward scales the gradients made in the forward pass; the second recomputes them.
        for _ in 0..<2 {
            let grads = gradients(of: loss, wrt: [th, tw])
            assertClose(grads[0], refGrads[0], atol: 1e-6, rtol: 1e-5)
            assertClose(grads[1], refGrads[1], atol: 1e-6, rtol: 1e-5)
        }
    }

    func test_linearCrossEntropy_allRowsIgnored_zeroSumZeroCountZeroGradients() {
        let h = testTensor([3, 4], seed: 10), w = testTensor([5, 4], seed: 11)
        let (loss, count, grads) = fused(h, w, [-100, -100, -100], chunk: nil)
        XCTAssertEqual(loss, 0)
        XCTAssertEqual(count, 0)
        XCTAssertEqual(grads[0].scalars, [Float](repeating: 0, count: 12))
        XCTAssertEqual(grads[1].scalars, [Float](repeating: 0, count: 20))
    }

    func test_linearCrossEntropy_gradients_finiteDifferences() {
        let cases: [([Int], [Int], [Int32], Int)] = [([4, 3], [6, 3], [5, -100, 0, 2], 3), ([1, 1], [1, 1], [0], 1),
                                                    ([3, 2], [4, 2], [3, 3, -100], 2)]
        for (hs, ws, targets, chunk) in cases {
            checkGradients([testTensor(hs, seed: 12, low: -2, high: 2), testTensor(ws, seed: 13, low: -2, high: 2)]) {
                Tensor.linearCrossEntropy(hidden: $0[0], weight: $0[1], targets: targets, chunkRows: chunk).sum
            }
        }
    }

    func test_linearCrossEntropy_largeVocabulary_holdsOneChunkOfLogitsNotAll() {
        // 512 rows x V 8192: all logits are 16 MiB, and the unfused backward adds as much again.
        let n = 512, v = 8192, c = 32, chunk = 64
        let h = testTensor([n, c], seed: 14).trackingGradients(), w = testTensor([v, c], seed: 15).trackingGradients()
        let targets = (0..<n).map { Int32(($0 * 7919) % v) }
        func peakBytes(_ body: () -> Void) -> Int {
            TensorBytes.resetPeak()
            let before = TensorBytes.liveBytes
            body()
            return TensorBytes.peakBytes - before
        }
        let fusedPeak = peakBytes {
            let (s, _) = Tensor.linearCrossEntropy(hidden: h, weight: w, targets: targets, chunkRows: chunk)
            _ = gradients(of: s, wrt: [h, w])
        }
        let unfusedPeak = peakBytes {
            let (s, _) = Tensor.crossEntropy(logits: Tensor.matmul(h, w, transposeB: true), targets: targets)
            _ = gradients(of: s, wrt: [h, w])
        }
        let logitBytes = 4 * n * v, chunkBytes = 4 * chunk * v, gradBytes = 4 * (n * c + v * c)
        // Fused: one chunk of logits, the two gradients (made in the forward pass) and small change.
        XCTAssertLessThanOrEqual(fusedPeak, chunkBytes + gradBytes + 4 * n * c + (1 << 16))
        XCTAssertGreaterThanOrEqual(unfusedPeak, 2 * logitBytes)
        XCTAssertLessThan(fusedPeak, logitBytes / 4)
    }
}
