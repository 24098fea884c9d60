/// The type code of a GGUF metadata value (`enum gguf_type`, gguf-py's `GGUFValueType`).
public enum GGUFValueType: UInt32, CaseIterable, Sendable {
    /// Fixed-size scalars of GGUF version 1 and later.
    case uint8 = 0, int8 = 1, uint16 = 2, int16 = 3, uint32 = 4, int32 = 5, float32 = 6, bool = 7
    /// Length-prefixed strings and arrays, and the 64-bit scalars added in version 2.
    case string = 8, array = 9, uint64 = 10, int64 = 11, float64 = 12

    /// The name gguf-py prints (`UINT8`, `STRING`, `ARRAY`, ...).
    public var name: String { String(describing: self).uppercased() }

    /// Bytes of a scalar of this type; nil for strings and arrays (variable length).
    public var scalarSize: Int? {
        switch self {
        case .uint8, .int8, .bool: return 1
        case .uint16, .int16: return 2
        case .uint32, .int32, .float32: return 4
        case .uint64, .int64, .float64: return 8
        case .string, .array: return nil
        }
    }

    /// The fewest bytes a value of this type can take in a file: a string is at least its
    /// 8-byte length, an array at least its 4-byte element type and 8-byte count.
    var minimumEncodedSize: Int { scalarSize ?? (self == .string ? 8 : 12) }
}

/// One GGUF metadata value.
///
/// Integers and floats keep their stored width (a `uint32` stays `.uint32`), so a file read and
/// written again keeps every type. An array carries its element type, which matters for an
/// empty array; its elements all have that type, and arrays may nest.
public indirect enum GGUFValue: Equatable, Sendable {
    /// An unsigned 8-bit integer.
    case uint8(UInt8)
    /// A signed 8-bit integer.
    case int8(Int8)
    /// An unsigned 16-bit integer.
    case uint16(UInt16)
    /// A signed 16-bit integer.
    case int16(Int16)
    /// An unsigned 32-bit integer (most llama.cpp hyperparameters).
    case uint32(UInt32)
    /// A signed 32-bit integer.
    case int32(Int32)
    /// An unsigned 64-bit integer.
    case uint64(UInt64)
    /// A signed 64-bit integer.
    case int64(Int64)
    /// A single-precision float.
    case float32(Float)
    /// A double-precision float.
    case float64(Double)
    /// A boolean (stored as one byte, 0 or 1).
    case bool(Bool)
    /// A UTF-8 string.
    case string(String)
    /// An array: its element type, then the elements, all of that type (an `.array` element
    /// may itself hold any element type).
    case array(GGUFValueType, [GGUFValue])

    /// The value's type code.
    public var type: GGUFValueType {
        switch self {
        case .uint8: return .uint8
        case .int8: return .int8
        case .uint16: return .uint16
        case .int16: return .int16
        case .uint32: return .uint32
        case .int32: return .int32
        case .uint64: return .uint64
        case .int64: return .int64
        case .float32: return .float32
        case .float64: return .float64
        case .bool: return .bool
        case .string: return .string
        case .array: return .array
        }
    }

    /// A short description of the type for messages: `UINT32`, `ARRAY of STRING`.
    public var typeDescription: String {
        if case let .array(elementType, _) = self { return "ARRAY of \(elementType.name)" }
        return type.name
    }

    /// The value as an `Int` when it is an integer of any width that fits; nil otherwise.
    public var intValue: Int? {
        switch self {
        case let .uint8(v): return Int(v)
        case let .int8(v): return Int(v)
        case let .uint16(v): return Int(v)
        case let .int16(v): return Int(v)
        case let .uint32(v): return Int(v)
        case let .int32(v): return Int(v)
        case let .uint64(v): return Int(exactly: v)
        case let .int64(v): return Int(v)
        default: return nil
        }
    }

    /// The value as a `Double` when it is a `float32` or `float64` (exact); nil otherwise.
    public var floatValue: Double? {
        switch self {
        case let .float32(v): return Double(v)
        case let .float64(v): return v
        default: return nil
        }
    }

    /// The string, when the value is one.
    public var stringValue: String? {
        if case let .string(s) = self { return s }
        return nil
    }

    /// The boolean, when the value is one.
    public var boolValue: Bool? {
        if case let .bool(b) = self { return b }
        return nil
    }

    /// The elements, when the value is an array.
    public var arrayValue: [GGUFValue]? {
        if case let .array(_, elements) = self { return elements }
        return nil
    }
}

