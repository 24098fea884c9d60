import Autograd
import Foundation
import Inference
import Serving
import XCTest

/// The HTTP API over a real loopback socket, with raw requests: answers equal the library's,
/// streams concatenate to the whole answer, stops, concurrent clients, refusals, keys, shutdown.
final class ChatServerTests: XCTestCase {
    func chat(_ user: String, maxTokens: Int = 12, extra: [String: Any] = [:]) -> [String: Any] {
        var body: [String: Any] = ["model": "tiny", "max_tokens": maxTokens, "messages": [["role": "user", "content": user]]]
        for (k, v) in extra { body[k] = v }
        return body
    }

    func content(_ r: LoopbackHTTP.Response) -> String? {
        ((r.json?["choices"] as? [[String: Any]])?.first?["message"] as? [String: Any])?["content"] as? String
    }

    func finishReason(_ r: LoopbackHTTP.Response) -> String? {
        (r.json?["choices"] as? [[String: Any]])?.first?["finish_reason"] as? String
    }

    func usage(_ r: LoopbackHTTP.Response) -> (Int, Int, Int)? {
        guard let u = r.json?["usage"] as? [String: Any], let p = u["prompt_tokens"] as? Int, let c = u["completion_tokens"] as? Int,
              let t = u["total_tokens"] as? Int else { return nil }
        return (p, c, t)
    }

    /// The chunks' JSON objects of a streamed response (all but `[DONE]`).
    func chunks(_ r: LoopbackHTTP.Response) -> [[String: Any]] {
        r.events.filter { $0 != "[DONE]" }.compactMap { (try? JSONSerialization.jsonObject(with: Data($0.utf8))) as? [String: Any] }
    }

    func deltaText(_ chunks: [[String: Any]]) -> String {
        chunks.compactMap { (($0["choices"] as? [[String: Any]])?.first?["delta"] as? [String: Any])?["content"] as? String }.joined()
    }

    func errorCode(_ r: LoopbackHTTP.Response) -> String? { (r.json?["error"] as? [String: Any])?["code"] as? String }

    /// A sampled request (temperature 2) that runs long: its seed is one whose answer, generated
    /// alone, fills at least 150 tokens (deterministic: the model and the seed fix it).
    func longRequest(seed: UInt64) -> [String: Any] {
        chat("Reverse: apple river", maxTokens: 200, extra: ["temperature": 2.0, "seed": seed])
    }

    func longSeed(_ model: LoadedModel) throws -> UInt64 {
        for seed: UInt64 in 1...20 {
            let a = try TinyChatModel.soloAnswer(model, user: "Reverse: apple river", maxTokens: 200,
                                                 sampling: SamplingOptions(temperature: 2), seed: seed)
            if a.tokens.count >= 150 { return seed }
        }
        throw NSError(domain: "ChatServerTests", code: 1,
                      userInfo: [NSLocalizedDescriptionKey: "no seed in 1...20 gives a long answer from the tiny model; the test needs one"])
    }

    func test_chatCompletion_greedy_equalsTheLibrarysAnswerWithUsage() throws {
        let model = try TinyChatModel.model()
        let server = try RunningServer(model: model, options: ServerOptions(modelID: "tiny"))
        defer { server.stop() }
        let expected = try TinyChatModel.soloAnswer(model, user: "Reverse: apple river", maxTokens: 12)
        let r = try server.request("POST", "/v1/chat/completions", json: chat("Reverse: apple river"))
        XCTAssertEqual(r.status, 200, r.text)
        XCTAssertEqual(r.headers["content-type"], "application/json")
        XCTAssertEqual(content(r), expected.text)
        XCTAssertEqual(r.json?["object"] as? String, "chat.completion")
        XCTAssertEqual(r.json?["model"] as? String, "tiny")
        XCTAssertTrue((r.json?["id"] as? String)?.hasPrefix("chatcmpl-") ?? false)
        XCTAssertEqual(finishReason(r), expected.stopReason == .eos || expected.stopReason == .stopString ? "stop" : "length")
        let prompt = try model.encoder.promptTokens(.chat([.init(role: .user, content: "Reverse: apple river"), .init(role: .assistant, content: "")]))
        let u = try XCTUnwrap(usage(r))
        XCTAssertEqual(u.0, prompt.count)
        XCTAssertEqual(u.1, expected.tokens.count)
        XCTAssertEqual(u.2, prompt.count + expected.tokens.count)
        XCTAssertFalse(content(r)?.contains("<|im_end|>") ?? true, "the card's stop string is never shown")
    }

