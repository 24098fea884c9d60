import CKernels
import Dispatch

/// A linear layer's weight [out, in] prepared for inference: float32 as trained, or
/// quantized to Q8_0 (3.76x fewer bytes to read per token).
public enum InferenceWeight: Sendable {
    case float32(Tensor)
    case q8_0(Q8_0Matrix)

    /// Output features.
    public var rows: Int {
        switch self {
        case let .float32(w): return w.shape[0]
        case let .q8_0(m): return m.rows
        }
    }

    /// Input features.
    public var columns: Int {
        switch self {
        case let .float32(w): return w.shape[1]
        case let .q8_0(m): return m.columns
        }
    }

    /// Bytes a product reads from the weight (4 per float32 value, 34 per 32 for Q8_0).
    public var byteCount: Int {
        switch self {
        case let .float32(w): return w.count * MemoryLayout<Float>.size
        case let .q8_0(m): return m.byteCount
        }
    }
}

/// Products for batch-1 and small-batch decoding (no gradient).
///
/// Decoding reads every weight once per token and does two flops per weight, so it is bound
/// by memory bandwidth: the kernels here stream each weight row once for up to
/// `streamingRowLimit` input rows, with one pass over the output rows split across cores in
/// chunks of fixed size (a chunk's rows depend only on the shapes, and each output value is
/// one thread's sum in a fixed order, so results do not depend on the thread count).
/// Several products of the same input (q, k, v; gate, up) share one dispatch, which halves
/// the thread hand-offs of a decode step. More rows than `streamingRowLimit` (prefill) go to
/// sgemm: float32 directly, Q8_0 one de-quantized tile of 64 weight rows at a time.
///
/// Float32 results agree with sgemm to float rounding (the sum order differs); Q8_0 results
/// are exact products of the de-quantized weights to the same rounding.
extension Tensor {
    /// Input rows up to which the streaming kernels run (above: sgemm).
    public static let streamingRowLimit = 8

    /// x [N, in] times each weight transposed: [N, out_i] per weight. All weights must have
    /// `in` columns. Records no gradient.
    public static func inferenceProducts(_ x: Tensor, _ weights: [InferenceWeight]) -> [Tensor] {
        precondition(x.rank == 2, "inferenceProducts: x must be [N, in], got \(x.shape)")
        let n = x.shape[0], k = x.shape[1]
        for w in weights {
            precondition(w.columns == k, "inferenceProducts: x is \(x.shape) but a weight is [\(w.rows), \(w.columns)]")
        }
        if n > streamingRowLimit {
            return weights.map { w in
                switch w {
                case let .float32(t): return Tensor.matmul(x.detached, t.detached, transposeB: true)
                case let .q8_0(m): return tiledProduct(x, m)
                }
            }
        }
        let outputs = weights.map { TensorStorage(uninitializedCount: n * $0.rows) }
        // Tasks: (weight, first row, end row), rows in chunks of about 64k weights.
        var tasks: [(Int, Int, Int)] = []
        for (i, w) in weights.enumerated() {
            let per = Swift.max(16, (1 << 16) / Swift.max(k, 1) / 16 * 16)
            var lo = 0
            while lo < w.rows { tasks.append((i, lo, Swift.min(w.rows, lo + per))); lo += per }
        }
        let xp = x.storage.pointer
        let work = n * k * weights.reduce(0) { $0 + $1.rows }
        withExtendedLifetime((x, weights, outputs)) {
            let body: (Int) -> Void = { t in
                let (i, lo, hi) = tasks[t]
                let y = outputs[i].pointer, ldy = weights[i].rows
                switch weights[i] {
                case let .float32(w): streamF32(w.storage.pointer, xp, y, rows: lo..<hi, columns: k, n: n, ldy: ldy)
                case let .q8_0(m): streamQ8_0(UnsafeRawPointer(m.storage.base), xp, y, rows: lo..<hi, columns: k, n: n, ldy: ldy)
                }
            }
            if tasks.count >= 2 && work >= Parallel.minimumParallelWork {
                DispatchQueue.concurrentPerform(iterations: tasks.count, execute: body)
            } else {
                for t in tasks.indices { body(t) }
            }
        }
        return zip(weights, outputs).map { Tensor(shape: [n, $0.rows], storage: $1) }
    }

    /// x [N, in] times the weight transposed: [N, out]. Records no gradient.
    public static func inferenceProduct(_ x: Tensor, _ weight: InferenceWeight) -> Tensor {
        inferenceProducts(x, [weight])[0]
    }

