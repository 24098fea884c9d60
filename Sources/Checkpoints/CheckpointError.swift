import Foundation

/// Everything that can go wrong reading or writing a checkpoint, a tensor archive or an import.
///
/// Every case names the file (and, where there is one, the tensor) and its description says
/// what was expected, what was found, and what to do next. Readers throw these for any
/// malformed input; they never trap on file contents.
public enum CheckpointError: Error, Equatable, CustomStringConvertible {
    /// The file or directory could not be opened, read, written or renamed.
    case io(path: String, operation: String, reason: String)
    /// The file is too short for what its header promises.
    case truncated(path: String, expectedBytes: Int, foundBytes: Int)
    /// The safetensors header (size prefix or JSON) is malformed.
    case invalidHeader(path: String, reason: String)
    /// One tensor's entry is inconsistent (dtype, shape, offsets, byte length).
    case invalidTensor(path: String, tensor: String, reason: String)
    /// A tensor is stored in a dtype this reader does not convert to Float32.
    case unsupportedDType(path: String, tensor: String, dtype: String)
    /// A tensor name cannot be stored in this format (empty, duplicate, or not a clean dotted path).
    case invalidTensorName(path: String, tensor: String, reason: String)
    /// libhdf5 reported a failure.
    case hdf5(path: String, operation: String, object: String)
    /// A llama2.c checkpoint's header or size is inconsistent.
    case invalidLlama2c(path: String, reason: String)
    /// The checkpoint directory has no readable `manifest.json`, or it is malformed.
    case invalidManifest(path: String, reason: String)
    /// A file listed in the manifest is missing, has the wrong size or the wrong SHA-256.
    case checksumMismatch(directory: String, file: String, reason: String)
    /// A file name given to the checkpoint writer is not a plain relative name.
    case invalidFileName(name: String, reason: String)
    /// No complete checkpoint was found where one was asked for.
    case noCheckpoint(path: String, reason: String)
    /// A run's `latest` (or `best`) file is there but unusable: a directory, a link, a path
    /// outside the run.
    case badLatest(path: String, reason: String)
    /// Another process holds the run directory's lock (`RunLock`); `holder` says which.
    case runLocked(path: String, holder: String)
    /// A run directory that already holds files, where a command would mix its files with them.
    case runDirectoryNotEmpty(path: String, what: String, remedy: String)
    /// Nothing exists at the path given as a checkpoint.
    case notFound(path: String)
    /// A JSON file of a checkpoint (trainer state, model card, LoRA settings) is missing or undecodable.
    case invalidJSON(path: String, reason: String)
    /// The base weights file a LoRA checkpoint was trained on is gone.
    case missingBase(file: String, checkpoint: String)
    /// LoRA adapters were trained on a base whose weights file had another SHA-256.
    case baseMismatch(file: String, expected: String, found: String, checkpoint: String)

    public var description: String {
        switch self {
        case let .io(path, operation, reason):
            return "\(path): cannot \(operation): \(reason). Check that the path exists, is on a writable disk with free space, and that you have permission."
        case let .truncated(path, expected, found):
            return "\(path): file is truncated: expected at least \(expected) bytes, found \(found). The file was cut short (interrupted copy or write); copy it again or use an earlier checkpoint."
        case let .invalidHeader(path, reason):
            return "\(path): invalid safetensors header: \(reason). The file is corrupt or not a safetensors file; re-export it or use an earlier checkpoint."
        case let .invalidTensor(path, tensor, reason):
            return "\(path): tensor '\(tensor)': \(reason). The file is corrupt or was written by an incompatible tool; re-export it."
        case let .unsupportedDType(path, tensor, dtype):
            return "\(path): tensor '\(tensor)' has dtype \(dtype); only F32, F16 and BF16 can be read (as Float32). Convert the file to float32 first (for example with safetensors/torch in Python)."
        case let .invalidTensorName(path, tensor, reason):
            return "\(path): tensor name '\(tensor)' \(reason). Rename the tensor: names must be unique, non-empty dotted paths such as 'model.layers.0.mlp.up_proj.weight'."
        case let .hdf5(path, operation, object):
            return "\(path): HDF5 \(operation) failed for '\(object)'. The file is corrupt, not HDF5, or not writable; check it with h5dump, or write it again."
        case let .invalidLlama2c(path, reason):
            return "\(path): not a valid llama2.c checkpoint: \(reason). Expected the legacy (version 0) float32 format from llama2.c export.py (7 int32 header values, then the weights)."
        case let .invalidManifest(path, reason):
            return "\(path): invalid checkpoint manifest: \(reason). The checkpoint is incomplete or corrupt; resume from an earlier checkpoint."
        case let .checksumMismatch(directory, file, reason):
            return "\(directory): file '\(file)' failed verification: \(reason). The checkpoint is corrupt; resume from an earlier checkpoint (instruct checkpoint inspect lists them)."
        case let .invalidFileName(name, reason):
            return "checkpoint file name '\(name)' \(reason). Use a plain relative name such as 'model.safetensors'."
        case let .noCheckpoint(path, reason):
            return "\(path): no checkpoint: \(reason). Train first, or pass the path of a step-NNNNNNN directory."
        case let .invalidJSON(path, reason):
            return "\(path): \(reason)"
        case let .missingBase(file, checkpoint):
            return "\(file): missing: the LoRA adapters in \(checkpoint) were trained on this base weights file (base_model.json). Put the base back there (e.g. re-run the same `instruct import`) and try again."
        case let .baseMismatch(file, expected, found, checkpoint):
            return "\(file): this base weights file has SHA-256 \(found.prefix(16))..., but the LoRA adapters in \(checkpoint) were trained on one with \(expected.prefix(16))... (base_model.json). The adapters only fit the exact base they were trained on: restore that file (re-import the same model), or train new adapters on this base."
        case let .badLatest(path, reason):
            let name = (path as NSString).lastPathComponent == CheckpointDirectory.bestFileName ? CheckpointDirectory.bestFileName : CheckpointDirectory.latestFileName
            return "\(path) \(reason). `\(name)` is a one-line file naming a step-NNNNNNN directory of its run; pass a step directory instead, or delete `\(name)`"
                + (name == CheckpointDirectory.latestFileName ? " to use the newest complete checkpoint." : " (the run writes it again at its next better evaluation).")
        case let .runLocked(path, holder):
            return "\(path): another process is writing this run folder (\(holder)). Wait for it to finish or stop it (Ctrl-C saves a checkpoint), or give this run another output.dir."
        case let .runDirectoryNotEmpty(path, what, remedy):
            return "\(path): \(what). \(remedy)"
        case let .notFound(path):
            return "\(path): no such checkpoint. Pass a step-NNNNNNN directory, a run directory, or its `latest` file."
        }
    }
}

extension CheckpointError: LocalizedError {
    public var errorDescription: String? { description }
}
