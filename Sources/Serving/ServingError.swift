/// Why the server refused a request or could not start: every case becomes an OpenAI-style
/// error body (`{"error": {"message", "type", "param", "code"}}`) with its HTTP status, and its
/// message says what was wrong and what to send instead.
public enum ServingError: Error, Equatable, CustomStringConvertible {
    /// The body is not JSON, or not the object the endpoint takes (`reason` says where).
    case malformedJSON(reason: String)
    /// A field has a value the server cannot use (`param` is its JSON path, `messages[2].role`).
    case invalidParameter(param: String, reason: String)
    /// A field asks for something this server does not do (`n` above 1, `logprobs`, tools).
    case unsupportedParameter(param: String, reason: String)
    /// The request names a model this server does not serve.
    case unknownModel(requested: String, served: String)
    /// The prompt, or the prompt plus `max_tokens`, does not fit in the model's context.
    case contextLengthExceeded(promptTokens: Int, maxTokens: Int?, contextLength: Int)
    /// The model's chat template refused the conversation (a Jinja `raise_exception`).
    case templateFailed(reason: String)
    /// The body is larger than the server reads.
    case bodyTooLarge(limit: Int)
    /// The server was started with `--api-key` and the request did not carry it.
    case unauthorized
    /// No endpoint at this path (or not for this method).
    case notFound(method: String, path: String)
    /// Too many requests are already waiting for the model.
    case queueFull(waiting: Int)
    /// The server is shutting down and takes no new requests.
    case shuttingDown
    /// Generation itself failed (a bug or a model/tokenizer mismatch: the message names it).
    case generationFailed(reason: String)
    /// The server could not listen on the address.
    case cannotListen(host: String, port: Int, reason: String)
    /// `LoopbackHTTP` (the load test's client) could not complete a request.
    case clientFailed(host: String, port: Int, reason: String)

    /// The HTTP status OpenAI's API answers this error with.
    public var status: Int {
        switch self {
        case .malformedJSON, .invalidParameter, .unsupportedParameter, .contextLengthExceeded, .templateFailed: return 400
        case .unauthorized: return 401
        case .unknownModel, .notFound: return 404
        case .bodyTooLarge: return 413
        case .queueFull, .shuttingDown: return 503
        case .generationFailed, .cannotListen, .clientFailed: return 500
        }
    }

    /// OpenAI's error `type`.
    public var type: String {
        switch self {
        case .unauthorized: return "authentication_error"
        case .queueFull, .shuttingDown, .generationFailed, .cannotListen, .clientFailed: return "server_error"
        default: return "invalid_request_error"
        }
    }

    /// OpenAI's error `param`: the request field at fault, when there is one.
    public var param: String? {
        switch self {
        case let .invalidParameter(param, _), let .unsupportedParameter(param, _): return param
        case .unknownModel: return "model"
        case .contextLengthExceeded: return "messages"
        case .templateFailed: return "messages"
        default: return nil
        }
    }

    /// OpenAI's error `code`: a stable machine-readable name.
    public var code: String {
        switch self {
        case .malformedJSON: return "invalid_json"
        case .invalidParameter: return "invalid_value"
        case .unsupportedParameter: return "unsupported_parameter"
        case .unknownModel: return "model_not_found"
        case .contextLengthExceeded: return "context_length_exceeded"
        case .templateFailed: return "chat_template_error"
        case .bodyTooLarge: return "request_too_large"
        case .unauthorized: return "invalid_api_key"
        case .notFound: return "not_found"
        case .queueFull: return "server_busy"
        case .shuttingDown: return "shutting_down"
        case .generationFailed: return "generation_failed"
        case .cannotListen: return "cannot_listen"
        case .clientFailed: return "client_failed"
        }
    }

    public var description: String {
        switch self {
        case let .malformedJSON(reason):
            return "the request body is not valid JSON for this endpoint: \(reason)"
        case let .invalidParameter(param, reason):
            return "invalid '\(param)': \(reason)"
        case let .unsupportedParameter(param, reason):
            return "'\(param)' is not supported by this server: \(reason)"
        case let .unknownModel(requested, served):
            return "the model '\(requested)' does not exist on this server; it serves '\(served)' (GET /v1/models lists it)"
        case let .contextLengthExceeded(prompt, maxTokens, context):
            if let maxTokens {
                return "this model's maximum context length is \(context) tokens, but \(prompt + maxTokens) were requested "
                    + "(\(prompt) in the prompt, \(maxTokens) for the completion); shorten the messages or lower max_tokens"
            }
            return "this model's maximum context length is \(context) tokens, but the prompt has \(prompt), "
                + "leaving no room for an answer; shorten the messages"
        case let .templateFailed(reason):
            return "the model's chat template cannot render these messages: \(reason)"
        case let .bodyTooLarge(limit):
            return "the request body is larger than this server reads (\(limit) bytes; start it with a larger --max-body-bytes to allow more)"
        case .unauthorized:
            return "missing or wrong API key: send the key the server was started with as 'Authorization: Bearer KEY'"
        case let .notFound(method, path):
            return "no endpoint \(method) \(path); this server has POST /v1/chat/completions, POST /v1/completions, GET /v1/models and GET /health"
        case let .queueFull(waiting):
            return "the server is busy: \(waiting) requests are already waiting for the model; retry later (or start it with a larger --max-waiting)"
        case .shuttingDown:
            return "the server is shutting down and takes no new requests"
        case let .generationFailed(reason):
            return "generation failed: \(reason)"
        case let .cannotListen(host, port, reason):
            return "cannot listen on \(host):\(port): \(reason); choose another --port (0 picks a free one) or stop what uses it"
        case let .clientFailed(host, port, reason):
            return "request to \(host):\(port) failed: \(reason); is the server running there?"
        }
    }
}
