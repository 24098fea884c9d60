/// Errors from reading, rendering, packing and caching datasets. Each case names the
/// file, line and field involved so a user can fix the record.
public enum DatasetError: Error, Equatable, CustomStringConvertible {
    /// A file could not be read at all.
    case unreadableFile(path: String, reason: String)

    /// Human-readable text naming where the problem is and what to do next.
    public var description: String {
        switch self {
        case let .unreadableFile(path, reason):
            return "\(path): cannot read the file (\(reason)). Check the path in the recipe's data section."
        }
    }
}
