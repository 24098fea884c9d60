/// FNV-1a, 64-bit: a fast, stable, non-cryptographic hash for comparing values across
/// processes (the data-parallel ranks' recipes and weights). Not for anything adversarial.
public struct FNV1a {
    /// The hash so far.
    public private(set) var value: UInt64 = 0xCBF2_9CE4_8422_2325

    public init() {}

    /// Mixes in one 64-bit word (a byte, or a float's bit pattern).
    @inline(__always)
    public mutating func combine(_ word: UInt64) {
        value = (value ^ word) &* 0x100_0000_01B3
    }

    /// The hash of `text`'s UTF-8 bytes.
    public static func hash(_ text: String) -> UInt64 {
        var h = FNV1a()
        for byte in text.utf8 { h.combine(UInt64(byte)) }
        return h.value
    }
}
