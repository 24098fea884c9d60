/// The template source after jinja2's newline handling, with offset -> line/column lookup.
struct SourceText: Sendable {
    /// UTF-8 bytes with `\r\n` and `\r` turned into `\n` and one trailing newline removed
    /// (jinja2's `keep_trailing_newline=False`).
    let bytes: [UInt8]
    let name: String

    init(_ source: String, name: String) {
        var out: [UInt8] = []
        out.reserveCapacity(source.utf8.count)
        var previousCR = false
        for b in source.utf8 {
            if b == 0x0D {
                out.append(0x0A)
                previousCR = true
                continue
            }
            if b == 0x0A && previousCR {
                previousCR = false
                continue
            }
            previousCR = false
            out.append(b)
        }
        if out.last == 0x0A { out.removeLast() }
        self.bytes = out
        self.name = name
    }

    /// The 1-based line and column (in Unicode scalars) of a byte offset.
    func location(_ offset: Int) -> SourceLocation {
        let end = min(max(offset, 0), bytes.count)
        var line = 1
        var lineStart = 0
        for i in 0..<end where bytes[i] == 0x0A {
            line += 1
            lineStart = i + 1
        }
        // Count scalars, not bytes: continuation bytes (10xxxxxx) do not start a scalar.
        var column = 1
        for i in lineStart..<end where bytes[i] & 0xC0 != 0x80 { column += 1 }
        return SourceLocation(template: name, line: line, column: column)
    }
}

/// Operators, named as jinja2's lexer names them.
enum Operator: String, Sendable {
    case add = "+", sub = "-", div = "/", floorDiv = "//", mul = "*", mod = "%", pow = "**", tilde = "~"
    case lBracket = "[", rBracket = "]", lParen = "(", rParen = ")", lBrace = "{", rBrace = "}"
    case eq = "==", ne = "!=", gt = ">", gtEq = ">=", lt = "<", ltEq = "<=", assign = "="
    case dot = ".", colon = ":", pipe = "|", comma = ",", semicolon = ";"
}

/// One token; `offset` is its first byte in `SourceText.bytes`.
struct Token: Sendable {
    enum Kind: Sendable, Equatable {
        case data(String)
        case blockBegin, blockEnd, variableBegin, variableEnd
        case name(String)
        case string(String)
        case integer(Int)
        case float(Double)
        case op(Operator)
        case end
    }

    var kind: Kind
    var offset: Int
}

/// Splits a template into text and tag tokens, applying whitespace control exactly as
/// transformers configures jinja2: `trim_blocks=True` (one newline after a block or comment tag
/// is removed), `lstrip_blocks=True` (spaces and tabs before a block or comment tag on its own
/// line are removed), and the `-` / `+` markers inside the delimiters.
struct Lexer {
    let source: SourceText
    var bytes: [UInt8] { source.bytes }
    var position = 0
    var tokens: [Token] = []
    /// Whether the last thing matched ended with a newline (jinja2's `line_starting`); it lets
    /// `lstrip_blocks` strip indentation right after a tag whose newline was trimmed.
    var lineStarting = true

    init(source: SourceText) { self.source = source }

    func error(_ message: String, at offset: Int) -> TemplateError {
        .syntax(source.location(offset), message: message)
    }

    static func tokenize(_ source: SourceText) throws -> [Token] {
        var lexer = Lexer(source: source)
        try lexer.run()
        return lexer.tokens
    }

    mutating func run() throws {
        let n = bytes.count
        while position < n {
            guard let tagStart = nextTagStart(from: position) else {
                emitData(position, n)
                return
            }
            let kind = bytes[tagStart + 1]
            var afterBegin = tagStart + 2
            var sign: UInt8 = 0
            if afterBegin < n, bytes[afterBegin] == UInt8(ascii: "-") || bytes[afterBegin] == UInt8(ascii: "+") {
                sign = bytes[afterBegin]
                afterBegin += 1
            }
            let rawEnd = kind == UInt8(ascii: "%") ? matchRawBegin(afterBegin) : nil
            // Whitespace control on the text before the tag.
            var textEnd = tagStart
            if sign == UInt8(ascii: "-") {
                while textEnd > position, isSpaceAt(before: textEnd) { textEnd = startOfScalar(before: textEnd) }
            } else if sign != UInt8(ascii: "+"), kind != UInt8(ascii: "{") {
                textEnd = lstripEnd(textStart: position, textEnd: tagStart)
            }
            emitData(position, textEnd)
            switch kind {
            case UInt8(ascii: "#"):
                try skipComment(from: afterBegin, tagStart: tagStart)
            case UInt8(ascii: "%"):
                if let rawEnd {
                    try readRaw(from: rawEnd)
                } else {
                    tokens.append(Token(kind: .blockBegin, offset: tagStart))
                    position = afterBegin
                    try readTag(isBlock: true, tagStart: tagStart)
                }
            default:
                tokens.append(Token(kind: .variableBegin, offset: tagStart))
                position = afterBegin
                try readTag(isBlock: false, tagStart: tagStart)
            }
        }
    }

