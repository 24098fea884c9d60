/// Reductions: sum and mean over axes, max over the last axis.
/// Sums accumulate in a fixed order (deterministic, independent of thread count).

extension Tensor {
    @inline(__always)
    func normalizedAxis(_ axis: Int, op: String) -> Int {
        let a = axis < 0 ? axis + rank : axis
        precondition(a >= 0 && a < rank, "\(op): axis \(axis) out of range for shape \(shape)")
        return a
    }

    /// Sum over one axis. Shape [.., n, ..] -> [.., 1, ..] with `keepDims`, else the axis is removed.
    public func sum(axis: Int, keepDims: Bool = false) -> Tensor {
        let ax = normalizedAxis(axis, op: "sum")
        let outer = Tensor.elementCount(Array(shape[..<ax]))
        let n = shape[ax]
        let inner = Tensor.elementCount(Array(shape[(ax + 1)...]))
        var outShape = shape
        if keepDims { outShape[ax] = 1 } else { outShape.remove(at: ax) }
        let out = Tensor.zeros(outShape)
        let px = storage.pointer, po = out.storage.pointer
        Parallel.forRanges(outer, costPerElement: n * inner) { rows in
            for o in rows {
                let dst = po + o * inner
                for k in 0..<n {
                    let src = px + (o * n + k) * inner
                    for i in 0..<inner { dst[i] += src[i] }
                }
            }
        }
        guard Tensor.anyTracked(self) else { return out }
        let inShape = shape
        var keptShape = shape
        keptShape[ax] = 1
        return out.recorded([self]) { g in
            // Broadcast the gradient back over the summed axis.
            [g.reshaped(keptShape) + Tensor.zeros(inShape)]
        }
    }

    /// Sum over several axes (duplicates not allowed).
    public func sum(axes: [Int], keepDims: Bool = false) -> Tensor {
        let sorted = axes.map { normalizedAxis($0, op: "sum") }.sorted(by: >)
        precondition(Set(sorted).count == sorted.count, "sum(axes:): repeated axis in \(axes) for shape \(shape)")
        var t = self
        for a in sorted { t = t.sum(axis: a, keepDims: keepDims) }
        return t
    }

    /// Sum of all elements, as a rank-0 tensor.
    public func sum() -> Tensor {
        reshaped([count]).sum(axis: 0, keepDims: false)
    }

    /// Mean over one axis.
    public func mean(axis: Int, keepDims: Bool = false) -> Tensor {
        let ax = normalizedAxis(axis, op: "mean")
        return sum(axis: ax, keepDims: keepDims) * (1 / Float(shape[ax]))
    }

    /// Mean over several axes.
    public func mean(axes: [Int], keepDims: Bool = false) -> Tensor {
        let n = axes.map { shape[normalizedAxis($0, op: "mean")] }.reduce(1, *)
        return sum(axes: axes, keepDims: keepDims) * (1 / Float(n))
    }

    /// Mean of all elements, as a rank-0 tensor.
    public func mean() -> Tensor { sum() * (1 / Float(count)) }

    /// Maximum over the last axis: [.., n] -> [..]. The gradient goes to the first
    /// position holding the maximum. Needs n >= 1.
    public func max() -> Tensor {
        precondition(rank >= 1 && shape[rank - 1] > 0, "max: needs a non-empty last axis, got shape \(shape)")
        let n = shape[rank - 1]
        let rows = count / n
        let out = Tensor.uninitialized(Array(shape.dropLast()))
        var argmax = [Int32](repeating: 0, count: rows)
        let px = storage.pointer, po = out.storage.pointer
        if rows > 0 { argmax.withUnsafeMutableBufferPointer { am in
            let pam = am.baseAddress!  // rows > 0, so the buffer is non-empty
            Parallel.forRanges(rows, costPerElement: n) { r in
                for row in r {
                    let src = px + row * n
                    var best = src[0], bi = 0
                    for j in 1..<n where src[j] > best { best = src[j]; bi = j }
                    po[row] = best
                    pam[row] = Int32(bi)
                }
            }
        } }
        guard Tensor.anyTracked(self) else { return out }
        let inShape = shape
        return out.recorded([self]) { [argmax] g in
            let dx = Tensor.zeros(inShape)
            let pd = dx.storage.pointer, pg = g.storage.pointer
            for row in 0..<rows { pd[row * n + Int(argmax[row])] = pg[row] }
            return [dx]
        }
    }
}
