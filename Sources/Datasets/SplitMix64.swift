/// SplitMix64 (Steele, Lea and Flood 2014): a tiny seeded generator for shuffles and splits.
///
/// Datasets must not import Autograd, so it carries its own generator. Every shuffle
/// derives a fresh generator from (seed, purpose, epoch, ...) with `SplitMix64(mixing:)`,
/// so no generator state has to be saved to resume: the loader cursor is enough.
public struct SplitMix64: Sendable, Equatable {
    /// The full state; the next output is a function of it alone.
    public private(set) var state: UInt64

    /// A generator starting at `seed`.
    public init(seed: UInt64) { state = seed }

    /// A generator whose seed mixes several values (seed, epoch, dataset index...), so
    /// neighbouring inputs give unrelated streams.
    public init(mixing values: [UInt64]) {
        var s: UInt64 = 0x1234_5678_9ABC_DEF0
        for v in values {
            var g = SplitMix64(seed: s ^ v)
            s = g.next()
        }
        state = s
    }

    /// The next 64 random bits.
    public mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }

    /// A uniform integer in `0..<bound` (Lemire's multiply-shift with rejection, unbiased).
    public mutating func next(below bound: Int) -> Int {
        precondition(bound > 0, "SplitMix64.next(below:) needs a positive bound, got \(bound)")
        let b = UInt64(bound)
        while true {
            let product = next().multipliedFullWidth(by: b)
            if product.low >= (0 &- b) % b { return Int(product.high) }
        }
    }

    /// Fisher-Yates shuffle of `array` in place; the same generator state gives the same order.
    public mutating func shuffle<T>(_ array: inout [T]) {
        guard array.count > 1 else { return }
        for i in stride(from: array.count - 1, to: 0, by: -1) {
            let j = next(below: i + 1)
            if i != j { array.swapAt(i, j) }
        }
    }
}
