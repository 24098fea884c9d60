import Autograd
@testable import Checkpoints
import Foundation
import XCTest

/// Malformed and hostile GGUF files: each throws the right `GGUFError`, quickly, without
/// allocating what the file claims.
final class GGUFBadInputTests: XCTestCase {
    /// Parses `bytes` as a GGUF header in memory and returns the error it throws.
    private func parseError(_ bytes: [UInt8], file: StaticString = #filePath, line: UInt = #line) -> GGUFError? {
        expectGGUFError({ _ = try bytes.withUnsafeBytes { try GGUFHeader.parse($0, path: "bad.gguf") } }, file: file, line: line)
    }

    /// A valid file with one key and one F32 tensor of 8 elements, built from `tensor`'s fields.
    private func oneTensorFile(name: String = "t", dims: [UInt64] = [8], type: UInt32 = 0, offset: UInt64 = 0, dataBytes: Int = 32) -> [UInt8] {
        var b = GGUFBuilder(tensors: 1, keys: 1)
        b.keyString("general.architecture", "test")
        b.tensor(name, dims: dims, type: type, offset: offset)
        b.pad()
        b.bytes += [UInt8](repeating: 0, count: dataBytes)
        return b.bytes
    }

    func test_oneTensorFile_valid_parses() throws {
        let bytes = oneTensorFile()
        let header = try bytes.withUnsafeBytes { try GGUFHeader.parse($0, path: "ok.gguf") }
        XCTAssertEqual(header.tensorInfos.first?.dimensions, [8])
    }

    func test_open_truncatedAtEveryByte_throwsTruncatedNamingWhatWasRead() throws {
        let whole = try [UInt8](Data(contentsOf: GGUFFixtures.url("types.gguf")))
        let file = try GGUFFile(contentsOf: GGUFFixtures.url("types.gguf"))
        let lastEnd = file.tensorInfos.map { $0.fileOffset + $0.byteCount }.max() ?? 0
        for n in 0..<lastEnd {
            guard case let .truncated(_, offset, reading, needed, available)? = parseError(Array(whole[0..<n])) else {
                return XCTFail("prefix of \(n) bytes: expected a truncated error")
            }
            // The offset is where the cut thing starts: at or before the cut, or, for a tensor
            // whose data would start beyond the end, that start (with nothing available).
            XCTAssertTrue(offset <= n || (available == 0 && reading.contains("bytes of tensor")), "prefix \(n): offset \(offset), \(reading)")
            XCTAssertGreaterThan(needed, available, "prefix \(n): \(reading)")
            XCTAssertFalse(reading.isEmpty)
        }
        // What is named at a few points.
        func reading(_ n: Int) -> String {
            if case let .truncated(_, _, r, _, _)? = parseError(Array(whole[0..<n])) { return r }
            return ""
        }
        XCTAssertEqual(reading(0), "the magic number")
        XCTAssertEqual(reading(6), "the version")
        XCTAssertEqual(reading(12), "the tensor count")
        XCTAssertTrue(reading(40).contains("3 metadata entries"), reading(40))
        let lastInfo = file.tensorInfos[file.tensorInfos.count - 1].infoOffset
        XCTAssertEqual(reading(lastInfo + 8 + 11 + 2), "the dimension count of tensor 'kquant.q8_K'")
        XCTAssertEqual(reading(lastInfo + 4), "the length of the name of tensor 15 of 16")
        XCTAssertTrue(reading(lastEnd - 1).contains("kquant.q8_K"), reading(lastEnd - 1))
        // Through the file API, the error names the file.
        let url = try makeTemporaryDirectory(self).appendingPathComponent("cut.gguf")
        try Data(whole[0..<(file.dataOffset + 10)]).write(to: url)
        let error = expectGGUFError { _ = try GGUFFile(contentsOf: url) }
        XCTAssertTrue(error?.description.contains(url.path) ?? false, error?.description ?? "")
    }

