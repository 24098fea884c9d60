import Foundation
import Models

/// A Hugging Face `config.json` (GPT2Config or LlamaConfig, as transformers 4.x and 5.x write
/// them) read strictly: every key that changes the math is honoured or refused naming it, and
/// every other key must be one transformers writes for configuration only. An unknown key is
/// an error too: it might change the model, and a model that silently computes something else
/// answers worse with no warning.
public struct HFConfig {
    /// The decoder's shape.
    public var model: ModelConfig
    /// `bos_token_id`, when given.
    public var bosTokenID: Int32?
    /// `eos_token_id`: one id or a list (transformers allows both).
    public var eosTokenIDs: [Int32]

    /// Reads `json` (the parsed config.json at `path`).
    public init(_ json: [String: Any], path: String) throws {
        let r = KeyReader(json: json, path: path)
        switch json["model_type"] as? String {
        case "llama"?: model = try Self.llama(r)
        case "gpt2"?: model = try Self.gpt2(r)
        case let other:
            throw InteropError.unsupported(
                path: path, key: "model_type",
                reason: "\(other.map { "\"\($0)\"" } ?? "missing") is not an architecture InstructKit has; supported: llama (LlamaForCausalLM) and gpt2 (GPT2LMHeadModel)")
        }
        bosTokenID = try r.optionalTokenIDs("bos_token_id").first
        eosTokenIDs = try r.optionalTokenIDs("eos_token_id")
        try r.refuseUnread(harmless: Self.harmless)
    }

    /// Keys transformers writes that configure saving, generation defaults or training only,
    /// not the forward pass.
    static let harmless: Set<String> = [
        "architectures", "model_type", "transformers_version", "torch_dtype", "dtype", "use_cache", "initializer_range",
        "pad_token_id", "bos_token_id", "eos_token_id", "sep_token_id", "decoder_start_token_id", "_name_or_path",
        "is_decoder", "is_encoder_decoder", "return_dict", "output_hidden_states", "output_attentions", "torchscript",
        "tie_encoder_decoder", "_model_name_or_path", "unk_token_id", "chunk_size_feed_forward", "problem_type", "id2label", "label2id", "task_specific_params",
        "finetuning_task", "tokenizer_class", "prefix", "add_cross_attention", "cross_attention_hidden_size",
        "pruned_heads", "quantization_config", "_attn_implementation_autoset", "_from_model_config", "pretraining_tp",
        "max_length", "min_length", "do_sample", "early_stopping", "num_beams", "num_beam_groups", "diversity_penalty",
        "temperature", "top_k", "top_p", "typical_p", "repetition_penalty", "length_penalty", "no_repeat_ngram_size",
        "encoder_no_repeat_ngram_size", "bad_words_ids", "num_return_sequences", "output_scores",
        "return_dict_in_generate", "forced_bos_token_id", "forced_eos_token_id", "remove_invalid_values",
        "exponential_decay_length_penalty", "suppress_tokens", "begin_suppress_tokens", "tf_legacy_loss", "use_bfloat16",
        // Dropout and summary heads: training-time or for other heads; the recipe sets dropout.
        "attention_dropout", "resid_pdrop", "embd_pdrop", "attn_pdrop", "summary_type", "summary_use_proj",
        "summary_activation", "summary_proj_to_labels", "summary_first_dropout", "n_ctx", "reorder_and_upcast_attn",
    ]

    static func llama(_ r: KeyReader) throws -> ModelConfig {
        let dim = try r.int("hidden_size"), heads = try r.int("num_attention_heads")
        let kvHeads = try r.optionalInt("num_key_value_heads") ?? heads
        if let hd = try r.optionalInt("head_dim"), heads > 0, hd != dim / heads {
            throw r.unsupported("head_dim", "\(hd) differs from hidden_size / num_attention_heads (\(dim / max(heads, 1))); this head size is not supported")
        }
        try r.expect("hidden_act", oneOf: ["silu"], reason: "the Llama MLP here is SwiGLU with SiLU")
        try r.expectFalse("attention_bias", reason: "attention projections with biases are not supported")
        try r.expectFalse("mlp_bias", reason: "MLP projections with biases are not supported")
        try r.expectNull("sliding_window", reason: "sliding-window attention is not supported (attention here is over the whole context)")
        let theta = try ropeTheta(r)
        return ModelConfig(family: .llama, vocabSize: try r.int("vocab_size"), contextLength: try r.int("max_position_embeddings"),
                           dim: dim, layers: try r.int("num_hidden_layers"), heads: heads, kvHeads: kvHeads,
                           ffnDim: try r.int("intermediate_size"), normEps: Float(try r.double("rms_norm_eps", default: 1e-6)),
                           ropeTheta: Float(theta), tiedEmbeddings: try r.bool("tie_word_embeddings", default: false))
    }

    /// RoPE's base from `rope_parameters` (transformers 5) or `rope_theta` / `rope_scaling`
    /// (4.x). Only the default RoPE is implemented: any scaling (linear, dynamic, yarn, llama3,
    /// longrope) is refused naming the key.
    static func ropeTheta(_ r: KeyReader) throws -> Double {
        var theta = try r.optionalDouble("rope_theta")
        for key in ["rope_parameters", "rope_scaling"] {
            guard let value = r.take(key), !(value is NSNull) else { continue }
            guard let p = value as? [String: Any] else {
                throw r.unsupported(key, "must be a mapping, found \(value)")
            }
            let type = (p["rope_type"] ?? p["type"]) as? String ?? "default"
            guard type == "default" else {
                throw r.unsupported(key, "rope_type \"\(type)\" (RoPE scaling) is not implemented; only the default RoPE is, so this model would answer wrongly here")
            }
            for k in p.keys where !["rope_type", "type", "rope_theta"].contains(k) {
                throw r.unsupported("\(key).\(k)", "is not implemented for the default RoPE")
            }
            if let t = p["rope_theta"] {
                guard let v = (t as? NSNumber)?.doubleValue else { throw r.unsupported("\(key).rope_theta", "must be a number") }
                if let theta, theta != v { throw r.unsupported("\(key).rope_theta", "\(v) contradicts rope_theta \(theta)") }
                theta = v
            }
        }
        return theta ?? 10000
    }

    static func gpt2(_ r: KeyReader) throws -> ModelConfig {
        let dim = try r.int("n_embd")
        try r.expect("activation_function", oneOf: ["gelu_new", "gelu_pytorch_tanh"], reason: "GPT-2 here uses the tanh approximation of GELU")
        try r.expectTrue("scale_attn_weights", reason: "attention scores are always scaled by 1/sqrt(head size)")
        try r.expectFalse("scale_attn_by_inverse_layer_idx", reason: "per-layer attention scaling is not implemented")
        let inner = try r.optionalInt("n_inner")
        if !(try r.bool("tie_word_embeddings", default: true)) {
            throw r.unsupported("tie_word_embeddings", "false: GPT-2's head here is always the token embedding")
        }
        return ModelConfig(family: .gpt2, vocabSize: try r.int("vocab_size"), contextLength: try r.int("n_positions"), dim: dim,
                           layers: try r.int("n_layer"), heads: try r.int("n_head"), ffnDim: inner ?? 4 * dim,
                           normEps: Float(try r.double("layer_norm_epsilon", default: 1e-5)), tiedEmbeddings: true)
    }
}

