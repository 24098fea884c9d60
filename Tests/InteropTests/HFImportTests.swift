import Autograd
import Checkpoints
import Foundation
import Inference
@testable import Interop
import Models
import NN
import TestSupport
import XCTest

/// Hugging Face folders as transformers 4.x and 5.x write them: config keys honoured or
/// refused by name, sharded and half-precision weights, EOS lists, chat templates.
final class HFImportTests: XCTestCase {
    static let llama = ModelConfig(family: .llama, vocabSize: 40, contextLength: 32, dim: 16, layers: 2, heads: 4, kvHeads: 2,
                                   ffnDim: 24, ropeTheta: 100000, tiedEmbeddings: true)

    /// A transformers-5 style config.json for `llama` (rope_parameters, no top-level rope_theta).
    static func config5(_ extra: [String: Any] = [:]) -> [String: Any] {
        var j: [String: Any] = [
            "architectures": ["LlamaForCausalLM"], "model_type": "llama", "hidden_size": 16, "intermediate_size": 24,
            "num_hidden_layers": 2, "num_attention_heads": 4, "num_key_value_heads": 2, "vocab_size": 40,
            "max_position_embeddings": 32, "rms_norm_eps": 1e-5, "hidden_act": "silu", "attention_bias": false, "mlp_bias": false,
            "attention_dropout": 0.0, "head_dim": 4, "tie_word_embeddings": true, "bos_token_id": 1, "eos_token_id": 2,
            "pretraining_tp": 1, "use_cache": true, "dtype": "float32", "transformers_version": "5.25.0",
            "rope_parameters": ["rope_theta": 100000.0, "rope_type": "default"],
        ]
        for (k, v) in extra { j[k] = v }
        return j
    }

    func folder(config: [String: Any], files: [String: Data] = [:], weights: Parameters? = nil) throws -> URL {
        let dir = try temporaryDirectory("instructkit-hf")
        try JSONSerialization.data(withJSONObject: config).write(to: dir.appendingPathComponent("config.json"))
        if let weights {
            try SafeTensors.write(NamedTensors(weights.pairs.map { ($0.name, $0.tensor) }), to: dir.appendingPathComponent("model.safetensors"))
        }
        for (name, data) in files { try data.write(to: dir.appendingPathComponent(name)) }
        return dir
    }

    func randomWeights(_ config: ModelConfig = llama, seed: UInt64 = 4) throws -> Parameters {
        var rng = RNG(seed: seed)
        return try DecoderModel(config).initialParameters(rng: &rng)
    }

    func test_transformers5Config_ropeParametersGiveTheta_eosListsMerge() throws {
        let p = try randomWeights()
        let gen = try JSONSerialization.data(withJSONObject: ["eos_token_id": [2, 7], "bos_token_id": 1])
        let dir = try folder(config: Self.config5(), files: ["generation_config.json": gen], weights: p)
        let imported = try ModelImport.read(dir)
        XCTAssertEqual(imported.config, Self.llama)
        XCTAssertEqual(imported.config.ropeTheta, 100000)
        XCTAssertEqual(imported.stopTokenIDs, [2, 7])
        XCTAssertEqual(imported.bos, 1)
        XCTAssertEqual(imported.parameters.names, p.names)
    }

    func test_transformers4Config_topLevelRopeTheta_andEOSAsList() throws {
        var j = Self.config5(["rope_theta": 100000.0, "eos_token_id": [2, 3]])
        j["rope_parameters"] = nil
        let imported = try ModelImport.read(try folder(config: j, weights: try randomWeights()))
        XCTAssertEqual(imported.config.ropeTheta, 100000)
        XCTAssertEqual(imported.stopTokenIDs, [2, 3])
    }

    /// Every key that would change the computation and is not implemented is refused by name.
    func test_unimplementedOrUnknownKeys_areRefusedNamingTheKey() throws {
        let p = try randomWeights()
        let cases: [([String: Any], String)] = [
            (["rope_parameters": ["rope_theta": 10000.0, "rope_type": "llama3", "factor": 8.0]], "rope_parameters"),
            (["rope_scaling": ["type": "linear", "factor": 2.0]], "rope_scaling"),
            (["hidden_act": "gelu"], "hidden_act"),
            (["attention_bias": true], "attention_bias"),
            (["mlp_bias": true], "mlp_bias"),
            (["sliding_window": 4096], "sliding_window"),
            (["head_dim": 8], "head_dim"),
            (["some_new_key": 1], "some_new_key"),
            (["model_type": "qwen2"], "model_type"),
            (["rope_theta": 5000.0], "rope_parameters.rope_theta"),
        ]
        for (extra, key) in cases {
            let dir = try folder(config: Self.config5(extra), weights: p)
            XCTAssertThrowsError(try ModelImport.read(dir), key) { error in
                guard case let .unsupported(path, k, _)? = error as? InteropError else { return XCTFail("\(key): \(error)") }
                XCTAssertEqual(k, key)
                XCTAssertTrue(path.hasSuffix("config.json"), path)
            }
        }
    }