// MARK: Typed accessors

extension GGUFFile {
    /// The value stored under `key`, or nil when the key is absent.
    public func value(_ key: String) -> GGUFValue? {
        guard let i = metadataIndex[key] else { return nil }
        return metadata[i].value
    }

    /// Whether the metadata has `key`.
    public func contains(key: String) -> Bool { metadataIndex[key] != nil }

    /// The string under `key`. Throws `missingKey` or `metadataType` (naming the key and the type found).
    public func string(_ key: String) throws -> String {
        let v = try required(key)
        guard let s = v.stringValue else { throw mismatch(key, expected: "STRING", found: v) }
        return s
    }

    /// The integer under `key`, of any stored width (UINT8 ... INT64). Throws when the key is
    /// absent, holds another type, or is a UINT64 above `Int.max`.
    public func int(_ key: String) throws -> Int {
        let v = try required(key)
        guard let i = v.intValue else { throw mismatch(key, expected: "an integer that fits in Int", found: v) }
        return i
    }

    /// The float under `key` (FLOAT32 or FLOAT64, converted exactly to Double).
    public func float(_ key: String) throws -> Double {
        let v = try required(key)
        guard let f = v.floatValue else { throw mismatch(key, expected: "FLOAT32 or FLOAT64", found: v) }
        return f
    }

    /// The boolean under `key`.
    public func bool(_ key: String) throws -> Bool {
        let v = try required(key)
        guard let b = v.boolValue else { throw mismatch(key, expected: "BOOL", found: v) }
        return b
    }

    /// The array of strings under `key` (for example `tokenizer.ggml.tokens`).
    public func stringArray(_ key: String) throws -> [String] {
        let v = try required(key)
        guard case let .array(.string, elements) = v else { throw mismatch(key, expected: "ARRAY of STRING", found: v) }
        let strings = elements.compactMap { $0.stringValue }
        guard strings.count == elements.count else { throw mismatch(key, expected: "ARRAY of STRING (every element a string)", found: v) }
        return strings
    }

    /// The array of integers (any one integer width) under `key` (for example `tokenizer.ggml.token_type`).
    public func intArray(_ key: String) throws -> [Int] {
        let v = try required(key)
        guard case let .array(_, elements) = v else { throw mismatch(key, expected: "ARRAY of an integer type", found: v) }
        var out: [Int] = []
        out.reserveCapacity(elements.count)
        for e in elements {
            guard let i = e.intValue else { throw mismatch(key, expected: "ARRAY of an integer type (each fitting in Int)", found: v) }
            out.append(i)
        }
        return out
    }

    /// The array of floats (FLOAT32 or FLOAT64, exact as Double) under `key` (for example `tokenizer.ggml.scores`).
    public func floatArray(_ key: String) throws -> [Double] {
        let v = try required(key)
        guard case let .array(elementType, elements) = v, elementType == .float32 || elementType == .float64 else {
            throw mismatch(key, expected: "ARRAY of FLOAT32 or FLOAT64", found: v)
        }
        let floats = elements.compactMap { $0.floatValue }
        guard floats.count == elements.count else { throw mismatch(key, expected: "ARRAY of FLOAT32 or FLOAT64 (every element a float)", found: v) }
        return floats
    }

    private func required(_ key: String) throws -> GGUFValue {
        guard let v = value(key) else { throw GGUFError.missingKey(path: path, key: key) }
        return v
    }

    private func mismatch(_ key: String, expected: String, found: GGUFValue) -> GGUFError {
        GGUFError.metadataType(path: path, key: key, expected: expected, found: found.typeDescription)
    }
}
