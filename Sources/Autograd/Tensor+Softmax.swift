import Foundation

/// Softmax and log-softmax over the last axis, fused: one pass for the row maximum, one
/// for the exponentials (eight lanes, `VectorExp`) and their sum, one to normalise. The backward rules use only the
/// saved output, so neither keeps the input alive.
///
/// Numerics: the row maximum is subtracted before exponentiating, so every exponent is
/// <= 0 and nothing overflows; rows of logits spanning -1e4..1e4 give exact zeros for the
/// far-below-maximum entries and finite values everywhere. Row sums accumulate in Float32
/// in eight lanes added in a fixed order (deterministic, independent of the thread count);
/// relative error of a row sum grows like C/8 * 2^-24 in the worst case. `VectorExp` adds
/// at most ~2 ulp per exponential.

extension Tensor {
    /// Rows of the last axis, as (rows, columns); precondition rank >= 1.
    @inline(__always)
    func lastAxisRows(op: String) -> (rows: Int, columns: Int) {
        precondition(rank >= 1, "\(op): needs rank >= 1, got shape \(shape)")
        let c = shape[rank - 1]
        return (c == 0 ? 0 : count / c, c)
    }

    /// `exp(x) / sum(exp(x))` along the last axis. Shape [.., C] -> [.., C]; each row sums to 1.
    public func softmax() -> Tensor {
        let (n, c) = lastAxisRows(op: "softmax")
        let out = Tensor.uninitialized(shape)
        let px = storage.pointer, py = out.storage.pointer
        Parallel.forRanges(n, costPerElement: 8 * c) { rows in
            for r in rows {
                let x = px + r * c, y = py + r * c
                let m = VectorExp.max(x, count: c)
                let inv = 1 / VectorExp.expShifted(x, y, count: c, a: m)
                for j in 0..<c { y[j] *= inv }
            }
        }
        guard Tensor.anyTracked(self) else { return out }
        let y = out
        return out.recorded([self]) { g in [Tensor.softmaxBackward(y: y, g: g)] }
    }

    /// d(loss)/dx of `y = softmax(x)`: `dx = y * (g - sum(g * y))` row by row.
    static func softmaxBackward(y: Tensor, g: Tensor) -> Tensor {
        let (n, c) = y.lastAxisRows(op: "softmaxBackward")
        let dx = Tensor.uninitialized(y.shape)
        let py = y.storage.pointer, pg = g.storage.pointer, pd = dx.storage.pointer
        Parallel.forRanges(n, costPerElement: 4 * c) { rows in
            for r in rows {
                let yr = py + r * c, gr = pg + r * c, dr = pd + r * c
                var dot: Float = 0
                for j in 0..<c { dot += gr[j] * yr[j] }
                for j in 0..<c { dr[j] = yr[j] * (gr[j] - dot) }
            }
        }
        return dx
    }

    /// `x - log(sum(exp(x)))` along the last axis. Shape [.., C] -> [.., C]. Stable for any
    /// finite logits: computed as `(x - max) - log(sum(exp(x - max)))`, so entries near the
    /// row maximum keep full relative accuracy even for logits of magnitude 1e4.
    public func logSoftmax() -> Tensor {
        let (n, c) = lastAxisRows(op: "logSoftmax")
        let out = Tensor.uninitialized(shape)
        let px = storage.pointer, py = out.storage.pointer
        Parallel.forRanges(n, costPerElement: 8 * c) { rows in
            for r in rows {
                let x = px + r * c, y = py + r * c
                let m = VectorExp.max(x, count: c)
                let s = VectorExp.expShifted(x, nil, count: c, a: m)
                // (x - max) is exact near the maximum; subtracting log(s) separately keeps
                // small outputs accurate even when |max| is large (1e4: ulp 1e-3).
                let logS = Foundation.log(s)
                for j in 0..<c { y[j] = (x[j] - m) - logS }
            }
        }
        guard Tensor.anyTracked(self) else { return out }
        let y = out
        return out.recorded([self]) { g in [Tensor.logSoftmaxBackward(y: y, g: g)] }
    }

    /// d(loss)/dx of `y = logSoftmax(x)`: `dx = g - exp(y) * sum(g)` row by row.
    static func logSoftmaxBackward(y: Tensor, g: Tensor) -> Tensor {
        let (n, c) = y.lastAxisRows(op: "logSoftmaxBackward")
        let dx = Tensor.uninitialized(y.shape)
        let py = y.storage.pointer, pg = g.storage.pointer, pd = dx.storage.pointer
        Parallel.forRanges(n, costPerElement: 8 * c) { rows in
            for r in rows {
                let yr = py + r * c, gr = pg + r * c, dr = pd + r * c
                var s: Float = 0
                for j in 0..<c { s += gr[j] }
                _ = VectorExp.expShifted(yr, dr, count: c, a: 0, scale: s)
                for j in 0..<c { dr[j] = gr[j] - dr[j] }
            }
        }
        return dx
    }
}
