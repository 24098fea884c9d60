/// Errors from loading and validating recipes. Every case names where the problem is
/// (`source`: the recipe file and line, `recipes/x.yaml:12`, or the override `data.seq_len=abc`)
/// and the dotted key path (`data.datasets[0].weight`) involved, and says what is expected.
public enum RecipeError: Error, Equatable, CustomStringConvertible {
    /// The recipe file could not be read.
    case unreadableFile(path: String, reason: String)
    /// The file is not valid YAML.
    case invalidYAML(path: String, reason: String)
    /// A key the schema does not know, with the closest known key if one is near.
    case unknownKey(source: String, key: String, suggestion: String?)
    /// A required key is absent.
    case missingKey(source: String, key: String)
    /// A value of the wrong YAML type (a list where a number is expected).
    case wrongType(source: String, key: String, expected: String, found: String)
    /// A value of the right type that is not allowed (an unknown enum case, a negative length).
    case invalidValue(source: String, key: String, reason: String)
    /// An override not of the form `key.path=value`, or whose path cannot be followed.
    case invalidOverride(override: String, reason: String)
    /// The run's predicted peak memory (`Training.MemoryPlan`) is above the machine's:
    /// `estimate` lists its parts, `memory` says how much there is and where that was read,
    /// `keys` name the recipe keys (with their values) that drive the largest part, and
    /// `advice` what to change.
    case doesNotFit(source: String, estimate: String, memory: String, keys: [String], advice: String)
    /// Valid YAML that recipes do not take (anchors and aliases, deep nesting, a huge text),
    /// refused before it is parsed; `source` names the file, line and column.
    case unsupportedYAML(source: String, reason: String)

    /// Human-readable text naming the file and key, and what to do next.
    public var description: String {
        switch self {
        case let .unreadableFile(path, reason):
            return "\(path): cannot read the recipe (\(reason)). Check the path; recipes/ holds ready ones."
        case let .invalidYAML(path, reason):
            return "\(path): not valid YAML (\(reason)). Check indentation and quoting."
        case let .unknownKey(source, key, suggestion):
            let hint = suggestion.map { " Did you mean `\($0)`?" } ?? " Remove it; docs/datasets.md lists the keys."
            return "\(source): unknown key `\(key)`.\(hint)"
        case let .missingKey(source, key):
            return "\(source): `\(key)` is required. Add it to the recipe."
        case let .wrongType(source, key, expected, found):
            return "\(source): `\(key)` must be \(expected), found \(found)."
        case let .invalidValue(source, key, reason):
            return "\(source): `\(key)`: \(reason)."
        case let .invalidOverride(override, reason):
            return "override `\(override)`: \(reason). Overrides look like `data.seq_len=1024`."
        case let .doesNotFit(source, estimate, memory, keys, advice):
            return "\(source): the run does not fit in memory: \(estimate), but the machine has \(memory). "
                + "The largest part grows with \(keys.joined(separator: ", ")): \(advice). Nothing was allocated."
        case let .unsupportedYAML(source, reason):
            return "\(source): \(reason)."
        }
    }
}