    /// y[r, j] = sum_i w[j, i] x[r, i] for j in `rows`, r < n (n <= streamingRowLimit);
    /// y has row stride `ldy`. Input rows go four at a time, so a weight row is read once
    /// per four input rows.
    static func streamF32(_ w: UnsafePointer<Float>, _ x: UnsafePointer<Float>, _ y: UnsafeMutablePointer<Float>,
                          rows: Range<Int>, columns k: Int, n: Int, ldy: Int) {
        let k32 = k / 32 * 32, k8 = k / 8 * 8
        var r0 = 0
        while r0 < n {
            let group = Swift.min(4, n - r0)
            if group == 1 {
                let xr = UnsafeRawPointer(x + r0 * k)
                for j in rows {
                    let wr = UnsafeRawPointer(w + j * k)
                    var a0 = SIMD8<Float>(), a1 = SIMD8<Float>(), a2 = SIMD8<Float>(), a3 = SIMD8<Float>()
                    var i = 0
                    while i < k32 {
                        let o = 4 * i
                        a0.addProduct(wr.loadUnaligned(fromByteOffset: o, as: SIMD8<Float>.self), xr.loadUnaligned(fromByteOffset: o, as: SIMD8<Float>.self))
                        a1.addProduct(wr.loadUnaligned(fromByteOffset: o + 32, as: SIMD8<Float>.self), xr.loadUnaligned(fromByteOffset: o + 32, as: SIMD8<Float>.self))
                        a2.addProduct(wr.loadUnaligned(fromByteOffset: o + 64, as: SIMD8<Float>.self), xr.loadUnaligned(fromByteOffset: o + 64, as: SIMD8<Float>.self))
                        a3.addProduct(wr.loadUnaligned(fromByteOffset: o + 96, as: SIMD8<Float>.self), xr.loadUnaligned(fromByteOffset: o + 96, as: SIMD8<Float>.self))
                        i += 32
                    }
                    while i < k8 {
                        a0.addProduct(wr.loadUnaligned(fromByteOffset: 4 * i, as: SIMD8<Float>.self), xr.loadUnaligned(fromByteOffset: 4 * i, as: SIMD8<Float>.self))
                        i += 8
                    }
                    var s = ((a0 + a1) + (a2 + a3)).sum()
                    while i < k { s += w[j * k + i] * x[r0 * k + i]; i += 1 }
                    y[r0 * ldy + j] = s
                }
            } else {
                // Missing rows of a short group repeat the group's first row; their sums are dropped.
                let xs = (0..<4).map { UnsafeRawPointer(x + (r0 + ($0 < group ? $0 : 0)) * k) }
                let x0 = xs[0], x1 = xs[1], x2 = xs[2], x3 = xs[3]
                for j in rows {
                    let wr = UnsafeRawPointer(w + j * k)
                    var a0 = SIMD8<Float>(), a1 = SIMD8<Float>(), a2 = SIMD8<Float>(), a3 = SIMD8<Float>()
                    var i = 0
                    while i < k8 {
                        let o = 4 * i
                        let wv = wr.loadUnaligned(fromByteOffset: o, as: SIMD8<Float>.self)
                        a0.addProduct(wv, x0.loadUnaligned(fromByteOffset: o, as: SIMD8<Float>.self))
                        a1.addProduct(wv, x1.loadUnaligned(fromByteOffset: o, as: SIMD8<Float>.self))
                        a2.addProduct(wv, x2.loadUnaligned(fromByteOffset: o, as: SIMD8<Float>.self))
                        a3.addProduct(wv, x3.loadUnaligned(fromByteOffset: o, as: SIMD8<Float>.self))
                        i += 8
                    }
                    var s = [a0.sum(), a1.sum(), a2.sum(), a3.sum()]
                    while i < k {
                        for g in 0..<group { s[g] += w[j * k + i] * x[(r0 + g) * k + i] }
                        i += 1
                    }
                    for g in 0..<group { y[(r0 + g) * ldy + j] = s[g] }
                }
            }
            r0 += group
        }
    }

    /// `streamF32` for a Q8_0 weight (`Q8_0Matrix` layout at `w`; k a multiple of 32): per
    /// block, the 32 int8 values become floats once, are dotted with each input row, and the
    /// block's sum is scaled by its d.
    static func streamQ8_0(_ w: UnsafeRawPointer, _ x: UnsafePointer<Float>, _ y: UnsafeMutablePointer<Float>,
                           rows: Range<Int>, columns k: Int, n: Int, ldy: Int) {
        if Q8_0Matrix.intrinsicsKernels {
            instructkit_q8_0_stream(w, x, y, rows.lowerBound, rows.upperBound, k, n, ldy)
        } else {
            streamQ8_0Swift(w, x, y, rows: rows, columns: k, n: n, ldy: ldy)
        }
    }

