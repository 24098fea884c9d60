import XCTest
@testable import Tokenizers

final class Llama2cTokenizerTests: XCTestCase {
    /// The first 40 greedy ids of stories260K from BOS (../shared/datasets/models/stories260K/NOTES.md).
    private let notesIDs: [Int32] = [
        403, 407, 261, 378, 432, 383, 286, 261, 376, 298, 315, 421, 395, 317, 426, 338, 401, 396, 267, 337,
        410, 408, 419, 292, 411, 322, 265, 282, 295, 433, 426, 385, 328, 432, 358, 394, 261, 370, 432, 352,
    ]
    private let notesText =
        "Once upon a time, there was a little girl named Lily. She loved to play outside in the park. One day, she saw a big, r"

    private func tok512() throws -> Llama2cTokenizer {
        // Skipped only where ../shared (reference data kept outside the repository) is absent,
        // such as a user's machine; team machines and CI have it, so there the test runs.
        guard let path = TestData.shared("models/stories260K/tok512.bin") else { throw XCTSkip("skipped: ../shared/datasets/models/stories260K/tok512.bin is absent") }
        return try Llama2cTokenizer(path: path)
    }

    func test_tok512_loads_conventionsFromNotes() throws {
        let tok = try tok512()
        XCTAssertEqual(tok.vocabularySize, 512)
        XCTAssertEqual(tok.maxTokenLength, 7)
        XCTAssertEqual(tok.bosTokenID, 1)
        XCTAssertEqual(tok.eosTokenID, 2)
        XCTAssertEqual(tok.pieces[259], Array(" t".utf8))
        XCTAssertEqual(tok.pieces[260], Array("he".utf8))
        XCTAssertEqual(tok.pieces[261], Array(" a".utf8))
        XCTAssertEqual(tok.pieces[3 + 0x41], Array("<0x41>".utf8))
        XCTAssertEqual(tok.specialTokenID("<s>"), 1)
        XCTAssertTrue(try loadTokenizer(from: TestData.shared("models/stories260K/tok512.bin") ?? "") is Llama2cTokenizer)
    }

    func test_tok512_notesGreedyIds_decodeAndEncodeBack() throws {
        let tok = try tok512()
        XCTAssertEqual(tok.decode(notesIDs), notesText)
        XCTAssertEqual(tok.encode(notesText, allowSpecial: false), notesIDs)
    }

    func test_tok512_byteFallback_roundTrips() throws {
        let tok = try tok512()
        let ids = tok.encode("日", allowSpecial: false)
        let expected: [Int32] = [0xE6 + 3, 0x97 + 3, 0xA5 + 3]
        XCTAssertEqual(Array(ids.suffix(3)), expected)
        for text in ["", " ", "  two  spaces", "Hi 😀 café\n\tnew line", "<s>x</s>", "\u{0}", "日本語"] {
            XCTAssertEqual(tok.decode(tok.encode(text, allowSpecial: false)), text)
            XCTAssertEqual(tok.decode(tok.encode(text, allowSpecial: true)), text)
        }
    }

    func test_tok512_specials_onlyWhenAllowed() throws {
        let tok = try tok512()
        let ids = tok.encode("<s>Hi</s>", allowSpecial: true)
        XCTAssertEqual(ids.first, 1)
        XCTAssertEqual(ids.last, 2)
        XCTAssertFalse(tok.encode("<s>Hi</s>", allowSpecial: false).contains(1))
    }

    func test_truncatedFile_throwsTruncatedBinaryWithOffset() throws {
        // Skipped only where ../shared (reference data kept outside the repository) is absent,
        // such as a user's machine; team machines and CI have it, so there the test runs.
        guard let path = TestData.shared("models/stories260K/tok512.bin") else { throw XCTSkip("skipped: ../shared/datasets/models/stories260K/tok512.bin is absent") }
        let bytes = try Data(contentsOf: URL(fileURLWithPath: path))
        let cut = try TestData.temporaryDirectory() + "/cut.bin"
        try bytes.prefix(1000).write(to: URL(fileURLWithPath: cut))
        XCTAssertThrowsError(try loadTokenizer(from: cut)) { error in
            guard case .truncatedBinary(let p, let offset, _)? = error as? TokenizerError else { return XCTFail("\(error)") }
            XCTAssertEqual(p, cut)
            XCTAssertGreaterThan(offset, 900)
        }
    }

    func test_truncatedHeader_throws() throws {
        let path = try TestData.temporaryDirectory() + "/tiny.bin"
        try Data([7, 0]).write(to: URL(fileURLWithPath: path))
        XCTAssertThrowsError(try Llama2cTokenizer(path: path)) { error in
            XCTAssertEqual(error as? TokenizerError,
                           .truncatedBinary(path: path, offset: 0, detail: "expected a 4-byte integer"))
        }
    }
}

final class Llama2cMergeTests: XCTestCase {
    func test_heapMerge_sameAsRunCScan_onManyTexts() throws {
        // Skipped only where ../shared (reference data kept outside the repository) is absent,
        // such as a user's machine; team machines and CI have it, so there the test runs.
        guard let path = TestData.shared("models/stories260K/tok512.bin") else { throw XCTSkip("skipped: ../shared/datasets/models/stories260K/tok512.bin is absent") }
        let tok = try Llama2cTokenizer(path: path)
        var texts = (TestData.sharedInstructTexts() ?? []).prefix(60).map { $0 }
        if let sample = TestData.shared("models/stories260K/tinystories_sample.txt"),
           let data = FileManager.default.contents(atPath: sample) {
            texts.append(String(decoding: data, as: UTF8.self))
        }
        texts += ["aaaaaaaa", "the the the", "  ", "日本語 é"]
        for text in texts {
            let start = tok.initialSymbols(Array(text.utf8)[...], dummyPrefix: true)
            XCTAssertEqual(tok.mergeByHeap(start), tok.mergeByScan(start))
            let encoded = tok.encode(text, allowSpecial: false)
            XCTAssertEqual(tok.decode(encoded), text)
        }
    }
}