    func nextTagStart(from start: Int) -> Int? {
        var i = start
        let n = bytes.count
        while i + 1 < n {
            if bytes[i] == UInt8(ascii: "{") {
                let c = bytes[i + 1]
                if c == UInt8(ascii: "{") || c == UInt8(ascii: "%") || c == UInt8(ascii: "#") { return i }
            }
            i += 1
        }
        return nil
    }

    mutating func emitData(_ start: Int, _ end: Int) {
        guard end > start else { return }
        tokens.append(Token(kind: .data(String(decoding: bytes[start..<end], as: UTF8.self)), offset: start))
    }

    // MARK: Whitespace

    /// The scalar that ends just before `end`.
    func scalar(before end: Int) -> (Unicode.Scalar, Int) {
        var start = end - 1
        while start > 0, bytes[start] & 0xC0 == 0x80 { start -= 1 }
        let s = String(decoding: bytes[start..<end], as: UTF8.self).unicodeScalars.first ?? " "
        return (s, start)
    }

    func startOfScalar(before end: Int) -> Int { scalar(before: end).1 }

    func isSpaceAt(before end: Int) -> Bool { PythonString.isSpace(scalar(before: end).0) }

    /// The scalar starting at `offset` and the offset after it.
    func scalar(at offset: Int) -> (Unicode.Scalar, Int) {
        var end = offset + 1
        while end < bytes.count, bytes[end] & 0xC0 == 0x80 { end += 1 }
        let s = String(decoding: bytes[offset..<end], as: UTF8.self).unicodeScalars.first ?? " "
        return (s, end)
    }

    /// Skips Python `\s*` from `offset`; returns the new offset.
    func skipSpaces(_ offset: Int) -> Int {
        var i = offset
        while i < bytes.count {
            let (c, next) = scalar(at: i)
            guard PythonString.isSpace(c) else { break }
            i = next
        }
        return i
    }

    /// `lstrip_blocks`: if only whitespace lies between the last newline of the text (or the
    /// start of a line) and the tag, that whitespace goes.
    func lstripEnd(textStart: Int, textEnd: Int) -> Int {
        var lineStart = textEnd
        while lineStart > textStart, bytes[lineStart - 1] != 0x0A { lineStart -= 1 }
        guard lineStart > textStart || lineStarting, lineStart < textEnd else { return textEnd }
        var i = lineStart
        while i < textEnd {
            let (c, next) = scalar(at: i)
            guard PythonString.isSpace(c) else { return textEnd }
            i = next
        }
        return lineStart
    }

    /// After a block or comment end: `-` eats all whitespace, `+` nothing, otherwise one newline
    /// (`trim_blocks`). Sets `lineStarting` from what was consumed.
    mutating func finishTagEnd(sign: UInt8, at offset: Int, trimBlocks: Bool) {
        var end = offset
        if sign == UInt8(ascii: "-") {
            end = skipSpaces(offset)
        } else if sign != UInt8(ascii: "+"), trimBlocks, end < bytes.count, bytes[end] == 0x0A {
            end += 1
        }
        lineStarting = end > offset && bytes[end - 1] == 0x0A
        position = end
    }

    // MARK: Comments and raw blocks

    mutating func skipComment(from start: Int, tagStart: Int) throws {
        var i = start
        let n = bytes.count
        while i < n {
            if bytes[i] == UInt8(ascii: "+") || bytes[i] == UInt8(ascii: "-"), i + 2 < n,
                bytes[i + 1] == UInt8(ascii: "#"), bytes[i + 2] == UInt8(ascii: "}")
            {
                finishTagEnd(sign: bytes[i], at: i + 3, trimBlocks: true)
                return
            }
            if bytes[i] == UInt8(ascii: "#"), i + 1 < n, bytes[i + 1] == UInt8(ascii: "}") {
                finishTagEnd(sign: 0, at: i + 2, trimBlocks: true)
                return
            }
            i += 1
        }
        throw error("missing end of comment tag '#}' for the comment opened here", at: tagStart)
    }