    /// Streamed chunks concatenate to the non-streamed text of the same sampled request and seed.
    func test_streamedChat_sameSeed_chunksConcatenateToTheNonStreamedText() throws {
        let model = try TinyChatModel.model()
        let server = try RunningServer(model: model, options: ServerOptions(modelID: "tiny"))
        defer { server.stop() }
        let body = chat("Reverse: stone cloud", maxTokens: 24, extra: ["temperature": 0.9, "top_p": 0.95, "seed": 11])
        let whole = try server.request("POST", "/v1/chat/completions", json: body)
        XCTAssertEqual(whole.status, 200, whole.text)
        var streamed = body
        streamed["stream"] = true
        streamed["stream_options"] = ["include_usage": true]
        let s = try server.request("POST", "/v1/chat/completions", json: streamed)
        XCTAssertEqual(s.status, 200, s.text)
        XCTAssertEqual(s.headers["content-type"], "text/event-stream")
        XCTAssertEqual(s.events.last, "[DONE]")
        let parts = chunks(s)
        XCTAssertEqual(deltaText(parts), content(whole))
        let expected = try TinyChatModel.soloAnswer(model, user: "Reverse: stone cloud", maxTokens: 24,
                                                    sampling: SamplingOptions(temperature: 0.9, topP: 0.95), seed: 11)
        XCTAssertEqual(content(whole), expected.text, "a seeded request is generated alone, as the library does with that seed")
        XCTAssertEqual(((parts.first?["choices"] as? [[String: Any]])?.first?["delta"] as? [String: Any])?["role"] as? String, "assistant")
        XCTAssertTrue(parts.allSatisfy { $0["object"] as? String == "chat.completion.chunk" })
        // The finish chunk carries the reason; the last one carries the usage and no choice.
        let finish = parts.compactMap { ($0["choices"] as? [[String: Any]])?.first?["finish_reason"] as? String }
        XCTAssertEqual(finish, [finishReason(whole)].compactMap { $0 })
        let last = try XCTUnwrap(parts.last)
        XCTAssertEqual((last["choices"] as? [Any])?.count, 0)
        XCTAssertEqual((last["usage"] as? [String: Any])?["completion_tokens"] as? Int, usage(whole)?.1)
        // Another seed gives another answer (the seed is used).
        let other = try server.request("POST", "/v1/chat/completions", json: chat("Reverse: stone cloud", maxTokens: 24,
                                                                                  extra: ["temperature": 0.9, "seed": 12345]))
        let again = try server.request("POST", "/v1/chat/completions", json: chat("Reverse: stone cloud", maxTokens: 24,
                                                                                  extra: ["temperature": 0.9, "seed": 12345]))
        XCTAssertEqual(content(other), content(again))
    }

    /// A request's stop string cuts the answer before it, with finish_reason "stop", streamed or not.
    func test_stopString_cutsTheAnswerBeforeIt() throws {
        let model = try TinyChatModel.model()
        let server = try RunningServer(model: model, options: ServerOptions(modelID: "tiny"))
        defer { server.stop() }
        let free = try TinyChatModel.soloAnswer(model, user: "Reverse: green quick", maxTokens: 16)
        let words = free.text.split(separator: " ")
        let stop = String(try XCTUnwrap(free.text.count >= 3 ? free.text.dropFirst(free.text.count / 2).prefix(2) : nil,
                                        "the greedy answer \"\(free.text)\" is too short to cut"))
        _ = words
        let expected = String(free.text[..<free.text.range(of: stop)!.lowerBound])
        let r = try server.request("POST", "/v1/chat/completions", json: chat("Reverse: green quick", maxTokens: 16, extra: ["stop": stop]))
        XCTAssertEqual(r.status, 200, r.text)
        XCTAssertEqual(content(r), expected)
        XCTAssertEqual(finishReason(r), "stop")
        let s = try server.request("POST", "/v1/chat/completions",
                                   json: chat("Reverse: green quick", maxTokens: 16, extra: ["stop": [stop, "zzzz"], "stream": true]))
        XCTAssertEqual(deltaText(chunks(s)), expected)
        XCTAssertFalse(deltaText(chunks(s)).contains(stop))
    }