    func test_open_wrongMagicOrEmpty_throwsNotGGUFOrTruncated() throws {
        var bytes = oneTensorFile()
        bytes[0] = UInt8(ascii: "X")
        XCTAssertEqual(parseError(bytes), .notGGUF(path: "bad.gguf", foundMagic: Array("XGUF".utf8)))
        bytes[0..<4] = Array("ggjt".utf8)[...]
        XCTAssertTrue(parseError(bytes)?.description.contains("pre-GGUF") ?? false)
        XCTAssertEqual(parseError([]), .truncated(path: "bad.gguf", offset: 0, reading: "the magic number", neededBytes: 4, availableBytes: 0))
        // A safetensors file is refused by its first bytes.
        let st = try SafeTensors.encode(NamedTensors([("x", Tensor(shape: [1], scalars: [1]))]))
        guard case .notGGUF? = parseError([UInt8](st)) else { return XCTFail("safetensors accepted") }
    }

    func test_open_version1_refusedWithClearMessage() {
        var bytes = oneTensorFile()
        bytes[4] = 1
        let error = parseError(bytes)
        XCTAssertEqual(error, .unsupportedVersion(path: "bad.gguf", version: 1))
        XCTAssertTrue(error?.description.contains("version 1") ?? false)
        bytes[4] = 4
        XCTAssertEqual(parseError(bytes), .unsupportedVersion(path: "bad.gguf", version: 4))
        bytes[4] = 0
        XCTAssertEqual(parseError(bytes), .unsupportedVersion(path: "bad.gguf", version: 0))
    }

    func test_open_bigEndianFile_refusedNamingIt() {
        var bytes = oneTensorFile()
        bytes[4..<8] = [0, 0, 0, 3]
        let error = parseError(bytes)
        XCTAssertEqual(error, .bigEndian(path: "bad.gguf", version: 3))
        XCTAssertTrue(error?.description.contains("big-endian") ?? false)
    }

    func test_open_hugeCounts_throwQuicklyWithoutAllocating() {
        let start = Date()
        var b = GGUFBuilder(tensors: 1 << 60, keys: 0)
        b.bytes += [UInt8](repeating: 0, count: 64)
        guard case let .truncated(_, _, reading, needed, available)? = parseError(b.bytes) else { return XCTFail("2^60 tensors accepted") }
        XCTAssertTrue(reading.contains("1152921504606846976 tensor infos"), reading)
        XCTAssertEqual(needed, Int.max)  // 2^60 x 24 overflows
        XCTAssertEqual(available, 64)

        b = GGUFBuilder(tensors: 0, keys: 1 << 62)
        guard case .truncated? = parseError(b.bytes) else { return XCTFail("2^62 keys accepted") }

        // A key whose length is 2^40.
        b = GGUFBuilder(tensors: 0, keys: 1)
        b.u64(1 << 40)
        b.bytes += Array("general.architecture".utf8)
        guard case let .truncated(_, offset, reading2, needed2, _)? = parseError(b.bytes) else { return XCTFail("2^40-byte key accepted") }
        XCTAssertEqual(offset, 24)
        XCTAssertEqual(needed2, 1 << 40)
        XCTAssertTrue(reading2.contains("key of metadata entry 0"), reading2)

        // A string value of 2^40 bytes, an array of 2^60 UINT64 and one of 2^59 strings.
        b = GGUFBuilder(tensors: 0, keys: 1)
        b.string("k")
        b.u32(GGUFValueType.string.rawValue)
        b.u64(1 << 40)
        guard case .truncated? = parseError(b.bytes + [UInt8](repeating: 65, count: 100)) else { return XCTFail("huge string accepted") }
        for (elementType, count) in [(GGUFValueType.uint64, UInt64(1) << 60), (.string, 1 << 59), (.array, 1 << 58)] {
            b = GGUFBuilder(tensors: 0, keys: 1)
            b.string("tokenizer.ggml.tokens")
            b.u32(GGUFValueType.array.rawValue)
            b.u32(elementType.rawValue)
            b.u64(count)
            b.bytes += [UInt8](repeating: 1, count: 256)
            guard case let .truncated(_, _, r, _, _)? = parseError(b.bytes) else { return XCTFail("huge \(elementType) array accepted") }
            XCTAssertTrue(r.contains("tokenizer.ggml.tokens") && r.contains("\(count)"), r)
        }
        XCTAssertLessThan(Date().timeIntervalSince(start), 1, "hostile counts are refused at once")
    }

