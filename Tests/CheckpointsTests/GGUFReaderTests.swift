import Autograd
@testable import Checkpoints
import Foundation
import XCTest

/// Reading GGUF files against gguf-py's reading of the same files (scripts/make_gguf_fixtures.py).
final class GGUFReaderTests: XCTestCase {
    func test_open_typesFixture_headerMetadataAndInfosMatchGGUFPy() throws {
        let expected = try GGUFFixtures.json("types.expected.json")
        let file = try GGUFFile(contentsOf: GGUFFixtures.url("types.gguf"))
        XCTAssertEqual(file.version, 3)
        XCTAssertEqual(file.alignment, expected["alignment"] as? Int)
        XCTAssertEqual(file.dataOffset, expected["data_offset"] as? Int)
        XCTAssertEqual(file.metadata.map { $0.key }, ["general.architecture", "test.answer", "test.note"])
        XCTAssertEqual(file.value("general.architecture"), .string("test"))
        XCTAssertEqual(file.value("test.answer"), .uint32(42))
        XCTAssertEqual(try file.string("test.note"), "tensors of every converted type")

        let tensors = try XCTUnwrap(expected["tensors"] as? [[String: Any]])
        XCTAssertEqual(file.tensorInfos.count, tensors.count)
        for (info, e) in zip(file.tensorInfos, tensors) {
            XCTAssertEqual(info.name, e["name"] as? String)
            XCTAssertEqual(info.type.name, e["type"] as? String, info.name)
            XCTAssertEqual(Int(info.type.rawValue), e["type_code"] as? Int, info.name)
            XCTAssertEqual(info.dimensions, e["dims"] as? [Int], info.name)
            XCTAssertEqual(info.shape, e["shape"] as? [Int], info.name)
            XCTAssertEqual(info.elementCount, e["count"] as? Int, info.name)
            XCTAssertEqual(info.fileOffset, e["file_offset"] as? Int, info.name)
            XCTAssertEqual(info.fileOffset, file.dataOffset + info.offset, info.name)
            XCTAssertEqual(info.offset % file.alignment, 0, info.name)
        }
        XCTAssertEqual(file.tensorInfo(named: "legacy.q8_0.3d")?.shape, [2, 3, 32])
        XCTAssertEqual(file.tensorInfo(named: "legacy.q8_0.3d")?.dimensions, [32, 3, 2])
    }

    func test_dequantize_everyConvertedType_bitIdenticalToGGUFPyBlockByBlock() throws {
        let expected = try GGUFFixtures.json("types.expected.json")
        let values = try GGUFFixtures.floats("types.expected.f32")
        let file = try GGUFFile(contentsOf: GGUFFixtures.url("types.gguf"))
        var covered = Set<GGUFTensorType>()
        for e in try XCTUnwrap(expected["tensors"] as? [[String: Any]]) {
            let name = try XCTUnwrap(e["name"] as? String)
            let first = try XCTUnwrap(e["first_value"] as? Int), count = try XCTUnwrap(e["count"] as? Int)
            let info = try XCTUnwrap(file.tensorInfo(named: name))
            let t = try file.tensor(named: name)
            XCTAssertEqual(t.shape, e["shape"] as? [Int], name)
            let got = t.scalars, want = Array(values[first..<(first + count)])
            XCTAssertEqual(got.count, want.count, name)
            let block = info.type.blockSize
            for b in 0..<(count / block) {
                let range = (b * block)..<((b + 1) * block)
                let g = got[range].map { $0.bitPattern }, w = want[range].map { $0.bitPattern }
                if g != w {
                    let j = g.indices.first { g[$0] != w[$0] } ?? 0
                    XCTFail("\(name) (\(info.type.name)): block \(b) differs first at element \(b * block + j): \(got[b * block + j]) vs gguf-py \(want[b * block + j])")
                    break
                }
            }
            covered.insert(info.type)
        }
        XCTAssertEqual(covered, Set(GGUFTensorType.dequantizable), "the fixture covers every converted type")
    }

    func test_open_version2File_readsLikeVersion3() throws {
        var bytes = try [UInt8](Data(contentsOf: GGUFFixtures.url("types.gguf")))
        bytes[4] = 2
        let url = try makeTemporaryDirectory(self).appendingPathComponent("v2.gguf")
        try Data(bytes).write(to: url)
        let v2 = try GGUFFile(contentsOf: url), v3 = try GGUFFile(contentsOf: GGUFFixtures.url("types.gguf"))
        XCTAssertEqual(v2.version, 2)
        XCTAssertEqual(v2.tensorInfos, v3.tensorInfos)
        XCTAssertEqual(try v2.tensor(named: "legacy.q4_1").scalars, try v3.tensor(named: "legacy.q4_1").scalars)
    }

