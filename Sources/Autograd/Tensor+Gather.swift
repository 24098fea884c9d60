/// Row gather (embedding lookup) and its scatter-add backward.

extension Tensor {
    /// Rows of `table` [V, C] picked by `indices`: result shape `indexShape + [C]`.
    /// Every index must be in `0..<V` (traps naming the bad index otherwise; token ids
    /// from files are validated by Datasets before they reach here).
    /// Backward scatter-adds into a [V, C] gradient (repeated indices accumulate).
    public static func gatherRows(_ table: Tensor, indices: [Int32], indexShape: [Int]? = nil) -> Tensor {
        precondition(table.rank == 2, "gatherRows: table must be [V, C], got \(table.shape)")
        let shape = indexShape ?? [indices.count]
        precondition(Tensor.elementCount(shape) == indices.count,
                     "gatherRows: index shape \(shape) does not hold \(indices.count) indices")
        let v = table.shape[0], c = table.shape[1]
        for (i, idx) in indices.enumerated() {
            precondition(idx >= 0 && Int(idx) < v, "gatherRows: index \(idx) at position \(i) is outside 0..<\(v)")
        }
        let out = Tensor.uninitialized(shape + [c])
        let pt = table.storage.pointer, po = out.storage.pointer
        indices.withUnsafeBufferPointer { ids in
            Parallel.forRanges(ids.count, costPerElement: c) { r in
                for i in r { (po + i * c).update(from: pt + Int(ids[i]) * c, count: c) }
            }
        }
        guard anyTracked(table) else { return out }
        let tableShape = table.shape
        return out.recorded([table]) { g in
            let dt = Tensor.zeros(tableShape)
            let pd = dt.storage.pointer, pg = g.storage.pointer
            // Serial in index order: the sum for a repeated row is then the same every run.
            for (i, idx) in indices.enumerated() {
                let dst = pd + Int(idx) * c, src = pg + i * c
                for j in 0..<c { dst[j] += src[j] }
            }
            return [dt]
        }
    }
}
