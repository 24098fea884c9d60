/// An n-dimensional array of Float32, row-major and always contiguous.
///
/// Dimension legend used across InstructKit: B batch, T time, C channels, H heads,
/// D head size, V vocabulary, N rows.
///
/// **Value semantics.** A `Tensor` is a struct over a shared `TensorStorage`. Ops never
/// write into their inputs: each returns a new tensor (reshape shares the storage, which
/// is safe because nobody writes it). The only writers are the `mutating` accessors,
/// which copy the storage first when another tensor shares it (copy-on-write). So a
/// user can treat tensors like numbers: `var b = a; b[0] = 1` leaves `a` unchanged.
///
/// **Gradients.** A tensor made by `trackingGradients()` is a leaf of the graph; every
/// op with at least one tracked input records how to differentiate itself, and
/// `gradients(of:wrt:)` returns d(scalar)/d(leaf) as plain tensors. Ops whose inputs
/// are all untracked record nothing and allocate nothing for the graph: that is the
/// inference (no-gradient) mode, and it needs no global switch.
public struct Tensor {
    /// The dimensions, outermost first. A scalar has shape `[]`.
    public let shape: [Int]
    @usableFromInline var storage: TensorStorage
    @usableFromInline var node: GradNode?

    /// Wraps a storage. The storage must hold exactly the product of `shape` elements.
    public init(shape: [Int], storage: TensorStorage) {
        precondition(shape.allSatisfy { $0 >= 0 }, "Tensor: negative dimension in shape \(shape)")
        precondition(Tensor.elementCount(shape) == storage.count,
                      "Tensor: shape \(shape) needs \(Tensor.elementCount(shape)) elements, storage has \(storage.count)")
        self.shape = shape
        self.storage = storage
        self.node = nil
    }

    /// A tensor from explicit values in row-major order.
    public init(shape: [Int], scalars: [Float]) {
        precondition(Tensor.elementCount(shape) == scalars.count,
                     "Tensor(shape:scalars:): shape \(shape) needs \(Tensor.elementCount(shape)) values, got \(scalars.count)")
        let s = TensorStorage(uninitializedCount: scalars.count)
        scalars.withUnsafeBufferPointer { src in
            if let base = src.baseAddress { s.pointer.initialize(from: base, count: scalars.count) }
        }
        self.init(shape: shape, storage: s)
    }

    /// A rank-0 tensor holding one value.
    public init(_ value: Float) {
        self.init(shape: [], scalars: [value])
    }

    /// A tensor of the given shape with every element equal to `value`.
    public init(repeating value: Float, shape: [Int]) {
        self.init(shape: shape, storage: TensorStorage(count: Tensor.elementCount(shape), repeating: value))
    }

    /// A tensor of zeros.
    public static func zeros(_ shape: [Int]) -> Tensor { Tensor(repeating: 0, shape: shape) }

    /// A tensor of ones.
    public static func ones(_ shape: [Int]) -> Tensor { Tensor(repeating: 1, shape: shape) }

    /// A tensor with uninitialised contents, for kernels that overwrite every element.
    @inlinable
    static func uninitialized(_ shape: [Int]) -> Tensor {
        Tensor(shape: shape, storage: TensorStorage(uninitializedCount: Tensor.elementCount(shape)))
    }

    /// Normal draws with the given mean and standard deviation, from `rng`.
    public static func randomNormal(_ shape: [Int], mean: Float = 0, std: Float = 1, rng: inout RNG) -> Tensor {
        var t = Tensor.uninitialized(shape)
        let p = t.storage.pointer
        for i in 0..<t.count { p[i] = mean + std * Float(rng.nextNormal()) }
        t.node = nil
        return t
    }

    /// Uniform draws in `[low, high)`, from `rng`.
    public static func randomUniform(_ shape: [Int], low: Float = 0, high: Float = 1, rng: inout RNG) -> Tensor {
        let t = Tensor.uninitialized(shape)
        let p = t.storage.pointer
        for i in 0..<t.count { p[i] = low + (high - low) * rng.nextFloat() }
        return t
    }

    /// The number of elements: the product of the shape (1 for a scalar).
    @inlinable public var count: Int { storage.count }

    /// The number of dimensions.
    @inlinable public var rank: Int { shape.count }

    /// Product of the dimensions of `shape`.
    @inlinable
    public static func elementCount(_ shape: [Int]) -> Int {
        var n = 1
        for d in shape { n *= d }
        return n
    }

    /// All elements in row-major order.
    public var scalars: [Float] {
        Array(UnsafeBufferPointer(start: storage.pointer, count: count))
    }

    /// The single element of a one-element tensor.
    public var scalar: Float {
        precondition(count == 1, "Tensor.scalar: tensor of shape \(shape) has \(count) elements, not 1")
        return storage.pointer[0]
    }

    /// Element at a flat row-major index.
    public subscript(flat index: Int) -> Float {
        get {
            precondition(index >= 0 && index < count, "Tensor[flat:]: index \(index) out of range for shape \(shape)")
            return storage.pointer[index]
        }
        set {
            precondition(index >= 0 && index < count, "Tensor[flat:]: index \(index) out of range for shape \(shape)")
            makeUnique()
            storage.pointer[index] = newValue
        }
    }

    /// Read access to the elements.
    @inlinable
    public func withUnsafeBufferPointer<R>(_ body: (UnsafeBufferPointer<Float>) throws -> R) rethrows -> R {
        try body(UnsafeBufferPointer(start: storage.pointer, count: count))
    }

    /// Write access to the elements. Copies the storage first if another tensor shares it,
    /// and detaches this tensor from the gradient graph (a mutated value is a new leaf).
    @inlinable
    public mutating func withUnsafeMutableBufferPointer<R>(_ body: (UnsafeMutableBufferPointer<Float>) throws -> R) rethrows -> R {
        makeUnique()
        node = nil
        return try body(UnsafeMutableBufferPointer(start: storage.pointer, count: count))
    }

    @inlinable
    mutating func makeUnique() {
        if !isKnownUniquelyReferenced(&storage) {
            let copy = TensorStorage(uninitializedCount: count)
            copy.pointer.initialize(from: storage.pointer, count: count)
            storage = copy
        }
    }

    /// True when both tensors share a storage (for tests of copy-on-write and of
    /// ops that promise not to copy).
    public func sharesStorage(with other: Tensor) -> Bool { storage === other.storage }
}

extension Tensor: CustomStringConvertible {
    /// Shape and up to the first eight values.
    public var description: String {
        let head = scalars.prefix(8).map { String($0) }.joined(separator: ", ")
        return "Tensor(\(shape), [\(head)\(count > 8 ? ", ..." : "")])"
    }
}
