import Foundation

/// The layout of records in a dataset file. `auto` detects it from the first record's fields.
///
/// | format | fields (canonical names) |
/// | --- | --- |
/// | alpaca | `instruction`, `input` (optional), `output` |
/// | dolly | `instruction`, `context` (optional), `response` |
/// | prompt_completion | `prompt`, `completion` |
/// | text | `text` (trained on whole: no template, every token a target, then EOS) |
/// | messages | `messages`: [{`role`: system/user/assistant, `content`}] |
/// | sharegpt | `conversations`: [{`from`: system/human/gpt, `value`}] |
/// | preference | `chosen`, `rejected`, and `prompt` or `messages` (PreferencePair.swift; only with a recipe's `preference:` section) |
public enum RecordFormat: String, Codable, Sendable, CaseIterable {
    case auto
    case alpaca
    case dolly
    case promptCompletion = "prompt_completion"
    case text
    case messages
    case sharegpt
    case preference

    /// The canonical field names this format reads; `columns:` in a recipe may rename them.
    public var fields: [String] {
        switch self {
        case .auto: return []
        case .alpaca: return ["instruction", "input", "output"]
        case .dolly: return ["instruction", "context", "response"]
        case .promptCompletion: return ["prompt", "completion"]
        case .text: return ["text"]
        case .messages: return ["messages", "role", "content"]
        case .sharegpt: return ["conversations", "from", "value"]
        case .preference: return ["prompt", "input", "messages", "chosen", "rejected", "role", "content"]
        }
    }

    /// The fields that must be present for detection and reading.
    var requiredFields: [String] {
        switch self {
        case .auto: return []
        case .alpaca: return ["instruction", "output"]
        case .dolly: return ["instruction", "response"]
        case .promptCompletion: return ["prompt", "completion"]
        case .text: return ["text"]
        case .messages: return ["messages"]
        case .sharegpt: return ["conversations"]
        case .preference: return ["chosen", "rejected"]
        }
    }

    /// The template used when the recipe names none: alpaca text for instruction data,
    /// plain for raw prompt/completion pairs, chatml for conversations (texts use none).
    public var defaultTemplate: TemplateKind {
        switch self {
        case .auto, .alpaca, .dolly: return .alpaca
        case .promptCompletion, .text: return .plain
        case .messages, .sharegpt, .preference: return .chatml
        }
    }

    /// Detects the format from a record's top-level field names (after column mapping):
    /// preference (chosen and rejected), then messages, then conversations, then prompt/completion, then alpaca, then dolly, then
    /// text (last: Alpaca dumps that also carry the rendered prompt as `text` stay Alpaca).
    public static func detect(fields: Set<String>, columns: ColumnMapping) -> RecordFormat? {
        for format in [RecordFormat.preference, .messages, .sharegpt, .promptCompletion, .alpaca, .dolly, .text] {
            if format.requiredFields.allSatisfy({ fields.contains(columns.column(for: $0)) }) {
                return format
            }
        }
        return nil
    }
}

/// Renames canonical fields to the columns of a file: `["output": "answer"]` reads the
/// response of an Alpaca record from the file's `answer` field.
public struct ColumnMapping: Equatable, Sendable, Codable {
    /// Canonical field name -> the file's field name.
    public var renames: [String: String]

    /// A mapping; an empty one reads the canonical names.
    public init(_ renames: [String: String] = [:]) { self.renames = renames }

    /// The file's name for the canonical field `field`.
    public func column(for field: String) -> String { renames[field] ?? field }
}

/// Turns one record's fields (a decoded JSON object, or a CSV row by column) into its
/// content, checking every field it uses; errors name the record's location.
struct RecordDecoder {
    let path: String
    let format: RecordFormat
    let columns: ColumnMapping