    /// `streamQ8_0` in Swift SIMD, for CPUs without AVX2/FMA/F16C (and as the C kernel's
    /// cross-check): Swift's generic int8 -> int32 -> float conversions are out-of-line
    /// per-element calls here, which made this 4-5x slower than the C kernel.
    static func streamQ8_0Swift(_ w: UnsafeRawPointer, _ x: UnsafePointer<Float>, _ y: UnsafeMutablePointer<Float>,
                                rows: Range<Int>, columns k: Int, n: Int, ldy: Int) {
        let nb = k / Q8_0Matrix.blockSize, bb = Q8_0Matrix.blockBytes
        var r0 = 0
        while r0 < n {
            let group = Swift.min(4, n - r0)
            if group == 1 {
                let xr = UnsafeRawPointer(x + r0 * k)
                for j in rows {
                    let wr = w + j * nb * bb
                    var acc = SIMD8<Float>()
                    for b in 0..<nb {
                        let block = wr + b * bb, xo = 128 * b
                        let d = Float(Float16(bitPattern: block.loadUnaligned(as: UInt16.self)))
                        var s = q8(block, 0) * xr.loadUnaligned(fromByteOffset: xo, as: SIMD8<Float>.self)
                        s.addProduct(q8(block, 1), xr.loadUnaligned(fromByteOffset: xo + 32, as: SIMD8<Float>.self))
                        s.addProduct(q8(block, 2), xr.loadUnaligned(fromByteOffset: xo + 64, as: SIMD8<Float>.self))
                        s.addProduct(q8(block, 3), xr.loadUnaligned(fromByteOffset: xo + 96, as: SIMD8<Float>.self))
                        acc.addProduct(s, SIMD8<Float>(repeating: d))
                    }
                    y[r0 * ldy + j] = acc.sum()
                }
            } else {
                let xs = (0..<4).map { UnsafeRawPointer(x + (r0 + ($0 < group ? $0 : 0)) * k) }
                let x0 = xs[0], x1 = xs[1], x2 = xs[2], x3 = xs[3]
                for j in rows {
                    let wr = w + j * nb * bb
                    var a0 = SIMD8<Float>(), a1 = SIMD8<Float>(), a2 = SIMD8<Float>(), a3 = SIMD8<Float>()
                    for b in 0..<nb {
                        let block = wr + b * bb, xo = 128 * b
                        let d = SIMD8<Float>(repeating: Float(Float16(bitPattern: block.loadUnaligned(as: UInt16.self))))
                        let q0 = q8(block, 0), q1 = q8(block, 1), q2 = q8(block, 2), q3 = q8(block, 3)
                        @inline(__always) func dot(_ xr: UnsafeRawPointer) -> SIMD8<Float> {
                            var s = q0 * xr.loadUnaligned(fromByteOffset: xo, as: SIMD8<Float>.self)
                            s.addProduct(q1, xr.loadUnaligned(fromByteOffset: xo + 32, as: SIMD8<Float>.self))
                            s.addProduct(q2, xr.loadUnaligned(fromByteOffset: xo + 64, as: SIMD8<Float>.self))
                            s.addProduct(q3, xr.loadUnaligned(fromByteOffset: xo + 96, as: SIMD8<Float>.self))
                            return s
                        }
                        a0.addProduct(dot(x0), d)
                        a1.addProduct(dot(x1), d)
                        a2.addProduct(dot(x2), d)
                        a3.addProduct(dot(x3), d)
                    }
                    let s = [a0.sum(), a1.sum(), a2.sum(), a3.sum()]
                    for g in 0..<group { y[(r0 + g) * ldy + j] = s[g] }
                }
            }
            r0 += group
        }
    }

    /// Values 8c..<8c+8 of a Q8_0 block as floats.
    @inline(__always)
    static func q8(_ block: UnsafeRawPointer, _ c: Int) -> SIMD8<Float> {
        SIMD8<Float>(SIMD8<Int32>(truncatingIfNeeded: block.loadUnaligned(fromByteOffset: 2 + 8 * c, as: SIMD8<Int8>.self)))
    }

    /// Prefill with a Q8_0 weight: 64 weight rows at a time de-quantized into a scratch tile
    /// (fits in L2) and multiplied by single-threaded sgemm, tiles spread across cores.
    static func tiledProduct(_ x: Tensor, _ m: Q8_0Matrix) -> Tensor {
        let n = x.shape[0], k = m.columns, tile = 64
        let out = TensorStorage(uninitializedCount: n * m.rows)
        let tiles = (m.rows + tile - 1) / tile
        let xp = x.storage.pointer, y = out.pointer
        withExtendedLifetime((x, m)) {
            DispatchQueue.concurrentPerform(iterations: tiles) { t in
                let lo = t * tile, hi = Swift.min(m.rows, lo + tile)
                let scratch = UnsafeMutablePointer<Float>.allocate(capacity: (hi - lo) * k)
                defer { scratch.deallocate() }
                m.dequantizeRows(lo..<hi, into: scratch)
                // Y[:, lo..<hi] = X [n, k] · tileᵀ [k, hi - lo]
                BLAS.sgemm(transposeA: false, transposeB: true, m: n, n: hi - lo, k: k, a: xp, lda: k,
                           b: scratch, ldb: k, beta: 0, c: y + lo, ldc: m.rows)
            }
        }
        return Tensor(shape: [n, m.rows], storage: out)
    }
}
