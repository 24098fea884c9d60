/// A prompt template: how a record becomes text, turn by turn.
///
/// Exact texts (`{…}` is the record's content; `EOS` is the tokenizer's end-of-sequence id):
///
/// - `alpaca` (Stanford Alpaca's `PROMPT_DICT`, verbatim; the response follows `### Response:` directly):
///   with input: `Below is an instruction that describes a task, paired with an input that provides further context. Write a response that appropriately completes the request.\n\n### Instruction:\n{instruction}\n\n### Input:\n{input}\n\n### Response:` then `{response}EOS`;
///   without input: `Below is an instruction that describes a task. Write a response that appropriately completes the request.\n\n### Instruction:\n{instruction}\n\n### Response:` then `{response}EOS`.
/// - `chatml`: `<|im_start|>system\n{system}<|im_end|>\n<|im_start|>user\n{user}<|im_end|>\n<|im_start|>assistant\n{assistant}<|im_end|>\n`.
/// - `llama3`: `<|start_header_id|>system<|end_header_id|>\n\n{system}<|eot_id|><|start_header_id|>user<|end_header_id|>\n\n{user}<|eot_id|><|start_header_id|>assistant<|end_header_id|>\n\n{assistant}<|eot_id|>`
///   (the tokenizer's BOS, `<|begin_of_text|>`, comes from the BOS rule, not from the template).
/// - `plain`: `{system}\n\n{user}\n{assistant}EOS\n`.
/// - `custom`: the recipe's three strings, each with its placeholder.
public enum TemplateKind: Equatable, Sendable {
    case alpaca
    case chatml
    case llama3
    case plain
    case custom(CustomTemplate)
    /// A model's own chat template (Jinja), as its tokenizer_config.json or GGUF defines it.
    case jinja(JinjaChat)

    /// The names a recipe may use for the built-in templates.
    public static let builtInNames = ["alpaca", "chatml", "llama3", "plain"]

    /// The built-in template called `name`, if any.
    public init?(name: String) {
        switch name {
        case "alpaca": self = .alpaca
        case "chatml": self = .chatml
        case "llama3": self = .llama3
        case "plain": self = .plain
        default: return nil
        }
    }

    /// A stable text that identifies the template and all its strings (hashed into cache keys).
    public var canonicalDescription: String {
        switch self {
        case .alpaca: return "alpaca"
        case .chatml: return "chatml"
        case .llama3: return "llama3"
        case .plain: return "plain"
        case let .custom(t):
            return "custom\u{1}\(t.system)\u{1}\(t.user)\u{1}\(t.assistant)\u{1}\(t.appendEOS)"
        case let .jinja(t):
            return "jinja\u{1}\(t.source)\u{1}\(t.bosToken ?? "")\u{1}\(t.eosToken ?? "")"
        }
    }

    /// The text that ends an assistant turn besides the EOS id (ChatML's `<|im_end|>`,
    /// Llama 3's `<|eot_id|>`), where generation stops; nil when the EOS id ends it.
    public var endOfTurn: String? {
        switch self {
        case .chatml: return "<|im_end|>"
        case .llama3: return "<|eot_id|>"
        default: return nil
        }
    }

    /// The template's name as written in a recipe (`model` for a model's own chat template).
    public var name: String {
        switch self {
        case .custom: return "custom"
        case .jinja: return "model"
        default: return canonicalDescription
        }
    }
}

/// A template given in a recipe: one string per role, each with its placeholder once.
///
/// `system` holds `{system}`, `user` holds `{user}`, `assistant` holds `{assistant}`.
/// Text after `{assistant}` is the end of the turn and is trained with the response; with
/// `appendEOS` the tokenizer's EOS id follows each assistant turn and is trained too.
public struct CustomTemplate: Equatable, Sendable {
    /// The system turn, for example `<<SYS>>\n{system}\n<</SYS>>\n\n`.
    public var system: String
    /// A user turn, for example `[INST] {user} [/INST]`.
    public var user: String
    /// An assistant turn, for example ` {assistant}`.
    public var assistant: String
    /// Whether the EOS id follows each assistant turn.
    public var appendEOS: Bool

