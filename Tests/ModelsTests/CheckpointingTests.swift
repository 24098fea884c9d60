import XCTest
import Autograd
import NN
import Models
import TestSupport

/// Per-block activation checkpointing (DecoderModel+Checkpointing.swift): the same loss and
/// gradients, bit for bit, with less tensor memory at the step's peak.
final class CheckpointingTests: XCTestCase {
    /// Two rows of 8 tokens, two packed examples each, the first tokens of each example ignored
    /// (so the last block and the head run on the counted rows only).
    static func input() -> ModelInput {
        let tokens: [Int32] = [1, 5, 9, 13, 17, 21, 25, 29, 2, 6, 10, 14, 18, 22, 26, 30]
        var targets = Array(tokens.dropFirst()) + [-100]
        for i in [0, 1, 5, 8, 12] { targets[i] = -100 }
        let positions: [Int32] = [0, 1, 2, 3, 4, 0, 1, 2, 0, 1, 2, 3, 0, 1, 2, 3]
        let segments: [Int32] = [1, 1, 1, 1, 1, 2, 2, 2, 1, 1, 1, 1, 2, 2, 2, 2]
        return ModelInput(tokens: tokens, positions: positions, segmentIDs: segments, batch: 2, time: 8, targets: targets,
                          ignoreIndex: -100)
    }

    /// The loss sum and every gradient of `model` on `input`, with dropout drawn from `seed`,
    /// and the generator after the step.
    static func lossAndGradients(_ model: DecoderModel, _ p: Parameters, trained: Set<String>?, checkpointing: Bool,
                                 seed: UInt64 = 9) -> (loss: [Float], grads: Parameters, rng: RNG) {
        var rng = RNG(seed: seed)
        let tracked = p.tracked(only: trained)
        let (sum, _) = withUnsafeMutablePointer(to: &rng) { r in
            model.loss(input(), parameters: tracked, dropoutRNG: model.usesDropout ? r : nil, checkpointing: checkpointing)
        }
        return (sum.scalars, tracked.gradients(of: sum), rng)
    }

    static let llama = ModelConfig(family: .llama, vocabSize: 40, contextLength: 32, dim: 16, layers: 3, heads: 4, kvHeads: 2,
                                   ffnDim: 24, dropout: 0.1)
    static let gpt2 = ModelConfig(family: .gpt2, vocabSize: 40, contextLength: 32, dim: 16, layers: 3, heads: 2, dropout: 0.1)

    func assertSameLossAndGradients(_ model: DecoderModel, _ p: Parameters, trained: Set<String>?, _ what: String) {
        let direct = Self.lossAndGradients(model, p, trained: trained, checkpointing: false)
        let checkpointed = Self.lossAndGradients(model, p, trained: trained, checkpointing: true)
        XCTAssertEqual(checkpointed.loss, direct.loss, "\(what): loss")
        XCTAssertEqual(checkpointed.rng, direct.rng, "\(what): the dropout generator ends at the same state")
        XCTAssertEqual(checkpointed.grads.names, direct.grads.names, what)
        XCTAssertFalse(direct.grads.names.isEmpty, what)
        for name in direct.grads.names {
            XCTAssertEqual(checkpointed.grads[name].scalars, direct.grads[name].scalars, "\(what): \(name)")
        }
    }

    /// Full fine-tuning with model dropout: the loss and every parameter gradient are equal.
    func test_loss_fullFineTuningWithDropout_checkpointingEqualsDirectBitForBit() throws {
        for config in [Self.llama, Self.gpt2] {
            let model = try DecoderModel(config)
            var rng = RNG(seed: 1)
            let p = model.initialParameters(rng: &rng)
            assertSameLossAndGradients(model, p, trained: nil, "\(config.family) full")
        }
    }

