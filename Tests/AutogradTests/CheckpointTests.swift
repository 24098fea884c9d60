import XCTest
@testable import Autograd
import TestSupport

/// `Tensor.checkpointed`: a sub-computation kept only by its inputs and run again in the
/// backward pass gives the gradients of the direct computation, bit for bit.
final class CheckpointTests: XCTestCase {
    /// A small pre-norm residual block: x + gelu(layerNorm(x) @ w1 + b) @ w2, x [N, C],
    /// w1 [C, F], b [F], w2 [F, C]. With `rng`, dropout 0.25 on the hidden layer.
    static func block(_ xs: [Tensor], rng: UnsafeMutablePointer<RNG>? = nil) -> Tensor {
        let (x, w1, b, w2) = (xs[0], xs[1], xs[2], xs[3])
        let c = x.shape[1]
        let h = Tensor.layerNorm(x, Tensor.ones([c]), Tensor.zeros([c]))
        var hidden = (Tensor.matmul(h, w1) + b).gelu()
        if let rng { hidden = hidden.dropout(0.25, rng: &rng.pointee) }
        return x + Tensor.matmul(hidden, w2)
    }

    static func inputs() -> [Tensor] {
        [testTensor([3, 4], seed: 11), testTensor([4, 6], seed: 12), testTensor([6], seed: 13), testTensor([6, 4], seed: 14)]
    }

    func test_checkpointed_block_gradientsMatchFiniteDifferences() {
        checkGradients(CheckpointTests.inputs()) { xs in
            Tensor.checkpointed(xs) { CheckpointTests.block($0) }
        }
    }

    /// Two checkpointed blocks in a row, the second's input the first's output: the gradient
    /// flows through both recomputations.
    func test_checkpointed_twoBlocksInARow_gradientsMatchFiniteDifferences() {
        checkGradients(CheckpointTests.inputs()) { xs in
            let y = Tensor.checkpointed(xs) { CheckpointTests.block($0) }
            return Tensor.checkpointed([y] + xs.dropFirst()) { CheckpointTests.block($0) }
        }
    }

    /// The value and every gradient equal the direct computation's, bit for bit, with
    /// dropout: the recomputation draws the same mask, and the generator ends where the direct
    /// computation leaves it.
    func test_checkpointed_withDropout_equalsDirectBitForBit() {
        let values = CheckpointTests.inputs()
        let projection = testTensor([3, 4], seed: 15)
        var directRNG = RNG(seed: 7), checkpointRNG = RNG(seed: 7)

        let direct = values.map { $0.trackingGradients() }
        let yDirect = withUnsafeMutablePointer(to: &directRNG) { rng in
            CheckpointTests.block([CheckpointTests.block(direct, rng: rng)] + direct.dropFirst(), rng: rng)
        }
        let gDirect = gradients(of: (yDirect * projection).sum(), wrt: direct)

        let tracked = values.map { $0.trackingGradients() }
        let y1 = Tensor.checkpointed(tracked, rng: &checkpointRNG) { xs, r in
            withUnsafeMutablePointer(to: &r) { CheckpointTests.block(xs, rng: $0) }
        }
        let yCheckpointed = Tensor.checkpointed([y1] + tracked.dropFirst(), rng: &checkpointRNG) { xs, r in
            withUnsafeMutablePointer(to: &r) { CheckpointTests.block(xs, rng: $0) }
        }
        let gCheckpointed = gradients(of: (yCheckpointed * projection).sum(), wrt: tracked)

        XCTAssertEqual(yCheckpointed.scalars, yDirect.scalars)
        XCTAssertEqual(checkpointRNG, directRNG, "the generator advances as in the direct computation")
        for (i, (a, b)) in zip(gCheckpointed, gDirect).enumerated() {
            XCTAssertEqual(a.scalars, b.scalars, "input \(i)")
        }
        XCTAssertTrue(gDirect[1].scalars.contains { $0 != 0 }, "the test needs non-zero gradients to mean anything")
    }

    /// An untracked input (a frozen weight) gets no gradient and is not recomputed as tracked;
    /// with no tracked input at all, nothing is recorded.
    func test_checkpointed_untrackedInputs_frozenAndNothingRecorded() {
        let values = CheckpointTests.inputs()
        var mixed = values
        mixed[0] = mixed[0].trackingGradients()
        mixed[2] = mixed[2].trackingGradients()
        let y = Tensor.checkpointed(mixed) { CheckpointTests.block($0) }
        XCTAssertTrue(y.isTracked)
        let direct = [values[0].trackingGradients(), values[1], values[2].trackingGradients(), values[3]]
        let yDirect = CheckpointTests.block(direct)
        let g = gradients(of: y.sum(), wrt: [mixed[0], mixed[2]])
        let gDirect = gradients(of: yDirect.sum(), wrt: [direct[0], direct[2]])
        XCTAssertEqual(g[0].scalars, gDirect[0].scalars)
        XCTAssertEqual(g[1].scalars, gDirect[1].scalars)

        let untracked = Tensor.checkpointed(values) { CheckpointTests.block($0) }
        XCTAssertFalse(untracked.isTracked)
        XCTAssertEqual(untracked.scalars, CheckpointTests.block(values).scalars)
    }

    /// The forward pass keeps only the inputs: the tensor bytes alive after a checkpointed
    /// block are its inputs' and its output's, not its intermediate tensors'.
    func test_checkpointed_forward_keepsNoIntermediateTensor() {
        let x = testTensor([64, 32], seed: 21).trackingGradients()
        let w1 = testTensor([32, 128], seed: 22).trackingGradients(), b = testTensor([128], seed: 23).trackingGradients()
        let w2 = testTensor([128, 32], seed: 24).trackingGradients()
        func alive(_ f: () -> Tensor) -> Int {
            let before = TensorBytes.liveBytes
            let y = f()
            let after = TensorBytes.liveBytes
            withExtendedLifetime(y) {}
            return after - before
        }
        let direct = alive { CheckpointTests.block([x, w1, b, w2]) }
        let checkpointed = alive { Tensor.checkpointed([x, w1, b, w2]) { CheckpointTests.block($0) } }
        XCTAssertLessThan(checkpointed, 2 * 64 * 32 * 4, "only the [64, 32] output is new")
        XCTAssertGreaterThan(direct, 4 * checkpointed, "the direct block keeps its hidden layers")
    }
}
