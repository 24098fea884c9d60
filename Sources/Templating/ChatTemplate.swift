/// A model's chat template, rendered the way transformers' `apply_chat_template(messages,
/// tokenize=False, add_generation_prompt=...)` renders it.
///
/// Before rendering, as transformers does: keys whose value is `None` are dropped from each
/// message, a message's reasoning (`reasoning_content`, `thinking` or `reasoning`) is also
/// offered as `thinking` (first key) and `reasoning_content` (last key), and the template
/// sees `messages`, `tools`, `documents` (None when not given), `add_generation_prompt`, the
/// tokenizer's special tokens (`bos_token`, `eos_token`, ...) and any extra variables, which
/// override special tokens of the same name.
public struct ChatTemplate: Sendable {
    /// The parsed template.
    public let template: Template
    /// Named special tokens passed as variables, as transformers passes
    /// `tokenizer.special_tokens_map`: `bos_token`, `eos_token`, `unk_token`, `pad_token`, ...
    public var specialTokens: [String: String]

    /// Parses `source` (the `chat_template` string of tokenizer_config.json or chat_template.jinja).
    public init(source: String, name: String = "chat_template", specialTokens: [String: String] = [:]) throws {
        self.template = try Template(source: source, name: name)
        self.specialTokens = specialTokens
    }

    /// Wraps an already parsed template.
    public init(template: Template, specialTokens: [String: String] = [:]) {
        self.template = template
        self.specialTokens = specialTokens
    }

    /// Renders a conversation.
    ///
    /// - Parameters:
    ///   - messages: the conversation, each message a dict (`["role": "user", "content": "hi"]`).
    ///   - addGenerationPrompt: end with the header that starts an assistant reply.
    ///   - tools: tool JSON schemas, or nil (the template sees `None`).
    ///   - documents: retrieval documents, or nil.
    ///   - variables: extra template variables (`date_string`, `enable_thinking`, ...).
    ///   - options: the clock for `strftime_now` and the caps.
    public func render(
        messages: [Value], addGenerationPrompt: Bool = false, tools: [Value]? = nil, documents: [Value]? = nil,
        variables: [String: Value] = [:], options: RenderOptions = RenderOptions()
    ) throws -> Rendering {
        var context: [String: Value] = [:]
        for (k, v) in specialTokens { context[k] = .string(v) }
        for (k, v) in variables { context[k] = v }
        context["messages"] = .array(try messages.enumerated().map { try normalize($0.element, index: $0.offset) })
        context["tools"] = tools.map { Value.array($0) } ?? Value.none
        context["documents"] = documents.map { Value.array($0) } ?? Value.none
        context["add_generation_prompt"] = .bool(addGenerationPrompt)
        return try template.render(context, options: options)
    }

    private func normalize(_ message: Value, index: Int) throws -> Value {
        guard case .object(let o) = message else {
            throw TemplateError.invalidChat(template: template.name, message: "message \(index) is \(message.typeName), not a dict; chat messages must be dicts")
        }
        var kept = OrderedObject(o.pairs.filter { !$0.value.isNoneValue }.map { ($0.key, $0.value) })
        // transformers: {"thinking": reasoning, **message, "reasoning_content": reasoning}
        if let reasoning = ["reasoning_content", "thinking", "reasoning"].lazy.compactMap({ kept[$0] }).first {
            var aliased = OrderedObject([("thinking", reasoning)])
            for (k, v) in kept.pairs { aliased[k] = v }
            aliased["reasoning_content"] = reasoning
            kept = aliased
        }
        return .object(kept)
    }
}

extension Value {
    var isNoneValue: Bool {
        if case .none = self { return true }
        return false
    }
}
