/// GPT-2's reversible byte-to-character table, used to write byte-level BPE tokens as text.
///
/// Printable bytes (`!`...`~`, `¡`...`¬`, `®`...`ÿ`) map to the character with the same
/// code point; the other 68 bytes map, in increasing order, to U+0100, U+0101, ... So the
/// space byte 0x20 is written `Ġ` (U+0120) and newline 0x0A is `Ċ` (U+010A). Every
/// tokenizer.json / vocab.json of a byte-level BPE stores its tokens in this alphabet.
public enum ByteLevel {
    /// `byteToScalar[b]` is the character that stands for byte `b`.
    public static let byteToScalar: [Unicode.Scalar] = {
        var table = [Unicode.Scalar](repeating: " ", count: 256)
        var next: UInt32 = 256
        for b in 0..<256 {
            let printable = (33...126).contains(b) || (161...172).contains(b) || (174...255).contains(b)
            let value = printable ? UInt32(b) : { defer { next += 1 }; return next }()
            // Values are below 0x200, always valid scalars.
            table[b] = Unicode.Scalar(value) ?? " "
        }
        return table
    }()

    /// Inverse of `byteToScalar`, indexed by code point (< 0x144); -1 where no byte maps.
    static let scalarToByte: [Int16] = {
        var table = [Int16](repeating: -1, count: 512)
        for (b, s) in byteToScalar.enumerated() { table[Int(s.value)] = Int16(b) }
        return table
    }()

    /// Writes raw bytes in the byte-level alphabet (`" hi"` -> `"Ġhi"`).
    public static func encode(_ bytes: some Sequence<UInt8>) -> String {
        var s = String.UnicodeScalarView()
        for b in bytes { s.append(byteToScalar[Int(b)]) }
        return String(s)
    }

    /// Reads a byte-level token back to raw bytes; nil if it holds a character outside the table.
    public static func decode(_ token: String) -> [UInt8]? {
        var out: [UInt8] = []
        out.reserveCapacity(token.utf8.count)
        for s in token.unicodeScalars {
            guard s.value < 512 else { return nil }
            let b = scalarToByte[Int(s.value)]
            guard b >= 0 else { return nil }
            out.append(UInt8(b))
        }
        return out
    }
}
