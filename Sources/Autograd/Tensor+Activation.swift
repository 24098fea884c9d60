/// GELU (tanh form) and SiLU on eight lanes, with `VectorExp` instead of libm's `tanhf` /
/// `expf` (about 25 ns per call here, which made GELU the slowest elementwise op).
///
/// tanh(u) is computed as 1 - 2 / (e^(2u) + 1), exact at both saturations; its absolute
/// error is a few 1e-7 everywhere, so GELU's error is a few 1e-7 |x| (checked against the
/// Float64 formula in `ElementwiseTests`). Forward and backward are each one pass; the
/// backward recomputes tanh from the saved input instead of keeping it.

extension Tensor {
    @usableFromInline typealias V8 = SIMD8<Float>

    /// GELU, tanh form (as GPT-2). Matches `torch.nn.functional.gelu(approximate="tanh")`.
    public func gelu() -> Tensor {
        let out = Tensor.uninitialized(shape)
        Tensor.eightWide(storage.pointer, out.storage.pointer, count) { x in Tensor.geluValue(x) }
        guard Tensor.anyTracked(self) else { return out }
        let xv = self.detached
        return out.recorded([self]) { g in [Tensor.geluBackward(xv, g)] }
    }

    static func geluBackward(_ x: Tensor, _ g: Tensor) -> Tensor {
        let dx = Tensor.uninitialized(x.shape)
        Tensor.eightWide2(x.storage.pointer, g.storage.pointer, dx.storage.pointer, x.count) { x, g in
            let c: Float = 0.7978845608028654
            let x2: V8 = x * x
            let inner: V8 = c * (x + 0.044715 * x2 * x)
            let t: V8 = Tensor.tanh8(inner)
            let dInner: V8 = c * (1 + 0.134145 * x2)
            let half: V8 = 0.5 * (1 + t)
            let rest: V8 = 0.5 * x * (1 - t * t) * dInner
            return g * (half + rest)
        }
        return dx
    }

    /// SiLU: x * sigmoid(x) (Llama's MLP gate).
    public func silu() -> Tensor {
        let out = Tensor.uninitialized(shape)
        Tensor.eightWide(storage.pointer, out.storage.pointer, count) { (x: V8) -> V8 in
            let e: V8 = VectorExp.exp(-x)
            return x / (1 + e)
        }
        guard Tensor.anyTracked(self) else { return out }
        let xv = self.detached
        return out.recorded([self]) { g in [Tensor.siluBackward(xv, g)] }
    }

    static func siluBackward(_ x: Tensor, _ g: Tensor) -> Tensor {
        let dx = Tensor.uninitialized(x.shape)
        Tensor.eightWide2(x.storage.pointer, g.storage.pointer, dx.storage.pointer, x.count) { x, g in
            let e: V8 = VectorExp.exp(-x)
            let s: V8 = 1 / (1 + e)
            let d: V8 = s * (1 + x * (1 - s))
            return g * d
        }
        return dx
    }

    @inline(__always)
    static func geluValue(_ x: V8) -> V8 {
        let c: Float = 0.7978845608028654
        let inner: V8 = c * (x + 0.044715 * x * x * x)
        let t: V8 = tanh8(inner)
        return 0.5 * x * (1 + t)
    }

    @inline(__always)
    static func tanh8(_ u: V8) -> V8 {
        let e: V8 = VectorExp.exp(2 * u)
        return 1 - 2 / (e + 1)
    }

    /// dst[i] = f(src[i]) eight lanes at a time (the tail padded), split across cores by size.
    @inline(__always)
    static func eightWide(_ src: UnsafeMutablePointer<Float>, _ dst: UnsafeMutablePointer<Float>, _ n: Int,
                          _ f: (V8) -> V8) {
        let blocks = (n + 7) / 8
        Parallel.forRanges(blocks, costPerElement: 64) { r in
            for b in r {
                let i = b * 8
                if i + 8 <= n {
                    let x = UnsafeRawPointer(src + i).loadUnaligned(as: V8.self)
                    UnsafeMutableRawPointer(dst + i).storeBytes(of: f(x), as: V8.self)
                } else {
                    var x = V8(repeating: 0)
                    for j in 0..<(n - i) { x[j] = src[i + j] }
                    let y = f(x)
                    for j in 0..<(n - i) { dst[i + j] = y[j] }
                }
            }
        }
    }

    /// dst[i] = f(a[i], b[i]) eight lanes at a time.
    @inline(__always)
    static func eightWide2(_ a: UnsafeMutablePointer<Float>, _ b: UnsafeMutablePointer<Float>,
                           _ dst: UnsafeMutablePointer<Float>, _ n: Int, _ f: (V8, V8) -> V8) {
        let blocks = (n + 7) / 8
        Parallel.forRanges(blocks, costPerElement: 64) { r in
            for blk in r {
                let i = blk * 8
                if i + 8 <= n {
                    let x = UnsafeRawPointer(a + i).loadUnaligned(as: V8.self)
                    let y = UnsafeRawPointer(b + i).loadUnaligned(as: V8.self)
                    UnsafeMutableRawPointer(dst + i).storeBytes(of: f(x, y), as: V8.self)
                } else {
                    var x = V8(repeating: 0), y = V8(repeating: 0)
                    for j in 0..<(n - i) { x[j] = a[i + j]; y[j] = b[i + j] }
                    let z = f(x, y)
                    for j in 0..<(n - i) { dst[i + j] = z[j] }
                }
            }
        }
    }
}
