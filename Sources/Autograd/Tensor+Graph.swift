/// One recorded op in the gradient graph.
///
/// A node holds its inputs' nodes (nil for an untracked input) and a closure that maps
/// the gradient of its output to the gradients of its inputs. Leaves have no closure.
/// The graph lives as long as the tensors that point into it: dropping the loss frees it.
@usableFromInline
final class GradNode {
    let inputs: [GradNode?]
    /// Given d(loss)/d(output), returns d(loss)/d(input) for each input that is tracked
    /// (entries for untracked inputs may be nil and are ignored).
    let backward: ((Tensor) -> [Tensor?])?
    let shape: [Int]

    init(shape: [Int], inputs: [GradNode?], backward: ((Tensor) -> [Tensor?])?) {
        self.shape = shape
        self.inputs = inputs
        self.backward = backward
    }
}

extension Tensor {
    /// True when this tensor is part of a gradient graph (a tracked leaf or made from one).
    public var isTracked: Bool { node != nil }

    /// A copy of this tensor that is a new leaf of the gradient graph: gradients of a
    /// scalar made from it can be taken with respect to it. Shares the storage.
    public func trackingGradients() -> Tensor {
        var t = self
        t.node = GradNode(shape: shape, inputs: [], backward: nil)
        return t
    }

    /// The same values, cut off from the gradient graph. Shares the storage.
    public var detached: Tensor {
        var t = self
        t.node = nil
        return t
    }

    /// True when any of the tensors is tracked. Ops check this before building a
    /// backward closure, so untracked (inference) computation allocates nothing for it.
    @inlinable
    static func anyTracked(_ a: Tensor) -> Bool { a.node != nil }
    @inlinable
    static func anyTracked(_ a: Tensor, _ b: Tensor) -> Bool { a.node != nil || b.node != nil }
    @inlinable
    static func anyTracked(_ ts: [Tensor]) -> Bool { ts.contains { $0.node != nil } }

    /// Attaches a backward rule to an op's result. `backward` receives d(loss)/d(result)
    /// and returns one gradient per input (shapes equal to the inputs'), in input order.
    /// Callers capture *detached* copies of whatever the rule needs, so that the
    /// backward computation itself records nothing.
    @usableFromInline
    func recorded(_ inputs: [Tensor], _ backward: @escaping (Tensor) -> [Tensor?]) -> Tensor {
        var t = self
        t.node = GradNode(shape: shape, inputs: inputs.map { $0.node }, backward: backward)
        return t
    }
}

/// Reverse-mode differentiation of a scalar.
///
/// Returns d(`scalar`)/d(t) for each tensor in `wrt` (same shapes). A tensor that
/// `scalar` does not depend on gets zeros. `wrt` entries must be tracked tensors
/// (from `trackingGradients()`), or this traps. Gradients of a leaf used several
/// times are summed. The graph is walked once, in reverse topological order, and each
/// intermediate gradient is released as soon as its node has been processed.
public func gradients(of scalar: Tensor, wrt: [Tensor]) -> [Tensor] {
    precondition(scalar.count == 1, "gradients(of:wrt:): expected a one-element tensor, got shape \(scalar.shape)")
    for (i, t) in wrt.enumerated() {
        precondition(t.node != nil, "gradients(of:wrt:): wrt[\(i)] (shape \(t.shape)) is not tracked; call trackingGradients() on it before using it")
    }
    return backpropagate(from: scalar, seed: Tensor.ones(scalar.shape), wrt: wrt)
}

/// The vector-Jacobian product: d(sum(`output` * `seed`))/d(t) for each tracked tensor in
/// `wrt`, walking `output`'s graph from `seed` (its shape) as `gradients(of:wrt:)` walks a
/// scalar's from 1. A checkpointed op's backward (`Tensor.checkpointed`) starts the walk of
/// its recomputed body here with the gradient its own node received, so the sums are those
/// of the whole graph's walk, in the same order.
func backpropagate(from output: Tensor, seed: Tensor, wrt: [Tensor]) -> [Tensor] {
    precondition(seed.shape == output.shape, "backpropagate: seed \(seed.shape) differs from the output's \(output.shape)")
    guard let root = output.node else {
        return wrt.map { Tensor.zeros($0.shape) }
    }

    // Topological order by iterative depth-first search (no recursion: graphs of deep
    // models have tens of thousands of nodes).
    var order: [GradNode] = []
    var visited = Set<ObjectIdentifier>()
    var stack: [(GradNode, Int)] = [(root, 0)]
    visited.insert(ObjectIdentifier(root))
    while let (n, next) = stack.popLast() {
        if next < n.inputs.count {
            stack.append((n, next + 1))
            if let child = n.inputs[next], !visited.contains(ObjectIdentifier(child)) {
                visited.insert(ObjectIdentifier(child))
                stack.append((child, 0))
            }
        } else {
            order.append(n)
        }
    }

    let wanted = Set(wrt.compactMap { $0.node.map(ObjectIdentifier.init) })
    var grads: [ObjectIdentifier: Tensor] = [ObjectIdentifier(root): seed]
    var leafGrads: [ObjectIdentifier: Tensor] = [:]
    for n in order.reversed() {
        let id = ObjectIdentifier(n)
        guard let g = grads.removeValue(forKey: id) else { continue }
        if wanted.contains(id) { leafGrads[id] = g }
        guard let rule = n.backward else { continue }
        let inputGrads = rule(g)
        for (input, ig) in zip(n.inputs, inputGrads) {
            guard let input = input, let ig = ig else { continue }
            precondition(ig.shape == input.shape,
                         "gradients: backward rule produced shape \(ig.shape) for an input of shape \(input.shape)")
            let key = ObjectIdentifier(input)
            if let existing = grads[key] {
                grads[key] = existing.addingSameShape(ig)
            } else {
                grads[key] = ig
            }
        }
    }
    return wrt.map { t in leafGrads[ObjectIdentifier(t.node!)] ?? Tensor.zeros(t.shape) }  // wrt is tracked (callers check)
}

/// Evaluates `f` on tracked copies of `inputs` and returns its scalar value and the
/// gradients with respect to each input.
public func valueAndGradients(at inputs: [Tensor], _ f: ([Tensor]) -> Tensor) -> (value: Float, gradients: [Tensor]) {
    let tracked = inputs.map { $0.trackingGradients() }
    let y = f(tracked)
    return (y.scalar, gradients(of: y, wrt: tracked))
}
