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
        return (model, try ordered(try checkpoint.tensors(file), model: model, path: checkpoint.directory.appendingPathComponent(file).path))
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