    func test_allTensors_typesFixture_everyTensorInFileOrderWithItsShape() throws {
        let file = try GGUFFile(contentsOf: GGUFFixtures.url("types.gguf"))
        let all = try file.allTensors()
        XCTAssertEqual(all.names, file.tensorInfos.map { $0.name })
        for info in file.tensorInfos { XCTAssertEqual(all[info.name]?.shape, info.shape, info.name) }
        var seen: [String] = []
        try file.forEachTensor { info, t in
            seen.append(info.name)
            XCTAssertEqual(t.count, info.elementCount)
        }
        XCTAssertEqual(seen, all.names)
    }

    func test_withRawBytes_q8_0Tensor_areTheStoredBlocks() throws {
        let url = try GGUFFixtures.url("types.gguf")
        let file = try GGUFFile(contentsOf: url)
        let info = try XCTUnwrap(file.tensorInfo(named: "legacy.q8_0"))
        let raw = file.withRawBytes(of: info) { Array($0) }
        let whole = try [UInt8](Data(contentsOf: url))
        XCTAssertEqual(raw.count, 4 * 2 * 34)
        XCTAssertEqual(raw, Array(whole[info.fileOffset..<(info.fileOffset + info.byteCount)]))
        // Converting the raw bytes directly gives the tensor.
        var direct = [Float](repeating: 0, count: info.elementCount)
        raw.withUnsafeBytes { b in
            direct.withUnsafeMutableBufferPointer { GGUFQuantization.dequantize(b, type: .q8_0, count: info.elementCount, into: $0.baseAddress!) }
        }
        XCTAssertEqual(direct, try file.tensor(info).scalars)
    }

    func test_metadata_writerFixture_everyValueTypeInFileOrder() throws {
        let expected = try XCTUnwrap(GGUFFixtures.json("writer.expected.json")["metadata"] as? [[String: Any]])
        let file = try GGUFFile(contentsOf: GGUFFixtures.url("writer.gguf"))
        XCTAssertEqual(file.metadata.map { $0.key }, expected.compactMap { $0["key"] as? String })
        for (entry, e) in zip(file.metadata, expected) {
            assertSameValue(entry.value, try GGUFFixtures.value(e), entry.key)
        }
        XCTAssertEqual(file.alignment, 64)
        XCTAssertEqual(file.dataOffset % 64, 0)
        for info in file.tensorInfos { XCTAssertEqual(info.offset % 64, 0, info.name) }
    }

    func test_typedAccessors_rightTypes_returnValues() throws {
        let file = try GGUFFile(contentsOf: GGUFFixtures.url("writer.gguf"))
        XCTAssertEqual(try file.string("test.string"), "héllo \"wörld\"\n\t✓ {{ bos_token }}")
        XCTAssertEqual(try file.string("test.string.empty"), "")
        XCTAssertEqual(try file.int("test.u8"), 255)
        XCTAssertEqual(try file.int("test.i8"), -128)
        XCTAssertEqual(try file.int("test.u16"), 65535)
        XCTAssertEqual(try file.int("test.i16"), -32768)
        XCTAssertEqual(try file.int("test.u32"), 4_294_967_295)
        XCTAssertEqual(try file.int("test.i32"), -2_147_483_648)
        XCTAssertEqual(try file.int("test.i64"), Int.min)
        XCTAssertEqual(try file.float("test.f32"), Double(Float(1.0e-5)))
        XCTAssertEqual(try file.float("test.f64"), Double.pi)
        XCTAssertEqual(try file.bool("test.bool.true"), true)
        XCTAssertEqual(try file.bool("test.bool.false"), false)
        XCTAssertEqual(try file.stringArray("test.array.string"), ["a", "", "Ġthe", "<|im_start|>", "ü"])
        XCTAssertEqual(try file.intArray("test.array.i32"), [-1, 0, 7, 2_147_483_647])
        XCTAssertEqual(try file.intArray("test.array.u8"), [0, 1, 255])
        XCTAssertEqual(try file.floatArray("test.array.f32"), [0.5, -1.25, Double(Float(3.0e38))])
        XCTAssertEqual(file.value("test.array.nested"),
                       .array(.array, [.array(.int32, [.int32(1), .int32(2), .int32(3)]), .array(.int32, [.int32(4)]),
                                       .array(.int32, [.int32(5), .int32(6)])]))
        XCTAssertTrue(file.contains(key: "test.u64"))
        XCTAssertFalse(file.contains(key: "test.absent"))
    }

