import Autograd

/// Global-norm gradient clipping, as `torch.nn.utils.clip_grad_norm_`.
public enum GradientClipping {
    /// The L2 norm over all gradients together (accumulated in Float64, in name order).
    public static func globalNorm(_ grads: Parameters) -> Double {
        var total = 0.0
        for (_, g) in grads.pairs {
            g.withUnsafeBufferPointer { p in
                var s = 0.0
                for x in p { s += Double(x) * Double(x) }
                total += s
            }
        }
        return total.squareRoot()
    }

    /// Scales every gradient by min(1, maxNorm / (norm + 1e-6)); returns the norm before
    /// clipping. `maxNorm <= 0` disables clipping (the norm is still returned). The gradients
    /// are scaled in place (`Parameters.scale`): no second set of them is allocated.
    public static func clip(_ grads: inout Parameters, maxNorm: Double) -> Double {
        let norm = globalNorm(grads)
        if maxNorm > 0 && norm > maxNorm {
            grads.scale(by: Float(maxNorm / (norm + 1e-6)))
        }
        return norm
    }
}
