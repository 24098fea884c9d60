/// Errors from reading, rendering, packing and caching datasets. Each case names the
/// file, line and field involved so a user can fix the record.
///
/// Lines are 1-based. For JSONL files a line is the record's line; for a JSON array or CSV
/// file it is the line where the record starts, and `record` is its 1-based number in the
/// file (a one-line JSON array holds every record on line 1). `record` is nil in JSONL.
public enum DatasetError: Error, Equatable, CustomStringConvertible {
    /// A file could not be read at all.
    case unreadableFile(path: String, reason: String)
    /// The file holds no bytes or only whitespace.
    case emptyFile(path: String)
    /// A line (or the whole JSON array file) is not valid JSON, or a record is not an object.
    case malformedJSON(path: String, line: Int, reason: String, record: Int? = nil)
    /// A CSV row cannot be read as a record (another number of fields than the header).
    case malformedCSV(path: String, line: Int, reason: String, record: Int? = nil)
    /// The file's own structure is broken where records cannot be told apart any more (a JSON
    /// array without its closing `]` or with text between records, a CSV quote never closed,
    /// a bad CSV header). Not skippable: the records after it are unknown.
    case malformedFile(path: String, line: Int, reason: String, record: Int? = nil)
    /// A record holds bytes that are not UTF-8.
    case invalidUTF8(path: String, line: Int, record: Int? = nil)
    /// A required field is absent from a record.
    case missingField(path: String, line: Int, field: String, record: Int? = nil)
    /// A field holds the wrong JSON type (for example a number where text is expected).
    case wrongFieldType(path: String, line: Int, field: String, expected: String, record: Int? = nil)
    /// A field that must hold text (a response, an assistant turn) is empty.
    case emptyField(path: String, line: Int, field: String, record: Int? = nil)
    /// A conversation's structure is unusable (unknown role, no assistant turn).
    case invalidConversation(path: String, line: Int, field: String, reason: String, record: Int? = nil)
    /// The record's fields match none of the known formats.
    case unknownFormat(path: String, line: Int, fields: [String], record: Int? = nil)
    /// Nothing is left to train on after reading, rendering and the length policy.
    case noExamples(path: String, reason: String)
    /// A template needs a special token the tokenizer lacks (EOS for alpaca or plain).
    case missingSpecialToken(token: String, template: String)
    /// A custom template is unusable (placeholder missing or repeated).
    case invalidTemplate(field: String, reason: String)
    /// An option has a value the pipeline cannot use (seq_len below 2, negative weight).
    case invalidOption(field: String, reason: String)
    /// The cache file could not be written.
    case cacheWriteFailed(path: String, reason: String)
    /// A cache file exists but is truncated, from another version, or not a cache file.
    case corruptCache(path: String, reason: String)
    /// A model's chat template failed on a record (it raised, or its renderings of the
    /// conversation's prefixes are not prefixes of each other, so turns cannot be told apart).
    case templateFailed(path: String, line: Int, template: String, reason: String, record: Int? = nil)
    /// A saved loader cursor belongs to other data (a different fingerprint) or lies out of range.
    case cursorMismatch(reason: String)

    /// Short stable name used to count skipped records per reason in the preflight report.
    public var reasonKey: String {
        switch self {
        case .unreadableFile: return "unreadable_file"
        case .emptyFile: return "empty_file"
        case .malformedJSON: return "malformed_json"
        case .malformedCSV: return "malformed_csv"
        case .malformedFile: return "malformed_file"
        case .invalidUTF8: return "invalid_utf8"
        case .missingField: return "missing_field"
        case .wrongFieldType: return "wrong_field_type"
        case .emptyField: return "empty_field"
        case .invalidConversation: return "invalid_conversation"
        case .unknownFormat: return "unknown_format"
        case .noExamples: return "no_examples"
        case .missingSpecialToken: return "missing_special_token"
        case .invalidTemplate: return "invalid_template"
        case .invalidOption: return "invalid_option"
        case .cacheWriteFailed: return "cache_write_failed"
        case .corruptCache: return "corrupt_cache"
        case .cursorMismatch: return "cursor_mismatch"
        case .templateFailed: return "template_failed"
        }
    }

