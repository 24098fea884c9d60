import Autograd

/// ggml's block formats: conversion of stored blocks to Float32 (this file) and of Float32 to
/// stored bytes (GGUF+Quantize.swift).
///
/// Every kernel computes, per element, the same Float32 operations in the same order as
/// gguf-py's `quants.py` (itself checked against ggml's `dequantize_row_*`): a scale times an
/// integer, then minus (or plus) an offset, each rounded to Float32, never fused. Results
/// therefore match gguf-py bit for bit; the tests check that block by block. Block layouts
/// (byte offsets inside one block; f16 is IEEE half, little-endian):
///
/// | type | elements | bytes | layout |
/// | --- | --- | --- | --- |
/// | Q4_0 | 32 | 18 | d f16, qs[16]: element j low nibble of qs[j], j+16 high nibble; x = d (q - 8) |
/// | Q4_1 | 32 | 20 | d f16, m f16, qs[16] as Q4_0; x = d q + m |
/// | Q5_0 | 32 | 22 | d f16, qh u32 (bit j is bit 4 of element j), qs[16]; x = d (q - 16) |
/// | Q5_1 | 32 | 24 | d f16, m f16, qh u32, qs[16]; x = d q + m |
/// | Q8_0 | 32 | 34 | d f16, qs int8[32]; x = q d |
/// | Q2_K | 256 | 84 | scales[16] (low nibble scale, high nibble min), qs[64] 2-bit, d f16, dmin f16 |
/// | Q3_K | 256 | 110 | hmask[32], qs[64] 2-bit, scales 12 bytes (16 6-bit), d f16 |
/// | Q4_K | 256 | 144 | d f16, dmin f16, scales 12 bytes (8 6-bit scales, 8 6-bit mins), qs[128] |
/// | Q5_K | 256 | 176 | as Q4_K, then qh[32] (bit j of qh[l] is bit 4 of sub-block j's element l), qs[128] |
/// | Q6_K | 256 | 210 | ql[128] low 4 bits, qh[64] high 2 bits, scales int8[16], d f16; x = d s (q - 32) |
/// | Q8_K | 256 | 292 | d f32, qs int8[256], bsums int16[16] (unused here); x = d q |
public enum GGUFQuantization {
    /// Converts `count` elements stored as `type` in `bytes` to Float32 at `destination`.
    ///
    /// Preconditions (programmer errors): `type.isDequantizable`, `count` a multiple of
    /// `type.blockSize`, and `bytes.count == count / blockSize * typeSize`. Large inputs are
    /// converted on all cores; every element is computed on its own, so the result does not
    /// depend on the number of threads.
    public static func dequantize(_ bytes: UnsafeRawBufferPointer, type: GGUFTensorType, count: Int,
                                  into destination: UnsafeMutablePointer<Float>) {
        precondition(type.isDequantizable, "GGUFQuantization.dequantize: \(type.name) is not converted")
        precondition(count >= 0 && count % type.blockSize == 0,
                     "GGUFQuantization.dequantize: \(count) elements is not a whole number of \(type.name) blocks")
        let blocks = count / type.blockSize
        precondition(bytes.count == blocks * type.typeSize,
                     "GGUFQuantization.dequantize: \(bytes.count) bytes for \(blocks) blocks of \(type.name) (\(type.typeSize) bytes each)")
        guard blocks > 0, let base = bytes.baseAddress else { return }
        let src = base.assumingMemoryBound(to: UInt8.self)
        let typeSize = type.typeSize, blockSize = type.blockSize
        float16Table.withUnsafeBufferPointer { table in
            // The table has 65,536 entries, so the pointer is never nil.
            let h = table.baseAddress!
            Parallel.forRanges(blocks, costPerElement: blockSize) { range in
                let s = src + range.lowerBound * typeSize
                let d = destination + range.lowerBound * blockSize
                let n = range.count
                switch type {
                case .f32: copyF32(s, n, d)
                case .f16: for i in 0..<n { d[i] = h[Int(le16(s + 2 * i))] }
                case .bf16: for i in 0..<n { d[i] = Float(bitPattern: UInt32(le16(s + 2 * i)) << 16) }
                case .q4_0: dequantizeQ4_0(s, n, d, h)
                case .q4_1: dequantizeQ4_1(s, n, d, h)
                case .q5_0: dequantizeQ5_0(s, n, d, h)
                case .q5_1: dequantizeQ5_1(s, n, d, h)
                case .q8_0: dequantizeQ8_0(s, n, d, h)
                case .q2_K: dequantizeQ2_K(s, n, d, h)
                case .q3_K: dequantizeQ3_K(s, n, d, h)
                case .q4_K: dequantizeQ4_K(s, n, d, h)
                case .q5_K: dequantizeQ5_K(s, n, d, h)
                case .q6_K: dequantizeQ6_K(s, n, d, h)
                case .q8_K: dequantizeQ8_K(s, n, d)
                default: preconditionFailure("GGUFQuantization.dequantize: \(type.name) is listed as converted but has no kernel")
                }
            }
        }
    }

