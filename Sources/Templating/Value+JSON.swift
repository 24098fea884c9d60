import Foundation

extension Value {
    /// Parses JSON text into a value, keeping object keys in the order they appear, as
    /// Python's `json.loads` does (a repeated key keeps its first position and last value).
    ///
    /// Integers that fit in 64 bits become `.int`, other numbers `.double` (Python would keep
    /// a huge integer exact; we do not). `NaN`, `Infinity` and `-Infinity` are accepted as
    /// Python accepts them. Nesting deeper than 512 levels is rejected rather than risking the
    /// stack. Errors name the byte offset.
    public static func parseJSON(_ text: String) throws -> Value {
        var parser = JSONParser(bytes: Array(text.utf8))
        parser.skipWhitespace()
        let value = try parser.parseValue(depth: 0)
        parser.skipWhitespace()
        guard parser.position == parser.bytes.count else {
            throw TemplateError.invalidJSON(offset: parser.position, message: "extra data after the JSON value")
        }
        return value
    }
}

/// A recursive-descent JSON reader over UTF-8 bytes.
private struct JSONParser {
    let bytes: [UInt8]
    var position = 0
    static let maxDepth = 512

    init(bytes: [UInt8]) { self.bytes = bytes }

    mutating func skipWhitespace() {
        while position < bytes.count, [0x20, 0x09, 0x0A, 0x0D].contains(bytes[position]) { position += 1 }
    }

    func fail(_ message: String) -> TemplateError {
        .invalidJSON(offset: position, message: message)
    }

    mutating func parseValue(depth: Int) throws -> Value {
        guard depth < Self.maxDepth else { throw fail("nesting deeper than \(Self.maxDepth) levels") }
        guard position < bytes.count else { throw fail("unexpected end of input, expected a value") }
        switch bytes[position] {
        case UInt8(ascii: "{"): return try parseObject(depth: depth)
        case UInt8(ascii: "["): return try parseArray(depth: depth)
        case UInt8(ascii: "\""): return .string(try parseString())
        case UInt8(ascii: "t"): try expectWord("true"); return .bool(true)
        case UInt8(ascii: "f"): try expectWord("false"); return .bool(false)
        case UInt8(ascii: "n"): try expectWord("null"); return .none
        case UInt8(ascii: "N"): try expectWord("NaN"); return .double(.nan)
        case UInt8(ascii: "I"): try expectWord("Infinity"); return .double(.infinity)
        case UInt8(ascii: "-") where position + 1 < bytes.count && bytes[position + 1] == UInt8(ascii: "I"):
            position += 1
            try expectWord("Infinity")
            return .double(-.infinity)
        case UInt8(ascii: "-"), UInt8(ascii: "0")...UInt8(ascii: "9"): return try parseNumber()
        default: throw fail("unexpected character '\(Character(Unicode.Scalar(bytes[position])))'")
        }
    }

    mutating func expectWord(_ word: String) throws {
        let w = Array(word.utf8)
        guard position + w.count <= bytes.count, Array(bytes[position..<position + w.count]) == w else {
            throw fail("expected '\(word)'")
        }
        position += w.count
    }

    mutating func parseObject(depth: Int) throws -> Value {
        position += 1
        var object = OrderedObject()
        skipWhitespace()
        if position < bytes.count, bytes[position] == UInt8(ascii: "}") {
            position += 1
            return .object(object)
        }
        while true {
            skipWhitespace()
            guard position < bytes.count, bytes[position] == UInt8(ascii: "\"") else {
                throw fail("expected a string key in double quotes")
            }
            let key = try parseString()
            skipWhitespace()
            guard position < bytes.count, bytes[position] == UInt8(ascii: ":") else { throw fail("expected ':' after an object key") }
            position += 1
            skipWhitespace()
            object[key] = try parseValue(depth: depth + 1)
            skipWhitespace()
            guard position < bytes.count else { throw fail("unexpected end of input inside an object") }
            if bytes[position] == UInt8(ascii: ",") {
                position += 1
                continue
            }
            if bytes[position] == UInt8(ascii: "}") {
                position += 1
                return .object(object)
            }
            throw fail("expected ',' or '}' in an object")
        }
    }

