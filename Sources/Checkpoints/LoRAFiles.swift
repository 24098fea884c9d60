import Foundation

/// The files of a LoRA checkpoint and the link to its base.
///
/// A LoRA run's checkpoint holds only what was trained, plus the identity of what was not:
///
///     adapter_model.safetensors   the adapters, HF names + `.lora_A.weight` / `.lora_B.weight`
///     lora_config.json            rank, alpha, dropout and targets (`Models.LoRAConfig`)
///     base_model.json             {"path": the base weights file, "sha256": its checksum}
///     optimizer.safetensors, trainer_state.json, recipe.yaml, model_card.json, ...
///
/// Every use (resume, export, generate) reads the base file again and checks its SHA-256,
/// so adapters are never applied to weights they were not trained on. Training writes these
/// files; Interop folds the adapters into the base (`CheckpointWeights`).
public enum LoRAFiles {
    /// The adapters' file in a LoRA checkpoint.
    public static let adapters = "adapter_model.safetensors"
    /// The adapters' settings (`LoRAConfig` as JSON).
    public static let config = "lora_config.json"
    /// The base's identity (`Identity` as JSON).
    public static let base = "base_model.json"

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

    /// True when `checkpoint` was written by a LoRA run.
    public static func isLoRA(_ checkpoint: Checkpoint) -> Bool { checkpoint.contains(adapters) }

    /// The base identity saved in `checkpoint`.
    public static func identity(of checkpoint: Checkpoint) throws -> Identity {
        try JSONFile.decode(Identity.self, base, in: checkpoint,
                            hint: "a LoRA checkpoint needs it; was it written by `instruct train` with finetune.method lora?")
    }

    /// Reads the base weights `identity` names, after checking the file's SHA-256 against it.
    /// `checkpoint` (the adapters' directory) is named in errors. Throws `baseMismatch` for
    /// another file, `missingBase` for a missing one.
    public static func readBase(_ identity: Identity, for checkpoint: String) throws -> NamedTensors {
        guard FileManager.default.fileExists(atPath: identity.path) else {
            throw CheckpointError.missingBase(file: identity.path, checkpoint: checkpoint)
        }
        let found = try FileChecksum.sha256(path: identity.path)
        guard found == identity.sha256 else {
            throw CheckpointError.baseMismatch(file: identity.path, expected: identity.sha256, found: found, checkpoint: checkpoint)
        }
        return try SafeTensors.read(contentsOf: URL(fileURLWithPath: identity.path))
    }
}

/// Pretty, key-sorted JSON files in checkpoints: one encoder and one decoder whose errors name
/// the file.
public enum JSONFile {
    /// `value` as indented JSON with sorted keys and unescaped slashes.
    public static func encode<T: Encodable>(_ value: T) throws -> Data {
        let e = JSONEncoder()
        e.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        return try e.encode(value)
    }

    /// The JSON file `name` of `checkpoint` decoded as `T`. A missing file throws
    /// `invalidJSON` with `hint`; undecodable JSON names the file and the decoding error.
    public static func decode<T: Decodable>(_ type: T.Type, _ name: String, in checkpoint: Checkpoint, hint: String) throws -> T {
        let path = checkpoint.directory.appendingPathComponent(name).path
        guard checkpoint.contains(name) else { throw CheckpointError.invalidJSON(path: path, reason: "missing: \(hint)") }
        do {
            return try JSONDecoder().decode(type, from: try checkpoint.data(name))
        } catch let e as CheckpointError {
            throw e
        } catch {
            throw CheckpointError.invalidJSON(path: path, reason: "cannot decode (\(describe(error)))")
        }
    }

    /// A decoding error in plain words, naming the JSON path (`step: expected Int, found a
    /// string`), without Foundation's error domains and codes.
    public static func describe(_ error: Error) -> String {
        guard let e = error as? DecodingError else {
            let text = "\(error)"
            return text.contains("NSCocoaErrorDomain") || text.contains("Error Domain=") ? "not valid JSON" : text
        }
        func path(_ c: DecodingError.Context, _ last: CodingKey? = nil) -> String {
            let keys = c.codingPath + (last.map { [$0] } ?? [])
            let text = keys.map { $0.intValue.map { "[\($0)]" } ?? ".\($0.stringValue)" }.joined()
            return text.isEmpty ? "(top level)" : String(text.drop { $0 == "." })
        }
        switch e {
        case let .typeMismatch(type, c): return "`\(path(c))`: expected \(type) (\(c.debugDescription))"
        case let .valueNotFound(type, c): return "`\(path(c))`: no value where \(type) is expected"
        case let .keyNotFound(key, c): return "`\(path(c, key))` is missing"
        case let .dataCorrupted(c): return c.codingPath.isEmpty ? c.debugDescription : "`\(path(c))`: \(c.debugDescription)"
        @unknown default: return "\(e)"
        }
    }
}
