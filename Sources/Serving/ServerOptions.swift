import Inference

/// How `ChatServer` listens, whom it answers and how much it takes on. Each default says why.
public struct ServerOptions: Sendable {
    /// Address to bind. Loopback by default: a model server on every interface is a decision
    /// to take on purpose (`--host 0.0.0.0`), not a default.
    public var host: String
    /// Port to bind; 0 asks the system for a free one (reported by `ServerEvent.listening`).
    public var port: Int
    /// The model name `/v1/models` lists and requests must name (when they name one).
    public var modelID: String
    /// When set, every endpoint but `/health` needs `Authorization: Bearer KEY`; compared in
    /// constant time.
    public var apiKey: String?
    /// Largest request body read (1 MiB: a full 8K-token conversation is ~40 KB of JSON);
    /// larger ones get 413 without being read whole.
    public var maxBodyBytes: Int
    /// Most rows generated together (8: on 2 cores a decode step of 8 rows costs little more
    /// than one of 1 for a small model, and 8 concurrent chats are a realistic local load).
    public var maxBatchSize: Int
    /// Most requests waiting for the model before new ones get 503 (64: keeps memory bounded
    /// and tells clients to back off instead of queueing minutes of work).
    public var maxWaiting: Int
    /// Seconds the worker waits for batch-mates after taking a request (5 ms: enough for
    /// clients that start together to share a batch, unnoticeable next to generation).
    public var batchWindow: Double
    /// Most tokens per answer when a request gives no `max_tokens` (512: OpenAI's default is the
    /// rest of the context, which on a CPU can mean minutes for a model that never stops).
    public var defaultMaxTokens: Int
    /// The web origin whose pages may call the API from a browser (CORS: `http://localhost:3000`),
    /// or `*` for every origin. None by default: otherwise any web page the user opens could use
    /// the model on localhost. Chat UIs with their own backend (which calls the API server-side)
    /// need none.
    public var allowedOrigin: String?
    /// Sampling for fields a request leaves out. Greedy (temperature 0), as `instruct
    /// generate` and `chat`; OpenAI's own default temperature is 1.
    public var defaultSampling: SamplingOptions

    public init(host: String = "127.0.0.1", port: Int = 8080, modelID: String, apiKey: String? = nil,
                maxBodyBytes: Int = 1 << 20, maxBatchSize: Int = 8, maxWaiting: Int = 64, batchWindow: Double = 0.005,
                defaultMaxTokens: Int = 512, defaultSampling: SamplingOptions = .greedy, allowedOrigin: String? = nil) {
        self.host = host
        self.port = port
        self.modelID = modelID
        self.apiKey = apiKey
        self.maxBodyBytes = maxBodyBytes
        self.maxBatchSize = maxBatchSize
        self.maxWaiting = maxWaiting
        self.batchWindow = batchWindow
        self.defaultMaxTokens = defaultMaxTokens
        self.defaultSampling = defaultSampling
        self.allowedOrigin = allowedOrigin
    }

    /// Problems with these options, each naming the option; empty when valid.
    public func problems() -> [String] {
        var out: [String] = []
        if !(0...65535).contains(port) { out.append("port must be in 0...65535 (got \(port))") }
        if modelID.isEmpty { out.append("the model id must not be empty") }
        if let apiKey, apiKey.isEmpty { out.append("the API key must not be empty") }
        if maxBodyBytes < 1024 { out.append("max body bytes must be at least 1024 (got \(maxBodyBytes))") }
        if maxBatchSize < 1 { out.append("max batch size must be at least 1 (got \(maxBatchSize))") }
        if maxWaiting < 1 { out.append("max waiting must be at least 1 (got \(maxWaiting))") }
        if !(batchWindow >= 0 && batchWindow <= 1) { out.append("batch window must be in 0...1 seconds (got \(batchWindow))") }
        if defaultMaxTokens < 1 { out.append("default max tokens must be at least 1 (got \(defaultMaxTokens))") }
        out += defaultSampling.problems()
        if let allowedOrigin, allowedOrigin.isEmpty { out.append("the allowed origin must not be empty") }
        return out
    }
}

/// What the server reports to its caller (the command line prints these; the library never does).
public enum ServerEvent: Sendable, Equatable {
    /// Listening on `host:port` (the real port when 0 was asked).
    case listening(host: String, port: Int)
    /// One request answered (or refused).
    case request(RequestRecord)
    /// Graceful shutdown started: no new connections; `inFlight` requests are being finished.
    case shuttingDown(inFlight: Int)
}

/// One answered request, for logs.
public struct RequestRecord: Sendable, Equatable {
    public var method: String
    public var path: String
    /// The HTTP status sent.
    public var status: Int
    /// Prompt and generated tokens (generation endpoints that got that far).
    public var promptTokens: Int?
    public var completionTokens: Int?
    /// Rows in the batch the answer was generated in.
    public var batchSize: Int?
    /// Seconds from the request's arrival to its last byte.
    public var seconds: Double
    /// The error's message when refused.
    public var error: String?
}
