import Foundation

/// LayerNorm and RMSNorm over the last axis, fused.
///
/// The forward pass saves one mean and one reciprocal standard deviation per row (RMSNorm:
/// only the latter); the backward pass recomputes the normalised row from the saved input
/// and gives dx, dweight and dbias in one sweep over the rows.
///
/// Determinism: dweight and dbias are sums over rows. Rows are cut into fixed blocks of
/// `normRowBlock` rows (independent of the core count); each block accumulates its own
/// partial sums (possibly on different cores), and the partials are added in block order.
/// Row statistics accumulate in Float32 over the row, in eight lanes added in a fixed order
/// (two passes: mean, then the centred variance), which for C up to a few thousand agrees
/// with a Float64 computation to ~1e-6 relative.

/// Rows per block for the parallel, deterministic reduction of dweight and dbias.
let normRowBlock = 32

extension Tensor {
    /// Checks a norm's operands; returns (rows N, channels C).
    func normDims(op: String, weight: Tensor, bias: Tensor?) -> (Int, Int) {
        precondition(rank >= 1, "\(op): x needs rank >= 1, got shape \(shape)")
        let c = shape[rank - 1]
        precondition(weight.shape == [c], "\(op): weight must be [\(c)] for x \(shape), got \(weight.shape)")
        if let b = bias {
            precondition(b.shape == [c], "\(op): bias must be [\(c)] for x \(shape), got \(b.shape)")
        }
        return (c == 0 ? 0 : count / c, c)
    }

    /// LayerNorm as in PyTorch: `(x - mean) / sqrt(var + eps) * weight + bias` over the last
    /// axis, with the biased variance (divided by C).
    ///
    /// Shapes: x [.., C], weight [C], bias [C] -> [.., C].
    public static func layerNorm(_ x: Tensor, _ weight: Tensor, _ bias: Tensor, eps: Float = 1e-5) -> Tensor {
        let (n, c) = x.normDims(op: "layerNorm", weight: weight, bias: bias)
        let out = Tensor.uninitialized(x.shape)
        let mean = Tensor.uninitialized([n]), rstd = Tensor.uninitialized([n])
        let px = x.storage.pointer, po = out.storage.pointer, pw = weight.storage.pointer, pb = bias.storage.pointer
        let pm = mean.storage.pointer, pr = rstd.storage.pointer
        let invC = 1 / Float(c)
        Parallel.forRanges(n, costPerElement: 6 * c) { rows in
            for r in rows {
                let xr = px + r * c, yr = po + r * c
                let m = VectorExp.sum(xr, count: c) * invC
                let v = VectorExp.sumOfSquaredDeviations(xr, count: c, mean: m)
                let rs = 1 / (v * invC + eps).squareRoot()
                for j in 0..<c { yr[j] = (xr[j] - m) * rs * pw[j] + pb[j] }
                pm[r] = m
                pr[r] = rs
            }
        }
        guard anyTracked([x, weight, bias]) else { return out }
        let xs = x.detached, w = weight.detached
        let needs = (x.isTracked, weight.isTracked, bias.isTracked)
        return out.recorded([x, weight, bias]) { g in
            let (dx, dw, db) = normBackward(x: xs, weight: w, mean: mean, rstd: rstd, g: g,
                                            needX: needs.0, needWeight: needs.1, needBias: needs.2)
            return [dx, dw, db]
        }
    }

    /// RMSNorm as in Llama: `x * rsqrt(mean(x^2) + eps) * weight` over the last axis.
    ///
    /// Shapes: x [.., C], weight [C] -> [.., C].
    public static func rmsNorm(_ x: Tensor, _ weight: Tensor, eps: Float = 1e-5) -> Tensor {
        let (n, c) = x.normDims(op: "rmsNorm", weight: weight, bias: nil)
        let out = Tensor.uninitialized(x.shape)
        let rstd = Tensor.uninitialized([n])
        let px = x.storage.pointer, po = out.storage.pointer, pw = weight.storage.pointer
        let pr = rstd.storage.pointer
        let invC = 1 / Float(c)
        Parallel.forRanges(n, costPerElement: 4 * c) { rows in
            for r in rows {
                let xr = px + r * c, yr = po + r * c
                let s = VectorExp.dot(xr, xr, count: c)
                let rs = 1 / (s * invC + eps).squareRoot()
                for j in 0..<c { yr[j] = xr[j] * rs * pw[j] }
                pr[r] = rs
            }
        }
        guard anyTracked(x, weight) else { return out }
        let xs = x.detached, w = weight.detached
        let needs = (x.isTracked, weight.isTracked)
        return out.recorded([x, weight]) { g in
            let (dx, dw, _) = normBackward(x: xs, weight: w, mean: nil, rstd: rstd, g: g,
                                           needX: needs.0, needWeight: needs.1, needBias: false)
            return [dx, dw]
        }
    }

