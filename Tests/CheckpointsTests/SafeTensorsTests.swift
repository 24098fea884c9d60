import Autograd
@testable import Checkpoints
import Foundation
import TestSupport
import XCTest

final class SafeTensorsTests: XCTestCase {
    func test_writeThenRead_fileRoundTrip_namesOrderValuesAndMetadataIdentical() throws {
        let dir = try makeTemporaryDirectory(self)
        let url = dir.appendingPathComponent("model.safetensors")
        let original = sampleTensors()
        try SafeTensors.write(original, to: url)
        let back = try SafeTensors.read(contentsOf: url)
        assertSameTensors(original, back)
        // The writer adds "format": "pt" (transformers requires it) and keeps everything else.
        XCTAssertEqual(back.metadata, original.metadata.merging(["format": "pt"]) { a, _ in a })
        // The file on disk is what encode() produces.
        XCTAssertEqual(try Data(contentsOf: url), try SafeTensors.encode(original))
    }

    func test_encode_headerPaddedToEightBytes_andStartsWithBrace() throws {
        let data = try SafeTensors.encode(sampleTensors())
        let n = data.prefix(8).enumerated().reduce(UInt64(0)) { $0 | UInt64($1.element) << (8 * UInt64($1.offset)) }
        XCTAssertEqual((8 + Int(n)) % 8, 0)
        XCTAssertEqual(data[8], UInt8(ascii: "{"))
        let header = try data.withUnsafeBytes { try SafeTensors.parseHeader($0, path: "mem") }
        XCTAssertEqual(header.tensors.first?.name, "transformer.wte.weight")
        XCTAssertEqual(header.tensors.first?.dtype, .F32)
        XCTAssertEqual(header.tensors.first?.shape, [10, 4])
    }

    func test_read_f16AndBF16_convertedExactlyToFloat32() throws {
        // F16: 1.0 = 0x3C00, -2.0 = 0xC000, 65504 = 0x7BFF, smallest subnormal 2^-24 = 0x0001, +inf 0x7C00.
        // BF16: 1.0 = 0x3F80, -0.5 = 0xBF00.
        let f16: [UInt16] = [0x3C00, 0xC000, 0x7BFF, 0x0001, 0x7C00, 0x0000]
        let bf16: [UInt16] = [0x3F80, 0xBF00]
        var bytes: [UInt8] = []
        for v in f16 + bf16 { bytes += [UInt8(v & 0xFF), UInt8(v >> 8)] }
        let header = #"{"h":{"dtype":"F16","shape":[2,3],"data_offsets":[0,12]},"b":{"dtype":"BF16","shape":[2],"data_offsets":[12,16]}}"#
        let t = try SafeTensors.decode(rawSafetensors(header: header, data: bytes))
        XCTAssertEqual(t.names, ["h", "b"])
        XCTAssertEqual(t["h"]?.shape, [2, 3])
        XCTAssertEqual(t["h"]?.scalars, [1, -2, 65504, Float(sign: .plus, exponent: -24, significand: 1), .infinity, 0])
        XCTAssertEqual(t["b"]?.scalars, [1, -0.5])
    }

    func test_float16BitsToFloat_everyFiniteValue_matchesHardwareConversion() {
        #if arch(x86_64) || arch(arm64)
        for bits in UInt16.min...UInt16.max {
            let expected = Float(Float16(bitPattern: bits))
            let got = SafeTensors.float16BitsToFloat(bits)
            if expected.isNaN { XCTAssertTrue(got.isNaN); continue }
            if expected != got { XCTFail("F16 0x\(String(bits, radix: 16)): \(got) != \(expected)"); return }
        }
        #endif
    }

    func test_read_readerFromOtherToolUnpaddedHeader_unalignedDataReadCorrectly() throws {
        let values: [Float] = [1.5, -2.25, 3]
        let bytes = values.flatMap { v in withUnsafeBytes(of: v.bitPattern.littleEndian) { Array($0) } }
        let header = #"{"x":{"dtype":"F32","shape":[3],"data_offsets":[0,12]}}"#  // 53 bytes: data unaligned
        XCTAssertNotEqual((8 + header.utf8.count) % 4, 0)
        XCTAssertEqual(try SafeTensors.decode(rawSafetensors(header: header, data: bytes))["x"]?.scalars, values)
    }

