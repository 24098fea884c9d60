import Foundation

/// Cross-entropy fused with log-softmax.
///
/// The forward pass keeps the logsumexp of each row, as two numbers `max` and
/// `logSum = log(sum(exp(x - max)))` ([N] each), never a second [N, V] tensor; the backward
/// pass rebuilds `softmax = exp((x - max) - logSum)` from the saved logits on the fly.
/// Numerics: keeping `max` and `logSum` apart means `x - max` is exact near the maximum,
/// so logits of magnitude 1e4 (where Float32 spacing is 1e-3) still give losses and
/// gradients accurate to Float32 rounding of the small quantities, not of 1e4. Each row's loss is computed in Float32
/// and the row losses are summed in Float64 in row order, so the sum is deterministic
/// and independent of the thread count.

extension Tensor {
    /// Sum over counted rows of `-log softmax(logits[r])[targets[r]]`.
    ///
    /// - Parameters:
    ///   - logits: [N, V].
    ///   - targets: N class ids; each is in `0..<V` or equal to `ignoreIndex` (traps naming
    ///     the row and the value otherwise).
    ///   - ignoreIndex: rows whose target equals it contribute nothing (loss and gradient 0).
    /// - Returns: `sum`, a rank-0 tensor (differentiable with respect to `logits`), and
    ///   `count`, the number of counted rows. Returning the sum lets callers normalise by
    ///   the counted tokens of a whole batch across micro-batches. All rows ignored gives
    ///   sum 0 and count 0.
    public static func crossEntropy(logits: Tensor, targets: [Int32],
                                    ignoreIndex: Int32 = -100) -> (sum: Tensor, count: Int) {
        precondition(logits.rank == 2, "crossEntropy: logits must be [N, V], got \(logits.shape)")
        let n = logits.shape[0], v = logits.shape[1]
        precondition(targets.count == n,
                     "crossEntropy: logits \(logits.shape) need \(n) targets, got \(targets.count)")
        var counted = 0
        for (r, t) in targets.enumerated() where t != ignoreIndex {
            precondition(t >= 0 && Int(t) < v,
                         "crossEntropy: target \(t) at row \(r) is outside 0..<\(v) and is not the ignore index \(ignoreIndex)")
            counted += 1
        }
        // Per-row max [N], logSum [N] and loss [N]; ignored rows keep 0 in all three.
        let rowMax = Tensor.zeros([n]), logSum = Tensor.zeros([n])
        let rowLoss = Tensor.zeros([n])
        let px = logits.storage.pointer, pm = rowMax.storage.pointer, pl = logSum.storage.pointer, pLoss = rowLoss.storage.pointer
        targets.withUnsafeBufferPointer { tg in
            Parallel.forRanges(n, costPerElement: 6 * v) { rows in
                for r in rows where tg[r] != ignoreIndex {
                    let x = px + r * v
                    let m = VectorExp.max(x, count: v)
                    let l = Foundation.log(VectorExp.expShifted(x, nil, count: v, a: m))
                    pm[r] = m
                    pl[r] = l
                    pLoss[r] = (m - x[Int(tg[r])]) + l
                }
            }
        }
        var total = 0.0
        for r in 0..<n { total += Double(pLoss[r]) }
        let out = Tensor(Float(total))
        guard anyTracked(logits) else { return (out, counted) }
        let x = logits.detached
        let summed = out.recorded([logits]) { g in
            [crossEntropyBackward(logits: x, rowMax: rowMax, logSum: logSum, targets: targets, ignoreIndex: ignoreIndex, g: g.scalar)]
        }
        return (summed, counted)
    }

    /// d(sum)/d(logits) times `g`: `(exp((x - max) - logSum) - onehot(target)) * g` for
    /// counted rows, zero rows for ignored ones. Shape [N, V].
    static func crossEntropyBackward(logits: Tensor, rowMax: Tensor, logSum: Tensor, targets: [Int32],
                                     ignoreIndex: Int32, g: Float) -> Tensor {
        let n = logits.shape[0], v = logits.shape[1]
        let dx = Tensor.uninitialized(logits.shape)
        let px = logits.storage.pointer, pd = dx.storage.pointer
        let pm = rowMax.storage.pointer, pl = logSum.storage.pointer
        targets.withUnsafeBufferPointer { tg in
            Parallel.forRanges(n, costPerElement: 4 * v) { rows in
                for r in rows {
                    let x = px + r * v, d = pd + r * v
                    let t = tg[r]
                    if t == ignoreIndex {
                        d.update(repeating: 0, count: v)
                        continue
                    }
                    let m = pm[r], l = pl[r]
                    _ = VectorExp.expShifted(x, d, count: v, a: m, b: l, scale: g)
                    d[Int(t)] -= g
                }
            }
        }
        return dx
    }
}
