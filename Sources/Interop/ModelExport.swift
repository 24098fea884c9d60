import Checkpoints
import Foundation
import Models
import NN

/// Export of a checkpoint's weights for other tools, with the shape and stop ids of its
/// model card.
///
/// Parameter names and layouts are already those of Hugging Face (`GPT2LMHeadModel`: Conv1D
/// weights `[in, out]`; `LlamaForCausalLM`: rotate-half RoPE, `[out, in]` linears), so the
/// weights are written unchanged; `scripts/check_hf_export.py` loads an export with
/// `transformers` and compares its logits with ours.
public enum ModelExport {
    /// What `instruct export --format` writes.
    public enum Format: String, CaseIterable, Sendable {
        /// One `.safetensors` file; the HF config JSON is in its metadata under `config`.
        case safetensors
        /// A Hugging Face model directory: model.safetensors, config.json, generation_config.json,
        /// tokenizer.json and tokenizer_config.json (when the checkpoint has a tokenizer).
        case hf
        /// One HDF5 file: a group per dotted name, the config as root attributes.
        case hdf5
        /// A PEFT adapter directory (adapter_model.safetensors + adapter_config.json) that
        /// `peft.PeftModel.from_pretrained` loads on top of the base exported with `hf`.
        /// LoRA checkpoints only.
        case peft
        /// One GGUF file (llama.cpp, ollama): Llama weights in F32, F16 or Q8_0, the metadata,
        /// the tokenizer and the chat template (`GGUFExport`).
        case gguf
    }

    /// BOS and EOS ids for config.json: the card's BOS and first stop id; a tokenizer whose EOS
    /// is `<|endoftext|>` and that has no BOS uses it as both (GPT-2's convention).
    static func specialTokenIDs(_ card: ModelCard, _ checkpoint: Checkpoint) -> (bos: Int?, eos: Int?) {
        let eos = card.stopTokenIDs.first.map(Int.init)
        if let bos = card.bosTokenID { return (Int(bos), eos) }
        guard let eos, checkpoint.contains("tokenizer.json"),
              let obj = try? JSONSerialization.jsonObject(with: try checkpoint.data("tokenizer.json")) as? [String: Any],
              let added = obj["added_tokens"] as? [[String: Any]],
              added.contains(where: { $0["id"] as? Int == eos && $0["content"] as? String == "<|endoftext|>" })
        else { return (nil, eos) }
        return (eos, eos)
    }

    /// The Hugging Face `config.json` for `config` (keys of GPT2Config or LlamaConfig).
    public static func hfConfig(_ c: ModelConfig, bos: Int?, eos: Int?) -> [String: Any] {
        var j: [String: Any]
        switch c.family {
        case .llama:
            j = ["architectures": ["LlamaForCausalLM"], "model_type": "llama", "hidden_size": c.dim,
                 "intermediate_size": c.ffnDim, "num_hidden_layers": c.layers, "num_attention_heads": c.heads,
                 "num_key_value_heads": c.kvHeads, "vocab_size": c.vocabSize, "max_position_embeddings": c.contextLength,
                 "rms_norm_eps": Double(c.normEps), "rope_theta": Double(c.ropeTheta), "tie_word_embeddings": c.tiedEmbeddings,
                 "hidden_act": "silu", "attention_bias": false, "mlp_bias": false, "torch_dtype": "float32"]
        case .gpt2:
            j = ["architectures": ["GPT2LMHeadModel"], "model_type": "gpt2", "n_embd": c.dim, "n_layer": c.layers,
                 "n_head": c.heads, "n_positions": c.contextLength, "n_ctx": c.contextLength, "n_inner": c.ffnDim,
                 "vocab_size": c.vocabSize, "layer_norm_epsilon": Double(c.normEps), "activation_function": "gelu_new",
                 "tie_word_embeddings": true, "resid_pdrop": 0.0, "embd_pdrop": 0.0, "attn_pdrop": 0.0,
                 "torch_dtype": "float32"]
        }
        if let bos { j["bos_token_id"] = bos }
        if let eos { j["eos_token_id"] = eos }
        return j
    }

