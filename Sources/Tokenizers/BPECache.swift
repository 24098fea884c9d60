import Foundation

/// Memo of BPE results per pre-token (a word's bytes -> its ids).
///
/// Words of at most 15 bytes (almost all) live in an open-addressing table keyed by two packed
/// integers (bytes, and the length in the top byte), with their ids in one flat array, so a hit
/// allocates and reference-counts nothing. Longer words use a dictionary keyed by their bytes.
/// The cache is cleared when it passes `capacity` words, so memory stays bounded on any input.
/// Not thread-safe: each thread uses its own (see `CachePool`).
struct BPEWordCache {
    struct ShortKey: Hashable {
        var low: UInt64
        var high: UInt64  // bytes 8..<15, and the length (1...15, so never 0) in the top byte
    }

    /// Words kept before the cache is emptied (2^18 by default; tests set it small).
    var capacity = 1 << 18

    private var lows: [UInt64] = []
    private var highs: [UInt64] = []  // 0 marks an empty slot
    private var values: [UInt64] = []  // start in `ids` << 8 | id count
    private(set) var ids: [Int32] = []
    private var mask = -1
    private var count = 0
    var long: [[UInt8]: [Int32]] = [:]

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

    @inline(__always)
    private static func slot(_ key: ShortKey, _ mask: Int) -> Int {
        var h = (key.low ^ (key.high &* 0x9E37_79B9_7F4A_7C15)) &* 0xBF58_476D_1CE4_E5B9
        h ^= h >> 31
        return Int(truncatingIfNeeded: h) & mask
    }

    /// The range of `ids` holding the word's ids, if cached.
    @inline(__always)
    func find(_ key: ShortKey) -> Range<Int>? {
        guard mask >= 0 else { return nil }
        var i = BPEWordCache.slot(key, mask)
        while true {
            let high = highs[i]
            if high == 0 { return nil }
            if high == key.high && lows[i] == key.low {
                let v = values[i]
                let start = Int(v >> 8)
                return start..<(start + Int(v & 0xFF))
            }
            i = (i + 1) & mask
        }
    }

    /// Adds a word (not already present) with its ids.
    mutating func insert(_ key: ShortKey, _ wordIDs: [Int32]) {
        if count >= capacity {
            clear()
        }
        if (count + 1) * 2 > mask + 1 { grow() }
        let value = UInt64(ids.count) << 8 | UInt64(wordIDs.count)
        ids.append(contentsOf: wordIDs)
        place(key, value)
        count += 1
    }

    private mutating func place(_ key: ShortKey, _ value: UInt64) {
        var i = BPEWordCache.slot(key, mask)
        while highs[i] != 0 { i = (i + 1) & mask }
        lows[i] = key.low
        highs[i] = key.high
        values[i] = value
    }

    private mutating func grow() {
        let oldLows = lows, oldHighs = highs, oldValues = values
        let size = max(1024, (mask + 1) * 2)
        lows = [UInt64](repeating: 0, count: size)
        highs = [UInt64](repeating: 0, count: size)
        values = [UInt64](repeating: 0, count: size)
        mask = size - 1
        for i in 0..<oldHighs.count where oldHighs[i] != 0 {
            place(ShortKey(low: oldLows[i], high: oldHighs[i]), oldValues[i])
        }
    }

    private mutating func clear() {
        for i in 0..<highs.count { highs[i] = 0 }
        ids.removeAll(keepingCapacity: true)
        count = 0
        long.removeAll(keepingCapacity: true)
    }

    mutating func makeRoomForLong() {
        if long.count >= capacity { long.removeAll(keepingCapacity: true) }
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
