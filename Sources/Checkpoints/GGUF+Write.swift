import Autograd
import Foundation

/// Writes GGUF version 3 files (little-endian): metadata of every value type in the order it
/// was added, then Float32 tensors stored as F32, F16, BF16 or Q8_0 (or raw blocks of any
/// type passed through).
///
/// The layout is the one gguf-py's `GGUFWriter` produces: header, key/values, tensor infos,
/// zero padding to the alignment, then each tensor's bytes padded with zeros to the alignment
/// (the last one too). The alignment is `general.alignment` when the metadata has it (a UINT32
/// power of two), else 32. Given the same metadata, tensors and order, the file is byte for
/// byte what gguf-py writes (tested). gguf-py always starts with `general.architecture`, and
/// llama.cpp requires it; this writer adds nothing on its own.
///
/// A tensor of row-major shape `[d0, ..., dk]` is stored with GGUF dimensions `[dk, ..., d0]`
/// (`ne0` = the last, contiguous dimension), so `GGUFFile` reads it back with the same shape;
/// a rank-0 tensor is stored as one dimension of 1. `write(to:)` writes a temporary sibling,
/// fsyncs it and renames it over `url`: a failure leaves any previous file untouched.
public struct GGUFWriter {
    /// The metadata in write order.
    public private(set) var metadata: [(key: String, value: GGUFValue)] = []
    /// The tensors' names, GGUF dimensions and types, in write order.
    public var tensorDescriptions: [(name: String, dimensions: [Int], type: GGUFTensorType)] {
        tensors.map { ($0.name, $0.dimensions, $0.type) }
    }

    private enum Payload {
        case float(Tensor)
        case raw([UInt8])
    }

    private struct Entry {
        var name: String
        var dimensions: [Int]
        var type: GGUFTensorType
        var byteCount: Int
        var payload: Payload
    }

    private var tensors: [Entry] = []
    private var keys: Set<String> = []
    private var names: Set<String> = []
    /// llama.cpp keeps tensor names in 64-byte C strings (GGML_MAX_NAME), NUL included.
    public static let maxTensorNameBytes = 63
    /// The path used in errors raised before a destination is known.
    private static let source = "GGUFWriter"

    /// An empty writer.
    public init() {}

    /// The data alignment the file will have: `general.alignment` if set, else 32.
    public var alignment: Int {
        if let entry = metadata.first(where: { $0.key == "general.alignment" }), case let .uint32(a) = entry.value { return Int(a) }
        return GGUFHeader.defaultAlignment
    }

    /// Appends a metadata key and value. Throws `invalidWrite` for an empty or duplicate key, an
    /// array whose elements are not all of its element type, or a `general.alignment` that is
    /// not a UINT32 power of two.
    public mutating func add(_ key: String, _ value: GGUFValue) throws {
        guard !key.isEmpty, key.utf8.count <= 65_535 else {
            throw GGUFError.invalidWrite(path: Self.source, item: key, reason: "a key must have 1 to 65,535 bytes")
        }
        guard !keys.contains(key) else {
            throw GGUFError.invalidWrite(path: Self.source, item: key, reason: "the key was already added; keys must be unique")
        }
        if let problem = Self.problem(with: value, depth: 0) {
            throw GGUFError.invalidWrite(path: Self.source, item: key, reason: problem)
        }
        if key == "general.alignment" {
            guard case let .uint32(a) = value, a != 0, a & (a - 1) == 0 else {
                throw GGUFError.invalidWrite(path: Self.source, item: key, reason: "general.alignment must be a UINT32 power of two, got \(value)")
            }
            guard tensors.isEmpty else {
                throw GGUFError.invalidWrite(path: Self.source, item: key, reason: "set general.alignment before adding tensors")
            }
        }
        keys.insert(key)
        metadata.append((key, value))
    }

