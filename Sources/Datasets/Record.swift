/// Who speaks a turn of a conversation.
public enum Role: String, Codable, Sendable, Equatable {
    case system, user, assistant
}

/// One turn of a conversation.
public struct Message: Equatable, Sendable {
    /// Who speaks.
    public var role: Role
    /// What is said, exactly as in the file.
    public var content: String

    /// A turn spoken by `role`.
    public init(role: Role, content: String) {
        self.role = role
        self.content = content
    }
}

/// One training record after reading, independent of the file format it came from.
///
/// Instruction formats (Alpaca, Dolly, prompt/completion) become `.instruction`, chat
/// formats (`messages`, ShareGPT) become `.chat`, and plain `{"text": ...}` records `.text`.
/// Templates render the first two; a text is trained on as it is.
public enum RecordContent: Equatable, Sendable {
    /// A single instruction, an optional input (context) and the response to train on.
    case instruction(instruction: String, input: String, response: String)
    /// A conversation; it holds at least one assistant turn with text.
    case chat([Message])
    /// A text to train on whole (language modelling, or conversations already rendered):
    /// no template, every token a target, then EOS unless the text ends with it.
    case text(String)
}

/// Where a record is in its file: its line, and for JSON array and CSV files its number.
public struct RecordLocation: Equatable, Sendable {
    /// The 1-based line the record starts on.
    public var line: Int
    /// The 1-based record number in a JSON array or CSV file (where a line may hold many
    /// records, or one record many lines); nil in JSONL, where the line names the record.
    public var record: Int?

    /// A location.
    public init(line: Int, record: Int? = nil) {
        self.line = line
        self.record = record
    }

    /// `path:line` for JSONL, `path: record N (line L)` otherwise (how errors name a record).
    public func describe(in path: String) -> String {
        record.map { "\(path): record \($0) (line \(line))" } ?? "\(path):\(line)"
    }
}

/// A record together with where it came from, for error messages and `data inspect`.
public struct Record: Equatable, Sendable {
    /// The record's content.
    public var content: RecordContent
    /// The file it was read from.
    public var path: String
    /// Its 1-based line (JSONL) or the line where it starts (JSON array, CSV).
    public var line: Int
    /// Its 1-based number in a JSON array or CSV file; nil in JSONL.
    public var record: Int?

    /// A record read from `path` at `line` (and, in a JSON array or CSV file, number `record`).
    public init(content: RecordContent, path: String, line: Int, record: Int? = nil) {
        self.content = content
        self.path = path
        self.line = line
        self.record = record
    }

    /// Where it is in its file.
    public var location: RecordLocation { RecordLocation(line: line, record: record) }
}
