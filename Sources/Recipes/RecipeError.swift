/// Errors from loading and validating recipes. Every case names the recipe file and the
/// dotted key path (`training.lr`) involved, and says what is expected.
public enum RecipeError: Error, Equatable, CustomStringConvertible {
    /// The recipe file could not be read.
    case unreadableFile(path: String, reason: String)

    /// Human-readable text naming the file and key, and what to do next.
    public var description: String {
        switch self {
        case let .unreadableFile(path, reason):
            return "\(path): cannot read the recipe (\(reason)). Check the path; recipes/ holds ready ones."
        }
    }
}
