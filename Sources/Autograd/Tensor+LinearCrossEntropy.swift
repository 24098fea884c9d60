import Foundation

/// A language model's head and its loss in one op: `crossEntropy(hidden @ weightᵀ, targets)`
/// without the [N, V] logits.
///
/// Over a 49k vocabulary the logits of 2048 rows are 400 MB, and the unfused backward adds a
/// gradient of the same size. Here the counted rows go through the head `chunkRows` at a
/// time: one chunk's logits [chunk, V] are computed by sgemm, turned into the loss and, when
/// a gradient is wanted, into `softmax - onehot(target)` in place, and that chunk's share of
/// the two gradients is formed at once, `dHidden[rows] = dZ W` and `dW += dZᵀ hidden[rows]`
/// (sgemm accumulating into dW). Then the buffer serves the next chunk. So the op holds one
/// chunk of logits, never all of them.
///
/// Why the gradients are made in the forward pass rather than recomputed in the backward:
/// the loss is a sum, so its upstream gradient is one number `g`, and the gradients for
/// `g = 1` scale to any `g`. Making them while each chunk's softmax is at hand costs the
/// two gradient products only; recomputing in the backward would add a third product of
/// the logits' size (2 x N x V x C FLOPs, the most expensive product of a small model's
/// step: 58 GFLOP for SmolLM2 at 1024 trained rows). The price is that `dW` [V, C] is
/// held from the forward pass to the backward pass; a trained head has that gradient at
/// the end of the backward pass anyway, and a frozen head (LoRA) gets none. The backward
/// rule scales the saved gradients in place (no second [V, C] buffer) the first time it
/// runs; a second backward through the same graph recomputes them.
///
/// Numerics: as `crossEntropy` (row max subtracted, row losses in Float32 summed in
/// Float64 in row order), so the sum is deterministic and independent of the thread count
/// and of `chunkRows`. Against the unfused op the loss agrees to Float32 rounding; the
/// weight's gradient sums the chunks' products in a different order (within 1e-5
/// relative for unit-scale inputs).

extension Tensor {
    /// Rows per chunk that `linearCrossEntropy` uses by default: about 8M logits (32 MiB)
    /// at a time, a multiple of 16 rows, at least 16 and at most 512.
    public static func linearCrossEntropyChunkRows(vocabulary v: Int) -> Int {
        let rows = (1 << 23) / Swift.max(v, 1)
        return Swift.min(512, Swift.max(16, rows / 16 * 16))
    }

    /// Sum over counted rows of `-log softmax(hidden[r] @ weightᵀ)[targets[r]]`, and the count
    /// of counted rows, with at most `chunkRows` rows of logits in memory at once.
    ///
    /// - Parameters:
    ///   - hidden: [N, C], the final hidden states (after the final norm).
    ///   - weight: [V, C], the head (`lm_head.weight`, or the token embedding when tied).
    ///   - targets: N class ids, each in `0..<V` or equal to `ignoreIndex` (traps naming the
    ///     row and the value otherwise).
    ///   - ignoreIndex: rows whose target equals it contribute nothing and skip the head.
    ///   - chunkRows: rows of logits computed at once; nil for
    ///     `linearCrossEntropyChunkRows(vocabulary:)`.
    /// - Returns: `sum`, rank 0, differentiable with respect to `hidden` and `weight`; and
    ///   `count`. Equal to `crossEntropy(logits: matmul(hidden, weight, transposeB: true), ...)`
    ///   up to Float32 rounding.
    public static func linearCrossEntropy(hidden: Tensor, weight: Tensor, targets: [Int32], ignoreIndex: Int32 = -100,
                                          chunkRows: Int? = nil) -> (sum: Tensor, count: Int) {
        precondition(hidden.rank == 2 && weight.rank == 2 && hidden.shape[1] == weight.shape[1],
                     "linearCrossEntropy: hidden must be [N, C] and weight [V, C], got \(hidden.shape) and \(weight.shape)")
        let n = hidden.shape[0], v = weight.shape[0]
        precondition(targets.count == n,
                     "linearCrossEntropy: hidden \(hidden.shape) needs \(n) targets, got \(targets.count)")
        let chunk = chunkRows ?? linearCrossEntropyChunkRows(vocabulary: v)
        precondition(chunk >= 1, "linearCrossEntropy: chunkRows must be at least 1, got \(chunk)")
        var rows: [Int32] = []
        rows.reserveCapacity(n)
        for (r, t) in targets.enumerated() where t != ignoreIndex {
            precondition(t >= 0 && Int(t) < v,
                         "linearCrossEntropy: target \(t) at row \(r) is outside 0..<\(v) and is not the ignore index \(ignoreIndex)")
            rows.append(Int32(r))
        }
        let needHidden = hidden.isTracked, needWeight = weight.isTracked
        let pass = linearCrossEntropyPass(hidden: hidden, weight: weight, targets: targets, rows: rows, chunk: chunk,
                                          gradHidden: needHidden, gradWeight: needWeight)
        let out = Tensor(Float(pass.sum))
        guard needHidden || needWeight else { return (out, rows.count) }
        let saved = LinearCrossEntropyGradients(dHidden: pass.dHidden, dWeight: pass.dWeight)
        let hs = hidden.detached, ws = weight.detached
        let summed = out.recorded([hidden, weight]) { g in
            var (dh, dw) = saved.take() ?? {
                let again = linearCrossEntropyPass(hidden: hs, weight: ws, targets: targets, rows: rows, chunk: chunk,
                                                   gradHidden: needHidden, gradWeight: needWeight)
                return (again.dHidden, again.dWeight)
            }()
            let s = g.scalar
            if s != 1 {
                dh?.withUnsafeMutableBufferPointer { if let p = $0.baseAddress { VectorExp.scale(p, count: $0.count, by: s) } }
                dw?.withUnsafeMutableBufferPointer { if let p = $0.baseAddress { VectorExp.scale(p, count: $0.count, by: s) } }
            }
            return [dh, dw]
        }
        return (summed, rows.count)
    }

