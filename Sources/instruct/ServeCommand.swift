import ArgumentParser
import Autograd
import Dispatch
import Foundation
import Inference
import Models
import Recipes
import Serving

/// `instruct serve CKPT`: an OpenAI-compatible chat server for a checkpoint.
struct ServeCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "serve",
        abstract: "Serve a checkpoint over the OpenAI chat API (chat UIs, the openai client, eval harnesses).",
        discussion: """
            Endpoints: POST /v1/chat/completions (messages rendered with the
            checkpoint's chat template; stream: true gives Server-Sent Events), POST
            /v1/completions (a text continued as is), GET /v1/models, GET /health.
            Answers stop at the checkpoint's stop tokens and strings and the request's
            `stop`; usage counts come with every answer. Requests wait in a queue;
            requests with the same sampling settings, max_tokens and stop strings are
            generated together in one batch (--max-batch rows). Listens on 127.0.0.1
            unless --host says otherwise. Ctrl-C (or SIGTERM) finishes the requests in
            flight and exits; a second Ctrl-C quits at once.

            Examples:
              instruct serve checkpoints/quickstart
              instruct serve smollm2 --port 8000 --model-id smollm2
              INSTRUCT_API_KEY=secret instruct serve smollm2 --host 0.0.0.0
            Then:
              curl http://127.0.0.1:8080/v1/chat/completions \\
                -H 'Content-Type: application/json' \\
                -d '{"messages": [{"role": "user", "content": "Sort: 3 1 2"}]}'
            """)

    @Argument(help: "A checkpoint directory (step-NNNNNNN), a run directory (its latest), or a run's latest file.")
    var checkpoint: String
    @Option(help: "Address to listen on (0.0.0.0: every interface).")
    var host = "127.0.0.1"
    @Option(help: "Port to listen on (0: a free one, printed at start).")
    var port = 8080
    @Option(help: "The model name clients send and /v1/models lists (default: the checkpoint's directory name).")
    var modelId: String?
    @Option(help: "Require 'Authorization: Bearer KEY' (default: $INSTRUCT_API_KEY when set; no key otherwise).")
    var apiKey: String?
    @Option(help: "Most requests generated together in one batch.")
    var maxBatch = 8
    @Option(help: "Most requests waiting for the model; more get 503.")
    var maxWaiting = 64
    @Option(help: "Most tokens per answer when a request sets no max_tokens.")
    var maxTokens = 512
    @Option(help: "Sampling temperature when a request sets none (0: greedy).")
    var temperature: Float = 0
    @Option(help: "Let web pages from this origin call the API from a browser (CORS), e.g. http://localhost:3000; * for any.")
    var allowOrigin: String?
    @Option(help: "Largest request body in bytes; larger ones get 413.")
    var maxBodyBytes = 1 << 20
    @Option(help: "BLAS threads.")
    var threads = 2
    @Option(help: "Weights to decode from: f32 (as trained) or q8_0 (llama.cpp's Q8_0, quantized at load: 3.8x fewer bytes per token).")
    var weights: WeightFormat = .f32
    @Flag(help: "Skip checksum verification of the checkpoint.")
    var noVerify = false
    @Flag(help: "Do not log each request to standard error.")
    var quiet = false

    func validate() throws {
        try validateThreads(threads)
    }

    func run() throws {
        try reportingErrors { try serve() }
    }

    /// The model name for a checkpoint path: its directory, or `run-step-NNNNNNN` for a step.
    static func modelName(for path: String) -> String {
        var url = URL(fileURLWithPath: path).standardizedFileURL
        if url.lastPathComponent == "latest" { url.deleteLastPathComponent() }
        let name = url.lastPathComponent
        if name.hasPrefix("step-") { return url.deletingLastPathComponent().lastPathComponent + "-" + name }
        return name.isEmpty || name == "/" ? "model" : name
    }

    private func serve() throws {
        BLAS.setThreadCount(threads)
        var loaded = try LoadedModel.open(path: checkpoint, verify: !noVerify)
        try loaded.useWeights(weights)
        let key = apiKey ?? ProcessInfo.processInfo.environment["INSTRUCT_API_KEY"].flatMap { $0.isEmpty ? nil : $0 }
        let options = ServerOptions(host: host, port: port, modelID: modelId ?? Self.modelName(for: checkpoint), apiKey: key,
                                    maxBodyBytes: maxBodyBytes, maxBatchSize: maxBatch, maxWaiting: maxWaiting,
                                    defaultMaxTokens: maxTokens, defaultSampling: SamplingOptions(temperature: temperature),
                                    allowedOrigin: allowOrigin)
        let problems = options.problems()
        if !problems.isEmpty { throw CommandFailure(problems.joined(separator: "; ")) }
        let quiet = self.quiet, context = loaded.model.config.contextLength, template = loaded.encoder.template.name
        let directory = loaded.directory.path, authenticated = key != nil
        let server = try ChatServer(model: loaded, options: options) { event in
            switch event {
            case let .listening(host, port):
                print("serving \(options.modelID) (\(directory), \(template == "model" ? "its own chat" : template) template, "
                      + "context \(context)) at http://\(host):\(port)/v1" + (authenticated ? " (API key required)" : ""))
                print("Ctrl-C finishes the requests in flight and stops")
            case let .request(r):
                if quiet { return }
                var line = "\(r.method) \(r.path) \(r.status)"
                if let p = r.promptTokens, let c = r.completionTokens { line += " \(p)+\(c) tokens" }
                if let b = r.batchSize { line += " batch \(b)" }
                line += String(format: " %.2fs", r.seconds)
                if let e = r.error { line += ": \(e)" }
                FileHandle.standardError.write(Data((line + "\n").utf8))
            case let .shuttingDown(inFlight):
                FileHandle.standardError.write(Data("shutting down: finishing \(inFlight) request(s) in flight (Ctrl-C again to quit now)\n".utf8))
            }
        }
        let signals = ShutdownSignals { Task { await server.shutdown() } }
        let done = DispatchSemaphore(value: 0)
        let failure = ErrorBox()
        Task {
            do { try await server.run() } catch { failure.error = error }
            done.signal()
        }
        done.wait()
        signals.cancel()
        if let error = failure.error { throw error }
        print("stopped")
    }
}

