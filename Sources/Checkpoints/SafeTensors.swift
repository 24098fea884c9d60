import Autograd
import Foundation

/// The safetensors format (https://github.com/huggingface/safetensors):
///
/// ```
/// [8 bytes]  N, the header size, unsigned little-endian
/// [N bytes]  JSON header: {"__metadata__": {str: str}, name: {"dtype": "F32", "shape": [..],
///            "data_offsets": [begin, end]}, ...}, padded with spaces so 8 + N is a multiple of 8
/// [rest]     the byte buffer; each tensor's bytes are buffer[begin..<end], row-major, little-endian
/// ```
///
/// Writing stores Float32 (`F32`) in the order of the `NamedTensors`. Reading accepts `F32`,
/// `F16` and `BF16` and converts to Float32 (exactly: every F16 and BF16 value is a Float32).
/// Readers validate everything before allocating or copying: the header size (at most
/// `maxHeaderBytes` and within the file), JSON syntax, each entry's dtype, shape (no overflow)
/// and offsets (inside the buffer, length = elements x dtype size, no two tensors overlapping).
/// Tensors are returned in the order of their data offsets, which is the writer's order.
public enum SafeTensors {
    /// The largest header accepted, as in the reference implementation (100 MB).
    public static let maxHeaderBytes = 100_000_000

    /// A tensor element type that may appear in a safetensors file.
    public enum DType: String, CaseIterable {
        case F64, F32, F16, BF16, I64, I32, I16, I8, U64, U32, U16, U8, BOOL, F8_E4M3, F8_E5M2

        /// Bytes per element.
        public var size: Int {
            switch self {
            case .F64, .I64, .U64: return 8
            case .F32, .I32, .U32: return 4
            case .F16, .BF16, .I16, .U16: return 2
            case .I8, .U8, .BOOL, .F8_E4M3, .F8_E5M2: return 1
            }
        }

        /// Whether this reader converts the type to Float32.
        public var isReadable: Bool { self == .F32 || self == .F16 || self == .BF16 }
    }

    /// One tensor's header entry: where its bytes are and how to read them.
    public struct TensorInfo: Equatable {
        /// The tensor name (the JSON key).
        public var name: String
        /// The element type.
        public var dtype: DType
        /// The dimensions, outermost first.
        public var shape: [Int]
        /// Byte range inside the data buffer (which starts right after the header).
        public var dataOffsets: Range<Int>
        /// Number of elements: the product of `shape`.
        public var elementCount: Int
    }

    /// A parsed header: every tensor's entry (in data order), the metadata, and where data starts.
    public struct Header {
        /// Entries ordered by data offset (ties by name).
        public var tensors: [TensorInfo]
        /// The `__metadata__` object.
        public var metadata: [String: String]
        /// File offset of the data buffer: 8 + header size.
        public var dataStart: Int
    }

    // MARK: Reading

    /// Reads every tensor of the file at `url` as Float32, through a memory mapping.
    public static func read(contentsOf url: URL) throws -> NamedTensors {
        let file = try MappedFile(path: url.path)
        return try decode(file.bytes, path: url.path)
    }

    /// Parses only the header of the file at `url` (names, dtypes, shapes, metadata): cheap even
    /// for large files, since only the header pages are touched.
    public static func readHeader(contentsOf url: URL) throws -> Header {
        let file = try MappedFile(path: url.path)
        return try parseHeader(file.bytes, path: url.path)
    }

    /// Decodes an in-memory safetensors file. `path` names the source in errors.
    public static func decode(_ data: Data, path: String = "<memory>") throws -> NamedTensors {
        try data.withUnsafeBytes { try decode($0, path: path) }
    }

    /// Decodes safetensors bytes. `path` names the source in errors.
    public static func decode(_ bytes: UnsafeRawBufferPointer, path: String) throws -> NamedTensors {
        let header = try parseHeader(bytes, path: path)
        var out = NamedTensors(metadata: header.metadata)
        for info in header.tensors {
            guard info.dtype.isReadable else {
                throw CheckpointError.unsupportedDType(path: path, tensor: info.name, dtype: info.dtype.rawValue)
            }
            let storage = TensorStorage(uninitializedCount: info.elementCount)
            let src = UnsafeRawBufferPointer(rebasing: bytes[(header.dataStart + info.dataOffsets.lowerBound)..<(header.dataStart + info.dataOffsets.upperBound)])
            convertToFloat32(src, dtype: info.dtype, into: storage.pointer, count: info.elementCount)
            try out.appendChecked(info.name, Tensor(shape: info.shape, storage: storage), path: path)
        }
        return out
    }