    /// A custom template; call `validate()` before use.
    public init(system: String = "{system}\n\n", user: String, assistant: String, appendEOS: Bool = true) {
        self.system = system
        self.user = user
        self.assistant = assistant
        self.appendEOS = appendEOS
    }

    /// Checks that each string holds its placeholder exactly once.
    public func validate() throws {
        for (field, text, placeholder) in [
            ("system", system, "{system}"), ("user", user, "{user}"), ("assistant", assistant, "{assistant}"),
        ] {
            let count = text.components(separatedBy: placeholder).count - 1
            if count != 1 {
                throw DatasetError.invalidTemplate(
                    field: field, reason: "must contain \(placeholder) exactly once (found \(count))")
            }
        }
    }
}

/// One piece of a rendered example, before tokenization. Template text is encoded with
/// `allowSpecial: true`; record content with `allowSpecial: false`.
public struct Piece: Equatable, Sendable {
    /// What the piece is.
    public enum Kind: Equatable, Sendable {
        /// Text to encode; `allowSpecial` is true only for template text.
        case text(String, allowSpecial: Bool)
        /// The tokenizer's end-of-sequence id.
        case eos
    }
    /// The text or token.
    public var kind: Kind
    /// Whether the piece's tokens are training targets (response text and its end of turn).
    public var trained: Bool

    static func template(_ s: String) -> Piece { Piece(kind: .text(s, allowSpecial: true), trained: false) }
    static func content(_ s: String, trained: Bool) -> Piece { Piece(kind: .text(s, allowSpecial: false), trained: trained) }
}

/// Which assistant turns of a conversation are trained (unless `train_on_input` trains all).
public enum ChatTrainingScope: String, Codable, Sendable, CaseIterable {
    /// Every assistant turn and its end-of-turn token.
    case allAssistant = "all_assistant"
    /// Only the final assistant turn: earlier ones are context.
    case lastAssistant = "last_assistant"
}

/// The turn strings of a turn-based template.
private struct TurnStrings {
    var systemPrefix: String, systemSuffix: String
    var userPrefix: String, userSuffix: String
    var assistantPrefix: String
    /// Trained with the response: the end-of-turn text.
    var assistantEnd: String
    /// Whether EOS follows the end-of-turn text (trained).
    var assistantEOS: Bool
    /// Untrained text between an assistant turn and the next turn.
    var separator: String
}

extension TemplateKind {
    /// Renders `content` to pieces. `systemPrompt` is used when the record has no system turn.
    /// Throws `JinjaChat.Failure` when a model's chat template cannot render it.
    public func render(
        _ content: RecordContent, systemPrompt: String? = nil, scope: ChatTrainingScope = .allAssistant
    ) throws -> [Piece] {
        if case let .text(text) = content {
            // A text record is trained on as it stands, whatever the template: special-token
            // texts in it are parsed (it is often a conversation already rendered), and EOS
            // follows unless the text ends with it (`ExampleEncoder`).
            return [Piece(kind: .text(text, allowSpecial: true), trained: true), Piece(kind: .eos, trained: true)]
        }
        switch self {
        case let .jinja(t):
            return try t.render(Self.messages(content, systemPrompt: systemPrompt), scope: scope)
        case .alpaca:
            return renderAlpaca(content, systemPrompt: systemPrompt, scope: scope)
        default:
            return renderTurns(content, systemPrompt: systemPrompt, scope: scope, strings: turnStrings())
        }
    }

