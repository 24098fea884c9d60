extension ExampleEncoder {
    /// The tokens a model sees before it must answer: the example rendered and encoded
    /// exactly as for training, cut before the first trained piece (the response of an
    /// instruction record; the last assistant turn's content when the chat scope is
    /// `last_assistant`). Generation starts from these ids, so a model is prompted exactly
    /// as it was trained. `trainOnInput` does not move the cut.
    /// Throws `JinjaChat.Failure` when a model's chat template cannot render `content`.
    public func promptTokens(_ content: RecordContent) throws -> [Int32] {
        var tokens: [Int32] = []
        for piece in try template.render(content, systemPrompt: systemPrompt, scope: scope) {
            if piece.trained { break }
            switch piece.kind {
            case let .text(text, allowSpecial):
                tokens += tokenizer.encode(text, allowSpecial: allowSpecial)
            case .eos:
                if let eos = tokenizer.eosTokenID { tokens.append(eos) }
            }
        }
        if let bos = tokenizer.bosTokenID, tokens.first != bos { tokens.insert(bos, at: 0) }
        return tokens
    }
}

/// The text a tokenizer is trained on when a recipe asks to train one from its data.
public enum TrainingCorpus {
    /// Every record of every dataset in `config`, rendered with its template (template
    /// text included, so the vocabulary learns the prompt format too), one record per
    /// paragraph. EOS markers are left out: they are special tokens, never merged.
    public static func text(_ config: DataConfig) throws -> String {
        var out = ""
        for spec in config.datasets {
            _ = try RecordReader.stream(path: spec.path, format: spec.format, columns: spec.columns,
                                        onBadRecord: config.onBadRecord) { record, format in
                let template = spec.template ?? config.defaultTemplate ?? format.defaultTemplate
                let pieces: [Piece]
                do {
                    pieces = try template.render(record.content, systemPrompt: spec.systemPrompt, scope: config.chatScope)
                } catch {
                    throw DatasetError.templateFailed(path: record.path, line: record.line, template: template.name, reason: "\(error)",
                                                      record: record.record)
                }
                for piece in pieces {
                    if case let .text(t, _) = piece.kind { out += t }
                }
                out += "\n"
            }
        }
        return out
    }
}
