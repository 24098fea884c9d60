/// Whether text parses with Python's `json.loads` (what IFEval's `json_format` checker
/// calls): RFC 8259 JSON, any value at the top, plus Python's extra literals `NaN`,
/// `Infinity` and `-Infinity`; no trailing commas, no comments, no single quotes, no raw
/// control characters inside strings. Foundation's parser differs on exactly those edges
/// (it accepts a trailing comma and refuses `NaN`), hence this validator.
public enum PythonJSON {
    /// `json.loads(text)` would succeed.
    public static func isValid(_ text: String) -> Bool {
        var p = Parser(bytes: Array(text.utf8))
        p.skipSpace()
        guard p.value(depth: 0) else { return false }
        p.skipSpace()
        return p.i == p.bytes.count
    }

    struct Parser {
        let bytes: [UInt8]
        var i = 0

        mutating func skipSpace() {
            while i < bytes.count, [0x20, 0x09, 0x0A, 0x0D].contains(bytes[i]) { i += 1 }
        }

        mutating func literal(_ word: String) -> Bool {
            let w = Array(word.utf8)
            guard i + w.count <= bytes.count, Array(bytes[i..<(i + w.count)]) == w else { return false }
            i += w.count
            return true
        }

        mutating func value(depth: Int) -> Bool {
            guard i < bytes.count, depth < 10_000 else { return false }
            switch bytes[i] {
            case UInt8(ascii: "{"): return container(close: UInt8(ascii: "}"), keyed: true, depth: depth)
            case UInt8(ascii: "["): return container(close: UInt8(ascii: "]"), keyed: false, depth: depth)
            case UInt8(ascii: "\""): return string()
            case UInt8(ascii: "t"): return literal("true")
            case UInt8(ascii: "f"): return literal("false")
            case UInt8(ascii: "n"): return literal("null")
            case UInt8(ascii: "N"): return literal("NaN")
            case UInt8(ascii: "I"): return literal("Infinity")
            case UInt8(ascii: "-") where literal("-Infinity"): return true
            default: return number()
            }
        }

        mutating func container(close: UInt8, keyed: Bool, depth: Int) -> Bool {
            i += 1
            skipSpace()
            if i < bytes.count, bytes[i] == close { i += 1; return true }
            while true {
                if keyed {
                    guard i < bytes.count, bytes[i] == UInt8(ascii: "\""), string() else { return false }
                    skipSpace()
                    guard i < bytes.count, bytes[i] == UInt8(ascii: ":") else { return false }
                    i += 1
                    skipSpace()
                }
                guard value(depth: depth + 1) else { return false }
                skipSpace()
                guard i < bytes.count else { return false }
                if bytes[i] == close { i += 1; return true }
                guard bytes[i] == UInt8(ascii: ",") else { return false }
                i += 1
                skipSpace()
            }
        }

        mutating func string() -> Bool {
            i += 1
            while i < bytes.count {
                let c = bytes[i]
                if c == UInt8(ascii: "\"") { i += 1; return true }
                if c < 0x20 { return false }
                if c == UInt8(ascii: "\\") {
                    i += 1
                    guard i < bytes.count else { return false }
                    if bytes[i] == UInt8(ascii: "u") {
                        guard i + 4 < bytes.count, bytes[(i + 1)...(i + 4)].allSatisfy({ isHex($0) }) else { return false }
                        i += 4
                    } else if !"\"\\/bfnrt".utf8.contains(bytes[i]) {
                        return false
                    }
                }
                i += 1
            }
            return false
        }

        func isHex(_ c: UInt8) -> Bool {
            (c >= 0x30 && c <= 0x39) || (c >= 0x41 && c <= 0x46) || (c >= 0x61 && c <= 0x66)
        }

        mutating func digits() -> Int {
            let start = i
            while i < bytes.count, bytes[i] >= 0x30, bytes[i] <= 0x39 { i += 1 }
            return i - start
        }

        /// `-?(0|[1-9]\d*)(\.\d+)?([eE][-+]?\d+)?`
        mutating func number() -> Bool {
            if i < bytes.count, bytes[i] == UInt8(ascii: "-") { i += 1 }
            guard i < bytes.count, bytes[i] >= 0x30, bytes[i] <= 0x39 else { return false }
            if bytes[i] == 0x30 { i += 1 } else { _ = digits() }
            if i < bytes.count, bytes[i] == UInt8(ascii: ".") {
                i += 1
                guard digits() > 0 else { return false }
            }
            if i < bytes.count, bytes[i] == UInt8(ascii: "e") || bytes[i] == UInt8(ascii: "E") {
                i += 1
                if i < bytes.count, bytes[i] == UInt8(ascii: "+") || bytes[i] == UInt8(ascii: "-") { i += 1 }
                guard digits() > 0 else { return false }
            }
            return true
        }
    }
}