    /// IEEE half-precision bits to Float32, exactly, for every one of the 65,536 bit patterns
    /// (a lookup table: the block scales and F16 tensors read through it).
    public static func float(fromFloat16Bits bits: UInt16) -> Float { float16Table[Int(bits)] }

    /// Every half-precision bit pattern's Float32 value (immutable, built once on first use).
    static let float16Table: [Float] = (0...0xFFFF).map { SafeTensors.float16BitsToFloat(UInt16($0)) }

    // MARK: Kernels. `s` points at the first block, `n` blocks, `y` at the first output element.

    @inline(__always) static func le16(_ p: UnsafePointer<UInt8>) -> UInt16 { UInt16(p[0]) | UInt16(p[1]) << 8 }

    @inline(__always) static func le32(_ p: UnsafePointer<UInt8>) -> UInt32 {
        UInt32(p[0]) | UInt32(p[1]) << 8 | UInt32(p[2]) << 16 | UInt32(p[3]) << 24
    }

    static func copyF32(_ s: UnsafePointer<UInt8>, _ n: Int, _ y: UnsafeMutablePointer<Float>) {
        #if _endian(little)
        UnsafeMutableRawPointer(y).copyMemory(from: s, byteCount: 4 * n)
        #else
        for i in 0..<n { y[i] = Float(bitPattern: le32(s + 4 * i)) }
        #endif
    }

    static func dequantizeQ4_0(_ s: UnsafePointer<UInt8>, _ n: Int, _ y: UnsafeMutablePointer<Float>, _ h: UnsafePointer<Float>) {
        for b in 0..<n {
            let blk = s + 18 * b, out = y + 32 * b
            let d = h[Int(le16(blk))]
            let qs = blk + 2
            for j in 0..<16 {
                out[j] = d * Float(Int32(qs[j] & 0x0F) - 8)
                out[j + 16] = d * Float(Int32(qs[j] >> 4) - 8)
            }
        }
    }

    static func dequantizeQ4_1(_ s: UnsafePointer<UInt8>, _ n: Int, _ y: UnsafeMutablePointer<Float>, _ h: UnsafePointer<Float>) {
        for b in 0..<n {
            let blk = s + 20 * b, out = y + 32 * b
            let d = h[Int(le16(blk))], m = h[Int(le16(blk + 2))]
            let qs = blk + 4
            for j in 0..<16 {
                out[j] = d * Float(qs[j] & 0x0F) + m
                out[j + 16] = d * Float(qs[j] >> 4) + m
            }
        }
    }

    static func dequantizeQ5_0(_ s: UnsafePointer<UInt8>, _ n: Int, _ y: UnsafeMutablePointer<Float>, _ h: UnsafePointer<Float>) {
        for b in 0..<n {
            let blk = s + 22 * b, out = y + 32 * b
            let d = h[Int(le16(blk))]
            let qh = le32(blk + 2)
            let qs = blk + 6
            for j in 0..<16 {
                let lo = UInt32(qs[j] & 0x0F) | ((qh >> UInt32(j)) & 1) << 4
                let hi = UInt32(qs[j] >> 4) | ((qh >> UInt32(j + 16)) & 1) << 4
                out[j] = d * Float(Int32(lo) - 16)
                out[j + 16] = d * Float(Int32(hi) - 16)
            }
        }
    }

    static func dequantizeQ5_1(_ s: UnsafePointer<UInt8>, _ n: Int, _ y: UnsafeMutablePointer<Float>, _ h: UnsafePointer<Float>) {
        for b in 0..<n {
            let blk = s + 24 * b, out = y + 32 * b
            let d = h[Int(le16(blk))], m = h[Int(le16(blk + 2))]
            let qh = le32(blk + 4)
            let qs = blk + 8
            for j in 0..<16 {
                let lo = UInt32(qs[j] & 0x0F) | ((qh >> UInt32(j)) & 1) << 4
                let hi = UInt32(qs[j] >> 4) | ((qh >> UInt32(j + 16)) & 1) << 4
                out[j] = d * Float(lo) + m
                out[j + 16] = d * Float(hi) + m
            }
        }
    }

