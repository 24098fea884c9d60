import Foundation
import Inference

/// The JSON bodies the server writes, in OpenAI's shapes: a chat completion and its stream
/// chunks, a text completion and its chunks, the model list and errors. Fields OpenAI writes as
/// `null` are written as `null`, since clients read them (`finish_reason` of a chunk).
enum APIResponse {
    /// Token counts of one answer.
    struct Usage: Encodable {
        var promptTokens: Int
        var completionTokens: Int

        enum CodingKeys: String, CodingKey { case promptTokens = "prompt_tokens", completionTokens = "completion_tokens", totalTokens = "total_tokens" }

        func encode(to encoder: Encoder) throws {
            var c = encoder.container(keyedBy: CodingKeys.self)
            try c.encode(promptTokens, forKey: .promptTokens)
            try c.encode(completionTokens, forKey: .completionTokens)
            try c.encode(promptTokens + completionTokens, forKey: .totalTokens)
        }
    }

    /// OpenAI's `finish_reason`: "stop" at an end-of-sequence id or a stop string, "length"
    /// at max_tokens or a full context.
    static func finishReason(_ reason: StopReason) -> String {
        switch reason {
        case .eos, .stopString: return "stop"
        case .maxNewTokens, .contextFull: return "length"
        }
    }

    /// Where a response is from: its id, creation time and model.
    struct Header {
        var id: String
        var created: Int
        var model: String
    }

    /// `chat.completion` (whole answer), `chat.completion.chunk` (one streamed piece),
    /// `text_completion` (legacy, whole or streamed piece).
    enum Kind { case chat, chatChunk, text, textChunk }

    /// One response object of `kind`: one choice with `text` (the whole answer or a piece),
    /// `finish` (nil while streaming), `role` (the first chat chunk says it) and `usage` (when
    /// given). `choices` is empty for the usage-only chunk that ends a stream with
    /// `include_usage`.
    struct Object: Encodable {
        var header: Header
        var kind: Kind
        var text: String?
        var role: Bool = false
        var finish: String?
        var usage: Usage?
        var noChoices = false

        enum Keys: String, CodingKey { case id, object, created, model, choices, usage, systemFingerprint = "system_fingerprint" }
        enum ChoiceKeys: String, CodingKey { case index, message, delta, text, logprobs, finishReason = "finish_reason" }
        enum MessageKeys: String, CodingKey { case role, content }

        func encode(to encoder: Encoder) throws {
            var c = encoder.container(keyedBy: Keys.self)
            try c.encode(header.id, forKey: .id)
            let object: String
            switch kind {
            case .chat: object = "chat.completion"
            case .chatChunk: object = "chat.completion.chunk"
            case .text, .textChunk: object = "text_completion"
            }
            try c.encode(object, forKey: .object)
            try c.encode(header.created, forKey: .created)
            try c.encode(header.model, forKey: .model)
            try c.encodeNil(forKey: .systemFingerprint)
            var choices = c.nestedUnkeyedContainer(forKey: .choices)
            if !noChoices {
                var choice = choices.nestedContainer(keyedBy: ChoiceKeys.self)
                try choice.encode(0, forKey: .index)
                switch kind {
                case .chat, .chatChunk:
                    var m = choice.nestedContainer(keyedBy: MessageKeys.self, forKey: kind == .chat ? .message : .delta)
                    if kind == .chat || role { try m.encode("assistant", forKey: .role) }
                    if let text { try m.encode(text, forKey: .content) }
                case .text, .textChunk:
                    try choice.encode(text ?? "", forKey: .text)
                }
                try choice.encodeNil(forKey: .logprobs)
                try choice.encode(finish, forKey: .finishReason)
            }
            if let usage {
                try c.encode(usage, forKey: .usage)
            } else if kind == .chatChunk || kind == .textChunk {
                try c.encodeNil(forKey: .usage)
            }
        }
    }

    /// `GET /v1/models`: the one model served.
    struct ModelList: Encodable {
        var id: String
        var created: Int

        enum Keys: String, CodingKey { case object, data }
        enum ModelKeys: String, CodingKey { case id, object, created, ownedBy = "owned_by" }

        func encode(to encoder: Encoder) throws {
            var c = encoder.container(keyedBy: Keys.self)
            try c.encode("list", forKey: .object)
            var data = c.nestedUnkeyedContainer(forKey: .data)
            try ModelEntry(id: id, created: created).encode(to: data.superEncoder())
        }
    }

    /// `GET /v1/models/ID`: one model.
    struct ModelEntry: Encodable {
        var id: String
        var created: Int

        enum Keys: String, CodingKey { case id, object, created, ownedBy = "owned_by" }

        func encode(to encoder: Encoder) throws {
            var c = encoder.container(keyedBy: Keys.self)
            try c.encode(id, forKey: .id)
            try c.encode("model", forKey: .object)
            try c.encode(created, forKey: .created)
            try c.encode("instructkit", forKey: .ownedBy)
        }
    }

    /// `{"error": {"message", "type", "param", "code"}}`.
    struct ErrorBody: Encodable {
        var error: ServingError

        enum Keys: String, CodingKey { case error }
        enum ErrorKeys: String, CodingKey { case message, type, param, code }

        func encode(to encoder: Encoder) throws {
            var c = encoder.container(keyedBy: Keys.self)
            var e = c.nestedContainer(keyedBy: ErrorKeys.self, forKey: .error)
            try e.encode(error.description, forKey: .message)
            try e.encode(error.type, forKey: .type)
            try e.encode(error.param, forKey: .param)
            try e.encode(error.code, forKey: .code)
        }
    }

    /// `value` as compact JSON bytes.
    static func json(_ value: some Encodable) -> Data {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.withoutEscapingSlashes]
        // Our own Encodable values of strings, numbers and nulls always encode.
        return (try? encoder.encode(value)) ?? Data("{}".utf8)
    }

    /// One Server-Sent Event carrying `value`: `data: JSON` and a blank line.
    static func event(_ value: some Encodable) -> Data {
        Data("data: ".utf8) + json(value) + Data("\n\n".utf8)
    }

    /// The event that ends a stream.
    static let done = Data("data: [DONE]\n\n".utf8)
}
