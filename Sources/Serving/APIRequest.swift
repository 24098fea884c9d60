import Datasets
import Foundation
import Inference

/// A checked `POST /v1/chat/completions` or `POST /v1/completions` body: what to answer, how
/// long, how to choose tokens and where to stop.
///
/// Fields are OpenAI's (`max_tokens` or `max_completion_tokens`, `temperature`, `top_p`,
/// `stop`, `seed`, `stream`, `stream_options.include_usage`) plus two that llama.cpp's and
/// vLLM's servers also take (`top_k`, `repetition_penalty`). Fields asking for what this
/// server does not do (`n` above 1, `logprobs`, tools, a JSON `response_format`, non-zero
/// presence or frequency penalties, `logit_bias`, `echo`, `suffix`, `best_of` above 1) are
/// refused naming the field; other fields are ignored, as clients send many (`user`,
/// `metadata`, `store`).
public struct APIRequest: Equatable {
    /// What the model continues: a conversation rendered with the checkpoint's chat template,
    /// or (legacy completions) a text continued as is.
    public enum Input: Equatable {
        case chat([Message])
        case text(String)
    }

    /// The `model` field, when given (it must name the served model).
    public var model: String?
    public var input: Input
    /// Most tokens to generate; nil: until a stop or the context is full (up to the server's default).
    public var maxTokens: Int?
    /// How tokens are chosen; fields the request leaves out keep the server's defaults.
    public var sampling: SamplingOptions
    /// The request's own stop strings (the model card's are always added).
    public var stop: [String]
    /// Seed of a sampled answer: the same seed and request give the same answer.
    public var seed: UInt64?
    /// Answer as Server-Sent Events.
    public var stream: Bool
    /// With `stream`, end with a chunk carrying the usage counts (`stream_options.include_usage`).
    public var includeUsage: Bool

    /// Most stop strings a request may give (OpenAI allows 4).
    public static let maxStopStrings = 16

    /// Reads a chat completion body. Throws `ServingError` naming the field at fault.
    public static func chat(_ body: Data, defaults: SamplingOptions) throws -> APIRequest {
        let o = try JSONValue.object(from: body)
        guard let raw = try o.array("messages") else {
            throw ServingError.invalidParameter(param: "messages", reason: "is required: a list of {role, content} messages")
        }
        if raw.isEmpty { throw ServingError.invalidParameter(param: "messages", reason: "must hold at least one message") }
        var messages: [Message] = []
        for (i, value) in raw.enumerated() {
            let path = "messages[\(i)]"
            guard case let .object(fields) = value else {
                throw ServingError.invalidParameter(param: path, reason: "must be an object {role, content}, got \(value.kind)")
            }
            messages.append(try message(JSONObject(fields: fields, path: path)))
        }
        if let logprobs = try o.bool("logprobs"), logprobs {
            throw ServingError.unsupportedParameter(param: "logprobs", reason: "token log-probabilities are not returned; leave it false")
        }
        if let top = try o.int("top_logprobs"), top != 0 {
            throw ServingError.unsupportedParameter(param: "top_logprobs", reason: "token log-probabilities are not returned")
        }
        for key in ["tools", "functions"] {
            if let tools = try o.array(key), !tools.isEmpty {
                throw ServingError.unsupportedParameter(param: key, reason: "tool and function calls are not supported")
            }
        }
        if let format = try o.object("response_format"), let type = try format.string("type"), type != "text" {
            throw ServingError.unsupportedParameter(param: "response_format.type", reason: "only \"text\" is supported, got \"\(type)\"")
        }
        var request = try common(o, input: .chat(messages), defaults: defaults)
        if let n = try o.int("max_completion_tokens") {
            request.maxTokens = try positive("max_completion_tokens", n)
        }
        return request
    }

    /// Reads a legacy completion body (`prompt`: a string, or a list of one string).
    /// Throws `ServingError` naming the field at fault.
    public static func completion(_ body: Data, defaults: SamplingOptions) throws -> APIRequest {
        let o = try JSONValue.object(from: body)
        let prompt: String
        switch o.value("prompt") {
        case let .string(s)?:
            prompt = s
        case let .array(items)?:
            guard items.count == 1, case let .string(s) = items[0] else {
                throw ServingError.unsupportedParameter(param: "prompt", reason: "give one prompt string (a list of several prompts or of token ids is not supported); send one request per prompt")
            }
            prompt = s
        case let other?:
            throw ServingError.invalidParameter(param: "prompt", reason: "must be a string, got \(other.kind)")
        case nil:
            throw ServingError.invalidParameter(param: "prompt", reason: "is required: the text to continue")
        }
        if let echo = try o.bool("echo"), echo {
            throw ServingError.unsupportedParameter(param: "echo", reason: "the prompt is not echoed; leave it false")
        }
        if let suffix = try o.string("suffix"), !suffix.isEmpty {
            throw ServingError.unsupportedParameter(param: "suffix", reason: "insertion (fill-in-the-middle) is not supported")
        }
        if let best = try o.int("best_of"), best != 1 {
            throw ServingError.unsupportedParameter(param: "best_of", reason: "only 1 is supported, got \(best)")
        }
        if let logprobs = try o.int("logprobs"), logprobs != 0 {
            throw ServingError.unsupportedParameter(param: "logprobs", reason: "token log-probabilities are not returned")
        }
        return try common(o, input: .text(prompt), defaults: defaults)
    }

