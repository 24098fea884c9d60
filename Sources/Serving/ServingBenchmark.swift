import Dispatch
import Foundation

/// A bounded load test of a running server on this machine: a fixed number of chat requests
/// from a fixed number of concurrent clients (each waits for its answer before sending the
/// next), then throughput, latency percentiles and the server's resident memory over the run.
/// It stops by itself: after `requests` requests or `maxSeconds`, whichever comes first.
public enum ServingBenchmark {
    /// What to send.
    public struct Settings: Sendable {
        /// Requests in all.
        public var requests: Int
        /// Clients sending at once.
        public var concurrency: Int
        /// `max_tokens` of every request.
        public var maxTokens: Int
        /// Ask for Server-Sent Events (then time to first byte is time to the first chunk).
        public var stream: Bool
        /// User messages, used in turn.
        public var prompts: [String]
        /// The model name to send.
        public var model: String
        /// `Authorization: Bearer` key, when the server needs one.
        public var apiKey: String?
        /// No new request starts after this many seconds.
        public var maxSeconds: Double
        /// Resident memory is sampled after every this many requests.
        public var sampleEvery: Int

        public init(requests: Int = 1000, concurrency: Int = 8, maxTokens: Int = 16, stream: Bool = false,
                    prompts: [String] = ServingBenchmark.defaultPrompts, model: String, apiKey: String? = nil,
                    maxSeconds: Double = 3600, sampleEvery: Int = 100) {
            self.requests = requests
            self.concurrency = concurrency
            self.maxTokens = maxTokens
            self.stream = stream
            self.prompts = prompts
            self.model = model
            self.apiKey = apiKey
            self.maxSeconds = maxSeconds
            self.sampleEvery = sampleEvery
        }
    }

    /// Short instructions of the kinds the quickstart's synthetic data and a chat model both answer.
    public static let defaultPrompts = [
        "Sort these numbers: 5 2 9 1", "Reverse the word: swift", "What is the capital of France?", "Count the vowels in: banana",
        "Sort these numbers: 12 7 3", "Name three colours.", "Reverse the word: model", "What is 7 plus 5?",
        "Uppercase this: hello world", "Give a synonym for happy.", "Sort these numbers: 4 4 1 8 0", "What day comes after Monday?",
        "Reverse the word: server", "Count the letters in: instruction", "Name a planet.", "What is the opposite of cold?",
    ]

    /// The measured figures.
    public struct Result: Codable, Sendable {
        public var requests: Int
        public var failures: Int
        /// The first failures' messages (at most 5).
        public var failureExamples: [String]
        public var concurrency: Int
        public var maxTokens: Int
        public var stream: Bool
        public var seconds: Double
        public var requestsPerSecond: Double
        public var promptTokens: Int
        public var completionTokens: Int
        /// Generated tokens per second of wall time, over all clients.
        public var completionTokensPerSecond: Double
        /// Request latency percentiles (seconds).
        public var latencyP50: Double
        public var latencyP90: Double
        public var latencyP99: Double
        public var latencyMax: Double
        /// Time to the first byte of the response (with `stream`: the first chunk), p50 and p99.
        public var firstByteP50: Double
        public var firstByteP99: Double
        /// Resident memory (bytes) sampled every `sampleEvery` requests, and when they were taken.
        public var residentBytes: [Int]
        public var residentAfterRequests: [Int]
    }

    /// Runs `settings` against the server on `host:port`; `resident` reads the server's resident
    /// memory (in-process: `MemoryStats.residentBytes`). Failed requests are counted, not thrown.
    public static func run(port: Int, host: String = "127.0.0.1", settings: Settings,
                           resident: @escaping @Sendable () -> Int) -> Result {
        precondition(settings.requests >= 1 && settings.concurrency >= 1 && !settings.prompts.isEmpty, "ServingBenchmark: nothing to send")
        let state = LoadState(settings: settings, resident: resident)
        let start = DispatchTime.now().uptimeNanoseconds
        let group = DispatchGroup()
        for _ in 0..<min(settings.concurrency, settings.requests) {
            group.enter()
            let thread = Thread {
                while let i = state.next(start: start) {
                    state.record(i, send(i, port: port, host: host, settings: settings))
                }
                group.leave()
            }
            thread.start()
        }
        group.wait()
        let seconds = Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9
        return state.result(seconds: seconds)
    }