    /// Matches `\s*raw\s*(-%}\s*|%})` after `{%` and its sign; returns the offset after it.
    mutating func matchRawBegin(_ start: Int) -> Int? {
        var i = skipSpaces(start)
        let word = Array("raw".utf8)
        guard i + 3 <= bytes.count, Array(bytes[i..<i + 3]) == word else { return nil }
        i = skipSpaces(i + 3)
        if i + 3 <= bytes.count, bytes[i] == UInt8(ascii: "-"), bytes[i + 1] == UInt8(ascii: "%"), bytes[i + 2] == UInt8(ascii: "}") {
            let end = skipSpaces(i + 3)
            lineStarting = end > i + 3 && bytes[end - 1] == 0x0A
            return end
        }
        if i + 2 <= bytes.count, bytes[i] == UInt8(ascii: "%"), bytes[i + 1] == UInt8(ascii: "}") {
            lineStarting = false
            return i + 2
        }
        return nil
    }

    /// Reads a raw block's text up to `{% endraw %}` and emits it as data.
    mutating func readRaw(from start: Int) throws {
        var i = start
        let n = bytes.count
        while let tag = nextTagStart(from: i) {
            i = tag + 1
            guard bytes[tag + 1] == UInt8(ascii: "%") else { continue }
            var j = tag + 2
            var sign: UInt8 = 0
            if j < n, bytes[j] == UInt8(ascii: "-") || bytes[j] == UInt8(ascii: "+") {
                sign = bytes[j]
                j += 1
            }
            j = skipSpaces(j)
            let word = Array("endraw".utf8)
            guard j + word.count <= n, Array(bytes[j..<j + word.count]) == word else { continue }
            j = skipSpaces(j + word.count)
            var endSign: UInt8 = 0
            if j < n, bytes[j] == UInt8(ascii: "-") || bytes[j] == UInt8(ascii: "+") {
                endSign = bytes[j]
                j += 1
            }
            guard j + 1 < n, bytes[j] == UInt8(ascii: "%"), bytes[j + 1] == UInt8(ascii: "}") else { continue }
            var textEnd = tag
            if sign == UInt8(ascii: "-") {
                while textEnd > start, isSpaceAt(before: textEnd) { textEnd = startOfScalar(before: textEnd) }
            } else if sign != UInt8(ascii: "+") {
                textEnd = lstripEnd(textStart: start, textEnd: tag)
            }
            emitData(start, textEnd)
            finishTagEnd(sign: endSign, at: j + 2, trimBlocks: true)
            return
        }
        throw error("missing '{% endraw %}' for the raw block opened here", at: start)
    }

    // MARK: Tags

