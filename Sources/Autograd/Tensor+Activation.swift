/// GELU (tanh form) and SiLU on eight lanes, with `VectorExp` instead of libm's `tanhf` /
/// `expf` (about 25 ns per call here, which made GELU the slowest elementwise op).
///
/// GELU's 0.5 x (1 + tanh(u)) is computed as x / (1 + e^(-2u)) (the same function), exact at
/// both saturations; its error is a few 1e-7 |x| (checked against the Float64 formula in
/// `ElementwiseTests`). Forward and backward are each one pass; the backward recomputes
/// the logistic from the saved input instead of keeping it.

extension Tensor {
    @usableFromInline typealias V8 = SIMD8<Float>

    /// GELU, tanh form (as GPT-2). Matches `torch.nn.functional.gelu(approximate="tanh")`.
    public func gelu() -> Tensor {
        let out = Tensor.uninitialized(shape)
        Tensor.eightWide(GELUForward8.self, storage.pointer, out.storage.pointer, count)
        guard Tensor.anyTracked(self) else { return out }
        let xv = self.detached
        return out.recorded([self]) { g in [Tensor.geluBackward(xv, g)] }
    }

    static func geluBackward(_ x: Tensor, _ g: Tensor) -> Tensor {
        let dx = Tensor.uninitialized(x.shape)
        Tensor.eightWide2(GELUBackward8.self, x.storage.pointer, g.storage.pointer, dx.storage.pointer, x.count)
        return dx
    }

    /// SiLU: x * sigmoid(x) (Llama's MLP gate).
    public func silu() -> Tensor {
        let out = Tensor.uninitialized(shape)
        Tensor.eightWide(SiLUForward8.self, storage.pointer, out.storage.pointer, count)
        guard Tensor.anyTracked(self) else { return out }
        let xv = self.detached
        return out.recorded([self]) { g in [Tensor.siluBackward(xv, g)] }
    }

    static func siluBackward(_ x: Tensor, _ g: Tensor) -> Tensor {
        let dx = Tensor.uninitialized(x.shape)
        Tensor.eightWide2(SiLUBackward8.self, x.storage.pointer, g.storage.pointer, dx.storage.pointer, x.count)
        return dx
    }

    /// Llama's gated MLP activation in one op: `silu(gate) * up`, elementwise, same shapes.
    ///
    /// Equal to `gate.silu() * up` bit for bit (the same lane formula, one rounding of the
    /// product), with less memory: that pair keeps gate, silu(gate) and up for their backward
    /// rules; this op keeps gate and up and recomputes the logistic (one exponential per
    /// element) in its backward, which forms both gradients in one pass:
    /// `dgate = g * up * s (1 + gate (1 - s))`, `dup = g * gate * s`, `s = sigmoid(gate)`.
    public static func swiglu(gate: Tensor, up: Tensor) -> Tensor {
        precondition(gate.shape == up.shape, "swiglu: gate \(gate.shape) and up \(up.shape) differ")
        let out = Tensor.uninitialized(gate.shape)
        Tensor.eightWide2(SwiGLUForward8.self, gate.storage.pointer, up.storage.pointer, out.storage.pointer, gate.count)
        guard anyTracked(gate, up) else { return out }
        let gv = gate.detached, uv = up.detached
        let needs = (gate.isTracked, up.isTracked)
        return out.recorded([gate, up]) { g in
            let dg = Tensor.uninitialized(needs.0 ? gv.shape : [0]), du = Tensor.uninitialized(needs.1 ? uv.shape : [0])
            swigluBackward(gv.storage.pointer, uv.storage.pointer, g.storage.pointer,
                           needs.0 ? dg.storage.pointer : nil, needs.1 ? du.storage.pointer : nil, gv.count)
            return [needs.0 ? dg : nil, needs.1 ? du : nil]
        }
    }

    /// Both gradients of `swiglu` in one pass over gate, up and the incoming gradient.
    static func swigluBackward(_ gate: UnsafeMutablePointer<Float>, _ up: UnsafeMutablePointer<Float>,
                               _ g: UnsafeMutablePointer<Float>, _ dGate: UnsafeMutablePointer<Float>?,
                               _ dUp: UnsafeMutablePointer<Float>?, _ n: Int) {
        @inline(__always) func lanes(_ x: V8, _ u: V8, _ gv: V8) -> (V8, V8) {
            let s = 1 / (1 + VectorExp.exp(-x))
            return (gv * u * (s * (1 + x * (1 - s))), gv * (x * s))
        }
        let blocks = (n + 7) / 8
        Parallel.forRanges(blocks, costPerElement: 96) { r in
            var i = r.lowerBound * 8
            let full = Swift.min(r.upperBound * 8, n) & ~7
            while i < full {
                let (a, b) = lanes(UnsafeRawPointer(gate + i).loadUnaligned(as: V8.self),
                                   UnsafeRawPointer(up + i).loadUnaligned(as: V8.self),
                                   UnsafeRawPointer(g + i).loadUnaligned(as: V8.self))
                if let dGate { UnsafeMutableRawPointer(dGate + i).storeBytes(of: a, as: V8.self) }
                if let dUp { UnsafeMutableRawPointer(dUp + i).storeBytes(of: b, as: V8.self) }
                i += 8
            }
            if r.upperBound * 8 > n && i < n {
                var x = V8(repeating: 0), u = V8(repeating: 0), gv = V8(repeating: 0)
                for j in 0..<(n - i) { x[j] = gate[i + j]; u[j] = up[i + j]; gv[j] = g[i + j] }
                let (a, b) = lanes(x, u, gv)
                for j in 0..<(n - i) {
                    dGate?[i + j] = a[j]
                    dUp?[i + j] = b[j]
                }
            }
        }
    }

