import XCTest
import Autograd
import NN
import Models
import TestSupport

final class ModelTests: XCTestCase {
    static let llama = ModelConfig(family: .llama, vocabSize: 40, contextLength: 32, dim: 16, layers: 2, heads: 4,
                                   kvHeads: 2, ffnDim: 24)
    static let gpt2 = ModelConfig(family: .gpt2, vocabSize: 40, contextLength: 32, dim: 16, layers: 2, heads: 2)

    /// Two examples packed in one row give the same per-token logits as each alone.
    func test_packedRow_equalsExamplesOneByOne() throws {
        for config in [Self.llama, Self.gpt2] {
            let model = try DecoderModel(config)
            var rng = RNG(seed: 1)
            let p = model.initialParameters(rng: &rng)
            let a: [Int32] = [3, 9, 4, 1, 30], b: [Int32] = [7, 2, 8]
            let packed = model.logits(ModelInput(tokens: a + b, positions: [0, 1, 2, 3, 4, 0, 1, 2], segmentIDs: [0, 0, 0, 0, 0, 1, 1, 1], batch: 1, time: 8), parameters: p)
            let la = model.logits(ModelInput(tokens: a, positions: [0, 1, 2, 3, 4], segmentIDs: [0, 0, 0, 0, 0], batch: 1, time: 5), parameters: p)
            let lb = model.logits(ModelInput(tokens: b, positions: [0, 1, 2], segmentIDs: [0, 0, 0], batch: 1, time: 3), parameters: p)
            assertClose(packed, Tensor.concatenate([la, lb], axis: 0), atol: 1e-5, "\(config.family)")
        }
    }

    func test_parameterNames_followHuggingFace() throws {
        let g = try DecoderModel(Self.gpt2).parameterShapes.map(\.name)
        XCTAssertTrue(g.contains("transformer.h.1.attn.c_attn.weight"))
        XCTAssertTrue(g.contains("transformer.h.0.mlp.c_proj.bias"))
        XCTAssertFalse(g.contains("lm_head.weight"), "GPT-2's head is tied to wte")
        let l = try DecoderModel(Self.llama).parameterShapes
        XCTAssertEqual(l.first { $0.name == "model.layers.0.self_attn.k_proj.weight" }?.shape, [8, 16])
        XCTAssertTrue(l.map(\.name).contains("model.layers.1.mlp.gate_proj.weight"))
    }

    func test_invalidConfig_throwsNamingTheField() {
        let bad = ModelConfig(family: .llama, vocabSize: 10, contextLength: 8, dim: 10, layers: 1, heads: 3)
        XCTAssertThrowsError(try DecoderModel(bad)) { error in
            XCTAssertTrue("\(error)".contains("multiple of heads"), "\(error)")
        }
    }

    func test_validate_wrongShapeAndMissingTensor_nameTheTensor() throws {
        let model = try DecoderModel(Self.gpt2)
        var rng = RNG(seed: 2)
        var p = model.initialParameters(rng: &rng)
        p["transformer.ln_f.bias"] = Tensor.zeros([3])
        XCTAssertThrowsError(try model.validate(p)) { XCTAssertEqual($0 as? ModelError, .wrongShape(name: "transformer.ln_f.bias", expected: [16], found: [3])) }
    }

    /// Training one small batch drives the loss near zero (the whole model learns).
    func test_overfitOneBatch_lossNearZero() throws {
        for config in [Self.llama, Self.gpt2] {
            let model = try DecoderModel(config)
            var rng = RNG(seed: 3)
            var p = model.initialParameters(rng: &rng)
            let tokens: [Int32] = [1, 5, 9, 13, 17, 21, 25, 29, 2, 6, 10, 14, 18, 22, 26, 30]
            var targets = Array(tokens.dropFirst()) + [-100]
            targets[7] = -100
            let positions = (0..<16).map { Int32($0 % 8) }
            let segments = (0..<16).map { Int32($0 / 8) }
            var opt = AdamW()
            var loss: Float = 0
            for _ in 0..<200 {
                let t = p.tracked()
                let (sum, count) = model.loss(ModelInput(tokens: tokens, positions: positions, segmentIDs: segments, batch: 2, time: 8, targets: targets, ignoreIndex: -100), parameters: t)
                let mean = sum / Float(count)
                loss = mean.scalar
                let g = t.gradients(of: mean)
                opt.update(&p, grads: g, lr: 1e-2, decays: model.decays)
            }
            XCTAssertLessThan(loss, 0.05, "\(config.family) did not overfit one batch")
        }
    }

