import Autograd
@testable import Checkpoints
import Foundation
import XCTest

/// Writing GGUF files: byte-identical to gguf-py's writer on the same input, and read back intact.
final class GGUFWriterTests: XCTestCase {
    /// The writer fixture's metadata and tensors, from the JSON and the float32 input gguf-py quantized.
    private func writerFromFixture() throws -> GGUFWriter {
        let expected = try GGUFFixtures.json("writer.expected.json")
        let input = try GGUFFixtures.floats("writer_input.f32")
        var w = GGUFWriter()
        for e in try XCTUnwrap(expected["metadata"] as? [[String: Any]]) {
            try w.add(try XCTUnwrap(e["key"] as? String), try GGUFFixtures.value(e))
        }
        for e in try XCTUnwrap(expected["tensors"] as? [[String: Any]]) {
            let first = try XCTUnwrap(e["first_value"] as? Int), count = try XCTUnwrap(e["count"] as? Int)
            let typeName = try XCTUnwrap(e["type"] as? String)
            let type = try XCTUnwrap(GGUFTensorType.allCases.first { $0.name == typeName })
            let tensor = Tensor(shape: try XCTUnwrap(e["shape"] as? [Int]), scalars: Array(input[first..<(first + count)]))
            try w.addTensor(try XCTUnwrap(e["name"] as? String), tensor, as: type)
        }
        return w
    }