    /// dst[i] = K.apply(src[i]) eight lanes at a time (the tail padded), split across cores
    /// by size. Generic over the kernel type, not a closure, so that each use is specialised
    /// and the kernel inlined into the loop (a closure argument stayed an indirect call per
    /// eight lanes, captured by the parallel loop's closure).
    @inline(__always)
    static func eightWide<K: Lanewise8>(_: K.Type, _ src: UnsafeMutablePointer<Float>,
                                        _ dst: UnsafeMutablePointer<Float>, _ n: Int) {
        let blocks = (n + 7) / 8
        Parallel.forRanges(blocks, costPerElement: 64) { r in
            var i = r.lowerBound * 8
            let full = Swift.min(r.upperBound * 8, n) & ~7
            while i < full {
                let x = UnsafeRawPointer(src + i).loadUnaligned(as: V8.self)
                UnsafeMutableRawPointer(dst + i).storeBytes(of: K.apply(x), as: V8.self)
                i += 8
            }
            if r.upperBound * 8 > n && i < n {
                var x = V8(repeating: 0)
                for j in 0..<(n - i) { x[j] = src[i + j] }
                let y = K.apply(x)
                for j in 0..<(n - i) { dst[i + j] = y[j] }
            }
        }
    }

    /// dst[i] = K.apply(a[i], b[i]) eight lanes at a time.
    @inline(__always)
    static func eightWide2<K: Lanewise8x2>(_: K.Type, _ a: UnsafeMutablePointer<Float>, _ b: UnsafeMutablePointer<Float>,
                                           _ dst: UnsafeMutablePointer<Float>, _ n: Int) {
        let blocks = (n + 7) / 8
        Parallel.forRanges(blocks, costPerElement: 64) { r in
            var i = r.lowerBound * 8
            let full = Swift.min(r.upperBound * 8, n) & ~7
            while i < full {
                let x = UnsafeRawPointer(a + i).loadUnaligned(as: V8.self)
                let y = UnsafeRawPointer(b + i).loadUnaligned(as: V8.self)
                UnsafeMutableRawPointer(dst + i).storeBytes(of: K.apply(x, y), as: V8.self)
                i += 8
            }
            if r.upperBound * 8 > n && i < n {
                var x = V8(repeating: 0), y = V8(repeating: 0)
                for j in 0..<(n - i) { x[j] = a[i + j]; y[j] = b[i + j] }
                let z = K.apply(x, y)
                for j in 0..<(n - i) { dst[i + j] = z[j] }
            }
        }
    }
}

/// A function of eight lanes, for `Tensor.eightWide`.
@usableFromInline protocol Lanewise8 { static func apply(_ x: SIMD8<Float>) -> SIMD8<Float> }
/// A function of two eight-lane vectors, for `Tensor.eightWide2`.
@usableFromInline protocol Lanewise8x2 { static func apply(_ x: SIMD8<Float>, _ y: SIMD8<Float>) -> SIMD8<Float> }

/// GELU's tanh form rewritten with a logistic: 0.5 x (1 + tanh(u)) = x sigmoid(2u) =
/// x / (1 + e^(-2u)), u = sqrt(2/pi) (x + 0.044715 x^3). One exponential and one division.
/// Saturates exactly: e^(-2u) = +inf gives -0 for very negative x, 0 gives x.
enum GELUForward8: Lanewise8 {
    @inline(__always) static func apply(_ x: SIMD8<Float>) -> SIMD8<Float> {
        let c: Float = 0.7978845608028654
        let u = c * (x + 0.044715 * (x * x) * x)
        return x / (1 + VectorExp.exp(-2 * u))
    }
}

/// d/dx of x s with s = sigmoid(2u): s + 2 x s (1 - s) u', u' = sqrt(2/pi) (1 + 3 * 0.044715 x^2),
/// times the incoming gradient (the same as 0.5 (1 + t) + 0.5 x (1 - t^2) u' with t = tanh u).
enum GELUBackward8: Lanewise8x2 {
    @inline(__always) static func apply(_ x: SIMD8<Float>, _ g: SIMD8<Float>) -> SIMD8<Float> {
        let c: Float = 0.7978845608028654
        let x2 = x * x
        let u = c * (x + 0.044715 * x2 * x)
        let s = 1 / (1 + VectorExp.exp(-2 * u))
        let du = c * (1 + 0.134145 * x2)
        return g * (s + 2 * x * s * (1 - s) * du)
    }
}

enum SiLUForward8: Lanewise8 {
    @inline(__always) static func apply(_ x: SIMD8<Float>) -> SIMD8<Float> {
        x / (1 + VectorExp.exp(-x))
    }
}

/// silu(gate) * up, with silu's own lane formula (so `swiglu` equals `silu() * up` exactly).
enum SwiGLUForward8: Lanewise8x2 {
    @inline(__always) static func apply(_ x: SIMD8<Float>, _ u: SIMD8<Float>) -> SIMD8<Float> {
        SiLUForward8.apply(x) * u
    }
}

enum SiLUBackward8: Lanewise8x2 {
    @inline(__always) static func apply(_ x: SIMD8<Float>, _ g: SIMD8<Float>) -> SIMD8<Float> {
        let s = 1 / (1 + VectorExp.exp(-x))
        return g * (s * (1 + x * (1 - s)))
    }
}
