import Autograd
import Checkpoints
import Foundation
import Models
import NN

/// The files of a LoRA checkpoint and the link to its base.
///
/// A LoRA run's checkpoint holds only what was trained, plus the identity of what was not:
///
///     adapter_model.safetensors   the adapters, HF names + `.lora_A.weight` / `.lora_B.weight`
///     lora_config.json            rank, alpha, dropout and targets (`LoRAConfig`)
///     base_model.json             {"path": the base weights file, "sha256": its checksum}
///     optimizer.safetensors, trainer_state.json, recipe.yaml, model_config.json, ...
///
/// Every use (resume, export, generate) reads the base file again and checks its SHA-256,
/// so adapters are never applied to weights they were not trained on.
public enum LoRABase {
    /// The adapters' file in a LoRA checkpoint.
    public static let adapterFile = "adapter_model.safetensors"
    /// The adapters' settings (`LoRAConfig` as JSON).
    public static let loraConfigFile = "lora_config.json"
    /// The base's identity (`Identity` as JSON).
    public static let baseFile = "base_model.json"

    /// Which base weights a set of adapters belongs to.
    public struct Identity: Codable, Sendable, Equatable {
        /// The base weights file (safetensors), absolute.
        public var path: String
        /// Its lower-case hex SHA-256.
        public var sha256: String

        public init(path: String, sha256: String) {
            self.path = path
            self.sha256 = sha256
        }
    }

    /// The identity of the weights file at `url` (its checksum computed now).
    public static func identify(weightsFile url: URL) throws -> Identity {
        let path = url.standardizedFileURL.path
        return Identity(path: path, sha256: try FileChecksum.sha256(path: path))
    }

    /// `lora_config.json` bytes.
    public static func encode(_ lora: LoRAConfig) throws -> Data {
        let e = JSONEncoder()
        e.outputFormatting = [.prettyPrinted, .sortedKeys]
        return try e.encode(lora)
    }

    /// `base_model.json` bytes.
    public static func encode(_ identity: Identity) throws -> Data {
        let e = JSONEncoder()
        e.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        return try e.encode(identity)
    }

    /// True when `checkpoint` was written by a LoRA run.
    public static func isLoRA(_ checkpoint: Checkpoint) -> Bool { checkpoint.contains(adapterFile) }

    /// The adapters' settings saved in `checkpoint`.
    public static func loraConfig(of checkpoint: Checkpoint) throws -> LoRAConfig {
        try decode(LoRAConfig.self, loraConfigFile, in: checkpoint)
    }

    /// The base identity saved in `checkpoint`.
    public static func identity(of checkpoint: Checkpoint) throws -> Identity {
        try decode(Identity.self, baseFile, in: checkpoint)
    }

    /// Reads the base weights `identity` names, after checking the file's SHA-256 against it.
    /// `checkpoint` (the adapters' directory) is named in errors. Throws
    /// `TrainingError.baseMismatch` for another file, `.io` for a missing one.
    public static func loadBase(_ identity: Identity, for checkpoint: String) throws -> Parameters {
        guard FileManager.default.fileExists(atPath: identity.path) else {
            throw TrainingError.io(path: identity.path, reason: "missing: the LoRA adapters in \(checkpoint) were trained on this base weights file (base_model.json). Put the base back there (e.g. re-run the same `instruct import`) and try again.")
        }
        let found = try FileChecksum.sha256(path: identity.path)
        guard found == identity.sha256 else {
            throw TrainingError.baseMismatch(file: identity.path, expected: identity.sha256, found: found, checkpoint: checkpoint)
        }
        let tensors = try SafeTensors.read(contentsOf: URL(fileURLWithPath: identity.path))
        return Parameters(tensors.entries.map { ($0.name, $0.tensor) })
    }

    /// The base weights of a LoRA `checkpoint` (checked) and its adapters, as one parameter
    /// set, with the model (config from `model_config.json`, adapters from `lora_config.json`).
    public static func adaptedParameters(of checkpoint: Checkpoint) throws -> (model: DecoderModel, parameters: Parameters) {
        let config = try ModelExport.modelConfig(of: checkpoint)
        let lora = try loraConfig(of: checkpoint)
        let model: DecoderModel
        do {
            model = try DecoderModel(config, lora: lora)
        } catch {
            throw TrainingError.io(path: checkpoint.directory.appendingPathComponent(loraConfigFile).path, reason: "\(error)")
        }
        var p = try loadBase(try identity(of: checkpoint), for: checkpoint.directory.path)
        let adapters = try checkpoint.tensors(adapterFile)
        for e in adapters.entries { p[e.name] = e.tensor }
        do {
            try model.validate(p)
            try model.validateAdapters(Parameters(adapters.entries.map { ($0.name, $0.tensor) }))
        } catch {
            throw TrainingError.io(path: checkpoint.directory.appendingPathComponent(adapterFile).path,
                                   reason: "\(error) (the base or the adapters do not fit model_config.json and lora_config.json)")
        }
        return (model, p)
    }

    /// The full weights of any checkpoint: for a LoRA one the base with the adapters merged
    /// in, else its `model.safetensors`. The model returned has no adapters.
    public static func fullParameters(of checkpoint: Checkpoint) throws -> (model: DecoderModel, parameters: Parameters) {
        if isLoRA(checkpoint) {
            let (model, p) = try adaptedParameters(of: checkpoint)
            return (model.withoutAdapters, model.merged(p))
        }
        return try ModelImport.load(checkpoint)
    }

    static func decode<T: Decodable>(_ type: T.Type, _ file: String, in checkpoint: Checkpoint) throws -> T {
        guard checkpoint.contains(file) else {
            throw TrainingError.io(path: checkpoint.directory.appendingPathComponent(file).path,
                                   reason: "missing: a LoRA checkpoint needs it; was it written by `instruct train` with finetune.method lora?")
        }
        do {
            return try JSONDecoder().decode(type, from: try checkpoint.data(file))
        } catch let e as CheckpointError {
            throw e
        } catch {
            throw TrainingError.io(path: checkpoint.directory.appendingPathComponent(file).path, reason: "cannot decode (\(error))")
        }
    }
}