    /// Parses and validates the header of safetensors bytes (see the type's documentation for
    /// the checks). Throws `CheckpointError` for any malformed input.
    public static func parseHeader(_ bytes: UnsafeRawBufferPointer, path: String) throws -> Header {
        guard bytes.count >= 8 else { throw CheckpointError.truncated(path: path, expectedBytes: 8, foundBytes: bytes.count) }
        var n64: UInt64 = 0
        for i in 0..<8 { n64 |= UInt64(bytes[i]) << (8 * UInt64(i)) }
        guard n64 <= UInt64(maxHeaderBytes) else {
            throw CheckpointError.invalidHeader(path: path, reason: "header size \(n64) exceeds the \(maxHeaderBytes)-byte limit")
        }
        let n = Int(n64)
        guard n <= bytes.count - 8 else {
            throw CheckpointError.truncated(path: path, expectedBytes: 8 + n, foundBytes: bytes.count)
        }
        guard n >= 2, bytes[8] == UInt8(ascii: "{") else {
            throw CheckpointError.invalidHeader(path: path, reason: "the header does not start with '{'")
        }
        let json = Data(UnsafeRawBufferPointer(rebasing: bytes[8..<(8 + n)]))
        let object: Any
        do {
            object = try JSONSerialization.jsonObject(with: json, options: [])
        } catch {
            throw CheckpointError.invalidHeader(path: path, reason: "the JSON does not parse (\(error.localizedDescription))")
        }
        guard let dict = object as? [String: Any] else {
            throw CheckpointError.invalidHeader(path: path, reason: "the JSON is not an object")
        }
        let dataStart = 8 + n
        let bufferSize = bytes.count - dataStart
        var metadata: [String: String] = [:]
        var infos: [TensorInfo] = []
        infos.reserveCapacity(dict.count)
        // Entries are checked in name order and the data bounds last, in offset order, so the
        // tensor an error names does not depend on the dictionary's (per-process) hash order:
        // a truncated file names the first tensor it cuts, every time.
        for name in dict.keys.sorted() {
            guard let value = dict[name] else { continue }
            if name == "__metadata__" {
                guard let m = value as? [String: Any] else {
                    throw CheckpointError.invalidHeader(path: path, reason: "__metadata__ is not an object")
                }
                for (k, v) in m {
                    guard let s = v as? String else {
                        throw CheckpointError.invalidHeader(path: path, reason: "__metadata__ value for '\(k)' is not a string")
                    }
                    metadata[k] = s
                }
                continue
            }
            infos.append(try parseEntry(name: name, value: value, bufferSize: Int.max, path: path))
        }
        infos.sort { a, b in
            if a.dataOffsets.lowerBound != b.dataOffsets.lowerBound { return a.dataOffsets.lowerBound < b.dataOffsets.lowerBound }
            if a.dataOffsets.upperBound != b.dataOffsets.upperBound { return a.dataOffsets.upperBound < b.dataOffsets.upperBound }
            return a.name < b.name
        }
        if let cut = infos.first(where: { $0.dataOffsets.upperBound > bufferSize }) {
            let needed = infos.map(\.dataOffsets.upperBound).max() ?? 0
            throw CheckpointError.invalidTensor(path: path, tensor: cut.name,
                reason: "data_offsets [\(cut.dataOffsets.lowerBound), \(cut.dataOffsets.upperBound)] are not inside the \(bufferSize)-byte data buffer "
                    + "(the file has \(bytes.count) bytes, its header describes \(dataStart + needed)): the file is truncated or its header is wrong")
        }
        var end = 0
        var previous = ""
        for info in infos where !info.dataOffsets.isEmpty {
            guard info.dataOffsets.lowerBound >= end else {
                throw CheckpointError.invalidTensor(path: path, tensor: info.name,
                    reason: "its bytes \(info.dataOffsets) overlap those of '\(previous)' (ending at \(end))")
            }
            end = info.dataOffsets.upperBound
            previous = info.name
        }
        return Header(tensors: infos, metadata: metadata, dataStart: dataStart)
    }

