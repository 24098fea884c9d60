import Foundation
import XCTest
import Autograd
import Checkpoints
import Datasets
import Models
import NN
import TestSupport
import Training

/// LoRA in the trainer: only adapters train and have optimizer state; checkpoints hold only
/// the adapters and the base's identity; resume is bit-identical; the base is checked.
final class LoRATrainingTests: XCTestCase {
    func options(steps: Int, accum: Int = 1) -> TrainingOptions {
        var o = TrainingOptions()
        o.microBatchSize = 2
        o.gradientAccumulation = accum
        o.maxSteps = steps
        o.lr = 1e-2
        o.warmupSteps = 1
        o.threads = 1
        o.seed = 5
        return o
    }

    struct Fixture {
        var data: PreparedData
        var model: DecoderModel
        var base: Parameters
        var start: Parameters
        var dir: URL
    }

    func fixture(dropout: Float = 0.1) throws -> Fixture {
        let dir = try TrainingFixture.directory()
        let (data, tok) = try TrainingFixture.prepare(in: dir, count: 24, seqLen: 32, packing: .pad, split: 0)
        let config = ModelConfig(family: .llama, vocabSize: tok.vocabularySize, contextLength: 64, dim: 16, layers: 2, heads: 2,
                                 kvHeads: 1, ffnDim: 32)
        let model = try DecoderModel(config, lora: LoRAConfig(rank: 4, alpha: 8, dropout: dropout, targets: [.q, .v, .down]))
        let base = Trainer.initialParameters(model.withoutAdapters, seed: 1)
        var start = base
        var rng = RNG(seed: 2, stream: 0x10A)
        for (n, t) in model.initialAdapters(rng: &rng).pairs { start[n] = t }
        return Fixture(data: data, model: model, base: base, start: start, dir: dir)
    }

    func bits(_ p: Parameters) -> [String: [UInt32]] {
        Dictionary(uniqueKeysWithValues: p.pairs.map { ($0.name, $0.tensor.scalars.map(\.bitPattern)) })
    }

    /// After training: the base is bit-identical, the adapters moved, and AdamW's moments
    /// exist for the adapter tensors and nothing else.
    func test_loraTraining_baseFrozen_optimizerStateOnlyForAdapters() throws {
        let f = try fixture()
        var t = try Trainer(model: f.model, parameters: f.start, data: f.data, options: options(steps: 3))
        while !t.isFinished, try t.trainStep() != nil {}
        let adapters = Set(f.model.adapterShapes.map(\.name))
        XCTAssertEqual(Set(t.optimizer.m.names), adapters)
        XCTAssertEqual(Set(t.optimizer.v.names), adapters)
        XCTAssertEqual(t.trainableNames, adapters)
        for (name, tensor) in f.base.pairs {
            XCTAssertEqual(t.parameters[name].scalars.map(\.bitPattern), tensor.scalars.map(\.bitPattern), "base tensor \(name) changed")
        }
        let b = f.model.adapterShapes.first { $0.name.hasSuffix("lora_B.weight") }!.name
        XCTAssertTrue(t.parameters[b].scalars.contains { $0 != 0 }, "B should leave zero after training")
        let momentElements = t.optimizer.m.elementCount + t.optimizer.v.elementCount
        XCTAssertEqual(momentElements, 2 * f.model.adapterShapes.reduce(0) { $0 + Tensor.elementCount($1.shape) })
        XCTAssertLessThan(momentElements, f.model.parameterCount / 4)
    }

    /// The checkpoint holds the adapters (not model.safetensors) and lora_config.json, and the
    /// optimizer file only adapter moments.
    func test_loraCheckpoint_holdsOnlyAdapters() throws {
        let f = try fixture()
        var t = try Trainer(model: f.model, parameters: f.start, data: f.data, options: options(steps: 2))
        _ = try t.trainStep()
        let url = try t.saveCheckpoint(in: f.dir.appendingPathComponent("run"), extraFiles: [:])
        let c = try CheckpointReader.open(url)
        XCTAssertFalse(c.contains("model.safetensors"))
        XCTAssertEqual(Set(try c.tensors(LoRAFiles.adapters).names), Set(f.model.adapterShapes.map(\.name)))
        XCTAssertEqual(try JSONFile.decode(LoRAConfig.self, LoRAFiles.config, in: c, hint: ""), f.model.lora)
        XCTAssertTrue(try c.tensors("optimizer.safetensors").names.allSatisfy { LoRA.isAdapterName($0) })
    }

