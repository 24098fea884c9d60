import Foundation
import XCTest

/// LoRA through the binary: train adapters on a base, resume, export merged and as PEFT,
/// generate, and the bad inputs a user can give (unknown target, rank too large, a base
/// whose weights changed).
final class LoRACommandLineTests: XCTestCase {
    @discardableResult
    func run(_ args: [String], in dir: URL) throws -> CLI.Result { try CLI.run(args, in: dir) }

    /// A directory with synth data, a trained base run `base/` and `lora.yaml` (LoRA on it).
    func makeRun(steps: Int = 4) throws -> URL {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("instruct-lora-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        XCTAssertEqual(try run(["data", "synth", "--out", "synth", "--seed", "4", "--train", "100", "--heldout", "8"], in: dir).status, 0)
        let base = """
            # test base
            tokenizer: {train: {vocab_size: 300}}
            data: {datasets: [{path: synth/train.jsonl, template: plain}], seq_len: 64, cache_dir: null}
            model: {dim: 32, layers: 1, heads: 2}
            training: {batch_size: 4, max_steps: 2, threads: 1, warmup_steps: 0}
            output: {dir: base}
            """
        try base.write(to: dir.appendingPathComponent("base.yaml"), atomically: true, encoding: .utf8)
        let b = try run(["train", "base.yaml"], in: dir)
        XCTAssertEqual(b.status, 0, b.err)
        let lora = """
            # test lora
            tokenizer: {train: {vocab_size: 300}}
            data: {datasets: [{path: synth/train.jsonl, template: plain}], seq_len: 64, cache_dir: null}
            model: {dim: 32, layers: 1, heads: 2, init: base}
            finetune: {method: lora, rank: 4, alpha: 8, dropout: 0.1, targets: [q, v, down]}
            training: {batch_size: 4, max_steps: \(steps), threads: 1, warmup_steps: 0, lr: 0.02}
            output: {dir: lora}
            """
        try lora.write(to: dir.appendingPathComponent("lora.yaml"), atomically: true, encoding: .utf8)
        return dir
    }

    func test_loraTrainResumeExportGenerate_endToEnd() throws {
        let dir = try makeRun()
        // A run to 4 steps saving at 2; a copy of it cut back to step 2 and resumed must end
        // with the same adapters, bit for bit.
        let straight = try run(["train", "lora.yaml", "training.save_every=2"], in: dir)
        XCTAssertEqual(straight.status, 0, straight.err)
        XCTAssertTrue(straight.out.contains("trainable parameters"), straight.out)
        let ckpt = dir.appendingPathComponent("lora/step-0000004")
        let files = try FileManager.default.contentsOfDirectory(atPath: ckpt.path)
        XCTAssertTrue(files.contains("adapter_model.safetensors") && files.contains("base_model.json"), "\(files)")
        XCTAssertFalse(files.contains("model.safetensors"), "a LoRA checkpoint holds no base weights: \(files)")
        let fm = FileManager.default
        try fm.createDirectory(at: dir.appendingPathComponent("lora2"), withIntermediateDirectories: true)
        try fm.copyItem(at: dir.appendingPathComponent("lora/step-0000002"), to: dir.appendingPathComponent("lora2/step-0000002"))
        try "step-0000002\n".write(to: dir.appendingPathComponent("lora2/latest"), atomically: true, encoding: .utf8)
        let resumed = try run(["train", "lora.yaml", "training.save_every=2", "output.dir=lora2", "--resume", "latest"], in: dir)
        XCTAssertEqual(resumed.status, 0, resumed.err)
        let a = try Data(contentsOf: ckpt.appendingPathComponent("adapter_model.safetensors"))
        let b = try Data(contentsOf: dir.appendingPathComponent("lora2/step-0000004/adapter_model.safetensors"))
        XCTAssertEqual(a, b, "resumed adapters must be bit-identical to the straight run's")

        let noMerge = try run(["export", "lora", "--format", "hf", "--out", "x"], in: dir)
        XCTAssertEqual(noMerge.status, 1)
        XCTAssertTrue(noMerge.err.contains("--merge") && noMerge.err.contains("--format peft"), noMerge.err)
        for format in ["hf", "hdf5"] {
            let out = format == "hf" ? "merged-hf" : "merged.h5"
            let e = try run(["export", "lora", "--merge", "--format", format, "--out", out], in: dir)
            XCTAssertEqual(e.status, 0, e.err)
        }
        let peft = try run(["export", "lora", "--format", "peft", "--out", "peft"], in: dir)
        XCTAssertEqual(peft.status, 0, peft.err)
        let config = try JSONSerialization.jsonObject(with: Data(contentsOf: dir.appendingPathComponent("peft/adapter_config.json"))) as? [String: Any]
        XCTAssertEqual(config?["r"] as? Int, 4)
        XCTAssertEqual(config?["target_modules"] as? [String], ["self_attn.q_proj", "self_attn.v_proj", "mlp.down_proj"])
        let g = try run(["generate", "lora", "--prompt", "Reverse the words.", "--max-new-tokens", "4"], in: dir)
        XCTAssertEqual(g.status, 0, g.err)
        // eval reads the base, merges the adapters, and measures a different model than the base.
        var losses: [Double] = []
        for run_ in ["lora", "base"] {
            let e = try run(["eval", run_, "--data", "synth/heldout.jsonl", "--json", "--limit", "4", "--max-new-tokens", "2",
                             "--threads", "1"], in: dir)
            XCTAssertEqual(e.status, 0, e.err)
            let object = try XCTUnwrap(try JSONSerialization.jsonObject(with: Data(e.out.utf8)) as? [String: Any], e.out)
            losses.append(try XCTUnwrap(object["loss"] as? Double))
        }
        XCTAssertTrue(losses[0].isFinite && losses[0] != losses[1], "\(losses)")

        // The base's weights change: every use of the adapters refuses, naming the file.
        let baseFile = try String(contentsOf: dir.appendingPathComponent("base/latest"), encoding: .utf8)
            .trimmingCharacters(in: .whitespacesAndNewlines)
        let weights = dir.appendingPathComponent("base").appendingPathComponent(baseFile).appendingPathComponent("model.safetensors")
        var bytes = try Data(contentsOf: weights)
        bytes[bytes.count - 1] ^= 0x01
        try bytes.write(to: weights)
        let mismatch = try run(["export", "lora", "--merge", "--format", "hf", "--out", "y"], in: dir)
        XCTAssertEqual(mismatch.status, 1)
        XCTAssertTrue(mismatch.err.contains(weights.standardizedFileURL.path.replacingOccurrences(of: "/private", with: ""))
                      || mismatch.err.contains("model.safetensors"), mismatch.err)
        XCTAssertTrue(mismatch.err.contains("SHA-256") && mismatch.err.contains("trained on"), mismatch.err)
    }

    func test_badLoRARecipes_nameTheKeyAndWhatToDo() throws {
        let dir = try makeRun()
        let target = try run(["train", "lora.yaml", "finetune.targets=[q, qkv]"], in: dir)
        XCTAssertEqual(target.status, 1)
        XCTAssertTrue(target.err.contains("finetune.targets[1]") && target.err.contains("use q, k, v"), target.err)
        let rank = try run(["train", "lora.yaml", "finetune.rank=40"], in: dir)
        XCTAssertEqual(rank.status, 1)
        XCTAssertTrue(rank.err.contains("finetune.rank") && rank.err.contains("at most 32"), rank.err)
    }
}
