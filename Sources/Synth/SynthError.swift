/// Errors from generating, writing, loading and scoring the synthetic verifiable-instruction
/// dataset (`instruct data synth`). Each case names the file, line and field, or the option,
/// involved, and the message says what to do next.
public enum SynthError: Error, Equatable, CustomStringConvertible {
    /// A file could not be read at all.
    case unreadableFile(path: String, reason: String)

    /// A file or directory could not be written.
    case unwritableFile(path: String, reason: String)

    /// One JSONL line is not a valid synth record. `line` is 1-based; `field` is a dotted
    /// path such as `check.phrase`, or `(line)` when the line is not a JSON object at all.
    case badRecord(path: String, line: Int, field: String, reason: String)

    /// A `SynthOptions` value is out of range. `field` is the option's name.
    case invalidOptions(field: String, reason: String)

    /// A family could not produce enough distinct examples for a split: its space of
    /// (instruction, input) pairs is too small for the requested count.
    case exhausted(family: String, split: String, requested: Int, produced: Int)

    /// Scoring was given a different number of responses than records.
    case responseCountMismatch(records: Int, responses: Int)

    /// Human-readable text naming where the problem is and what to do next.
    public var description: String {
        switch self {
        case let .unreadableFile(path, reason):
            return "\(path): cannot read the file (\(reason)). Check the path; `instruct data synth --out DIR` writes DIR/train.jsonl and DIR/heldout.jsonl."
        case let .unwritableFile(path, reason):
            return "\(path): cannot write (\(reason)). Check that the directory is writable."
        case let .badRecord(path, line, field, reason):
            return "\(path):\(line): field \(field): \(reason)"
        case let .invalidOptions(field, reason):
            return "synth option \(field): \(reason)"
        case let .exhausted(family, split, requested, produced):
            return "family \(family): only \(produced) distinct examples for the \(split) split, \(requested) requested. Ask for fewer examples or widen the family's ranges in SynthOptions."
        case let .responseCountMismatch(records, responses):
            return "scoring needs one response per record: \(records) records, \(responses) responses."
        }
    }
}
