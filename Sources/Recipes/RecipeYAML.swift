/// Checks recipe text before a YAML parser builds a tree from it.
///
/// Yams composes a document with its aliases already expanded, and hashes mapping keys while
/// it does so; a few hundred bytes of nested anchors and aliases (`a: &a [x, x]`,
/// `b: &b [*a, *a]`, ...) then grow to gigabytes or hash for minutes before any key is read.
/// Recipes need neither anchors nor aliases, so this scan refuses them, with the line and
/// column, before the text reaches Yams. It also bounds what the recursive composer and tree
/// conversion would have to walk: the text's size and its nesting.
///
/// The scan follows YAML's token rules closely enough for recipes: `&` and `*` start an
/// anchor or alias only where a node can start (line start, after `- `, `? `, `: `, `[`, `{`,
/// `,` or a tag); they are text inside quoted scalars, block scalars (`|`, `>`), comments and
/// plain scalars (`a & b`, `2*3`). A continuation line of a multi-line plain scalar that starts
/// with `&` or `*` is refused too (the message says to quote it): the scan does not track the
/// block indentation that would tell it apart, and refusing is the safe side.
enum RecipeYAML {
    /// Largest recipe text read (recipes are a few KiB; data belongs in data files).
    static let maximumBytes = 4 << 20
    /// Deepest nesting of flow collections and of block indentation levels accepted.
    static let maximumDepth = 64
    /// Largest number of values (scalars, mappings, lists) a recipe tree may hold once
    /// composed: a backstop behind the anchor check (shipped recipes hold about 100).
    static let maximumNodes = 100_000

    /// Throws `RecipeError.unsupportedYAML` naming `file`, the line and the column of the first
    /// anchor or alias, or of nesting deeper than `maximumDepth`; and when the text is larger
    /// than `maximumBytes`.
    static func check(_ text: String, file: String) throws {
        let bytes = Array(text.utf8)
        if bytes.count > maximumBytes {
            throw RecipeError.unsupportedYAML(
                source: file, reason: "the recipe is \(bytes.count) bytes, more than the \(maximumBytes)-byte limit; a recipe names its data files and does not hold the data")
        }
        var scanner = Scanner(bytes: bytes)
        if let problem = scanner.firstProblem() {
            throw RecipeError.unsupportedYAML(source: "\(file):\(problem.line):\(problem.column)", reason: problem.reason)
        }
    }

    /// What the scan found: where, and why it is refused.
    struct Problem: Equatable {
        var line: Int
        var column: Int
        var reason: String
    }

    /// A single pass over the UTF-8 bytes of the text.
    struct Scanner {
        let b: [UInt8]
        var i = 0
        var line = 1
        var lineStart = 0
        /// Depth of `[`/`{` nesting.
        var flow = 0
        /// Whether the next non-blank byte starts a token (a node, or an indicator).
        var tokenStart = true
        /// Whether the previous byte was blank or the line start (a `#` then starts a comment).
        var afterBlank = true
        /// Leading spaces of the open block levels (for the nesting limit).
        var indents: [Int] = []

        init(bytes: [UInt8]) { b = bytes }

        private func byte(_ k: Int) -> UInt8? { k < b.count ? b[k] : nil }
        private func isBlankOrEnd(_ k: Int) -> Bool {
            guard let c = byte(k) else { return true }
            return c == 0x20 || c == 0x09 || c == 0x0A || c == 0x0D
        }
        private func isFlowIndicator(_ c: UInt8?) -> Bool {
            guard let c else { return false }
            return c == UInt8(ascii: ",") || c == UInt8(ascii: "[") || c == UInt8(ascii: "]")
                || c == UInt8(ascii: "{") || c == UInt8(ascii: "}")
        }
        private var column: Int { i - lineStart + 1 }

        private mutating func newLine() {
            i += 1
            line += 1
            lineStart = i
            tokenStart = true
            afterBlank = true
        }

        private mutating func skipToEndOfLine() {
            while i < b.count && b[i] != 0x0A { i += 1 }
        }

        /// The leading spaces of the line that starts at `start`, or nil for a blank line.
        private func indentation(at start: Int) -> Int? {
            var k = start
            while k < b.count && b[k] == 0x20 { k += 1 }
            if k >= b.count || b[k] == 0x0A || (b[k] == 0x0D && byte(k + 1) == 0x0A) { return nil }
            if b[k] == UInt8(ascii: "#") { return nil }
            return k - start
        }

        /// The name after `&` or `*` at `i`, for the message.
        private func name(at k: Int) -> String {
            var e = k + 1
            while e < b.count && !isBlankOrEnd(e) && !isFlowIndicator(b[e]) && e - k < 64 { e += 1 }
            return String(decoding: b[k..<e], as: UTF8.self)
        }

        mutating func firstProblem() -> Problem? {
            while i < b.count {
                let c = b[i]
                if c == 0x0A {
                    newLine()
                    if let p = checkIndentation() { return p }
                    continue
                }
                if c == 0x20 || c == 0x09 || c == 0x0D {
                    i += 1
                    afterBlank = true
                    continue
                }
                if c == UInt8(ascii: "#") && afterBlank {
                    skipToEndOfLine()
                    continue
                }
                afterBlank = false
                if tokenStart {
                    if let p = token(c) { return p }
                } else {
                    plain(c)
                }
            }
            return nil
        }

