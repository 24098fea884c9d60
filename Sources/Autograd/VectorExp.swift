/// Vectorised e^x for the softmax-shaped kernels (softmax, cross-entropy, attention) and the
/// activations, plus the eight-lane row helpers those kernels and the norms share (max,
/// sum, dot, scale).
///
/// libm's `expf` costs ~10 ns per call here, which made the exponentials the largest
/// cost of cross-entropy over a large vocabulary. This is the Cephes `expf` scheme on
/// eight lanes: `x = n ln2 + r` with `n = round(x / ln2)` and `|r| <= ln2 / 2`, `e^r` by a
/// degree-7 polynomial, then `2^n` built in the exponent bits. Relative error is at most
/// ~2 ulp (checked against Float64 in `VectorExpTests`). Range: results below the
/// smallest normal float are flushed, `x < -87` gives 0 (true values are below 1.7e-38);
/// `x > 88` gives +inf (true overflow is at 88.72); NaN gives NaN. The softmax-shaped
/// kernels call it with arguments <= 0, GELU and SiLU with any.
///
/// Every element goes through the same eight-lane formula (tails are padded), so a value
/// does not depend on its position in a row, and sums are accumulated in eight lanes
/// that are added in a fixed order: results are deterministic.
enum VectorExp {
    typealias V = SIMD8<Float>

    @inline(__always)
    static func exp(_ x: V) -> V {
        let log2e: Float = 1.44269504088896341
        let c1: Float = 0.693359375, c2: Float = -2.12194440e-4
        // Round x*log2(e) to the nearest integer with the 1.5 * 2^23 trick: after the add,
        // the integer sits in the low mantissa bits (valid for |x| < 2^21).
        let magic: Float = 12582912
        let xc = x.replacing(with: -87, where: x .< -87).replacing(with: 88, where: x .> 88)
        // Fused multiply-adds (one vfmadd each with the AVX2/FMA build): half the
        // instructions of separate products and sums, and one rounding instead of two.
        let t = V(repeating: magic).addingProduct(xc, V(repeating: log2e))
        let n = t - magic
        let r = xc.addingProduct(n, V(repeating: -c1)).addingProduct(n, V(repeating: -c2))
        var p: V = V(repeating: 1.3981999507e-3).addingProduct(V(repeating: 1.9875691500e-4), r)
        p = V(repeating: 8.3334519073e-3).addingProduct(p, r)
        p = V(repeating: 4.1665795894e-2).addingProduct(p, r)
        p = V(repeating: 1.6666665459e-1).addingProduct(p, r)
        p = V(repeating: 5.0000001201e-1).addingProduct(p, r)
        p = (r + 1).addingProduct(p, r * r)
        let ni = unsafeBitCast(t, to: SIMD8<Int32>.self) &- 0x4B40_0000
        let scale = unsafeBitCast((ni &+ 127) &<< 23, to: V.self)
        var y = p * scale
        y.replace(with: 0, where: x .< -87)
        y.replace(with: .infinity, where: x .> 88)
        y.replace(with: x, where: x .!= x)
        return y
    }

    /// e^x of one value by the same eight-lane formula.
    @inline(__always)
    static func exp(_ x: Float) -> Float { exp(V(repeating: x))[0] }

    /// `dst[j] = scale * e^((src[j] - a) - b)` for `j in 0..<count` (`dst` may be nil to
    /// only sum, or equal to `src`); returns `sum_j e^((src[j] - a) - b)`.
    @inline(__always)
    static func expShifted(_ src: UnsafePointer<Float>, _ dst: UnsafeMutablePointer<Float>?, count: Int,
                           a: Float, b: Float = 0, scale: Float = 1) -> Float {
        let va = V(repeating: a), vb = V(repeating: b)
        var acc = V(repeating: 0)
        var j = 0
        while j + 8 <= count {
            let e = exp((UnsafeRawPointer(src + j).loadUnaligned(as: V.self) - va) - vb)
            acc += e
            if let d = dst { UnsafeMutableRawPointer(d + j).storeBytes(of: e * scale, as: V.self) }
            j += 8
        }
        if j < count {
            var x = V(repeating: 0)
            for l in 0..<(count - j) { x[l] = src[j + l] }
            var e = exp((x - va) - vb)
            for l in (count - j)..<8 { e[l] = 0 }
            acc += e
            if let d = dst { for l in 0..<(count - j) { d[j + l] = e[l] * scale } }
        }
        return laneSum(acc)
    }