    /// One pass over the counted `rows` in chunks: the summed loss (Float64, row order) and,
    /// when asked, d(sum)/d(hidden) [N, C] and d(sum)/d(weight) [V, C] for an upstream 1.
    static func linearCrossEntropyPass(hidden: Tensor, weight: Tensor, targets: [Int32], rows: [Int32], chunk: Int,
                                       gradHidden: Bool, gradWeight: Bool) -> (sum: Double, dHidden: Tensor?, dWeight: Tensor?) {
        let n = hidden.shape[0], c = hidden.shape[1], v = weight.shape[0]
        let dHidden = gradHidden ? Tensor.zeros([n, c]) : nil
        let dWeight = gradWeight ? Tensor.zeros([v, c]) : nil
        let m = Swift.min(chunk, rows.count)
        guard m > 0 else { return (0, dHidden, dWeight) }
        let contiguous = rows.count == n   // every row counted: chunks are slices of hidden
        // Per chunk: its hidden rows [m, C] (gathered unless contiguous), logits [m, V] (then
        // dZ in place), its dHidden rows [m, C] (before scattering unless contiguous), row losses.
        let gathered = Tensor.uninitialized(contiguous ? [0] : [m, c])
        let logits = Tensor.uninitialized([m, v])
        let dRows = Tensor.uninitialized(contiguous || !gradHidden ? [0] : [m, c])
        let losses = Tensor.uninitialized([m])
        let ph = hidden.storage.pointer, pw = weight.storage.pointer, pz = logits.storage.pointer
        let pg = gathered.storage.pointer, pdr = dRows.storage.pointer, pl = losses.storage.pointer
        let pdh = dHidden?.storage.pointer, pdw = dWeight?.storage.pointer
        let wantGrad = gradHidden || gradWeight
        var total = 0.0
        rows.withUnsafeBufferPointer { rowList in
            targets.withUnsafeBufferPointer { tg in
                var start = 0
                while start < rows.count {
                    let count = Swift.min(m, rows.count - start)
                    let chunkRows = UnsafeBufferPointer(rebasing: rowList[start..<(start + count)])
                    let h: UnsafePointer<Float>
                    if contiguous {
                        h = UnsafePointer(ph + start * c)
                    } else {
                        Parallel.forRanges(count, costPerElement: c) { range in
                            for i in range { (pg + i * c).update(from: ph + Int(chunkRows[i]) * c, count: c) }
                        }
                        h = UnsafePointer(pg)
                    }
                    // Z = H Wᵀ [count, V].
                    BLAS.product(transposeA: false, transposeB: true, m: count, n: v, k: c, a: h, lda: c, b: pw, ldb: c,
                                 c: pz, ldc: v)
                    // Row loss; with a gradient wanted, Z becomes softmax(Z) - onehot(target).
                    Parallel.forRanges(count, costPerElement: 6 * v) { range in
                        for i in range {
                            let z = pz + i * v, t = Int(tg[Int(chunkRows[i])])
                            let mx = VectorExp.max(z, count: v)
                            let zt = z[t]
                            let s = VectorExp.expShifted(z, wantGrad ? z : nil, count: v, a: mx)
                            pl[i] = (mx - zt) + Foundation.log(s)
                            if wantGrad {
                                VectorExp.scale(z, count: v, by: 1 / s)
                                z[t] -= 1
                            }
                        }
                    }
                    for i in 0..<count { total += Double(pl[i]) }
                    if let pdh {
                        // dH rows = dZ W [count, C].
                        let dst = contiguous ? pdh + start * c : pdr
                        BLAS.product(transposeA: false, transposeB: false, m: count, n: c, k: v, a: pz, lda: v, b: pw, ldb: c,
                                     c: dst, ldc: c)
                        if !contiguous {
                            for i in 0..<count { (pdh + Int(chunkRows[i]) * c).update(from: pdr + i * c, count: c) }
                        }
                    }
                    if let pdw {
                        // dW += dZᵀ H [V, C].
                        BLAS.product(transposeA: true, transposeB: false, m: v, n: c, k: count, a: pz, lda: v, b: h, ldb: c,
                                     beta: 1, c: pdw, ldc: c)
                    }
                    start += count
                }
            }
        }
        return (total, dHidden, dWeight)
    }
}

/// The gradients `linearCrossEntropy` made in its forward pass, handed to the first
/// backward that asks (so it can scale them in place, holding the only reference).
final class LinearCrossEntropyGradients: @unchecked Sendable {
    private var dHidden: Tensor?
    private var dWeight: Tensor?
    private var taken = false

    init(dHidden: Tensor?, dWeight: Tensor?) {
        self.dHidden = dHidden
        self.dWeight = dWeight
    }

    /// The saved gradients the first time, nil afterwards (the caller then recomputes).
    /// Backward rules run on one thread, one at a time.
    func take() -> (Tensor?, Tensor?)? {
        guard !taken else { return nil }
        taken = true
        defer { dHidden = nil; dWeight = nil }
        return (dHidden, dWeight)
    }
}
