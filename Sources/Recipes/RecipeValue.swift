import Yams

/// A recipe's YAML as a small tree that keeps key order and source lines, and that
/// overrides can edit before the schema reads it.
indirect enum RecipeValue: Equatable {
    /// A scalar as written, with its parsed YAML node (for typed reads) and its source.
    case scalar(String, node: Node, source: String)
    case mapping([(key: String, value: RecipeValue)], source: String)
    case sequence([RecipeValue], source: String)
    case null(source: String)

    static func == (a: RecipeValue, b: RecipeValue) -> Bool {
        switch (a, b) {
        case let (.scalar(x, _, _), .scalar(y, _, _)): return x == y
        case let (.mapping(x, _), .mapping(y, _)):
            return x.count == y.count && zip(x, y).allSatisfy { $0.key == $1.key && $0.value == $1.value }
        case let (.sequence(x, _), .sequence(y, _)): return x == y
        case (.null, .null): return true
        default: return false
        }
    }

    /// Where the value was written.
    var source: String {
        switch self {
        case let .scalar(_, _, s), let .mapping(_, s), let .sequence(_, s), let .null(s): return s
        }
    }

    /// The YAML type's name, for "found ..." in errors.
    var typeDescription: String {
        switch self {
        case let .scalar(s, _, _): return "\"\(s)\""
        case .mapping: return "a mapping"
        case .sequence: return "a list"
        case .null: return "nothing (null)"
        }
    }

    /// Converts a Yams node; `file` names the source in errors (lines come from the node).
    /// `budget` is the number of values still allowed: each one converted takes one, and the
    /// conversion stops with an error when none is left (a backstop against a tree that
    /// expands far beyond its text, see `RecipeYAML`).
    init(_ node: Node, file: String, budget: inout Int) throws {
        let source = node.mark.map { "\(file):\($0.line)" } ?? file
        budget -= 1
        guard budget >= 0 else {
            throw RecipeError.unsupportedYAML(source: source, reason: "the recipe holds more than \(RecipeYAML.maximumNodes) values; recipes hold a few hundred")
        }
        switch node {
        case let .scalar(s):
            if s.style == .plain && ["", "~", "null", "Null", "NULL"].contains(s.string) {
                self = .null(source: source)
            } else {
                self = .scalar(s.string, node: node, source: source)
            }
        case let .mapping(m):
            var pairs: [(key: String, value: RecipeValue)] = []
            for (k, v) in m {
                guard let key = k.string else {
                    throw RecipeError.invalidYAML(path: source, reason: "a mapping key must be text")
                }
                pairs.append((key, try RecipeValue(v, file: file, budget: &budget)))
            }
            self = .mapping(pairs, source: source)
        case let .sequence(s):
            var items: [RecipeValue] = []
            for item in s { items.append(try RecipeValue(item, file: file, budget: &budget)) }
            self = .sequence(items, source: source)
        default:
            throw RecipeError.invalidYAML(path: source, reason: "aliases and other YAML features are not supported in recipes")
        }
    }
}