    /// Eight clients at once each get the answer their own prompt gets alone, and they were
    /// batched (some answers came from batches of more than one row).
    func test_eightConcurrentClients_eachGetsItsOwnAnswer() throws {
        let model = try TinyChatModel.model()
        let server = try RunningServer(model: model, options: ServerOptions(modelID: "tiny", batchWindow: 0.05))
        defer { server.stop() }
        let w = TinyChatModel.words
        let users = (0..<8).map { "Reverse: \(w[$0]) \(w[($0 + 3) % 8])" }
        let expected = try users.map { try TinyChatModel.soloAnswer(model, user: $0, maxTokens: 12).text }
        XCTAssertGreaterThan(Set(expected).count, 1, "the prompts should have different answers for this test to mean something")
        let answers = Slots<String?>(8, nil)
        concurrently(8) { [self] i in
            let r = try? server.request("POST", "/v1/chat/completions", json: chat(users[i]))
            answers[i] = r.flatMap { content($0) }
        }
        XCTAssertEqual(answers.all.compactMap { $0 }, expected)
        let batches = server.events.compactMap { if case let .request(r) = $0 { return r.batchSize } else { return nil } }
        XCTAssertEqual(batches.count, 8)
        XCTAssertGreaterThan(batches.max() ?? 0, 1, "concurrent requests with the same settings share a batch: \(batches)")
    }

    /// Bad requests get OpenAI-style errors with the right status, and the server stays up.
    func test_badRequests_getOpenAIErrors_andTheServerStaysUp() throws {
        let model = try TinyChatModel.model()
        let server = try RunningServer(model: model, options: ServerOptions(modelID: "tiny"))
        defer { server.stop() }
        func check(_ r: LoopbackHTTP.Response, _ status: Int, _ code: String, param: String? = nil, file: StaticString = #filePath, line: UInt = #line) {
            XCTAssertEqual(r.status, status, r.text, file: file, line: line)
            let error = r.json?["error"] as? [String: Any]
            XCTAssertEqual(error?["code"] as? String, code, r.text, file: file, line: line)
            XCTAssertNotNil(error?["message"] as? String, file: file, line: line)
            XCTAssertNotNil(error?["type"] as? String, file: file, line: line)
            if let param { XCTAssertEqual(error?["param"] as? String, param, r.text, file: file, line: line) }
        }
        check(try server.request("POST", "/v1/chat/completions", body: Data("{\"messages\": [".utf8)), 400, "invalid_json")
        check(try server.request("POST", "/v1/chat/completions", body: Data("[1, 2]".utf8)), 400, "invalid_json")
        check(try server.request("POST", "/v1/chat/completions", body: Data([0xff, 0xfe, 0x00])), 400, "invalid_json")
        check(try server.request("POST", "/v1/chat/completions", json: ["model": "gpt-4", "messages": [["role": "user", "content": "hi"]]]),
              404, "model_not_found", param: "model")
        check(try server.request("POST", "/v1/chat/completions", json: chat("hi", maxTokens: 100_000)), 400, "context_length_exceeded")
        let long = String(repeating: "apple river stone ", count: 200)
        check(try server.request("POST", "/v1/chat/completions", json: ["messages": [["role": "user", "content": long]]]),
              400, "context_length_exceeded")
        check(try server.request("POST", "/v1/chat/completions", json: ["messages": [["role": "user", "content": 3]]]),
              400, "invalid_value", param: "messages[0].content")
        check(try server.request("POST", "/v1/chat/completions", json: ["messages": []]), 400, "invalid_value", param: "messages")
        check(try server.request("POST", "/v1/chat/completions", json: chat("hi", extra: ["temperature": 5])), 400, "invalid_value", param: "temperature")
        check(try server.request("POST", "/v1/chat/completions", json: chat("hi", extra: ["n": 2])), 400, "unsupported_parameter", param: "n")
        check(try server.request("POST", "/v1/chat/completions", json: chat("hi", maxTokens: 0)), 400, "invalid_value", param: "max_tokens")
        // 10 MB: refused from its declared length, before it is read.
        let big = Data(repeating: UInt8(ascii: "a"), count: 10_000_000)
        let started = Date()
        check(try server.request("POST", "/v1/chat/completions", body: big), 413, "request_too_large")
        XCTAssertLessThan(Date().timeIntervalSince(started), 10)
        // 10 MB without a declared length (chunked): refused after the limit.
        var chunked = Data("POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nConnection: close\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n".utf8)
        for _ in 0..<10 { chunked += Data(String(1_000_000, radix: 16).utf8) + Data("\r\n".utf8) + Data(repeating: 0x61, count: 1_000_000) + Data("\r\n".utf8) }
        chunked += Data("0\r\n\r\n".utf8)
        check(try LoopbackHTTP.exchange(port: server.port, bytes: chunked), 413, "request_too_large")
        check(try server.request("GET", "/v1/nothing"), 404, "not_found")
        check(try server.request("GET", "/v1/chat/completions"), 404, "not_found")
        check(try server.request("GET", "/v1/models/gpt-4"), 404, "model_not_found")
        // Still up and answering.
        XCTAssertEqual(try server.request("GET", "/health").status, 200)
        let ok = try server.request("POST", "/v1/chat/completions", json: chat("Reverse: apple river"))
        XCTAssertEqual(ok.status, 200, ok.text)
        let refused = server.events.compactMap { if case let .request(r) = $0, r.status >= 400 { return r } else { return nil } }
        XCTAssertEqual(refused.count, 16, "each refusal is reported")
    }

