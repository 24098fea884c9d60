import Foundation
import XCTest
import Autograd
import Datasets
import Models
import NN
import Tokenizers
import Training
import TestSupport

final class TrainerTests: XCTestCase {
    func options(batch: Int, accum: Int, steps: Int) -> TrainingOptions {
        var o = TrainingOptions()
        o.microBatchSize = batch
        o.gradientAccumulation = accum
        o.maxSteps = steps
        o.lr = 3e-3
        o.warmupSteps = 0
        o.threads = 1
        return o
    }

    func test_gradientAccumulation_equalsOneLargerBatch() throws {
        let dir = try TrainingFixture.directory()
        let (data, tok) = try TrainingFixture.prepare(in: dir, count: 40, seqLen: 32, packing: .pad, split: 0)
        let model = try TrainingFixture.model(vocab: tok.vocabularySize)
        let start = Trainer.initialParameters(model, seed: 5)
        var big = try Trainer(model: model, parameters: start, data: data, options: options(batch: 4, accum: 1, steps: 3))
        var small = try Trainer(model: model, parameters: start, data: data, options: options(batch: 2, accum: 2, steps: 3))
        for _ in 0..<3 {
            let a = try XCTUnwrap(big.trainStep()), b = try XCTUnwrap(small.trainStep())
            XCTAssertEqual(a.trainedTokens, b.trainedTokens)
            XCTAssertEqual(try XCTUnwrap(a.loss), try XCTUnwrap(b.loss), accuracy: 1e-5)
        }
        for name in big.parameters.names {
            assertClose(small.parameters[name], big.parameters[name], atol: 2e-5, rtol: 1e-4, name)
        }
    }

    /// The same examples packed several to a row or padded one to a row give the same loss
    /// and the same update (one step over all of them).
    func test_packedRows_trainLikeUnpackedExamples() throws {
        let dir = try TrainingFixture.directory()
        let (packed, tok) = try TrainingFixture.prepare(in: dir, count: 12, seqLen: 128, packing: .pack, split: 0)
        let (padded, _) = try TrainingFixture.prepare(in: dir, count: 12, seqLen: 128, packing: .pad, split: 0)
        XCTAssertLessThan(packed.rowCount(.train), padded.rowCount(.train), "packing should use fewer rows")
        let model = try TrainingFixture.model(vocab: tok.vocabularySize)
        let start = Trainer.initialParameters(model, seed: 6)
        // One step over every row of each (the loader would wrap into a second epoch otherwise).
        var a = try Trainer(model: model, parameters: start, data: packed,
                            options: options(batch: packed.rowCount(.train), accum: 1, steps: 1))
        var b = try Trainer(model: model, parameters: start, data: padded, options: options(batch: 12, accum: 1, steps: 1))
        let ma = try XCTUnwrap(a.trainStep()), mb = try XCTUnwrap(b.trainStep())
        XCTAssertEqual(ma.trainedTokens, mb.trainedTokens)
        XCTAssertEqual(try XCTUnwrap(ma.loss), try XCTUnwrap(mb.loss), accuracy: 1e-5)
        XCTAssertEqual(try XCTUnwrap(ma.gradNorm), try XCTUnwrap(mb.gradNorm), accuracy: 1e-4)
        for name in a.parameters.names {
            assertClose(a.parameters[name], b.parameters[name], atol: 1e-5, rtol: 1e-4, name)
        }
    }

    func test_sameRecipeSeedThreads_bitIdenticalLosses() throws {
        let dir = try TrainingFixture.directory()
        let (data, tok) = try TrainingFixture.prepare(in: dir)
        let model = try TrainingFixture.model(vocab: tok.vocabularySize)
        func run() throws -> [UInt64] {
            var t = try Trainer(model: model, parameters: Trainer.initialParameters(model, seed: 7), data: data,
                                options: options(batch: 2, accum: 2, steps: 6))
            var out: [UInt64] = []
            while let m = try t.trainStep() { out.append(try XCTUnwrap(m.loss).bitPattern) }
            return out
        }
        let first = try run()
        XCTAssertEqual(first.count, 6)
        XCTAssertEqual(first, try run())
    }

