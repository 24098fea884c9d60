import Foundation
import Tokenizers

/// What to do with a preference pair whose two sides do not fit one row of `seq_len` tokens.
public enum PromptOverflow: String, Codable, Sendable, CaseIterable {
    /// Drop the pair and count it (`too_long`).
    case drop
    /// Cut the shared prompt from the left (after BOS), the same tokens on both sides, until
    /// the pair fits; counted as truncated. The responses are never cut.
    case truncateLeft = "truncate_left"
}

/// How preference records become rows (set by a recipe's `preference:` section).
public struct PreferenceDataOptions: Equatable, Sendable {
    /// Pairs that do not fit a row. Default truncate_left (TRL's `truncation_mode` default,
    /// keep_end): the end of the conversation, nearest the responses, matters most.
    public var promptOverflow: PromptOverflow = .truncateLeft

    /// The defaults.
    public init(promptOverflow: PromptOverflow = .truncateLeft) { self.promptOverflow = promptOverflow }
}

/// One preference record: the same prompt answered twice, the preferred answer first. Each
/// side is a whole SFT record (the prompt plus that answer), rendered with the same templates
/// and masks as supervised data; only the final answer's tokens count (the last assistant turn).
///
/// Accepted shapes (TRL's, plus OpenAssistant's `messages` form):
///
/// | fields | sides |
/// | --- | --- |
/// | `prompt`: string (and optional `input`), `chosen` / `rejected`: strings | an instruction record (as Alpaca's) |
/// | `prompt` or `messages`: turns, `chosen` / `rejected`: strings | the turns, then the answer |
/// | `prompt`: turns, `chosen` / `rejected`: turns | the prompt's turns, then each side's turns |
/// | `chosen` / `rejected`: turns (no prompt) | each list whole; the prompt is their shared first turns |
public struct PreferencePair: Equatable, Sendable {
    /// The prompt and the preferred answer.
    public var chosen: RecordContent
    /// The prompt and the other answer.
    public var rejected: RecordContent

    /// A pair.
    public init(chosen: RecordContent, rejected: RecordContent) {
        self.chosen = chosen
        self.rejected = rejected
    }

    /// Decodes one record's fields; errors name the file, the line and the field (an empty
    /// side is `emptyField`, a side without an answer `invalidConversation`).
    static func decode(_ object: [String: Any], path: String, at location: RecordLocation, columns: ColumnMapping) throws -> PreferencePair {
        let d = RecordDecoder(path: path, format: .preference, columns: columns)
        let roles: [String: Role] = ["system": .system, "user": .user, "assistant": .assistant]
        func turns(_ field: String) throws -> [Message] {
            try d.conversationTurns(object, listField: field, roles: roles, line: location)
        }
        func isList(_ field: String) -> Bool { object[columns.column(for: field)] is [Any] }
        let promptField = object[columns.column(for: "prompt")] != nil && !(object[columns.column(for: "prompt")] is NSNull)
            ? "prompt" : (object[columns.column(for: "messages")] != nil ? "messages" : nil)
        if !isList("chosen") || !isList("rejected") {
            // Answers as strings: the prompt is a string (an instruction) or a list of turns.
            let c = try d.text(object, "chosen", line: location), r = try d.text(object, "rejected", line: location)
            guard let promptField else {
                throw DatasetError.missingField(path: path, line: location.line, field: columns.column(for: "prompt"), record: location.record)
            }
            if isList(promptField) {
                let prompt = try turns(promptField)
                return PreferencePair(chosen: .chat(prompt + [Message(role: .assistant, content: c)]),
                                      rejected: .chat(prompt + [Message(role: .assistant, content: r)]))
            }
            // An instruction, with an optional `input` (context) as in Alpaca records.
            let p = try d.text(object, promptField, line: location), input = try d.optionalText(object, "input", line: location)
            return PreferencePair(chosen: .instruction(instruction: p, input: input, response: c),
                                  rejected: .instruction(instruction: p, input: input, response: r))
        }
        // Answers as turns: after an explicit prompt, or whole conversations sharing a prefix.
        let prompt = try promptField.map { try turns($0) } ?? []
        let c = try turns("chosen"), r = try turns("rejected")
        for (field, side) in [("chosen", c), ("rejected", r)] where side.last?.role != .assistant {
            throw DatasetError.invalidConversation(path: path, line: location.line, field: columns.column(for: field),
                                                   reason: "the last turn must be the assistant's answer", record: location.record)
        }
        return PreferencePair(chosen: .chat(prompt + c), rejected: .chat(prompt + r))
    }
}

