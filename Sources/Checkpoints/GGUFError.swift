import Foundation

/// Everything that can go wrong reading or writing a GGUF file.
///
/// Every case names the file and, where there is one, the metadata key or tensor and the byte
/// offset in the file where the problem was found; its description says what was expected,
/// what was found and what to do. The reader throws these for any malformed input and never
/// traps, hangs or allocates on the word of an unchecked count.
public enum GGUFError: Error, Equatable, CustomStringConvertible {
    /// The file could not be opened, mapped, written or renamed (the operating system's reason).
    case io(path: String, operation: String, reason: String)
    /// The file ends before the thing named by `reading` (which starts at or before `offset`).
    /// Counts (of metadata entries, tensors, array elements) and string lengths larger than
    /// the rest of the file can hold are reported this way too, before anything is allocated.
    case truncated(path: String, offset: Int, reading: String, neededBytes: Int, availableBytes: Int)
    /// The first four bytes are not `GGUF`.
    case notGGUF(path: String, foundMagic: [UInt8])
    /// A GGUF version this reader does not read (1, or newer than 3).
    case unsupportedVersion(path: String, version: UInt32)
    /// The file is a big-endian GGUF (its version field reads byte-swapped).
    case bigEndian(path: String, version: UInt32)
    /// One metadata key/value is malformed (bad type code, bad UTF-8, duplicate key, bad bool...).
    case invalidMetadata(path: String, key: String, offset: Int, reason: String)
    /// One tensor's info is inconsistent (dims, name, offset, alignment, bounds, overlap).
    case invalidTensorInfo(path: String, tensor: String, offset: Int, reason: String)
    /// A tensor's type code is not a ggml type this reader knows the block size of.
    case unknownTensorType(path: String, tensor: String, offset: Int, typeCode: UInt32)
    /// A tensor's type is known but cannot be converted to Float32 here (or written, for the writer).
    case unsupportedTensorType(path: String, tensor: String, type: String, supported: [String])
    /// A metadata key that was asked for is absent.
    case missingKey(path: String, key: String)
    /// A metadata key holds a different type than the accessor reads.
    case metadataType(path: String, key: String, expected: String, found: String)
    /// No tensor with this name is in the file.
    case tensorNotFound(path: String, tensor: String)
    /// The writer was given something it cannot store (bad name, shape, value or duplicate).
    case invalidWrite(path: String, item: String, reason: String)

    /// What went wrong, where, and what to do about it.
    public var description: String {
        switch self {
        case let .io(path, operation, reason):
            return "\(path): cannot \(operation): \(reason). Check that the path exists, is a regular file you may read (or a directory you may write), and that the disk has space."
        case let .truncated(path, offset, reading, needed, available):
            return "\(path): file is truncated at byte \(offset) while reading \(reading): needed \(needed) bytes, only \(available) remain. The file was cut short (interrupted download or copy); download or copy it again."
        case let .notGGUF(path, magic):
            let hex = magic.map { String(format: "%02x", $0) }.joined(separator: " ")
            let legacy = ["ggml", "ggmf", "ggjt", "lmgg", "fmgg", "tjgg"].contains(String(decoding: magic, as: UTF8.self))
            return "\(path): not a GGUF file: the first bytes are [\(hex)], expected 'GGUF' (47 47 55 46)."
                + (legacy ? " This is a pre-GGUF ggml/ggjt file; convert it to GGUF with llama.cpp's conversion scripts." : " Check that you passed the .gguf file itself (not a safetensors, PyTorch or partial download).")
        case let .unsupportedVersion(path, version):
            if version == 1 {
                return "\(path): GGUF version 1 is not supported (it used 32-bit counts and was replaced by version 2 in 2023). Re-download the model or convert it again with a current llama.cpp."
            }
            return "\(path): GGUF version \(version) is not supported; this reader reads versions 2 and 3. Convert the file with a llama.cpp that writes version 3, or update InstructKit."
        case let .bigEndian(path, version):
            return "\(path): this is a big-endian GGUF file (version \(version) stored byte-swapped); only little-endian GGUF files are read. Use the little-endian build of the model."
        case let .invalidMetadata(path, key, offset, reason):
            return "\(path): metadata key '\(key)' at byte \(offset): \(reason). The file is corrupt or was written by a broken tool; download or convert it again."
        case let .invalidTensorInfo(path, tensor, offset, reason):
            return "\(path): tensor '\(tensor)' (info at byte \(offset)): \(reason). The file is corrupt or was written by a broken tool; download or convert it again."
        case let .unknownTensorType(path, tensor, offset, code):
            return "\(path): tensor '\(tensor)' (info at byte \(offset)) has ggml type \(code), which this reader does not know (known types: \(GGUFTensorType.allCases.map { "\($0.name)=\($0.rawValue)" }.joined(separator: ", "))). The file needs a newer reader; re-quantize it to a common type (for example Q8_0 or F16) with llama.cpp's llama-quantize."
        case let .unsupportedTensorType(path, tensor, type, supported):
            return "\(path): tensor '\(tensor)' has type \(type), which is not supported here; supported: \(supported.joined(separator: ", ")). Re-quantize the model to one of these with llama.cpp's llama-quantize."
        case let .missingKey(path, key):
            return "\(path): metadata key '\(key)' is missing. The file was written for another architecture or by a tool that omits it; check the key with gguf-py's gguf-dump."
        case let .metadataType(path, key, expected, found):
            return "\(path): metadata key '\(key)' holds \(found), expected \(expected). The file was written by a tool that stores this key differently; check it with gguf-py's gguf-dump."
        case let .tensorNotFound(path, tensor):
            return "\(path): no tensor named '\(tensor)'. List the names with GGUFFile.tensorInfos (or gguf-py's gguf-dump) and check the spelling."
        case let .invalidWrite(path, item, reason):
            return "\(path): cannot write '\(item)' as GGUF: \(reason)."
        }
    }
}

extension GGUFError: LocalizedError {
    /// The same text as `description`, for `localizedDescription`.
    public var errorDescription: String? { description }
}
