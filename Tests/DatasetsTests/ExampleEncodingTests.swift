import XCTest
@testable import Datasets

final class ExampleEncodingTests: XCTestCase {
    let tok = ByteTokenizer()

    /// The text of the trained tokens (those the model learns to predict), in order.
    func trainedText(_ e: TokenizedExample) -> String {
        tok.decode(e.tokens.indices.filter { $0 > 0 && e.trained[$0] }.map { e.tokens[$0] })
    }

    func test_alpaca_withInput_isStanfordTextVerbatim() throws {
        let enc = try ExampleEncoder(tokenizer: tok, template: .alpaca)
        let e = try enc.encode(.instruction(instruction: "Add.", input: "2 and 3", response: "5"))
        XCTAssertEqual(tok.decode(e.tokens),
            "Below is an instruction that describes a task, paired with an input that provides further context. Write a response that appropriately completes the request.\n\n### Instruction:\nAdd.\n\n### Input:\n2 and 3\n\n### Response:5<|endoftext|>")
        XCTAssertEqual(trainedText(e), "5<|endoftext|>")
    }

    func test_alpaca_withoutInput_isStanfordTextVerbatim() throws {
        let enc = try ExampleEncoder(tokenizer: tok, template: .alpaca)
        let e = try enc.encode(.instruction(instruction: "Say hi.", input: "", response: "hi"))
        XCTAssertEqual(tok.decode(e.tokens),
            "Below is an instruction that describes a task. Write a response that appropriately completes the request.\n\n### Instruction:\nSay hi.\n\n### Response:hi<|endoftext|>")
        XCTAssertEqual(trainedText(e), "hi<|endoftext|>")
    }

    let chat: RecordContent = .chat([
        Message(role: .system, content: "Be brief."),
        Message(role: .user, content: "Hi"), Message(role: .assistant, content: "Hello"),
        Message(role: .user, content: "Bye"), Message(role: .assistant, content: "Ciao"),
    ])

    func test_chatml_multiTurn_trainsEveryAssistantTurnAndItsEnd() throws {
        let e = try ExampleEncoder(tokenizer: tok, template: .chatml).encode(chat)
        XCTAssertEqual(tok.decode(e.tokens),
            "<|im_start|>system\nBe brief.<|im_end|>\n<|im_start|>user\nHi<|im_end|>\n<|im_start|>assistant\nHello<|im_end|>\n<|im_start|>user\nBye<|im_end|>\n<|im_start|>assistant\nCiao<|im_end|>\n")
        XCTAssertEqual(trainedText(e), "Hello<|im_end|>Ciao<|im_end|>")
        XCTAssertTrue(e.tokens.contains(259), "<|im_end|> is one special id")
    }

    func test_chatml_lastAssistantScope_trainsOnlyTheFinalTurn() throws {
        let e = try ExampleEncoder(tokenizer: tok, template: .chatml, scope: .lastAssistant).encode(chat)
        XCTAssertEqual(trainedText(e), "Ciao<|im_end|>")
    }

    func test_llama3_rendersHeadersAndTrainsEotID() throws {
        let e = try ExampleEncoder(tokenizer: ByteTokenizer(hasBOS: true), template: .llama3)
            .encode(.instruction(instruction: "Q", input: "", response: "A"))
        XCTAssertEqual(ByteTokenizer().decode(e.tokens),
            "<s><|start_header_id|>user<|end_header_id|>\n\nQ<|eot_id|><|start_header_id|>assistant<|end_header_id|>\n\nA<|eot_id|>")
        XCTAssertEqual(trainedText(e), "A<|eot_id|>")
    }

    func test_plain_instructionWithInput() throws {
        let e = try ExampleEncoder(tokenizer: tok, template: .plain).encode(.instruction(instruction: "Q", input: "ctx", response: "A"))
        XCTAssertEqual(tok.decode(e.tokens), "Q\n\nctx\nA<|endoftext|>\n")
        XCTAssertEqual(trainedText(e), "A<|endoftext|>")
    }

    func test_trainOnInput_trainsEverythingButTheFirstToken() throws {
        let e = try ExampleEncoder(tokenizer: tok, template: .plain, trainOnInput: true)
            .encode(.instruction(instruction: "Q", input: "", response: "A"))
        XCTAssertEqual(e.trainedTargetCount, e.tokens.count - 1)
    }

    func test_userContent_cannotInjectSpecialTokens() throws {
        let e = try ExampleEncoder(tokenizer: tok, template: .chatml)
            .encode(.chat([Message(role: .user, content: "<|im_end|>"), Message(role: .assistant, content: "ok")]))
        XCTAssertEqual(e.tokens.filter { $0 == 259 }.count, 2, "only the template's two <|im_end|> are special ids")
    }

    func test_bos_addedOnce_neverDoubled() throws {
        let bosTok = ByteTokenizer(hasBOS: true)
        let e = try ExampleEncoder(tokenizer: bosTok, template: .plain).encode(.instruction(instruction: "Q", input: "", response: "A"))
        XCTAssertEqual(e.tokens.first, 257)
        XCTAssertEqual(e.tokens.filter { $0 == 257 }.count, 1)
        let custom = CustomTemplate(system: "{system}", user: "<s>[INST] {user} [/INST]", assistant: " {assistant}")
        let c = try ExampleEncoder(tokenizer: bosTok, template: .custom(custom)).encode(.instruction(instruction: "Q", input: "", response: "A"))
        XCTAssertEqual(Array(c.tokens.prefix(2)), [257, Int32(UInt8(ascii: "["))], "template's own <s> is not doubled")
        XCTAssertEqual(trainedText(c), "A<|endoftext|>")
    }

    func test_custom_textAfterPlaceholder_isTrainedEndOfTurn() throws {
        let t = CustomTemplate(user: "U: {user}\n", assistant: "A: {assistant}</a>\n", appendEOS: false)
        let e = try ExampleEncoder(tokenizer: tok, template: .custom(t)).encode(.instruction(instruction: "q", input: "", response: "r"))
        XCTAssertEqual(tok.decode(e.tokens), "U: q\nA: r</a>\n")
        XCTAssertEqual(trainedText(e), "r</a>\n")
    }

    func test_custom_missingPlaceholder_throwsNamingField() {
        let t = CustomTemplate(user: "U: {usr}", assistant: "{assistant}")
        XCTAssertThrowsError(try ExampleEncoder(tokenizer: tok, template: .custom(t))) { error in
            XCTAssertEqual(error as? DatasetError, .invalidTemplate(field: "user", reason: "must contain {user} exactly once (found 0)"))
        }
    }

    func test_alpaca_withoutEOS_throws() {
        XCTAssertThrowsError(try ExampleEncoder(tokenizer: ByteTokenizer(hasEOS: false), template: .alpaca)) { error in
            XCTAssertEqual(error as? DatasetError, .missingSpecialToken(token: "EOS", template: "alpaca"))
        }
    }

    func test_truncate_keepsBOSAndResponseEnd() {
        let e = TokenizedExample(tokens: [257, 1, 2, 3, 4, 5, 6], trained: [false, false, false, false, true, true, true])
        let t = e.truncatedFromLeft(to: 4, bos: 257)
        XCTAssertEqual(t.tokens, [257, 4, 5, 6])
        XCTAssertEqual(t.trained, [false, true, true, true])
        XCTAssertEqual(t.trainedTargetCount, 3)
        let noBOS = TokenizedExample(tokens: [1, 2, 3], trained: [false, true, true]).truncatedFromLeft(to: 2, bos: nil)
        XCTAssertEqual(noBOS.tokens, [2, 3])
    }
}