    /// Reads the tokens inside `{% %}` or `{{ }}` up to the matching end delimiter (outside
    /// any open brackets, as jinja2 does, so `{{ {'a': 1}}}` works).
    mutating func readTag(isBlock: Bool, tagStart: Int) throws {
        var brackets: [UInt8] = []
        let n = bytes.count
        while true {
            guard position < n else {
                throw error(isBlock ? "unclosed block tag: '{%' has no matching '%}'" : "unclosed variable tag: '{{' has no matching '}}'", at: tagStart)
            }
            let b = bytes[position]
            if brackets.isEmpty {
                if isBlock {
                    if (b == UInt8(ascii: "-") || b == UInt8(ascii: "+")), position + 2 < n,
                        bytes[position + 1] == UInt8(ascii: "%"), bytes[position + 2] == UInt8(ascii: "}")
                    {
                        tokens.append(Token(kind: .blockEnd, offset: position))
                        finishTagEnd(sign: b, at: position + 3, trimBlocks: true)
                        return
                    }
                    if b == UInt8(ascii: "%"), position + 1 < n, bytes[position + 1] == UInt8(ascii: "}") {
                        tokens.append(Token(kind: .blockEnd, offset: position))
                        finishTagEnd(sign: 0, at: position + 2, trimBlocks: true)
                        return
                    }
                } else {
                    if b == UInt8(ascii: "-"), position + 2 < n, bytes[position + 1] == UInt8(ascii: "}"), bytes[position + 2] == UInt8(ascii: "}") {
                        tokens.append(Token(kind: .variableEnd, offset: position))
                        finishTagEnd(sign: b, at: position + 3, trimBlocks: false)
                        return
                    }
                    if b == UInt8(ascii: "}"), position + 1 < n, bytes[position + 1] == UInt8(ascii: "}") {
                        tokens.append(Token(kind: .variableEnd, offset: position))
                        finishTagEnd(sign: 0, at: position + 2, trimBlocks: false)
                        return
                    }
                }
            }
            let (c, next) = scalar(at: position)
            if PythonString.isSpace(c) {
                position = next
                continue
            }
            let start = position
            if b >= 0x30 && b <= 0x39 {
                tokens.append(Token(kind: try readNumber(), offset: start))
            } else if b == UInt8(ascii: "_") || (b | 0x20 >= 0x61 && b | 0x20 <= 0x7A) || (b >= 0x80 && c.properties.isXIDStart) {
                tokens.append(Token(kind: .name(readName()), offset: start))
            } else if b == UInt8(ascii: "'") || b == UInt8(ascii: "\"") {
                tokens.append(Token(kind: .string(try readString()), offset: start))
            } else if let op = readOperator() {
                switch op {
                case .lParen: brackets.append(UInt8(ascii: ")"))
                case .lBracket: brackets.append(UInt8(ascii: "]"))
                case .lBrace: brackets.append(UInt8(ascii: "}"))
                case .rParen, .rBracket, .rBrace:
                    guard let expected = brackets.popLast() else {
                        throw error("unexpected '\(op.rawValue)'", at: start)
                    }
                    guard expected == UInt8(op.rawValue.utf8.first ?? 0) else {
                        throw error("unexpected '\(op.rawValue)', expected '\(Character(Unicode.Scalar(expected)))'", at: start)
                    }
                default: break
                }
                tokens.append(Token(kind: .op(op), offset: start))
            } else {
                throw error("unexpected character '\(Character(c))' inside a tag", at: start)
            }
        }
    }

    mutating func readName() -> String {
        let start = position
        while position < bytes.count {
            let b = bytes[position]
            if b == UInt8(ascii: "_") || (b >= 0x30 && b <= 0x39) || (b | 0x20 >= 0x61 && b | 0x20 <= 0x7A) {
                position += 1
            } else if b >= 0x80 {
                let (c, next) = scalar(at: position)
                guard c.properties.isXIDContinue else { break }
                position = next
            } else {
                break
            }
        }
        return String(decoding: bytes[start..<position], as: UTF8.self)
    }

    func isDigit(_ i: Int) -> Bool { i < bytes.count && bytes[i] >= 0x30 && bytes[i] <= 0x39 }

    /// Digits with single underscores between them (`1_000`); returns the end offset.
    func digitRun(_ start: Int) -> Int {
        var i = start
        guard isDigit(i) else { return start }
        while isDigit(i) || (i < bytes.count && bytes[i] == UInt8(ascii: "_") && isDigit(i + 1)) { i += 1 }
        return i
    }

    mutating func readNumber() throws -> Token.Kind {
        let start = position
        let n = bytes.count
        // Floats: digits then a fraction and/or an exponent; not right after a '.' (`a.0.1`).
        let afterDot = start > 0 && bytes[start - 1] == UInt8(ascii: ".")
        if !afterDot {
            var i = digitRun(start)
            var isFloat = false
            if i < n, bytes[i] == UInt8(ascii: "."), isDigit(i + 1) {
                i = digitRun(i + 1)
                isFloat = true
            }
            if i < n, bytes[i] | 0x20 == UInt8(ascii: "e") {
                var j = i + 1
                if j < n, bytes[j] == UInt8(ascii: "+") || bytes[j] == UInt8(ascii: "-") { j += 1 }
                if isDigit(j) {
                    i = digitRun(j)
                    isFloat = true
                }
            }
            if isFloat {
                position = i
                let text = String(decoding: bytes[start..<i], as: UTF8.self).replacingOccurrences(of: "_", with: "")
                guard let d = Double(text) else { throw error("bad float literal '\(text)'", at: start) }
                return .float(d)
            }
        }
        // Integers: 0b / 0o / 0x prefixes, or decimal.
        if bytes[start] == UInt8(ascii: "0"), start + 1 < n {
            let p = bytes[start + 1] | 0x20
            let radix = p == UInt8(ascii: "b") ? 2 : p == UInt8(ascii: "o") ? 8 : p == UInt8(ascii: "x") ? 16 : 0
            if radix != 0 {
                var i = start + 2
                while i < n, bytes[i] == UInt8(ascii: "_") || Int(String(Unicode.Scalar(bytes[i])), radix: radix) != nil { i += 1 }
                let text = String(decoding: bytes[start + 2..<i], as: UTF8.self).replacingOccurrences(of: "_", with: "")
                guard let v = Int(text, radix: radix) else { throw error("bad integer literal", at: start) }
                position = i
                return .integer(v)
            }
        }
        var i = start
        if bytes[start] == UInt8(ascii: "0") {
            i += 1
            while i < n {
                if bytes[i] == UInt8(ascii: "0") {
                    i += 1
                } else if bytes[i] == UInt8(ascii: "_"), i + 1 < n, bytes[i + 1] == UInt8(ascii: "0") {
                    i += 2
                } else {
                    break
                }
            }
        } else {
            i = digitRun(start)
        }
        position = i
        let text = String(decoding: bytes[start..<i], as: UTF8.self).replacingOccurrences(of: "_", with: "")
        guard let v = Int(text) else {
            throw TemplateError.unsupported(source.location(start), feature: "the integer literal \(text) (larger than 64 bits)")
        }
        return .integer(v)
    }

