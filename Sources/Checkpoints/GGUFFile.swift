import Autograd
import Foundation

/// A GGUF file (llama.cpp, ollama) opened for reading: header, metadata, tensor infos, and
/// tensors converted to Float32 on demand.
///
/// The layout (ggml's docs/gguf.md), all little-endian:
///
/// ```
/// "GGUF"  uint32 version (2 or 3)  uint64 tensor_count  uint64 kv_count
/// kv_count x   { string key, uint32 value_type, value }          metadata, in file order
/// tensor_count x { string name, uint32 n_dims, uint64 ne[n_dims], uint32 type, uint64 offset }
/// padding to `general.alignment` (default 32)
/// data section: each tensor's bytes at data start + offset (offsets multiples of the alignment)
/// ```
///
/// A string is a uint64 byte length and that many UTF-8 bytes; an array is a uint32 element
/// type, a uint64 count and the elements. `ne0` is the fastest-varying dimension, so the
/// row-major shape PyTorch sees is the dimensions reversed (`GGUFTensorInfo.shape`).
///
/// The file is memory-mapped: opening it parses and checks only the header (for a model of
/// gigabytes, a few megabytes of vocabulary at most), and a tensor's pages are touched only
/// when it is converted. Opening validates everything before it allocates: every count and
/// length against the bytes left in the file, value types, UTF-8, unique keys and tensor names,
/// dimensions (positive, product without overflow, `ne0` a multiple of the type's block size),
/// type codes, offsets (aligned, inside the file, no two tensors overlapping), and the
/// `general.alignment` value. Any failure throws a `GGUFError` naming the file, the key or
/// tensor, and the byte offset.
///
/// A `GGUFFile` never changes after it is opened (the mapping is read-only), so it may be
/// shared between threads; hence `@unchecked Sendable`.
public final class GGUFFile: @unchecked Sendable {
    /// The file's location.
    public let url: URL
    /// The file's path, as used in error messages.
    public var path: String { url.path }
    /// The GGUF version (2 or 3; they share one layout for little-endian files).
    public let version: UInt32
    /// Every metadata key and value, in file order.
    public let metadata: [(key: String, value: GGUFValue)]
    /// Every tensor's info, in file order.
    public let tensorInfos: [GGUFTensorInfo]
    /// The data alignment: `general.alignment` when present, else 32.
    public let alignment: Int
    /// Absolute byte offset of the data section (the end of the header, padded to `alignment`).
    public let dataOffset: Int
    /// The file size in bytes.
    public var fileSize: Int { mapping.bytes.count }

    let metadataIndex: [String: Int]
    let tensorIndex: [String: Int]
    private let mapping: MappedFile

    /// Opens and validates the GGUF file at `url` (see the type's documentation for the checks).
    /// Throws `GGUFError` for any malformed or unsupported file.
    public init(contentsOf url: URL) throws {
        self.url = url
        do {
            mapping = try MappedFile(path: url.path)
        } catch let CheckpointError.io(path, operation, reason) {
            throw GGUFError.io(path: path, operation: operation, reason: reason)
        }
        let header = try GGUFHeader.parse(mapping.bytes, path: url.path)
        version = header.version
        metadata = header.metadata
        metadataIndex = header.metadataIndex
        tensorInfos = header.tensorInfos
        tensorIndex = header.tensorIndex
        alignment = header.alignment
        dataOffset = header.dataOffset
    }

    /// The info of the tensor named `name`, or nil.
    public func tensorInfo(named name: String) -> GGUFTensorInfo? {
        guard let i = tensorIndex[name] else { return nil }
        return tensorInfos[i]
    }

    /// The tensor named `name` as Float32 with its row-major shape (`GGUFTensorInfo.shape`).
    /// Throws `tensorNotFound`, or `unsupportedTensorType` for a type that is not converted.
    public func tensor(named name: String) throws -> Tensor {
        guard let info = tensorInfo(named: name) else { throw GGUFError.tensorNotFound(path: path, tensor: name) }
        return try tensor(info)
    }

    /// The tensor described by `info` (one of `tensorInfos`) as Float32 with its row-major shape.
    ///
    /// Conversion is exact where the format allows: F32 is copied, F16 and BF16 widen exactly,
    /// and block types compute the same Float32 expressions, in the same order, as gguf-py's
    /// `quants.dequantize` (and ggml's reference `dequantize_row_*`), so results match them bit
    /// for bit. Large tensors are converted on all cores in chunks whose bounds depend only on
    /// the tensor's size.
    public func tensor(_ info: GGUFTensorInfo) throws -> Tensor {
        guard info.type.isDequantizable else {
            throw GGUFError.unsupportedTensorType(path: path, tensor: info.name, type: "\(info.type.name) (\(info.type.rawValue))",
                                                  supported: GGUFTensorType.dequantizable.map { $0.name })
        }
        precondition(tensorIndex[info.name].map { tensorInfos[$0] == info } ?? false,
                     "GGUFFile.tensor: the info for '\(info.name)' does not come from this file")
        let storage = TensorStorage(uninitializedCount: info.elementCount)
        withRawBytes(of: info) { bytes in
            GGUFQuantization.dequantize(bytes, type: info.type, count: info.elementCount, into: storage.pointer)
        }
        return Tensor(shape: info.shape, storage: storage)
    }

    /// Calls `body` with the stored bytes of the tensor described by `info` (quantized blocks as
    /// in the file), valid only during the call. No copy is made.
    public func withRawBytes<R>(of info: GGUFTensorInfo, _ body: (UnsafeRawBufferPointer) throws -> R) rethrows -> R {
        // The header check guaranteed fileOffset + byteCount <= the file size for every info.
        precondition(info.fileOffset >= 0 && info.fileOffset + info.byteCount <= mapping.bytes.count,
                     "GGUFFile.withRawBytes: '\(info.name)' lies outside \(path)")
        return try body(UnsafeRawBufferPointer(rebasing: mapping.bytes[info.fileOffset..<(info.fileOffset + info.byteCount)]))
    }

    /// Converts every tensor in file order and passes it to `body` with its info; only one
    /// converted tensor is alive at a time unless `body` keeps it. Throws on the first tensor
    /// whose type is not converted (before calling `body` for it), or what `body` throws.
    public func forEachTensor(_ body: (GGUFTensorInfo, Tensor) throws -> Void) throws {
        for info in tensorInfos { try body(info, try tensor(info)) }
    }

    /// Every tensor as Float32 under its GGUF name, in file order (GGUF names are kept as
    /// they are; mapping them to Hugging Face names is the caller's business). The returned
    /// metadata is empty: GGUF metadata is typed, read it from `metadata`.
    public func allTensors() throws -> NamedTensors {
        var out = NamedTensors()
        try forEachTensor { info, t in out.append(info.name, t) }
        return out
    }
}
