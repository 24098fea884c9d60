import Foundation

/// Per-row log-probability of a target class, fused with log-softmax: the building block of
/// sequence log-probabilities (preference losses need each sequence's summed log-probability,
/// not one summed cross-entropy over the batch).
///
/// Like `crossEntropy`, the forward pass keeps each row's `max` and `logSum` ([N] each), never
/// a second [N, V] tensor, and the backward pass rebuilds the softmax from the saved logits.
/// Each row is computed in Float32 with the max kept apart, so large logits lose no precision
/// in the small differences; rows are independent, so results do not depend on the thread count.

extension Tensor {
    /// `log softmax(logits[r])[targets[r]]` for every row r: shape [N].
    ///
    /// - Parameters:
    ///   - logits: [N, V].
    ///   - targets: N class ids; each is in `0..<V` or equal to `ignoreIndex` (traps naming
    ///     the row and the value otherwise).
    ///   - ignoreIndex: rows whose target equals it give 0 and receive no gradient.
    /// - Returns: [N], differentiable with respect to `logits`.
    public static func targetLogProbs(logits: Tensor, targets: [Int32], ignoreIndex: Int32 = -100) -> Tensor {
        let (rowMax, logSum, out) = rowLogSoftmaxAtTargets(logits, targets, ignoreIndex: ignoreIndex, op: "targetLogProbs")
        guard anyTracked(logits) else { return out }
        let x = logits.detached
        return out.recorded([logits]) { g in
            [targetLogProbsBackward(logits: x, rowMax: rowMax, logSum: logSum, targets: targets, ignoreIndex: ignoreIndex, g: g)]
        }
    }

    /// The forward pass `targetLogProbs` and `crossEntropy` share: checks the shapes and the
    /// targets (traps naming `op`, the row and the value), then for every counted row its max,
    /// `logSum = log(sum(exp(x - max)))` and `(x[target] - max) - logSum`, each [N]; ignored
    /// rows keep 0 in all three. Rows are independent, so the result does not depend on the
    /// thread count.
    static func rowLogSoftmaxAtTargets(_ logits: Tensor, _ targets: [Int32], ignoreIndex: Int32,
                                       op: String) -> (rowMax: Tensor, logSum: Tensor, logProb: Tensor) {
        precondition(logits.rank == 2, "\(op): logits must be [N, V], got \(logits.shape)")
        let n = logits.shape[0], v = logits.shape[1]
        precondition(targets.count == n, "\(op): logits \(logits.shape) need \(n) targets, got \(targets.count)")
        for (r, t) in targets.enumerated() where t != ignoreIndex {
            precondition(t >= 0 && Int(t) < v,
                         "\(op): target \(t) at row \(r) is outside 0..<\(v) and is not the ignore index \(ignoreIndex)")
        }
        let rowMax = Tensor.zeros([n]), logSum = Tensor.zeros([n]), logProb = Tensor.zeros([n])
        let px = logits.storage.pointer, pm = rowMax.storage.pointer, pl = logSum.storage.pointer
        let po = logProb.storage.pointer
        targets.withUnsafeBufferPointer { tg in
            Parallel.forRanges(n, costPerElement: 6 * v) { rows in
                for r in rows where tg[r] != ignoreIndex {
                    let x = px + r * v
                    let m = VectorExp.max(x, count: v)
                    let l = Foundation.log(VectorExp.expShifted(x, nil, count: v, a: m))
                    pm[r] = m
                    pl[r] = l
                    po[r] = (x[Int(tg[r])] - m) - l
                }
            }
        }
        return (rowMax, logSum, logProb)
    }

    /// d(out)/d(logits) contracted with `g` [N]: `g[r] * (onehot(target) - softmax(x[r]))` for
    /// counted rows, zero rows for ignored ones. Shape [N, V].
    static func targetLogProbsBackward(logits: Tensor, rowMax: Tensor, logSum: Tensor, targets: [Int32],
                                       ignoreIndex: Int32, g: Tensor) -> Tensor {
        let n = logits.shape[0], v = logits.shape[1]
        let dx = Tensor.uninitialized(logits.shape)
        let px = logits.storage.pointer, pd = dx.storage.pointer
        let pm = rowMax.storage.pointer, pl = logSum.storage.pointer, pg = g.storage.pointer
        targets.withUnsafeBufferPointer { tg in
            Parallel.forRanges(n, costPerElement: 4 * v) { rows in
                for r in rows {
                    let d = pd + r * v
                    let t = tg[r]
                    if t == ignoreIndex {
                        d.update(repeating: 0, count: v)
                        continue
                    }
                    let gr = pg[r]
                    _ = VectorExp.expShifted(px + r * v, d, count: v, a: pm[r], b: pl[r], scale: -gr)
                    d[Int(t)] += gr
                }
            }
        }
        return dx
    }
}