    private func turnStrings() -> TurnStrings {
        switch self {
        case .chatml:
            return TurnStrings(
                systemPrefix: "<|im_start|>system\n", systemSuffix: "<|im_end|>\n",
                userPrefix: "<|im_start|>user\n", userSuffix: "<|im_end|>\n",
                assistantPrefix: "<|im_start|>assistant\n", assistantEnd: "<|im_end|>",
                assistantEOS: false, separator: "\n")
        case .llama3:
            return TurnStrings(
                systemPrefix: "<|start_header_id|>system<|end_header_id|>\n\n", systemSuffix: "<|eot_id|>",
                userPrefix: "<|start_header_id|>user<|end_header_id|>\n\n", userSuffix: "<|eot_id|>",
                assistantPrefix: "<|start_header_id|>assistant<|end_header_id|>\n\n", assistantEnd: "<|eot_id|>",
                assistantEOS: false, separator: "")
        case .plain, .alpaca, .jinja:
            return TurnStrings(
                systemPrefix: "", systemSuffix: "\n\n", userPrefix: "", userSuffix: "\n",
                assistantPrefix: "", assistantEnd: "", assistantEOS: true, separator: "\n")
        case let .custom(t):
            func split(_ s: String, _ p: String) -> (String, String) {
                guard let r = s.range(of: p) else { return (s, "") }
                return (String(s[..<r.lowerBound]), String(s[r.upperBound...]))
            }
            let (sp, ss) = split(t.system, "{system}")
            let (up, us) = split(t.user, "{user}")
            let (ap, ae) = split(t.assistant, "{assistant}")
            return TurnStrings(
                systemPrefix: sp, systemSuffix: ss, userPrefix: up, userSuffix: us,
                assistantPrefix: ap, assistantEnd: ae, assistantEOS: t.appendEOS, separator: "")
        }
    }

    /// The conversation a record stands for: instruction records are one user turn
    /// (instruction, a blank line, then the input if any) and one assistant turn; a text is
    /// one assistant turn (templates never render it: `render` trains on it as it is).
    static func messages(_ content: RecordContent, systemPrompt: String?) -> [Message] {
        var messages: [Message]
        switch content {
        case let .instruction(instruction, input, response):
            let user = input.isEmpty ? instruction : instruction + "\n\n" + input
            messages = [Message(role: .user, content: user), Message(role: .assistant, content: response)]
        case let .chat(m):
            messages = m
        case let .text(t):
            messages = [Message(role: .assistant, content: t)]
        }
        if let systemPrompt, !messages.contains(where: { $0.role == .system }) {
            messages.insert(Message(role: .system, content: systemPrompt), at: 0)
        }
        return messages
    }

    private func renderTurns(
        _ content: RecordContent, systemPrompt: String?, scope: ChatTrainingScope, strings s: TurnStrings
    ) -> [Piece] {
        let messages = Self.messages(content, systemPrompt: systemPrompt)
        let lastAssistant = messages.lastIndex(where: { $0.role == .assistant })
        var pieces: [Piece] = []
        for (i, m) in messages.enumerated() {
            switch m.role {
            case .system:
                pieces += [.template(s.systemPrefix), .content(m.content, trained: false), .template(s.systemSuffix)]
            case .user:
                pieces += [.template(s.userPrefix), .content(m.content, trained: false), .template(s.userSuffix)]
            case .assistant:
                let trained = scope == .allAssistant || i == lastAssistant
                pieces.append(.template(s.assistantPrefix))
                pieces.append(.content(m.content, trained: trained))
                pieces.append(Piece(kind: .text(s.assistantEnd, allowSpecial: true), trained: trained))
                if s.assistantEOS { pieces.append(Piece(kind: .eos, trained: trained)) }
                if i != messages.count - 1 || !s.separator.isEmpty { pieces.append(.template(s.separator)) }
            }
        }
        return pieces.filter { if case let .text(t, _) = $0.kind { return !t.isEmpty } else { return true } }
    }

    /// Stanford Alpaca's preambles and headers, verbatim.
    static let alpacaPreambleWithInput =
        "Below is an instruction that describes a task, paired with an input that provides further context. Write a response that appropriately completes the request.\n\n"
    static let alpacaPreambleNoInput =
        "Below is an instruction that describes a task. Write a response that appropriately completes the request.\n\n"

