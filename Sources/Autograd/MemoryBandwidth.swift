import Dispatch

/// The machine's memory bandwidth as this process sees it: the bound that batch-1 decoding
/// cannot beat, since every weight is read once per generated token.
public enum MemoryBandwidth {
    /// One measurement.
    public struct Result: Codable, Sendable {
        /// Bytes per second read by a streaming sum (what a matrix-vector product does).
        public var readBytesPerSecond: Double
        /// Bytes per second moved by a copy (read + write counted).
        public var copyBytesPerSecond: Double
        /// Threads used (each streams its own part of the buffer).
        public var threads: Int
        /// Buffer size in bytes (far larger than the caches).
        public var bufferBytes: Int
    }

    /// Streams a `bufferBytes` buffer `passes` times with `threads` threads (each its own
    /// contiguous part, as the decode kernels split their rows), once summing it (read) and
    /// once copying it into a second buffer (read + write), and returns the best pass of each.
    /// The first pass of each is a warm-up (pages touched) and not counted. Allocates two
    /// buffers of `bufferBytes` for the duration of the call.
    public static func measure(threads: Int, bufferBytes: Int = 256 << 20, passes: Int = 5) -> Result {
        precondition(threads >= 1 && bufferBytes >= 1 << 20 && passes >= 1,
                     "MemoryBandwidth.measure: need threads >= 1, a buffer of at least 1 MiB and passes >= 1")
        let count = bufferBytes / 64 * 16   // floats, a whole number of 64-byte lines
        let a = UnsafeMutablePointer<Float>.allocate(capacity: count), b = UnsafeMutablePointer<Float>.allocate(capacity: count)
        defer { a.deallocate(); b.deallocate() }
        a.initialize(repeating: 1, count: count)
        b.initialize(repeating: 0, count: count)
        let per = (count / threads + 15) / 16 * 16
        var sums = [Float](repeating: 0, count: threads)
        func timed(_ body: (Int) -> Void) -> Double {
            var best = Double.infinity
            for pass in 0...passes {
                let start = DispatchTime.now().uptimeNanoseconds
                DispatchQueue.concurrentPerform(iterations: threads, execute: body)
                let seconds = Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9
                if pass > 0 { best = Swift.min(best, seconds) }
            }
            return best
        }
        let readSeconds = sums.withUnsafeMutableBufferPointer { s in
            let sp = s.baseAddress!   // threads >= 1
            return timed { t in
                let lo = Swift.min(count, t * per), hi = Swift.min(count, lo + per)
                let p = UnsafeRawPointer(a)
                var a0 = SIMD16<Float>(), a1 = SIMD16<Float>()
                var i = lo
                while i + 32 <= hi {
                    a0 += p.loadUnaligned(fromByteOffset: 4 * i, as: SIMD16<Float>.self)
                    a1 += p.loadUnaligned(fromByteOffset: 4 * i + 64, as: SIMD16<Float>.self)
                    i += 32
                }
                sp[t] = (a0 + a1).sum()
            }
        }
        let copySeconds = timed { t in
            let lo = Swift.min(count, t * per), hi = Swift.min(count, lo + per)
            if hi > lo { (b + lo).update(from: a + lo, count: hi - lo) }
        }
        let bytes = Double(count * MemoryLayout<Float>.size)
        // The sums are read so the loop cannot be dropped; they are never 0 for a buffer of ones.
        let checked = sums.reduce(0, +) > 0 ? bytes : 0
        return Result(readBytesPerSecond: checked / readSeconds, copyBytesPerSecond: 2 * bytes / copySeconds,
                      threads: threads, bufferBytes: count * MemoryLayout<Float>.size)
    }
}
