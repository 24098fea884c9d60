/// Matrix products through `cblas_sgemm`: plain and batched, either operand transposed
/// by BLAS flags (never by copying), with the backward products beside the forward.

extension Tensor {
    /// `op(a) @ op(b)` where `op` transposes the last two dimensions when asked.
    ///
    /// Shapes: `a` [..., M, K] (or [..., K, M] with `transposeA`), `b` [..., K, N] (or
    /// [..., N, K] with `transposeB`); result [..., M, N]. Batch dimensions must be
    /// equal, or one operand is rank 2 and is shared by every batch. A rank-2 `b` with an
    /// untransposed `a` of any rank is one sgemm over all rows (a linear layer).
    public static func matmul(_ a: Tensor, _ b: Tensor, transposeA: Bool = false, transposeB: Bool = false) -> Tensor {
        precondition(a.rank >= 2 && b.rank >= 2,
                     "matmul: operands need rank >= 2, got \(a.shape) and \(b.shape)")
        // A linear layer: fold all batch dimensions of `a` into rows, one sgemm. The
        // reshapes are differentiable, so the backward pass folds the same way.
        if b.rank == 2 && a.rank > 2 && !transposeA {
            let k = a.shape[a.rank - 1]
            let flat = matmul2D(a.reshaped([a.count / Swift.max(k, 1), k]), b, transposeA: false, transposeB: transposeB)
            return flat.reshaped(Array(a.shape.dropLast()) + [flat.shape[1]])
        }
        if a.rank == 2 && b.rank == 2 {
            return matmul2D(a, b, transposeA: transposeA, transposeB: transposeB)
        }
        return matmulBatched(a, b, transposeA: transposeA, transposeB: transposeB)
    }

    /// `c + a @ op(b)` for `a` [..., K] and a rank-2 `b` (a linear layer's product added to
    /// an output that already exists, as a LoRA update onto its base layer's): one sgemm
    /// with beta = 1 into a copy of `c`, so the product never exists as a tensor of its own
    /// (one output-sized buffer instead of two). `c` has the result's shape [..., N].
    /// Gradients: dc = g; da and db as for `matmul`. Equal to `c + matmul(a, b)` up to
    /// float rounding (sgemm adds the product in its own order). This is `linear` without
    /// a bias, adding `c`.
    public static func matmul(_ a: Tensor, _ b: Tensor, transposeB: Bool = false, adding c: Tensor) -> Tensor {
        precondition(a.rank >= 2 && b.rank == 2, "matmul(adding:): need a [..., K] and a rank-2 b, got \(a.shape) and \(b.shape)")
        let k = a.shape[a.rank - 1]
        let (_, _, n) = productDims([a.count / Swift.max(k, 1), k], b.shape, false, transposeB)
        let outShape = Array(a.shape.dropLast()) + [n]
        precondition(c.shape == outShape, "matmul(adding:): c is \(c.shape), the product \(a.shape) @ \(b.shape)\(transposeB ? "ᵀ" : "") is \(outShape)")
        return linear(a, b, bias: nil, transposeWeight: transposeB, adding: c)
    }

    /// Dimensions (M, K) of op(a) and (K, N) of op(b), checked.
    static func productDims(_ a: [Int], _ b: [Int], _ ta: Bool, _ tb: Bool) -> (m: Int, k: Int, n: Int) {
        let ra = a.count, rb = b.count
        let m = ta ? a[ra - 1] : a[ra - 2], ka = ta ? a[ra - 2] : a[ra - 1]
        let kb = tb ? b[rb - 1] : b[rb - 2], n = tb ? b[rb - 2] : b[rb - 1]
        precondition(ka == kb, "matmul: inner dimensions differ: \(a)\(ta ? "ᵀ" : "") @ \(b)\(tb ? "ᵀ" : "") (\(ka) vs \(kb))")
        return (m, ka, n)
    }

    static func matmul2D(_ a: Tensor, _ b: Tensor, transposeA: Bool, transposeB: Bool) -> Tensor {
        let (m, k, n) = productDims(a.shape, b.shape, transposeA, transposeB)
        let out = Tensor.uninitialized([m, n])
        if m > 0 && n > 0 {
            if k == 0 {
                out.storage.pointer.initialize(repeating: 0, count: m * n)
            } else {
                BLAS.product(transposeA: transposeA, transposeB: transposeB, m: m, n: n, k: k,
                           a: a.storage.pointer, lda: a.shape[1], b: b.storage.pointer, ldb: b.shape[1],
                           c: out.storage.pointer, ldc: n)
            }
        }
        guard anyTracked(a, b) else { return out }
        return out.recorded([a, b], matmulBackward(a.detached, b.detached, transposeA, transposeB, a.isTracked, b.isTracked))
    }

