import Foundation
import Yams

extension Recipe {
    /// Loads the recipe at `path`, applies `overrides` (`key.path=value`, in order), and
    /// validates everything. Throws `RecipeError` naming the file or override and the key.
    public static func load(path: String, overrides: [String] = []) throws -> Recipe {
        let text: String
        do {
            text = try String(contentsOfFile: path, encoding: .utf8)
        } catch {
            throw RecipeError.unreadableFile(path: path, reason: error.localizedDescription)
        }
        return try decode(yaml: text, file: path, overrides: overrides)
    }

    /// Decodes recipe text; `file` names it in errors.
    public static func decode(yaml: String, file: String = "<recipe>", overrides: [String] = []) throws -> Recipe {
        let node: Node?
        do {
            node = try Yams.compose(yaml: yaml)
        } catch {
            throw RecipeError.invalidYAML(path: file, reason: "\(error)")
        }
        var root = try node.map { try RecipeValue($0, file: file) } ?? .null(source: file)
        for o in overrides { root = try Override(o).apply(to: root) }
        return try Recipe(from: root, file: file)
    }
}

/// One `key.path=value` override. The value is read as YAML (`3`, `true`, `chatml`,
/// `[a, b]`), then the recipe is validated as if the file had said it, so the same errors
/// (naming the key) apply. List items are addressed by index: `data.datasets.0.weight=2`
/// or `data.datasets[0].weight=2`.
struct Override {
    let text: String
    let path: [String]
    let value: RecipeValue

    init(_ text: String) throws {
        self.text = text
        guard let eq = text.firstIndex(of: "=") else {
            throw RecipeError.invalidOverride(override: text, reason: "no `=` between key and value")
        }
        let key = String(text[..<eq]).replacingOccurrences(of: "[", with: ".").replacingOccurrences(of: "]", with: "")
        let parts = key.split(separator: ".", omittingEmptySubsequences: false).map(String.init)
        guard !parts.isEmpty, parts.allSatisfy({ !$0.isEmpty && $0.allSatisfy { $0.isLetter || $0.isNumber || $0 == "_" } }) else {
            throw RecipeError.invalidOverride(override: text, reason: "`\(text[..<eq])` is not a dotted key path")
        }
        path = parts
        let raw = String(text[text.index(after: eq)...])
        let source = "override `\(text)`"
        do {
            if let node = try Yams.compose(yaml: raw) {
                value = try RecipeValue(node, file: source).relabelled(source)
            } else {
                value = .null(source: source)
            }
        } catch let e as RecipeError {
            throw e
        } catch {
            throw RecipeError.invalidOverride(override: text, reason: "the value is not valid YAML (\(error))")
        }
    }

    func apply(to root: RecipeValue) throws -> RecipeValue {
        try set(root, at: path[...], walked: [])
    }

    private func set(_ node: RecipeValue, at rest: ArraySlice<String>, walked: [String]) throws -> RecipeValue {
        guard let head = rest.first else { return value }
        let here = (walked + [head]).joined(separator: ".")
        switch node {
        case let .mapping(pairs, source):
            var pairs = pairs
            if let i = pairs.firstIndex(where: { $0.key == head }) {
                pairs[i].value = try set(pairs[i].value, at: rest.dropFirst(), walked: walked + [head])
            } else {
                pairs.append((head, try set(.null(source: "override `\(text)`"), at: rest.dropFirst(), walked: walked + [head])))
            }
            return .mapping(pairs, source: source)
        case let .null(source):
            if rest.count == 1 { return .mapping([(head, value)], source: source) }
            return .mapping([(head, try set(.null(source: source), at: rest.dropFirst(), walked: walked + [head]))], source: source)
        case let .sequence(items, source):
            guard let i = Int(head), items.indices.contains(i) else {
                throw RecipeError.invalidOverride(
                    override: text, reason: "`\(here)`: `\(walked.joined(separator: "."))` is a list of \(items.count); use an index 0..<\(items.count)")
            }
            var items = items
            items[i] = try set(items[i], at: rest.dropFirst(), walked: walked + [head])
            return .sequence(items, source: source)
        case .scalar:
            throw RecipeError.invalidOverride(
                override: text, reason: "`\(walked.joined(separator: "."))` is a value, not a section, so it has no `\(head)`")
        }
    }
}

extension RecipeValue {
    /// The same tree with every source set to `source` (an override has no lines).
    func relabelled(_ source: String) -> RecipeValue {
        switch self {
        case let .scalar(s, node, _): return .scalar(s, node: node, source: source)
        case let .mapping(pairs, _): return .mapping(pairs.map { ($0.key, $0.value.relabelled(source)) }, source: source)
        case let .sequence(items, _): return .sequence(items.map { $0.relabelled(source) }, source: source)
        case .null: return .null(source: source)
        }
    }
}
