import ArgumentParser
import Autograd
import Dispatch
import Foundation
import Inference
import Recipes
import Serving

/// `instruct bench serve CKPT`: a bounded load test of `instruct serve` on loopback.
struct BenchServe: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "serve",
        abstract: "Load-test the chat server on loopback: requests/s, tokens/s, latency percentiles, memory.",
        discussion: """
            Starts the server for CKPT in this process on 127.0.0.1 (a free port), sends
            --requests chat completions from --concurrency clients at once (each waits
            for its answer before the next), and prints requests/s, generated tokens/s,
            latency percentiles and the resident memory sampled every 100 requests.
            Stops by itself after --requests or --max-seconds. Traffic stays on the
            loopback address.

            Examples:
              instruct bench serve checkpoints/quickstart
              instruct bench serve smollm2 --requests 200 --concurrency 8 \\
                --max-tokens 32 --stream
            """)

    @Argument(help: "A checkpoint directory (step-NNNNNNN), a run directory (its latest), or a run's latest file.")
    var checkpoint: String
    @Option(help: "Requests in all.")
    var requests = 1000
    @Option(help: "Clients sending at once.")
    var concurrency = 8
    @Option(help: "max_tokens of every request.")
    var maxTokens = 16
    @Flag(help: "Stream the answers (Server-Sent Events).")
    var stream = false
    @Option(help: "Most rows generated together in one batch.")
    var maxBatch = 8
    @Option(help: "No new request starts after this many seconds.")
    var maxSeconds: Double = 3600
    @Option(help: "BLAS threads.")
    var threads = 2
    @Flag(help: "Print the result as one JSON object.")
    var json = false

    func validate() throws {
        try validateThreads(threads)
        guard requests >= 1, concurrency >= 1, maxTokens >= 1, maxBatch >= 1, maxSeconds > 0 else {
            throw ValidationError("--requests, --concurrency, --max-tokens and --max-batch must be at least 1, --max-seconds above 0")
        }
    }

    func run() throws {
        try reportingErrors { try bench() }
    }

    private func bench() throws {
        BLAS.setThreadCount(threads)
        let loaded = try LoadedModel.open(path: checkpoint)
        let modelID = ServeCommand.modelName(for: checkpoint)
        let port = PortBox()
        let options = ServerOptions(host: "127.0.0.1", port: 0, modelID: modelID, maxBatchSize: maxBatch,
                                    maxWaiting: max(64, concurrency * 2))
        let batchSizes = BatchSizes()
        let server = try ChatServer(model: loaded, options: options) { event in
            switch event {
            case let .listening(_, p): port.set(p)
            case let .request(r): if let b = r.batchSize { batchSizes.add(b) }
            case .shuttingDown: break
            }
        }
        let done = DispatchSemaphore(value: 0)
        Task {
            try? await server.run()
            done.signal()
        }
        guard let listening = port.wait(seconds: 30) else { throw CommandFailure("the server did not start listening within 30 s") }
        if !json { print("serving \(modelID) on 127.0.0.1:\(listening); \(requests) requests, \(concurrency) clients, max_tokens \(maxTokens)\(stream ? ", streamed" : "")") }
        let settings = ServingBenchmark.Settings(requests: requests, concurrency: concurrency, maxTokens: maxTokens, stream: stream,
                                                 model: modelID, maxSeconds: maxSeconds)
        let r = ServingBenchmark.run(port: listening, settings: settings, resident: { MemoryStats.residentBytes() })
        Task { await server.shutdown() }
        done.wait()
        let meanBatch = batchSizes.mean
        if json {
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.sortedKeys]
            var object = (try JSONSerialization.jsonObject(with: try encoder.encode(r))) as? [String: Any] ?? [:]
            object["mean_batch_size"] = meanBatch
            print(String(decoding: try JSONSerialization.data(withJSONObject: object, options: [.sortedKeys]), as: UTF8.self))
            return
        }
        print(String(format: "%d requests (%d failed) in %.1f s: %.2f requests/s, %.1f generated tokens/s (%d prompt + %d generated tokens), mean batch %.2f",
                     r.requests, r.failures, r.seconds, r.requestsPerSecond, r.completionTokensPerSecond, r.promptTokens,
                     r.completionTokens, meanBatch))
        print(String(format: "latency p50 %.3f s, p90 %.3f s, p99 %.3f s, max %.3f s; first byte p50 %.3f s, p99 %.3f s",
                     r.latencyP50, r.latencyP90, r.latencyP99, r.latencyMax, r.firstByteP50, r.firstByteP99))
        let mib = r.residentBytes.map { String(format: "%.1f", Double($0) / 1_048_576) }
        print("resident MiB after " + zip(r.residentAfterRequests, mib).map { "\($0): \($1)" }.joined(separator: ", "))
        if let first = r.residentBytes.first, let last = r.residentBytes.last {
            print(String(format: "resident memory from the first sample to the last: %+.1f MiB", Double(last - first) / 1_048_576))
        }
        for failure in r.failureExamples { print("failure: \(failure)") }
        if r.failures > 0 { throw ExitCode.failure }
    }
}

/// The port the server reports, awaited by the load test.
private final class PortBox: @unchecked Sendable {  // `port` is behind `condition`
    private let condition = NSCondition()
    private var port: Int?

    func set(_ p: Int) {
        condition.lock()
        port = p
        condition.broadcast()
        condition.unlock()
    }

    func wait(seconds: Double) -> Int? {
        condition.lock()
        defer { condition.unlock() }
        let deadline = Date(timeIntervalSinceNow: seconds)
        while port == nil && condition.wait(until: deadline) {}
        return port
    }
}

/// Batch sizes of the answered requests.
private final class BatchSizes: @unchecked Sendable {  // `sizes` is behind `lock`
    private let lock = NSLock()
    private var sum = 0, count = 0

    func add(_ b: Int) { lock.lock(); sum += b; count += 1; lock.unlock() }
    var mean: Double { lock.lock(); defer { lock.unlock() }; return count == 0 ? 0 : Double(sum) / Double(count) }
}