    private static func parseEntry(name: String, value: Any, bufferSize: Int, path: String) throws -> TensorInfo {
        guard let entry = value as? [String: Any] else {
            throw CheckpointError.invalidTensor(path: path, tensor: name, reason: "its header entry is not an object")
        }
        guard let dtypeName = entry["dtype"] as? String else {
            throw CheckpointError.invalidTensor(path: path, tensor: name, reason: "missing or non-string 'dtype'")
        }
        guard let dtype = DType(rawValue: dtypeName) else {
            throw CheckpointError.unsupportedDType(path: path, tensor: name, dtype: dtypeName)
        }
        guard let shapeArray = entry["shape"] as? [Any], shapeArray.count <= 64 else {
            throw CheckpointError.invalidTensor(path: path, tensor: name, reason: "missing 'shape', or it is not an array of at most 64 dimensions")
        }
        var shape: [Int] = []
        var elements = 1
        var overflow = false
        for d in shapeArray {
            guard let dim = jsonInt(d), dim >= 0 else {
                throw CheckpointError.invalidTensor(path: path, tensor: name, reason: "shape \(shapeArray) has an entry that is not a non-negative integer")
            }
            shape.append(dim)
            let (p, o) = elements.multipliedReportingOverflow(by: dim)
            elements = p
            overflow = overflow || o
        }
        guard !overflow else {
            throw CheckpointError.invalidTensor(path: path, tensor: name, reason: "shape \(shape) overflows the element count")
        }
        guard let offsets = entry["data_offsets"] as? [Any], offsets.count == 2,
              let begin = jsonInt(offsets[0]), let end = jsonInt(offsets[1]) else {
            throw CheckpointError.invalidTensor(path: path, tensor: name, reason: "missing 'data_offsets', or it is not [begin, end] integers")
        }
        guard begin >= 0, begin <= end else {
            throw CheckpointError.invalidTensor(path: path, tensor: name,
                reason: "data_offsets [\(begin), \(end)] are not a start and an end offset (0 <= start <= end)")
        }
        guard end <= bufferSize else {
            throw CheckpointError.invalidTensor(path: path, tensor: name,
                reason: "data_offsets [\(begin), \(end)] are not inside the \(bufferSize)-byte data buffer")
        }
        let (bytes, o) = elements.multipliedReportingOverflow(by: dtype.size)
        guard !o, bytes == end - begin else {
            throw CheckpointError.invalidTensor(path: path, tensor: name,
                reason: "shape \(shape) of \(dtype.rawValue) needs \(o ? "too many" : String(bytes)) bytes but data_offsets [\(begin), \(end)] hold \(end - begin)")
        }
        return TensorInfo(name: name, dtype: dtype, shape: shape, dataOffsets: begin..<end, elementCount: elements)
    }

    /// An integer from a JSON number, or nil when it is not an exact integer in Int's range.
    private static func jsonInt(_ value: Any) -> Int? {
        if let i = value as? Int { return i }
        if let d = value as? Double, d.rounded() == d, d >= 0, d < 9.0e18 { return Int(d) }
        return nil
    }

    /// Converts `count` little-endian elements of `dtype` at `src` to Float32 at `dst`.
    /// `src` may be unaligned (other writers do not pad the header).
    static func convertToFloat32(_ src: UnsafeRawBufferPointer, dtype: DType, into dst: UnsafeMutablePointer<Float>, count: Int) {
        switch dtype {
        case .F32:
            if count > 0, let base = src.baseAddress {
                UnsafeMutableRawPointer(dst).copyMemory(from: base, byteCount: count * 4)
            }
            #if _endian(big)
            for i in 0..<count { dst[i] = Float(bitPattern: UInt32(littleEndian: dst[i].bitPattern)) }
            #endif
        case .BF16:
            for i in 0..<count {
                let bits = UInt16(src[2 * i]) | UInt16(src[2 * i + 1]) << 8
                dst[i] = Float(bitPattern: UInt32(bits) << 16)
            }
        case .F16:
            for i in 0..<count {
                let bits = UInt16(src[2 * i]) | UInt16(src[2 * i + 1]) << 8
                dst[i] = float16BitsToFloat(bits)
            }
        default:
            preconditionFailure("convertToFloat32: \(dtype) is not readable; callers check isReadable")
        }
    }

    /// IEEE half-precision bits to Float32 (exact: normals, subnormals, infinities, NaN).
    static func float16BitsToFloat(_ h: UInt16) -> Float {
        let sign = UInt32(h & 0x8000) << 16
        let exponent = UInt32(h >> 10) & 0x1F
        var mantissa = UInt32(h & 0x03FF)
        if exponent == 0x1F {
            return Float(bitPattern: sign | 0x7F80_0000 | (mantissa << 13))
        }
        if exponent == 0 {
            if mantissa == 0 { return Float(bitPattern: sign) }
            // Subnormal: normalise the mantissa.
            var e: UInt32 = 127 - 15 + 1
            while mantissa & 0x0400 == 0 {
                mantissa <<= 1
                e -= 1
            }
            mantissa &= 0x03FF
            return Float(bitPattern: sign | (e << 23) | (mantissa << 13))
        }
        return Float(bitPattern: sign | ((exponent + 127 - 15) << 23) | (mantissa << 13))
    }
}
