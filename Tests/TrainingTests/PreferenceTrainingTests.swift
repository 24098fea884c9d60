import Autograd
import Checkpoints
import Datasets
import Foundation
import Models
import NN
import TestSupport
import Tokenizers
import Training
import XCTest

/// DPO through the trainer: the loss falls and reward accuracy rises on pairs a tiny model can
/// learn, the reference table comes back from a checkpoint so a resume is bit-exact, and with
/// LoRA the reference is the base with the adapters off.
final class PreferenceTrainingTests: XCTestCase {
    struct Fixture {
        var data: PreparedData
        var model: DecoderModel
        var dir: URL
    }

    /// 24 pairs "Reverse the words." (chosen: reversed, rejected: as given), 4 held out.
    func fixture() throws -> Fixture {
        let dir = try TrainingFixture.directory()
        let words = ["red", "blue", "cat", "dog", "sun", "tree", "moon", "fish", "bird", "rain"]
        var lines: [String] = []
        for i in 0..<24 {
            let a = words[i % words.count], b = words[(i * 7 + 3) % words.count]
            lines.append("{\"prompt\": \"Reverse: \(a) \(b)\", \"chosen\": \"\(b) \(a)\", \"rejected\": \"\(a) \(b)\"}")
        }
        let text = lines.joined(separator: "\n") + "\n"
        let path = dir.appendingPathComponent("pairs.jsonl")
        try text.write(to: path, atomically: true, encoding: .utf8)
        let tokenizer = try BPETrainer.train(text: text, vocabularySize: 300, specialTokens: ["<|endoftext|>"])
        var config = DataConfig(datasets: [DatasetSpec(path: path.path, template: TemplateKind(name: "plain"), validationFraction: 0.2)],
                                seqLen: 48, seed: 1, cacheDirectory: nil)
        config.preference = PreferenceDataOptions()
        let data = try DataPipeline.prepare(config, tokenizer: tokenizer)
        return Fixture(data: data, model: try TrainingFixture.model(vocab: tokenizer.vocabularySize), dir: dir)
    }

    func options(steps: Int) -> TrainingOptions {
        var o = TrainingOptions()
        o.microBatchSize = 4
        o.maxSteps = steps
        o.lr = 1e-2
        o.warmupSteps = 1
        o.threads = 1
        o.seed = 3
        return o
    }

    func preferenceTrainer(_ f: Fixture, _ o: TrainingOptions, lora: Bool = false) throws -> Trainer {
        let model = lora ? try DecoderModel(f.model.config, lora: LoRAConfig(rank: 2, alpha: 4, targets: [.q, .v])) : f.model
        var p = Trainer.initialParameters(f.model, seed: 5)
        if lora {
            var rng = RNG(seed: 6)
            let adapters = model.initialAdapters(rng: &rng)
            p = Parameters(p.pairs.map { ($0.name, $0.tensor) } + adapters.pairs.map { ($0.name, $0.tensor) })
        }
        var t = try Trainer(model: model, parameters: p, data: f.data, options: o)
        let base = lora ? Parameters(p.pairs.filter { !LoRA.isAdapterName($0.name) }.map { ($0.name, $0.tensor) }) : p
        let table = try ReferenceLogProbs.compute(model: model.withoutAdapters, parameters: base, data: f.data, batchSize: 4)
        t.preference = PreferenceRun(options: PreferenceOptions(), reference: table)
        return t
    }

    func test_dpo_lossFallsAndHeldOutRewardAccuracyRises() throws {
        let f = try fixture()
        XCTAssertEqual(f.data.rowCount(.validation), 5)
        var t = try preferenceTrainer(f, options(steps: 30))
        let before = try XCTUnwrap(try t.evaluate())
        // Policy = reference at step 0: every reward is 0, the loss log 2.
        XCTAssertEqual(before.evalLoss, log(2), accuracy: 1e-6)
        XCTAssertEqual(try XCTUnwrap(before.preference).rewardsMargins, 0, accuracy: 1e-6)
        var first: Double? = nil, last: StepMetrics? = nil
        while let m = try t.trainStep() {
            if first == nil { first = m.loss }
            last = m
        }
        let l = try XCTUnwrap(last)
        XCTAssertLessThan(try XCTUnwrap(l.loss), try XCTUnwrap(first) - 0.1)
        let p = try XCTUnwrap(l.preference)
        XCTAssertGreaterThan(p.rewardsMargins, 0)
        XCTAssertEqual(p.rewardsMargins, p.rewardsChosen - p.rewardsRejected, accuracy: 1e-9)
        let after = try XCTUnwrap(try t.evaluate())
        XCTAssertGreaterThan(try XCTUnwrap(after.preference).rewardsAccuracies, 0.5)
        XCTAssertLessThan(after.evalLoss, before.evalLoss)
        // TRL's names, flat in the metrics line.
        let line = String(decoding: try JSONEncoder().encode(l), as: UTF8.self)
        for key in ["rewards/chosen", "rewards/rejected", "rewards/margins", "rewards/accuracies", "logps/chosen", "logps/rejected"] {
            XCTAssertTrue(line.contains("\"\(key.replacingOccurrences(of: "/", with: "\\/"))\"") || line.contains("\"\(key)\""), "\(key) in \(line)")
        }
        XCTAssertEqual(try JSONDecoder().decode(StepMetrics.self, from: Data(line.utf8)), l)
    }

