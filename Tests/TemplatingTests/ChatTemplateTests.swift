import Foundation
import XCTest
@testable import Templating

/// ChatTemplate's preparation of the inputs (as transformers' apply_chat_template does) and
/// the generation spans a caller uses for loss masks.
final class ChatTemplateTests: XCTestCase {
    func test_noneValuedKeys_areDroppedBeforeRendering() throws {
        let chat = try ChatTemplate(source: "{% for m in messages %}{{ 'content' in m }},{{ m|length }};{% endfor %}")
        let messages = try Value.parseJSON(#"[{"role": "assistant", "content": null, "tool_calls": []}]"#).array ?? []
        XCTAssertEqual(try chat.render(messages: messages).text, "False,2;")
    }

    func test_reasoning_isAliasedAsThinkingFirstAndReasoningContentLast() throws {
        let chat = try ChatTemplate(source: "{{ messages[0]|list }}")
        let messages: [Value] = [["role": "assistant", "reasoning": "why", "content": "x"]]
        XCTAssertEqual(try chat.render(messages: messages).text, "['thinking', 'role', 'reasoning', 'content', 'reasoning_content']")
    }

    func test_variables_overrideSpecialTokens_andToolsDefaultToNone() throws {
        let chat = try ChatTemplate(source: "{{ bos_token }}|{{ eos_token }}|{{ tools }}|{{ documents }}|{{ add_generation_prompt }}",
            specialTokens: ["bos_token": "<s>", "eos_token": "</s>"])
        XCTAssertEqual(try chat.render(messages: [], variables: ["eos_token": "<eot>"]).text, "<s>|<eot>|None|None|False")
        XCTAssertEqual(try chat.render(messages: [], addGenerationPrompt: true, tools: [["name": "f"]]).text, "<s>|</s>|[{'name': 'f'}]|None|True")
    }

    func test_generationSpans_nonASCII_giveScalarAndUTF8Offsets() throws {
        let template = try Template(source: "é{% generation %}日本 {{ x }}{% endgeneration %}!{% generation %}{% endgeneration %}")
        let result = try template.render(["x": "😀"])
        XCTAssertEqual(result.text, "é日本 😀!")
        XCTAssertEqual(result.generationSpans.map(\.scalars), [1..<5, 6..<6])
        XCTAssertEqual(result.generationSpans.map(\.utf8), [2..<13, 14..<14])
        let bytes = Array(result.text.utf8)
        XCTAssertEqual(String(decoding: bytes[result.generationSpans[0].utf8], as: UTF8.self), "日本 😀")
    }

    /// Rendering a prefix of a conversation is a prefix of rendering all of it for templates
    /// without a trailing generation prompt: the property loss masks are computed from.
    func test_smolLM2_conversationPrefixes_renderAsTextPrefixes() throws {
        let chat = try ChatTemplate(source: try Fixtures.text("templates/smollm2.jinja"))
        let messages: [Value] = [["role": "user", "content": "Hi"], ["role": "assistant", "content": "Hello!"], ["role": "user", "content": "Bye"]]
        let full = try chat.render(messages: messages).text
        for n in 1...messages.count {
            let prefix = try chat.render(messages: Array(messages.prefix(n))).text
            XCTAssertTrue(full.hasPrefix(prefix), "prefix of \(n) messages")
        }
        XCTAssertTrue(full.hasPrefix("<|im_start|>system\nYou are a helpful AI assistant named SmolLM"))
    }

    func test_concurrentRenders_ofOneTemplate_agree() throws {
        let template = try Template(source: try Fixtures.text("templates/qwen3.jinja"))
        let messages: Value = [["role": "user", "content": "Hi"], ["role": "assistant", "content": "<think>\nhm\n</think>\n\nHello"]]
        let expected = try template.render(["messages": messages, "add_generation_prompt": true]).text
        let results = UnsafeSendableBox(Array(repeating: "", count: 16))
        DispatchQueue.concurrentPerform(iterations: 16) { i in
            let text = (try? template.render(["messages": messages, "add_generation_prompt": true]).text) ?? "error"
            results.lock.lock()
            results.value[i] = text
            results.lock.unlock()
        }
        XCTAssertEqual(Set(results.value), [expected])
    }
}

/// A locked box for collecting results from concurrentPerform in a test.
final class UnsafeSendableBox<T>: @unchecked Sendable {
    var value: T
    let lock = NSLock()
    init(_ value: T) { self.value = value }
}