    mutating func readOperator() -> Operator? {
        let n = bytes.count
        if position + 1 < n {
            let two = String(decoding: bytes[position..<position + 2], as: UTF8.self)
            if let op = Operator(rawValue: two), two.count == 2 {
                position += 2
                return op
            }
        }
        let one = String(decoding: bytes[position..<position + 1], as: UTF8.self)
        if let op = Operator(rawValue: one) {
            position += 1
            return op
        }
        return nil
    }

    /// A quoted string literal, unescaped as jinja2 does (Python's `unicode-escape` codec).
    mutating func readString() throws -> String {
        let start = position
        let quote = bytes[position]
        var i = position + 1
        let n = bytes.count
        while i < n, bytes[i] != quote {
            if bytes[i] == UInt8(ascii: "\\") { i += 1 }
            i += 1
        }
        guard i < n else { throw error("unterminated string literal", at: start) }
        position = i + 1
        let body = String(decoding: bytes[start + 1..<i], as: UTF8.self)
        return try Lexer.unescape(body) { self.error($0, at: start) }
    }

    static func unescape(_ body: String, error: (String) -> TemplateError) throws -> String {
        guard body.utf8.contains(UInt8(ascii: "\\")) else { return body }
        let s = Array(body.unicodeScalars)
        var out = String.UnicodeScalarView()
        var i = 0
        func hexValue(_ count: Int, _ what: String) throws -> UInt32 {
            guard i + count <= s.count, let v = UInt32(PythonString.string(s[i..<i + count]), radix: 16) else {
                throw error("truncated \\\(what) escape")
            }
            i += count
            return v
        }
        while i < s.count {
            let c = s[i]
            i += 1
            guard c == "\\", i < s.count else {
                out.append(c)
                continue
            }
            let e = s[i]
            i += 1
            switch e {
            case "\n": break
            case "\\": out.append("\\")
            case "'": out.append("'")
            case "\"": out.append("\"")
            case "a": out.append("\u{07}")
            case "b": out.append("\u{08}")
            case "f": out.append("\u{0C}")
            case "n": out.append("\n")
            case "r": out.append("\r")
            case "t": out.append("\t")
            case "v": out.append("\u{0B}")
            case "0"..."7":
                var v = e.value - 0x30
                var digits = 1
                while digits < 3, i < s.count, ("0"..."7").contains(s[i]) {
                    v = v * 8 + s[i].value - 0x30
                    i += 1
                    digits += 1
                }
                out.append(Unicode.Scalar(v) ?? "\u{FFFD}")
            case "x": out.append(Unicode.Scalar(try hexValue(2, "xXX")) ?? "\u{FFFD}")
            case "u": out.append(Unicode.Scalar(try hexValue(4, "uXXXX")) ?? "\u{FFFD}")
            case "U":
                let v = try hexValue(8, "UXXXXXXXX")
                guard let scalar = Unicode.Scalar(v) else { throw error("illegal Unicode character \\U\(String(v, radix: 16))") }
                out.append(scalar)
            case "N": throw error("\\N{...} escapes are not supported; write the character itself")
            default:
                out.append("\\")
                out.append(e)
            }
        }
        return String(out)
    }
}
