import Datasets
import Yams

/// Reads the keys of one recipe mapping with types and defaults. Unknown keys are rejected
/// when the reader is made, with the closest known key as a suggestion.
struct RecipeFields {
    /// Dotted path of this mapping (`data.datasets[0]`); empty at the root.
    let path: String
    /// Where the mapping was written.
    let source: String
    private let pairs: [String: RecipeValue]

    /// Reads `value` (a mapping, or absent/null for "all defaults") at `path`, allowing only `known` keys.
    init(_ value: RecipeValue?, path: String, known: [String], parentSource: String) throws {
        self.path = path
        switch value {
        case nil:
            source = parentSource
            pairs = [:]
        case let .null(s)?:
            source = s
            pairs = [:]
        case let .mapping(list, s)?:
            source = s
            var dict: [String: RecipeValue] = [:]
            for (k, v) in list {
                guard known.contains(k) else {
                    throw RecipeError.unknownKey(
                        source: v.source, key: Self.join(path, k),
                        suggestion: closest(to: k, in: known).map { Self.join(path, $0) })
                }
                dict[k] = v
            }
            pairs = dict
        case let v?:
            throw RecipeError.wrongType(source: v.source, key: path.isEmpty ? "(recipe)" : path, expected: "a mapping of keys", found: v.typeDescription)
        }
    }

    static func join(_ path: String, _ key: String) -> String { path.isEmpty ? key : path + "." + key }

    /// The dotted path of `key` in this mapping.
    func keyPath(_ key: String) -> String { Self.join(path, key) }

    /// The raw value of `key`; null reads as absent.
    func value(_ key: String) -> RecipeValue? {
        if case .null? = pairs[key] { return nil }
        return pairs[key]
    }

    /// The value of `key`, null included (absent: nil).
    func valueIncludingNull(_ key: String) -> RecipeValue? { pairs[key] }

    /// Where `key` was written (its value's source), else this mapping's source.
    func sourceOf(_ key: String) -> String { pairs[key]?.source ?? source }

    private func scalar(_ key: String, expected: String) throws -> (String, Node, String)? {
        guard let v = value(key) else { return nil }
        guard case let .scalar(text, node, source) = v else {
            throw RecipeError.wrongType(source: v.source, key: keyPath(key), expected: expected, found: v.typeDescription)
        }
        return (text, node, source)
    }

    func string(_ key: String, default d: String) throws -> String { try optionalString(key) ?? d }

    func optionalString(_ key: String) throws -> String? {
        try scalar(key, expected: "text")?.0
    }

    func requiredString(_ key: String) throws -> String {
        guard let s = try optionalString(key) else {
            throw RecipeError.missingKey(source: source, key: keyPath(key))
        }
        return s
    }

    /// An integer in `minimum...maximum` (absent: `d`).
    func int(_ key: String, default d: Int, atLeast minimum: Int, atMost maximum: Int = .max) throws -> Int {
        guard let (text, node, source) = try scalar(key, expected: "an integer") else { return d }
        guard let v = node.int else {
            throw RecipeError.wrongType(source: source, key: keyPath(key), expected: "an integer", found: "\"\(text)\"")
        }
        guard v >= minimum else {
            throw RecipeError.invalidValue(source: source, key: keyPath(key), reason: "must be at least \(minimum), got \(v)")
        }
        guard v <= maximum else {
            throw RecipeError.invalidValue(source: source, key: keyPath(key), reason: "must be at most \(maximum), got \(v)")
        }
        return v
    }

    func uint64(_ key: String, default d: UInt64) throws -> UInt64 {
        guard let (text, _, source) = try scalar(key, expected: "a non-negative integer") else { return d }
        guard let v = UInt64(text) else {
            throw RecipeError.wrongType(source: source, key: keyPath(key), expected: "a non-negative integer", found: "\"\(text)\"")
        }
        return v
    }

    func optionalUInt64(_ key: String) throws -> UInt64? {
        value(key) == nil ? nil : try uint64(key, default: 0)
    }

    func double(_ key: String, default d: Double, in range: ClosedRange<Double>? = nil, below upper: Double? = nil) throws -> Double {
        guard let (text, node, source) = try scalar(key, expected: "a number") else { return d }
        guard let v = node.float, v.isFinite else {
            throw RecipeError.wrongType(source: source, key: keyPath(key), expected: "a number", found: "\"\(text)\"")
        }
        if let range, !range.contains(v) {
            throw RecipeError.invalidValue(source: source, key: keyPath(key), reason: "must be in \(range.lowerBound)...\(range.upperBound), got \(text)")
        }
        if let upper, v >= upper {
            throw RecipeError.invalidValue(source: source, key: keyPath(key), reason: "must be below \(upper), got \(text)")
        }
        return v
    }

    func bool(_ key: String, default d: Bool) throws -> Bool {
        guard let (text, _, source) = try scalar(key, expected: "true or false") else { return d }
        switch text {
        case "true", "True", "TRUE": return true
        case "false", "False", "FALSE": return false
        default:
            throw RecipeError.wrongType(source: source, key: keyPath(key), expected: "true or false", found: "\"\(text)\"")
        }
    }

    func choice<E: RawRepresentable & CaseIterable>(_ key: String, default d: E) throws -> E where E.RawValue == String {
        guard let (text, _, source) = try scalar(key, expected: "one of \(E.allCases.map(\.rawValue).joined(separator: ", "))") else { return d }
        if let e = E(rawValue: text) { return e }
        let names = E.allCases.map(\.rawValue)
        let hint = closest(to: text, in: names).map { "; did you mean \($0)?" } ?? ""
        throw RecipeError.invalidValue(source: source, key: keyPath(key), reason: "\"\(text)\" is not one of \(names.joined(separator: ", "))\(hint)")
    }

    /// A nested mapping (absent or null: all defaults).
    func section(_ key: String, known: [String]) throws -> RecipeFields {
        try RecipeFields(pairs[key], path: keyPath(key), known: known, parentSource: sourceOf(key))
    }

    /// A list of non-empty texts (absent or null: empty); an item of another kind is named
    /// with its index (`eval.samples.prompts[1]`).
    func texts(_ key: String) throws -> [String] {
        try list(key).enumerated().map { i, v in
            guard case let .scalar(text, _, _) = v, !text.isEmpty else {
                throw RecipeError.wrongType(source: v.source, key: keyPath(key) + "[\(i)]", expected: "a non-empty string",
                                            found: v.typeDescription)
            }
            return text
        }
    }

    /// The items of a list (absent or null: empty).
    func list(_ key: String) throws -> [RecipeValue] {
        guard let v = value(key) else { return [] }
        guard case let .sequence(items, _) = v else {
            throw RecipeError.wrongType(source: v.source, key: keyPath(key), expected: "a list", found: v.typeDescription)
        }
        return items
    }
}
