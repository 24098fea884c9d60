/// Activation (gradient) checkpointing: a sub-computation that keeps only its inputs for the
/// backward pass and runs again during it, as torchtune's `enable_activation_checkpointing`
/// and Hugging Face's `gradient_checkpointing` do per transformer block.

extension Tensor {
    /// `body(inputs)`, recorded as one op that keeps only `inputs` for the backward pass.
    ///
    /// The forward pass runs `body` on detached copies of `inputs`, so nothing it computes
    /// is held once it returns (its intermediate tensors go back to the pool). The result's
    /// backward rule runs `body` again on fresh tracked copies of the tracked inputs
    /// (untracked ones, e.g. a LoRA run's frozen weights, stay untracked and get no gradient)
    /// and returns the vector-Jacobian product of that recomputation with the gradient the
    /// result received (`backpropagate`). `inputs` must hold every tracked tensor `body`
    /// reads (a block's input and its weights, adapters included): a tracked tensor that
    /// `body` captures instead gets no gradient through it.
    ///
    /// The result and every gradient equal those of calling `body(inputs)` directly, bit for
    /// bit, when `body` is deterministic: the kernels give the same bits whether or not their
    /// inputs are tracked, and the recomputed graph is walked in the same order as the whole
    /// graph walks that part of it. The cost is a second forward pass of `body` during the
    /// backward pass. Without a tracked input, `body(inputs)` is returned as it is.
    public static func checkpointed(_ inputs: [Tensor], _ body: @escaping ([Tensor]) -> Tensor) -> Tensor {
        guard anyTracked(inputs) else { return body(inputs) }
        let kept = inputs.map(\.detached)
        let needs = inputs.map(\.isTracked)
        let out = body(kept).detached
        return out.recorded(inputs) { g in
            Tensor.checkpointBackward(kept, needs, g) { body($0) }
        }
    }

    /// `checkpointed` for a `body` that draws from a random generator (dropout): the forward
    /// pass draws from `rng` (which advances as if `body` had been called directly), and the
    /// recomputation draws from a copy of `rng` as it was before, so it makes the same draws
    /// and the same dropout masks, bit for bit.
    public static func checkpointed(_ inputs: [Tensor], rng: inout RNG,
                                    _ body: @escaping ([Tensor], inout RNG) -> Tensor) -> Tensor {
        guard anyTracked(inputs) else { return body(inputs, &rng) }
        let kept = inputs.map(\.detached)
        let needs = inputs.map(\.isTracked)
        let start = rng
        let out = body(kept, &rng).detached
        return out.recorded(inputs) { g in
            Tensor.checkpointBackward(kept, needs, g) { xs in
                var replay = start
                return body(xs, &replay)
            }
        }
    }

    /// The backward rule of `checkpointed`: `body` again on tracked copies of the inputs
    /// marked in `needs`, then the walk of its graph from `g`. One gradient per input, nil
    /// for the untracked ones.
    static func checkpointBackward(_ kept: [Tensor], _ needs: [Bool], _ g: Tensor,
                                   _ body: ([Tensor]) -> Tensor) -> [Tensor?] {
        let copies = zip(kept, needs).map { x, tracked in tracked ? x.trackingGradients() : x }
        let y = body(copies)
        precondition(y.shape == g.shape,
                     "checkpointed: the recomputed body has shape \(y.shape), the forward pass had \(g.shape)")
        var grads = backpropagate(from: y, seed: g, wrt: copies.filter(\.isTracked)).makeIterator()
        return needs.map { $0 ? grads.next() : nil }
    }
}