/// Reads keys of a JSON object, remembering which were read, so that the rest can be checked.
final class KeyReader {
    let json: [String: Any]
    let path: String
    private(set) var read: Set<String> = []

    init(json: [String: Any], path: String) {
        self.json = json
        self.path = path
    }

    func take(_ key: String) -> Any? {
        read.insert(key)
        return json[key]
    }

    func unsupported(_ key: String, _ reason: String) -> InteropError { .unsupported(path: path, key: key, reason: reason) }

    func int(_ key: String) throws -> Int {
        guard let v = try optionalInt(key) else { throw InteropError.invalid(path: path, reason: "needs an integer `\(key)`") }
        return v
    }

    func optionalInt(_ key: String) throws -> Int? {
        guard let v = take(key), !(v is NSNull) else { return nil }
        guard let n = v as? NSNumber, let i = Int(exactly: n.doubleValue), n.doubleValue.rounded() == n.doubleValue else {
            throw InteropError.invalid(path: path, reason: "`\(key)` must be an integer, found \(v)")
        }
        guard (0...(1 << 40)).contains(i) else { throw InteropError.invalid(path: path, reason: "`\(key)` = \(i) is out of range") }
        return i
    }

    func optionalDouble(_ key: String) throws -> Double? {
        guard let v = take(key), !(v is NSNull) else { return nil }
        guard let n = v as? NSNumber, n.doubleValue.isFinite else {
            throw InteropError.invalid(path: path, reason: "`\(key)` must be a number, found \(v)")
        }
        return n.doubleValue
    }

    func double(_ key: String, default d: Double) throws -> Double { try optionalDouble(key) ?? d }

    func bool(_ key: String, default d: Bool) throws -> Bool {
        guard let v = take(key), !(v is NSNull) else { return d }
        guard let b = v as? Bool else { throw InteropError.invalid(path: path, reason: "`\(key)` must be true or false, found \(v)") }
        return b
    }

    /// One id or a list of ids (`eos_token_id: 2` or `[2, 7]`); absent or null: none.
    func optionalTokenIDs(_ key: String) throws -> [Int32] {
        guard let v = take(key), !(v is NSNull) else { return [] }
        let items = (v as? [Any]) ?? [v]
        return try items.map { item in
            guard let n = item as? NSNumber, let i = Int32(exactly: n.doubleValue), i >= 0 else {
                throw InteropError.invalid(path: path, reason: "`\(key)` must be a token id or a list of token ids, found \(v)")
            }
            return i
        }
    }

    func expect(_ key: String, oneOf allowed: [String], reason: String) throws {
        guard let v = take(key), !(v is NSNull) else { return }
        guard let s = v as? String, allowed.contains(s) else {
            throw unsupported(key, "\(v) is not supported (\(reason)); supported: \(allowed.joined(separator: ", "))")
        }
    }

    func expectFalse(_ key: String, reason: String) throws {
        if try bool(key, default: false) { throw unsupported(key, "true: \(reason)") }
    }

    func expectTrue(_ key: String, reason: String) throws {
        if !(try bool(key, default: true)) { throw unsupported(key, "false: \(reason)") }
    }

    func expectNull(_ key: String, reason: String) throws {
        guard let v = take(key), !(v is NSNull) else { return }
        throw unsupported(key, "\(v): \(reason)")
    }

    /// Throws for the first key (sorted) that was neither read nor listed in `harmless`.
    func refuseUnread(harmless: Set<String>) throws {
        for key in json.keys.sorted() where !read.contains(key) && !harmless.contains(key) {
            throw unsupported(key, "is not a key InstructKit knows; it may change the model's computation, so it is not ignored. Remove it from config.json if you know it does not")
        }
    }
}
