import Datasets
import Foundation
import Inference
@testable import Serving
import XCTest

/// Request bodies read field by field: every OpenAI field we take, defaults, and each refusal
/// naming its field.
final class APIRequestTests: XCTestCase {
    func chat(_ json: String, defaults: SamplingOptions = .greedy) throws -> APIRequest {
        try APIRequest.chat(Data(json.utf8), defaults: defaults)
    }

    func refusal(_ json: String, completion: Bool = false, file: StaticString = #filePath, line: UInt = #line) -> ServingError? {
        do {
            _ = completion ? try APIRequest.completion(Data(json.utf8), defaults: .greedy) : try chat(json)
            XCTFail("accepted: \(json)", file: file, line: line)
            return nil
        } catch let e as ServingError {
            return e
        } catch {
            XCTFail("not a ServingError: \(error)", file: file, line: line)
            return nil
        }
    }

    func test_chat_everyField_isRead() throws {
        let r = try chat("""
            {"model": "m", "messages": [{"role": "system", "content": "Be brief."}, {"role": "user", "content": [{"type": "text", "text": "Hi "}, {"type": "text", "text": "there"}]},
             {"role": "assistant", "content": null}, {"role": "developer", "content": "x"}],
             "max_tokens": 7, "temperature": 0.5, "top_p": 0.9, "top_k": 40, "repetition_penalty": 1.1, "stop": "END", "seed": -1,
             "stream": true, "stream_options": {"include_usage": true}, "n": 1, "presence_penalty": 0, "user": "ignored", "logprobs": false,
             "tools": [], "response_format": {"type": "text"}, "unknown_field": {"deep": [1, 2]}}
            """)
        XCTAssertEqual(r.model, "m")
        XCTAssertEqual(r.input, .chat([Message(role: .system, content: "Be brief."), Message(role: .user, content: "Hi there"),
                                       Message(role: .assistant, content: ""), Message(role: .system, content: "x")]))
        XCTAssertEqual(r.maxTokens, 7)
        XCTAssertEqual(r.sampling, SamplingOptions(temperature: 0.5, topK: 40, topP: 0.9, repetitionPenalty: 1.1))
        XCTAssertEqual(r.stop, ["END"])
        XCTAssertEqual(r.seed, UInt64.max)
        XCTAssertTrue(r.stream)
        XCTAssertTrue(r.includeUsage)
    }

