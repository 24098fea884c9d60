import Autograd
import Checkpoints
import Datasets
import Foundation
import Models
import NN

/// Import of someone else's weights as a step-0 checkpoint: a Hugging Face directory
/// (`config.json` + `model.safetensors`, GPT-2 or Llama) or a llama2.c `.bin`
/// (`Llama2c.read`, which already permutes wq/wk from llama2.c's adjacent-pair RoPE into
/// the rotate-half layout our Llama uses, `RopeLayout.halves`).
public enum ModelImport {
    /// What an import produced.
    public struct Imported {
        public var config: ModelConfig
        /// HF-named tensors in the model's parameter order.
        public var parameters: Parameters
        public var bos: Int?
        public var eos: Int?

        public init(config: ModelConfig, parameters: Parameters, bos: Int?, eos: Int?) {
            self.config = config
            self.parameters = parameters
            self.bos = bos
            self.eos = eos
        }
    }

    /// Reads `path`: a directory is a Hugging Face model, a file a llama2.c checkpoint.
    public static func read(_ path: URL) throws -> Imported {
        var isDir: ObjCBool = false
        guard FileManager.default.fileExists(atPath: path.path, isDirectory: &isDir) else {
            throw InteropError.invalid(path: path.path, reason: "does not exist; give a Hugging Face model directory or a llama2.c .bin")
        }
        if !isDir.boolValue {
            let m = try Llama2c.read(contentsOf: path)
            let c = m.config
            let config = ModelConfig(family: .llama, vocabSize: c.vocabSize, contextLength: c.seqLen, dim: c.dim, layers: c.layers,
                                     heads: c.heads, kvHeads: c.kvHeads, ffnDim: c.hiddenDim, normEps: 1e-5, ropeTheta: 10000,
                                     tiedEmbeddings: c.tiedEmbeddings)
            return Imported(config: config, parameters: try ordered(m.tensors, config: config, path: path.path), bos: 1, eos: 2)
        }
        let configURL = path.appendingPathComponent("config.json")
        guard let data = try? Data(contentsOf: configURL),
              let j = try? JSONSerialization.jsonObject(with: data) as? [String: Any] else {
            throw InteropError.invalid(path: configURL.path, reason: "missing or not a JSON object; a Hugging Face model directory needs config.json")
        }
        let config = try modelConfig(fromHF: j, path: configURL.path)
        let weightsURL = path.appendingPathComponent("model.safetensors")
        guard FileManager.default.fileExists(atPath: weightsURL.path) else {
            throw InteropError.invalid(path: weightsURL.path, reason: "missing; only single-file safetensors weights are imported")
        }
        var tensors = try SafeTensors.read(contentsOf: weightsURL)
        if config.family == .gpt2 && !tensors.names.contains(where: { $0.hasPrefix("transformer.") }) {
            tensors = tensors.prefixed("transformer.")  // the original gpt2 hub files omit the prefix
        }
        return Imported(config: config, parameters: try ordered(tensors, config: config, path: weightsURL.path),
                        bos: j["bos_token_id"] as? Int, eos: j["eos_token_id"] as? Int)
    }