    mutating func parseArray(depth: Int) throws -> Value {
        position += 1
        var items: [Value] = []
        skipWhitespace()
        if position < bytes.count, bytes[position] == UInt8(ascii: "]") {
            position += 1
            return .array(items)
        }
        while true {
            skipWhitespace()
            items.append(try parseValue(depth: depth + 1))
            skipWhitespace()
            guard position < bytes.count else { throw fail("unexpected end of input inside an array") }
            if bytes[position] == UInt8(ascii: ",") {
                position += 1
                continue
            }
            if bytes[position] == UInt8(ascii: "]") {
                position += 1
                return .array(items)
            }
            throw fail("expected ',' or ']' in an array")
        }
    }

    mutating func parseNumber() throws -> Value {
        let start = position
        var isInteger = true
        if bytes[position] == UInt8(ascii: "-") { position += 1 }
        func digits() -> Int {
            let s = position
            while position < bytes.count, bytes[position] >= 0x30, bytes[position] <= 0x39 { position += 1 }
            return position - s
        }
        guard position < bytes.count else { throw fail("a number needs digits") }
        if bytes[position] == UInt8(ascii: "0") {
            position += 1
        } else if digits() == 0 {
            throw fail("a number needs digits")
        }
        if position < bytes.count, bytes[position] == UInt8(ascii: ".") {
            position += 1
            isInteger = false
            guard digits() > 0 else { throw fail("a fraction needs digits after '.'") }
        }
        if position < bytes.count, bytes[position] == UInt8(ascii: "e") || bytes[position] == UInt8(ascii: "E") {
            position += 1
            isInteger = false
            if position < bytes.count, bytes[position] == UInt8(ascii: "+") || bytes[position] == UInt8(ascii: "-") { position += 1 }
            guard digits() > 0 else { throw fail("an exponent needs digits") }
        }
        let text = String(decoding: bytes[start..<position], as: UTF8.self)
        if isInteger, let i = Int(text) { return .int(i) }
        guard let d = Double(text) else { throw fail("bad number '\(text)'") }
        return .double(d)
    }

    mutating func parseString() throws -> String {
        position += 1  // opening quote
        var out: [UInt8] = []
        var runStart = position
        while true {
            guard position < bytes.count else { throw fail("unterminated string") }
            let b = bytes[position]
            if b == UInt8(ascii: "\"") {
                out.append(contentsOf: bytes[runStart..<position])
                position += 1
                return String(decoding: out, as: UTF8.self)
            }
            if b < 0x20 { throw fail("invalid control character in a string") }
            if b != UInt8(ascii: "\\") {
                position += 1
                continue
            }
            out.append(contentsOf: bytes[runStart..<position])
            position += 1
            guard position < bytes.count else { throw fail("unterminated escape") }
            let e = bytes[position]
            position += 1
            switch e {
            case UInt8(ascii: "\""): out.append(0x22)
            case UInt8(ascii: "\\"): out.append(0x5C)
            case UInt8(ascii: "/"): out.append(0x2F)
            case UInt8(ascii: "b"): out.append(0x08)
            case UInt8(ascii: "f"): out.append(0x0C)
            case UInt8(ascii: "n"): out.append(0x0A)
            case UInt8(ascii: "r"): out.append(0x0D)
            case UInt8(ascii: "t"): out.append(0x09)
            case UInt8(ascii: "u"):
                var code = try hex4()
                if (0xD800..<0xDC00).contains(code), position + 1 < bytes.count,
                    bytes[position] == UInt8(ascii: "\\"), bytes[position + 1] == UInt8(ascii: "u")
                {
                    let save = position
                    position += 2
                    let low = try hex4()
                    if (0xDC00..<0xE000).contains(low) {
                        code = 0x10000 + ((code - 0xD800) << 10) + (low - 0xDC00)
                    } else {
                        position = save
                    }
                }
                // A lone surrogate cannot be a Swift String; it becomes U+FFFD.
                let scalar = Unicode.Scalar(UInt32(code)) ?? "\u{FFFD}"
                out.append(contentsOf: Array(String(Character(scalar)).utf8))
            default:
                position -= 1
                throw fail("invalid escape '\\\(Character(Unicode.Scalar(e)))'")
            }
            runStart = position
        }
    }

