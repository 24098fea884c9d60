import Autograd
@testable import Checkpoints
import Foundation
import XCTest

// Helpers shared by the GGUF tests: fixture files, a builder for hand-made (hostile) GGUF
// bytes, and the JSON form of metadata values that scripts/make_gguf_fixtures.py writes.

enum GGUFFixtures {
    /// The URL of `Fixtures/gguf/NAME` in the test bundle.
    static func url(_ name: String, file: StaticString = #filePath, line: UInt = #line) throws -> URL {
        try XCTUnwrap(Bundle.module.url(forResource: "Fixtures/gguf/\(name)", withExtension: nil),
                      "missing fixture Fixtures/gguf/\(name); run scripts/make_gguf_fixtures.py", file: file, line: line)
    }

    /// A fixture's little-endian float32 values.
    static func floats(_ name: String) throws -> [Float] {
        let data = try Data(contentsOf: url(name))
        return data.withUnsafeBytes { raw in
            (0..<(raw.count / 4)).map { Float(bitPattern: UInt32(littleEndian: raw.loadUnaligned(fromByteOffset: 4 * $0, as: UInt32.self))) }
        }
    }

    /// A fixture's JSON object.
    static func json(_ name: String) throws -> [String: Any] {
        let object = try JSONSerialization.jsonObject(with: Data(contentsOf: url(name)))
        return try XCTUnwrap(object as? [String: Any], "\(name) is not a JSON object")
    }

    /// The package directory (where models/ and scripts/ are).
    static let repositoryRoot = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

    /// A metadata value from the fixture JSON: {"type": T, "value": V[, "element_type": E]},
    /// integers as decimal strings and floats as hex bit patterns.
    static func value(_ node: Any) throws -> GGUFValue {
        let n = try XCTUnwrap(node as? [String: Any])
        let type = try XCTUnwrap(n["type"] as? String)
        func text() throws -> String { try XCTUnwrap(n["value"] as? String, "\(n)") }
        switch type {
        case "UINT8": return .uint8(try XCTUnwrap(UInt8(text())))
        case "INT8": return .int8(try XCTUnwrap(Int8(text())))
        case "UINT16": return .uint16(try XCTUnwrap(UInt16(text())))
        case "INT16": return .int16(try XCTUnwrap(Int16(text())))
        case "UINT32": return .uint32(try XCTUnwrap(UInt32(text())))
        case "INT32": return .int32(try XCTUnwrap(Int32(text())))
        case "UINT64": return .uint64(try XCTUnwrap(UInt64(text())))
        case "INT64": return .int64(try XCTUnwrap(Int64(text())))
        case "FLOAT32": return .float32(Float(bitPattern: try XCTUnwrap(UInt32(text(), radix: 16))))
        case "FLOAT64": return .float64(Double(bitPattern: try XCTUnwrap(UInt64(text(), radix: 16))))
        case "BOOL": return .bool(try XCTUnwrap(n["value"] as? Bool))
        case "STRING": return .string(try text())
        case "ARRAY":
            let elementName = try XCTUnwrap(n["element_type"] as? String)
            let elementType = try XCTUnwrap(GGUFValueType.allCases.first { $0.name == elementName })
            let items = try XCTUnwrap(n["value"] as? [Any])
            return .array(elementType, try items.map { try value($0) })
        default:
            throw FixtureFormatError(message: "unknown value type \(type) in fixture JSON")
        }
    }
}

/// A fixture file that does not have the form the tests expect.
struct FixtureFormatError: Error {
    let message: String
}

/// Builds GGUF bytes by hand, for files that no writer would make.
struct GGUFBuilder {
    var bytes: [UInt8] = []

    /// The usual start: magic, version, tensor count, key/value count.
    init(version: UInt32 = 3, tensors: UInt64, keys: UInt64) {
        bytes += Array("GGUF".utf8)
        u32(version)
        u64(tensors)
        u64(keys)
    }

    mutating func u8(_ v: UInt8) { bytes.append(v) }
    mutating func u32(_ v: UInt32) { withUnsafeBytes(of: v.littleEndian) { bytes += $0 } }
    mutating func u64(_ v: UInt64) { withUnsafeBytes(of: v.littleEndian) { bytes += $0 } }
    mutating func string(_ s: String) { rawString(Array(s.utf8)) }
    mutating func rawString(_ b: [UInt8]) {
        u64(UInt64(b.count))
        bytes += b
    }

    /// A key with a UINT32 value.
    mutating func keyU32(_ key: String, _ v: UInt32) {
        string(key)
        u32(GGUFValueType.uint32.rawValue)
        u32(v)
    }

    /// A key with a STRING value.
    mutating func keyString(_ key: String, _ v: String) {
        string(key)
        u32(GGUFValueType.string.rawValue)
        string(v)
    }

    /// A tensor info.
    mutating func tensor(_ name: String, dims: [UInt64], type: UInt32, offset: UInt64) {
        string(name)
        u32(UInt32(dims.count))
        for d in dims { u64(d) }
        u32(type)
        u64(offset)
    }

    /// Zero bytes up to the next multiple of `alignment`.
    mutating func pad(_ alignment: Int = 32) {
        while bytes.count % alignment != 0 { bytes.append(0) }
    }

    /// Writes the bytes to a new file in `directory`.
    func write(in directory: URL, name: String = "test.gguf") throws -> URL {
        let url = directory.appendingPathComponent(name)
        try Data(bytes).write(to: url)
        return url
    }
}

/// Runs `body` and returns the GGUFError it throws, failing if it throws anything else or nothing.
func expectGGUFError(_ body: () throws -> Void, file: StaticString = #filePath, line: UInt = #line) -> GGUFError? {
    do {
        try body()
        XCTFail("expected a GGUFError, nothing was thrown", file: file, line: line)
    } catch let e as GGUFError {
        return e
    } catch {
        XCTFail("expected a GGUFError, got \(error)", file: file, line: line)
    }
    return nil
}

/// Asserts that two values are the same metadata, comparing floats by bit pattern.
func assertSameValue(_ a: GGUFValue, _ b: GGUFValue, _ key: String, file: StaticString = #filePath, line: UInt = #line) {
    switch (a, b) {
    case let (.float32(x), .float32(y)):
        XCTAssertEqual(x.bitPattern, y.bitPattern, key, file: file, line: line)
    case let (.float64(x), .float64(y)):
        XCTAssertEqual(x.bitPattern, y.bitPattern, key, file: file, line: line)
    case let (.array(ta, xa), .array(tb, xb)):
        XCTAssertEqual(ta, tb, "\(key): element type", file: file, line: line)
        XCTAssertEqual(xa.count, xb.count, "\(key): count", file: file, line: line)
        for (x, y) in zip(xa, xb) { assertSameValue(x, y, key, file: file, line: line) }
    default:
        XCTAssertEqual(a, b, key, file: file, line: line)
    }
}