    /// The gradient of the whole model through every kernel, on a tiny Llama, against finite differences.
    func test_tinyLlama_parameterGradients_matchFiniteDifferences() throws {
        let config = ModelConfig(family: .llama, vocabSize: 7, contextLength: 8, dim: 8, layers: 1, heads: 2, kvHeads: 1, ffnDim: 8)
        let model = try DecoderModel(config)
        var rng = RNG(seed: 4)
        let p = model.initialParameters(rng: &rng).mapTensors { _, t in t * 5 }
        let names = ["model.layers.0.self_attn.q_proj.weight", "model.layers.0.mlp.down_proj.weight", "model.norm.weight"]
        checkGradients(names.map { p[$0] }) { xs in
            var q = p
            for (n, x) in zip(names, xs) { q[n] = x }
            return model.logits(ModelInput(tokens: [1, 2, 3, 4, 5, 6], positions: [0, 1, 2, 0, 1, 2], segmentIDs: [0, 0, 0, 1, 1, 1], batch: 2, time: 3), parameters: q)
        }
    }

    /// `loss` sends only counted rows through the final norm and the head; the sum and every
    /// parameter gradient equal those of cross-entropy on the full [B*T, V] logits.
    func test_loss_onCountedRowsOnly_equalsFullLogitsLoss() throws {
        for config in [Self.llama, Self.gpt2] {
            let model = try DecoderModel(config)
            var rng = RNG(seed: 5)
            let p = model.initialParameters(rng: &rng).tracked()
            let tokens: [Int32] = [1, 5, 9, 13, 17, 21, 25, 29, 2, 6, 10, 14, 18, 22, 26, 30]
            var targets = Array(tokens.dropFirst()) + [-100]
            for i in [0, 1, 2, 8, 9] { targets[i] = -100 }
            let positions = (0..<16).map { Int32($0 % 8) }, segments = (0..<16).map { Int32($0 / 8) }
            let (sum, count) = model.loss(ModelInput(tokens: tokens, positions: positions, segmentIDs: segments, batch: 2, time: 8, targets: targets, ignoreIndex: -100), parameters: p)
            let full = model.logits(ModelInput(tokens: tokens, positions: positions, segmentIDs: segments, batch: 2, time: 8), parameters: p)
            XCTAssertEqual(full.shape, [16, config.vocabSize])
            let (fullSum, fullCount) = Tensor.crossEntropy(logits: full, targets: targets)
            XCTAssertEqual(count, 10)
            XCTAssertEqual(count, fullCount)
            XCTAssertEqual(sum.scalar, fullSum.scalar, accuracy: 1e-4 * abs(fullSum.scalar), "\(config.family)")
            let g = p.gradients(of: sum), gFull = p.gradients(of: fullSum)
            for name in p.names {
                assertClose(g[name], gFull[name], atol: 1e-5, "\(config.family) \(name)")
            }
        }
    }

    /// A packed row of 2048 tokens trains (finite loss and gradients), and the step's tensor
    /// memory (`TensorBytes`: forward, loss and backward) is that of 4 rows of 512: attention
    /// keeps no [T, T] tensor, so memory follows the token count, not T squared.
    func test_loss_seqLen2048PackedRow_memoryEqualsFourRowsOf512() throws {
        let config = ModelConfig(family: .llama, vocabSize: 128, contextLength: 2048, dim: 32, layers: 2, heads: 2, kvHeads: 1,
                                 ffnDim: 64)
        let model = try DecoderModel(config)
        var rng = RNG(seed: 6)
        let p = model.initialParameters(rng: &rng).tracked()
        func step(batch: Int, time: Int, segmentLengths: [Int]) -> (loss: Float, peak: Int, gradientsFinite: Bool) {
            var positions: [Int32] = [], segments: [Int32] = []
            for _ in 0..<batch {
                for (s, length) in segmentLengths.enumerated() {
                    positions += (0..<length).map { Int32($0) }
                    segments += [Int32](repeating: Int32(s), count: length)
                }
            }
            let n = batch * time
            let tokens = (0..<n).map { Int32(($0 * 37) % 128) }
            let targets = (0..<n).map { $0 % time < time / 2 ? Int32(-100) : Int32(($0 * 11) % 128) }
            TensorBytes.resetPeak()
            let before = TensorBytes.liveBytes
            let (sum, count) = model.loss(ModelInput(tokens: tokens, positions: positions, segmentIDs: segments, batch: batch,
                                                     time: time, targets: targets, ignoreIndex: -100), parameters: p)
            let g = p.gradients(of: sum)
            let finite = g.names.allSatisfy { g[$0].scalars.allSatisfy(\.isFinite) }
            return (sum.scalar / Float(count), TensorBytes.peakBytes - before, finite)
        }
        let long = step(batch: 1, time: 2048, segmentLengths: [700, 900, 448])
        let single = step(batch: 1, time: 2048, segmentLengths: [2048])
        let four = step(batch: 4, time: 512, segmentLengths: [512])
        XCTAssertTrue(long.loss.isFinite && single.loss.isFinite && long.gradientsFinite && single.gradientsFinite)
        // ln(128) = 4.85 for a fresh model.
        XCTAssertEqual(long.loss, 4.85, accuracy: 0.5)
        for (name, r) in [("packed", long), ("one segment", single)] {
            let ratio = Double(r.peak) / Double(four.peak)
            XCTAssertLessThan(ratio, 1.25, "\(name) 1 x 2048: \(r.peak) bytes against 4 x 512: \(four.peak)")
        }
    }
}
