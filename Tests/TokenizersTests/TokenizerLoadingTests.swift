import XCTest
@testable import Tokenizers

final class TokenizerLoadingTests: XCTestCase {
    /// A minimal tokenizer.json: bytes a, b, c, Ġ (space) and merges a+b, ab+c.
    private func tinyJSON(merges: String = #"["a b", "ab c"]"#, extraModel: String = "",
                          preTokenizer: String = #"{"type": "ByteLevel", "add_prefix_space": false}"#) -> String {
        """
        {"version": "1.0", "added_tokens": [{"id": 6, "content": "<|im_start|>", "special": true}],
         "normalizer": null, "pre_tokenizer": \(preTokenizer),
         "model": {"type": "BPE", \(extraModel) "vocab": {"a": 0, "b": 1, "c": 2, "Ġ": 3, "ab": 4, "abc": 5},
                   "merges": \(merges)}}
        """
    }

    private func write(_ text: String, name: String = "tokenizer.json") throws -> String {
        let path = try TestData.temporaryDirectory() + "/" + name
        try Data(text.utf8).write(to: URL(fileURLWithPath: path))
        return path
    }

    func test_tokenizerJSON_mergesAsStringsOrPairs_sameIds() throws {
        let strings = try loadTokenizer(from: try write(tinyJSON()))
        let pairs = try loadTokenizer(from: try write(tinyJSON(merges: #"[["a", "b"], ["ab", "c"]]"#)))
        XCTAssertEqual(strings.encode("abc ab<|im_start|>", allowSpecial: true), [5, 3, 4, 6])
        XCTAssertEqual(pairs.encode("abc ab<|im_start|>", allowSpecial: true), [5, 3, 4, 6])
        XCTAssertEqual(strings.vocabularySize, 7)
        XCTAssertEqual(strings.specialTokenID("<|im_start|>"), 6)
    }

    func test_directory_withVocabAndMerges_loadsGPT2() throws {
        guard let dir = TestData.shared("tokenizers/gpt2") else { throw XCTSkip("no shared GPT-2") }
        let tok = try loadTokenizer(from: dir)
        XCTAssertTrue(tok is BPETokenizer)
        XCTAssertEqual(tok.encode("Hello world", allowSpecial: true), [15496, 995])
    }

    func test_missingFile_throwsFileNotFoundWithPath() {
        XCTAssertThrowsError(try loadTokenizer(from: "/nonexistent/tokenizer.json")) { error in
            XCTAssertEqual(error as? TokenizerError, .fileNotFound(path: "/nonexistent/tokenizer.json"))
            XCTAssertTrue("\(error)".contains("/nonexistent/tokenizer.json"))
        }
    }

    func test_emptyDirectory_throwsNoTokenizerInDirectory() throws {
        let dir = try TestData.temporaryDirectory()
        XCTAssertThrowsError(try loadTokenizer(from: dir)) { error in
            XCTAssertEqual(error as? TokenizerError, .noTokenizerInDirectory(path: dir))
        }
    }

    func test_malformedJSON_throwsNamingFile() throws {
        let path = try write(#"{"model": {"type": "BPE", "vocab": {"a": 0,}"#)
        XCTAssertThrowsError(try loadTokenizer(from: path)) { error in
            guard case .malformedJSON(let p, _)? = error as? TokenizerError else { return XCTFail("\(error)") }
            XCTAssertEqual(p, path)
        }
    }

    func test_missingMerges_throwsNamingKey() throws {
        let path = try write(#"{"pre_tokenizer": {"type": "ByteLevel"}, "model": {"type": "BPE", "vocab": {"a": 0}}}"#)
        XCTAssertThrowsError(try loadTokenizer(from: path)) { error in
            guard case .missingKey(let p, let key, _)? = error as? TokenizerError else { return XCTFail("\(error)") }
            XCTAssertEqual(p, path)
            XCTAssertEqual(key, "model.merges")
        }
    }

    func test_mergeWithUnknownToken_throwsNamingTokenAndIndex() throws {
        let path = try write(tinyJSON(merges: #"["a b", "ab zz"]"#))
        XCTAssertThrowsError(try loadTokenizer(from: path)) { error in
            XCTAssertEqual(error as? TokenizerError, .unknownTokenInMerge(path: path, line: 2, token: "zz"))
        }
    }

    func test_mergesTXT_unknownToken_throwsNamingLine() throws {
        let dir = try TestData.temporaryDirectory()
        try Data(#"{"a": 0, "b": 1, "ab": 2}"#.utf8).write(to: URL(fileURLWithPath: dir + "/vocab.json"))
        try Data("#version: 0.2\na b\nq b\n".utf8).write(to: URL(fileURLWithPath: dir + "/merges.txt"))
        XCTAssertThrowsError(try loadTokenizer(from: dir)) { error in
            XCTAssertEqual(error as? TokenizerError, .unknownTokenInMerge(path: dir + "/merges.txt", line: 3, token: "q"))
        }
    }

    func test_unsupportedModelOrPreTokenizer_throwsUnsupported() throws {
        let wordPiece = try write(#"{"model": {"type": "WordPiece", "vocab": {}}}"#)
        XCTAssertThrowsError(try loadTokenizer(from: wordPiece)) { error in
            guard case .unsupported(_, let key, _)? = error as? TokenizerError else { return XCTFail("\(error)") }
            XCTAssertEqual(key, "model.type")
        }
        for (extra, key) in [(#""ignore_merges": true,"#, "model.ignore_merges"), (#""dropout": 0.1,"#, "model.dropout"),
                             (#""byte_fallback": true,"#, "model.byte_fallback")] {
            XCTAssertThrowsError(try loadTokenizer(from: try write(tinyJSON(extraModel: extra)))) { error in
                guard case .unsupported(_, let found, _)? = error as? TokenizerError else { return XCTFail("\(error)") }
                XCTAssertEqual(found, key)
            }
        }
        XCTAssertNoThrow(try loadTokenizer(from: try write(tinyJSON(extraModel: #""dropout": null, "ignore_merges": false,"#))))
        let split = try write(tinyJSON(preTokenizer: #"{"type": "Whitespace"}"#))
        XCTAssertThrowsError(try loadTokenizer(from: split)) { error in
            guard case .unsupported? = error as? TokenizerError else { return XCTFail("\(error)") }
        }
    }

    func test_saveThenLoad_givesEqualTokenizer() throws {
        let trained = try BPETrainer.train(text: TestData.smallCorpus, vocabularySize: 300,
                                           specialTokens: ["<|endoftext|>", "<|im_start|>"])
        let path = try TestData.temporaryDirectory() + "/tokenizer.json"
        try trained.save(to: path)
        let loaded = try BPETokenizer(tokenizerJSON: path)
        XCTAssertEqual(loaded.fingerprintBytes(), trained.fingerprintBytes())
        XCTAssertEqual(loaded.tokenStrings, trained.tokenStrings)
        XCTAssertEqual(loaded.addedTokens, trained.addedTokens)
        XCTAssertEqual(loaded.eosTokenID, 0)
        XCTAssertEqual(loaded.tokenizerJSON(), trained.tokenizerJSON())
        let text = "The quick fox<|im_start|> said: it's 123!"
        XCTAssertEqual(loaded.encode(text, allowSpecial: true), trained.encode(text, allowSpecial: true))
    }

    func test_gpt2_saveThenLoad_givesSameIds() throws {
        let gpt2 = try TestData.requireGPT2()
        let path = try TestData.temporaryDirectory() + "/tokenizer.json"
        try gpt2.save(to: path)
        let loaded = try loadTokenizer(from: path)
        XCTAssertEqual(loaded.fingerprintBytes(), gpt2.fingerprintBytes())
        for c in try TestData.referenceCases().prefix(200) {
            XCTAssertEqual(loaded.encode(c.text, allowSpecial: true), c.ids)
        }
    }

    func test_duplicateOrHugeIDs_throwBadTokenID() throws {
        let duplicate = try write(tinyJSON().replacingOccurrences(of: #""abc": 5"#, with: #""abc": 4"#))
        XCTAssertThrowsError(try loadTokenizer(from: duplicate)) { error in
            guard case .badTokenID? = error as? TokenizerError else { return XCTFail("\(error)") }
        }
        let huge = try write(tinyJSON().replacingOccurrences(of: #""abc": 5"#, with: #""abc": 5000000000"#))
        XCTAssertThrowsError(try loadTokenizer(from: huge)) { error in
            guard case .badTokenID? = error as? TokenizerError else { return XCTFail("\(error)") }
        }
    }

    func test_jsonQuote_escapesControlCharacters() {
        XCTAssertEqual(JSONText.quoted("a\"b\\c\n\u{1}é"), #""a\"b\\c\n\u0001é""#)
    }
}
