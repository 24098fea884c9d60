import Dispatch

/// Splitting elementwise and row-wise work across cores.
///
/// Chunk boundaries depend only on the amount of work, never on the number of cores,
/// and each chunk writes a disjoint part of the output, so results are bit-identical
/// whatever the thread count. Work below `minimumParallelWork` runs on the calling
/// thread: dispatching to a second core costs a few microseconds, which pays off only
/// from roughly 32k simple float operations up.
public enum Parallel {
    /// Below this many elements (times the per-element cost) work stays on one thread.
    public static let minimumParallelWork = 1 << 15

    /// Calls `body` on disjoint sub-ranges covering `0..<count`, in parallel when
    /// `count * costPerElement` is large enough. `body` must only write data owned by its range.
    @inline(__always)
    public static func forRanges(_ count: Int, costPerElement: Int = 1, _ body: (Range<Int>) -> Void) {
        let work = count * max(costPerElement, 1)
        if work < minimumParallelWork || count < 2 {
            body(0..<count)
            return
        }
        // Fixed-size chunks (about 16k operations each), independent of the core count.
        let chunkWork = 1 << 14
        let chunks = min(count, max(2, work / chunkWork))
        let per = (count + chunks - 1) / chunks
        let n = (count + per - 1) / per
        DispatchQueue.concurrentPerform(iterations: n) { i in
            let lo = i * per
            let hi = min(count, lo + per)
            if lo < hi { body(lo..<hi) }
        }
    }
}