    /// Appends a Float32 tensor, to be stored as `type` (F32, F16, BF16 or Q8_0; see
    /// `GGUFQuantization.quantize(_:as:)` for the exact rounding). Conversion happens when the
    /// file is written. Throws `invalidWrite` for a bad or duplicate name, a zero dimension, a
    /// last dimension that is not a multiple of the type's block size, or a type not written.
    public mutating func addTensor(_ name: String, _ tensor: Tensor, as type: GGUFTensorType = .f32) throws {
        guard type.isWritable else {
            throw GGUFError.unsupportedTensorType(path: Self.source, tensor: name, type: type.name,
                                                  supported: GGUFTensorType.writable.map { $0.name })
        }
        let dimensions = tensor.shape.isEmpty ? [1] : Array(tensor.shape.reversed())
        let byteCount = try checkedByteCount(name, dimensions, type)
        append(Entry(name: name, dimensions: dimensions, type: type, byteCount: byteCount, payload: .float(tensor)))
    }

    /// Appends a tensor whose stored bytes are given as they are (for example quantized blocks
    /// read with `GGUFFile.withRawBytes`). `dimensions` are GGUF's (`ne0` first). Throws
    /// `invalidWrite` when the byte count does not match the dimensions and type.
    public mutating func addRawTensor(_ name: String, dimensions: [Int], type: GGUFTensorType, bytes: [UInt8]) throws {
        let byteCount = try checkedByteCount(name, dimensions, type)
        guard bytes.count == byteCount else {
            throw GGUFError.invalidWrite(path: Self.source, item: name,
                reason: "\(type.name) dimensions \(dimensions) take \(byteCount) bytes, \(bytes.count) were given")
        }
        append(Entry(name: name, dimensions: dimensions, type: type, byteCount: byteCount, payload: .raw(bytes)))
    }

    /// Writes the file to `url` atomically (temporary sibling, fsync, rename).
    public func write(to url: URL) throws {
        let header = encodeHeader()
        let alignment = self.alignment
        let zeros = [UInt8](repeating: 0, count: alignment)
        do {
            try replaceFileAtomically(path: url.path) { tmp in
                try writeFileDurably(path: tmp) { write in
                    try header.withUnsafeBytes { try write($0) }
                    for entry in tensors {
                        try withEncodedBytes(entry) { try write($0) }
                        let pad = padding(entry.byteCount, alignment)
                        if pad > 0 { try zeros.withUnsafeBytes { try write(UnsafeRawBufferPointer(rebasing: $0[0..<pad])) } }
                    }
                }
            }
        } catch let CheckpointError.io(path, operation, reason) {
            throw GGUFError.io(path: path, operation: operation, reason: reason)
        }
    }

    /// The whole file in memory (for small files and tests).
    public func encode() -> Data {
        var data = Data(encodeHeader())
        let alignment = self.alignment
        for entry in tensors {
            withEncodedBytes(entry) { data.append(contentsOf: $0) }
            data.append(contentsOf: [UInt8](repeating: 0, count: padding(entry.byteCount, alignment)))
        }
        return data
    }

    // MARK: Encoding

    /// Magic, version, counts, key/values, tensor infos, and the padding before the data.
    private func encodeHeader() -> [UInt8] {
        var out: [UInt8] = []
        out.append(contentsOf: Array("GGUF".utf8))
        append(UInt32(3), to: &out)
        append(UInt64(tensors.count), to: &out)
        append(UInt64(metadata.count), to: &out)
        for (key, value) in metadata {
            appendString(key, to: &out)
            append(value.type.rawValue, to: &out)
            appendValue(value, to: &out)
        }
        let alignment = self.alignment
        var offset = 0
        for entry in tensors {
            appendString(entry.name, to: &out)
            append(UInt32(entry.dimensions.count), to: &out)
            for d in entry.dimensions { append(UInt64(d), to: &out) }
            append(entry.type.rawValue, to: &out)
            append(UInt64(offset), to: &out)
            offset += entry.byteCount + padding(entry.byteCount, alignment)
        }
        out.append(contentsOf: [UInt8](repeating: 0, count: padding(out.count, alignment)))
        return out
    }

    private func withEncodedBytes<R>(_ entry: Entry, _ body: (UnsafeRawBufferPointer) throws -> R) rethrows -> R {
        switch entry.payload {
        case let .raw(bytes):
            return try bytes.withUnsafeBytes(body)
        case let .float(tensor):
            #if _endian(little)
            if entry.type == .f32 { return try tensor.withUnsafeBufferPointer { try body(UnsafeRawBufferPointer($0)) } }
            #endif
            let bytes = tensor.withUnsafeBufferPointer { GGUFQuantization.quantize($0, as: entry.type) }
            return try bytes.withUnsafeBytes(body)
        }
    }