    /// Whether `on_bad_record: skip` may skip the record instead of stopping.
    /// Only problems confined to one record are skippable; file-level problems are not.
    public var isRecordLevel: Bool {
        switch self {
        case .malformedJSON, .malformedCSV, .invalidUTF8, .missingField, .wrongFieldType, .emptyField,
             .invalidConversation, .unknownFormat, .templateFailed:
            return true
        default:
            return false
        }
    }

    /// Human-readable text naming where the problem is and what to do next.
    public var description: String {
        let skipHint = " Fix the record, or set `on_bad_record: skip` in the recipe's data section to skip such records and count them."
        switch self {
        case let .unreadableFile(path, reason):
            return "\(path): cannot read the file (\(reason)). Check the path in the recipe's data section."
        case let .emptyFile(path):
            return "\(path): the file is empty. Point the recipe at a file with at least one record."
        case let .malformedJSON(path, line, reason, record):
            return at(path, line, record) + ": not a valid JSON object (\(reason))." + skipHint
        case let .malformedCSV(path, line, reason, record):
            return at(path, line, record) + ": not a usable CSV row (\(reason))." + skipHint
        case let .malformedFile(path, line, reason, record):
            return at(path, line, record) + ": \(reason). Fix the file; records after this point cannot be told apart."
        case let .invalidUTF8(path, line, record):
            return at(path, line, record) + ": the record is not valid UTF-8. Re-encode the file as UTF-8." + skipHint
        case let .missingField(path, line, field, record):
            return at(path, line, record) + ": field `\(field)` is missing. Add it, or map another column to it with `columns:` in the recipe." + skipHint
        case let .wrongFieldType(path, line, field, expected, record):
            return at(path, line, record) + ": field `\(field)` must be \(expected)." + skipHint
        case let .emptyField(path, line, field, record):
            return at(path, line, record) + ": field `\(field)` is empty, so there would be nothing to train on." + skipHint
        case let .invalidConversation(path, line, field, reason, record):
            return at(path, line, record) + ": field `\(field)`: \(reason)." + skipHint
        case let .unknownFormat(path, line, fields, record):
            return at(path, line, record) + ": cannot tell the record format from its fields [\(fields.joined(separator: ", "))]. Set `format:` (alpaca, dolly, prompt_completion, text, messages, sharegpt) and `columns:` for this dataset in the recipe."
        case let .noExamples(path, reason):
            return "\(path): no examples left to train on (\(reason)). Check the file, seq_len and the length policy."
        case let .missingSpecialToken(token, template):
            return "template \(template) needs the tokenizer's \(token) token, which it lacks. Choose a template whose turns end in text (chatml, llama3) or a custom one."
        case let .invalidTemplate(field, reason):
            return "custom template field `\(field)`: \(reason). Example: `user: \"[INST] {user} [/INST]\"`."
        case let .invalidOption(field, reason):
            return "data option `\(field)`: \(reason)."
        case let .cacheWriteFailed(path, reason):
            return "\(path): cannot write the data cache (\(reason)). Check that the cache directory is writable, or set `data.cache_dir`."
        case let .corruptCache(path, reason):
            return "\(path): the data cache is unusable (\(reason)). Delete the file; it is rebuilt on the next run."
        case let .templateFailed(path, line, template, reason, record):
            return at(path, line, record) + ": the chat template \(template) cannot render this record: \(reason)." + skipHint
        case let .cursorMismatch(reason):
            return "cannot resume the data loader: \(reason). Resume with the recipe and data the checkpoint was made with."
        }
    }

    /// `path:line`, or `path: record N (line L)` in a JSON array or CSV file.
    private func at(_ path: String, _ line: Int, _ record: Int?) -> String {
        RecordLocation(line: line, record: record).describe(in: path)
    }
}
