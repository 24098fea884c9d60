import Foundation

/// Elementwise unary ops: neg, exp, log, sqrt, tanh, pow, GELU (tanh form), SiLU, ReLU.
/// Each is one kernel type holding its forward value and its derivative side by side;
/// the backward pass is one fused loop computing `g * f'(x)` from the saved input and output.
@usableFromInline protocol UnaryKernel {
    /// f(x)
    static func value(_ x: Float, _ p: Float) -> Float
    /// f'(x), given x and y = f(x) (whichever is cheaper to use).
    static func derivative(_ x: Float, _ y: Float, _ p: Float) -> Float
}

@usableFromInline enum NegKernel: UnaryKernel {
    @inline(__always) @usableFromInline static func value(_ x: Float, _ p: Float) -> Float { -x }
    @inline(__always) @usableFromInline static func derivative(_ x: Float, _ y: Float, _ p: Float) -> Float { -1 }
}
@usableFromInline enum ExpKernel: UnaryKernel {
    @inline(__always) @usableFromInline static func value(_ x: Float, _ p: Float) -> Float { Foundation.exp(x) }
    @inline(__always) @usableFromInline static func derivative(_ x: Float, _ y: Float, _ p: Float) -> Float { y }
}
@usableFromInline enum LogKernel: UnaryKernel {
    @inline(__always) @usableFromInline static func value(_ x: Float, _ p: Float) -> Float { Foundation.log(x) }
    @inline(__always) @usableFromInline static func derivative(_ x: Float, _ y: Float, _ p: Float) -> Float { 1 / x }
}
@usableFromInline enum SqrtKernel: UnaryKernel {
    @inline(__always) @usableFromInline static func value(_ x: Float, _ p: Float) -> Float { x.squareRoot() }
    @inline(__always) @usableFromInline static func derivative(_ x: Float, _ y: Float, _ p: Float) -> Float { 0.5 / y }
}
@usableFromInline enum TanhKernel: UnaryKernel {
    @inline(__always) @usableFromInline static func value(_ x: Float, _ p: Float) -> Float { Foundation.tanh(x) }
    @inline(__always) @usableFromInline static func derivative(_ x: Float, _ y: Float, _ p: Float) -> Float { 1 - y * y }
}
@usableFromInline enum PowKernel: UnaryKernel {
    @inline(__always) @usableFromInline static func value(_ x: Float, _ p: Float) -> Float { Foundation.pow(x, p) }
    @inline(__always) @usableFromInline static func derivative(_ x: Float, _ y: Float, _ p: Float) -> Float {
        p == 0 ? 0 : p * Foundation.pow(x, p - 1)
    }
}
@usableFromInline enum ReLUKernel: UnaryKernel {
    @inline(__always) @usableFromInline static func value(_ x: Float, _ p: Float) -> Float { x > 0 ? x : 0 }
    @inline(__always) @usableFromInline static func derivative(_ x: Float, _ y: Float, _ p: Float) -> Float { x > 0 ? 1 : 0 }
}
/// GELU, tanh approximation (as GPT-2): 0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3))).
@usableFromInline enum GELUKernel: UnaryKernel {
    @usableFromInline static let c: Float = 0.7978845608028654  // sqrt(2/pi)
    @inline(__always) @usableFromInline static func value(_ x: Float, _ p: Float) -> Float {
        0.5 * x * (1 + Foundation.tanh(c * (x + 0.044715 * x * x * x)))
    }
    @inline(__always) @usableFromInline static func derivative(_ x: Float, _ y: Float, _ p: Float) -> Float {
        let t = Foundation.tanh(c * (x + 0.044715 * x * x * x))
        return 0.5 * (1 + t) + 0.5 * x * (1 - t * t) * c * (1 + 3 * 0.044715 * x * x)
    }
}
/// SiLU (swish): x * sigmoid(x).
@usableFromInline enum SiLUKernel: UnaryKernel {
    @inline(__always) @usableFromInline static func value(_ x: Float, _ p: Float) -> Float { x / (1 + Foundation.exp(-x)) }
    @inline(__always) @usableFromInline static func derivative(_ x: Float, _ y: Float, _ p: Float) -> Float {
        let s = 1 / (1 + Foundation.exp(-x))
        return s * (1 + x * (1 - s))
    }
}

extension Tensor {
    @inline(__always)
    func unary<K: UnaryKernel>(_: K.Type, _ p: Float = 0, cost: Int = 4) -> Tensor {
        let out = Tensor.uninitialized(shape)
        let px = storage.pointer, py = out.storage.pointer
        Parallel.forRanges(count, costPerElement: cost) { r in
            for i in r { py[i] = K.value(px[i], p) }
        }
        guard Tensor.anyTracked(self) else { return out }
        let x = self.detached, y = out
        return out.recorded([self]) { g in
            let dx = Tensor.uninitialized(x.shape)
            let pg = g.storage.pointer, px = x.storage.pointer, py = y.storage.pointer, pd = dx.storage.pointer
            Parallel.forRanges(x.count, costPerElement: cost) { r in
                for i in r { pd[i] = pg[i] * K.derivative(px[i], py[i], p) }
            }
            return [dx]
        }
    }

    /// `-x`.
    public static prefix func - (x: Tensor) -> Tensor { x.unary(NegKernel.self, cost: 1) }
    /// e^x.
    public func exp() -> Tensor { unary(ExpKernel.self) }
    /// Natural logarithm (NaN or -inf for non-positive inputs, as in IEEE arithmetic).
    public func log() -> Tensor { unary(LogKernel.self) }
    /// Square root.
    public func sqrt() -> Tensor { unary(SqrtKernel.self, cost: 2) }
    /// Hyperbolic tangent.
    public func tanh() -> Tensor { unary(TanhKernel.self) }
    /// x^p for a scalar exponent p.
    public func pow(_ p: Float) -> Tensor { unary(PowKernel.self, p, cost: 8) }
    /// max(x, 0).
    public func relu() -> Tensor { unary(ReLUKernel.self, cost: 1) }
    /// GELU with libm's tanh, one element at a time: the scalar reference that the
    /// vectorised `gelu()` (Tensor+Activation.swift) is checked and benchmarked against.
    public func geluReference() -> Tensor { unary(GELUKernel.self, cost: 8) }
    /// SiLU with libm's exp: the scalar reference for `silu()`.
    public func siluReference() -> Tensor { unary(SiLUKernel.self, cost: 6) }
}