    /// Backward of both norms. With `mean` it is LayerNorm's, without it RMSNorm's
    /// (the row is then normalised without centring).
    ///
    /// With `xhat = (x - mean) * rstd` (or `x * rstd`) and `dn = g * weight`:
    /// LayerNorm `dx = rstd * (dn - mean(dn) - xhat * mean(dn * xhat))`,
    /// RMSNorm  `dx = rstd * (dn - xhat * mean(dn * xhat))`;
    /// `dweight = sum_rows(g * xhat)`, `dbias = sum_rows(g)`.
    static func normBackward(x: Tensor, weight: Tensor, mean: Tensor?, rstd: Tensor, g: Tensor,
                             needX: Bool, needWeight: Bool, needBias: Bool) -> (Tensor?, Tensor?, Tensor?) {
        let c = x.shape[x.rank - 1]
        let n = c == 0 ? 0 : x.count / c
        let dx: Tensor? = needX ? Tensor.uninitialized(x.shape) : nil
        let needParams = needWeight || needBias
        let blocks = (n + normRowBlock - 1) / normRowBlock
        // Partial sums per row block: [blocks, C] for dweight and for dbias.
        let partialW = Tensor.zeros(needParams ? [blocks, c] : [0])
        let partialB = Tensor.zeros(needBias ? [blocks, c] : [0])
        let px = x.storage.pointer, pw = weight.storage.pointer, pg = g.storage.pointer
        let pm = mean?.storage.pointer, pr = rstd.storage.pointer
        let pdx = dx?.storage.pointer
        let ppw = partialW.storage.pointer, ppb = partialB.storage.pointer
        let invC = 1 / Float(c)
        Parallel.forRanges(blocks, costPerElement: normRowBlock * 10 * c) { blockRange in
            for blk in blockRange {
                let lo = blk * normRowBlock, hi = Swift.min(n, lo + normRowBlock)
                let accW = ppw + blk * c, accB = ppb + blk * c
                for r in lo..<hi {
                    let xr = px + r * c, gr = pg + r * c
                    let m = pm?[r] ?? 0, rs = pr[r]
                    if needParams {
                        for j in 0..<c {
                            accW[j] += gr[j] * (xr[j] - m) * rs
                        }
                        if needBias { for j in 0..<c { accB[j] += gr[j] } }
                    }
                    guard let pdx = pdx else { continue }
                    // Both row sums in eight lanes, added in a fixed order.
                    var accDn = SIMD8<Float>(repeating: 0), accDnXhat = SIMD8<Float>(repeating: 0)
                    var j = 0
                    while j + 8 <= c {
                        let dn = UnsafeRawPointer(gr + j).loadUnaligned(as: SIMD8<Float>.self)
                            * UnsafeRawPointer(pw + j).loadUnaligned(as: SIMD8<Float>.self)
                        accDn += dn
                        accDnXhat += dn * (UnsafeRawPointer(xr + j).loadUnaligned(as: SIMD8<Float>.self) - m) * rs
                        j += 8
                    }
                    var sumDn = VectorExp.laneSum(accDn), sumDnXhat = VectorExp.laneSum(accDnXhat)
                    while j < c {
                        let dn = gr[j] * pw[j]
                        sumDn += dn
                        sumDnXhat += dn * (xr[j] - m) * rs
                        j += 1
                    }
                    let meanDn = pm == nil ? 0 : sumDn * invC
                    let meanDnXhat = sumDnXhat * invC
                    let dr = pdx + r * c
                    for j in 0..<c {
                        let xhat = (xr[j] - m) * rs
                        dr[j] = rs * (gr[j] * pw[j] - meanDn - xhat * meanDnXhat)
                    }
                }
            }
        }
        func reduce(_ partial: Tensor) -> Tensor {
            let out = Tensor.zeros([c])
            let po = out.storage.pointer, pp = partial.storage.pointer
            for blk in 0..<blocks {
                let src = pp + blk * c
                for j in 0..<c { po[j] += src[j] }
            }
            return out
        }
        return (dx, needWeight ? reduce(partialW) : nil, needBias ? reduce(partialB) : nil)
    }
}
