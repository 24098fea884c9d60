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
    /// float rounding (sgemm adds the product in its own order).
    public static func matmul(_ a: Tensor, _ b: Tensor, transposeB: Bool = false, adding c: Tensor) -> Tensor {
        precondition(a.rank >= 2 && b.rank == 2, "matmul(adding:): need a [..., K] and a rank-2 b, got \(a.shape) and \(b.shape)")
        let k = a.shape[a.rank - 1], rows = a.count / Swift.max(k, 1)
        let (m, _, n) = productDims([rows, k], b.shape, false, transposeB)
        let outShape = Array(a.shape.dropLast()) + [n]
        precondition(c.shape == outShape, "matmul(adding:): c is \(c.shape), the product \(a.shape) @ \(b.shape)\(transposeB ? "ᵀ" : "") is \(outShape)")
        let out = Tensor.uninitialized(outShape)
        out.storage.pointer.initialize(from: c.storage.pointer, count: out.count)
        if m > 0 && n > 0 && k > 0 {
            BLAS.sgemm(transposeA: false, transposeB: transposeB, m: m, n: n, k: k, a: a.storage.pointer, lda: k,
                       b: b.storage.pointer, ldb: b.shape[1], beta: 1, c: out.storage.pointer, ldc: n)
        }
        guard anyTracked([a, b, c]) else { return out }
        let aShape = a.shape, needC = c.isTracked
        let back = matmulBackward(a.detached.reshaped([rows, k]), b.detached, false, transposeB, a.isTracked, b.isTracked)
        return out.recorded([c, a, b]) { g in
            let r = back(g.reshaped([m, n]))
            return [needC ? g : nil, r[0]?.reshaped(aShape), r[1]]
        }
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
                BLAS.sgemm(transposeA: transposeA, transposeB: transposeB, m: m, n: n, k: k,
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
                BLAS.sgemm(transposeA: transposeA, transposeB: transposeB, m: m, n: n, k: k,
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
