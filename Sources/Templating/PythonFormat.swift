/// Python's text forms of values: `str()`, `repr()`, float repr and JSON string escaping.
///
/// A template that prints a list or a dict must print exactly what Python prints, so these
/// follow CPython's rules character for character (checked against jinja2 by the fixtures).
enum PythonFormat {
    /// `str(value)`: what `{{ value }}` prints. Undefined prints nothing.
    static func str(_ v: Value) -> String {
        switch v {
        case .string(let s): return s
        case .undefined: return ""
        default:
            var out = ""
            appendRepr(v, to: &out)
            return out
        }
    }

    /// `repr(value)`, e.g. `'it\'s'` or `{'a': [1, 2.0, None]}`.
    static func repr(_ v: Value) -> String {
        var out = ""
        appendRepr(v, to: &out)
        return out
    }

    static func appendRepr(_ v: Value, to out: inout String) {
        switch v {
        case .undefined: out += "Undefined"
        case .none: out += "None"
        case .bool(let b): out += b ? "True" : "False"
        case .int(let i): out += String(i)
        case .double(let d): out += floatRepr(d)
        case .string(let s): appendStringRepr(s, to: &out)
        case .array(let items):
            out += "["
            for (i, item) in items.enumerated() {
                if i > 0 { out += ", " }
                appendRepr(item, to: &out)
            }
            out += "]"
        case .tuple(let items):
            out += "("
            for (i, item) in items.enumerated() {
                if i > 0 { out += ", " }
                appendRepr(item, to: &out)
            }
            out += items.count == 1 ? ",)" : ")"
        case .object(let o):
            appendObjectRepr(o, to: &out)
        case .namespace(let ns):
            out += "<Namespace "
            appendObjectRepr(ns.attributes, to: &out)
            out += ">"
        case .function(let f): out += "<function \(f.name)>"
        case .loop(let l): out += "<LoopContext \(l.index0 + 1)/\(l.items.count)>"
        }
    }

    private static func appendObjectRepr(_ o: OrderedObject, to out: inout String) {
        out += "{"
        for (i, pair) in o.pairs.enumerated() {
            if i > 0 { out += ", " }
            appendStringRepr(pair.key, to: &out)
            out += ": "
            appendRepr(pair.value, to: &out)
        }
        out += "}"
    }

    /// Python's string repr: single quotes unless the text has a single quote and no double
    /// quote; backslash escapes for the quote, `\`, `\t`, `\n`, `\r`; `\xNN`, `\uNNNN` or
    /// `\UNNNNNNNN` for characters Python does not consider printable.
    static func appendStringRepr(_ s: String, to out: inout String) {
        let hasSingle = s.utf8.contains(UInt8(ascii: "'"))
        let hasDouble = s.utf8.contains(UInt8(ascii: "\""))
        let quote: Unicode.Scalar = hasSingle && !hasDouble ? "\"" : "'"
        out.unicodeScalars.append(quote)
        for c in s.unicodeScalars {
            switch c {
            case quote, "\\":
                out += "\\"
                out.unicodeScalars.append(c)
            case "\t": out += "\\t"
            case "\n": out += "\\n"
            case "\r": out += "\\r"
            default:
                if c.value < 0x20 || c.value == 0x7F {
                    out += "\\x" + hex(c.value, width: 2)
                } else if c.value < 0x7F || isPrintable(c) {
                    out.unicodeScalars.append(c)
                } else if c.value <= 0xFF {
                    out += "\\x" + hex(c.value, width: 2)
                } else if c.value <= 0xFFFF {
                    out += "\\u" + hex(c.value, width: 4)
                } else {
                    out += "\\U" + hex(c.value, width: 8)
                }
            }
        }
        out.unicodeScalars.append(quote)
    }

    /// Python's `str.isprintable` for one non-ASCII scalar: not a control, format, surrogate,
    /// private-use, unassigned, line/paragraph separator or space separator character.
    static func isPrintable(_ c: Unicode.Scalar) -> Bool {
        switch c.properties.generalCategory {
        case .control, .format, .surrogate, .privateUse, .unassigned, .lineSeparator, .paragraphSeparator, .spaceSeparator:
            return false
        default:
            return true
        }
    }

    static func hex(_ v: UInt32, width: Int) -> String {
        let digits = String(v, radix: 16)
        return String(repeating: "0", count: max(0, width - digits.count)) + digits
    }

    /// Python's `repr(float)`: the shortest digits that read back to the same double, in fixed
    /// notation when the decimal exponent is in [-4, 16) (always with a `.0` or fraction) and
    /// in `1.5e+16` form otherwise; `nan`, `inf`, `-inf`.
    static func floatRepr(_ d: Double) -> String {
        if d.isNaN { return "nan" }
        if d.isInfinite { return d < 0 ? "-inf" : "inf" }
        if d == 0 { return d.sign == .minus ? "-0.0" : "0.0" }
        // Swift's description is also the shortest round-trip digit string; only its layout differs.
        var text = Substring(d.description)
        var negative = false
        if text.first == "-" {
            negative = true
            text = text.dropFirst()
        }
        var exponent = 0
        if let e = text.firstIndex(where: { $0 == "e" || $0 == "E" }) {
            exponent = Int(text[text.index(after: e)...]) ?? 0
            text = text[..<e]
        }
        let parts = text.split(separator: ".", omittingEmptySubsequences: false)
        let integerPart = parts[0]
        let fractionPart = parts.count > 1 ? parts[1] : ""
        var digits = Array(integerPart + fractionPart)
        var point = integerPart.count + exponent  // the decimal point sits after `point` digits
        while digits.first == "0" {
            digits.removeFirst()
            point -= 1
        }
        while digits.last == "0" { digits.removeLast() }
        if digits.isEmpty { return negative ? "-0.0" : "0.0" }
        let scientific = point - 1
        var out = negative ? "-" : ""
        if scientific >= -4 && scientific < 16 {
            if point <= 0 {
                out += "0." + String(repeating: "0", count: -point) + String(digits)
            } else if point >= digits.count {
                out += String(digits) + String(repeating: "0", count: point - digits.count) + ".0"
            } else {
                out += String(digits[..<point]) + "." + String(digits[point...])
            }
        } else {
            out.append(digits[0])
            if digits.count > 1 { out += "." + String(digits[1...]) }
            let magnitude = String(abs(scientific))
            out += "e" + (scientific < 0 ? "-" : "+") + (magnitude.count < 2 ? "0" + magnitude : magnitude)
        }
        return out
    }

    /// A JSON string literal as Python's json module writes it.
    static func appendJSONString(_ s: String, ensureASCII: Bool, to out: inout String) {
        out += "\""
        for c in s.unicodeScalars {
            switch c {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case "\n": out += "\\n"
            case "\r": out += "\\r"
            case "\t": out += "\\t"
            case "\u{08}": out += "\\b"
            case "\u{0C}": out += "\\f"
            default:
                if c.value < 0x20 || (ensureASCII && c.value >= 0x7F) {
                    if c.value > 0xFFFF {
                        let v = c.value - 0x10000
                        out += "\\u" + hex(0xD800 + (v >> 10), width: 4) + "\\u" + hex(0xDC00 + (v & 0x3FF), width: 4)
                    } else {
                        out += "\\u" + hex(c.value, width: 4)
                    }
                } else {
                    out.unicodeScalars.append(c)
                }
            }
        }
        out += "\""
    }
}
