import Autograd
import Checkpoints
import Foundation
import Models
import NN

/// The weights of a checkpoint as a model: trained or imported (`model.safetensors`), or
/// LoRA (the base named by `base_model.json`, checked by SHA-256, with the adapters).
public enum CheckpointWeights {
    /// The model of `card` and its full weights in parameter order: for a LoRA checkpoint the
    /// base with the adapters folded in (`W + alpha/r * B A`), so it runs at the speed of a
    /// plain model. The model returned has no adapters.
    public static func load(_ checkpoint: Checkpoint, card: ModelCard) throws -> (model: DecoderModel, parameters: Parameters) {
        if LoRAFiles.isLoRA(checkpoint) {
            let (model, p) = try adapted(checkpoint, card: card)
            let plain = model.withoutAdapters
            let merged = model.merged(p)
            return (plain, try ordered(NamedTensors(merged.pairs.map { ($0.name, $0.tensor) }), model: plain,
                                       path: checkpoint.directory.appendingPathComponent(LoRAFiles.adapters).path))
        }
        let model = try decoder(card.config, lora: nil, file: checkpoint.directory.appendingPathComponent(ModelCard.fileName).path)
        let file = "model.safetensors"
        guard checkpoint.contains(file) else {
            throw InteropError.invalid(path: checkpoint.directory.appendingPathComponent(file).path,
                                       reason: "missing: the weights are not in this checkpoint")
        }
        let path = checkpoint.directory.appendingPathComponent(file).path
        let tensors = try checkpoint.tensors(file)
        try checkNothingExtra(tensors, model: model, card: card, path: path)
        return (model, try ordered(tensors, model: model, path: path))
    }

    /// A checkpoint's `model.safetensors` holds exactly the model's parameters (training and
    /// import write nothing else), so a tensor the card's model does not have means the card
    /// no longer describes the weights (it was edited: fewer layers, tied embeddings where the
    /// weights have an output matrix). Reading on would drop those weights in silence and
    /// export a config.json that contradicts them.
    static func checkNothingExtra(_ tensors: NamedTensors, model: DecoderModel, card: ModelCard, path: String) throws {
        let known = Set(model.parameterShapes.map(\.name))
        let extra = tensors.entries.map(\.name).filter { !known.contains($0) }.sorted()
        guard !extra.isEmpty else { return }
        let c = card.config
        throw InteropError.invalid(
            path: path,
            reason: "holds \(extra.count) tensor(s) that \(ModelCard.fileName) does not describe (\(extra.prefix(3).joined(separator: ", "))\(extra.count > 3 ? ", ..." : "")); "
                + "the card says \(c.family.rawValue), \(c.layers) layers, dim \(c.dim), tied embeddings \(c.tiedEmbeddings). "
                + "The card does not match the weights: restore the checkpoint's \(ModelCard.fileName) (re-import or re-train to get it back)")
    }

    /// A LoRA checkpoint's model (with its adapters) and the base weights plus the adapters,
    /// both checked against the card and `lora_config.json`.
    public static func adapted(_ checkpoint: Checkpoint, card: ModelCard) throws -> (model: DecoderModel, parameters: Parameters) {
        let lora = try loraConfig(of: checkpoint)
        let model = try decoder(card.config, lora: lora, file: checkpoint.directory.appendingPathComponent(LoRAFiles.config).path)
        let base = try LoRAFiles.readBase(try LoRAFiles.identity(of: checkpoint), for: checkpoint.directory.path)
        var p = Parameters(base.entries.map { ($0.name, $0.tensor) })
        let adapters = try checkpoint.tensors(LoRAFiles.adapters)
        for e in adapters.entries { p[e.name] = e.tensor }
        do {
            try model.validate(p)
            try model.validateAdapters(Parameters(adapters.entries.map { ($0.name, $0.tensor) }))
        } catch {
            throw InteropError.invalid(path: checkpoint.directory.appendingPathComponent(LoRAFiles.adapters).path,
                                       reason: "\(error) (the base or the adapters do not fit \(ModelCard.fileName) and \(LoRAFiles.config))")
        }
        return (model, p)
    }

    /// The adapters' settings saved in a LoRA checkpoint.
    public static func loraConfig(of checkpoint: Checkpoint) throws -> LoRAConfig {
        try JSONFile.decode(LoRAConfig.self, LoRAFiles.config, in: checkpoint,
                            hint: "a LoRA checkpoint needs it; was it written by `instruct train` with finetune.method lora?")
    }

    /// The model's parameters taken from `tensors` in parameter order. Extra tensors that are
    /// not parameters (GPT-2's causal-mask buffers, a tied `lm_head.weight`) are dropped;
    /// a missing tensor or a wrong shape throws naming `path` and the tensor.
    public static func ordered(_ tensors: NamedTensors, model: DecoderModel, path: String) throws -> Parameters {
        var out: [(String, Tensor)] = []
        for (name, shape) in model.parameterShapes {
            guard let t = tensors[name] else { throw InteropError.invalid(path: path, reason: "has no tensor '\(name)'") }
            guard t.shape == shape else {
                throw InteropError.invalid(path: path, reason: "'\(name)' is \(t.shape), the model's shape wants \(shape)")
            }
            out.append((name, t))
        }
        return Parameters(out)
    }

    /// `DecoderModel(config, lora:)`, with a config problem reported against `file`.
    static func decoder(_ config: ModelConfig, lora: LoRAConfig?, file: String) throws -> DecoderModel {
        do {
            return try DecoderModel(config, lora: lora)
        } catch {
            throw InteropError.invalid(path: file, reason: "\(error)")
        }
    }
}
