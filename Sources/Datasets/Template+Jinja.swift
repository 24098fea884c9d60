import Templating

/// A model's own chat template (Jinja) as a prompt template, rendered exactly as
/// transformers' `apply_chat_template` renders it (the `Templating` target).
///
/// The loss mask is known from the rendering, never searched for in the text: for each
/// assistant turn `a`, the conversation before it is rendered with the generation prompt
/// (`P_a`) and the conversation up to and including it without (`F_a`). The text between the
/// previous `F` and `P_a` is prompt (not trained), the text from `P_a` to `F_a` is the answer
/// and its end of turn (trained; whitespace after the end-of-turn marker is not), and the
/// rest of the full rendering is prompt. A template whose renderings are not prefixes of each
/// other (one that rewrites earlier turns when a later one comes) cannot be split into turns:
/// such a record is refused naming the template.
///
/// Every piece is tokenized with special tokens parsed, as transformers tokenizes a rendered
/// chat: control tokens the template writes (`<|im_start|>`) become their ids.
public struct JinjaChat: Sendable, Codable, Equatable {
    /// The template's Jinja source.
    public let source: String
    /// The tokenizer's BOS and EOS texts, passed to the template as `bos_token` / `eos_token`.
    public let bosToken: String?
    public let eosToken: String?
    private let chat: ChatTemplate

    /// Why a conversation could not be rendered.
    public struct Failure: Error, CustomStringConvertible {
        public var description: String
    }

    /// Parses `source`; throws `TemplateError` naming the line and column of a syntax error.
    public init(source: String, bosToken: String? = nil, eosToken: String? = nil) throws {
        self.source = source
        self.bosToken = bosToken
        self.eosToken = eosToken
        var special: [String: String] = [:]
        if let bosToken { special["bos_token"] = bosToken }
        if let eosToken { special["eos_token"] = eosToken }
        chat = try ChatTemplate(source: source, name: "chat_template", specialTokens: special)
    }

    public static func == (a: JinjaChat, b: JinjaChat) -> Bool {
        a.source == b.source && a.bosToken == b.bosToken && a.eosToken == b.eosToken
    }

    private enum CodingKeys: String, CodingKey { case jinja, bosToken = "bos_token", eosToken = "eos_token" }

    /// Stored as `{"jinja": source, "bos_token": ..., "eos_token": ...}` (in a model card).
    public init(from decoder: Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        try self.init(source: try c.decode(String.self, forKey: .jinja), bosToken: try c.decodeIfPresent(String.self, forKey: .bosToken),
                      eosToken: try c.decodeIfPresent(String.self, forKey: .eosToken))
    }

    public func encode(to encoder: Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(source, forKey: .jinja)
        try c.encodeIfPresent(bosToken, forKey: .bosToken)
        try c.encodeIfPresent(eosToken, forKey: .eosToken)
    }

    /// The text the template makes of `messages`, with the assistant header at the end when
    /// `addGenerationPrompt`.
    public func text(_ messages: [Message], addGenerationPrompt: Bool) throws -> String {
        do {
            let values = messages.map { Value.object(OrderedObject([("role", .string($0.role.rawValue)), ("content", .string($0.content))])) }
            return try chat.render(messages: values, addGenerationPrompt: addGenerationPrompt).text
        } catch let e as TemplateError {
            throw Failure(description: "\(e)")
        }
    }

    /// The pieces of a conversation (see the type's comment). `scope` says which assistant
    /// turns are trained.
    func render(_ messages: [Message], scope: ChatTrainingScope) throws -> [Piece] {
        let assistants = messages.indices.filter { messages[$0].role == .assistant }
        var pieces: [Piece] = []
        var done = ""  // the rendering covered by `pieces`
        func suffix(_ text: String, after prefix: String, _ what: String) throws -> Substring {
            guard text.hasPrefix(prefix) else {
                throw Failure(description: "its rendering of \(what) does not start with its rendering of the turns before, so the turns cannot be told apart for the loss mask")
            }
            return text.dropFirst(prefix.count)
        }
        for a in assistants {
            let prompt = try text(Array(messages[..<a]), addGenerationPrompt: true)
            let full = try text(Array(messages[...a]), addGenerationPrompt: false)
            let before = try suffix(prompt, after: done, "the conversation up to assistant turn \(a)")
            let answer = try suffix(full, after: prompt, "assistant turn \(a)")
            let trained = scope == .allAssistant || a == assistants.last
            let kept = answer.reversed().drop(while: { $0.isWhitespace }).count
            pieces.append(Piece(kind: .text(String(before), allowSpecial: true), trained: false))
            pieces.append(Piece(kind: .text(String(answer.prefix(kept)), allowSpecial: true), trained: trained))
            pieces.append(Piece(kind: .text(String(answer.dropFirst(kept)), allowSpecial: true), trained: false))
            done = full
        }
        let rest = try suffix(try text(messages, addGenerationPrompt: false), after: done, "the whole conversation")
        pieces.append(Piece(kind: .text(String(rest), allowSpecial: true), trained: false))
        return pieces.filter { if case let .text(t, _) = $0.kind { return !t.isEmpty } else { return true } }
    }
}
