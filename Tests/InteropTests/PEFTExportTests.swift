import Autograd
import Checkpoints
import Foundation
import Interop
import Models
import NN
import TestSupport
import Training
import XCTest

/// `--format peft` on a GPT-2: PEFT's key names, unchanged tensors, fan_in_fan_out for
/// Conv1D, and module-suffix targets that keep the two c_proj apart.
final class PEFTExportTests: XCTestCase {
    func test_peftExport_gpt2_keysConfigAndTensors() throws {
        let dir = try TrainingFixture.directory()
        let (data, tok) = try TrainingFixture.prepare(in: dir, count: 8, seqLen: 32, packing: .pad, split: 0)
        let config = ModelConfig(family: .gpt2, vocabSize: tok.vocabularySize, contextLength: 32, dim: 16, layers: 1, heads: 2)
        let card = ModelCard(config: config, tokenizer: "", template: .plain)
        let model = try DecoderModel(config, lora: LoRAConfig(rank: 2, alpha: 6, targets: [.qkv, .down]))
        var p = Trainer.initialParameters(model.withoutAdapters, seed: 1)
        var rng = RNG(seed: 3)
        for (n, t) in model.initialAdapters(rng: &rng).pairs { p[n] = t }
        var o = TrainingOptions()
        o.microBatchSize = 2
        o.maxSteps = 1
        o.threads = 1
        var t = try Trainer(model: model, parameters: p, data: data, options: o)
        _ = try t.trainStep()
        let url = try t.saveCheckpoint(in: dir.appendingPathComponent("run"),
                                       extraFiles: [ModelCard.fileName: try card.encoded()])
        let out = dir.appendingPathComponent("peft")
        _ = try ModelExport.export(try CheckpointReader.open(url), format: .peft, to: out)
        let tensors = try SafeTensors.read(contentsOf: out.appendingPathComponent("adapter_model.safetensors"))
        XCTAssertEqual(tensors.names, model.adapterShapes.map { "base_model.model." + $0.name })
        let key = "transformer.h.0.mlp.c_proj.lora_B.weight"
        XCTAssertEqual(tensors["base_model.model." + key]?.scalars, t.parameters[key].scalars)
        let json = try XCTUnwrap(try JSONSerialization.jsonObject(with: Data(contentsOf: out.appendingPathComponent("adapter_config.json"))) as? [String: Any])
        XCTAssertEqual(json["fan_in_fan_out"] as? Bool, true)
        XCTAssertEqual(json["target_modules"] as? [String], ["attn.c_attn", "mlp.c_proj"])
        XCTAssertEqual(json["r"] as? Int, 2)
        XCTAssertEqual(json["lora_alpha"] as? Double, 6)
        XCTAssertEqual(json["peft_type"] as? String, "LORA")
        // A full checkpoint has no adapters to export.
        var full = try Trainer(model: model.withoutAdapters, parameters: model.merged(p), data: data, options: o)
        _ = try full.trainStep()
        let fullURL = try full.saveCheckpoint(in: dir.appendingPathComponent("full"), extraFiles: [ModelCard.fileName: try card.encoded()])
        XCTAssertThrowsError(try ModelExport.export(try CheckpointReader.open(fullURL), format: .peft, to: dir.appendingPathComponent("x"))) { e in
            XCTAssertTrue("\(e)".contains("not a LoRA checkpoint"), "\(e)")
        }
    }
}
