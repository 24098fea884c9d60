import Autograd
import Foundation
import Inference
import Recipes
import Serving
import XCTest

/// A tiny chat model trained in-process once for all Serving tests: conversations in the
/// `messages` format (ChatML template, so `<|im_end|>` is a card stop string on its 300-id BPE),
/// one layer of width 32, enough steps that answers often end by themselves.
enum TinyChatModel {
    private static let lock = NSLock()
    private static var loaded: LoadedModel?

    static let words = ["apple", "river", "stone", "cloud", "green", "quick", "seven", "light"]

    /// The trained checkpoint, opened (trained on first use, about a second).
    static func model() throws -> LoadedModel {
        lock.lock()
        defer { lock.unlock() }
        if let loaded { return loaded }
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("instruct-serving-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        var lines: [String] = []
        for i in 0..<64 {
            let a = words[i % 8], b = words[(i * 3 + 1) % 8]
            let record: [String: Any] = ["messages": [["role": "user", "content": "Reverse: \(a) \(b)"],
                                                      ["role": "assistant", "content": "\(b) \(a)"]]]
            lines.append(String(decoding: try JSONSerialization.data(withJSONObject: record, options: [.sortedKeys]), as: UTF8.self))
        }
        let data = dir.appendingPathComponent("chat.jsonl").path
        try (lines.joined(separator: "\n") + "\n").write(toFile: data, atomically: true, encoding: .utf8)
        let yaml = """
            seed: 3
            tokenizer: {train: {vocab_size: 300}}
            data:
              datasets: [{path: \(data)}]
              seq_len: 256
              cache_dir: null
            model: {dim: 32, layers: 1, heads: 2}
            training: {batch_size: 8, max_steps: 60, threads: 1, warmup_steps: 0, lr: 1e-2}
            output: {dir: \(dir.appendingPathComponent("run").path)}
            """
        let recipe = try Recipe.decode(yaml: yaml, file: "tiny-chat.yaml")
        _ = try recipe.run(events: { _ in }, report: { _ in })
        let model = try LoadedModel.open(path: dir.appendingPathComponent("run").path)
        loaded = model
        return model
    }

    /// The answer `Generator` gives `messages` alone (no server, no batch-mates): the reference
    /// the server's answers are compared with.
    static func soloAnswer(_ model: LoadedModel, user: String, maxTokens: Int, sampling: SamplingOptions = .greedy,
                           seed: UInt64 = 0, stop: [String] = []) throws -> Answer {
        let prompt = try model.encoder.promptTokens(.chat([.init(role: .user, content: user), .init(role: .assistant, content: "")]))
        var rng = RNG(seed: seed)
        let options = model.generationOptions(sampling: sampling, maxNewTokens: maxTokens, stopStrings: stop)
        return try Generator.answers(model: model.model, parameters: model.parameters, prompts: [prompt], options: options,
                                     batchSize: 1, rng: &rng)[0]
    }
}

/// Runs `body(0..<n)` on `n` threads at once (Dispatch's concurrentPerform would run only as
/// many as there are cores) and waits for all.
func concurrently(_ n: Int, _ body: @escaping @Sendable (Int) -> Void) {
    let group = DispatchGroup()
    for i in 0..<n {
        group.enter()
        Thread {
            body(i)
            group.leave()
        }.start()
    }
    group.wait()
}

/// Values written by several threads, one slot each.
final class Slots<T>: @unchecked Sendable {  // `values` is behind `lock`
    private let lock = NSLock()
    private var values: [T]

    init(_ count: Int, _ initial: T) { values = Array(repeating: initial, count: count) }

    subscript(i: Int) -> T {
        get { lock.lock(); defer { lock.unlock() }; return values[i] }
        set { lock.lock(); values[i] = newValue; lock.unlock() }
    }

    var all: [T] { lock.lock(); defer { lock.unlock() }; return values }
}

/// A `ChatServer` running on a free loopback port for one test.
final class RunningServer: @unchecked Sendable {  // `events` and `port` are behind `condition`
    let server: ChatServer
    private let condition = NSCondition()
    private var port_: Int?
    private var events_: [ServerEvent] = []
    private let stopped = DispatchSemaphore(value: 0)

    init(model: LoadedModel, options: ServerOptions) throws {
        var options = options
        options.port = 0
        let box = EventSink()
        server = try ChatServer(model: model, options: options) { event in box.handle(event) }
        box.owner = self
        Task { [server, stopped] in
            try? await server.run()
            stopped.signal()
        }
        condition.lock()
        let deadline = Date(timeIntervalSinceNow: 30)
        while port_ == nil && condition.wait(until: deadline) {}
        condition.unlock()
        // A server that does not start is a failure of what is tested, never a skip.
        guard port_ != nil else { throw CocoaError(.featureUnsupported, userInfo: [NSLocalizedDescriptionKey: "the server did not start listening within 30 s"]) }
    }

    var port: Int { condition.lock(); defer { condition.unlock() }; return port_ ?? 0 }
    var events: [ServerEvent] { condition.lock(); defer { condition.unlock() }; return events_ }

    fileprivate func record(_ event: ServerEvent) {
        condition.lock()
        if case let .listening(_, p) = event { port_ = p }
        events_.append(event)
        condition.broadcast()
        condition.unlock()
    }

    /// Graceful shutdown; returns once `run()` has returned (or after 60 s: false).
    @discardableResult
    func stop() -> Bool {
        let s = server
        Task { await s.shutdown() }
        return stopped.wait(timeout: .now() + 60) == .success
    }

    /// A request to this server.
    func request(_ method: String, _ path: String, json: Any? = nil, body: Data? = nil, headers: [String: String] = [:],
                 timeout: Double = 120) throws -> LoopbackHTTP.Response {
        let data = try json.map { try JSONSerialization.data(withJSONObject: $0) } ?? body
        return try LoopbackHTTP.request(port: port, method: method, path: path, body: data, headers: headers, timeout: timeout)
    }
}

/// Forwards events to the `RunningServer` once it exists.
private final class EventSink: @unchecked Sendable {  // `owner` is set once, before the server runs
    weak var owner: RunningServer?
    func handle(_ event: ServerEvent) { owner?.record(event) }
}