    mutating func hex4() throws -> Int {
        guard position + 4 <= bytes.count,
            let v = Int(String(decoding: bytes[position..<position + 4], as: UTF8.self), radix: 16)
        else { throw fail("\\u needs four hex digits") }
        position += 4
        return v
    }
}

/// Python's `json.dumps` options, as transformers' `tojson` filter passes them.
struct JSONDumpOptions {
    /// `None` for one line; otherwise the string each level is indented by.
    var indent: String? = nil
    var itemSeparator = ", "
    var keySeparator = ": "
    var sortKeys = false
    var ensureASCII = false
}

extension Value {
    /// Serializes as Python's `json.dumps(x, ensure_ascii=, indent=, separators=, sort_keys=)`.
    /// Returns nil (with the offending type in `badType`) for values JSON cannot hold.
    func jsonDump(_ options: JSONDumpOptions, badType: inout String?) -> String? {
        var out = ""
        var level = 0
        return dumpJSON(self, into: &out, level: &level, options, &badType) ? out : nil
    }
}

private func dumpJSON(_ v: Value, into out: inout String, level: inout Int, _ o: JSONDumpOptions, _ bad: inout String?) -> Bool {
    switch v {
    case .none: out += "null"
    case .bool(let b): out += b ? "true" : "false"
    case .int(let i): out += String(i)
    case .double(let d):
        if d.isNaN {
            out += "NaN"
        } else if d.isInfinite {
            out += d < 0 ? "-Infinity" : "Infinity"
        } else {
            out += PythonFormat.floatRepr(d)
        }
    case .string(let s): PythonFormat.appendJSONString(s, ensureASCII: o.ensureASCII, to: &out)
    case .array(let items), .tuple(let items):
        if items.isEmpty {
            out += "[]"
            return true
        }
        out += "["
        level += 1
        let newline = o.indent.map { "\n" + String(repeating: $0, count: level) }
        if let newline { out += newline }
        for (i, item) in items.enumerated() {
            if i > 0 { out += o.itemSeparator + (newline ?? "") }
            guard dumpJSON(item, into: &out, level: &level, o, &bad) else { return false }
        }
        level -= 1
        if let indent = o.indent { out += "\n" + String(repeating: indent, count: level) }
        out += "]"
    case .object(let object):
        if object.isEmpty {
            out += "{}"
            return true
        }
        out += "{"
        level += 1
        let newline = o.indent.map { "\n" + String(repeating: $0, count: level) }
        if let newline { out += newline }
        let keys = o.sortKeys ? object.keys.sorted { $0.unicodeScalars.lexicographicallyPrecedes($1.unicodeScalars) } : object.keys
        for (i, key) in keys.enumerated() {
            if i > 0 { out += o.itemSeparator + (newline ?? "") }
            PythonFormat.appendJSONString(key, ensureASCII: o.ensureASCII, to: &out)
            out += o.keySeparator
            guard dumpJSON(object[key] ?? .none, into: &out, level: &level, o, &bad) else { return false }
        }
        level -= 1
        if let indent = o.indent { out += "\n" + String(repeating: indent, count: level) }
        out += "}"
    case .undefined, .namespace, .function, .loop:
        bad = v.typeName
        return false
    }
    return true
}