    func test_open_arraysNestedTooDeep_throwInvalidMetadata() throws {
        func nested(_ levels: Int) -> [UInt8] {
            var b = GGUFBuilder(tensors: 0, keys: 1)
            b.string("deep")
            b.u32(GGUFValueType.array.rawValue)
            for _ in 0..<(levels - 1) {
                b.u32(GGUFValueType.array.rawValue)
                b.u64(1)
            }
            b.u32(GGUFValueType.int32.rawValue)
            b.u64(1)
            b.u32(7)
            return b.bytes
        }
        let ok = try nested(GGUFHeader.maxArrayNesting).withUnsafeBytes { try GGUFHeader.parse($0, path: "ok.gguf") }
        XCTAssertEqual(ok.metadata.first?.key, "deep")
        guard case let .invalidMetadata(_, key, _, reason)? = parseError(nested(GGUFHeader.maxArrayNesting + 1)) else {
            return XCTFail("17 nested arrays accepted")
        }
        XCTAssertEqual(key, "deep")
        XCTAssertTrue(reason.contains("nested"), reason)
        // A hostile file nesting a million arrays is refused, not a stack overflow.
        var b = GGUFBuilder(tensors: 0, keys: 1)
        b.string("deep")
        b.u32(GGUFValueType.array.rawValue)
        for _ in 0..<1_000_000 {
            b.u32(GGUFValueType.array.rawValue)
            b.u64(1)
        }
        guard case .invalidMetadata? = parseError(b.bytes) else { return XCTFail("deep nesting accepted") }
    }

    func test_open_tensorPastTheEnd_throwsTruncatedNamingTensor() {
        let error = parseError(oneTensorFile(name: "blk.0.attn_q.weight", offset: 32))
        guard case let .truncated(_, _, reading, needed, available)? = error else { return XCTFail("\(String(describing: error))") }
        XCTAssertTrue(reading.contains("blk.0.attn_q.weight"), reading)
        XCTAssertEqual(needed, 32)
        XCTAssertEqual(available, 0)
        // An offset near 2^63 overflows nothing and is refused.
        guard case .truncated? = parseError(oneTensorFile(offset: UInt64(Int.max) - 31)) else { return XCTFail("huge offset accepted") }
        guard case .invalidTensorInfo? = parseError(oneTensorFile(offset: 1 << 63)) else { return XCTFail("offset beyond Int accepted") }
    }

    func test_open_duplicateTensorNames_throwNamingTensor() {
        var b = GGUFBuilder(tensors: 2, keys: 0)
        b.tensor("w", dims: [8], type: 0, offset: 0)
        b.tensor("w", dims: [8], type: 0, offset: 32)
        b.pad()
        b.bytes += [UInt8](repeating: 0, count: 64)
        guard case let .invalidTensorInfo(_, tensor, _, reason)? = parseError(b.bytes) else { return XCTFail("duplicate accepted") }
        XCTAssertEqual(tensor, "w")
        XCTAssertTrue(reason.contains("twice"), reason)
    }

    func test_open_duplicateKey_throwNamingKey() {
        var b = GGUFBuilder(tensors: 0, keys: 2)
        b.keyU32("llama.block_count", 30)
        b.keyU32("llama.block_count", 31)
        guard case let .invalidMetadata(_, key, offset, reason)? = parseError(b.bytes) else { return XCTFail("duplicate key accepted") }
        XCTAssertEqual(key, "llama.block_count")
        XCTAssertEqual(offset, 24 + 8 + 17 + 4 + 4)
        XCTAssertTrue(reason.contains("twice"), reason)
    }