    private func appendValue(_ value: GGUFValue, to out: inout [UInt8]) {
        switch value {
        case let .uint8(v): out.append(v)
        case let .int8(v): out.append(UInt8(bitPattern: v))
        case let .uint16(v): append(v, to: &out)
        case let .int16(v): append(v, to: &out)
        case let .uint32(v): append(v, to: &out)
        case let .int32(v): append(v, to: &out)
        case let .uint64(v): append(v, to: &out)
        case let .int64(v): append(v, to: &out)
        case let .float32(v): append(v.bitPattern, to: &out)
        case let .float64(v): append(v.bitPattern, to: &out)
        case let .bool(v): out.append(v ? 1 : 0)
        case let .string(s): appendString(s, to: &out)
        case let .array(elementType, elements):
            append(elementType.rawValue, to: &out)
            append(UInt64(elements.count), to: &out)
            for e in elements { appendValue(e, to: &out) }
        }
    }

    private func appendString(_ s: String, to out: inout [UInt8]) {
        let utf8 = Array(s.utf8)
        append(UInt64(utf8.count), to: &out)
        out.append(contentsOf: utf8)
    }

    private func append<T: FixedWidthInteger>(_ v: T, to out: inout [UInt8]) {
        withUnsafeBytes(of: v.littleEndian) { out.append(contentsOf: $0) }
    }

    private func padding(_ n: Int, _ alignment: Int) -> Int { (alignment - n % alignment) % alignment }

    // MARK: Checks

    private mutating func append(_ entry: Entry) {
        names.insert(entry.name)
        tensors.append(entry)
    }

    private func checkedByteCount(_ name: String, _ dimensions: [Int], _ type: GGUFTensorType) throws -> Int {
        func bad(_ reason: String) -> GGUFError { GGUFError.invalidWrite(path: Self.source, item: name, reason: reason) }
        guard !name.isEmpty, name.utf8.count <= Self.maxTensorNameBytes else {
            throw bad("a tensor name must have 1 to \(Self.maxTensorNameBytes) bytes (llama.cpp's limit), this one has \(name.utf8.count)")
        }
        guard !names.contains(name) else { throw bad("a tensor with this name was already added; names must be unique") }
        guard !dimensions.isEmpty, dimensions.count <= GGUFHeader.maxDimensions else {
            throw bad("a tensor needs 1 to \(GGUFHeader.maxDimensions) dimensions, got \(dimensions)")
        }
        guard dimensions.allSatisfy({ $0 >= 1 }) else { throw bad("dimensions \(dimensions) must all be positive (GGUF readers refuse empty tensors)") }
        var elements = 1
        for d in dimensions {
            let (p, o) = elements.multipliedReportingOverflow(by: d)
            guard !o else { throw bad("dimensions \(dimensions) overflow the element count") }
            elements = p
        }
        guard dimensions[0] % type.blockSize == 0 else {
            throw bad("\(type.name) stores blocks of \(type.blockSize) along the last (contiguous) dimension, which is \(dimensions[0]); use F32, F16 or BF16 for this tensor")
        }
        return elements / type.blockSize * type.typeSize
    }

    /// Why `value` cannot be stored (an array element of the wrong type, arrays nested deeper
    /// than the reader accepts), or nil. `depth` counts the arrays around `value`.
    private static func problem(with value: GGUFValue, depth: Int) -> String? {
        guard case let .array(elementType, elements) = value else { return nil }
        if elementType == .array && depth + 1 >= GGUFHeader.maxArrayNesting {
            return "arrays are nested more than \(GGUFHeader.maxArrayNesting) deep"
        }
        for (i, e) in elements.enumerated() {
            guard e.type == elementType else {
                return "element \(i) of an ARRAY of \(elementType.name) is \(e.typeDescription)"
            }
            if let p = problem(with: e, depth: depth + 1) { return "element \(i): \(p)" }
        }
        return nil
    }
}