    func test_fewerLayersInConfigThanWeights_orMissingTensor_isAnError() throws {
        var p = try randomWeights()
        let dir = try folder(config: Self.config5(["num_hidden_layers": 3]), weights: p)
        XCTAssertThrowsError(try ModelImport.read(dir)) { error in
            XCTAssertTrue("\(error)".contains("model.layers.2"), "\(error)")
        }
        XCTAssertThrowsError(try ModelImport.read(try folder(config: Self.config5(["num_hidden_layers": 1]), weights: p))) { error in
            XCTAssertTrue("\(error)".contains("model.layers.1") && "\(error)".contains("disagree"), "\(error)")
        }
        p = Parameters(p.pairs.filter { $0.name != "model.norm.weight" }.map { ($0.name, $0.tensor) })
        XCTAssertThrowsError(try ModelImport.read(try folder(config: Self.config5(), weights: p))) { error in
            XCTAssertTrue("\(error)".contains("model.norm.weight"), "\(error)")
        }
    }

    /// Shards listed in model.safetensors.index.json, one of them in BF16, read as float32.
    func test_shardedWeights_withBF16Shard_loadLikeOneFile() throws {
        let p = try randomWeights()
        let dir = try folder(config: Self.config5())
        let names = p.names
        let half = names.count / 2
        var map: [String: String] = [:]
        try SafeTensors.write(NamedTensors(names[..<half].map { ($0, p[$0]) }), to: dir.appendingPathComponent("model-00001-of-00002.safetensors"))
        for n in names[..<half] { map[n] = "model-00001-of-00002.safetensors" }
        try Self.bf16SafeTensors(names[half...].map { ($0, p[$0]) }).write(to: dir.appendingPathComponent("model-00002-of-00002.safetensors"))
        for n in names[half...] { map[n] = "model-00002-of-00002.safetensors" }
        try JSONSerialization.data(withJSONObject: ["metadata": [:], "weight_map": map])
            .write(to: dir.appendingPathComponent("model.safetensors.index.json"))
        let imported = try ModelImport.read(dir)
        for n in names[..<half] { XCTAssertEqual(imported.parameters[n].scalars, p[n].scalars, n) }
        for n in names[half...] {
            // BF16 keeps the top 16 bits (round to nearest even): within 2^-8 relative.
            for (a, b) in zip(imported.parameters[n].scalars, p[n].scalars) { XCTAssertEqual(a, b, accuracy: abs(b) / 128 + 1e-30, n) }
        }
        map[names[0]] = "model-00002-of-00002.safetensors"
        try JSONSerialization.data(withJSONObject: ["weight_map": map]).write(to: dir.appendingPathComponent("model.safetensors.index.json"))
        XCTAssertThrowsError(try ModelImport.read(dir)) { error in
            XCTAssertTrue("\(error)".contains(names[0]) && "\(error)".contains("index"), "\(error)")
        }
    }

    /// chat_template.jinja (transformers 5) or tokenizer_config.json's chat_template becomes
    /// the card's template, with the BOS/EOS texts; generation renders prompts with it.
    func test_chatTemplate_fromJinjaFileOrTokenizerConfig_goesIntoTheCard() throws {
        let p = try randomWeights()
        let template = "{% for m in messages %}<|im_start|>{{ m['role'] }}\n{{ m['content'] }}<|im_end|>\n{% endfor %}{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}"
        let tokenizerConfig = try JSONSerialization.data(withJSONObject: ["chat_template": template, "eos_token": ["content": "<|im_end|>"], "bos_token": "<|im_start|>"])
        for files in [["chat_template.jinja": Data(template.utf8)], ["tokenizer_config.json": tokenizerConfig]] {
            let dir = try folder(config: Self.config5(), files: files, weights: p)
            let imported = try ModelImport.read(dir)
            XCTAssertEqual(imported.chatTemplate, template)
            let saved = try ModelImport.save(imported, in: dir.appendingPathComponent("run"))
            let card = try ModelCard.read(from: try CheckpointReader.open(saved))
            guard case let .jinja(chat) = card.template else { return XCTFail("\(card.template)") }
            XCTAssertEqual(chat.source, template)
            XCTAssertEqual(try chat.text([.init(role: .user, content: "hi")], addGenerationPrompt: true),
                           "<|im_start|>user\nhi<|im_end|>\n<|im_start|>assistant\n")
            XCTAssertEqual(card.stopTokenIDs, [2])
        }
    }

    /// A safetensors file whose tensors are stored as BF16 (round to nearest even).
    static func bf16SafeTensors(_ tensors: [(String, Tensor)]) throws -> Data {
        var header: [String: Any] = ["__metadata__": ["format": "pt"]]
        var body = Data()
        for (name, t) in tensors {
            let start = body.count
            for x in t.scalars {
                let bits = x.bitPattern
                let rounded = (bits &+ 0x7FFF &+ ((bits >> 16) & 1)) >> 16
                withUnsafeBytes(of: UInt16(rounded).littleEndian) { body.append(contentsOf: $0) }
            }
            header[name] = ["dtype": "BF16", "shape": t.shape, "data_offsets": [start, body.count]]
        }
        var json = try JSONSerialization.data(withJSONObject: header)
        while json.count % 8 != 0 { json.append(0x20) }
        var out = Data()
        withUnsafeBytes(of: UInt64(json.count).littleEndian) { out.append(contentsOf: $0) }
        return out + json + body
    }
}
