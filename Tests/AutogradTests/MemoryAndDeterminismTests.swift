import XCTest
import Autograd
import TestSupport

final class MemoryAndDeterminismTests: XCTestCase {
    /// One step of a tiny two-layer network with a plain SGD update; returns the loss.
    func step(_ w1: inout Tensor, _ w2: inout Tensor, _ x: Tensor, _ y: Tensor) -> Float {
        let t1 = w1.trackingGradients(), t2 = w2.trackingGradients()
        let h = Tensor.matmul(x, t1).gelu()
        let out = Tensor.matmul(h, t2, transposeB: true)
        let loss = ((out - y) * (out - y)).mean()
        let g = gradients(of: loss, wrt: [t1, t2])
        w1 = w1 - 0.05 * g[0]
        w2 = w2 - 0.05 * g[1]
        return loss.scalar
    }

    func test_trainingLoop_1000Steps_residentMemoryStaysFlat() {
        var w1 = testTensor([32, 64], seed: 1, low: -0.2, high: 0.2)
        var w2 = testTensor([8, 64], seed: 2, low: -0.2, high: 0.2)
        let x = testTensor([16, 32], seed: 3), y = testTensor([16, 8], seed: 4)
        for _ in 0..<100 { _ = step(&w1, &w2, x, y) }
        let before = MemoryStats.residentBytes()
        var last: Float = 0
        for _ in 0..<1000 { last = step(&w1, &w2, x, y) }
        let after = MemoryStats.residentBytes()
        XCTAssertTrue(last.isFinite)
        // One step allocates about 40 KB of tensors; a leak of even one of them per step
        // would add 4+ MB over 1000 steps. Allow 2 MB of allocator noise.
        XCTAssertLessThan(after - before, 2 << 20, "resident memory grew from \(before) to \(after) bytes over 1000 steps")
    }

    func test_trainingLoop_sameSeed_bitIdenticalLosses() {
        func run() -> [UInt32] {
            var w1 = testTensor([32, 64], seed: 1, low: -0.2, high: 0.2)
            var w2 = testTensor([8, 64], seed: 2, low: -0.2, high: 0.2)
            let x = testTensor([16, 32], seed: 3), y = testTensor([16, 8], seed: 4)
            return (0..<30).map { _ in step(&w1, &w2, x, y).bitPattern }
        }
        let a = run(), b = run()
        XCTAssertEqual(a, b)
        XCTAssertLessThan(Float(bitPattern: a.last!), Float(bitPattern: a.first!), "the loop should learn")
    }

    /// Parallel elementwise kernels chunk by size, not by core count, and each element is
    /// computed alone: the result equals a serial loop bit for bit.
    func test_largeElementwise_parallelEqualsSerialBitForBit() {
        let n = 1 << 18
        let a = testTensor([n], seed: 5), b = testTensor([n], seed: 6)
        let y = (a * b + a).gelu()
        let pa = a.scalars, pb = b.scalars
        let expected = Tensor(shape: [n], scalars: (0..<n).map { pa[$0] * pb[$0] + pa[$0] }).gelu()
        XCTAssertEqual(y.scalars, expected.scalars)
        // And the large sum is reproducible.
        XCTAssertEqual(y.sum().scalar.bitPattern, y.sum().scalar.bitPattern)
    }

    /// A freed large buffer is handed out again for the next tensor of the same size (no
    /// new mapping, so no growth across steps); `trim` returns the free ones.
    func test_bufferPool_reusesLargeBuffersBySize_andTrims() {
        BufferPool.trim()
        let n = (BufferPool.minimumBytes / 4) + 1000       // just above the pooled size
        var first: Tensor? = Tensor.zeros([n])
        let address = first!.withUnsafeBufferPointer { $0.baseAddress }
        first = nil
        XCTAssertGreaterThanOrEqual(BufferPool.heldBytes, n * 4)
        let second = Tensor.ones([n])
        XCTAssertEqual(second.withUnsafeBufferPointer { $0.baseAddress }, address, "same-size buffer not reused")
        XCTAssertEqual(second.scalars.reduce(0, +), Float(n), "a reused buffer must be fully rewritten")
        XCTAssertEqual(BufferPool.heldBytes, 0)
        var other: Tensor? = Tensor.zeros([4 * n])              // four times the size: a new buffer
        XCTAssertNotEqual(other!.withUnsafeBufferPointer { $0.baseAddress }, address)
        other = nil
        XCTAssertGreaterThan(BufferPool.heldBytes, 0)
        BufferPool.trim()
        XCTAssertEqual(BufferPool.heldBytes, 0)
        _ = other
    }

    /// Sizes that change from step to step (the trained rows of a batch) reuse the buffers
    /// freed by earlier steps: a request takes a free buffer of its size class or of a larger
    /// class up to four times its size, so once the largest has been seen nothing more is
    /// mapped. A request that finds none maps its own and returns the smaller free buffers it
    /// supersedes (down to a quarter of its size).
    func test_bufferPool_smallerSizes_reuseTheLargest_largerSupersedesIt() {
        BufferPool.trim()
        let largest = 3_000_000                              // 12 MB of floats
        var t: Tensor? = Tensor.zeros([largest])
        let address = t!.withUnsafeBufferPointer { $0.baseAddress }
        t = nil
        for size in [largest, largest - 20_000, largest / 2 + 17, largest / 3, largest - 1] {
            let u = Tensor.zeros([size])
            XCTAssertEqual(u.withUnsafeBufferPointer { $0.baseAddress }, address, "size \(size) mapped a new buffer")
        }
        let fifth = Tensor.zeros([largest / 5])             // under a quarter: not given the large one
        XCTAssertNotEqual(fifth.withUnsafeBufferPointer { $0.baseAddress }, address)
        XCTAssertEqual(BufferPool.heldBytes, BufferPool.classBytes(4 * largest))
        let larger = Tensor.zeros([largest * 3 / 2])        // a miss: the free 12 MB buffer is returned
        XCTAssertEqual(BufferPool.heldBytes, 0)
        _ = (fifth, larger)
        BufferPool.trim()
    }

    /// Size classes: eight per power of two, whole pages, never below the request and at most
    /// 12.5% above it.
    func test_bufferPool_classBytes_withinOneEighthAbove() {
        for bytes in [1 << 20, (1 << 20) + 1, 3_000_000, 5 << 20, (8 << 20) - 1, 123_456_789, 1 << 33] {
            let c = BufferPool.classBytes(bytes)
            XCTAssertGreaterThanOrEqual(c, bytes)
            XCTAssertLessThanOrEqual(Double(c), Double(bytes) * 1.125 + 4096, "\(bytes)")
            XCTAssertEqual(c % 4096, 0)
            XCTAssertEqual(BufferPool.classBytes(c), c, "a class size is its own class")
        }
    }
}