    /// N steps straight vs k steps, save (adapters only), resume with the base, to N: the
    /// same losses and final weights bit for bit (adapter dropout and grad_accum included).
    func test_loraResume_bitIdenticalLossesAndWeights() throws {
        let f = try fixture(dropout: 0.2)
        let o = options(steps: 9, accum: 2)
        let k = 4
        var straight = try Trainer(model: f.model, parameters: f.start, data: f.data, options: o)
        var straightLosses: [UInt64] = []
        while !straight.isFinished, let m = try straight.trainStep() {
            if m.step > k { straightLosses.append(try XCTUnwrap(m.loss).bitPattern) }
        }
        var first = try Trainer(model: f.model, parameters: f.start, data: f.data, options: o)
        for _ in 0..<k { _ = try first.trainStep() }
        let run = f.dir.appendingPathComponent("run-lora")
        _ = try first.saveCheckpoint(in: run, extraFiles: [:])
        let checkpoint = try CheckpointReader.open(try CheckpointDirectory.resolve("latest", runDirectory: run))
        var resumed = try Trainer.resume(from: checkpoint, model: f.model, data: f.data, options: o, base: f.base)
        XCTAssertEqual(resumed.state, first.state)
        var resumedLosses: [UInt64] = []
        while !resumed.isFinished, let m = try resumed.trainStep() { resumedLosses.append(try XCTUnwrap(m.loss).bitPattern) }
        XCTAssertEqual(resumedLosses.count, 9 - k)
        XCTAssertEqual(resumedLosses, straightLosses)
        XCTAssertEqual(bits(resumed.parameters), bits(straight.parameters))
        XCTAssertEqual(bits(resumed.optimizer.m), bits(straight.optimizer.m))
    }

    /// The base file is identified by SHA-256; a changed file is refused naming the file, a
    /// missing one too; the right one loads.
    func test_loadBase_checksumMismatchAndMissing_areClearErrors() throws {
        let f = try fixture()
        let file = f.dir.appendingPathComponent("base.safetensors")
        try SafeTensors.write(NamedTensors(f.base.pairs.map { ($0.name, $0.tensor) }), to: file)
        let identity = try LoRAFiles.identify(weightsFile: file)
        XCTAssertEqual(identity.sha256.count, 64)
        XCTAssertEqual(bits(Parameters(try LoRAFiles.readBase(identity, for: "CKPT").entries.map { ($0.name, $0.tensor) })), bits(f.base))
        var changed = f.base
        changed["model.norm.weight"] = changed["model.norm.weight"] * 2
        try SafeTensors.write(NamedTensors(changed.pairs.map { ($0.name, $0.tensor) }), to: file)
        XCTAssertThrowsError(try LoRAFiles.readBase(identity, for: "CKPT")) { e in
            guard case CheckpointError.baseMismatch? = e as? CheckpointError else { return XCTFail("\(e)") }
            XCTAssertTrue("\(e)".contains(file.path) && "\(e)".contains("CKPT") && "\(e)".contains("restore"), "\(e)")
        }
        try FileManager.default.removeItem(at: file)
        XCTAssertThrowsError(try LoRAFiles.readBase(identity, for: "CKPT")) { e in
            XCTAssertTrue("\(e)".contains(file.path) && "\(e)".contains("missing"), "\(e)")
        }
    }
}

/// `bench train --finetune lora` measures what it says: the same model, only the adapters
/// trained and holding AdamW state.
final class LoRABenchmarkTests: XCTestCase {
    func test_trainBenchmark_lora_countsOnlyAdapterParametersAndState() throws {
        let config = ModelConfig(family: .gpt2, vocabSize: 50, contextLength: 16, dim: 16, layers: 2, heads: 2)
        let lora = LoRAConfig(rank: 2, alpha: 4, targets: [.qkv, .down])
        let full = try TrainBenchmark.run(config: config, batch: 2, time: 8, warmup: 0, steps: 2, threads: 1, measurePeak: false)
        let adapted = try TrainBenchmark.run(config: config, batch: 2, time: 8, warmup: 0, steps: 2, threads: 1,
                                             measurePeak: false, lora: lora)
        // Per block: c_attn A [2, 16] + B [48, 2], mlp.c_proj A [2, 64] + B [16, 2].
        XCTAssertEqual(adapted.trainableParameterCount, 2 * (32 + 96 + 128 + 32))
        XCTAssertEqual(full.trainableParameterCount, full.parameterCount)
        XCTAssertEqual(adapted.optimizerStateMiB, Double(2 * adapted.trainableParameterCount * 4) / (1024 * 1024), accuracy: 1e-12)
        XCTAssertEqual(full.optimizerStateMiB, Double(2 * full.parameterCount * 4) / (1024 * 1024), accuracy: 1e-12)
        XCTAssertEqual(adapted.lora, lora)
        XCTAssertNil(full.lora)
    }
}
