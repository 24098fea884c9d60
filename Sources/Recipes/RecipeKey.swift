import Foundation
import Tokenizers
import Yams

/// Whether a key may differ between a checkpoint's recipe and the recipe that resumes it.
enum ResumeRule: Sendable {
    /// The saved run's model, tokenizer or data would not be those of this run: refuse.
    case mustMatch
    /// Allowed, and reported (`training.max_steps`, `eval.every`, ...).
    case mayChange
}

/// One key of a recipe section, written once: its name, how it is read from YAML into the
/// section (type, default, allowed range), how the resolved recipe writes it back, whether a
/// resume may change it, and whether data-parallel ranks may differ in it.
///
/// A section lists its keys in one table (`static let keys: [RecipeKey<Self>]`); decoding,
/// the resolved recipe, the resume comparison and the ranks' hash all walk that table, so a
/// key name appears in exactly one place.
struct RecipeKey<Section> {
    /// The key as written in YAML (`batch_size`).
    let name: String
    /// Whether resuming may change it.
    let resume: ResumeRule
    /// True for keys that only change how one process computes (`training.threads`), which
    /// data-parallel ranks may set differently.
    let perRank: Bool
    /// Reads the key from `fields` into the section (absent: leaves the default).
    let read: (inout Section, RecipeFields) throws -> Void
    /// The key's resolved value, or nil to leave it out of the resolved recipe.
    let write: (Section) -> Node?

    init(_ name: String, resume: ResumeRule = .mayChange, perRank: Bool = false,
         read: @escaping (inout Section, RecipeFields) throws -> Void, write: @escaping (Section) -> Node?) {
        self.name = name
        self.resume = resume
        self.perRank = perRank
        self.read = read
        self.write = write
    }
}

/// A section read through a key table.
protocol RecipeSection {
    /// The section's keys, in the order they are read and written.
    static var keys: [RecipeKey<Self>] { get }
}

extension RecipeSection {
    /// The names of the section's keys (what `RecipeFields` accepts).
    static var keyNames: [String] { keys.map(\.name) }

    /// Reads every key of the table from `f` into `self` (which holds the defaults).
    mutating func read(_ f: RecipeFields) throws {
        for key in Self.keys { try key.read(&self, f) }
    }

    /// The section as a resolved mapping: every key the table writes, in table order.
    var resolved: Node {
        .mapping(Node.Mapping(Self.keys.compactMap { key in key.write(self).map { (Node(key.name), $0) } }))
    }

    /// `(dotted key, resolved text, rule, perRank)` for every key, prefixed with `path`.
    func flattened(path: String) -> [(key: String, value: String, resume: ResumeRule, perRank: Bool)] {
        Self.keys.map { key in
            (RecipeFields.join(path, key.name), key.write(self).map(ResolvedText.flow) ?? "(unset)", key.resume, key.perRank)
        }
    }
}

// MARK: - Key builders for the common value types

extension RecipeKey {
    static func int(_ name: String, _ path: WritableKeyPath<Section, Int>, atLeast minimum: Int, atMost maximum: Int = .max,
                    resume: ResumeRule = .mayChange, perRank: Bool = false) -> RecipeKey {
        RecipeKey(name, resume: resume, perRank: perRank,
                  read: { s, f in s[keyPath: path] = try f.int(name, default: s[keyPath: path], atLeast: minimum, atMost: maximum) },
                  write: { .plain($0[keyPath: path]) })
    }

    static func int(_ name: String, _ path: WritableKeyPath<Section, Int?>, atLeast minimum: Int, atMost maximum: Int = .max,
                    resume: ResumeRule = .mayChange) -> RecipeKey {
        RecipeKey(name, resume: resume,
                  read: { s, f in
                      if f.value(name) != nil { s[keyPath: path] = try f.int(name, default: 0, atLeast: minimum, atMost: maximum) }
                  },
                  write: { $0[keyPath: path].map { .plain($0) } })
    }

    static func uint64(_ name: String, _ path: WritableKeyPath<Section, UInt64>, resume: ResumeRule = .mayChange) -> RecipeKey {
        RecipeKey(name, resume: resume,
                  read: { s, f in s[keyPath: path] = try f.uint64(name, default: s[keyPath: path]) },
                  write: { .plain($0[keyPath: path]) })
    }

    static func uint64(_ name: String, _ path: WritableKeyPath<Section, UInt64?>, resume: ResumeRule = .mayChange) -> RecipeKey {
        RecipeKey(name, resume: resume,
                  read: { s, f in if f.value(name) != nil { s[keyPath: path] = try f.uint64(name, default: 0) } },
                  write: { $0[keyPath: path].map { .plain($0) } })
    }