    /// Alpaca: an instruction record renders verbatim as Stanford Alpaca. A conversation renders
    /// each user turn as `### Instruction:` and each assistant turn as the response, separated by a
    /// blank line; a system turn replaces the preamble.
    private func renderAlpaca(_ content: RecordContent, systemPrompt: String?, scope: ChatTrainingScope) -> [Piece] {
        if case let .instruction(instruction, input, response) = content {
            var pieces: [Piece] = []
            if input.isEmpty {
                pieces.append(.template((systemPrompt.map { $0 + "\n\n" } ?? Self.alpacaPreambleNoInput) + "### Instruction:\n"))
                pieces.append(.content(instruction, trained: false))
            } else {
                pieces.append(.template((systemPrompt.map { $0 + "\n\n" } ?? Self.alpacaPreambleWithInput) + "### Instruction:\n"))
                pieces.append(.content(instruction, trained: false))
                pieces.append(.template("\n\n### Input:\n"))
                pieces.append(.content(input, trained: false))
            }
            pieces.append(.template("\n\n### Response:"))
            pieces.append(.content(response, trained: true))
            pieces.append(Piece(kind: .eos, trained: true))
            return pieces
        }
        let messages = Self.messages(content, systemPrompt: systemPrompt)
        let lastAssistant = messages.lastIndex(where: { $0.role == .assistant })
        var pieces: [Piece] = []
        let system = messages.first(where: { $0.role == .system })?.content
        pieces.append(.template(system.map { _ in "" } ?? Self.alpacaPreambleNoInput))
        if let system { pieces += [.content(system, trained: false), .template("\n\n")] }
        for (i, m) in messages.enumerated() where m.role != .system {
            if m.role == .user {
                pieces += [.template("### Instruction:\n"), .content(m.content, trained: false), .template("\n\n### Response:")]
            } else {
                let trained = scope == .allAssistant || i == lastAssistant
                pieces += [.content(m.content, trained: trained), Piece(kind: .eos, trained: trained)]
                if i != messages.count - 1 { pieces.append(.template("\n\n")) }
            }
        }
        return pieces.filter { if case let .text(t, _) = $0.kind { return !t.isEmpty } else { return true } }
    }
}

extension TemplateKind: Codable {
    private enum CodingKeys: String, CodingKey { case system, user, assistant, eos }

    /// A built-in template is its name (`"chatml"`); a custom one the object
    /// `{"system", "user", "assistant", "eos"}` (a model card stores it so).
    public init(from decoder: Decoder) throws {
        if let jinja = try? JinjaChat(from: decoder) {
            self = .jinja(jinja)
            return
        }
        if let name = try? decoder.singleValueContainer().decode(String.self) {
            guard let t = TemplateKind(name: name) else {
                throw DecodingError.dataCorrupted(.init(codingPath: decoder.codingPath,
                                                        debugDescription: "unknown template \"\(name)\"; known: \(TemplateKind.builtInNames.joined(separator: ", "))"))
            }
            self = t
            return
        }
        let c = try decoder.container(keyedBy: CodingKeys.self)
        let t = CustomTemplate(system: try c.decode(String.self, forKey: .system), user: try c.decode(String.self, forKey: .user),
                               assistant: try c.decode(String.self, forKey: .assistant), appendEOS: try c.decode(Bool.self, forKey: .eos))
        try t.validate()
        self = .custom(t)
    }

    public func encode(to encoder: Encoder) throws {
        if case let .jinja(t) = self {
            try t.encode(to: encoder)
        } else if case let .custom(t) = self {
            var c = encoder.container(keyedBy: CodingKeys.self)
            try c.encode(t.system, forKey: .system)
            try c.encode(t.user, forKey: .user)
            try c.encode(t.assistant, forKey: .assistant)
            try c.encode(t.appendEOS, forKey: .eos)
        } else {
            var c = encoder.singleValueContainer()
            try c.encode(name)
        }
    }
}
