import Autograd
import Datasets
import Foundation
import Inference
import Serving
import XCTest

/// `instruct serve` as a user runs it: the binary on a free loopback port, answering like
/// `instruct generate`, stopping cleanly on Ctrl-C with a request in flight; and the real SmolLM2.
final class ServeCommandLineTests: XCTestCase {
    /// A running `instruct serve` with its output collected.
    final class Served: @unchecked Sendable {  // `out` and `err` are behind `lock`
        let process: Process
        private let lock = NSLock()
        private var out = Data(), err = Data()
        private(set) var port = 0

        init(_ args: [String], in dir: URL) throws {
            let o = Pipe(), e = Pipe()
            process = try CLI.start(["serve"] + args + ["--port", "0"], in: dir, stdout: o, stderr: e)
            o.fileHandleForReading.readabilityHandler = { [weak self] h in self?.append(h.availableData, err: false) }
            e.fileHandleForReading.readabilityHandler = { [weak self] h in self?.append(h.availableData, err: true) }
            // The first line names the address: "... at http://127.0.0.1:PORT/v1".
            let deadline = Date(timeIntervalSinceNow: 60)
            var found: Int?
            while found == nil && Date() < deadline && process.isRunning {
                usleep(10_000)
                let text = stdout
                if let r = text.range(of: "http://127.0.0.1:"), let end = text[r.upperBound...].firstIndex(of: "/") {
                    found = Int(text[r.upperBound..<end])
                }
            }
            guard let found else {
                process.terminate()
                throw NSError(domain: "serve", code: 1, userInfo: [NSLocalizedDescriptionKey: "instruct serve did not start: \(stdout) \(stderr)"])
            }
            port = found
        }

        private func append(_ data: Data, err isErr: Bool) {
            lock.lock()
            if isErr { err.append(data) } else { out.append(data) }
            lock.unlock()
        }

        var stdout: String { lock.lock(); defer { lock.unlock() }; return String(decoding: out, as: UTF8.self) }
        var stderr: String { lock.lock(); defer { lock.unlock() }; return String(decoding: err, as: UTF8.self) }

        func post(_ json: [String: Any], path: String = "/v1/chat/completions", onFirstByte: (() -> Void)? = nil) throws -> LoopbackHTTP.Response {
            try LoopbackHTTP.request(port: port, method: "POST", path: path, body: try JSONSerialization.data(withJSONObject: json),
                                     onFirstByte: onFirstByte)
        }

        /// Waits until `condition` holds (at most `seconds`): output arrives through pipes read
        /// on other threads, so it can lag behind a response or the process's exit.
        @discardableResult
        func eventually(seconds: Double = 10, _ condition: (Served) -> Bool) -> Bool {
            let deadline = Date(timeIntervalSinceNow: seconds)
            while !condition(self) && Date() < deadline { usleep(1_000) }
            return condition(self)
        }

        /// Waits for the process to exit (at most `seconds`); false when it did not.
        func waitForExit(seconds: Double) -> Bool {
            let deadline = Date(timeIntervalSinceNow: seconds)
            while process.isRunning && Date() < deadline { usleep(10_000) }
            return !process.isRunning
        }
    }

    func content(_ r: LoopbackHTTP.Response) -> String? {
        ((r.json?["choices"] as? [[String: Any]])?.first?["message"] as? [String: Any])?["content"] as? String
    }

    /// A run with room for long answers (context 512) and the seed of a sampled answer that,
    /// generated alone, fills at least 300 tokens: a request that is surely still running when
    /// Ctrl-C comes (the model and the seed fix its length).
    func longRun() throws -> (dir: URL, seed: UInt64) {
        if let cached = Self.longRunCache.value { return cached }
        let made = try makeLongRun()
        Self.longRunCache.value = made
        return made
    }

    /// The run of `longRun`, made once for the tests that need it (they only read it).
    private static let longRunCache = LockedValue(nil as (dir: URL, seed: UInt64)?)

