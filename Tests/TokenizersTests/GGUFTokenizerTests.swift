import Foundation
import XCTest
@testable import Tokenizers

final class GGUFTokenizerTests: XCTestCase {
    /// models/SmolLM2-135M-Instruct.Q4_1.gguf under the repository root, or nil with a message.
    static func smolLM2Path(test: String = #function) -> String? {
        let path = TestData.root.appendingPathComponent("models/SmolLM2-135M-Instruct.Q4_1.gguf").path
        if FileManager.default.fileExists(atPath: path) { return path }
        print("\(test): \(path) is absent; run scripts/fetch-smollm2.sh to fetch it. Skipping.")
        return nil
    }

    /// tok512.bin (llama2.c) as the GGUF metadata llama.cpp's converter would write for it:
    /// model "llama", pieces with "▁" for spaces, `<s>`/`</s>`, scores, token types.
    static func stories260kMetadata() throws -> GGUFTokenizerMetadata? {
        guard let path = TestData.shared("models/stories260K/tok512.bin") else { return nil }
        let tok = try Llama2cTokenizer(path: path)
        var tokens: [String] = []
        var types: [Int32] = []
        for (id, piece) in tok.pieces.enumerated() {
            switch id {
            case 0: tokens.append("<unk>"); types.append(2)
            case 1: tokens.append("<s>"); types.append(3)
            case 2: tokens.append("</s>"); types.append(3)
            case 3..<259: tokens.append(String(decoding: piece, as: UTF8.self)); types.append(6)
            default:
                tokens.append(String(decoding: piece, as: UTF8.self).replacingOccurrences(of: " ", with: "▁"))
                types.append(1)
            }
        }
        return GGUFTokenizerMetadata(model: "llama", pre: "default", tokens: tokens, tokenTypes: types, scores: tok.scores,
                                     bosTokenID: 1, eosTokenID: 2, unknownTokenID: 0, addBOSToken: true, addSpacePrefix: true)
    }

    func test_fromGGUF_smolLM2_matchesHFOnAllTextsAndChatPrompt() throws {
        // Skipped without the real model (scripts/fetch-smollm2.sh); the committed expected ids stay.
        guard let path = Self.smolLM2Path() else { throw XCTSkip("models/SmolLM2-135M-Instruct.Q4_1.gguf is absent (scripts/fetch-smollm2.sh)") }
        let metadata = try GGUFMetadataReader.tokenizerMetadata(path)
        XCTAssertEqual(metadata.pre, "smollm")
        let (json, tok) = try BPETokenizer.fromGGUF(metadata)
        let expected = try PipelineParityTests.expected("smollm2")
        XCTAssertEqual(PipelineParityTests.compare(tok, expected, label: "SmolLM2 from GGUF"), 0)
        let prompt = try XCTUnwrap(expected.chat_prompt)
        let ids = tok.encode(prompt, allowSpecial: true)
        XCTAssertEqual(ids, expected.chat_prompt_ids)
        XCTAssertEqual(ids.count, 37)
        XCTAssertEqual(tok.bosTokenID, 1)
        XCTAssertEqual(tok.eosTokenID, 2)
        XCTAssertFalse(tok.addsBOS, "SmolLM2's GGUF says add_bos_token = false")
        XCTAssertTrue(tok.isSpecialToken(2))
        XCTAssertEqual(tok.decode(ids, skipSpecialTokens: true),
                       "system\nYou are a helpful AI assistant named SmolLM, trained by Hugging Face\nuser\nWhat is the capital of France?\nassistant\n")
        XCTAssertEqual(tok.addedTokens.filter(\.special).count, 17)
        // The JSON it writes loads (ours) to the same tokenizer.
        let again = try BPETokenizer(tokenizerJSONText: json)
        XCTAssertEqual(again.fingerprintBytes(), tok.fingerprintBytes())
        XCTAssertEqual(again.encode(prompt, allowSpecial: true), ids)
    }