    func decode(_ object: [String: Any], at location: RecordLocation) throws -> RecordContent {
        let line = location
        switch format {
        case .auto:
            preconditionFailure("RecordDecoder needs a detected format")
        case .alpaca:
            return .instruction(
                instruction: try text(object, "instruction", line: line),
                input: try optionalText(object, "input", line: line),
                response: try text(object, "output", line: line))
        case .dolly:
            return .instruction(
                instruction: try text(object, "instruction", line: line),
                input: try optionalText(object, "context", line: line),
                response: try text(object, "response", line: line))
        case .promptCompletion:
            return .instruction(
                instruction: try text(object, "prompt", line: line),
                input: "",
                response: try text(object, "completion", line: line))
        case .text:
            return .text(try text(object, "text", line: line))
        case .messages:
            return .chat(try conversation(
                object, listField: "messages", roleField: "role", contentField: "content",
                roles: ["system": .system, "user": .user, "assistant": .assistant], line: line))
        case .sharegpt:
            return .chat(try conversation(
                object, listField: "conversations", roleField: "from", contentField: "value",
                roles: ["system": .system, "human": .user, "user": .user,
                        "gpt": .assistant, "assistant": .assistant, "chatgpt": .assistant],
                line: line))
        case .preference:
            throw DatasetError.invalidOption(
                field: "datasets.format",
                reason: "\(location.describe(in: path)) is a preference pair (chosen/rejected); preference data trains only with a "
                    + "`preference:` section in the recipe (docs/preference.md)")
        }
    }

    /// A required, non-empty string field.
    func text(_ object: [String: Any], _ field: String, line: RecordLocation) throws -> String {
        let name = columns.column(for: field)
        guard let value = object[name], !(value is NSNull) else {
            throw DatasetError.missingField(path: path, line: line.line, field: name, record: line.record)
        }
        guard let string = value as? String else {
            throw DatasetError.wrongFieldType(path: path, line: line.line, field: name, expected: "a string", record: line.record)
        }
        if string.allSatisfy(\.isWhitespace) {
            throw DatasetError.emptyField(path: path, line: line.line, field: name, record: line.record)
        }
        return string
    }

    /// An optional string field: absent or null reads as "".
    func optionalText(_ object: [String: Any], _ field: String, line: RecordLocation) throws -> String {
        let name = columns.column(for: field)
        guard let value = object[name], !(value is NSNull) else { return "" }
        guard let string = value as? String else {
            throw DatasetError.wrongFieldType(path: path, line: line.line, field: name, expected: "a string", record: line.record)
        }
        return string
    }

    func conversation(
        _ object: [String: Any], listField: String, roleField: String, contentField: String,
        roles: [String: Role], line: RecordLocation
    ) throws -> [Message] {
        let list = columns.column(for: listField)
        let roleName = columns.column(for: roleField)
        let contentName = columns.column(for: contentField)
        guard let value = object[list], !(value is NSNull) else {
            throw DatasetError.missingField(path: path, line: line.line, field: list, record: line.record)
        }
        guard let turns = value as? [Any] else {
            throw DatasetError.wrongFieldType(path: path, line: line.line, field: list, expected: "an array of turns", record: line.record)
        }
        var messages: [Message] = []
        for (i, turn) in turns.enumerated() {
            let here = "\(list)[\(i)]"
            guard let dict = turn as? [String: Any] else {
                throw DatasetError.wrongFieldType(path: path, line: line.line, field: here, expected: "an object", record: line.record)
            }
            guard let r = dict[roleName], !(r is NSNull) else {
                throw DatasetError.missingField(path: path, line: line.line, field: "\(here).\(roleName)", record: line.record)
            }
            guard let roleText = r as? String else {
                throw DatasetError.wrongFieldType(path: path, line: line.line, field: "\(here).\(roleName)", expected: "a string", record: line.record)
            }
            guard let role = roles[roleText.lowercased()] else {
                throw DatasetError.invalidConversation(
                    path: path, line: line.line, field: "\(here).\(roleName)",
                    reason: "unknown role \"\(roleText)\" (expected one of \(roles.keys.sorted().joined(separator: ", ")))",
                    record: line.record)
            }
            guard let c = dict[contentName], !(c is NSNull) else {
                throw DatasetError.missingField(path: path, line: line.line, field: "\(here).\(contentName)", record: line.record)
            }
            guard let content = c as? String else {
                throw DatasetError.wrongFieldType(path: path, line: line.line, field: "\(here).\(contentName)", expected: "a string", record: line.record)
            }
            if role == .assistant && content.allSatisfy(\.isWhitespace) {
                throw DatasetError.emptyField(path: path, line: line.line, field: "\(here).\(contentName)", record: line.record)
            }
            messages.append(Message(role: role, content: content))
        }
        guard messages.contains(where: { $0.role == .assistant }) else {
            throw DatasetError.invalidConversation(
                path: path, line: line.line, field: list, reason: "no assistant turn, so there is nothing to train on",
                record: line.record)
        }
        return messages
    }
}