    private func makeLongRun() throws -> (dir: URL, seed: UInt64) {
        let dir = try CLI.tinyProject("serve", synthSeed: 3, train: 200, heldout: 8, recipeSeed: 2,
                                      training: "{batch_size: 4, max_steps: 3, threads: 1, warmup_steps: 0, lr: 1e-3}")
        let recipe = try String(contentsOf: dir.appendingPathComponent("r.yaml"), encoding: .utf8)
            .replacingOccurrences(of: "seq_len: 64", with: "seq_len: 512")
            .replacingOccurrences(of: "model: {dim: 32, layers: 1, heads: 2}", with: "model: {dim: 64, layers: 2, heads: 2}")
        try recipe.write(to: dir.appendingPathComponent("r.yaml"), atomically: true, encoding: .utf8)
        let train = try CLI.run(["train", "r.yaml"], in: dir)
        XCTAssertEqual(train.status, 0, train.err)
        let loaded = try LoadedModel.load(path: dir.appendingPathComponent("run").path)
        let prompt = try loaded.encoder.promptTokens(.chat([Message(role: .user, content: "Reverse the word: swift"), Message(role: .assistant, content: "")]))
        for seed: UInt64 in 1...20 {
            var rng = RNG(seed: seed)
            let answer = try Generator.answers(model: loaded.model, parameters: loaded.parameters, prompts: [prompt],
                                               options: loaded.generationOptions(sampling: SamplingOptions(temperature: 2), maxNewTokens: 400),
                                               batchSize: 1, rng: &rng)[0]
            if answer.tokens.count >= 300 { return (dir, seed) }
        }
        throw NSError(domain: "serve", code: 2, userInfo: [NSLocalizedDescriptionKey: "no seed in 1...20 gives a long answer; the test needs one"])
    }

    func test_serve_tinyRun_answersAsTheLibrary_andCtrlCFinishesTheRequestInFlight() throws {
        let (dir, seed) = try longRun()
        let served = try Served(["run", "--threads", "1"], in: dir)
        defer { if served.process.isRunning { served.process.terminate() } }
        XCTAssertTrue(served.stdout.contains("serving run "), served.stdout)

        let loaded = try LoadedModel.load(path: dir.appendingPathComponent("run").path)
        let messages = [Message(role: .user, content: "Sort the numbers: 3 1 2"), Message(role: .assistant, content: "")]
        let prompt = try loaded.encoder.promptTokens(.chat(messages))
        var rng = RNG(seed: 0)
        let expected = try Generator.answers(model: loaded.model, parameters: loaded.parameters, prompts: [prompt],
                                             options: loaded.generationOptions(maxNewTokens: 10), batchSize: 1, rng: &rng)[0]
        let r = try served.post(["model": "run", "max_tokens": 10, "messages": [["role": "user", "content": "Sort the numbers: 3 1 2"]]])
        XCTAssertEqual(r.status, 200, r.text)
        XCTAssertEqual(content(r), expected.text)
        let logLine = "POST /v1/chat/completions 200 \(prompt.count)+\(expected.tokens.count) tokens"
        XCTAssertTrue(served.eventually { $0.stderr.contains(logLine) }, served.stderr)

        // A long streamed request; SIGINT as soon as its first chunk arrives: it is finished,
        // then the process exits 0.
        let streamed = LockedValue(nil as LoopbackHTTP.Response?)
        let done = DispatchSemaphore(value: 0)
        let body: [String: Any] = ["model": "run", "max_tokens": 400, "stream": true, "temperature": 2.0, "seed": seed,
                                   "messages": [["role": "user", "content": "Reverse the word: swift"]]]
        let pid = served.process.processIdentifier
        Thread {
            streamed.value = try? served.post(body, onFirstByte: { kill(pid, SIGINT) })
            done.signal()
        }.start()
        XCTAssertEqual(done.wait(timeout: .now() + 120), .success)
        XCTAssertTrue(served.waitForExit(seconds: 60), "the server exits after Ctrl-C")
        XCTAssertEqual(served.process.terminationStatus, 0, served.stderr)
        let s = try XCTUnwrap(streamed.value, "the request in flight got an answer")
        XCTAssertEqual(s.status, 200, s.text)
        XCTAssertEqual(s.events.last, "[DONE]")
        XCTAssertGreaterThanOrEqual(s.events.count, 50, "the whole long answer was streamed")
        XCTAssertTrue(served.eventually { $0.stderr.contains("shutting down: finishing 1 request(s) in flight") }, served.stderr)
        XCTAssertTrue(served.eventually { $0.stdout.hasSuffix("stopped\n") }, served.stdout)
    }

