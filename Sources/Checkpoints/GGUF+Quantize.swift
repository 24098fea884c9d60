import Autograd

extension GGUFQuantization {
    /// The bytes of `values` stored as `type` (F32, F16, BF16 or Q8_0; see `GGUFTensorType.writable`),
    /// exactly as gguf-py's `quants.quantize` produces them:
    ///
    /// - F32: the values, little-endian.
    /// - F16: each value rounded to nearest, ties to even (numpy `astype(float16)`); beyond the
    ///   half range it becomes infinity, NaN stays a (quiet) NaN.
    /// - BF16: ggml's `ggml_compute_fp32_to_bf16`: NaN forced quiet, otherwise round to nearest,
    ///   ties to even, of the upper 16 bits.
    /// - Q8_0: per block of 32, `d = max|x| / 127` and `q = round(x * (1 / d))` in Float32 with
    ///   ties rounded away from zero (gguf-py's `np_roundf` and C's `roundf`, not numpy's
    ///   ties-to-even `np.round`); `q = 0` when `d == 0`; `d` is stored rounded to F16 (ties to
    ///   even). The quantized values use the unrounded `d`, as in ggml's `quantize_row_q8_0_ref`.
    ///
    /// Preconditions: `type.isWritable`, and `values.count` a multiple of the block size.
    /// Q8_0 of a block holding NaN or infinity, or whose largest magnitude is below
    /// 127 x 2^-126 (about 1.5e-36, so that `d` is subnormal and `x * (1 / d)` may leave the int8
    /// range, where ggml's and numpy's integer conversion is undefined), gives bytes that may
    /// differ from gguf-py's: q is clamped to -128...127 and NaN becomes 0.
    public static func quantize(_ values: UnsafeBufferPointer<Float>, as type: GGUFTensorType) -> [UInt8] {
        precondition(type.isWritable, "GGUFQuantization.quantize: \(type.name) cannot be written")
        precondition(values.count % type.blockSize == 0,
                     "GGUFQuantization.quantize: \(values.count) values is not a whole number of \(type.name) blocks")
        let blocks = values.count / type.blockSize
        var out = [UInt8](repeating: 0, count: blocks * type.typeSize)
        guard let x = values.baseAddress, blocks > 0 else { return out }
        out.withUnsafeMutableBufferPointer { buffer in
            // `out` has blocks * typeSize > 0 bytes, so the base address is not nil.
            let o = buffer.baseAddress!
            Parallel.forRanges(blocks, costPerElement: type.blockSize) { range in
                for i in range {
                    switch type {
                    case .f32: put32(x[i].bitPattern, o + 4 * i)
                    case .f16: put16(float16Bits(x[i]), o + 2 * i)
                    case .bf16: put16(bfloat16Bits(x[i]), o + 2 * i)
                    case .q8_0: quantizeQ8_0Block(x + 32 * i, o + 34 * i)
                    default: preconditionFailure("GGUFQuantization.quantize: \(type.name) is listed as writable but has no kernel")
                    }
                }
            }
        }
        return out
    }

    /// `x` rounded to IEEE half precision (to nearest, ties to even; overflow to infinity,
    /// underflow through the subnormals to zero; NaN to a quiet NaN keeping the top payload
    /// bits). Matches numpy's `astype(float16)` and the hardware conversion for every input
    /// that is not NaN. Written out rather than using `Float16`, which some platforms lack.
    public static func float16Bits(_ x: Float) -> UInt16 {
        let bits = x.bitPattern
        let sign = UInt16(truncatingIfNeeded: (bits >> 16) & 0x8000)
        let exponent = Int((bits >> 23) & 0xFF)
        let mantissa = bits & 0x7F_FFFF
        if exponent == 0xFF {
            return sign | (mantissa == 0 ? 0x7C00 : 0x7E00 | UInt16(truncatingIfNeeded: mantissa >> 13))
        }
        let unbiased = exponent - 127
        if unbiased > 15 { return sign | 0x7C00 }
        if unbiased >= -14 {
            // A normal half: keep 10 of 23 mantissa bits, round the 13 dropped ones. A carry
            // out of the mantissa moves into the exponent, which is the right result (up to infinity).
            var m = mantissa >> 13
            let rest = mantissa & 0x1FFF
            if rest > 0x1000 || (rest == 0x1000 && m & 1 == 1) { m += 1 }
            return sign | UInt16(truncatingIfNeeded: (UInt32(unbiased + 15) << 10) + m)
        }
        if unbiased < -25 { return sign }
        // A half subnormal (units of 2^-24): the 24-bit significand shifted right by 14...24.
        let significand = mantissa | 0x80_0000
        let shift = UInt32(-(unbiased + 1))
        var m = significand >> shift
        let rest = significand & ((1 << shift) - 1)
        let halfway: UInt32 = 1 << (shift - 1)
        if rest > halfway || (rest == halfway && m & 1 == 1) { m += 1 }
        return sign | UInt16(truncatingIfNeeded: m)
    }

    /// `x` as bfloat16 bits, as ggml's `ggml_compute_fp32_to_bf16` and gguf-py compute it.
    public static func bfloat16Bits(_ x: Float) -> UInt16 {
        var n = x.bitPattern
        if n & 0x7FFF_FFFF > 0x7F80_0000 { n = (n & 0xFFFF_0000) | (64 << 16) }
        let rounded = (UInt64(n) + UInt64(0x7FFF + ((n >> 16) & 1))) >> 16
        return UInt16(truncatingIfNeeded: rounded)
    }

    /// One Q8_0 block (34 bytes at `o`) from 32 values at `x`; see `quantize(_:as:)`.
    static func quantizeQ8_0Block(_ x: UnsafePointer<Float>, _ o: UnsafeMutablePointer<UInt8>) {
        var amax: Float = 0
        for j in 0..<32 { amax = max(amax, abs(x[j])) }
        let d = amax / 127
        let id: Float = d == 0 ? 0 : 1 / d
        put16(float16Bits(d), o)
        for j in 0..<32 {
            let q = (x[j] * id).rounded(.toNearestOrAwayFromZero)
            // For a normal d, |x * id| <= 127 (1 + a few ulps), so q is in -127...127. The clamp
            // (and NaN to 0) only keeps the conversion from trapping on degenerate blocks.
            o[2 + j] = UInt8(bitPattern: Int8(q.isNaN ? 0 : max(-128, min(127, q))))
        }
    }

    @inline(__always) static func put16(_ v: UInt16, _ p: UnsafeMutablePointer<UInt8>) {
        p[0] = UInt8(truncatingIfNeeded: v)
        p[1] = UInt8(truncatingIfNeeded: v >> 8)
    }

    @inline(__always) static func put32(_ v: UInt32, _ p: UnsafeMutablePointer<UInt8>) {
        for k in 0..<4 { p[k] = UInt8(truncatingIfNeeded: v >> UInt32(8 * k)) }
    }
}