    func test_open_unknownTensorType_throwsNamingTensorAndCode() {
        for code: UInt32 in [4, 5, 31, 99, .max] {
            let error = parseError(oneTensorFile(name: "odd", type: code))
            XCTAssertEqual(error, .unknownTensorType(path: "bad.gguf", tensor: "odd", offset: 24 + 8 + 20 + 4 + 8 + 4, typeCode: code))
            XCTAssertTrue(error?.description.contains("Q4_K=12") ?? false)
        }
    }

    func test_open_unknownValueType_throwsNamingKey() {
        var b = GGUFBuilder(tensors: 0, keys: 1)
        b.string("k")
        b.u32(13)
        b.u32(0)
        XCTAssertEqual(parseError(b.bytes), .invalidMetadata(path: "bad.gguf", key: "k", offset: 24 + 9, reason: "unknown value type code 13 (known: 0...12)"))
        b = GGUFBuilder(tensors: 0, keys: 1)
        b.string("k")
        b.u32(GGUFValueType.array.rawValue)
        b.u32(77)
        b.u64(0)
        guard case let .invalidMetadata(_, key, _, reason)? = parseError(b.bytes) else { return XCTFail("bad element type accepted") }
        XCTAssertEqual(key, "k")
        XCTAssertTrue(reason.contains("77"), reason)
    }

    func test_open_misalignedOffset_throwsNamingTensorAndAlignment() {
        var b = GGUFBuilder(tensors: 2, keys: 0)
        b.tensor("a", dims: [4], type: 0, offset: 0)
        b.tensor("b", dims: [4], type: 0, offset: 16)
        b.pad()
        b.bytes += [UInt8](repeating: 0, count: 64)
        guard case let .invalidTensorInfo(_, tensor, _, reason)? = parseError(b.bytes) else { return XCTFail("misaligned accepted") }
        XCTAssertEqual(tensor, "b")
        XCTAssertTrue(reason.contains("16") && reason.contains("alignment 32"), reason)
    }

    func test_open_badAlignmentKey_throwsNamingIt() {
        for value in [UInt32(0), 48] {
            var b = GGUFBuilder(tensors: 0, keys: 1)
            b.keyU32("general.alignment", value)
            guard case let .invalidMetadata(_, key, offset, _)? = parseError(b.bytes) else { return XCTFail("alignment \(value) accepted") }
            XCTAssertEqual(key, "general.alignment")
            XCTAssertEqual(offset, 24)
        }
        var b = GGUFBuilder(tensors: 0, keys: 1)
        b.keyString("general.alignment", "32")
        guard case let .invalidMetadata(_, _, _, reason)? = parseError(b.bytes) else { return XCTFail("string alignment accepted") }
        XCTAssertTrue(reason.contains("STRING") && reason.contains("UINT32"), reason)
    }

    func test_open_badDimensions_throwNamingTensor() {
        let cases: [([UInt64], UInt32, String)] = [
            ([8, 0], 0, "dimension 1 is 0"),
            ([1 << 62, 1 << 62], 0, "overflow"),
            ([UInt64.max], 0, "at least 1"),
            ([1, 1, 1, 1, 1, 1, 1, 1, 1], 0, "9 dimensions"),
            ([33, 2], 8, "multiple of the Q8_0 block size 32"),
        ]
        for (dims, type, phrase) in cases {
            guard case let .invalidTensorInfo(_, tensor, _, reason)? = parseError(oneTensorFile(name: "d", dims: dims, type: type)) else {
                XCTFail("\(dims) accepted"); continue
            }
            XCTAssertEqual(tensor, "d")
            XCTAssertTrue(reason.contains(phrase), "\(dims): \(reason)")
        }
        // Zero dimensions is a scalar (one element), as in gguf-py.
        let scalar = try? oneTensorFile(dims: []).withUnsafeBytes { try GGUFHeader.parse($0, path: "s.gguf") }
        XCTAssertEqual(scalar?.tensorInfos.first?.elementCount, 1)
    }

