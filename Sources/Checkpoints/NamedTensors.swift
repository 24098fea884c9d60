import Autograd

/// An ordered list of named Float32 tensors plus string metadata: what every archive format
/// in this target reads and writes.
///
/// Order is kept (writers store tensors in this order; readers return them in file order), and
/// names are unique: `append` traps on a duplicate (a programmer error), readers throw
/// `CheckpointError.invalidTensorName` when a file has one.
public struct NamedTensors {
    /// The (name, tensor) pairs in order.
    public private(set) var entries: [(name: String, tensor: Tensor)]
    /// Free-form string metadata (safetensors `__metadata__`, HDF5 root attributes).
    public var metadata: [String: String]
    private var index: [String: Int]

    /// An empty collection with the given metadata.
    public init(metadata: [String: String] = [:]) {
        self.entries = []
        self.metadata = metadata
        self.index = [:]
    }

    /// A collection from ordered pairs. Traps on a duplicate name.
    public init(_ pairs: [(String, Tensor)], metadata: [String: String] = [:]) {
        self.init(metadata: metadata)
        for (name, tensor) in pairs { append(name, tensor) }
    }

    /// The number of tensors.
    public var count: Int { entries.count }
    /// The names in order.
    public var names: [String] { entries.map { $0.name } }
    /// Total number of scalars over all tensors.
    public var totalElements: Int { entries.reduce(0) { $0 + $1.tensor.count } }

    /// Whether a tensor with this name exists.
    public func contains(_ name: String) -> Bool { index[name] != nil }

    /// The tensor with this name, or nil.
    public subscript(name: String) -> Tensor? {
        guard let i = index[name] else { return nil }
        return entries[i].tensor
    }

    /// Appends a tensor. Traps if `name` is already present (names are unique by contract).
    public mutating func append(_ name: String, _ tensor: Tensor) {
        precondition(index[name] == nil, "NamedTensors.append: duplicate tensor name '\(name)'")
        index[name] = entries.count
        entries.append((name, tensor))
    }

    /// Appends a tensor, throwing instead of trapping on a duplicate; used by readers.
    mutating func appendChecked(_ name: String, _ tensor: Tensor, path: String) throws {
        guard index[name] == nil else {
            throw CheckpointError.invalidTensorName(path: path, tensor: name, reason: "appears twice")
        }
        append(name, tensor)
    }

    /// A copy whose names all carry `prefix` (for example `m.` and `v.` for optimizer moments).
    public func prefixed(_ prefix: String) -> NamedTensors {
        NamedTensors(entries.map { (prefix + $0.name, $0.tensor) }, metadata: metadata)
    }

    /// The tensors whose names start with `prefix`, with the prefix removed, in order.
    public func stripping(prefix: String) -> NamedTensors {
        var out = NamedTensors(metadata: metadata)
        for e in entries where e.name.hasPrefix(prefix) {
            out.append(String(e.name.dropFirst(prefix.count)), e.tensor)
        }
        return out
    }

    /// Appends every tensor of `other` (metadata of `self` wins on key clashes). Traps on a duplicate name.
    public mutating func append(contentsOf other: NamedTensors) {
        for e in other.entries { append(e.name, e.tensor) }
        metadata.merge(other.metadata) { mine, _ in mine }
    }
}
