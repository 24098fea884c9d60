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
        // A row's loss is minus its target's log-probability: negation is exact, so these are
        // the bits of `(max - x[target]) + logSum`, summed in Float64 in row order.
        let (rowMax, logSum, logProb) = rowLogSoftmaxAtTargets(logits, targets, ignoreIndex: ignoreIndex, op: "crossEntropy")
        let counted = targets.reduce(0) { $0 + ($1 != ignoreIndex ? 1 : 0) }
        var total = 0.0
        logProb.withUnsafeBufferPointer { lp in
            for r in lp.indices { total -= Double(lp[r]) }
        }
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
