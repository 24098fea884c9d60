import Tokenizers

/// One example as token ids with, for each token, whether it is a training target.
///
/// `trained[i]` says whether the model is trained to predict `tokens[i]` from `tokens[..<i]`.
/// `trained[0]` is ignored: the first token of an example is never a target.
public struct TokenizedExample: Equatable, Sendable {
    /// Token ids, `[n]`.
    public var tokens: [Int32]
    /// Whether each token is a target, `[n]`.
    public var trained: [Bool]

    /// An example; both arrays have the same length.
    public init(tokens: [Int32], trained: [Bool]) {
        precondition(tokens.count == trained.count, "TokenizedExample: \(tokens.count) tokens but \(trained.count) mask entries")
        self.tokens = tokens
        self.trained = trained
    }

    /// The number of targets actually trained: trained tokens after the first.
    public var trainedTargetCount: Int {
        trained.count < 2 ? 0 : trained[1...].reduce(0) { $0 + ($1 ? 1 : 0) }
    }
}

/// What to do with an example longer than `seq_len`.
public enum LengthPolicy: String, Codable, Sendable, CaseIterable {
    /// Drop it and count it in the preflight report.
    case drop
    /// Cut tokens from the left (after BOS): the prompt goes first, the response's end
    /// (and its EOS) is always kept. Counted as truncated.
    case truncate
}

/// Renders records with a template and tokenizes them piece by piece.
public struct ExampleEncoder {
    /// The tokenizer.
    public let tokenizer: any TextTokenizer
    /// The template.
    public let template: TemplateKind
    /// System prompt used when a record has none (nil: no system turn).
    public let systemPrompt: String?
    /// Train on every token, prompt included.
    public let trainOnInput: Bool
    /// Which assistant turns are trained.
    public let scope: ChatTrainingScope

    /// An encoder; throws if a custom template is invalid or the template needs a missing EOS.
    public init(
        tokenizer: any TextTokenizer, template: TemplateKind, systemPrompt: String? = nil,
        trainOnInput: Bool = false, scope: ChatTrainingScope = .allAssistant
    ) throws {
        if case let .custom(t) = template { try t.validate() }
        let needsEOS: Bool
        switch template {
        case .alpaca, .plain: needsEOS = true
        case .chatml, .llama3, .jinja: needsEOS = false
        case let .custom(t): needsEOS = t.appendEOS
        }
        if needsEOS && tokenizer.eosTokenID == nil {
            throw DatasetError.missingSpecialToken(token: "EOS", template: template.name)
        }
        self.tokenizer = tokenizer
        self.template = template
        self.systemPrompt = systemPrompt
        self.trainOnInput = trainOnInput
        self.scope = scope
    }

    /// Tokenizes `content`: pieces are encoded one by one (template text with special tokens
    /// allowed, record text without), so every token's role is known and the mask is exact.
    ///
    /// BOS rule: the tokenizer's BOS id (if it has one) starts every example, once: it is not
    /// added when the rendered text already starts with it. EOS ids come only from the template
    /// (and after a `.text` record, as torchtune's text-completion datasets add it by default).
    /// Note: BPE merges never cross a piece boundary, so the ids can differ slightly from
    /// encoding the whole text at once; training and generation both use this encoder's pieces.
    /// Throws `JinjaChat.Failure` when a model's chat template cannot render `content`.
    public func encode(_ content: RecordContent) throws -> TokenizedExample {
        var tokens: [Int32] = []
        var trained: [Bool] = []
        for piece in try template.render(content, systemPrompt: systemPrompt, scope: scope) {
            let ids: [Int32]
            switch piece.kind {
            case let .text(text, allowSpecial):
                ids = tokenizer.encode(text, allowSpecial: allowSpecial)
            case .eos:
                // init checked that the EOS id exists whenever a template emits `.eos` (a text
                // record's EOS is left out without one, and when the text already ends with it).
                guard let eos = tokenizer.eosTokenID else { continue }
                if case .text = content, tokens.last == eos { continue }
                ids = [eos]
            }
            tokens += ids
            trained += Array(repeating: piece.trained || trainOnInput, count: ids.count)
        }
        if let bos = tokenizer.bosTokenID, tokens.first != bos {
            tokens.insert(bos, at: 0)
            trained.insert(trainOnInput, at: 0)
        }
        return TokenizedExample(tokens: tokens, trained: trained)
    }
}

extension TokenizedExample {
    /// Cuts the example to `maxLength` tokens from the left, keeping a leading `bos` token:
    /// the prompt (and for chats the earliest turns) goes first, the end of the response stays.
    public func truncatedFromLeft(to maxLength: Int, bos: Int32?) -> TokenizedExample {
        guard tokens.count > maxLength else { return self }
        let keepBOS = bos != nil && tokens.first == bos && maxLength > 1
        let head = keepBOS ? 1 : 0
        let tailStart = tokens.count - (maxLength - head)
        return TokenizedExample(
            tokens: Array(tokens[0..<head]) + Array(tokens[tailStart...]),
            trained: Array(trained[0..<head]) + Array(trained[tailStart...]))
    }
}