    func test_modelsAndHealth_listTheServedModel() throws {
        let model = try TinyChatModel.model()
        let server = try RunningServer(model: model, options: ServerOptions(modelID: "tiny"))
        defer { server.stop() }
        let models = try server.request("GET", "/v1/models")
        XCTAssertEqual(models.status, 200)
        XCTAssertEqual(models.json?["object"] as? String, "list")
        let data = try XCTUnwrap(models.json?["data"] as? [[String: Any]])
        XCTAssertEqual(data.map { $0["id"] as? String }, ["tiny"])
        XCTAssertEqual(data.first?["object"] as? String, "model")
        XCTAssertEqual(try server.request("GET", "/v1/models/tiny").json?["id"] as? String, "tiny")
        XCTAssertEqual(try server.request("GET", "/health").json?["status"] as? String, "ok")
    }

    /// `/v1/completions` continues the text as is (no chat template).
    func test_completions_continueTheTextAsIs() throws {
        let model = try TinyChatModel.model()
        let server = try RunningServer(model: model, options: ServerOptions(modelID: "tiny"))
        defer { server.stop() }
        let text = "<|im_start|>user\nReverse: seven light<|im_end|>\n<|im_start|>assistant\n"
        var tokens = model.tokenizer.encode(text, allowSpecial: true)
        if model.tokenizer.addsBOS, let bos = model.tokenizer.bosTokenID { tokens.insert(bos, at: 0) }
        var rng = RNG(seed: 0)
        let expected = try Generator.answers(model: model.model, parameters: model.parameters, prompts: [tokens],
                                             options: model.generationOptions(maxNewTokens: 10), batchSize: 1, rng: &rng)[0]
        let r = try server.request("POST", "/v1/completions", json: ["model": "tiny", "prompt": text, "max_tokens": 10])
        XCTAssertEqual(r.status, 200, r.text)
        XCTAssertEqual(r.json?["object"] as? String, "text_completion")
        let choice = try XCTUnwrap((r.json?["choices"] as? [[String: Any]])?.first)
        XCTAssertEqual(choice["text"] as? String, expected.text)
        XCTAssertEqual(usage(r)?.0, tokens.count)
        let s = try server.request("POST", "/v1/completions", json: ["prompt": [text], "max_tokens": 10, "stream": true])
        let pieces = chunks(s).compactMap { ($0["choices"] as? [[String: Any]])?.first?["text"] as? String }
        XCTAssertEqual(pieces.joined(), expected.text)
        XCTAssertEqual(s.events.last, "[DONE]")
    }

    /// With an API key, /v1 needs it (checked exactly), /health does not.
    func test_apiKey_isRequiredOnV1ButNotOnHealth() throws {
        let model = try TinyChatModel.model()
        let server = try RunningServer(model: model, options: ServerOptions(modelID: "tiny", apiKey: "s3cret"))
        defer { server.stop() }
        XCTAssertEqual(try server.request("GET", "/health").status, 200)
        let none = try server.request("GET", "/v1/models")
        XCTAssertEqual(none.status, 401)
        XCTAssertEqual(errorCode(none), "invalid_api_key")
        XCTAssertEqual(none.headers["www-authenticate"], "Bearer")
        for wrong in ["Bearer s3cre", "Bearer s3cret2", "Bearer S3cret", "s3cret", "Basic s3cret"] {
            XCTAssertEqual(try server.request("GET", "/v1/models", headers: ["Authorization": wrong]).status, 401, wrong)
        }
        XCTAssertEqual(try server.request("GET", "/v1/models", headers: ["Authorization": "Bearer s3cret"]).status, 200)
        let r = try server.request("POST", "/v1/chat/completions", json: chat("Reverse: apple river"), headers: ["Authorization": "Bearer s3cret"])
        XCTAssertEqual(r.status, 200, r.text)
    }