    static func matmulBatched(_ a: Tensor, _ b: Tensor, transposeA: Bool, transposeB: Bool) -> Tensor {
        let (m, k, n) = productDims(a.shape, b.shape, transposeA, transposeB)
        let batchA = Array(a.shape.dropLast(2)), batchB = Array(b.shape.dropLast(2))
        precondition(batchA == batchB || batchA.isEmpty || batchB.isEmpty,
                     "matmul: batch dimensions differ: \(a.shape) @ \(b.shape)")
        let batchShape = batchA.isEmpty ? batchB : batchA
        let batch = Tensor.elementCount(batchShape)
        let strideA = batchA.isEmpty ? 0 : m * k
        let strideB = batchB.isEmpty ? 0 : k * n
        let out = Tensor.uninitialized(batchShape + [m, n])
        let lda = a.shape[a.rank - 1], ldb = b.shape[b.rank - 1]
        let pa = a.storage.pointer, pb = b.storage.pointer, po = out.storage.pointer
        if k == 0 {
            po.initialize(repeating: 0, count: out.count)
        } else if m > 0 && n > 0 {
            for i in 0..<batch {
                BLAS.product(transposeA: transposeA, transposeB: transposeB, m: m, n: n, k: k,
                           a: pa + i * strideA, lda: lda, b: pb + i * strideB, ldb: ldb,
                           c: po + i * m * n, ldc: n)
            }
        }
        guard anyTracked(a, b) else { return out }
        return out.recorded([a, b], matmulBackward(a.detached, b.detached, transposeA, transposeB, a.isTracked, b.isTracked))
    }

    /// Backward of C = op(A) op(B): dA and dB as products of dC with the other operand,
    /// choosing transpose flags so that nothing is copied. A shared (rank-2) operand of
    /// a batched product gets its gradient summed over the batch by `sumToShape`.
    static func matmulBackward(_ a: Tensor, _ b: Tensor, _ ta: Bool, _ tb: Bool,
                               _ needA: Bool, _ needB: Bool) -> (Tensor) -> [Tensor?] {
        return { g in
            var da: Tensor? = nil, db: Tensor? = nil
            switch (ta, tb) {
            case (false, false):  // C = A B
                if needA { da = matmul(g, b, transposeB: true) }
                if needB { db = matmul(a, g, transposeA: true) }
            case (false, true):   // C = A Bᵀ, B stored [N, K]
                if needA { da = matmul(g, b) }
                if needB { db = matmul(g, a, transposeA: true) }
            case (true, false):   // C = Aᵀ B, A stored [K, M]
                if needA { da = matmul(b, g, transposeB: true) }
                if needB { db = matmul(a, g) }
            case (true, true):    // C = Aᵀ Bᵀ
                if needA { da = matmul(b, g, transposeA: true, transposeB: true) }
                if needB { db = matmul(g, a, transposeA: true, transposeB: true) }
            }
            return [da?.sumToShape(a.shape), db?.sumToShape(b.shape)]
        }
    }
}