    /// The largest of `src[0..<count]` (-inf for an empty range). Exact, so lane order
    /// does not matter.
    @inline(__always)
    static func max(_ src: UnsafePointer<Float>, count: Int) -> Float {
        var acc = V(repeating: -.infinity)
        var j = 0
        while j + 8 <= count {
            // Compare and blend (one vcmpps + vblendvps): the standard library's
            // pointwiseMax keeps IEEE maximum's NaN rules and compiles to a scalar compare
            // per lane, which made this loop the slowest part of attention's softmax.
            // A NaN is never taken here; the exponentials of a NaN row are NaN anyway.
            let x = UnsafeRawPointer(src + j).loadUnaligned(as: V.self)
            acc.replace(with: x, where: x .> acc)
            j += 8
        }
        let m4 = SIMD4(acc[0], acc[1], acc[2], acc[3]), n4 = SIMD4(acc[4], acc[5], acc[6], acc[7])
        let h4 = m4.replacing(with: n4, where: n4 .> m4)
        var m = Swift.max(Swift.max(h4[0], h4[1]), Swift.max(h4[2], h4[3]))
        while j < count { m = Swift.max(m, src[j]); j += 1 }
        return m
    }

    /// `p[j] *= s` for `j in 0..<count`, eight lanes at a time.
    @inline(__always)
    static func scale(_ p: UnsafeMutablePointer<Float>, count: Int, by s: Float) {
        var j = 0
        while j + 8 <= count {
            let x = UnsafeRawPointer(p + j).loadUnaligned(as: V.self)
            UnsafeMutableRawPointer(p + j).storeBytes(of: x * s, as: V.self)
            j += 8
        }
        while j < count { p[j] *= s; j += 1 }
    }

    /// `sum_j a[j] * b[j]`, accumulated in eight lanes added in a fixed order (deterministic).
    @inline(__always)
    static func dot(_ a: UnsafePointer<Float>, _ b: UnsafePointer<Float>, count: Int) -> Float {
        var acc = V(repeating: 0)
        var j = 0
        while j + 8 <= count {
            acc += UnsafeRawPointer(a + j).loadUnaligned(as: V.self) * UnsafeRawPointer(b + j).loadUnaligned(as: V.self)
            j += 8
        }
        var total = laneSum(acc)
        while j < count { total += a[j] * b[j]; j += 1 }
        return total
    }

    /// Softmax's backward on one row, in place: `dp[j] = p[j] * (dp[j] - delta)`.
    @inline(__always)
    static func softmaxBackwardRow(_ p: UnsafePointer<Float>, _ dp: UnsafeMutablePointer<Float>, count: Int, delta: Float) {
        var j = 0
        while j + 8 <= count {
            let x = UnsafeRawPointer(p + j).loadUnaligned(as: V.self)
            let g = UnsafeRawPointer(dp + j).loadUnaligned(as: V.self)
            UnsafeMutableRawPointer(dp + j).storeBytes(of: x * (g - delta), as: V.self)
            j += 8
        }
        while j < count { dp[j] = p[j] * (dp[j] - delta); j += 1 }
    }

    /// Adds the eight lanes in a fixed order.
    @inline(__always)
    static func laneSum(_ acc: V) -> Float {
        ((acc[0] + acc[1]) + (acc[2] + acc[3])) + ((acc[4] + acc[5]) + (acc[6] + acc[7]))
    }

    /// `sum_j src[j]` in eight lanes (fixed order, deterministic).
    @inline(__always)
    static func sum(_ src: UnsafePointer<Float>, count: Int) -> Float {
        var acc = V(repeating: 0)
        var j = 0
        while j + 8 <= count { acc += UnsafeRawPointer(src + j).loadUnaligned(as: V.self); j += 8 }
        var total = laneSum(acc)
        while j < count { total += src[j]; j += 1 }
        return total
    }

    /// `sum_j (src[j] - mean)^2` in eight lanes (fixed order, deterministic).
    @inline(__always)
    static func sumOfSquaredDeviations(_ src: UnsafePointer<Float>, count: Int, mean: Float) -> Float {
        var acc = V(repeating: 0)
        var j = 0
        while j + 8 <= count {
            let d = UnsafeRawPointer(src + j).loadUnaligned(as: V.self) - mean
            acc += d * d
            j += 8
        }
        var total = laneSum(acc)
        while j < count { let d = src[j] - mean; total += d * d; j += 1 }
        return total
    }
}
