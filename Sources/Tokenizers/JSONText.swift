/// JSON text written by hand where a file's layout matters (tokenizer.json, synth JSONL):
/// the one string escape of the package.
public enum JSONText {
    /// `s` as a JSON string literal: quotes, backslashes and control characters (and DEL)
    /// escaped, everything else (non-ASCII included) left as raw UTF-8. `JSONSerialization`
    /// reads it back as `s`.
    public static func quoted(_ s: String) -> String {
        var out = "\""
        for scalar in s.unicodeScalars {
            switch scalar {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case "\n": out += "\\n"
            case "\r": out += "\\r"
            case "\t": out += "\\t"
            default:
                if scalar.value < 0x20 || scalar.value == 0x7F {
                    let hex = String(scalar.value, radix: 16)
                    out += "\\u" + String(repeating: "0", count: 4 - hex.count) + hex
                } else {
                    out.unicodeScalars.append(scalar)
                }
            }
        }
        return out + "\""
    }
}
