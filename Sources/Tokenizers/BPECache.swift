import Foundation

/// Memo of BPE results per pre-token (a word's bytes -> its ids).
///
/// Words of at most 15 bytes (almost all) are keyed by two packed integers, so a lookup
/// allocates nothing; longer words are keyed by their bytes. The cache is cleared when it
/// passes `capacity` entries, so memory stays bounded on any input. Not thread-safe: each
/// thread uses its own (see `CachePool`).
struct BPEWordCache {
    struct ShortKey: Hashable {
        var low: UInt64
        var high: UInt64  // bytes 8..<15, and the length in the top byte
    }

    var short: [ShortKey: [Int32]] = [:]
    var long: [[UInt8]: [Int32]] = [:]
    static let capacity = 262_144

    @inline(__always)
    static func shortKey(_ p: UnsafePointer<UInt8>, _ count: Int) -> ShortKey {
        var low: UInt64 = 0
        var high: UInt64 = UInt64(count) << 56
        for k in 0..<min(count, 8) { low |= UInt64(p[k]) << (8 * UInt64(k)) }
        if count > 8 {
            for k in 8..<count { high |= UInt64(p[k]) << (8 * UInt64(k - 8)) }
        }
        return ShortKey(low: low, high: high)
    }

    mutating func makeRoomIfFull() {
        if short.count + long.count >= BPEWordCache.capacity {
            short.removeAll(keepingCapacity: true)
            long.removeAll(keepingCapacity: true)
        }
    }
}

/// A lock-protected stack of caches: each `encode` call borrows one, so concurrent callers
/// never share (or wait on) a cache, and a single caller keeps reusing a warm one.
/// The lock is held only to pop and push, twice per `encode` call.
final class CachePool: @unchecked Sendable {
    private let lock = NSLock()
    private var caches: [BPEWordCache] = []

    func borrow() -> BPEWordCache {
        lock.lock()
        defer { lock.unlock() }
        return caches.popLast() ?? BPEWordCache()
    }

    func giveBack(_ cache: BPEWordCache) {
        lock.lock()
        defer { lock.unlock() }
        caches.append(cache)
    }
}