extension RecordDecoder {
    /// A list of `{role, content}` turns (content may be empty except for assistant turns).
    func conversationTurns(_ object: [String: Any], listField: String, roles: [String: Role], line: RecordLocation) throws -> [Message] {
        guard let value = object[columns.column(for: listField)], !(value is NSNull) else {
            throw DatasetError.missingField(path: path, line: line.line, field: columns.column(for: listField), record: line.record)
        }
        guard let list = value as? [Any], !list.isEmpty else {
            throw DatasetError.emptyField(path: path, line: line.line, field: columns.column(for: listField), record: line.record)
        }
        // `conversation` insists on an assistant turn; a prompt has none, so check it on a copy
        // with a stand-in answer and drop that again.
        var copy = object
        copy[columns.column(for: listField)] = list + [[columns.column(for: "role"): "assistant", columns.column(for: "content"): "."]]
        let messages = try conversation(copy, listField: listField, roleField: "role", contentField: "content", roles: roles, line: line)
        return Array(messages.dropLast())
    }
}

/// One pair tokenized: both sides, with the number of leading prompt tokens they share.
struct TokenizedPair {
    var chosen: TokenizedExample
    var rejected: TokenizedExample

    /// Tokens before the first trained token of `e` (its prompt).
    static func promptLength(_ e: TokenizedExample) -> Int {
        (1..<e.tokens.count).first { e.trained[$0] } ?? e.tokens.count
    }

    /// What the row budget does with the pair: kept, truncated (prompt cut on both sides), or
    /// dropped with the report's reason (`too_long`, `response_too_long`, `no_trained_tokens`).
    func fit(seqLen: Int, overflow: PromptOverflow, bos: Int32?) -> DataPipeline.PairOutcome {
        if chosen.trainedTargetCount == 0 || rejected.trainedTargetCount == 0 { return .dropped("no_trained_tokens") }
        let total = chosen.tokens.count + rejected.tokens.count
        if total <= seqLen { return .kept(self) }
        if overflow == .drop { return .dropped("too_long") }
        let pc = Self.promptLength(chosen), pr = Self.promptLength(rejected)
        let keepBOS = bos != nil && chosen.tokens.first == bos && rejected.tokens.first == bos ? 1 : 0
        // Each side keeps at least one prompt token (BOS, or the last prompt token) so the
        // answer's first token is a target.
        let cut = (total - seqLen + 1) / 2  // ceil((total - seqLen) / 2)
        let floor = max(keepBOS, 1)
        if pc - cut < floor || pr - cut < floor { return .dropped("response_too_long") }
        let c = chosen.truncatedFromLeft(to: chosen.tokens.count - cut, bos: keepBOS == 1 ? bos : nil)
        let r = rejected.truncatedFromLeft(to: rejected.tokens.count - cut, bos: keepBOS == 1 ? bos : nil)
        return .truncated(TokenizedPair(chosen: c, rejected: r))
    }
}

extension DataPipeline {
    /// What the row budget does with one pair.
    enum PairOutcome {
        case kept(TokenizedPair)
        case truncated(TokenizedPair)
        case dropped(String)
    }

