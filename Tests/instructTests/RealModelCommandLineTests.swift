import Autograd
import Checkpoints
import Foundation
import Interop
import Models
import XCTest

/// A real pretrained model through the binary, as a user runs it: `instruct import` of the
/// SmolLM2 GGUF (scripts/fetch-smollm2.sh), then `generate`, `chat` and a LoRA recipe that
/// names only `model.init`; and bad model files refused with nothing written.
final class RealModelCommandLineTests: XCTestCase {
    static let gguf = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent().appendingPathComponent("models/SmolLM2-135M-Instruct.Q4_1.gguf")
    static var shared: URL?

    /// A directory with the GGUF imported into `smollm2/` (once for the class).
    func imported() throws -> URL {
        guard FileManager.default.fileExists(atPath: Self.gguf.path) else {
            // The model is fetched by scripts/fetch-smollm2.sh, not committed; CI fetches it first, so there this runs.
            throw XCTSkip("\(Self.gguf.path) is absent: run scripts/fetch-smollm2.sh to test the real model through the binary (CI does)")
        }
        if let d = Self.shared { return d }
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("instruct-real-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        let r = try CLI.run(["import", Self.gguf.path, "--out", "smollm2"], in: dir)
        XCTAssertEqual(r.status, 0, r.err)
        XCTAssertTrue(r.out.contains("30 layers") && r.out.contains("chat template: the source's"), r.out)
        Self.shared = dir
        return dir
    }

    func test_importGGUF_generateAndChat_answerInTheModelsChatFormat() throws {
        let dir = try imported()
        let g = try CLI.run(["generate", "smollm2", "--prompt", "What is the capital of France?", "--max-new-tokens", "24"], in: dir)
        XCTAssertEqual(g.status, 0, g.err)
        XCTAssertEqual(g.out, "The capital of France is Paris.\n")
        XCTAssertTrue(g.err.contains("37 prompt tokens") && g.err.contains("stop: eos"), g.err)
        let raw = try CLI.run(["generate", "smollm2", "--raw", "--max-new-tokens", "24", "--prompt",
                               "<|im_start|>user\nWhat is the capital of France?<|im_end|>\n<|im_start|>assistant\n"], in: dir)
        XCTAssertEqual(raw.status, 0, raw.err)
        XCTAssertEqual(raw.out, "The capital of France is Paris.\n", "special-token texts in a --raw prompt are their ids")
        let chat = try CLI.run(["chat", "smollm2", "--max-new-tokens", "24"], in: dir,
                               stdin: "What is the capital of France?\nAnd of Germany?\n/exit\n")
        XCTAssertEqual(chat.status, 0, chat.err)
        XCTAssertTrue(chat.out.contains("Paris") && chat.out.contains("Berlin"), chat.out)
        XCTAssertFalse(chat.out.contains("<|im_end|>"), "special tokens are never printed: \(chat.out)")
    }

    /// A recipe that names only `model.init` gets the shape, tokenizer and chat template from
    /// it; a recipe that states another shape is refused naming the key.
    func test_loraRecipe_withOnlyModelInit_trainsInTheModelsChatTemplate() throws {
        let dir = try imported()
        let data = (0..<8).map { i in "{\"messages\": [{\"role\": \"user\", \"content\": \"Say \(i).\"}, {\"role\": \"assistant\", \"content\": \"\(i)\"}]}" }
        try (data.joined(separator: "\n") + "\n").write(to: dir.appendingPathComponent("chat.jsonl"), atomically: true, encoding: .utf8)
        let recipe = """
            data: {datasets: [{path: chat.jsonl}], seq_len: 64, cache_dir: null}
            model: {init: smollm2}
            finetune: {method: lora, rank: 2, targets: [q, v]}
            training: {batch_size: 2, max_steps: 2, threads: 2, warmup_steps: 0, lr: 1e-3}
            output: {dir: lora}
            """
        try recipe.write(to: dir.appendingPathComponent("lora.yaml"), atomically: true, encoding: .utf8)
        let inspect = try CLI.run(["data", "inspect", "lora.yaml"], in: dir)
        XCTAssertEqual(inspect.status, 0, inspect.err)
        XCTAssertTrue(inspect.out.contains("<|im_start|>user"), inspect.out)
        let train = try CLI.run(["train", "lora.yaml"], in: dir)
        XCTAssertEqual(train.status, 0, train.err)
        let resolved = try String(contentsOf: dir.appendingPathComponent("lora/recipe.resolved.yaml"), encoding: .utf8)
        XCTAssertTrue(resolved.contains("layers: 30") && resolved.contains("dim: 576"), resolved)
        let card = try ModelCard.read(from: try CheckpointReader.open(try CheckpointDirectory.resolve(dir.appendingPathComponent("lora").path)))
        guard case .jinja = card.template else { return XCTFail("the run's card should carry the model's chat template: \(card.template)") }
        XCTAssertEqual(card.stopTokenIDs.contains(2), true)

        let bad = recipe.replacingOccurrences(of: "model: {init: smollm2}", with: "model: {init: smollm2, dim: 512}")
        try bad.write(to: dir.appendingPathComponent("bad.yaml"), atomically: true, encoding: .utf8)
        let refused = try CLI.run(["train", "bad.yaml", "output.dir=bad"], in: dir)
        XCTAssertEqual(refused.status, 1)
        XCTAssertTrue(refused.err.contains("model.dim") && refused.err.contains("576"), refused.err)
    }

    /// A truncated GGUF, an architecture we do not have, and a tokenizer component we do not
    /// implement are refused naming what, with nothing written.
    func test_badModelFiles_areRefusedByName_nothingWritten() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("instruct-badmodel-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        var rng = RNG(seed: 1)
        let config = ModelConfig(family: .llama, vocabSize: 40, contextLength: 32, dim: 16, layers: 1, heads: 2, ffnDim: 32)
        let p = try DecoderModel(config).initialParameters(rng: &rng)
        try GGUFExport.modelWriter(config: config, parameters: p, type: .f32, name: "t").write(to: dir.appendingPathComponent("m.gguf"))
        let bytes = try Data(contentsOf: dir.appendingPathComponent("m.gguf"))
        try bytes.prefix(bytes.count - 100).write(to: dir.appendingPathComponent("cut.gguf"))
        var qwen = GGUFWriter()
        try qwen.add("general.architecture", .string("qwen2"))
        try qwen.write(to: dir.appendingPathComponent("qwen.gguf"))
        let hf = dir.appendingPathComponent("hf")
        try FileManager.default.createDirectory(at: hf, withIntermediateDirectories: true)
        let config5: [String: Any] = ["model_type": "llama", "hidden_size": 16, "intermediate_size": 32, "num_hidden_layers": 1,
                                      "num_attention_heads": 2, "vocab_size": 40, "max_position_embeddings": 32, "tie_word_embeddings": true]
        try JSONSerialization.data(withJSONObject: config5).write(to: hf.appendingPathComponent("config.json"))
        try SafeTensors.write(NamedTensors(p.pairs.map { ($0.name, $0.tensor) }), to: hf.appendingPathComponent("model.safetensors"))
        let tokenizer = #"{"model": {"type": "BPE", "vocab": {"a": 0}, "merges": []}, "pre_tokenizer": {"type": "BertPreTokenizer"}}"#
        try tokenizer.write(to: hf.appendingPathComponent("tokenizer.json"), atomically: true, encoding: .utf8)
        for (source, expected) in [("cut.gguf", "cut.gguf"), ("qwen.gguf", "supported: llama"), ("hf", "BertPreTokenizer")] {
            let r = try CLI.run(["import", source, "--out", "out-\(source)"], in: dir)
            XCTAssertEqual(r.status, 1, "\(source): \(r.out)")
            XCTAssertTrue(r.err.contains(expected), "\(source): \(r.err)")
            XCTAssertFalse(FileManager.default.fileExists(atPath: dir.appendingPathComponent("out-\(source)").path), source)
        }
        XCTAssertEqual(try CLI.run(["import", "m.gguf", "--out", "ok"], in: dir).status, 0)
    }
}