    /// `activationCheckpointing` changes memory and time, no number: with model dropout, the
    /// same losses at every step and the same weights after, bit for bit.
    func test_activationCheckpointing_withDropout_bitIdenticalLossesAndWeights() throws {
        let dir = try TrainingFixture.directory()
        let (data, tok) = try TrainingFixture.prepare(in: dir)
        let model = try DecoderModel(ModelConfig(family: .llama, vocabSize: tok.vocabularySize, contextLength: 128, dim: 16,
                                                 layers: 2, heads: 2, kvHeads: 1, ffnDim: 32, dropout: 0.1))
        func run(checkpointing: Bool) throws -> (losses: [UInt64], weights: Parameters) {
            var o = options(batch: 2, accum: 2, steps: 4)
            o.activationCheckpointing = checkpointing
            var t = try Trainer(model: model, parameters: Trainer.initialParameters(model, seed: 8), data: data, options: o)
            var out: [UInt64] = []
            while let m = try t.trainStep() { out.append(try XCTUnwrap(m.loss).bitPattern) }
            return (out, t.parameters)
        }
        let direct = try run(checkpointing: false), checkpointed = try run(checkpointing: true)
        XCTAssertEqual(direct.losses.count, 4)
        XCTAssertEqual(checkpointed.losses, direct.losses)
        for name in direct.weights.names {
            XCTAssertEqual(checkpointed.weights[name].scalars, direct.weights[name].scalars, name)
        }
    }

    func test_nonFiniteLoss_stopsNamingTheStep_andKeepsWeights() throws {
        let dir = try TrainingFixture.directory()
        let (data, tok) = try TrainingFixture.prepare(in: dir)
        let model = try TrainingFixture.model(vocab: tok.vocabularySize)
        var p = Trainer.initialParameters(model, seed: 8)
        p["model.norm.weight"] = Tensor(repeating: .nan, shape: [16])
        var t = try Trainer(model: model, parameters: p, data: data, options: options(batch: 2, accum: 1, steps: 3))
        XCTAssertThrowsError(try t.trainStep()) { error in
            guard case let TrainingError.nonFiniteLoss(step, _) = error else { return XCTFail("\(error)") }
            XCTAssertEqual(step, 1)
            XCTAssertTrue("\(error)".contains("step 1"))
        }
        XCTAssertEqual(t.step, 0)
        XCTAssertEqual(t.parameters["model.layers.0.mlp.up_proj.weight"].scalars, p["model.layers.0.mlp.up_proj.weight"].scalars)
    }

    func test_trainingLowersLoss_andEvaluationReportsPerplexity() throws {
        let dir = try TrainingFixture.directory()
        let (data, tok) = try TrainingFixture.prepare(in: dir, count: 40)
        let model = try TrainingFixture.model(vocab: tok.vocabularySize)
        var t = try Trainer(model: model, parameters: Trainer.initialParameters(model, seed: 9), data: data,
                            options: { var o = options(batch: 4, accum: 1, steps: 40); o.lr = 1e-2; return o }())
        var events: [String] = []
        var losses: [Double] = []
        let summary = try t.train(directory: dir.appendingPathComponent("run"), title: "test") { e in
            if case .eval = e { events.append("eval") }
            if case let .step(m) = e, let l = m.loss { losses.append(l) }
        }
        let after = try XCTUnwrap(t.evaluate())
        XCTAssertLessThan(try XCTUnwrap(losses.last), try XCTUnwrap(losses.first) * 0.7, "training should lower the loss")
        XCTAssertEqual(after.evalPerplexity, Foundation.exp(after.evalLoss), accuracy: 1e-9)
        XCTAssertEqual(summary.steps, 40)
        XCTAssertEqual(events, ["eval"])
        // metrics.jsonl: one line per step and one eval line, each a JSON object with the documented keys.
        let lines = try String(contentsOf: dir.appendingPathComponent("run/metrics.jsonl"), encoding: .utf8)
            .split(separator: "\n")
        XCTAssertEqual(lines.count, 41)
        let first = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(lines[0].utf8)) as? [String: Any])
        for key in ["step", "epoch", "loss", "lr", "grad_norm", "tokens", "trained_tokens", "tokens_per_s", "elapsed_s"] {
            XCTAssertNotNil(first[key], "metrics line lacks \(key)")
        }
        XCTAssertTrue(lines.last!.contains("eval_loss"))
        let svg = try String(contentsOf: dir.appendingPathComponent("run/loss_curve.svg"), encoding: .utf8)
        XCTAssertTrue(svg.hasPrefix("<svg") && svg.contains("polyline"))
    }

    func test_metricsLog_resumeTruncatesLaterSteps() throws {
        let dir = try TrainingFixture.directory()
        let log = try MetricsLog(directory: dir)
        for s in 1...5 {
            try log.append(StepMetrics(step: s, epoch: 0, loss: 1, lr: 1, gradNorm: 1, tokens: 1, trainedTokens: 1,
                                       tokensPerSecond: 1, trainedTokensPerSecond: 1, elapsedSeconds: 1))
        }
        _ = try MetricsLog(directory: dir, truncateAfterStep: 3)
        let steps = try String(contentsOf: dir.appendingPathComponent("metrics.jsonl"), encoding: .utf8)
            .split(separator: "\n").map { try JSONSerialization.jsonObject(with: Data($0.utf8)) as! [String: Any] }
            .map { $0["step"] as! Int }
        XCTAssertEqual(steps, [1, 2, 3])
    }
}
