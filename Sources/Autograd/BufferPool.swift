import Foundation
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Reuse of large tensor buffers across training steps.
///
/// A training step frees and allocates much the same buffer sizes every time (activations,
/// gradients, scratch). From the C heap, those large blocks fragmented it: resident memory
/// grew for tens of steps (small: 780 -> 1,201 MiB over 27 steps) before it levelled off,
/// and fresh pages cost a page fault and a zeroing each. Here a buffer of at least
/// `minimumBytes` is mapped on its own and, when its tensor is freed, kept for a later
/// request. Smaller buffers use the C heap.
///
/// Sizes are not all the same from step to step: fine-tuning runs the last block's MLP and
/// the head only on the rows whose target is trained (`DecoderModel.loss`), and that count
/// changes with every batch. Kept under their exact sizes, those buffers were never asked
/// for again and the pool grew by them at every step (the quickstart's peak: 268 MiB after
/// 3 steps, 722 MiB after 40). So buffers are mapped in size classes, eight per power of two
/// (`classBytes`: at most 12.5% above the request), and a request takes a free buffer of
/// its class or, failing that, the smallest free one of the next `borrowClasses` classes
/// (at most about 4x the request): a free buffer is already resident, so using it costs no
/// memory, while mapping a new one adds to it. When a request finds no free buffer large
/// enough, the free buffers of the classes just below it (down to a quarter of its size)
/// are returned to the system before it maps its own: they are what earlier steps with fewer
/// trained rows left, and the larger buffer now serves their sizes too. So resident memory
/// follows the largest step so far instead of the sum of every step's sizes (the
/// quickstart: 229 MiB after 3 steps, 235 MiB after 40; docs/performance.md, "Memory"). At most `limitBytes` of free buffers are kept (env `INSTRUCTKIT_POOL_MIB`,
/// default 4096); beyond that a freed buffer is returned to the system.
public enum BufferPool {
    /// Buffers below this size come from the C heap.
    public static let minimumBytes = 1 << 20
    /// Most bytes of free buffers kept for reuse.
    public static let limitBytes: Int = {
        let mib = ProcessInfo.processInfo.environment["INSTRUCTKIT_POOL_MIB"].flatMap { Int($0) } ?? 4096
        return Swift.max(0, mib) << 20
    }()
    /// A request may take a free buffer of up to this many classes above its own (8 classes
    /// make a power of two).
    public static let borrowClasses = 16

    nonisolated(unsafe) private static var free: [Int: [UnsafeMutableRawPointer]] = [:]
    nonisolated(unsafe) private static var freeBytes = 0
    private static let lock = NSLock()

    /// Bytes of free buffers held right now (for tests and benchmarks).
    public static var heldBytes: Int {
        lock.lock(); defer { lock.unlock() }
        return freeBytes
    }

    static func pageRounded(_ bytes: Int) -> Int {
        let page = 4096
        return (bytes + page - 1) / page * page
    }

    /// The mapped size of a pooled request of `bytes` (at least `minimumBytes`): rounded up to
    /// a multiple of 1/8 of the largest power of two not above it, so at most 12.5% more, and
    /// a whole number of pages.
    public static func classBytes(_ bytes: Int) -> Int {
        let top = 1 << (Int.bitWidth - 1 - bytes.leadingZeroBitCount)
        let granule = Swift.max(4096, top >> 3)
        return (bytes + granule - 1) / granule * granule
    }

    /// The class just above `size` (a class size).
    static func nextClass(_ size: Int) -> Int { classBytes(size + 1) }

    /// The class just below `size` (a class size): the largest class size below it.
    static func previousClass(_ size: Int) -> Int {
        // One granule down, where the granule is that of the size below (it halves at a power of two).
        let below = size - 1
        let top = 1 << (Int.bitWidth - 1 - below.leadingZeroBitCount)
        let granule = Swift.max(4096, top >> 3)
        return below / granule * granule
    }

    /// A buffer of at least `bytes` bytes, 64-byte aligned, and its size as `release` must
    /// be given it (`bytes` itself below `minimumBytes`, else the mapped size).
    static func allocate(bytes: Int) -> (pointer: UnsafeMutableRawPointer, size: Int) {
        guard bytes >= minimumBytes else {
            return (UnsafeMutableRawPointer.allocate(byteCount: Swift.max(bytes, 1), alignment: 64), bytes)
        }
        let size = classBytes(bytes)
        lock.lock()
        var candidate = size
        for _ in 0...borrowClasses {
            if var list = free[candidate], let p = list.popLast() {
                free[candidate] = list.isEmpty ? nil : list
                freeBytes -= candidate
                lock.unlock()
                return (p, candidate)
            }
            candidate = nextClass(candidate)
        }
        // A miss: no free buffer is large enough. Free buffers a little smaller than this one
        // (down to a quarter of its size) are what earlier, smaller steps left; this larger size
        // supersedes them, and kept they would only add to resident memory.
        var stale: [(UnsafeMutableRawPointer, Int)] = []
        var smaller = size
        for _ in 0..<borrowClasses {
            smaller = previousClass(smaller)
            guard smaller >= minimumBytes else { break }
            if let list = free.removeValue(forKey: smaller) {
                for p in list { stale.append((p, smaller)) }
                freeBytes -= smaller * list.count
            }
        }
        lock.unlock()
        for (p, bytes) in stale { munmap(p, bytes) }
        guard let p = mmap(nil, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0),
              p != MAP_FAILED else {
            fatalError("out of memory: cannot map a tensor buffer of \(size >> 20) MiB; use a smaller batch_size or seq_len")
        }
        return (p, size)
    }

    /// Gives back a buffer from `allocate(bytes:)` with the `size` it returned.
    static func release(_ p: UnsafeMutableRawPointer, size: Int) {
        guard size >= minimumBytes else {
            p.deallocate()
            return
        }
        lock.lock()
        if freeBytes + size <= limitBytes {
            free[size, default: []].append(p)
            freeBytes += size
            lock.unlock()
            return
        }
        lock.unlock()
        munmap(p, size)
    }

    /// Returns every free buffer to the system (after training, before a phase with other
    /// shapes).
    public static func trim() {
        lock.lock()
        let all = free
        free = [:]
        freeBytes = 0
        lock.unlock()
        for (size, list) in all { for p in list { munmap(p, size) } }
    }
}