    /// LoRA with adapter dropout on every projection, frozen base: the adapters' gradients
    /// are equal, and the base gets none.
    func test_loss_loraWithDropout_checkpointingEqualsDirectBitForBit() throws {
        let targets: [ModelFamily: [LoRATarget]] = [.llama: [.q, .k, .v, .o, .gate, .up, .down], .gpt2: [.qkv, .o, .up, .down]]
        for config in [Self.llama, Self.gpt2] {
            let model = try DecoderModel(config, lora: LoRAConfig(rank: 2, alpha: 4, dropout: 0.2, targets: targets[config.family]!))
            var rng = RNG(seed: 2)
            var p = model.initialParameters(rng: &rng)
            // B non-zero, so every adapter gradient is a real one.
            for (name, shape) in model.adapterShapes { p[name] = Tensor.randomNormal(shape, std: 0.2, rng: &rng) }
            assertSameLossAndGradients(model, p, trained: Set(model.adapterShapes.map(\.name)), "\(config.family) LoRA")
        }
    }

    /// Without dropout and with no ignored target (no head-row selection), still equal.
    func test_loss_noDropoutEveryTargetCounted_checkpointingEqualsDirect() throws {
        var config = Self.llama
        config.dropout = 0
        let model = try DecoderModel(config)
        var rng = RNG(seed: 3)
        let p = model.initialParameters(rng: &rng).tracked()
        let tokens = (0..<16).map { Int32($0 * 3 % 40) }
        let input = ModelInput(tokens: tokens, positions: (0..<16).map { Int32($0 % 8) }, segmentIDs: (0..<16).map { Int32($0 / 8) },
                               batch: 2, time: 8, targets: tokens.map { ($0 + 1) % 40 }, ignoreIndex: -100)
        let (a, _) = model.loss(input, parameters: p)
        let (b, _) = model.loss(input, parameters: p, checkpointing: true)
        XCTAssertEqual(a.scalar, b.scalar)
        let ga = p.gradients(of: a), gb = p.gradients(of: b)
        for name in ga.names { XCTAssertEqual(ga[name].scalars, gb[name].scalars, name) }
    }

    /// The tensor bytes alive at the step's peak (forward, loss and backward) drop with
    /// checkpointing: four blocks' activations become four block inputs and one block's.
    func test_loss_fourBlocks512Tokens_checkpointingLowersPeakTensorBytes() throws {
        let config = ModelConfig(family: .llama, vocabSize: 128, contextLength: 512, dim: 32, layers: 4, heads: 2, kvHeads: 1,
                                 ffnDim: 64)
        let model = try DecoderModel(config)
        var rng = RNG(seed: 6)
        let p = model.initialParameters(rng: &rng).tracked()
        let n = 4 * 512
        let input = ModelInput(tokens: (0..<n).map { Int32(($0 * 37) % 128) }, positions: (0..<n).map { Int32($0 % 512) },
                               segmentIDs: [Int32](repeating: 1, count: n), batch: 4, time: 512,
                               targets: (0..<n).map { $0 % 512 < 256 ? -100 : Int32(($0 * 11) % 128) }, ignoreIndex: -100)
        func peak(checkpointing: Bool) -> (bytes: Int, loss: Float) {
            TensorBytes.resetPeak()
            let before = TensorBytes.liveBytes
            let (sum, _) = model.loss(input, parameters: p, checkpointing: checkpointing)
            let g = p.gradients(of: sum)
            withExtendedLifetime(g) {}
            return (TensorBytes.peakBytes - before, sum.scalar)
        }
        let direct = peak(checkpointing: false), checkpointed = peak(checkpointing: true)
        XCTAssertEqual(direct.loss, checkpointed.loss)
        XCTAssertLessThan(Double(checkpointed.bytes), 0.6 * Double(direct.bytes),
                          "checkpointed \(checkpointed.bytes) bytes against \(direct.bytes) without")
        // The planner's count of the saved activations drops by as much.
        let saved = config.savedActivationScalars(tokens: n, headRows: n / 2)
        let savedCheckpointed = config.savedActivationScalars(tokens: n, headRows: n / 2, checkpointing: true)
        XCTAssertEqual(savedCheckpointed.head, saved.head)
        let c = Double(config.dim)
        XCTAssertLessThan(savedCheckpointed.blocks, saved.blocks / 2)
        XCTAssertGreaterThan(savedCheckpointed.blocks, 4 * Double(n) * c)
    }
}
