#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import Foundation
import Yams

extension Recipe {
    /// Loads the recipe at `path`, applies `overrides` (`key.path=value`, in order), and
    /// validates everything. Throws `RecipeError` naming the file or override and the key.
    public static func load(path: String, overrides: [String] = []) throws -> Recipe {
        try decode(yaml: try readText(path), file: path, overrides: overrides)
    }

    /// The recipe file's text. A directory, a missing or unreadable file, a file larger than
    /// `RecipeYAML.maximumBytes` and text that is not UTF-8 are refused with a plain reason
    /// (the system's, such as "Permission denied", not a Foundation error code).
    static func readText(_ path: String) throws -> String {
        let fd = open(path, O_RDONLY)
        guard fd >= 0 else { throw RecipeError.unreadableFile(path: path, reason: String(cString: strerror(errno))) }
        defer { close(fd) }
        var st = stat()
        guard fstat(fd, &st) == 0 else { throw RecipeError.unreadableFile(path: path, reason: String(cString: strerror(errno))) }
        switch st.st_mode & S_IFMT {
        case S_IFDIR:
            throw RecipeError.unreadableFile(path: path, reason: "it is a directory, not a recipe file")
        case S_IFREG, S_IFIFO, S_IFCHR:
            break
        default:
            throw RecipeError.unreadableFile(path: path, reason: "it is not a regular file")
        }
        // Read at most one byte past the limit, so a huge file (or an endless device) is
        // refused without being read whole.
        let limit = RecipeYAML.maximumBytes
        var bytes: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 1 << 16)
        while bytes.count <= limit {
            let n = chunk.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
            if n < 0 {
                if errno == EINTR { continue }
                throw RecipeError.unreadableFile(path: path, reason: String(cString: strerror(errno)))
            }
            if n == 0 { break }
            bytes += chunk[0..<n]
        }
        if bytes.count > limit {
            throw RecipeError.unsupportedYAML(
                source: path, reason: "the recipe is larger than the \(limit)-byte limit; a recipe names its data files and does not hold the data")
        }
        guard !bytes.contains(0), let text = String(validating: bytes, as: UTF8.self) else {
            let at = firstInvalidUTF8(bytes)
            throw RecipeError.unreadableFile(path: path, reason: "it is not UTF-8 text (byte \(at) is not valid UTF-8, or the file holds NUL bytes)")
        }
        return text
    }

    /// Decodes recipe text; `file` names it in errors. Anchors, aliases and deep nesting are
    /// refused before the YAML is composed (`RecipeYAML`).
    public static func decode(yaml: String, file: String = "<recipe>", overrides: [String] = []) throws -> Recipe {
        try RecipeYAML.check(yaml, file: file)
        let node: Node?
        do {
            node = try Yams.compose(yaml: yaml)
        } catch {
            throw RecipeError.invalidYAML(path: file, reason: "\(error)")
        }
        var budget = RecipeYAML.maximumNodes
        var root = try node.map { try RecipeValue($0, file: file, budget: &budget) } ?? .null(source: file)
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
            try RecipeYAML.check(raw, file: source)
            if let node = try Yams.compose(yaml: raw) {
                var budget = RecipeYAML.maximumNodes
                value = try RecipeValue(node, file: source, budget: &budget).relabelled(source)
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

/// The offset of the first byte of `bytes` that does not belong to valid UTF-8 (or is NUL).
private func firstInvalidUTF8(_ bytes: [UInt8]) -> Int {
    var offset = 0
    var iterator = bytes.makeIterator()
    var decoder = UTF8()
    while true {
        switch decoder.decode(&iterator) {
        case .scalarValue(let s):
            if s.value == 0 { return offset }
            offset += UTF8.width(s)
        case .emptyInput, .error:
            return offset
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
