import Autograd

/// AdamW (Loshchilov and Hutter) with decoupled weight decay, defined per parameter.
///
/// For each parameter p with gradient g, at step t (1-based):
///   m = b1 m + (1 - b1) g;  v = b2 v + (1 - b2) g^2
///   p -= lr * (m / (1 - b1^t)) / (sqrt(v / (1 - b2^t)) + eps) + lr * wd * p   (wd only where `decays`)
/// as `torch.optim.AdamW`. Moments are named like the parameters, so they save and
/// restore with a checkpoint and exist only for parameters that receive gradients
/// (a frozen base under LoRA has none). One fused pass per parameter.
public struct AdamW: Sendable {
    public var beta1: Float
    public var beta2: Float
    public var eps: Float
    public var weightDecay: Float
    /// Number of updates applied so far.
    public private(set) var step: Int = 0
    /// First moments, by parameter name.
    public private(set) var m = Parameters()
    /// Second moments, by parameter name.
    public private(set) var v = Parameters()

    public init(beta1: Float = 0.9, beta2: Float = 0.999, eps: Float = 1e-8, weightDecay: Float = 0.0) {
        self.beta1 = beta1
        self.beta2 = beta2
        self.eps = eps
        self.weightDecay = weightDecay
    }

    /// Restores saved state (from a checkpoint).
    public mutating func restore(step: Int, m: Parameters, v: Parameters) {
        self.step = step
        self.m = m
        self.v = v
    }

    /// Applies one update to every parameter that has a gradient in `grads`.
    /// `decays(name)` says whether weight decay applies (by convention not to norms,
    /// biases and embeddings).
    public mutating func update(_ params: inout Parameters, grads: Parameters, lr: Float,
                                decays: (String) -> Bool) {
        step += 1
        let t = Float(step)
        let c1 = 1 - powf(beta1, t), c2 = 1 - powf(beta2, t)
        for name in grads.names {
            let g = grads[name]
            precondition(params.contains(name), "AdamW: gradient for unknown parameter '\(name)'")
            let shape = g.shape
            let wd = decays(name) ? weightDecay : 0
            let b1 = beta1, b2 = beta2, e = eps
            params.modify(name, initial: { Tensor.zeros(shape) }) { p in
                precondition(p.shape == shape, "AdamW: gradient \(shape) vs parameter \(p.shape) for '\(name)'")
                m.modify(name, initial: { Tensor.zeros(shape) }) { mt in
                    v.modify(name, initial: { Tensor.zeros(shape) }) { vt in
                        g.withUnsafeBufferPointer { gp in
                        p.withUnsafeMutableBufferPointer { pp in
                        mt.withUnsafeMutableBufferPointer { mp in
                        vt.withUnsafeMutableBufferPointer { vp in
                            guard let pg = gp.baseAddress, let ppp = pp.baseAddress,
                                  let pm = mp.baseAddress, let pv = vp.baseAddress else { return }
                            Parallel.forRanges(gp.count, costPerElement: 8) { r in
                                for i in r {
                                    let gi = pg[i]
                                    let mi = b1 * pm[i] + (1 - b1) * gi
                                    let vi = b2 * pv[i] + (1 - b2) * gi * gi
                                    pm[i] = mi
                                    pv[i] = vi
                                    let update = (mi / c1) / ((vi / c2).squareRoot() + e)
                                    ppp[i] -= lr * (update + wd * ppp[i])
                                }
                            }
                        } } } }
                    }
                }
            }
        }
    }
}

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