    func test_typedAccessors_wrongTypeOrMissing_throwNamingKeyAndFoundType() throws {
        let file = try GGUFFile(contentsOf: GGUFFixtures.url("writer.gguf"))
        let path = file.path
        XCTAssertEqual(expectGGUFError { _ = try file.string("test.u32") },
                       .metadataType(path: path, key: "test.u32", expected: "STRING", found: "UINT32"))
        XCTAssertEqual(expectGGUFError { _ = try file.int("test.string") },
                       .metadataType(path: path, key: "test.string", expected: "an integer that fits in Int", found: "STRING"))
        // UINT64 max does not fit in Int.
        XCTAssertEqual(expectGGUFError { _ = try file.int("test.u64") },
                       .metadataType(path: path, key: "test.u64", expected: "an integer that fits in Int", found: "UINT64"))
        XCTAssertEqual(expectGGUFError { _ = try file.float("test.i32") },
                       .metadataType(path: path, key: "test.i32", expected: "FLOAT32 or FLOAT64", found: "INT32"))
        XCTAssertEqual(expectGGUFError { _ = try file.bool("test.u8") },
                       .metadataType(path: path, key: "test.u8", expected: "BOOL", found: "UINT8"))
        XCTAssertEqual(expectGGUFError { _ = try file.stringArray("test.array.i32") },
                       .metadataType(path: path, key: "test.array.i32", expected: "ARRAY of STRING", found: "ARRAY of INT32"))
        XCTAssertEqual(expectGGUFError { _ = try file.intArray("test.array.string") },
                       .metadataType(path: path, key: "test.array.string", expected: "ARRAY of an integer type (each fitting in Int)", found: "ARRAY of STRING"))
        XCTAssertEqual(expectGGUFError { _ = try file.floatArray("test.string") },
                       .metadataType(path: path, key: "test.string", expected: "ARRAY of FLOAT32 or FLOAT64", found: "STRING"))
        XCTAssertEqual(expectGGUFError { _ = try file.string("llama.block_count") },
                       .missingKey(path: path, key: "llama.block_count"))
        let message = try XCTUnwrap(expectGGUFError { _ = try file.string("test.u32") }).description
        XCTAssertTrue(message.contains("writer.gguf") && message.contains("test.u32") && message.contains("UINT32"), message)
    }

    func test_tensor_absentName_throwsTensorNotFound() throws {
        let file = try GGUFFile(contentsOf: GGUFFixtures.url("types.gguf"))
        XCTAssertEqual(expectGGUFError { _ = try file.tensor(named: "output.weight") },
                       .tensorNotFound(path: file.path, tensor: "output.weight"))
    }

    func test_tensor_knownButUnconvertedType_opensAndThrowsNamingTensorTypeAndSupported() throws {
        // An IQ4_NL tensor (type 20, 18-byte blocks of 32): the file is valid, its tensor is not converted.
        var b = GGUFBuilder(tensors: 2, keys: 1)
        b.keyString("general.architecture", "test")
        b.tensor("iq", dims: [32, 2], type: 20, offset: 0)
        b.tensor("f", dims: [4], type: 0, offset: 64)
        b.pad()
        b.bytes += [UInt8](repeating: 0, count: 64) + [UInt8](repeating: 0, count: 16)
        let url = try b.write(in: makeTemporaryDirectory(self))
        let file = try GGUFFile(contentsOf: url)
        XCTAssertEqual(file.tensorInfo(named: "iq")?.type, .iq4_nl)
        XCTAssertEqual(try file.tensor(named: "f").scalars, [0, 0, 0, 0])
        let error = expectGGUFError { _ = try file.tensor(named: "iq") }
        XCTAssertEqual(error, .unsupportedTensorType(path: url.path, tensor: "iq", type: "IQ4_NL (20)",
                                                     supported: GGUFTensorType.dequantizable.map { $0.name }))
        let message = error?.description ?? ""
        XCTAssertTrue(message.contains("IQ4_NL") && message.contains("Q4_K") && message.contains("'iq'"), message)
        XCTAssertThrowsError(try file.allTensors())
    }

    func test_float16Table_everyBitPattern_matchesSafeTensorsConversion() {
        for bits in UInt16.min...UInt16.max {
            let a = GGUFQuantization.float(fromFloat16Bits: bits), b = SafeTensors.float16BitsToFloat(bits)
            if a.bitPattern != b.bitPattern { XCTFail("0x\(String(bits, radix: 16))"); return }
        }
    }
}
