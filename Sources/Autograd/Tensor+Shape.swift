/// Shape ops: reshape (no copy), permute/transpose, slice, concatenate, split.

extension Tensor {
    /// The same elements with a new shape (one dimension may be -1, inferred). Shares the
    /// storage: no copy.
    public func reshaped(_ newShape: [Int]) -> Tensor {
        var dims = newShape
        if let infer = dims.firstIndex(of: -1) {
            let known = dims.enumerated().filter { $0.offset != infer }.map(\.element).reduce(1, *)
            precondition(known > 0 && count % known == 0,
                         "reshape: cannot infer -1 in \(newShape) for \(count) elements (shape \(shape))")
            dims[infer] = count / known
        }
        precondition(Tensor.elementCount(dims) == count && dims.allSatisfy { $0 >= 0 },
                     "reshape: shape \(shape) (\(count) elements) cannot become \(newShape)")
        if dims == shape { return self }
        var out = Tensor(shape: dims, storage: storage)
        out.node = nil
        guard Tensor.anyTracked(self) else { return out }
        let original = shape
        return out.recorded([self]) { g in [g.reshaped(original)] }
    }

    /// Reorders the dimensions: result dimension i is input dimension `axes[i]`. Copies.
    public func permuted(_ axes: [Int]) -> Tensor {
        precondition(axes.count == rank && Set(axes) == Set(0..<rank),
                     "permute: axes \(axes) are not a permutation of 0..<\(rank) for shape \(shape)")
        if axes == Array(0..<rank) { return self }
        let outShape = axes.map { shape[$0] }
        let out = Tensor.uninitialized(outShape)
        if count > 0 {
            var inStrides = [Int](repeating: 1, count: rank)
            for i in stride(from: rank - 2, through: 0, by: -1) { inStrides[i] = inStrides[i + 1] * shape[i + 1] }
            let srcStrides = axes.map { inStrides[$0] }
            let px = storage.pointer, po = out.storage.pointer
            let inner = outShape[rank - 1], innerStride = srcStrides[rank - 1]
            let rows = count / inner
            // Rows are independent: split them across cores, each with its own odometer.
            Parallel.forRanges(rows, costPerElement: inner) { r in
                var index = [Int](repeating: 0, count: rank)
                var rem = r.lowerBound
                var offset = 0
                for d in stride(from: rank - 2, through: 0, by: -1) {
                    index[d] = rem % outShape[d]
                    rem /= outShape[d]
                    offset += index[d] * srcStrides[d]
                }
                for row in r {
                    let dst = po + row * inner
                    for j in 0..<inner { dst[j] = px[offset + j * innerStride] }
                    var d = rank - 2
                    while d >= 0 {
                        index[d] += 1
                        offset += srcStrides[d]
                        if index[d] < outShape[d] { break }
                        offset -= srcStrides[d] * outShape[d]
                        index[d] = 0
                        d -= 1
                    }
                }
            }
        }
        guard Tensor.anyTracked(self) else { return out }
        var inverse = [Int](repeating: 0, count: rank)
        for (i, a) in axes.enumerated() { inverse[a] = i }
        return out.recorded([self]) { g in [g.permuted(inverse)] }
    }

    /// Swaps two dimensions (default: the last two). Copies.
    public func transposed(_ axis0: Int = -2, _ axis1: Int = -1) -> Tensor {
        let a0 = normalizedAxis(axis0, op: "transpose"), a1 = normalizedAxis(axis1, op: "transpose")
        var axes = Array(0..<rank)
        axes.swapAt(a0, a1)
        return permuted(axes)
    }

    /// Elements `range` along `axis`. Copies.
    public func slice(axis: Int, _ range: Range<Int>) -> Tensor {
        let ax = normalizedAxis(axis, op: "slice")
        precondition(range.lowerBound >= 0 && range.upperBound <= shape[ax],
                     "slice: range \(range) out of bounds for axis \(ax) of shape \(shape)")
        let outer = Tensor.elementCount(Array(shape[..<ax]))
        let n = shape[ax]
        let inner = Tensor.elementCount(Array(shape[(ax + 1)...]))
        var outShape = shape
        outShape[ax] = range.count
        let out = Tensor.uninitialized(outShape)
        let px = storage.pointer, po = out.storage.pointer
        let len = range.count * inner
        for o in 0..<outer {
            (po + o * len).update(from: px + (o * n + range.lowerBound) * inner, count: len)
        }
        guard Tensor.anyTracked(self) else { return out }
        let inShape = shape
        return out.recorded([self]) { g in
            let dx = Tensor.zeros(inShape)
            let pd = dx.storage.pointer, pg = g.storage.pointer
            for o in 0..<outer {
                (pd + (o * n + range.lowerBound) * inner).update(from: pg + o * len, count: len)
            }
            return [dx]
        }
    }

    /// Joins tensors along `axis`; all other dimensions must agree. Copies.
    public static func concatenate(_ tensors: [Tensor], axis: Int) -> Tensor {
        precondition(!tensors.isEmpty, "concatenate: no tensors given")
        let first = tensors[0]
        let ax = first.normalizedAxis(axis, op: "concatenate")
        for t in tensors {
            var s1 = t.shape, s0 = first.shape
            precondition(s1.count == s0.count, "concatenate: shapes \(first.shape) and \(t.shape) differ in rank")
            s1[ax] = 0; s0[ax] = 0
            precondition(s1 == s0, "concatenate: shapes \(first.shape) and \(t.shape) differ outside axis \(ax)")
        }
        let outer = Tensor.elementCount(Array(first.shape[..<ax]))
        let inner = Tensor.elementCount(Array(first.shape[(ax + 1)...]))
        let sizes = tensors.map { $0.shape[ax] }
        let total = sizes.reduce(0, +)
        var outShape = first.shape
        outShape[ax] = total
        let out = Tensor.uninitialized(outShape)
        let po = out.storage.pointer
        var start = 0
        for t in tensors {
            let len = t.shape[ax] * inner
            let pt = t.storage.pointer
            for o in 0..<outer {
                (po + (o * total + start) * inner).update(from: pt + o * len, count: len)
            }
            start += t.shape[ax]
        }
        guard anyTracked(tensors) else { return out }
        return out.recorded(tensors) { g in
            var grads: [Tensor?] = []
            var lo = 0
            for s in sizes {
                grads.append(g.slice(axis: ax, lo..<(lo + s)))
                lo += s
            }
            return grads
        }
    }

    /// Splits along `axis` into pieces of the given sizes (which must add up to the axis).
    public func split(axis: Int, sizes: [Int]) -> [Tensor] {
        let ax = normalizedAxis(axis, op: "split")
        precondition(sizes.reduce(0, +) == shape[ax] && sizes.allSatisfy { $0 >= 0 },
                     "split: sizes \(sizes) do not add up to \(shape[ax]) (axis \(ax) of \(shape))")
        var parts: [Tensor] = []
        var lo = 0
        for s in sizes {
            parts.append(slice(axis: ax, lo..<(lo + s)))
            lo += s
        }
        return parts
    }
}