        /// The nesting limit for the line just started (blank and comment lines do not count).
        private mutating func checkIndentation() -> Problem? {
            guard flow == 0, let indent = indentation(at: lineStart) else { return nil }
            while let last = indents.last, last >= indent { indents.removeLast() }
            indents.append(indent)
            if indents.count > maximumDepth {
                return Problem(line: line, column: indent + 1,
                               reason: "the recipe nests deeper than \(maximumDepth) levels; recipes are a few levels deep")
            }
            return nil
        }

        /// A byte where a token starts.
        private mutating func token(_ c: UInt8) -> Problem? {
            if c == UInt8(ascii: "&") || c == UInt8(ascii: "*") {
                let text = name(at: i)
                let what = c == UInt8(ascii: "&") ? "a YAML anchor" : "a YAML alias"
                return Problem(line: line, column: column,
                               reason: "`\(text)` is \(what); recipes take no anchors or aliases (a few bytes of them can expand to "
                                   + "gigabytes): write the values out, or quote the text if it is not meant as one")
            }
            if c == UInt8(ascii: "!") {
                // A tag: the node (and possibly an anchor) follows it.
                while i < b.count && !isBlankOrEnd(i) { i += 1 }
                return nil
            }
            if c == UInt8(ascii: "\"") || c == UInt8(ascii: "'") {
                quoted(c)
                tokenStart = false
                return nil
            }
            if (c == UInt8(ascii: "|") || c == UInt8(ascii: ">")) && flow == 0 {
                blockScalar()
                return nil
            }
            if (c == UInt8(ascii: "-") || c == UInt8(ascii: "?") || c == UInt8(ascii: ":"))
                && (isBlankOrEnd(i + 1) || (flow > 0 && isFlowIndicator(byte(i + 1)))) {
                i += 1  // a block entry, explicit key or value indicator: a node may follow
                return nil
            }
            if (c == UInt8(ascii: "-") || c == UInt8(ascii: ".")) && i == lineStart && byte(i + 1) == c && byte(i + 2) == c
                && isBlankOrEnd(i + 3) {
                i += 3  // a document marker
                return nil
            }
            if c == UInt8(ascii: "%") && i == lineStart {
                skipToEndOfLine()  // a directive
                return nil
            }
            if c == UInt8(ascii: "[") || c == UInt8(ascii: "{") { return openFlow() }
            if c == UInt8(ascii: "]") || c == UInt8(ascii: "}") {
                flow = max(0, flow - 1)
                i += 1
                tokenStart = false
                return nil
            }
            if c == UInt8(ascii: ",") && flow > 0 {
                i += 1
                return nil
            }
            // A plain scalar starts; `&` and `*` inside it are text.
            tokenStart = false
            i += 1
            return nil
        }

        /// A byte inside a plain scalar (or after a quoted one): only `: ` and, in flow
        /// collections, the flow indicators end it.
        private mutating func plain(_ c: UInt8) {
            if c == UInt8(ascii: ":") && (isBlankOrEnd(i + 1) || (flow > 0 && isFlowIndicator(byte(i + 1)))) {
                tokenStart = true
                i += 1
                return
            }
            if flow > 0 {
                switch c {
                case UInt8(ascii: ","):
                    tokenStart = true
                case UInt8(ascii: "["), UInt8(ascii: "{"):
                    flow += 1
                    tokenStart = true
                case UInt8(ascii: "]"), UInt8(ascii: "}"):
                    flow = max(0, flow - 1)
                default:
                    break
                }
            }
            i += 1
        }

        private mutating func openFlow() -> Problem? {
            flow += 1
            if flow > maximumDepth {
                return Problem(line: line, column: column,
                               reason: "the recipe nests deeper than \(maximumDepth) levels; recipes are a few levels deep")
            }
            i += 1
            return nil
        }

        /// Skips a quoted scalar starting at `i` (it may span lines). An unclosed one is left
        /// to the YAML parser to report.
        private mutating func quoted(_ quote: UInt8) {
            i += 1
            while i < b.count {
                let c = b[i]
                if c == 0x0A {
                    i += 1
                    line += 1
                    lineStart = i
                    continue
                }
                if quote == UInt8(ascii: "\"") && c == UInt8(ascii: "\\") {
                    i += 2
                    continue
                }
                if c == quote {
                    if quote == UInt8(ascii: "'") && byte(i + 1) == quote {
                        i += 2  // '' is one quote
                        continue
                    }
                    i += 1
                    return
                }
                i += 1
            }
        }

        /// Skips a block scalar: its header line, then every line that is blank or indented at
        /// least as far as its first non-blank line, when that one is indented further than the
        /// line holding the header (else the scalar is empty).
        private mutating func blockScalar() {
            let headerIndent = indentation(at: lineStart) ?? 0
            skipToEndOfLine()
            guard i < b.count else { return }
            var k = i + 1
            var content: Int? = nil
            var lineCount = 0
            var lastContentEnd = i
            while k < b.count {
                var e = k
                while e < b.count && b[e] != 0x0A { e += 1 }
                var s = k
                while s < e && b[s] == 0x20 { s += 1 }
                let blank = s == e || (b[s] == 0x0D && s + 1 == e)
                if !blank {
                    let indent = s - k
                    if content == nil {
                        guard indent > headerIndent else { break }
                        content = indent
                    }
                    guard let content, indent >= content else { break }
                }
                lineCount += 1
                lastContentEnd = e
                k = e + 1
            }
            guard lineCount > 0 else { return }
            // Count the lines skipped and stop at the newline ending the last content line.
            line += lineCount
            i = lastContentEnd
            lineStart = b[..<i].lastIndex(of: 0x0A).map { $0 + 1 } ?? 0
        }
    }
}