    /// With an allowed origin, a browser's preflight is answered without the key and answers
    /// carry the origin; without one, no CORS header is sent.
    func test_allowedOrigin_answersPreflightAndMarksResponses() throws {
        let model = try TinyChatModel.model()
        let server = try RunningServer(model: model, options: ServerOptions(modelID: "tiny", apiKey: "k", allowedOrigin: "http://ui.local"))
        defer { server.stop() }
        let preflight = try server.request("OPTIONS", "/v1/chat/completions", headers: [
            "Origin": "http://ui.local", "Access-Control-Request-Method": "POST", "Access-Control-Request-Headers": "authorization, content-type"])
        XCTAssertEqual(preflight.status, 204)
        XCTAssertEqual(preflight.headers["access-control-allow-origin"], "http://ui.local")
        XCTAssertTrue(preflight.headers["access-control-allow-headers"]?.lowercased().contains("authorization") ?? false)
        let models = try server.request("GET", "/v1/models", headers: ["Origin": "http://ui.local", "Authorization": "Bearer k"])
        XCTAssertEqual(models.status, 200)
        XCTAssertEqual(models.headers["access-control-allow-origin"], "http://ui.local")
        let plain = try RunningServer(model: model, options: ServerOptions(modelID: "tiny"))
        defer { plain.stop() }
        let r = try plain.request("GET", "/v1/models", headers: ["Origin": "http://evil.example"])
        XCTAssertEqual(r.status, 200)
        XCTAssertNil(r.headers["access-control-allow-origin"], "no CORS unless asked for")
    }

    /// Shutdown lets a request in flight finish (its stream ends with [DONE]), then `run()`
    /// returns and the port is closed.
    func test_shutdown_finishesTheRequestInFlight_thenStops() throws {
        let model = try TinyChatModel.model()
        let server = try RunningServer(model: model, options: ServerOptions(modelID: "tiny"))
        let port = server.port
        var streamBody = longRequest(seed: try longSeed(model))
        streamBody["stream"] = true
        let body = streamBody
        let streamed = Slots<LoopbackHTTP.Response?>(1, nil)
        let done = DispatchSemaphore(value: 0)
        Thread {
            streamed[0] = try? server.request("POST", "/v1/chat/completions", json: body)
            done.signal()
        }.start()
        // Wait until the request is being generated, then shut down.
        let deadline = Date(timeIntervalSinceNow: 30)
        while server.server.queue.statistics.running == 0 && Date() < deadline { usleep(1000) }
        XCTAssertEqual(server.server.queue.statistics.running, 1)
        XCTAssertTrue(server.stop(), "run() returns after shutdown")
        XCTAssertEqual(done.wait(timeout: .now() + 60), .success)
        let s = try XCTUnwrap(streamed[0])
        XCTAssertEqual(s.status, 200)
        XCTAssertEqual(s.events.last, "[DONE]", "the stream in flight was finished")
        XCTAssertTrue(server.events.contains { if case let .shuttingDown(n) = $0 { return n == 1 } else { return false } })
        XCTAssertThrowsError(try LoopbackHTTP.request(port: port, method: "GET", path: "/health", timeout: 5), "nothing listens after shutdown")
    }

    /// More waiting requests than the queue holds get 503 server_busy, not an unbounded queue.
    func test_fullQueue_answers503() throws {
        let model = try TinyChatModel.model()
        let server = try RunningServer(model: model, options: ServerOptions(modelID: "tiny", maxBatchSize: 1, maxWaiting: 1, batchWindow: 0))
        defer { server.stop() }
        let seed = try longSeed(model)
        let slots = Slots<Int>(6, 0)
        concurrently(6) { [self] i in
            let r = try? server.request("POST", "/v1/chat/completions", json: longRequest(seed: seed))
            slots[i] = r?.status ?? -1
        }
        let statuses = slots.all
        XCTAssertTrue(statuses.contains(503), "\(statuses)")
        XCTAssertTrue(statuses.contains(200), "\(statuses)")
        XCTAssertTrue(statuses.allSatisfy { $0 == 200 || $0 == 503 }, "\(statuses)")
    }
}
