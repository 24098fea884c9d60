/// The heap buffer behind one or more `Tensor` values.
///
/// Tensors share a storage freely (reshape shares, so does copying a `Tensor`); a
/// storage is written only while exactly one tensor refers to it, which
/// `Tensor.withUnsafeMutableBufferPointer` enforces by copying first (copy-on-write).
/// Buffers are 64-byte aligned for vector loads and never change size; large ones are
/// reused across steps through `BufferPool`.
public final class TensorStorage: @unchecked Sendable {
    /// Number of Float32 elements.
    public let count: Int
    /// The first element. Valid for `count` elements for the storage's whole lifetime.
    public let pointer: UnsafeMutablePointer<Float>
    /// The buffer's size as `BufferPool` handed it out (what `release` is given back).
    let allocatedBytes: Int

    /// Allocates `count` uninitialised elements.
    public init(uninitializedCount count: Int) {
        precondition(count >= 0, "TensorStorage: negative element count \(count)")
        self.count = count
        let (raw, size) = BufferPool.allocate(bytes: max(count, 1) * MemoryLayout<Float>.stride)
        allocatedBytes = size
        pointer = raw.bindMemory(to: Float.self, capacity: max(count, 1))
        TensorBytes.add(count * MemoryLayout<Float>.stride)
    }

    /// Allocates `count` elements all set to `value`.
    public convenience init(count: Int, repeating value: Float) {
        self.init(uninitializedCount: count)
        pointer.initialize(repeating: value, count: count)
    }

    deinit {
        TensorBytes.remove(count * MemoryLayout<Float>.stride)
        BufferPool.release(UnsafeMutableRawPointer(pointer), size: allocatedBytes)
    }
}
