import Autograd

/// An ordered set of named tensors: a model's weights, their gradients, or optimizer moments.
///
/// Names are stable, dotted and follow Hugging Face for each model family
/// (`transformer.h.0.attn.c_attn.weight`, `model.layers.0.self_attn.q_proj.weight`), so
/// checkpoints and exports need no renaming table. Layers do not own tensors: they read
/// them from a `Parameters` by name during the forward pass. So gradients come back as
/// another `Parameters` (a value), and the optimizer updates weights by name.
public struct Parameters: Sendable {
    /// Names in insertion order (the order of checkpoints and of the optimizer pass).
    public private(set) var names: [String] = []
    private var tensors: [String: Tensor] = [:]

    /// An empty set.
    public init() {}

    /// A set from (name, tensor) pairs, in order. Names must be unique.
    public init(_ pairs: [(String, Tensor)]) {
        for (n, t) in pairs { self[n] = t }
    }

    /// The number of tensors.
    public var count: Int { names.count }

    /// Total number of scalar elements.
    public var elementCount: Int { names.reduce(0) { $0 + (tensors[$1]?.count ?? 0) } }

    /// True when a tensor of this name exists.
    public func contains(_ name: String) -> Bool { tensors[name] != nil }

    /// The tensor of a name. Reading a missing name traps with the name (a programmer
    /// error: models check their parameters against their config when loading).
    public subscript(name: String) -> Tensor {
        get {
            guard let t = tensors[name] else {
                preconditionFailure("Parameters: no tensor named '\(name)' (have \(names.prefix(6))\(names.count > 6 ? "..." : ""))")
            }
            return t
        }
        set {
            if tensors.updateValue(newValue, forKey: name) == nil { names.append(name) }
        }
    }

    /// The tensor of a name, or nil.
    public func tensor(named name: String) -> Tensor? { tensors[name] }

    /// (name, tensor) pairs in order.
    public var pairs: [(name: String, tensor: Tensor)] { names.map { ($0, tensors[$0]!) } }  // every name has a tensor

    /// Copies that are leaves of the gradient graph (sharing storage), for the names in
    /// `only` (default: all). Others stay untracked, so they get no gradient (frozen).
    public func tracked(only: Set<String>? = nil) -> Parameters {
        var out = self
        for n in names where only?.contains(n) ?? true {
            out.tensors[n] = tensors[n]!.trackingGradients()  // n comes from names
        }
        return out
    }

    /// Gradients of `scalar` with respect to every tracked tensor here, by name.
    public func gradients(of scalar: Tensor) -> Parameters {
        let trackedNames = names.filter { tensors[$0]!.isTracked }  // n comes from names
        let grads = Autograd.gradients(of: scalar, wrt: trackedNames.map { tensors[$0]! })
        return Parameters(Array(zip(trackedNames, grads)))
    }

    /// Gives `body` the tensor of `name` in place (inserting `initial()` when absent). The
    /// tensor is moved out of the store for the call, so when nothing else shares its
    /// storage, writing it copies nothing (the optimizer's in-place update relies on this).
    public mutating func modify<R>(_ name: String, initial: () -> Tensor, _ body: (inout Tensor) throws -> R) rethrows -> R {
        var t: Tensor
        if let existing = tensors.removeValue(forKey: name) {
            t = existing
        } else {
            t = initial()
            names.append(name)
        }
        defer { tensors[name] = t }
        return try body(&t)
    }

    /// Elementwise sum with another set holding the same names and shapes (accumulating
    /// gradients over micro-batches). Names missing on either side are kept as they are.
    public func adding(_ other: Parameters) -> Parameters {
        var out = self
        for n in other.names {
            if let mine = tensors[n] { out[n] = mine + other[n] } else { out[n] = other[n] }
        }
        return out
    }

    /// Adds `other`'s tensors into this set's of the same names, in place (a name only in
    /// `other` is inserted). Each element is `mine + theirs`, as `adding` computes it, so the
    /// sums are the same bits; a tensor whose storage nothing else shares is written without
    /// a copy (accumulating gradients over micro-batches needs no third set).
    public mutating func add(_ other: Parameters) {
        for n in other.names {
            let t = other[n]
            guard contains(n) else {
                self[n] = t
                continue
            }
            modify(n, initial: { t }) { mine in
                precondition(mine.shape == t.shape, "Parameters.add: '\(n)' is \(mine.shape) here and \(t.shape) in other")
                t.withUnsafeBufferPointer { src in
                    mine.withUnsafeMutableBufferPointer { dst in
                        guard let d = dst.baseAddress, let s = src.baseAddress else { return }
                        Parallel.forRanges(dst.count, costPerElement: 2) { r in
                            for i in r { d[i] = d[i] + s[i] }
                        }
                    }
                }
            }
        }
    }

    /// Multiplies every tensor by `factor`, in place: each element is `x * factor`, as
    /// `tensor * factor` computes it, without a second set of tensors when nothing else
    /// shares their storage.
    public mutating func scale(by factor: Float) {
        for n in names {
            modify(n, initial: { preconditionFailure("Parameters.scale: '\(n)' is listed but absent") }) { t in
                t.withUnsafeMutableBufferPointer { p in
                    guard let d = p.baseAddress else { return }
                    Parallel.forRanges(p.count, costPerElement: 2) { r in
                        for i in r { d[i] = d[i] * factor }
                    }
                }
            }
        }
    }

    /// Applies `f` to every tensor, keeping names.
    public func mapTensors(_ f: (String, Tensor) -> Tensor) -> Parameters {
        Parameters(pairs.map { ($0.name, f($0.name, $0.tensor)) })
    }
}