    /// Writes `checkpoint`'s weights as `format` to `out` (a file for safetensors and hdf5, a
    /// directory for hf and peft). Returns the files written.
    ///
    /// A LoRA checkpoint holds only adapters: `merge` writes the base with the adapters
    /// folded in (`W + alpha/r * B A`) in any of safetensors, hf and hdf5; `peft` writes the
    /// adapters alone. Without either, exporting a LoRA checkpoint throws saying so.
    public static func export(_ checkpoint: Checkpoint, format: Format, to out: URL, merge: Bool = false,
                              ggufType: GGUFExport.TensorType = .f32, card given: ModelCard? = nil) throws -> [URL] {
        let card = try given ?? ModelCard.read(from: checkpoint)
        if format == .peft { return try PEFTExport.write(checkpoint, card: card, to: out) }
        let config = card.config
        let (bos, eos) = specialTokenIDs(card, checkpoint)
        let hf = hfConfig(config, bos: bos, eos: eos)
        let configData = try JSONSerialization.data(withJSONObject: hf, options: [.prettyPrinted, .sortedKeys])
        let configText = String(decoding: configData, as: UTF8.self)
        if LoRAFiles.isLoRA(checkpoint) && !merge {
            throw InteropError.invalid(path: checkpoint.directory.path,
                                       reason: "a LoRA checkpoint holds only adapters; pass --merge to write full weights (base + adapters), or --format peft for the adapters alone")
        }
        if format == .gguf {
            try createParent(of: out)
            return [try GGUFExport.write(checkpoint, card: card, type: ggufType, to: out)]
        }
        let weights = try CheckpointWeights.load(checkpoint, card: card)
        let ordered = NamedTensors(weights.parameters.pairs.map { ($0.name, $0.tensor) }, metadata: ["format": "pt", "producer": "instructkit"])
        switch format {
        case .safetensors:
            var t = ordered
            t.metadata["config"] = configText
            try createParent(of: out)
            try SafeTensors.write(t, to: out)
            return [out]
        case .hdf5:
            try createParent(of: out)
            var attributes = ["config": configText, "model_type": config.family.rawValue]
            for (k, v) in hf where !(v is [Any]) { attributes[k] = "\(v)" }
            try HDF5Writer.write(ordered, attributes: attributes, to: out)
            return [out]
        case .hf:
            do {
                try FileManager.default.createDirectory(at: out, withIntermediateDirectories: true)
            } catch {
                throw InteropError.invalid(path: out.path, reason: "cannot create the export directory (\(error.localizedDescription))")
            }
            var written: [URL] = []
            func put(_ name: String, _ data: Data) throws {
                let url = out.appendingPathComponent(name)
                do { try data.write(to: url, options: .atomic) } catch {
                    throw InteropError.invalid(path: url.path, reason: "cannot write (\(error.localizedDescription))")
                }
                written.append(url)
            }
            let st = out.appendingPathComponent("model.safetensors")
            try SafeTensors.write(ordered, to: st)
            written.append(st)
            try put("config.json", configData)
            // Every stop id, so transformers' generate stops where `instruct generate` does.
            var gen: [String: Any] = ["_from_model_config": true]
            if let bos { gen["bos_token_id"] = bos }
            if card.stopTokenIDs.count > 1 { gen["eos_token_id"] = card.stopTokenIDs.map(Int.init) } else if let eos { gen["eos_token_id"] = eos }
            try put("generation_config.json", try JSONSerialization.data(withJSONObject: gen, options: [.prettyPrinted, .sortedKeys]))
            if checkpoint.contains("tokenizer.json") {
                try put("tokenizer.json", try checkpoint.data("tokenizer.json"))
                var tc: [String: Any] = ["tokenizer_class": "PreTrainedTokenizerFast", "model_max_length": config.contextLength,
                                         "clean_up_tokenization_spaces": false]
                if let obj = try? JSONSerialization.jsonObject(with: try checkpoint.data("tokenizer.json")) as? [String: Any],
                   let added = obj["added_tokens"] as? [[String: Any]] {
                    var byID: [Int: String] = [:]
                    for t in added { if let id = t["id"] as? Int, let c = t["content"] as? String { byID[id] = c } }
                    if let bos, let s = byID[bos] { tc["bos_token"] = s }
                    if let eos, let s = byID[eos] { tc["eos_token"] = s }
                }
                try put("tokenizer_config.json", try JSONSerialization.data(withJSONObject: tc, options: [.prettyPrinted, .sortedKeys]))
                if let template = GGUFExport.chatTemplate(card.template) { try put("chat_template.jinja", Data(template.utf8)) }
            }
            return written
        case .peft, .gguf:
            preconditionFailure("handled above")
        }
    }

    static func createParent(of url: URL) throws {
        let dir = url.deletingLastPathComponent()
        do {
            try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        } catch {
            throw InteropError.invalid(path: dir.path, reason: "cannot create the directory (\(error.localizedDescription))")
        }
    }
}