    static func dequantizeQ8_0(_ s: UnsafePointer<UInt8>, _ n: Int, _ y: UnsafeMutablePointer<Float>, _ h: UnsafePointer<Float>) {
        for b in 0..<n {
            let blk = s + 34 * b, out = y + 32 * b
            let d = h[Int(le16(blk))]
            let qs = blk + 2
            for j in 0..<32 { out[j] = Float(Int8(bitPattern: qs[j])) * d }
        }
    }

    static func dequantizeQ2_K(_ s: UnsafePointer<UInt8>, _ n: Int, _ y: UnsafeMutablePointer<Float>, _ h: UnsafePointer<Float>) {
        withUnsafeTemporaryAllocation(of: Float.self, capacity: 32) { buffer in
            // The buffer has 32 elements, so its base address is not nil.
            let dl = buffer.baseAddress!, ml = dl + 16
            for b in 0..<n {
                let blk = s + 84 * b, out = y + 256 * b
                let scales = blk, qs = blk + 16
                let d = h[Int(le16(blk + 80))], dmin = h[Int(le16(blk + 82))]
                for i in 0..<16 {
                    dl[i] = d * Float(scales[i] & 0x0F)
                    ml[i] = dmin * Float(scales[i] >> 4)
                }
                // Element p = 128 half + 32 shift + l takes bits 2 shift.. of qs[32 half + l].
                for half in 0..<2 {
                    for shift in 0..<4 {
                        let sub = half * 8 + shift * 2
                        let o = out + half * 128 + shift * 32
                        let q = qs + half * 32
                        for l in 0..<32 {
                            let v = Float((q[l] >> UInt8(2 * shift)) & 3)
                            o[l] = dl[sub + l / 16] * v - ml[sub + l / 16]
                        }
                    }
                }
            }
        }
    }

    static func dequantizeQ3_K(_ s: UnsafePointer<UInt8>, _ n: Int, _ y: UnsafeMutablePointer<Float>, _ h: UnsafePointer<Float>) {
        withUnsafeTemporaryAllocation(of: Float.self, capacity: 16) { buffer in
            // The buffer has 16 elements, so its base address is not nil.
            let dl = buffer.baseAddress!
            for b in 0..<n {
                let blk = s + 110 * b, out = y + 256 * b
                let hmask = blk, qs = blk + 32, sc = blk + 96
                let d = h[Int(le16(blk + 108))]
                // 16 six-bit scales: low 4 bits from bytes 0-7 (low nibbles, then high
                // nibbles), high 2 bits from bytes 8-11 (2 bits at a time); stored minus 32.
                for i in 0..<16 {
                    let low = (sc[i % 8] >> UInt8(4 * (i / 8))) & 0x0F
                    let high = (sc[8 + i % 4] >> UInt8(2 * (i / 4))) & 0x03
                    dl[i] = d * Float(Int32(low | high << 4) - 32)
                }
                // Element p = 128 half + 32 shift + l: 2 low bits from qs[32 half + l], and
                // 4 is subtracted when bit (p / 32) of hmask[l] is clear.
                for half in 0..<2 {
                    for shift in 0..<4 {
                        let j = half * 4 + shift
                        let o = out + j * 32
                        let q = qs + half * 32
                        for l in 0..<32 {
                            let low = Int32((q[l] >> UInt8(2 * shift)) & 3)
                            let missing = Int32(((hmask[l] >> UInt8(j)) & 1) ^ 1)
                            o[l] = dl[j * 2 + l / 16] * Float(low - (missing << 2))
                        }
                    }
                }
            }
        }
    }

    /// The eight 6-bit scales and eight 6-bit mins of a Q4_K / Q5_K block's 12 scale bytes:
    /// bytes 0-3 hold scales 0-3 (low 6 bits), 4-7 mins 0-3; bytes 8-11 hold the low 4 bits of
    /// scales 4-7 (low nibble) and mins 4-7 (high nibble), whose top 2 bits are the top bits of
    /// bytes 0-3 and 4-7.
    @inline(__always)
    static func scaleAndMin(_ q: UnsafePointer<UInt8>, _ j: Int) -> (scale: UInt8, min: UInt8) {
        if j < 4 { return (q[j] & 63, q[j + 4] & 63) }
        return ((q[j + 4] & 0x0F) | ((q[j - 4] >> 2) & 0x30), (q[j + 4] >> 4) | ((q[j] >> 2) & 0x30))
    }

