import XCTest
@testable import Tokenizers

final class TokenizerLoadingTests: XCTestCase {
    /// A minimal tokenizer.json: tokens a, b, c, Ġ (space), ab, abc, then the other 252 bytes
    /// (ids 6...); merges a+b, ab+c; `<|im_start|>` last.
    private func tinyJSON(merges: String = #"["a b", "ab c"]"#, extraModel: String = "",
                          preTokenizer: String = #"{"type": "ByteLevel", "add_prefix_space": false}"#,
                          normalizer: String = "null", decoder: String = #"{"type": "ByteLevel"}"#) -> String {
        var vocab = #""a": 0, "b": 1, "c": 2, "Ġ": 3, "ab": 4, "abc": 5"#
        var next = 6
        for b in 0..<256 where ![0x61, 0x62, 0x63, 0x20].contains(b) {
            vocab += ", " + JSONText.quoted(ByteLevel.encode([UInt8(b)])) + ": \(next)"
            next += 1
        }
        return """
        {"version": "1.0", "added_tokens": [{"id": \(next), "content": "<|im_start|>", "special": true}],
         "normalizer": \(normalizer), "pre_tokenizer": \(preTokenizer), "decoder": \(decoder),
         "model": {"type": "BPE", \(extraModel) "vocab": {\(vocab)},
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
        XCTAssertEqual(strings.encode("abc ab<|im_start|>", allowSpecial: true), [5, 3, 4, 258])
        XCTAssertEqual(pairs.encode("abc ab<|im_start|>", allowSpecial: true), [5, 3, 4, 258])
        XCTAssertEqual(strings.vocabularySize, 259)
        XCTAssertEqual(strings.specialTokenID("<|im_start|>"), 258)
    }

    func test_directory_withVocabAndMerges_loadsGPT2() throws {
        // Skipped only where ../shared (reference data kept outside the repository) is absent; team machines and CI have it.
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

    func test_unsupportedModelOrOptions_throwsUnsupportedNamingKey() throws {
        let wordPiece = try write(#"{"model": {"type": "WordPiece", "vocab": {}}}"#)
        XCTAssertThrowsError(try loadTokenizer(from: wordPiece)) { error in
            guard case .unsupported(_, let key, _)? = error as? TokenizerError else { return XCTFail("\(error)") }
            XCTAssertEqual(key, "model.type")
        }
        for (extra, key) in [(#""dropout": 0.1,"#, "model.dropout"), (###""continuing_subword_prefix": "##","###, "model.continuing_subword_prefix"),
                             (#""end_of_word_suffix": "</w>","#, "model.end_of_word_suffix")] {
            XCTAssertThrowsError(try loadTokenizer(from: try write(tinyJSON(extraModel: extra)))) { error in
                guard case .unsupported(_, let found, _)? = error as? TokenizerError else { return XCTFail("\(error)") }
                XCTAssertEqual(found, key)
            }
        }
        XCTAssertNoThrow(try loadTokenizer(from: try write(tinyJSON(extraModel: #""dropout": null, "ignore_merges": true, "byte_fallback": true,"#))))
        XCTAssertNoThrow(try loadTokenizer(from: try write(tinyJSON(preTokenizer: #"{"type": "Whitespace"}"#))))
    }

    func test_unsupportedComponent_throwsNamingJSONPathAndSupportedList() throws {
        let pre = #"{"type": "Sequence", "pretokenizers": [{"type": "Digits"}, {"type": "ByteLevel", "use_regex": false}, {"type": "BertPreTokenizer"}]}"#
        let path = try write(tinyJSON(preTokenizer: pre))
        XCTAssertThrowsError(try loadTokenizer(from: path)) { error in
            XCTAssertEqual(error as? TokenizerError, .unsupportedComponent(
                path: path, key: "pre_tokenizer.pretokenizers[2]", type: "BertPreTokenizer",
                supported: TokenizerJSONReader.supportedPreTokenizers))
            let message = "\(error)"
            XCTAssertTrue(message.contains(#"pre_tokenizer.pretokenizers[2]: type "BertPreTokenizer" is not supported; supported: Sequence, ByteLevel"#), message)
        }
        let norm = #"{"type": "Sequence", "normalizers": [{"type": "NFC"}, {"type": "Precompiled", "precompiled_charsmap": "AA=="}]}"#
        XCTAssertThrowsError(try loadTokenizer(from: try write(tinyJSON(normalizer: norm)))) { error in
            guard case .unsupportedComponent(_, let key, let type, let supported)? = error as? TokenizerError else { return XCTFail("\(error)") }
            XCTAssertEqual(key, "normalizer.normalizers[1]")
            XCTAssertEqual(type, "Precompiled")
            XCTAssertEqual(supported, TokenizerJSONReader.supportedNormalizers)
        }
        for (decoder, type) in [(###"{"type": "WordPiece", "prefix": "##"}"###, "WordPiece"), (#"{"type": "BPEDecoder", "suffix": "</w>"}"#, "BPEDecoder")] {
            XCTAssertThrowsError(try loadTokenizer(from: try write(tinyJSON(decoder: decoder)))) { error in
                guard case .unsupportedComponent(_, let key, let found, _)? = error as? TokenizerError else { return XCTFail("\(error)") }
                XCTAssertEqual(key, "decoder")
                XCTAssertEqual(found, type)
            }
        }
        // ByteLevel anywhere but last would see byte-level characters in later steps: refused.
        let early = #"{"type": "Sequence", "pretokenizers": [{"type": "ByteLevel"}, {"type": "Digits"}]}"#
        XCTAssertThrowsError(try loadTokenizer(from: try write(tinyJSON(preTokenizer: early))))
    }

    func test_badRegexOrBehavior_throwsNamingKey() throws {
        let bad = #"{"type": "Split", "pattern": {"Regex": "(unclosed"}, "behavior": "Isolated", "invert": false}"#
        let path = try write(tinyJSON(preTokenizer: bad))
        XCTAssertThrowsError(try loadTokenizer(from: path)) { error in
            guard case .invalidPattern(let p, let key, let pattern, _)? = error as? TokenizerError else { return XCTFail("\(error)") }
            XCTAssertEqual(p, path)
            XCTAssertEqual(key, "pre_tokenizer.pattern.Regex")
            XCTAssertEqual(pattern, "(unclosed")
        }
        let behavior = #"{"type": "Split", "pattern": {"String": "x"}, "behavior": "Sideways", "invert": false}"#
        XCTAssertThrowsError(try loadTokenizer(from: try write(tinyJSON(preTokenizer: behavior)))) { error in
            guard case .unsupported(_, let key, _)? = error as? TokenizerError else { return XCTFail("\(error)") }
            XCTAssertEqual(key, "pre_tokenizer.behavior")
        }
    }

    func test_byteLevelVocabularyMissingAByte_throwsAtLoadUnlessUnknownToken() throws {
        let missing = tinyJSON().replacingOccurrences(of: #", "Ċ": "#, with: #", "Ċx": "#)  // drop byte 0x0A
        let path = try write(missing)
        XCTAssertThrowsError(try loadTokenizer(from: path)) { error in
            XCTAssertEqual(error as? TokenizerError, .missingByteToken(path: path, byte: 0x0A))
            XCTAssertTrue("\(error)".contains("0x0A"))
        }
        let withUnknown = missing.replacingOccurrences(of: #""type": "BPE","#, with: #""type": "BPE", "unk_token": "a","#)
        let tok = try loadTokenizer(from: try write(withUnknown))
        XCTAssertEqual(tok.encode("b\nb", allowSpecial: false), [1, 0, 1], "the byte without a token becomes unk")
    }

    func test_addedTokenIDOutOfRangeOrSingleWord_throws() throws {
        let huge = tinyJSON().replacingOccurrences(of: #""id": 258"#, with: #""id": 99999999999"#)
        XCTAssertThrowsError(try loadTokenizer(from: try write(huge))) { error in
            guard case .badTokenID(_, let token, _)? = error as? TokenizerError else { return XCTFail("\(error)") }
            XCTAssertEqual(token, "<|im_start|>")
        }
        let single = tinyJSON().replacingOccurrences(of: #""special": true}"#, with: #""special": true, "single_word": true}"#)
        XCTAssertThrowsError(try loadTokenizer(from: try write(single))) { error in
            guard case .unsupported(_, let key, _)? = error as? TokenizerError else { return XCTFail("\(error)") }
            XCTAssertEqual(key, "added_tokens[0].single_word")
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