    /// Preference data: reads pairs, renders and tokenizes both sides with the SFT encoder
    /// (only the last assistant turn trained), fits each pair in one row (chosen side then
    /// rejected side, as two examples), splits pairs into train and validation, and writes one
    /// row per pair: `[chosen example | rejected example | padding]`, segment ids 1 and 2.
    /// Pairs whose two answers are the same text are dropped (`chosen_equals_rejected`).
    static func buildPreference(_ spec: DatasetSpec, dataDigest: [UInt8], config: DataConfig, options: PreferenceDataOptions,
                                tokenizer: any TextTokenizer, into writer: DataCacheWriter) throws -> PreflightReport {
        var report = PreflightReport()
        let encoder = try ExampleEncoder(tokenizer: tokenizer, template: spec.template ?? config.defaultTemplate ?? RecordFormat.preference.defaultTemplate,
                                         systemPrompt: spec.systemPrompt, trainOnInput: false, scope: .lastAssistant)
        var lengths: [Int32] = []  // per pair: both sides
        func skip(_ error: DatasetError) throws {
            guard config.onBadRecord == .skip, error.isRecordLevel else { throw error }
            report.skippedByReason[error.reasonKey, default: 0] += 1
            report.skipped += 1
        }
        let counts = try RecordReader.streamObjects(path: spec.path, format: spec.format, columns: spec.columns,
                                                    onBadRecord: config.onBadRecord) { fields, location in
            let pair: PreferencePair
            do {
                pair = try PreferencePair.decode(fields, path: spec.path, at: location, columns: spec.columns)
            } catch let e as DatasetError {
                return try skip(e)
            }
            if pair.chosen == pair.rejected {
                report.droppedByReason["chosen_equals_rejected", default: 0] += 1
                return
            }
            let tokenized: TokenizedPair
            do {
                tokenized = TokenizedPair(chosen: try encoder.encode(pair.chosen), rejected: try encoder.encode(pair.rejected))
            } catch {
                return try skip(DatasetError.templateFailed(path: spec.path, line: location.line, template: encoder.template.name,
                                                            reason: "\(error)", record: location.record))
            }
            let kept: TokenizedPair
            switch tokenized.fit(seqLen: config.seqLen, overflow: options.promptOverflow, bos: tokenizer.bosTokenID) {
            case let .kept(p): kept = p
            case let .truncated(p):
                kept = p
                report.truncated += 1
            case let .dropped(reason):
                report.droppedByReason[reason, default: 0] += 1
                return
            }
            try writer.append(kept.chosen)
            try writer.append(kept.rejected)
            lengths.append(Int32(kept.chosen.tokens.count + kept.rejected.tokens.count))
            report.tokens += kept.chosen.tokens.count + kept.rejected.tokens.count
            report.trainedTokens += kept.chosen.trainedTargetCount + kept.rejected.trainedTargetCount
        }
        try DataPipeline.finishCounts(&report, counts, examples: lengths.count, what: "preference records", path: spec.path)
        // Validation split over pairs, as SFT's over examples.
        let held = DataPipeline.heldOut(count: lengths.count, fraction: spec.validationFraction, seed: config.seed,
                                        dataDigest: dataDigest)
        var train: [UInt32] = [], validation: [UInt32] = []
        for i in lengths.indices {
            if held[i] { validation += [UInt32(2 * i), UInt32(2 * i + 1)] } else { train += [UInt32(2 * i), UInt32(2 * i + 1)] }
        }
        func plan(_ members: [UInt32]) -> PackingPlan {
            PackingPlan(seqLen: config.seqLen, rows: stride(from: 0, to: members.count, by: 2).map { [Int32($0), Int32($0 + 1)] })
        }
        report.examples = lengths.count
        report.validationExamples = validation.count / 2
        let trainPlan = plan(train), validationPlan = plan(validation)
        report.rows = trainPlan.rows.count + validationPlan.rows.count
        report.packingEfficiency = Double(report.tokens) / Double(max(1, report.rows * config.seqLen))
        report.lengthHistogram = PreflightReport.histogram(lengths.map { Int($0) }, seqLen: config.seqLen)
        try writer.finish(report: report, splits: [(train, trainPlan), (validation, validationPlan)])
        return report
    }
}

extension RecordReader {
    /// Reads `path` a chunk at a time (JSONL, JSON array or CSV, as `stream`) and calls `body`
    /// with each record's fields, undecoded, and its location: for formats decoded elsewhere
    /// (preference pairs). Malformed JSON is a bad record under `onBadRecord` as in `stream`.
    public static func streamObjects(
        path: String, format: RecordFormat = .auto, columns: ColumnMapping = ColumnMapping(), onBadRecord: BadRecordPolicy = .error,
        _ body: ([String: Any], RecordLocation) throws -> Void
    ) throws -> RecordCounts {
        var chunks = try FileChunks(path: path)
        defer { chunks.closeFile() }
        // `scan` keeps no reference to `body` past its return.
        return try withoutActuallyEscaping(body) { body in
            try scan(path: path, format: format == .auto ? .preference : format, columns: columns, onBadRecord: onBadRecord,
                     next: { try chunks.next() }, objects: body) { _, _ in }
        }
    }
}
