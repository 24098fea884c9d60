import Autograd
import NN

/// Activation checkpointing per transformer block (`training.activation_checkpointing`), as
/// torchtune's `enable_activation_checkpointing` and Hugging Face's `gradient_checkpointing`:
/// the forward pass keeps each block's input [B, T, C] and nothing inside the block; the
/// backward pass runs each block again, one at a time, and takes its gradients from that.
///
/// Saved activations drop from L blocks' tensors (`ModelConfig.savedActivationScalars`) to L
/// block inputs plus one block's tensors during its recomputation, at the cost of a second
/// forward pass of the blocks (SmolLM2-135M: 1.23x the step time for full fine-tuning, 1.36x
/// for LoRA; docs/performance.md, "Activation checkpointing"). The loss and every
/// gradient are the same bits as without it (`Tensor.checkpointed`), dropout included: each
/// block's recomputation draws its masks again from a copy of the generator as the block
/// found it.
extension DecoderModel {
    /// The names of block `i`'s tensors in `p` (its weights, and its adapters when present),
    /// in `p`'s order.
    func blockParameterNames(_ i: Int, in p: Parameters) -> [String] {
        let prefix = config.family == .gpt2 ? "transformer.h.\(i)." : "model.layers.\(i)."
        return p.names.filter { $0.hasPrefix(prefix) }
    }

    /// `block(x, weights, rng)` for block `i` as one checkpointed op over `x` and the block's
    /// tensors of `p` (`Tensor.checkpointed`). `block` gets a `Parameters` holding only those
    /// tensors, and draws its dropout from `rng` (nil: no dropout), which advances as if the
    /// block had run directly.
    func checkpointedBlock(_ i: Int, _ x: Tensor, _ p: Parameters, _ rng: UnsafeMutablePointer<RNG>?,
                           _ block: @escaping (Tensor, Parameters, UnsafeMutablePointer<RNG>?) -> Tensor) -> Tensor {
        let names = blockParameterNames(i, in: p)
        let inputs = [x] + names.map { p[$0] }
        func run(_ xs: [Tensor], _ rng: UnsafeMutablePointer<RNG>?) -> Tensor {
            block(xs[0], Parameters(Array(zip(names, xs.dropFirst()))), rng)
        }
        guard let rng else { return Tensor.checkpointed(inputs) { run($0, nil) } }
        return Tensor.checkpointed(inputs, rng: &rng.pointee) { xs, r in
            withUnsafeMutablePointer(to: &r) { run(xs, $0) }
        }
    }
}
