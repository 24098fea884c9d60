import Foundation
import XCTest
@testable import Datasets

/// A model's own Jinja chat template as a prompt template: the loss mask comes from
/// renderings of conversation prefixes, and agrees with the built-in template of the same format.
final class TemplateJinjaTests: XCTestCase {
    static let chatml = """
        {% for message in messages %}{{'<|im_start|>' + message['role'] + '\\n' + message['content'] + '<|im_end|>' + '\\n'}}{% endfor %}{% if add_generation_prompt %}{{ '<|im_start|>assistant\\n' }}{% endif %}
        """

    let chat = RecordContent.chat([
        Message(role: .system, content: "Be brief."), Message(role: .user, content: "Hi"),
        Message(role: .assistant, content: "Hello."), Message(role: .user, content: "Add 2 and 3"),
        Message(role: .assistant, content: "5"),
    ])

    func encoder(_ template: TemplateKind, scope: ChatTrainingScope = .allAssistant) throws -> ExampleEncoder {
        try ExampleEncoder(tokenizer: ByteTokenizer(), template: template, scope: scope)
    }

    /// ChatML written as Jinja gives the built-in chatml's tokens and mask, for every turn
    /// or the last one only.
    func test_chatmlAsJinja_equalsBuiltInChatml_tokensAndMask() throws {
        let jinja = TemplateKind.jinja(try JinjaChat(source: Self.chatml))
        for scope in ChatTrainingScope.allCases {
            let a = try encoder(jinja, scope: scope).encode(chat), b = try encoder(.chatml, scope: scope).encode(chat)
            XCTAssertEqual(a.tokens, b.tokens, "\(scope)")
            XCTAssertEqual(a.trained, b.trained, "\(scope)")
        }
        let trained = try encoder(jinja).encode(chat)
        let text = ByteTokenizer().decode(zip(trained.tokens, trained.trained).filter(\.1).map(\.0))
        XCTAssertEqual(text, "Hello.<|im_end|>5<|im_end|>")
    }

    /// The prompt of an instruction record is the rendering with the generation prompt.
    func test_promptTokens_instructionRecord_endsWithGenerationPrompt() throws {
        let enc = try encoder(.jinja(try JinjaChat(source: Self.chatml)), scope: .lastAssistant)
        let prompt = try enc.promptTokens(.instruction(instruction: "Sort.", input: "3 1", response: ""))
        XCTAssertEqual(ByteTokenizer().decode(prompt), "<|im_start|>user\nSort.\n\n3 1<|im_end|>\n<|im_start|>assistant\n")
    }

    /// A template that renders an assistant turn one way when it is last and another when it
    /// is not cannot be split into turns: refused, naming the turn; the pipeline names the record.
    func test_templateWhoseTurnsAreNotPrefixes_isRefused() throws {
        let source = "{% for m in messages %}{% if loop.last %}[{{ m['content'] }}]{% else %}{{ m['content'] }}{% endif %}{% endfor %}"
        XCTAssertThrowsError(try encoder(.jinja(try JinjaChat(source: source))).encode(chat)) { error in
            XCTAssertTrue("\(error)".contains("cannot be told apart"), "\(error)")
        }
        let dir = TempDir()
        let file = dir.write("chat.jsonl", "{\"messages\": [{\"role\": \"user\", \"content\": \"a\"}, {\"role\": \"assistant\", \"content\": \"b\"}]}\n")
        let config = DataConfig(datasets: [DatasetSpec(path: file, template: .jinja(try JinjaChat(source: source)))], seqLen: 64)
        XCTAssertThrowsError(try DataPipeline.prepare(config, tokenizer: ByteTokenizer())) { error in
            guard case let .templateFailed(path, line, template, _, _)? = error as? DatasetError else { return XCTFail("\(error)") }
            XCTAssertEqual(path, file)
            XCTAssertEqual(line, 1)
            XCTAssertEqual(template, "model")
        }
    }

    /// `raise_exception` in a template (Gemma refuses a system turn) stops with its message.
    func test_templateRaising_reportsItsMessage() throws {
        let source = "{% if messages[0]['role'] == 'system' %}{{ raise_exception('System role not supported') }}{% endif %}"
            + "{% for m in messages %}{{ m['content'] }}{% endfor %}"
        XCTAssertThrowsError(try encoder(.jinja(try JinjaChat(source: source))).encode(chat)) { error in
            XCTAssertTrue("\(error)".contains("System role not supported"), "\(error)")
        }
    }

    /// The template and its BOS/EOS texts round-trip through JSON (the model card stores them),
    /// and change the data cache's key.
    func test_jinjaTemplate_codableRoundTrip_andCanonicalDescription() throws {
        let t = TemplateKind.jinja(try JinjaChat(source: "{{ bos_token }}{% for m in messages %}{{ m['content'] }}{{ eos_token }}{% endfor %}",
                                                 bosToken: "<s>", eosToken: "</s>"))
        let back = try JSONDecoder().decode(TemplateKind.self, from: try JSONEncoder().encode(t))
        XCTAssertEqual(back, t)
        guard case let .jinja(chat) = back else { return XCTFail() }
        XCTAssertEqual(try chat.text([Message(role: .user, content: "x")], addGenerationPrompt: false), "<s>x</s>")
        XCTAssertNotEqual(t.canonicalDescription, TemplateKind.jinja(try JinjaChat(source: "{{ 1 }}")).canonicalDescription)
    }
}
