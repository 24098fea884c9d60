import Datasets
/// The seeded generator behind the synthetic dataset: `SplitMix64`'s stream with the
/// draws (bounded integers, picks, samples) that the dataset's bytes are defined by.
/// Its `below` is a rejection-then-modulo draw, kept distinct from
/// `SplitMix64.next(below:)` (multiply-shift) because changing it would change every
/// generated dataset.
///
/// Every draw is defined here bit for bit (no `Int.random(in:)`, no `shuffle(using:)`, whose
/// algorithms belong to the standard library and may change), so the same seed gives the same
/// dataset bytes on every platform and toolchain.
public struct SynthRandom: Sendable, Equatable {
    private var core: SplitMix64

    /// The whole state: one 64-bit counter.
    public var state: UInt64 { core.state }

    /// A generator whose first output is determined by `seed` alone.
    public init(seed: UInt64) {
        core = SplitMix64(seed: seed)
    }

    /// The next 64 uniformly distributed bits.
    public mutating func next() -> UInt64 { core.next() }

    /// A uniform integer in `0..<bound`, without modulo bias (rejection of the short top range).
    public mutating func below(_ bound: Int) -> Int {
        precondition(bound > 0, "SynthRandom.below: bound must be positive, got \(bound)")
        let n = UInt64(bound)
        let threshold = (0 &- n) % n  // 2^64 mod n: draws below it would bias the result.
        while true {
            let r = next()
            if r >= threshold { return Int(r % n) }
        }
    }

    /// A uniform integer in `range`.
    public mutating func int(in range: ClosedRange<Int>) -> Int {
        range.lowerBound + below(range.upperBound - range.lowerBound + 1)
    }

    /// A uniformly chosen element of a non-empty array.
    public mutating func pick<T>(_ items: [T]) -> T {
        precondition(!items.isEmpty, "SynthRandom.pick: empty array")
        return items[below(items.count)]
    }

    /// `count` distinct elements of `items` in random order (a partial Fisher-Yates shuffle).
    public mutating func sample<T>(_ items: [T], count: Int) -> [T] {
        precondition(count >= 0 && count <= items.count,
                     "SynthRandom.sample: count \(count) not in 0...\(items.count)")
        var pool = items
        for i in 0..<count {
            let j = i + below(pool.count - i)
            pool.swapAt(i, j)
        }
        return Array(pool[0..<count])
    }

    /// `items` in a uniformly random order (Fisher-Yates).
    public mutating func shuffled<T>(_ items: [T]) -> [T] {
        sample(items, count: items.count)
    }
}