    func test_read_malformedInputs_throwNamedErrors() {
        let four: [UInt8] = [0, 0, 128, 63]
        let cases: [(String, Data)] = [
            ("short", Data([1, 2, 3])),
            ("huge header size", Data([0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0x7F]) + Data(repeating: 0, count: 8)),
            ("header beyond file", rawSafetensors(header: "{}", data: []).dropLast(1)),
            ("not json", rawSafetensors(header: "{nope", data: [])),
            ("not object", rawSafetensors(header: "[1]     ", data: [])),
            ("offsets out of range", rawSafetensors(header: #"{"x":{"dtype":"F32","shape":[1],"data_offsets":[0,8]}}"#, data: four)),
            ("shape vs bytes", rawSafetensors(header: #"{"x":{"dtype":"F32","shape":[2],"data_offsets":[0,4]}}"#, data: four)),
            ("negative dim", rawSafetensors(header: #"{"x":{"dtype":"F32","shape":[-1],"data_offsets":[0,4]}}"#, data: four)),
            ("overflowing shape", rawSafetensors(header: #"{"x":{"dtype":"F32","shape":[4294967296,4294967296,4],"data_offsets":[0,4]}}"#, data: four)),
            ("reversed offsets", rawSafetensors(header: #"{"x":{"dtype":"F32","shape":[0],"data_offsets":[4,0]}}"#, data: four)),
            ("overlap", rawSafetensors(header: #"{"x":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},"y":{"dtype":"F16","shape":[1],"data_offsets":[2,4]}}"#, data: four)),
            ("unknown dtype", rawSafetensors(header: #"{"x":{"dtype":"Q4","shape":[1],"data_offsets":[0,4]}}"#, data: four)),
            ("unsupported dtype", rawSafetensors(header: #"{"x":{"dtype":"I32","shape":[1],"data_offsets":[0,4]}}"#, data: four)),
            ("metadata not strings", rawSafetensors(header: #"{"__metadata__":{"a":1}}"#, data: [])),
            ("missing shape", rawSafetensors(header: #"{"x":{"dtype":"F32","data_offsets":[0,4]}}"#, data: four)),
        ]
        for (label, data) in cases {
            let error = expectCheckpointError { _ = try SafeTensors.decode(data, path: "bad.safetensors") }
            XCTAssertNotNil(error, label)
            if let error { XCTAssertTrue(error.description.contains("bad.safetensors"), "\(label): \(error)") }
        }
        if case .invalidTensor(_, let tensor, _)? = expectCheckpointError({ _ = try SafeTensors.decode(cases[6].1, path: "p") }) {
            XCTAssertEqual(tensor, "x")
        } else { XCTFail("shape vs bytes should be invalidTensor naming 'x'") }
    }

    func test_read_hostileNumbersAndNesting_throwWithoutCrashing() {
        let four: [UInt8] = [0, 0, 128, 63]
        let headers = [
            #"{"x":{"dtype":"F32","shape":[1],"data_offsets":[1e300,1e300]}}"#,
            #"{"x":{"dtype":"F32","shape":[1],"data_offsets":[-4,0]}}"#,
            #"{"x":{"dtype":"F32","shape":[1],"data_offsets":[0.5,4.5]}}"#,
            #"{"x":{"dtype":"F32","shape":[1e20],"data_offsets":[0,4]}}"#,
            #"{"x":{"dtype":"F32","shape":[9223372036854775807,2],"data_offsets":[0,4]}}"#,
            #"{"x":{"dtype":"F32","shape":[1],"data_offsets":[0,18446744073709551616]}}"#,
            #"{"x":{"dtype":"F32","shape":"1","data_offsets":[0,4]}}"#,
            #"{"x":null}"#,
            "{\"x\":" + String(repeating: "[", count: 100_000) + String(repeating: "]", count: 100_000) + "}",
        ]
        for header in headers {
            var threw = false
            do { _ = try SafeTensors.decode(rawSafetensors(header: header, data: four), path: "h") } catch is CheckpointError { threw = true } catch {
                XCTFail("non-CheckpointError for \(header.prefix(80)): \(error)")
            }
            XCTAssertTrue(threw, String(header.prefix(80)))
        }
    }

    func test_write_reservedOrEmptyName_throws() {
        let t = NamedTensors([("__metadata__", Tensor(1))])
        XCTAssertNotNil(expectCheckpointError { _ = try SafeTensors.encode(t) })
        XCTAssertNotNil(expectCheckpointError { _ = try SafeTensors.encode(NamedTensors([("", Tensor(1))])) })
    }

    func test_write_replacesAtomically_noTemporaryFileLeft_badDirectoryThrowsIO() throws {
        let dir = try makeTemporaryDirectory(self)
        let url = dir.appendingPathComponent("model.safetensors")
        try SafeTensors.write(sampleTensors(), to: url)
        try SafeTensors.write(sampleTensors(seed: 9), to: url)
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: dir.path), ["model.safetensors"])
        assertSameTensors(try SafeTensors.read(contentsOf: url), sampleTensors(seed: 9))
        guard case .io? = expectCheckpointError({ try SafeTensors.write(sampleTensors(), to: dir.appendingPathComponent("nope/x.safetensors")) })
        else { return XCTFail("expected .io") }
    }

    func test_read_missingFile_throwsIO() {
        let error = expectCheckpointError { _ = try SafeTensors.read(contentsOf: URL(fileURLWithPath: "/nonexistent/x.safetensors")) }
        guard case .io(let path, _, _)? = error else { return XCTFail("expected .io, got \(String(describing: error))") }
        XCTAssertEqual(path, "/nonexistent/x.safetensors")
    }
}