    static func double(_ name: String, _ path: WritableKeyPath<Section, Double>, in range: ClosedRange<Double>,
                       below upper: Double? = nil, resume: ResumeRule = .mayChange) -> RecipeKey {
        RecipeKey(name, resume: resume,
                  read: { s, f in s[keyPath: path] = try f.double(name, default: s[keyPath: path], in: range, below: upper) },
                  write: { .plain($0[keyPath: path]) })
    }

    static func bool(_ name: String, _ path: WritableKeyPath<Section, Bool>, resume: ResumeRule = .mayChange) -> RecipeKey {
        RecipeKey(name, resume: resume,
                  read: { s, f in s[keyPath: path] = try f.bool(name, default: s[keyPath: path]) },
                  write: { .plain($0[keyPath: path]) })
    }

    static func choice<E: RawRepresentable & CaseIterable>(_ name: String, _ path: WritableKeyPath<Section, E>,
                                                           resume: ResumeRule = .mayChange) -> RecipeKey where E.RawValue == String {
        RecipeKey(name, resume: resume,
                  read: { s, f in s[keyPath: path] = try f.choice(name, default: s[keyPath: path]) },
                  write: { Node($0[keyPath: path].rawValue) })
    }

    static func string(_ name: String, _ path: WritableKeyPath<Section, String>, resume: ResumeRule = .mayChange) -> RecipeKey {
        RecipeKey(name, resume: resume,
                  read: { s, f in s[keyPath: path] = try f.string(name, default: s[keyPath: path]) },
                  write: { .quoted($0[keyPath: path]) })
    }

    static func string(_ name: String, _ path: WritableKeyPath<Section, String?>, resume: ResumeRule = .mayChange) -> RecipeKey {
        RecipeKey(name, resume: resume,
                  read: { s, f in if let v = try f.optionalString(name) { s[keyPath: path] = v } },
                  write: { $0[keyPath: path].map(Node.quoted) })
    }

    /// A required text key (`data.datasets[i].path`).
    static func requiredString(_ name: String, _ path: WritableKeyPath<Section, String>, resume: ResumeRule = .mayChange) -> RecipeKey {
        RecipeKey(name, resume: resume,
                  read: { s, f in s[keyPath: path] = try f.requiredString(name) },
                  write: { .quoted($0[keyPath: path]) })
    }

    /// An optional nested section (`tokenizer.train`): present means "use it", with the
    /// nested section's own defaults for its absent keys.
    static func section<S: RecipeSection>(_ name: String, _ path: WritableKeyPath<Section, S?>, default make: @escaping () -> S,
                                          resume: ResumeRule = .mayChange) -> RecipeKey {
        RecipeKey(name, resume: resume,
                  read: { s, f in
                      guard f.value(name) != nil else { return }
                      var nested = make()
                      try nested.read(f.section(name, known: S.keyNames))
                      s[keyPath: path] = nested
                  },
                  write: { $0[keyPath: path]?.resolved })
    }
}

extension Node {
    /// A number or boolean as written (`0.002`, `true`): a plain scalar that reads back as one.
    static func plain(_ value: some CustomStringConvertible) -> Node { Node(value.description) }

    /// A text scalar that is always quoted (so `"1"` or `"true"` stays text when read back).
    static func quoted(_ text: String) -> Node { .scalar(.init(text, .init(.str), .doubleQuoted)) }

    /// A flow-style list of scalars, `[a, b]`.
    static func flowList(_ items: [Node]) -> Node { .sequence(.init(items, .init(.seq), .flow)) }

    /// A flow-style mapping, `{a: 1}`.
    static func flowMapping(_ pairs: [(String, Node)]) -> Node {
        .mapping(.init(pairs.map { (Node($0.0), $0.1) }, .init(.map), .flow))
    }
}

/// Text forms of resolved values.
enum ResolvedText {
    /// A value on one line (`[q, v]`, `{a: 1}`, `"text"`), for resume reports and hashing.
    static func flow(_ node: Node) -> String {
        switch node {
        case let .scalar(s):
            return s.style == .doubleQuoted || s.style == .singleQuoted ? quoted(s.string) : s.string
        case let .sequence(items):
            return "[" + items.map(flow).joined(separator: ", ") + "]"
        case let .mapping(pairs):
            return "{" + pairs.map { "\($0.key.string ?? ""): \(flow($0.value))" }.joined(separator: ", ") + "}"
        case .alias:
            return "*"
        }
    }

    /// A YAML double-quoted scalar (JSON string syntax is valid YAML).
    static func quoted(_ s: String) -> String { JSONText.quoted(s) }
}