    /// Activation checkpointing changes no number in a preference run either: full and LoRA DPO
    /// give the same losses and weights, bit for bit, with the blocks checkpointed.
    func test_dpo_activationCheckpointing_bitIdenticalLossesAndWeights() throws {
        let f = try fixture()
        for lora in [false, true] {
            func run(checkpointing: Bool) throws -> (losses: [UInt64], weights: Parameters) {
                var o = options(steps: 4)
                o.activationCheckpointing = checkpointing
                var t = try preferenceTrainer(f, o, lora: lora)
                var losses: [UInt64] = []
                while let m = try t.trainStep() { losses.append(try XCTUnwrap(m.loss).bitPattern) }
                return (losses, t.parameters)
            }
            let direct = try run(checkpointing: false), checkpointed = try run(checkpointing: true)
            XCTAssertEqual(direct.losses.count, 4, "lora \(lora)")
            XCTAssertEqual(checkpointed.losses, direct.losses, "lora \(lora)")
            for name in direct.weights.names {
                XCTAssertEqual(checkpointed.weights[name].scalars, direct.weights[name].scalars, "lora \(lora): \(name)")
            }
        }
    }

    func test_dpoResume_withStoredReference_bitIdentical() throws {
        let f = try fixture()
        let o = options(steps: 8)
        var straight = try preferenceTrainer(f, o)
        var straightLosses: [UInt64] = []
        while let m = try straight.trainStep() { if m.step > 3 { straightLosses.append(try XCTUnwrap(m.loss).bitPattern) } }
        var first = try preferenceTrainer(f, o)
        for _ in 0..<3 { _ = try first.trainStep() }
        let table = try XCTUnwrap(first.preference).reference
        let run = f.dir.appendingPathComponent("run")
        _ = try first.saveCheckpoint(in: run, extraFiles: [ReferenceLogProbs.fileName: try JSONEncoder().encode(table)])
        let checkpoint = try CheckpointReader.open(try CheckpointDirectory.resolve("latest", runDirectory: run))
        var resumed = try Trainer.resume(from: checkpoint, model: f.model, data: f.data, options: o)
        let stored = try JSONDecoder().decode(ReferenceLogProbs.self, from: try checkpoint.data(ReferenceLogProbs.fileName))
        XCTAssertEqual(stored, table)
        resumed.preference = PreferenceRun(options: PreferenceOptions(), reference: stored)
        var resumedLosses: [UInt64] = []
        while let m = try resumed.trainStep() { resumedLosses.append(try XCTUnwrap(m.loss).bitPattern) }
        XCTAssertEqual(resumedLosses, straightLosses)
    }

    func test_loraReference_isBaseWithAdaptersOff_soStepZeroLossIsLog2() throws {
        let f = try fixture()
        var t = try preferenceTrainer(f, options(steps: 4), lora: true)
        let m = try XCTUnwrap(try t.trainStep())
        XCTAssertEqual(try XCTUnwrap(m.loss), log(2), accuracy: 1e-6)
        XCTAssertEqual(try XCTUnwrap(m.preference).rewardsChosen, 0, accuracy: 1e-6)
        let m2 = try XCTUnwrap(try t.trainStep())
        XCTAssertNotEqual(try XCTUnwrap(m2.loss), log(2))
    }

    func test_referenceLookup_otherData_throwsNamingTheRow() throws {
        let f = try fixture()
        let t = try preferenceTrainer(f, options(steps: 1))
        let table = ReferenceLogProbs(dataFingerprint: "x", weightsIdentity: "y", pairs: [:])
        var loader = try DataLoader(data: f.data, batchSize: 2)
        let batch = try XCTUnwrap(loader.next())
        XCTAssertThrowsError(try table.lookup(batch.modelInput)) { XCTAssertTrue("\($0)".contains("row hash"), "\($0)") }
        _ = t
    }
}
