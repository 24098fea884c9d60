/// A seedable pseudo-random generator whose complete state can be saved and restored.
///
/// The generator is xoshiro256** (Blackman and Vigna) seeded through SplitMix64.
/// Every draw uses only integer operations and IEEE-754 arithmetic that is correctly
/// rounded on every platform (`+ - * /` and `sqrt`), plus `DeterministicMath.log`,
/// which is built from those same operations. So the same seed gives the same
/// sequence, bit for bit, on every run and every platform; nothing here calls the C
/// math library, whose `log` and `cos` may differ in the last place between systems.
///
/// `RNG` is a value: copying it forks the stream. Pass it `inout` to whatever draws.
public struct RNG: Codable, Equatable, Sendable {
    /// The four words of xoshiro256** state. Never all zero.
    public private(set) var state: [UInt64]
    /// The second normal of the last polar-method pair, kept so that no draw is wasted
    /// and so that saving and restoring mid-pair continues the same sequence.
    public private(set) var spareNormal: Double?

    /// Creates a generator from a seed. Different seeds give independent-looking streams.
    public init(seed: UInt64) {
        var sm = seed
        var words = [UInt64]()
        for _ in 0..<4 { words.append(RNG.splitMix64(&sm)) }
        if words.allSatisfy({ $0 == 0 }) { words[0] = 0x9E37_79B9_7F4A_7C15 }
        state = words
        spareNormal = nil
    }

    /// Creates a generator for one of several independent streams of the same seed
    /// (for example one per data-parallel rank, or one for dropout and one for sampling).
    public init(seed: UInt64, stream: UInt64) {
        self.init(seed: seed ^ (stream &* 0xD1B5_4A32_D192_ED03) &+ stream)
    }

    /// Restores a generator from a saved state. Throws nothing: an invalid state traps,
    /// since a saved state is checked by whoever decoded it.
    public init(state: [UInt64], spareNormal: Double? = nil) {
        precondition(state.count == 4 && !state.allSatisfy { $0 == 0 },
                     "RNG(state:) needs four words, not all zero; got \(state)")
        self.state = state
        self.spareNormal = spareNormal
    }

    @inline(__always)
    static func splitMix64(_ x: inout UInt64) -> UInt64 {
        x &+= 0x9E37_79B9_7F4A_7C15
        var z = x
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }

    @inline(__always)
    static func rotl(_ x: UInt64, _ k: UInt64) -> UInt64 { (x << k) | (x >> (64 &- k)) }

    /// The next 64 uniformly distributed bits.
    public mutating func nextUInt64() -> UInt64 {
        let result = RNG.rotl(state[1] &* 5, 7) &* 9
        let t = state[1] << 17
        state[2] ^= state[0]
        state[3] ^= state[1]
        state[1] ^= state[2]
        state[0] ^= state[3]
        state[2] ^= t
        state[3] = RNG.rotl(state[3], 45)
        return result
    }

    /// A uniform integer in `0..<bound` without modulo bias (Lemire's method).
    public mutating func nextInt(below bound: Int) -> Int {
        precondition(bound > 0, "RNG.nextInt(below:) needs a positive bound, got \(bound)")
        let b = UInt64(bound)
        var m = nextUInt64().multipliedFullWidth(by: b)
        if m.low < b {
            let threshold = (0 &- b) % b
            while m.low < threshold { m = nextUInt64().multipliedFullWidth(by: b) }
        }
        return Int(m.high)
    }

    /// A uniform Double in [0, 1) with 53 random bits.
    public mutating func nextDouble() -> Double {
        Double(nextUInt64() >> 11) * 0x1.0p-53
    }

    /// A uniform Float in [0, 1) with 24 random bits.
    public mutating func nextFloat() -> Float {
        Float(nextUInt64() >> 40) * 0x1.0p-24
    }

    /// A standard normal draw (mean 0, variance 1) by Marsaglia's polar method.
    public mutating func nextNormal() -> Double {
        if let spare = spareNormal {
            spareNormal = nil
            return spare
        }
        while true {
            let u = 2 * nextDouble() - 1
            let v = 2 * nextDouble() - 1
            let s = u * u + v * v
            if s >= 1 || s == 0 { continue }
            let factor = (-2 * DeterministicMath.log(s) / s).squareRoot()
            spareNormal = v * factor
            return u * factor
        }
    }

    /// Shuffles `array` in place (Fisher-Yates), reproducibly for a given state.
    public mutating func shuffle<T>(_ array: inout [T]) {
        if array.count < 2 { return }
        for i in stride(from: array.count - 1, to: 0, by: -1) {
            let j = nextInt(below: i + 1)
            if i != j { array.swapAt(i, j) }
        }
    }
}

/// Elementary functions built only from correctly rounded IEEE-754 operations, so they
/// give the same bits on every platform. Used where reproducibility across machines
/// matters more than the last ulp of speed (random number generation, initialisation).
public enum DeterministicMath {
    /// Natural logarithm of a positive finite `x`, accurate to about 1e-15 relative.
    ///
    /// Splits `x = m * 2^e` with `m` in [sqrt(1/2), sqrt(2)) from its bits, then sums
    /// the series `log(m) = 2 atanh(z)`, `z = (m-1)/(m+1)`, `|z| < 0.172`, to 1e-17.
    public static func log(_ x: Double) -> Double {
        precondition(x > 0 && x.isFinite, "DeterministicMath.log needs a positive finite value, got \(x)")
        var m = x
        var e = 0
        // Normalise subnormals first so the exponent field is meaningful.
        if m < 0x1.0p-1000 { m *= 0x1.0p100; e -= 100 }
        let bits = m.bitPattern
        let exponent = Int((bits >> 52) & 0x7FF) - 1023
        m = Double(bitPattern: (bits & 0x000F_FFFF_FFFF_FFFF) | 0x3FF0_0000_0000_0000)
        e += exponent
        if m > 1.4142135623730951 { m *= 0.5; e += 1 }
        let z = (m - 1) / (m + 1)
        let z2 = z * z
        var term = z
        var sum = 0.0
        var k = 1.0
        while k < 40 {
            sum += term / k
            term *= z2
            k += 2
        }
        return 2 * sum + Double(e) * 0.6931471805599453
    }
}