    /// One request's outcome: latency, first byte, tokens, or the failure.
    struct Outcome {
        var seconds = 0.0, firstByte = 0.0, prompt = 0, completion = 0
        var failure: String?
    }

    static func send(_ i: Int, port: Int, host: String, settings: Settings) -> Outcome {
        var body: [String: Any] = [
            "model": settings.model, "max_tokens": settings.maxTokens,
            "messages": [["role": "user", "content": settings.prompts[i % settings.prompts.count]]],
        ]
        if settings.stream { body["stream"] = true; body["stream_options"] = ["include_usage": true] }
        var headers: [String: String] = [:]
        if let key = settings.apiKey { headers["Authorization"] = "Bearer \(key)" }
        do {
            let data = try JSONSerialization.data(withJSONObject: body)
            let r = try LoopbackHTTP.request(port: port, host: host, method: "POST", path: "/v1/chat/completions", body: data,
                                             headers: headers)
            var outcome = Outcome(seconds: r.seconds, firstByte: r.firstByteSeconds)
            guard r.status == 200 else { outcome.failure = "status \(r.status): \(r.text.prefix(200))"; return outcome }
            let usage: [String: Any]?
            if settings.stream {
                let last = r.events.dropLast().last.flatMap { try? JSONSerialization.jsonObject(with: Data($0.utf8)) } as? [String: Any]
                usage = last?["usage"] as? [String: Any]
                if r.events.last != "[DONE]" { outcome.failure = "the stream did not end with [DONE]" }
            } else {
                usage = r.json?["usage"] as? [String: Any]
            }
            outcome.prompt = usage?["prompt_tokens"] as? Int ?? 0
            outcome.completion = usage?["completion_tokens"] as? Int ?? 0
            if usage == nil && outcome.failure == nil { outcome.failure = "no usage in the response" }
            return outcome
        } catch {
            return Outcome(failure: "\(error)")
        }
    }

    /// The shared counters of a run.
    final class LoadState: @unchecked Sendable {  // every field is behind `lock`
        let settings: Settings
        let resident: @Sendable () -> Int
        private let lock = NSLock()
        private var issued = 0, completed = 0
        private var outcomes: [Outcome] = []
        private var rss: [Int] = [], rssAt: [Int] = []

        init(settings: Settings, resident: @escaping @Sendable () -> Int) {
            self.settings = settings
            self.resident = resident
        }

        /// The next request's index, or nil when all are issued or time is up.
        func next(start: UInt64) -> Int? {
            lock.lock()
            defer { lock.unlock() }
            let elapsed = Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9
            guard issued < settings.requests, elapsed < settings.maxSeconds else { return nil }
            issued += 1
            return issued - 1
        }

        func record(_ i: Int, _ outcome: Outcome) {
            lock.lock()
            defer { lock.unlock() }
            outcomes.append(outcome)
            completed += 1
            if completed % settings.sampleEvery == 0 || completed == settings.requests {
                rss.append(resident())
                rssAt.append(completed)
            }
        }

        func result(seconds: Double) -> Result {
            lock.lock()
            defer { lock.unlock() }
            let ok = outcomes.filter { $0.failure == nil }
            let latencies = ok.map(\.seconds).sorted(), firsts = ok.map(\.firstByte).sorted()
            func percentile(_ xs: [Double], _ p: Double) -> Double {
                xs.isEmpty ? 0 : xs[min(xs.count - 1, Int((p * Double(xs.count - 1)).rounded()))]
            }
            let completion = ok.reduce(0) { $0 + $1.completion }
            return Result(
                requests: outcomes.count, failures: outcomes.count - ok.count,
                failureExamples: Array(outcomes.compactMap(\.failure).prefix(5)), concurrency: settings.concurrency,
                maxTokens: settings.maxTokens, stream: settings.stream, seconds: seconds,
                requestsPerSecond: Double(outcomes.count) / max(seconds, 1e-9), promptTokens: ok.reduce(0) { $0 + $1.prompt },
                completionTokens: completion, completionTokensPerSecond: Double(completion) / max(seconds, 1e-9),
                latencyP50: percentile(latencies, 0.5), latencyP90: percentile(latencies, 0.9), latencyP99: percentile(latencies, 0.99),
                latencyMax: latencies.last ?? 0, firstByteP50: percentile(firsts, 0.5), firstByteP99: percentile(firsts, 0.99),
                residentBytes: rss, residentAfterRequests: rssAt)
        }
    }
}