    /// `ModelConfig` from a GPT2Config or LlamaConfig `config.json`.
    public static func modelConfig(fromHF j: [String: Any], path: String) throws -> ModelConfig {
        func int(_ k: String) throws -> Int {
            guard let v = j[k] as? Int else { throw InteropError.invalid(path: path, reason: "needs an integer '\(k)'") }
            return v
        }
        func double(_ k: String, _ d: Double) -> Double { (j[k] as? Double) ?? (j[k] as? Int).map(Double.init) ?? d }
        switch j["model_type"] as? String {
        case "llama"?:
            let dim = try int("hidden_size"), heads = try int("num_attention_heads")
            if let hd = j["head_dim"] as? Int, hd != dim / heads {
                throw InteropError.invalid(path: path, reason: "head_dim \(hd) differs from hidden_size / num_attention_heads; not supported")
            }
            return ModelConfig(family: .llama, vocabSize: try int("vocab_size"), contextLength: try int("max_position_embeddings"),
                               dim: dim, layers: try int("num_hidden_layers"), heads: heads,
                               kvHeads: (j["num_key_value_heads"] as? Int) ?? heads, ffnDim: try int("intermediate_size"),
                               normEps: Float(double("rms_norm_eps", 1e-6)), ropeTheta: Float(double("rope_theta", 10000)),
                               tiedEmbeddings: (j["tie_word_embeddings"] as? Bool) ?? false)
        case "gpt2"?:
            let dim = try int("n_embd")
            return ModelConfig(family: .gpt2, vocabSize: try int("vocab_size"), contextLength: try int("n_positions"), dim: dim,
                               layers: try int("n_layer"), heads: try int("n_head"), ffnDim: (j["n_inner"] as? Int) ?? 4 * dim,
                               normEps: Float(double("layer_norm_epsilon", 1e-5)), tiedEmbeddings: true)
        default:
            throw InteropError.invalid(path: path, reason: "model_type \(j["model_type"].map { "\($0)" } ?? "missing") is not gpt2 or llama")
        }
    }

    /// The model's parameters taken from `tensors` in parameter order (see `CheckpointWeights.ordered`).
    static func ordered(_ tensors: NamedTensors, config: ModelConfig, path: String) throws -> Parameters {
        try CheckpointWeights.ordered(tensors, model: try CheckpointWeights.decoder(config, lora: nil, file: path), path: path)
    }

    /// The recipe `model:` section for `config`, to paste into a recipe that fine-tunes it.
    public static func recipeModelYAML(_ c: ModelConfig) -> String {
        var y = "model:\n  family: \(c.family.rawValue)\n  vocab_size: \(c.vocabSize)\n  context_length: \(c.contextLength)\n"
        y += "  dim: \(c.dim)\n  layers: \(c.layers)\n  heads: \(c.heads)\n"
        if c.family == .llama { y += "  kv_heads: \(c.kvHeads)\n" }
        y += "  ffn_dim: \(c.ffnDim)\n  norm_eps: \(c.normEps)\n"
        if c.family == .llama { y += "  rope_theta: \(c.ropeTheta)\n" }
        y += "  tied_embeddings: \(c.tiedEmbeddings)\n"
        return y
    }

    /// Writes `imported` as `runDirectory/step-0000000`: model.safetensors, the model card
    /// (the shape, the `plain` template: an imported base model was not instruction-tuned
    /// here; stop at its EOS), model.yaml (the recipe `model:` section, to paste) and the
    /// tokenizer file when given (`tokenizer.json` for a JSON file, else `tokenizer.bin`, the
    /// llama2.c format). Returns the directory.
    public static func save(_ imported: Imported, in runDirectory: URL, tokenizer: URL?, source: String? = nil) throws -> URL {
        var files: [String: CheckpointFile] = [:]
        files["model.safetensors"] = .tensors(NamedTensors(imported.parameters.pairs.map { ($0.name, $0.tensor) },
                                                           metadata: ["format": "pt", "producer": "instructkit import"]))
        files["model.yaml"] = .bytes(Data(recipeModelYAML(imported.config).utf8))
        var tokenizerFile = ""
        if let tokenizer {
            let data: Data
            do { data = try Data(contentsOf: tokenizer) } catch {
                throw InteropError.invalid(path: tokenizer.path, reason: "cannot read the tokenizer (\(error.localizedDescription))")
            }
            tokenizerFile = tokenizer.pathExtension == "json" ? "tokenizer.json" : "tokenizer.bin"
            files[tokenizerFile] = .bytes(data)
        }
        let card = ModelCard(config: imported.config, tokenizer: tokenizerFile, template: .plain,
                             bosTokenID: imported.bos.map(Int32.init), stopTokenIDs: imported.eos.map { [Int32($0)] } ?? [],
                             source: source)
        files[ModelCard.fileName] = .bytes(try card.encoded())
        return try CheckpointWriter.save(step: 0, in: runDirectory, files: files, keepLast: nil)
    }
}