    /// The fields both endpoints share.
    private static func common(_ o: JSONObject, input: Input, defaults: SamplingOptions) throws -> APIRequest {
        if let n = try o.int("n"), n != 1 {
            throw ServingError.unsupportedParameter(param: "n", reason: "one answer per request; got n = \(n): send \(n) requests with different seeds")
        }
        for key in ["presence_penalty", "frequency_penalty"] {
            if let p = try o.double(key), p != 0 {
                throw ServingError.unsupportedParameter(param: key, reason: "only 0 is supported; use repetition_penalty (Hugging Face's) instead")
            }
        }
        if let bias = try o.object("logit_bias"), !bias.fields.isEmpty {
            throw ServingError.unsupportedParameter(param: "logit_bias", reason: "logit biases are not supported")
        }
        var sampling = defaults
        if let t = try o.double("temperature") {
            guard t >= 0 && t <= 2 else { throw ServingError.invalidParameter(param: "temperature", reason: "must be between 0 and 2 (0 is greedy), got \(t)") }
            sampling.temperature = Float(t)
        }
        if let p = try o.double("top_p") {
            guard p > 0 && p <= 1 else { throw ServingError.invalidParameter(param: "top_p", reason: "must be in (0, 1], got \(p)") }
            sampling.topP = Float(p)
        }
        if let k = try o.int("top_k") {
            guard k >= 0 else { throw ServingError.invalidParameter(param: "top_k", reason: "must be >= 0 (0 keeps all tokens), got \(k)") }
            sampling.topK = k
        }
        if let r = try o.double("repetition_penalty") {
            guard r > 0 && r.isFinite else { throw ServingError.invalidParameter(param: "repetition_penalty", reason: "must be > 0 (1 is off), got \(r)") }
            sampling.repetitionPenalty = Float(r)
        }
        var stop: [String] = []
        switch o.value("stop") {
        case let .string(s)?:
            stop = [s]
        case let .array(items)?:
            for (i, item) in items.enumerated() {
                guard case let .string(s) = item else {
                    throw ServingError.invalidParameter(param: "stop[\(i)]", reason: "must be a string, got \(item.kind)")
                }
                stop.append(s)
            }
        case let other?:
            throw ServingError.invalidParameter(param: "stop", reason: "must be a string or a list of strings, got \(other.kind)")
        case nil:
            break
        }
        stop = stop.filter { !$0.isEmpty }
        if stop.count > maxStopStrings {
            throw ServingError.invalidParameter(param: "stop", reason: "at most \(maxStopStrings) stop strings, got \(stop.count)")
        }
        let model = try o.string("model")
        let maxTokens = try o.int("max_tokens").map { try positive("max_tokens", $0) }
        let seed = try o.seed()
        let stream = try o.bool("stream") ?? false
        let includeUsage = try o.object("stream_options")?.bool("include_usage") ?? false
        return APIRequest(model: model, input: input, maxTokens: maxTokens, sampling: sampling, stop: stop, seed: seed,
                          stream: stream, includeUsage: includeUsage)
    }

    private static func positive(_ key: String, _ n: Int) throws -> Int {
        guard n >= 1 else { throw ServingError.invalidParameter(param: key, reason: "must be at least 1, got \(n)") }
        return n
    }

    /// One chat message: `role` (system, developer, user, assistant) and `content` (a string or
    /// a list of text parts).
    private static func message(_ o: JSONObject) throws -> Message {
        guard let roleName = try o.string("role") else {
            throw ServingError.invalidParameter(param: o.name("role"), reason: "is required: system, user or assistant")
        }
        let role: Role
        switch roleName {
        case "system", "developer": role = .system
        case "user": role = .user
        case "assistant": role = .assistant
        case "tool", "function":
            throw ServingError.unsupportedParameter(param: o.name("role"), reason: "tool and function messages are not supported")
        default:
            throw ServingError.invalidParameter(param: o.name("role"), reason: "must be system, developer, user or assistant, got \"\(roleName)\"")
        }
        var content = ""
        switch o.value("content") {
        case let .string(s)?:
            content = s
        case let .array(parts)?:
            for (i, part) in parts.enumerated() {
                let path = o.name("content") + "[\(i)]"
                guard case let .object(fields) = part else {
                    throw ServingError.invalidParameter(param: path, reason: "must be an object {type: \"text\", text}, got \(part.kind)")
                }
                let p = JSONObject(fields: fields, path: path)
                let type = try p.string("type") ?? "text"
                guard type == "text" else {
                    throw ServingError.unsupportedParameter(param: p.name("type"), reason: "only text content parts are supported, got \"\(type)\"")
                }
                guard let text = try p.string("text") else {
                    throw ServingError.invalidParameter(param: p.name("text"), reason: "is required in a text part")
                }
                content += text
            }
        case let other?:
            throw ServingError.invalidParameter(param: o.name("content"), reason: "must be a string or a list of text parts, got \(other.kind)")
        case nil:
            if role != .assistant {
                throw ServingError.invalidParameter(param: o.name("content"), reason: "is required for a \(roleName) message")
            }
        }
        return Message(role: role, content: content)
    }
}

extension JSONObject {
    /// `seed`: any 64-bit integer (a negative one is taken by its bit pattern).
    fileprivate func seed() throws -> UInt64? {
        guard let v = value("seed") else { return nil }
        switch v {
        case let .int(i): return UInt64(bitPattern: i)
        case let .double(d) where d == d.rounded() && d >= 0 && d < 1.8e19: return UInt64(d)
        default: throw wrongType("seed", "an integer", v)
        }
    }
}