    func test_open_overlappingTensors_throwNamingBoth() {
        var b = GGUFBuilder(tensors: 2, keys: 0)
        b.tensor("a", dims: [16], type: 0, offset: 0)
        b.tensor("b", dims: [4], type: 0, offset: 32)
        b.pad()
        b.bytes += [UInt8](repeating: 0, count: 96)
        guard case let .invalidTensorInfo(_, tensor, _, reason)? = parseError(b.bytes) else { return XCTFail("overlap accepted") }
        XCTAssertEqual(tensor, "b")
        XCTAssertTrue(reason.contains("'a'"), reason)
    }

    func test_open_invalidUTF8OrBool_throwNamingKeyOrTensor() {
        var b = GGUFBuilder(tensors: 0, keys: 1)
        b.rawString([0x61, 0xFF, 0x62])
        b.u32(GGUFValueType.uint8.rawValue)
        b.u8(1)
        guard case let .invalidMetadata(_, key, _, reason)? = parseError(b.bytes) else { return XCTFail("bad key accepted") }
        XCTAssertEqual(key, "#0")
        XCTAssertTrue(reason.contains("UTF-8"), reason)

        b = GGUFBuilder(tensors: 0, keys: 1)
        b.string("tokenizer.chat_template")
        b.u32(GGUFValueType.string.rawValue)
        b.rawString([0xC3, 0x28])
        guard case .invalidMetadata(_, "tokenizer.chat_template", _, _)? = parseError(b.bytes) else { return XCTFail("bad string accepted") }

        b = GGUFBuilder(tensors: 0, keys: 1)
        b.string("tokenizer.ggml.add_bos_token")
        b.u32(GGUFValueType.bool.rawValue)
        b.u8(2)
        XCTAssertEqual(parseError(b.bytes), .invalidMetadata(path: "bad.gguf", key: "tokenizer.ggml.add_bos_token", offset: 24 + 8 + 28 + 4,
                                                              reason: "a BOOL must be 0 or 1, found 2"))

        b = GGUFBuilder(tensors: 1, keys: 0)
        b.rawString([0xE2, 0x82])
        b.u32(1)
        b.u64(8)
        b.u32(0)
        b.u64(0)
        guard case .invalidTensorInfo(_, "#0", _, _)? = parseError(b.bytes) else { return XCTFail("bad tensor name accepted") }
    }

    func test_open_randomlyCorruptedHeaders_throwOrReadSafely() throws {
        // 3,000 copies of the types fixture with 1-4 header bytes replaced: each either throws a
        // GGUFError or opens, and then every tensor converts (or throws) without a crash.
        let whole = try [UInt8](Data(contentsOf: GGUFFixtures.url("types.gguf")))
        let headerBytes = try GGUFFile(contentsOf: GGUFFixtures.url("types.gguf")).dataOffset
        var state: UInt64 = 0x9E37_79B9_7F4A_7C15
        func next() -> UInt64 {  // SplitMix64
            state &+= 0x9E37_79B9_7F4A_7C15
            var z = state
            z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
            z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
            return z ^ (z >> 31)
        }
        var opened = 0
        for _ in 0..<3000 {
            var bytes = whole
            for _ in 0..<(1 + Int(next() % 4)) { bytes[Int(next() % UInt64(headerBytes))] = UInt8(truncatingIfNeeded: next()) }
            do {
                let header = try bytes.withUnsafeBytes { try GGUFHeader.parse($0, path: "fuzz.gguf") }
                opened += 1
                for info in header.tensorInfos where info.type.isDequantizable {
                    XCTAssertLessThanOrEqual(info.fileOffset + info.byteCount, bytes.count)
                    var out = [Float](repeating: 0, count: info.elementCount)
                    bytes.withUnsafeBytes { raw in
                        let slice = UnsafeRawBufferPointer(rebasing: raw[info.fileOffset..<(info.fileOffset + info.byteCount)])
                        out.withUnsafeMutableBufferPointer { GGUFQuantization.dequantize(slice, type: info.type, count: info.elementCount, into: $0.baseAddress!) }
                    }
                }
            } catch is GGUFError {
                continue
            }
        }
        XCTAssertGreaterThan(opened, 0, "some corruptions (in values) leave a readable file")
    }
}