extension Tensor {
    /// A linear layer with its bias in one op: `x @ op(w) + bias`, broadcasting the bias
    /// over rows, optionally added to a residual: `residual + x @ op(w) + bias`.
    ///
    /// Shapes: `x` [..., K]; `w` [K, N] (or [N, K] with `transposeWeight`); `bias` [N] or
    /// nil; `residual` nil or the result's shape [..., N]; result [..., N]. Same value as
    /// `matmul(x, w) + bias` (and `residual + that`) up to float rounding, with less memory
    /// traffic: the output rows start as copies of the bias (or residual + bias) and sgemm
    /// adds the product into them (beta 1), so there is no second [.., N] tensor and no
    /// broadcast or residual-add pass. Backward: dX = g op(w)ᵀ and dW by sgemm with
    /// transpose flags, d(bias) = column sums of g, d(residual) = g.
    public static func linear(_ x: Tensor, _ w: Tensor, bias: Tensor?, transposeWeight: Bool = false,
                              adding residual: Tensor? = nil) -> Tensor {
        precondition(x.rank >= 1 && w.rank == 2, "linear: x must be [..., K] and w rank 2, got \(x.shape) and \(w.shape)")
        let k = x.shape[x.rank - 1]
        let wk = transposeWeight ? w.shape[1] : w.shape[0], n = transposeWeight ? w.shape[0] : w.shape[1]
        precondition(wk == k, "linear: x \(x.shape) and weight \(w.shape)\(transposeWeight ? "ᵀ" : "") differ in K (\(k) vs \(wk))")
        if let bias = bias {
            precondition(bias.shape == [n], "linear: bias must be [\(n)], got \(bias.shape)")
        }
        let outShape = Array(x.shape.dropLast()) + [n]
        if let residual = residual {
            precondition(residual.shape == outShape, "linear: residual must be the output's shape \(outShape), got \(residual.shape)")
        }
        let m = x.count / Swift.max(k, 1)
        let out = Tensor.uninitialized(outShape)
        let po = out.storage.pointer
        switch (residual, bias) {
        case let (residual?, bias?):
            let pr = residual.storage.pointer, pb = bias.storage.pointer
            Parallel.forRanges(m, costPerElement: 2 * n) { rows in
                for r in rows {
                    let dst = po + r * n, src = pr + r * n
                    for j in 0..<n { dst[j] = src[j] + pb[j] }
                }
            }
        case let (residual?, nil):
            let pr = residual.storage.pointer
            Parallel.forRanges(m, costPerElement: n) { rows in
                (po + rows.lowerBound * n).update(from: pr + rows.lowerBound * n, count: rows.count * n)
            }
        case let (nil, bias?):
            let pb = bias.storage.pointer
            Parallel.forRanges(m, costPerElement: n) { rows in
                for r in rows { (po + r * n).update(from: pb, count: n) }
            }
        case (nil, nil):
            break
        }
        let startsFilled = bias != nil || residual != nil
        if m > 0 && n > 0 {
            if k == 0 {
                if !startsFilled { po.initialize(repeating: 0, count: m * n) }
            } else {
                BLAS.product(transposeA: false, transposeB: transposeWeight, m: m, n: n, k: k,
                           a: x.storage.pointer, lda: k, b: w.storage.pointer, ldb: w.shape[1],
                           beta: startsFilled ? 1 : 0, c: po, ldc: n)
            }
        }
        let inputs = [x, w] + (bias.map { [$0] } ?? []) + (residual.map { [$0] } ?? [])
        guard anyTracked(inputs) else { return out }
        let xs = x.detached, ws = w.detached
        let need = (x.isTracked, w.isTracked, bias?.isTracked ?? false, residual?.isTracked ?? false)
        let hasBias = bias != nil, hasResidual = residual != nil
        return out.recorded(inputs) { g in
            let g2 = g.reshaped([m, n])
            var dx: Tensor? = nil, dw: Tensor? = nil, db: Tensor? = nil
            if need.0 {
                dx = matmul2D(g2, ws, transposeA: false, transposeB: !transposeWeight).reshaped(xs.shape)
            }
            if need.1 {
                let x2 = xs.reshaped([m, k])
                dw = transposeWeight ? matmul2D(g2, x2, transposeA: true, transposeB: false)
                                     : matmul2D(x2, g2, transposeA: true, transposeB: false)
            }
            if need.2 { db = columnSums(g2) }
            var grads: [Tensor?] = [dx, dw]
            if hasBias { grads.append(db) }
            if hasResidual { grads.append(need.3 ? g : nil) }
            return grads
        }
    }

    /// Sums of the columns of a detached [M, N] matrix: [N]. Each core sums a block of
    /// columns over all rows in row order, so the result does not depend on the core count.
    static func columnSums(_ g: Tensor) -> Tensor {
        let m = g.shape[0], n = g.shape[1]
        let out = Tensor.zeros([n])
        let pg = g.storage.pointer, po = out.storage.pointer
        // Blocks of 64 columns: eight 8-lane running sums stay in registers over all rows.
        let block = 64, blocks = (n + block - 1) / block
        Parallel.forRanges(blocks, costPerElement: m * block) { range in
            for bi in range {
                let c0 = bi * block, width = Swift.min(n, c0 + block) - c0
                let dst = po + c0
                if width == block {
                    typealias V = SIMD8<Float>
                    var a0 = V(), a1 = V(), a2 = V(), a3 = V(), a4 = V(), a5 = V(), a6 = V(), a7 = V()
                    for r in 0..<m {
                        let src = UnsafeRawPointer(pg + r * n + c0)
                        a0 += src.loadUnaligned(as: V.self)
                        a1 += src.loadUnaligned(fromByteOffset: 32, as: V.self)
                        a2 += src.loadUnaligned(fromByteOffset: 64, as: V.self)
                        a3 += src.loadUnaligned(fromByteOffset: 96, as: V.self)
                        a4 += src.loadUnaligned(fromByteOffset: 128, as: V.self)
                        a5 += src.loadUnaligned(fromByteOffset: 160, as: V.self)
                        a6 += src.loadUnaligned(fromByteOffset: 192, as: V.self)
                        a7 += src.loadUnaligned(fromByteOffset: 224, as: V.self)
                    }
                    for (i, a) in [a0, a1, a2, a3, a4, a5, a6, a7].enumerated() {
                        UnsafeMutableRawPointer(dst + 8 * i).storeBytes(of: a, as: V.self)
                    }
                } else {
                    for r in 0..<m {
                        let src = pg + r * n + c0
                        for j in 0..<width { dst[j] += src[j] }
                    }
                }
            }
        }
        return out
    }
}