    func test_write_sameInputAsGGUFPy_byteIdenticalFile() throws {
        let reference = try Data(contentsOf: GGUFFixtures.url("writer.gguf"))
        let w = try writerFromFixture()
        let encoded = w.encode()
        XCTAssertEqual(encoded.count, reference.count)
        if encoded != reference {
            let a = [UInt8](encoded), b = [UInt8](reference)
            let i = (0..<min(a.count, b.count)).first { a[$0] != b[$0] } ?? min(a.count, b.count)
            XCTFail("first differing byte at offset \(i)")
        }
        let dir = try makeTemporaryDirectory(self)
        let url = dir.appendingPathComponent("writer.gguf")
        try w.write(to: url)
        XCTAssertEqual(try Data(contentsOf: url), reference)
        // Only the file itself is left: the temporary sibling was renamed.
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: dir.path), ["writer.gguf"])
        // Set INSTRUCTKIT_KEEP_GGUF=DIR to keep a copy for `scripts/make_gguf_fixtures.py --check` (docs/gguf.md).
        if let keep = ProcessInfo.processInfo.environment["INSTRUCTKIT_KEEP_GGUF"] {
            try w.write(to: URL(fileURLWithPath: keep).appendingPathComponent("instructkit-writer.gguf"))
        }
    }

    func test_quantizeQ8_0_fixtureInput_bytesEqualGGUFPyQuantization() throws {
        // The Q8_0 tensor alone: our quantizer against gguf-py's bytes in writer.gguf.
        let reference = try GGUFFile(contentsOf: GGUFFixtures.url("writer.gguf"))
        let info = try XCTUnwrap(reference.tensorInfo(named: "w.q8_0"))
        let input = try GGUFFixtures.floats("writer_input.f32")
        let tensors = try XCTUnwrap(GGUFFixtures.json("writer.expected.json")["tensors"] as? [[String: Any]])
        let e = try XCTUnwrap(tensors.first { $0["name"] as? String == "w.q8_0" })
        let first = try XCTUnwrap(e["first_value"] as? Int)
        let mine = Array(input[first..<(first + info.elementCount)]).withUnsafeBufferPointer { GGUFQuantization.quantize($0, as: .q8_0) }
        let theirs = reference.withRawBytes(of: info) { Array($0) }
        for b in 0..<(info.elementCount / 32) {
            XCTAssertEqual(Array(mine[(34 * b)..<(34 * b + 34)]), Array(theirs[(34 * b)..<(34 * b + 34)]), "Q8_0 block \(b)")
        }
    }

    func test_quantizeQ8_0_halfwayValues_roundAwayFromZeroLikeGGUFPy() {
        var x = [Float](repeating: 0, count: 32)
        x[0..<8] = [127, 2.5, -2.5, 0.5, -0.5, 1.5, -1.5, -127]
        let q = x.withUnsafeBufferPointer { GGUFQuantization.quantize($0, as: .q8_0) }
        XCTAssertEqual(Array(q[0..<2]), [0x00, 0x3C], "d = 1.0 in F16")
        // numpy's np.round (ties to even) would give 2, -2, 0, 0, 2, -2.
        XCTAssertEqual(q[2..<10].map { Int8(bitPattern: $0) }, [127, 3, -3, 1, -1, 2, -2, -127])
        // An all-zero block stores d = 0 and q = 0.
        let zeros = [Float](repeating: 0, count: 32).withUnsafeBufferPointer { GGUFQuantization.quantize($0, as: .q8_0) }
        XCTAssertEqual(zeros, [UInt8](repeating: 0, count: 34))
    }

    func test_roundTrip_everyValueAndTensorType_sameMetadataAndTensors() throws {
        var w = GGUFWriter()
        let metadata: [(String, GGUFValue)] = [
            ("general.architecture", .string("llama")),
            ("a.u8", .uint8(7)), ("a.i8", .int8(-7)), ("a.u16", .uint16(700)), ("a.i16", .int16(-700)),
            ("a.u32", .uint32(70_000)), ("a.i32", .int32(-70_000)), ("a.u64", .uint64(.max)), ("a.i64", .int64(.min)),
            ("a.f32", .float32(-0.0)), ("a.f64", .float64(.infinity)), ("a.bool", .bool(true)), ("a.string", .string("")),
            ("a.empty.strings", .array(.string, [])),
            ("a.empty.nested", .array(.array, [])),
            ("a.nested", .array(.array, [.array(.string, [.string("x")]), .array(.float64, [])])),
            ("a.floats", .array(.float32, [.float32(1), .float32(.nan)])),
        ]
        for (k, v) in metadata { try w.add(k, v) }
        let f32 = Tensor(shape: [3, 5], scalars: (0..<15).map { Float($0) * 0.37 - 2 })
        let f16 = Tensor(shape: [2, 3], scalars: [1, 1 + 1.0 / 2048, 65520, -1e-8, 0.1, -3])
        let bf16 = Tensor(shape: [4], scalars: [1, 1 + 1.0 / 256, .pi, -1e30])
        let q8 = Tensor(shape: [2, 1, 64], scalars: (0..<128).map { Float(sin(Double($0))) * Float($0 % 7) })
        let scalar = Tensor(2.5)
        try w.addTensor("t.f32", f32)
        try w.addTensor("t.f16", f16, as: .f16)
        try w.addTensor("t.bf16", bf16, as: .bf16)
        try w.addTensor("t.q8_0", q8, as: .q8_0)
        try w.addTensor("t.scalar", scalar)
        // Raw Q4_K blocks from the types fixture pass through unchanged.
        let types = try GGUFFile(contentsOf: GGUFFixtures.url("types.gguf"))
        let q4k = try XCTUnwrap(types.tensorInfo(named: "kquant.q4_K"))
        try w.addRawTensor("t.q4_K", dimensions: q4k.dimensions, type: .q4_K, bytes: types.withRawBytes(of: q4k) { Array($0) })

        let url = try makeTemporaryDirectory(self).appendingPathComponent("round.gguf")
        try w.write(to: url)
        if let keep = ProcessInfo.processInfo.environment["INSTRUCTKIT_KEEP_GGUF"] {
            try w.write(to: URL(fileURLWithPath: keep).appendingPathComponent("instructkit-roundtrip.gguf"))
        }
        let file = try GGUFFile(contentsOf: url)
        XCTAssertEqual(file.version, 3)
        XCTAssertEqual(file.metadata.map { $0.key }, metadata.map { $0.0 })
        for ((key, value), (_, want)) in zip(file.metadata, metadata) { assertSameValue(value, want, key) }

        XCTAssertEqual(file.tensorInfos.map { $0.name }, ["t.f32", "t.f16", "t.bf16", "t.q8_0", "t.scalar", "t.q4_K"])
        XCTAssertEqual(file.tensorInfo(named: "t.f32")?.dimensions, [5, 3])
        XCTAssertEqual(file.tensorInfo(named: "t.scalar")?.dimensions, [1])
        let back = try file.allTensors()
        XCTAssertEqual(back["t.f32"]?.shape, [3, 5])
        XCTAssertEqual(back["t.f32"]?.scalars.map { $0.bitPattern }, f32.scalars.map { $0.bitPattern }, "F32 is exact")
        XCTAssertEqual(back["t.f16"]?.scalars.map { $0.bitPattern },
                       f16.scalars.map { GGUFQuantization.float(fromFloat16Bits: GGUFQuantization.float16Bits($0)).bitPattern })
        XCTAssertEqual(back["t.f16"]?.scalars[1], 1, "1 + 2^-11 ties to even")
        XCTAssertEqual(back["t.f16"]?.scalars[2], .infinity, "65520 overflows to infinity")
        XCTAssertEqual(back["t.bf16"]?.scalars[1], 1, "1 + 2^-8 ties to even")
        XCTAssertEqual(back["t.bf16"]?.scalars[2], Float(bitPattern: 0x4049_0000), "pi rounds to nearest")
        XCTAssertEqual(back["t.q8_0"]?.shape, [2, 1, 64])
        let q8bytes = q8.withUnsafeBufferPointer { GGUFQuantization.quantize($0, as: .q8_0) }
        var q8back = [Float](repeating: 0, count: 128)
        q8bytes.withUnsafeBytes { b in q8back.withUnsafeMutableBufferPointer { GGUFQuantization.dequantize(b, type: .q8_0, count: 128, into: $0.baseAddress!) } }
        XCTAssertEqual(back["t.q8_0"]?.scalars, q8back, "Q8_0 reads back as the de-quantized quantized bytes")
        let maxError = zip(q8back, q8.scalars).map { abs($0 - $1) }.max() ?? 0
        // |x| <= 6: at most half a step (6 / 127 / 2) plus 127 steps' share of d's F16 rounding (6 x 2^-11).
        XCTAssertLessThanOrEqual(maxError, 6.0 / 254 + 6.0 / 2048)
        XCTAssertEqual(back["t.scalar"]?.shape, [1])
        XCTAssertEqual(back["t.scalar"]?.scalars, [2.5])
        XCTAssertEqual(back["t.q4_K"]?.scalars, try types.tensor(named: "kquant.q4_K").scalars)
    }

    func test_write_customAlignment_paddedToIt() throws {
        var w = GGUFWriter()
        try w.add("general.alignment", .uint32(128))
        try w.addTensor("a", Tensor(shape: [3], scalars: [1, 2, 3]))
        try w.addTensor("b", Tensor(shape: [2], scalars: [4, 5]))
        XCTAssertEqual(w.alignment, 128)
        let data = w.encode()
        XCTAssertEqual(data.count % 128, 0)
        let url = try makeTemporaryDirectory(self).appendingPathComponent("a.gguf")
        try data.write(to: url)
        let file = try GGUFFile(contentsOf: url)
        XCTAssertEqual(file.alignment, 128)
        XCTAssertEqual(file.dataOffset % 128, 0)
        XCTAssertEqual(file.tensorInfo(named: "b")?.offset, 128)
        XCTAssertEqual(try file.tensor(named: "b").scalars, [4, 5])
    }

    func test_float16Bits_sampledFloats_matchHardwareConversion() {
        #if arch(x86_64) || arch(arm64)
        // Every 13th bit pattern whose exponent is near the half range (ties, subnormals and
        // overflow included), and every 9973rd over all 2^32 patterns.
        func check(_ bits: UInt32) -> Bool {
            let x = Float(bitPattern: bits)
            let want = Float16(x).bitPattern, got = GGUFQuantization.float16Bits(x)
            if x.isNaN { return got & 0x7C00 == 0x7C00 && got & 0x03FF != 0 }
            if want != got { XCTFail("float \(x) (0x\(String(bits, radix: 16))): 0x\(String(got, radix: 16)) vs 0x\(String(want, radix: 16))") }
            return want == got
        }
        for sign: UInt32 in [0, 0x8000_0000] {
            var bits: UInt32 = (127 - 27) << 23
            while bits < (127 + 17) << 23 {
                if !check(sign | bits) { return }
                bits += 13
            }
        }
        var bits: UInt64 = 0
        while bits <= UInt64(UInt32.max) {
            if !check(UInt32(bits)) { return }
            bits += 9973
        }
        #endif
    }

    func test_bfloat16Bits_tiesAndSpecials_likeGGML() {
        XCTAssertEqual(GGUFQuantization.bfloat16Bits(1), 0x3F80)
        XCTAssertEqual(GGUFQuantization.bfloat16Bits(Float(bitPattern: 0x3F80_8000)), 0x3F80, "tie to even (down)")
        XCTAssertEqual(GGUFQuantization.bfloat16Bits(Float(bitPattern: 0x3F81_8000)), 0x3F82, "tie to even (up)")
        XCTAssertEqual(GGUFQuantization.bfloat16Bits(Float(bitPattern: 0x3F80_8001)), 0x3F81)
        XCTAssertEqual(GGUFQuantization.bfloat16Bits(-.infinity), 0xFF80)
        XCTAssertEqual(GGUFQuantization.bfloat16Bits(.greatestFiniteMagnitude), 0x7F80, "rounds up to infinity")
        XCTAssertEqual(GGUFQuantization.bfloat16Bits(Float(bitPattern: 0x7F80_0001)), 0x7FC0, "signalling NaN made quiet")
    }

    func test_addAndAddTensor_badInput_throwNamingTheItem() throws {
        var w = GGUFWriter()
        try w.add("general.architecture", .string("llama"))
        XCTAssertEqual(expectGGUFError { try w.add("general.architecture", .string("gpt2")) },
                       .invalidWrite(path: "GGUFWriter", item: "general.architecture", reason: "the key was already added; keys must be unique"))
        XCTAssertNotNil(expectGGUFError { try w.add("", .uint8(1)) })
        XCTAssertEqual(expectGGUFError { try w.add("bad.array", .array(.int32, [.int32(1), .string("x")])) },
                       .invalidWrite(path: "GGUFWriter", item: "bad.array", reason: "element 1 of an ARRAY of INT32 is STRING"))
        XCTAssertNotNil(expectGGUFError { try w.add("general.alignment", .uint32(48)) })
        XCTAssertNotNil(expectGGUFError { try w.add("general.alignment", .uint64(64)) })
        var deep: GGUFValue = .array(.int32, [])
        for _ in 0..<GGUFHeader.maxArrayNesting { deep = .array(.array, [deep]) }
        XCTAssertNotNil(expectGGUFError { try w.add("too.deep", deep) })

        let t = Tensor(shape: [2, 40], scalars: [Float](repeating: 1, count: 80))
        try w.addTensor("ok", t)
        XCTAssertNotNil(expectGGUFError { try w.addTensor("ok", t) }, "duplicate name")
        XCTAssertNotNil(expectGGUFError { try w.addTensor("", t) }, "empty name")
        XCTAssertNotNil(expectGGUFError { try w.addTensor(String(repeating: "n", count: 64), t) }, "name longer than llama.cpp's 63 bytes")
        let q8 = expectGGUFError { try w.addTensor("q", t, as: .q8_0) }
        XCTAssertTrue(q8?.description.contains("40") ?? false, "names the row length that is not a multiple of 32")
        XCTAssertNotNil(expectGGUFError { try w.addTensor("empty", Tensor(shape: [0, 4], scalars: [])) }, "zero dimension")
        XCTAssertEqual(expectGGUFError { try w.addTensor("k", t, as: .q4_K) },
                       .unsupportedTensorType(path: "GGUFWriter", tensor: "k", type: "Q4_K", supported: ["F32", "F16", "Q8_0", "BF16"]))
        XCTAssertNotNil(expectGGUFError { try w.addRawTensor("raw", dimensions: [32], type: .q8_0, bytes: [0, 1]) }, "byte count")
        XCTAssertNotNil(expectGGUFError { try w.add("general.alignment", .uint32(64)) }, "alignment after tensors")
        // The failed adds left the writer as it was.
        XCTAssertEqual(w.metadata.map { $0.key }, ["general.architecture"])
        XCTAssertEqual(w.tensorDescriptions.map { $0.name }, ["ok"])
    }

    func test_write_missingDirectory_throwsIOAndCreatesNothing() throws {
        let dir = try makeTemporaryDirectory(self)
        var w = GGUFWriter()
        try w.add("general.architecture", .string("llama"))
        let url = dir.appendingPathComponent("absent").appendingPathComponent("m.gguf")
        guard case .io? = expectGGUFError({ try w.write(to: url) }) else { return XCTFail("expected an io error") }
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: dir.path), [])
    }
}
