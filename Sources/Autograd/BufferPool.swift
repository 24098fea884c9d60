import Foundation
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Reuse of large tensor buffers across training steps.
///
/// A training step frees and allocates the same buffer sizes every time (activations,
/// gradients, scratch). From the C heap, those large blocks fragmented it: resident memory
/// grew for tens of steps (small: 780 -> 1,201 MiB over 27 steps) before it levelled off,
/// and fresh pages cost a page fault and a zeroing each. Here a buffer of at least
/// `minimumBytes` is mapped on its own (page-aligned, rounded up to whole pages) and, when
/// its tensor is freed, kept under its exact size for the next request of that size. After
/// the first step every request is met from the pool, so memory stays flat. At most
/// `limitBytes` of free buffers are kept (env `INSTRUCTKIT_POOL_MIB`, default 4096); beyond
/// that a freed buffer is returned to the system. Smaller buffers use the C heap.
public enum BufferPool {
    /// Buffers below this size come from the C heap.
    public static let minimumBytes = 1 << 20
    /// Most bytes of free buffers kept for reuse.
    public static let limitBytes: Int = {
        let mib = ProcessInfo.processInfo.environment["INSTRUCTKIT_POOL_MIB"].flatMap { Int($0) } ?? 4096
        return Swift.max(0, mib) << 20
    }()

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

    /// A buffer of at least `bytes` bytes, 64-byte aligned.
    static func allocate(bytes: Int) -> UnsafeMutableRawPointer {
        guard bytes >= minimumBytes else {
            return UnsafeMutableRawPointer.allocate(byteCount: Swift.max(bytes, 1), alignment: 64)
        }
        let size = pageRounded(bytes)
        lock.lock()
        if var list = free[size], let p = list.popLast() {
            free[size] = list.isEmpty ? nil : list
            freeBytes -= size
            lock.unlock()
            return p
        }
        lock.unlock()
        guard let p = mmap(nil, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0),
              p != MAP_FAILED else {
            fatalError("out of memory: cannot map a tensor buffer of \(size >> 20) MiB; use a smaller batch_size or seq_len")
        }
        return p
    }

    /// Gives back a buffer from `allocate(bytes:)` with the same `bytes`.
    static func release(_ p: UnsafeMutableRawPointer, bytes: Int) {
        guard bytes >= minimumBytes else {
            p.deallocate()
            return
        }
        let size = pageRounded(bytes)
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
