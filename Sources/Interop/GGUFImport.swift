import Autograd
import Checkpoints
import Foundation
import Models
import NN

/// A GGUF model (llama.cpp, ollama) as a Llama: `llama.*` metadata becomes the model config,
/// tensors are de-quantized to float32 and renamed to Hugging Face names, and q/k are permuted
/// back from llama.cpp's adjacent-pair RoPE layout to the rotate-half layout our Llama (and
/// transformers) use. The tokenizer and chat template come from `tokenizer.ggml.*` and
/// `tokenizer.chat_template` (`GGUFImport+Tokenizer.swift`).
enum GGUFImport {
    /// The architectures a GGUF file may declare here (`general.architecture`).
    static let architectures = ["llama"]

    static func read(_ url: URL) throws -> ModelImport.Imported {
        let file = try GGUFFile(contentsOf: url)
        let config = try modelConfig(file)
        // Before the per-tensor list below (a billion blocks would be a billion entries) and
        // before any tensor is de-quantized.
        try ModelImport.checkSize(config, path: url.path, keys: .gguf, fileTensors: file.tensorInfos.count)
        let model = try CheckpointWeights.decoder(config, lora: nil, file: url.path)
        var out: [(String, Tensor)] = []
        for (name, shape) in model.parameterShapes {
            guard let ggufName = ggufName(of: name) else {
                throw InteropError.invalid(path: url.path, reason: "no GGUF tensor corresponds to '\(name)'")
            }
            guard file.tensorInfo(named: ggufName) != nil else {
                throw InteropError.invalid(path: url.path, reason: "has no tensor '\(ggufName)' (for \(name)); the file is incomplete or not a Llama")
            }
            var t = try file.tensor(named: ggufName)
            guard t.shape == shape else {
                throw InteropError.invalid(path: url.path, reason: "tensor '\(ggufName)' is \(t.shape), the metadata's shape wants \(shape) (\(name))")
            }
            if name.hasSuffix("q_proj.weight") { t = Llama2c.pairsToHalves(t, heads: config.heads, headDim: config.headDim) }
            if name.hasSuffix("k_proj.weight") { t = Llama2c.pairsToHalves(t, heads: config.kvHeads, headDim: config.headDim) }
            out.append((name, t))
        }
        let known = Set(model.parameterShapes.compactMap { ggufName(of: $0.name) })
        if let extra = file.tensorInfos.map(\.name).first(where: { !known.contains($0) && !(config.tiedEmbeddings == false && $0 == "output.weight") }) {
            throw InteropError.unsupported(path: url.path, key: extra,
                                           reason: "a tensor this Llama does not have (for example rope_freqs.weight for Llama 3.1's RoPE scaling); importing without it would compute another model")
        }
        var imported = ModelImport.Imported(config: config, parameters: Parameters(out), source: url.path)
        try addTokenizer(file, to: &imported)
        return imported
    }

    /// `ModelConfig` from `general.architecture` and its `llama.*` keys. Keys that would change
    /// the computation and are not implemented (RoPE scaling, experts, a partial rotary
    /// dimension) are refused naming the key.
    static func modelConfig(_ file: GGUFFile) throws -> ModelConfig {
        let arch = try file.string("general.architecture")
        guard architectures.contains(arch) else {
            throw InteropError.unsupported(path: file.path, key: "general.architecture",
                                           reason: "\"\(arch)\" is not an architecture InstructKit has; supported: \(architectures.joined(separator: ", "))")
        }
        func key(_ k: String) -> String { arch + "." + k }
        let dim = try file.int(key("embedding_length"))
        let heads = try file.int(key("attention.head_count"))
        let kvHeads = file.contains(key: key("attention.head_count_kv")) ? try file.int(key("attention.head_count_kv")) : heads
        guard heads > 0, dim % heads == 0 else {
            throw InteropError.invalid(path: file.path, reason: "\(key("embedding_length")) \(dim) is not a multiple of \(key("attention.head_count")) \(heads)")
        }
        if file.contains(key: key("rope.dimension_count")), try file.int(key("rope.dimension_count")) != dim / heads {
            throw InteropError.unsupported(path: file.path, key: key("rope.dimension_count"),
                                           reason: "\(try file.int(key("rope.dimension_count"))): RoPE on part of each head is not implemented (head size \(dim / heads))")
        }
        if file.contains(key: key("rope.scaling.type")), try file.string(key("rope.scaling.type")) != "none" {
            throw InteropError.unsupported(path: file.path, key: key("rope.scaling.type"),
                                           reason: "\"\(try file.string(key("rope.scaling.type")))\": RoPE scaling is not implemented, only the default RoPE")
        }
        for k in ["expert_count", "attention.key_length", "attention.value_length", "attention.sliding_window"] where file.contains(key: key(k)) {
            if k.hasSuffix("_length"), try file.int(key(k)) == dim / heads { continue }
            throw InteropError.unsupported(path: file.path, key: key(k), reason: "is not implemented for this Llama")
        }
        guard let embedding = file.tensorInfo(named: "token_embd.weight"), embedding.shape.count == 2 else {
            throw InteropError.invalid(path: file.path, reason: "has no 2-D tensor 'token_embd.weight'")
        }
        let vocab = file.contains(key: key("vocab_size")) ? try file.int(key("vocab_size")) : embedding.shape[0]
        return ModelConfig(family: .llama, vocabSize: vocab, contextLength: try file.int(key("context_length")), dim: dim,
                           layers: try file.int(key("block_count")), heads: heads, kvHeads: kvHeads,
                           ffnDim: try file.int(key("feed_forward_length")),
                           normEps: Float(try file.float(key("attention.layer_norm_rms_epsilon"))),
                           ropeTheta: Float(file.contains(key: key("rope.freq_base")) ? try file.float(key("rope.freq_base")) : 10000),
                           tiedEmbeddings: file.tensorInfo(named: "output.weight") == nil)
    }

    /// The GGUF name (llama.cpp's) of a Hugging Face Llama parameter name.
    static func ggufName(of name: String) -> String? {
        switch name {
        case "model.embed_tokens.weight": return "token_embd.weight"
        case "model.norm.weight": return "output_norm.weight"
        case "lm_head.weight": return "output.weight"
        default: break
        }
        let parts = name.split(separator: ".")
        guard parts.count >= 5, parts[0] == "model", parts[1] == "layers", let layer = Int(parts[2]) else { return nil }
        let rest = parts[3...].joined(separator: ".")
        let map = ["self_attn.q_proj.weight": "attn_q.weight", "self_attn.k_proj.weight": "attn_k.weight",
                   "self_attn.v_proj.weight": "attn_v.weight", "self_attn.o_proj.weight": "attn_output.weight",
                   "mlp.gate_proj.weight": "ffn_gate.weight", "mlp.up_proj.weight": "ffn_up.weight",
                   "mlp.down_proj.weight": "ffn_down.weight", "input_layernorm.weight": "attn_norm.weight",
                   "post_attention_layernorm.weight": "ffn_norm.weight"]
        return map[rest].map { "blk.\(layer).\($0)" }
    }
}