    /// A second Ctrl-C while requests are in flight quits at once with status 130 (through
    /// `_exit`, as `instruct train`'s second Ctrl-C), without finishing them. One long answer
    /// takes well under a second here, so 40 are sent at once: seeded sampled requests run one
    /// at a time (GenerationQueue), which keeps the server busy for several seconds.
    func test_serve_secondCtrlC_quitsAtOnceWith130() throws {
        let (dir, seed) = try longRun()
        let served = try Served(["run", "--threads", "1"], in: dir)
        defer { if served.process.isRunning { served.process.terminate() } }
        let pid = served.process.processIdentifier
        let body: [String: Any] = ["model": "run", "max_tokens": 400, "stream": true, "temperature": 2.0, "seed": seed,
                                   "messages": [["role": "user", "content": "Reverse the word: swift"]]]
        let clients = 40
        let answered = LockedValue(0), started = LockedValue(false)
        let group = DispatchGroup()
        for _ in 0..<clients {
            group.enter()
            Thread {
                if let r = try? served.post(body, onFirstByte: { started.value = true }), r.events.last == "[DONE]" {
                    answered.value += 1
                }
                group.leave()
            }.start()
        }
        let deadline = Date(timeIntervalSinceNow: 60)
        while !started.value && Date() < deadline { usleep(1_000) }
        XCTAssertTrue(started.value, "a first answer started streaming")
        kill(pid, SIGINT)
        while !served.stderr.contains("shutting down") && Date() < deadline { usleep(1_000) }
        kill(pid, SIGINT)
        XCTAssertTrue(served.waitForExit(seconds: 30), "the server quits after the second Ctrl-C")
        XCTAssertEqual(served.process.terminationStatus, 130, served.stderr)
        XCTAssertTrue(served.eventually { $0.stderr.contains("interrupted again: quitting now") }, served.stderr)
        XCTAssertFalse(served.stdout.contains("stopped"), served.stdout)
        XCTAssertEqual(group.wait(timeout: .now() + 60), .success, "every client got an answer or a closed connection")
        XCTAssertLessThan(answered.value, clients, "the requests in flight were cut, not finished")
    }

    func test_serve_badArguments_areRefusedBeforeListening() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("instruct-serve-bad-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        let missing = try CLI.run(["serve", "nothing-here"], in: dir)
        XCTAssertEqual(missing.status, 1)
        XCTAssertTrue(missing.err.contains("nothing-here"), missing.err)
        let threads = try CLI.run(["serve", "nothing-here", "--threads", "0"], in: dir)
        XCTAssertEqual(threads.status, 64, threads.err)
        XCTAssertTrue(threads.err.contains("--threads must be between 1 and 1024, got 0"), threads.err)
    }

    /// The real SmolLM2 through `instruct serve`: the chat answer `instruct generate` gives
    /// (which matches transformers), with its usage counts, streamed and not.
    func test_serve_realSmolLM2_answersAsGenerate() throws {
        let gguf = RealModelCommandLineTests.gguf
        guard FileManager.default.fileExists(atPath: gguf.path) else {
            // The model is downloaded by a script, not committed; CI runs the script first.
            throw XCTSkip("\(gguf.path) is absent: run scripts/fetch-smollm2.sh to test instruct serve with the real model (CI does)")
        }
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("instruct-serve-real-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        let imported = try CLI.run(["import", gguf.path, "--out", "smollm2"], in: dir)
        XCTAssertEqual(imported.status, 0, imported.err)
        let served = try Served(["smollm2"], in: dir)
        defer {
            kill(served.process.processIdentifier, SIGINT)
            _ = served.waitForExit(seconds: 60)
        }
        let question: [String: Any] = ["model": "smollm2", "max_tokens": 24,
                                       "messages": [["role": "user", "content": "What is the capital of France?"]]]
        let r = try served.post(question)
        XCTAssertEqual(r.status, 200, r.text)
        XCTAssertEqual(content(r), "The capital of France is Paris.")
        let usage = r.json?["usage"] as? [String: Any]
        XCTAssertEqual(usage?["prompt_tokens"] as? Int, 37, "as instruct generate counts it")
        XCTAssertEqual((r.json?["choices"] as? [[String: Any]])?.first?["finish_reason"] as? String, "stop")
        var streamed = question
        streamed["stream"] = true
        let s = try served.post(streamed)
        let text = s.events.filter { $0 != "[DONE]" }.compactMap {
            ((((try? JSONSerialization.jsonObject(with: Data($0.utf8))) as? [String: Any])?["choices"] as? [[String: Any]])?.first?["delta"]
                as? [String: Any])?["content"] as? String
        }.joined()
        XCTAssertEqual(text, "The capital of France is Paris.")
        let second = try served.post(["model": "smollm2", "max_tokens": 24, "messages": [
            ["role": "user", "content": "What is the capital of France?"], ["role": "assistant", "content": "The capital of France is Paris."],
            ["role": "user", "content": "And of Germany?"],
        ]])
        XCTAssertTrue(content(second)?.contains("Berlin") ?? false, second.text)
    }
}

/// One value written by another thread.
final class LockedValue<T>: @unchecked Sendable {  // `stored` is behind `lock`
    private let lock = NSLock()
    private var stored: T

    init(_ value: T) { stored = value }

    var value: T {
        get { lock.lock(); defer { lock.unlock() }; return stored }
        set { lock.lock(); stored = newValue; lock.unlock() }
    }
}
