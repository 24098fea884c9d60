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
/// formats (`messages`, ShareGPT) become `.chat`. Templates render either kind.
public enum RecordContent: Equatable, Sendable {
    /// A single instruction, an optional input (context) and the response to train on.
    case instruction(instruction: String, input: String, response: String)
    /// A conversation; it holds at least one assistant turn with text.
    case chat([Message])
}

/// A record together with where it came from, for error messages and `data inspect`.
public struct Record: Equatable, Sendable {
    /// The record's content.
    public var content: RecordContent
    /// The file it was read from.
    public var path: String
    /// Its 1-based line (JSONL) or the line where its object starts (JSON array).
    public var line: Int

    /// A record read from `path` at `line`.
    public init(content: RecordContent, path: String, line: Int) {
        self.content = content
        self.path = path
        self.line = line
    }
}