    func test_fromGGUF_stories260k_matchesHFAndTheCommittedLlama2JSON() throws {
        // Skipped only where ../shared (reference data kept outside the repository) is absent; team machines and CI have it.
        guard let metadata = try Self.stories260kMetadata() else { throw XCTSkip("../shared/datasets is absent") }
        let (json, tok) = try BPETokenizer.fromGGUF(metadata)
        let committed = try BPETokenizer(tokenizerJSON: try PipelineParityTests.fixturePath("llama2-stories260k.tokenizer.json"))
        XCTAssertEqual(tok.merges.count, committed.merges.count)
        XCTAssertTrue(zip(tok.merges, committed.merges).allSatisfy { $0 == $1 }, "merges as transformers' generate_merges orders them")
        XCTAssertEqual(PipelineParityTests.compare(tok, try PipelineParityTests.expected("llama2-stories260k"),
                                                   label: "stories260K from GGUF arrays"), 0)
        XCTAssertTrue(tok.addsBOS)
        XCTAssertEqual(tok.bosTokenID, 1)
        XCTAssertTrue(json.contains(#""byte_fallback": true"#))
    }

    /// Our llama2.c tokenizer (run.c's algorithm on the same pieces) against the HF layout of the
    /// same vocabulary: they agree on plain text; they differ where HF's Llama 2 layout differs by
    /// design (special-token strings, the dummy prefix of later segments), which is counted.
    func test_stories260k_llama2cTokenizerAgreesWithHFLayoutOnPlainText() throws {
        // Skipped only where ../shared (reference data kept outside the repository) is absent; team machines and CI have it.
        guard let path = TestData.shared("models/stories260K/tok512.bin") else { throw XCTSkip("../shared/datasets is absent") }
        let llama2c = try Llama2cTokenizer(path: path)
        let expected = try PipelineParityTests.expected("llama2-stories260k")
        var same = 0
        var differ: [String] = []
        for (i, text) in PipelineParityTests.texts.enumerated() {
            if llama2c.encode(text, allowSpecial: false) == expected.ids_no_special[String(i)] ?? expected.ids[i] {
                same += 1
            } else {
                differ.append(text)
            }
        }
        print("llama2.c tokenizer vs HF Llama 2 layout: \(same) of \(PipelineParityTests.texts.count) texts give the same ids; "
              + "first differing: \(differ.prefix(5).map(\.debugDescription))")
        XCTAssertGreaterThan(same, PipelineParityTests.texts.count * 9 / 10)
    }

    func test_fromGGUF_json_isDeterministicAndLoadsInHFLayout() throws {
        let m = Self.tinyByteLevel(pre: "llama-bpe", addBOS: true)
        let first = try BPETokenizer.tokenizerJSON(fromGGUF: m)
        XCTAssertEqual(first, try BPETokenizer.tokenizerJSON(fromGGUF: m))
        let (_, tok) = try BPETokenizer.fromGGUF(m)
        XCTAssertTrue(tok.options.ignoreMerges, "llama-bpe sets ignore_merges as Llama 3's tokenizer.json does")
        XCTAssertTrue(tok.addsBOS)
        XCTAssertEqual(tok.bosTokenID, 259)
        XCTAssertEqual(tok.eosTokenID, 260)
        XCTAssertTrue(tok.isSpecialToken(259))
        XCTAssertFalse(tok.isSpecialToken(261), "user-defined tokens are added but not special")
        XCTAssertEqual(tok.addedTokens.map(\.content), ["<|begin_of_text|>", "<|end_of_text|>", "<think>"])
        XCTAssertEqual(tok.encode("<|begin_of_text|>ab <think>", allowSpecial: true), [259, 256, 32, 261])
        // Llama 3's split: "ab", " ", "123", "4"; "ab" is a token itself (ignore_merges).
        XCTAssertEqual(tok.encode("ab 1234", allowSpecial: true), [256, 32, 258, 51, 52])
        let smol = try BPETokenizer.fromGGUF(Self.tinyByteLevel(pre: "smollm", addBOS: false)).tokenizer
        XCTAssertFalse(smol.addsBOS)
        XCTAssertEqual(smol.encode("ab12", allowSpecial: false), [256, 49, 50], "digits one by one")
        let gpt2 = try BPETokenizer.fromGGUF(Self.tinyByteLevel(pre: "gpt2", addBOS: false)).tokenizer
        XCTAssertTrue(gpt2.fastPath, "a plain GPT-2 layout takes the fast path")
    }

    /// 256 byte tokens, "ab" (256) and " ab"... merges a+b; specials 259/260, a user-defined 261.
    static func tinyByteLevel(pre: String, addBOS: Bool) -> GGUFTokenizerMetadata {
        var tokens = (0..<256).map { ByteLevel.encode([UInt8($0)]) }
        tokens += ["ab", "Ġab", "12", "<|begin_of_text|>", "<|end_of_text|>", "<think>"]
        var types = [Int32](repeating: 1, count: tokens.count)
        types[259] = 3
        types[260] = 3
        types[261] = 4
        return GGUFTokenizerMetadata(model: "gpt2", pre: pre, tokens: tokens, tokenTypes: types, merges: ["a b", "Ġ ab", "1 2"],
                                     bosTokenID: 259, eosTokenID: 260, addBOSToken: addBOS)
    }

    func test_fromGGUF_badMetadata_throwsNamingKey() throws {
        func key(_ m: GGUFTokenizerMetadata) -> String? {
            do {
                _ = try BPETokenizer.fromGGUF(m)
                return nil
            } catch TokenizerError.invalidGGUFTokenizer(let key, _) {
                return key
            } catch {
                return "\(error)"
            }
        }
        var m = Self.tinyByteLevel(pre: "no-such-pre", addBOS: false)
        XCTAssertEqual(key(m), "pre")
        do {
            _ = try BPETokenizer.fromGGUF(m)
        } catch {
            XCTAssertTrue("\(error)".contains("no-such-pre"))
            XCTAssertTrue("\(error)".contains("llama-bpe"), "lists the known ones")
        }
        m = Self.tinyByteLevel(pre: "gpt2", addBOS: false)
        m.bosTokenID = 999
        XCTAssertEqual(key(m), "bos_token_id")
        m = Self.tinyByteLevel(pre: "gpt2", addBOS: false)
        m.tokenTypes?.removeLast()
        XCTAssertEqual(key(m), "token_type")
        m = Self.tinyByteLevel(pre: "gpt2", addBOS: false)
        m.model = "bert"
        XCTAssertEqual(key(m), "model")
        m = Self.tinyByteLevel(pre: "gpt2", addBOS: false)
        m.tokens[300 - 40] = m.tokens[0]
        XCTAssertEqual(key(m), "tokens")
        m = Self.tinyByteLevel(pre: "gpt2", addBOS: false)
        m.merges = ["a b c"]
        XCTAssertEqual(key(m), "merges")
        m = Self.tinyByteLevel(pre: "gpt2", addBOS: false)
        m.merges = nil
        XCTAssertEqual(key(m), "merges")
        m = Self.tinyByteLevel(pre: "gpt2", addBOS: false)
        m.model = "llama"
        m.pre = nil
        XCTAssertEqual(key(m), "scores")
        m.scores = [Float](repeating: 0, count: m.tokens.count)
        m.scores?[3] = .nan
        XCTAssertEqual(key(m), "scores")
        m = Self.tinyByteLevel(pre: "gpt2", addBOS: false)
        m.tokens = []
        m.tokenTypes = nil
        XCTAssertEqual(key(m), "tokens")
        // A hostile SentencePiece token long enough to make deriving merges quadratic is refused.
        m = Self.tinyByteLevel(pre: "gpt2", addBOS: false)
        m.model = "llama"
        m.pre = nil
        m.scores = [Float](repeating: 0, count: m.tokens.count)
        m.tokens[261] = String(repeating: "x", count: 5000)
        XCTAssertEqual(key(m), "tokens")
    }
}
