/// Errors from reading or writing other tools' formats and checkpoints as models. Every case
/// names the file (and key or tensor) and says what to do next.
public enum InteropError: Error, Equatable, CustomStringConvertible {
    /// A file or directory is missing, unreadable or inconsistent; `reason` says how and what to do.
    case invalid(path: String, reason: String)
    /// A key, value or component we do not implement; ignoring it would give wrong results.
    case unsupported(path: String, key: String, reason: String)
    /// A checkpoint without `model_card.json`.
    case noModelCard(directory: String)

    public var description: String {
        switch self {
        case let .invalid(path, reason):
            return "\(path): \(reason)"
        case let .unsupported(path, key, reason):
            return "\(path): `\(key)`: \(reason)"
        case let .noModelCard(directory):
            return "\(directory)/\(ModelCard.fileName): missing, so the model's shape, tokenizer and template are unknown. "
                + "Checkpoints written by `instruct train` and `instruct import` have one; re-import the model, or resume the run once with this version to re-save it."
        }
    }
}