    static func dequantizeQ4_K(_ s: UnsafePointer<UInt8>, _ n: Int, _ y: UnsafeMutablePointer<Float>, _ h: UnsafePointer<Float>) {
        for b in 0..<n {
            let blk = s + 144 * b, out = y + 256 * b
            let d = h[Int(le16(blk))], dmin = h[Int(le16(blk + 2))]
            let scales = blk + 4, qs = blk + 16
            // 4 chunks of 32 bytes; the low nibbles are sub-block 2c, the high ones 2c + 1.
            for c in 0..<4 {
                let (sc0, m0) = scaleAndMin(scales, 2 * c), (sc1, m1) = scaleAndMin(scales, 2 * c + 1)
                let d0 = d * Float(sc0), dm0 = dmin * Float(m0)
                let d1 = d * Float(sc1), dm1 = dmin * Float(m1)
                let q = qs + 32 * c, o = out + 64 * c
                for l in 0..<32 {
                    o[l] = d0 * Float(q[l] & 0x0F) - dm0
                    o[l + 32] = d1 * Float(q[l] >> 4) - dm1
                }
            }
        }
    }

    static func dequantizeQ5_K(_ s: UnsafePointer<UInt8>, _ n: Int, _ y: UnsafeMutablePointer<Float>, _ h: UnsafePointer<Float>) {
        for b in 0..<n {
            let blk = s + 176 * b, out = y + 256 * b
            let d = h[Int(le16(blk))], dmin = h[Int(le16(blk + 2))]
            let scales = blk + 4, qh = blk + 16, qs = blk + 48
            for c in 0..<4 {
                let (sc0, m0) = scaleAndMin(scales, 2 * c), (sc1, m1) = scaleAndMin(scales, 2 * c + 1)
                let d0 = d * Float(sc0), dm0 = dmin * Float(m0)
                let d1 = d * Float(sc1), dm1 = dmin * Float(m1)
                let q = qs + 32 * c, o = out + 64 * c
                let bit0 = UInt8(2 * c), bit1 = UInt8(2 * c + 1)
                for l in 0..<32 {
                    let lo = (q[l] & 0x0F) | ((qh[l] >> bit0) & 1) << 4
                    let hi = (q[l] >> 4) | ((qh[l] >> bit1) & 1) << 4
                    o[l] = d0 * Float(lo) - dm0
                    o[l + 32] = d1 * Float(hi) - dm1
                }
            }
        }
    }

    static func dequantizeQ6_K(_ s: UnsafePointer<UInt8>, _ n: Int, _ y: UnsafeMutablePointer<Float>, _ h: UnsafePointer<Float>) {
        for b in 0..<n {
            let blk = s + 210 * b, out = y + 256 * b
            let d = h[Int(le16(blk + 208))]
            let scales = blk + 192
            // Element p = 128 half + 32 t + l: low 4 bits from ql[64 half + 32 (t % 2) + l]
            // (low nibble for t < 2, high for t >= 2), high 2 bits from bits 2t of qh[32 half + l].
            for half in 0..<2 {
                let ql = blk + 64 * half, qh = blk + 128 + 32 * half
                for t in 0..<4 {
                    let o = out + 128 * half + 32 * t
                    let lowSource = ql + 32 * (t % 2), lowShift = UInt8(4 * (t / 2)), highShift = UInt8(2 * t)
                    let sub = 8 * half + 2 * t
                    let s0 = d * Float(Int8(bitPattern: scales[sub])), s1 = d * Float(Int8(bitPattern: scales[sub + 1]))
                    for l in 0..<32 {
                        let q = Int32(((lowSource[l] >> lowShift) & 0x0F) | ((qh[l] >> highShift) & 3) << 4) - 32
                        o[l] = (l < 16 ? s0 : s1) * Float(q)
                    }
                }
            }
        }
    }

    static func dequantizeQ8_K(_ s: UnsafePointer<UInt8>, _ n: Int, _ y: UnsafeMutablePointer<Float>) {
        for b in 0..<n {
            let blk = s + 292 * b, out = y + 256 * b
            let d = Float(bitPattern: le32(blk))
            let qs = blk + 4
            for j in 0..<256 { out[j] = d * Float(Int8(bitPattern: qs[j])) }
        }
    }
}