/// The error a detached task ended with, read after it signalled.
private final class ErrorBox: @unchecked Sendable {  // written before `done.signal()`, read after `done.wait()`
    var error: Error?
}

/// SIGINT and SIGTERM for a server: the first calls `onFirst` (a graceful shutdown); another
/// SIGINT quits at once with status 130 through `_exit`, as `instruct train`'s second Ctrl-C
/// (StopRequest): `exit` would run static destructors on this thread while OpenBLAS and
/// SwiftNIO still run on the others. A server writes no files, so nothing needs removing.
/// The handlers run on a queue of their own (not Dispatch's shared pool, which generation
/// can keep busy), so the second Ctrl-C is handled at once.
private final class ShutdownSignals: @unchecked Sendable {  // `count` is only touched on `queue`
    private var sources: [DispatchSourceSignal] = []
    private var count = 0
    private let queue = DispatchQueue(label: "instruct.serve.signals")

    init(onFirst: @escaping () -> Void) {
        for sig in [SIGINT, SIGTERM] {
            signal(sig, SIG_IGN)
            let source = DispatchSource.makeSignalSource(signal: sig, queue: queue)
            source.setEventHandler { [unowned self] in
                self.count += 1
                if self.count == 1 { onFirst() } else if sig == SIGINT { Self.quitNow() }
            }
            source.resume()
            sources.append(source)
        }
    }

    func cancel() { for s in sources { s.cancel() } }

    /// The second Ctrl-C: say so, then `_exit(130)` (no atexit handlers, no destructors).
    private static func quitNow() -> Never {
        let note = "\ninterrupted again: quitting now without finishing the requests in flight\n"
        _ = note.withCString { write(STDERR_FILENO, $0, strlen($0)) }
        _exit(130)
    }
}
