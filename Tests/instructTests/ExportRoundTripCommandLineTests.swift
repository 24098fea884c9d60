import Checkpoints
import Foundation
import XCTest

/// Exports that other tools load, checked by reading them back through the binary: GGUF ->
/// import -> LoRA fine-tune -> merge -> GGUF export -> import again gives the fine-tuned
/// model's logits; an HF export carries the chat template and every stop id.
final class ExportRoundTripCommandLineTests: XCTestCase {
    func run(_ args: [String], in dir: URL) throws -> CLI.Result {
        let r = try CLI.run(args, in: dir)
        XCTAssertEqual(r.status, 0, "\(args.joined(separator: " ")): \(r.err)")
        return r
    }

    /// The logits `export --dump-logits` writes for a fixed token row.
    func logits(_ checkpoint: String, in dir: URL) throws -> [[Double]] {
        let file = "logits-\(UUID().uuidString).json"
        _ = try run(["export", checkpoint, "--merge", "--format", "safetensors", "--out", "scratch-\(UUID().uuidString).safetensors",
                     "--dump-logits", file, "--logit-tokens", "5,17,42,9,3,11"], in: dir)
        let object = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(contentsOf: dir.appendingPathComponent(file))) as? [String: Any])
        return try XCTUnwrap(object["logits"] as? [[Double]])
    }

    func test_ggufImportLoRAMergeExportImport_sameLogitsAsTheFineTunedCheckpoint() throws {
        let dir = try CLI.tinyProject("gguf-roundtrip", synthSeed: 4, train: 200, heldout: 8, recipeSeed: 3,
                                      training: "{batch_size: 4, max_steps: 3, threads: 1, warmup_steps: 0, lr: 1e-3}",
                                      extra: "output: {dir: base-run}")
        let recipe = try String(contentsOf: dir.appendingPathComponent("r.yaml"), encoding: .utf8)
            .replacingOccurrences(of: "template: plain", with: "template: chatml")
            .replacingOccurrences(of: "tokenizer: {train: {vocab_size: 300}}",
                                  with: "tokenizer: {train: {vocab_size: 300, special_tokens: [\"<|endoftext|>\", \"<|im_start|>\", \"<|im_end|>\"]}}")
        try recipe.write(to: dir.appendingPathComponent("r.yaml"), atomically: true, encoding: .utf8)
        _ = try run(["train", "r.yaml"], in: dir)

        // A GGUF of the trained model imports to the same answers, through its chat template.
        _ = try run(["export", "base-run", "--format", "gguf", "--out", "base.gguf"], in: dir)
        let imported = try run(["import", "base.gguf", "--out", "base-gguf"], in: dir)
        XCTAssertTrue(imported.out.contains("chat template: the source's"), imported.out)
        for args in [["--prompt", "Sort the numbers.", "--input", "3 1 2"], ["--raw", "--prompt", "Sort"]] {
            let a = try run(["generate", "base-run", "--max-new-tokens", "8", "--threads", "1"] + args, in: dir)
            let b = try run(["generate", "base-gguf", "--max-new-tokens", "8", "--threads", "1"] + args, in: dir)
            XCTAssertEqual(a.out, b.out, args.joined(separator: " "))
        }

        // LoRA on the import (model.init alone gives shape, tokenizer and template), merged into a GGUF.
        let lora = """
            seed: 5
            data: {datasets: [{path: synth/train.jsonl}], seq_len: 64, cache_dir: null}
            model: {init: base-gguf}
            finetune: {method: lora, rank: 4, alpha: 8, targets: [q, k, v, o, gate, up, down]}
            training: {batch_size: 4, max_steps: 3, threads: 1, warmup_steps: 0, lr: 5e-3}
            output: {dir: lora}
            """
        try lora.write(to: dir.appendingPathComponent("lora.yaml"), atomically: true, encoding: .utf8)
        _ = try run(["train", "lora.yaml"], in: dir)
        _ = try run(["export", "lora", "--merge", "--format", "gguf", "--out", "tuned.gguf"], in: dir)
        _ = try run(["import", "tuned.gguf", "--out", "tuned"], in: dir)
        // transformers stops only at a GGUF's eos_token_id: it is the chat template's end of
        // turn (as in SmolLM2's own GGUF), and the tokenizer's end of text goes to eot_token_id.
        let gguf = try GGUFFile(contentsOf: dir.appendingPathComponent("tuned.gguf"))
        let vocabulary = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(contentsOf: dir.appendingPathComponent("lora/tokenizer.json"))) as? [String: Any])
        let added = try XCTUnwrap(vocabulary["added_tokens"] as? [[String: Any]])
        let imEnd = try XCTUnwrap(added.first { $0["content"] as? String == "<|im_end|>" }?["id"] as? Int, "the chatml run's tokenizer has <|im_end|>")
        XCTAssertEqual(gguf.value("tokenizer.ggml.eos_token_id"), .uint32(UInt32(imEnd)))
        let cards = try ["lora", "tuned"].map { name -> [Int] in
            let run = dir.appendingPathComponent(name)
            let step = try String(contentsOf: run.appendingPathComponent("latest"), encoding: .utf8).trimmingCharacters(in: .whitespacesAndNewlines)
            let card = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(contentsOf: run.appendingPathComponent("\(step)/model_card.json"))) as? [String: Any])
            return try XCTUnwrap(card["stop_token_ids"] as? [Int])
        }
        XCTAssertEqual(Set(cards[0]), Set(cards[1]), "the GGUF keeps every stop id")
        let tuned = try logits("lora", in: dir), again = try logits("tuned", in: dir), base = try logits("base-gguf", in: dir)
        var largest = 0.0, moved = 0.0
        for (row, (a, b)) in zip(tuned, again).enumerated() {
            for (x, y) in zip(a, b) { largest = max(largest, abs(x - y)) }
            for (x, y) in zip(a, base[row]) { moved = max(moved, abs(x - y)) }
        }
        XCTAssertLessThan(largest, 1e-4, "merged GGUF vs the LoRA checkpoint (adapters unmerged)")
        XCTAssertGreaterThan(moved, 1e-3, "fine-tuning moved the logits, so the comparison means something")
        let answer = try run(["generate", "tuned", "--prompt", "Sort the numbers.", "--input", "3 1 2", "--max-new-tokens", "8",
                              "--threads", "1"], in: dir)
        let fromLoRA = try run(["generate", "lora", "--prompt", "Sort the numbers.", "--input", "3 1 2", "--max-new-tokens", "8",
                                "--threads", "1"], in: dir)
        XCTAssertEqual(answer.out, fromLoRA.out)

        // HF export: the files transformers needs, the chat template and every stop id.
        _ = try run(["export", "lora", "--merge", "--format", "hf", "--out", "hf"], in: dir)
        let hf = dir.appendingPathComponent("hf")
        let files = try FileManager.default.contentsOfDirectory(atPath: hf.path)
        for name in ["config.json", "generation_config.json", "model.safetensors", "tokenizer.json", "tokenizer_config.json", "chat_template.jinja"] {
            XCTAssertTrue(files.contains(name), "\(name) in \(files)")
        }
        let template = try String(contentsOf: hf.appendingPathComponent("chat_template.jinja"), encoding: .utf8)
        XCTAssertTrue(template.contains("<|im_start|>"), template)
        _ = try run(["import", "hf", "--out", "hf-again"], in: dir)
        XCTAssertEqual(try run(["generate", "hf-again", "--prompt", "Sort the numbers.", "--input", "3 1 2", "--max-new-tokens", "8",
                                "--threads", "1"], in: dir).out, answer.out)
        let refused = try CLI.run(["export", "lora", "--format", "gguf", "--out", "x.gguf"], in: dir)
        XCTAssertEqual(refused.status, 1)
        XCTAssertTrue(refused.err.contains("--merge"), refused.err)
    }
}