    func test_chat_absentFields_keepTheServersDefaults() throws {
        let defaults = SamplingOptions(temperature: 0.7)
        let r = try chat(#"{"messages": [{"role": "user", "content": "hi"}], "temperature": null, "stop": ["", "a"]}"#, defaults: defaults)
        XCTAssertNil(r.model)
        XCTAssertNil(r.maxTokens)
        XCTAssertEqual(r.sampling, defaults)
        XCTAssertEqual(r.stop, ["a"], "empty stop strings are dropped")
        XCTAssertNil(r.seed)
        XCTAssertFalse(r.stream)
        XCTAssertEqual(try chat(#"{"messages": [{"role": "user", "content": "hi"}], "max_completion_tokens": 3}"#).maxTokens, 3)
    }

    func test_badBodies_areRefusedNamingTheField() {
        XCTAssertEqual(refusal("{")?.code, "invalid_json")
        XCTAssertTrue(refusal(#"{"a" 1}"#)?.description.contains("character 5") ?? false, "the message says where")
        XCTAssertEqual(refusal("")?.code, "invalid_json")
        XCTAssertEqual(refusal("\"text\"")?.code, "invalid_json")
        XCTAssertEqual(refusal("{}")?.param, "messages")
        XCTAssertEqual(refusal(#"{"messages": {}}"#)?.param, "messages")
        XCTAssertEqual(refusal(#"{"messages": [3]}"#)?.param, "messages[0]")
        XCTAssertEqual(refusal(#"{"messages": [{"content": "x"}]}"#)?.param, "messages[0].role")
        XCTAssertEqual(refusal(#"{"messages": [{"role": "robot", "content": "x"}]}"#)?.param, "messages[0].role")
        XCTAssertEqual(refusal(#"{"messages": [{"role": "user"}]}"#)?.param, "messages[0].content")
        XCTAssertEqual(refusal(#"{"messages": [{"role": "user", "content": [{"type": "image_url", "image_url": {}}]}]}"#)?.code,
                       "unsupported_parameter")
        XCTAssertEqual(refusal(#"{"messages": [{"role": "user", "content": [{"type": "text"}]}]}"#)?.param, "messages[0].content[0].text")
        XCTAssertEqual(refusal(#"{"messages": [{"role": "tool", "content": "x"}]}"#)?.code, "unsupported_parameter")
        let ok = #""messages": [{"role": "user", "content": "x"}]"#
        XCTAssertEqual(refusal("{\(ok), \"max_tokens\": 1.5}")?.param, "max_tokens")
        XCTAssertEqual(refusal("{\(ok), \"max_tokens\": \"10\"}")?.param, "max_tokens")
        XCTAssertEqual(refusal("{\(ok), \"max_tokens\": -1}")?.param, "max_tokens")
        XCTAssertEqual(refusal("{\(ok), \"temperature\": -0.1}")?.param, "temperature")
        XCTAssertEqual(refusal("{\(ok), \"temperature\": true}")?.param, "temperature")
        XCTAssertEqual(refusal("{\(ok), \"top_p\": 0}")?.param, "top_p")
        XCTAssertEqual(refusal("{\(ok), \"top_k\": -2}")?.param, "top_k")
        XCTAssertEqual(refusal("{\(ok), \"stop\": 3}")?.param, "stop")
        XCTAssertEqual(refusal("{\(ok), \"stop\": [\"a\", 3]}")?.param, "stop[1]")
        XCTAssertEqual(refusal("{\(ok), \"stop\": [\(Array(repeating: "\"s\"", count: 17).joined(separator: ","))]}")?.param, "stop")
        XCTAssertEqual(refusal("{\(ok), \"seed\": 1.5}")?.param, "seed")
        XCTAssertEqual(refusal("{\(ok), \"stream\": 1}")?.param, "stream")
        XCTAssertEqual(refusal("{\(ok), \"n\": 3}")?.code, "unsupported_parameter")
        XCTAssertEqual(refusal("{\(ok), \"logprobs\": true}")?.param, "logprobs")
        XCTAssertEqual(refusal("{\(ok), \"tools\": [{\"type\": \"function\"}]}")?.param, "tools")
        XCTAssertEqual(refusal("{\(ok), \"frequency_penalty\": 0.5}")?.param, "frequency_penalty")
        XCTAssertEqual(refusal("{\(ok), \"logit_bias\": {\"50256\": -100}}")?.param, "logit_bias")
        XCTAssertEqual(refusal("{\(ok), \"response_format\": {\"type\": \"json_object\"}}")?.param, "response_format.type")
        XCTAssertEqual(refusal("{\(ok), \"model\": 4}")?.param, "model")
        // Deeply nested JSON is refused, not a crash.
        let deep = String(repeating: "[", count: 100_000) + String(repeating: "]", count: 100_000)
        XCTAssertEqual(refusal("{\(ok), \"x\": \(deep)}")?.code, "invalid_json")
    }

    func test_completion_promptStringOrOneElementList() throws {
        XCTAssertEqual(try APIRequest.completion(Data(#"{"prompt": "Once"}"#.utf8), defaults: .greedy).input, .text("Once"))
        XCTAssertEqual(try APIRequest.completion(Data(#"{"prompt": ["Once"]}"#.utf8), defaults: .greedy).input, .text("Once"))
        XCTAssertEqual(refusal(#"{"prompt": ["a", "b"]}"#, completion: true)?.code, "unsupported_parameter")
        XCTAssertEqual(refusal(#"{"prompt": [1, 2]}"#, completion: true)?.code, "unsupported_parameter")
        XCTAssertEqual(refusal(#"{"prompt": 3}"#, completion: true)?.param, "prompt")
        XCTAssertEqual(refusal(#"{}"#, completion: true)?.param, "prompt")
        XCTAssertEqual(refusal(#"{"prompt": "a", "echo": true}"#, completion: true)?.param, "echo")
        XCTAssertEqual(refusal(#"{"prompt": "a", "suffix": "z"}"#, completion: true)?.param, "suffix")
        XCTAssertEqual(refusal(#"{"prompt": "a", "best_of": 2}"#, completion: true)?.param, "best_of")
        XCTAssertEqual(refusal(#"{"prompt": "a", "logprobs": 5}"#, completion: true)?.param, "logprobs")
    }

    func test_servingError_statusesAndCodesAreOpenAIs() {
        XCTAssertEqual(ServingError.malformedJSON(reason: "x").status, 400)
        XCTAssertEqual(ServingError.unknownModel(requested: "a", served: "b").status, 404)
        XCTAssertEqual(ServingError.unknownModel(requested: "a", served: "b").code, "model_not_found")
        XCTAssertEqual(ServingError.contextLengthExceeded(promptTokens: 10, maxTokens: 5, contextLength: 12).code, "context_length_exceeded")
        XCTAssertTrue(ServingError.contextLengthExceeded(promptTokens: 10, maxTokens: 5, contextLength: 12).description.contains("15"))
        XCTAssertEqual(ServingError.bodyTooLarge(limit: 1).status, 413)
        XCTAssertEqual(ServingError.unauthorized.status, 401)
        XCTAssertEqual(ServingError.unauthorized.type, "authentication_error")
        XCTAssertEqual(ServingError.queueFull(waiting: 3).status, 503)
    }

    func test_sameKey_comparesWholeKeys() {
        XCTAssertTrue(Endpoints.sameKey("abc", "abc"))
        XCTAssertTrue(Endpoints.sameKey("", ""))
        XCTAssertFalse(Endpoints.sameKey("abd", "abc"))
        XCTAssertFalse(Endpoints.sameKey("ab", "abc"))
        XCTAssertFalse(Endpoints.sameKey("abc\0", "abc"))
        XCTAssertFalse(Endpoints.sameKey("", "abc"))
        XCTAssertFalse(Endpoints.sameKey("ábc", "abc"))
    }
}
