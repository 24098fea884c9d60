import Foundation
import XCTest
import Autograd
import Datasets
import Models
import NN
import Tokenizers
import Training
import TestSupport

/// `TrainingOptions.precision`: a small model trained with bf16 products follows the float32
/// run's loss curve, and bf16 on a CPU without AVX512_BF16 is an error, not a fallback.
final class TrainerPrecisionTests: XCTestCase {
    func options(_ precision: Precision, steps: Int) -> TrainingOptions {
        var o = TrainingOptions()
        o.microBatchSize = 8
        o.maxSteps = steps
        o.lr = 3e-3
        o.warmupSteps = 2
        o.threads = 2
        o.precision = precision
        return o
    }

    /// A Llama wide enough (C 64, MLP 128, V 300, 8 x 64 tokens) that its projections, MLP
    /// and head reach `BLAS.bf16MinimumDimension`, so the bf16 path really runs.
    func model(vocab: Int) throws -> DecoderModel {
        try DecoderModel(ModelConfig(family: .llama, vocabSize: vocab, contextLength: 128, dim: 64, layers: 2, heads: 2,
                                     kvHeads: 2, ffnDim: 128))
    }

    // This and the next test are complements: one runs on AVX512_BF16 CPUs, the other on
    // every other CPU, so each machine runs one and skips the other, saying why.
    func test_trainer_bf16Precision_followsFloat32LossCurve() throws {
        if let missing = BLAS.bf16MissingFeature {
            throw XCTSkip("skipped: this CPU lacks \(missing), which training.precision bf16 needs")
        }
        let dir = try TrainingFixture.directory()
        let (data, tok) = try TrainingFixture.prepare(in: dir, count: 64, seqLen: 64, packing: .pack, split: 0)
        let model = try model(vocab: tok.vocabularySize)
        let start = Trainer.initialParameters(model, seed: 3)
        let steps = 40
        var f32 = try Trainer(model: model, parameters: start, data: data, options: options(.float32, steps: steps))
        var bf16 = try Trainer(model: model, parameters: start, data: data, options: options(.bf16, steps: steps))
        var differs = false
        var first = (0.0, 0.0), last = (0.0, 0.0)
        for step in 1...steps {
            let a = try XCTUnwrap(XCTUnwrap(f32.trainStep()).loss), b = try XCTUnwrap(XCTUnwrap(bf16.trainStep()).loss)
            if step == 1 { first = (a, b) }
            last = (a, b)
            if a != b { differs = true }
            // bf16 operands carry 8 significant bits: a step's loss moves by well under 1%,
            // and the two curves drift apart only slowly (measured: < 0.3% over these steps).
            XCTAssertEqual(b, a, accuracy: 0.02 * a, "step \(step): bf16 loss \(b) vs float32 \(a)")
        }
        XCTAssertTrue(differs, "bf16 gave the float32 losses bit for bit: its products did not run")
        XCTAssertLessThan(last.1, 0.7 * first.1, "the bf16 run should learn (loss \(first.1) -> \(last.1))")
        XCTAssertLessThan(last.0, 0.7 * first.0, "the float32 run should learn (loss \(first.0) -> \(last.0))")
        // Weights, gradients and moments stay float32: the trained weights are close, not rounded.
        let name = "model.layers.0.mlp.up_proj.weight"
        XCTAssertTrue(bf16.parameters[name].scalars.contains { BLAS.bf16Rounded($0) != $0 },
                      "master weights should keep float32 precision")
    }

    func test_trainer_bf16OnCPUWithoutIt_throwsNamingTheFeature() throws {
        guard let missing = BLAS.bf16MissingFeature else {
            throw XCTSkip("skipped: this CPU has AVX512_BF16; the error is for CPUs without it")
        }
        let dir = try TrainingFixture.directory()
        let (data, tok) = try TrainingFixture.prepare(in: dir, count: 8, seqLen: 32, packing: .pack, split: 0)
        let model = try TrainingFixture.model(vocab: tok.vocabularySize)
        XCTAssertThrowsError(try Trainer(model: model, parameters: Trainer.initialParameters(model, seed: 1), data: data,
                                         options: options(.bf16, steps: 1))) { error in
            XCTAssertEqual(error as? TrainingError, .precisionUnsupported(precision: .bf16, missing: missing))
            XCTAssertTrue("\(error)".contains(missing))
        }
    }
}
