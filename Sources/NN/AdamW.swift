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

    /// Makes zero moments now for each parameter of `params` named in `names` that has none
    /// yet, in `names`' order: the same values the first `update` would start from, so the
    /// updates are unchanged, but the memory is taken before training rather than at the
    /// first update (where the pool would lend it buffers a step just freed, and the next
    /// step would map its own again; `Training.MemoryPlan`).
    public mutating func allocateMoments(for params: Parameters, names: [String]) {
        for name in names where params.contains(name) && !m.contains(name) {
            let shape = params[name].shape
            m[name] = Tensor.zeros(shape)
            v[name] = Tensor.zeros(shape)
        }
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
                                AdamW.updateRange(r, p: ppp, g: pg, m: pm, v: pv, b1: b1, b2: b2, c1: c1, c2: c2,
                                                  eps: e, lr: lr, wd: wd)
                            }
                        } } } }
                    }
                }
            }
        }
    }
}

extension AdamW {
    /// One AdamW step on elements `r` of a parameter, eight lanes at a time and then the
    /// tail one by one. Every element goes through the same operations in the same order
    /// (no fused multiply-adds), so the eight-lane and the scalar paths give the same bits.
    @inline(__always)
    static func updateRange(_ r: Range<Int>, p: UnsafeMutablePointer<Float>, g: UnsafePointer<Float>,
                            m: UnsafeMutablePointer<Float>, v: UnsafeMutablePointer<Float>,
                            b1: Float, b2: Float, c1: Float, c2: Float, eps: Float, lr: Float, wd: Float) {
        typealias V8 = SIMD8<Float>
        var i = r.lowerBound
        while i + 8 <= r.upperBound {
            let gi = UnsafeRawPointer(g + i).loadUnaligned(as: V8.self)
            let mi = b1 * UnsafeRawPointer(m + i).loadUnaligned(as: V8.self) + (1 - b1) * gi
            let vi = b2 * UnsafeRawPointer(v + i).loadUnaligned(as: V8.self) + (1 - b2) * gi * gi
            UnsafeMutableRawPointer(m + i).storeBytes(of: mi, as: V8.self)
            UnsafeMutableRawPointer(v + i).storeBytes(of: vi, as: V8.self)
            let update = (mi / c1) / ((vi / c2).squareRoot() + eps)
            let pi = UnsafeRawPointer(p + i).loadUnaligned(as: V8.self)
            UnsafeMutableRawPointer(p + i).storeBytes(of: pi - lr * (update + wd * pi), as: V8.self)
            i += 8
        }
        while i < r.upperBound {
            let gi = g[i]
            let mi = b1 * m[i] + (1 - b1) * gi
            let vi = b2 * v[i] + (1 - b2) * gi * gi
            m[i] = mi
            v[i] = vi
            let update = (mi / c1) / ((vi / c2).squareRoot() + eps)
            p[i] -= lr * (update + wd * p[i])
            i += 1
        }
    }
}

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
