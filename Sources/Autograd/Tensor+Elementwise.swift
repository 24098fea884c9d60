/// Elementwise binary ops with NumPy broadcasting: add, sub, mul, div, and their
/// scalar forms. Un-broadcasting a gradient happens in one place, `sumToShape`.

@usableFromInline protocol BinaryKernel { static func apply(_ a: Float, _ b: Float) -> Float }
@usableFromInline enum AddKernel: BinaryKernel { @inline(__always) @usableFromInline static func apply(_ a: Float, _ b: Float) -> Float { a + b } }
@usableFromInline enum SubKernel: BinaryKernel { @inline(__always) @usableFromInline static func apply(_ a: Float, _ b: Float) -> Float { a - b } }
@usableFromInline enum MulKernel: BinaryKernel { @inline(__always) @usableFromInline static func apply(_ a: Float, _ b: Float) -> Float { a * b } }
@usableFromInline enum DivKernel: BinaryKernel { @inline(__always) @usableFromInline static func apply(_ a: Float, _ b: Float) -> Float { a / b } }

extension Tensor {
    /// The broadcast shape of two shapes (NumPy rules: align right, 1 stretches), or a
    /// trap naming the op and both shapes.
    static func broadcastShape(_ a: [Int], _ b: [Int], op: String) -> [Int] {
        let rank = Swift.max(a.count, b.count)
        var out = [Int](repeating: 1, count: rank)
        for i in 0..<rank {
            let da = i < rank - a.count ? 1 : a[i - (rank - a.count)]
            let db = i < rank - b.count ? 1 : b[i - (rank - b.count)]
            precondition(da == db || da == 1 || db == 1,
                         "\(op): shapes \(a) and \(b) do not broadcast (dimension \(i): \(da) vs \(db))")
            out[i] = da == 1 ? db : da
        }
        return out
    }

    /// Row-major strides of `shape` as seen from a broadcast `outShape` (0 where broadcast).
    static func broadcastStrides(_ shape: [Int], to outShape: [Int]) -> [Int] {
        let offset = outShape.count - shape.count
        var strides = [Int](repeating: 0, count: outShape.count)
        var s = 1
        for i in stride(from: shape.count - 1, through: 0, by: -1) {
            strides[i + offset] = shape[i] == 1 ? 0 : s
            s *= shape[i]
        }
        return strides
    }

    /// True when `small` (leading 1s ignored) equals the trailing dimensions of `big`:
    /// then `small` repeats with period `small.count` over `big` (bias over rows).
    static func isSuffix(_ small: [Int], of big: [Int]) -> Bool {
        var s = small[...]
        while let f = s.first, f == 1, s.count > 0 { s = s.dropFirst() }
        if s.count > big.count { return false }
        return Array(big.suffix(s.count)) == Array(s)
    }

    @inline(__always)
    static func binary<K: BinaryKernel>(_ a: Tensor, _ b: Tensor, _: K.Type, op: String) -> Tensor {
        if a.shape == b.shape {
            let out = Tensor.uninitialized(a.shape)
            let pa = a.storage.pointer, pb = b.storage.pointer, po = out.storage.pointer
            Parallel.forRanges(out.count) { r in
                for i in r { po[i] = K.apply(pa[i], pb[i]) }
            }
            return out
        }
        let shape = broadcastShape(a.shape, b.shape, op: op)
        let out = Tensor.uninitialized(shape)
        let pa = a.storage.pointer, pb = b.storage.pointer, po = out.storage.pointer
        let n = out.count
        if b.count == 1 && a.count == n {
            let s = pb[0]
            Parallel.forRanges(n) { r in for i in r { po[i] = K.apply(pa[i], s) } }
        } else if a.count == 1 && b.count == n {
            let s = pa[0]
            Parallel.forRanges(n) { r in for i in r { po[i] = K.apply(s, pb[i]) } }
        } else if a.count == n && isSuffix(b.shape, of: shape) && b.count > 0 {
            let period = b.count
            Parallel.forRanges(n / period, costPerElement: period) { rows in
                for row in rows {
                    let base = row * period
                    for j in 0..<period { po[base + j] = K.apply(pa[base + j], pb[j]) }
                }
            }
        } else if b.count == n && isSuffix(a.shape, of: shape) && a.count > 0 {
            let period = a.count
            Parallel.forRanges(n / period, costPerElement: period) { rows in
                for row in rows {
                    let base = row * period
                    for j in 0..<period { po[base + j] = K.apply(pa[j], pb[base + j]) }
                }
            }
        } else if n > 0 {
            // General broadcast: walk output rows (all but the last dimension) with an odometer.
            let sa = broadcastStrides(a.shape, to: shape)
            let sb = broadcastStrides(b.shape, to: shape)
            let rank = shape.count
            let inner = shape[rank - 1]
            let ia = sa[rank - 1], ib = sb[rank - 1]
            var index = [Int](repeating: 0, count: rank)
            var oa = 0, ob = 0
            for row in 0..<(n / inner) {
                let base = row * inner
                for j in 0..<inner { po[base + j] = K.apply(pa[oa + j * ia], pb[ob + j * ib]) }
                var d = rank - 2
                while d >= 0 {
                    index[d] += 1
                    oa += sa[d]; ob += sb[d]
                    if index[d] < shape[d] { break }
                    oa -= sa[d] * shape[d]; ob -= sb[d] * shape[d]
                    index[d] = 0
                    d -= 1
                }
            }
        }
        return out
    }

    /// Sums this tensor down to `target`, reversing a broadcast from `target` to `shape`.
    /// Used by every broadcasting op's backward; the one place gradients are un-broadcast.
    public func sumToShape(_ target: [Int]) -> Tensor {
        if shape == target { return self }
        precondition(Tensor.elementCount(target) > 0 || count == 0, "sumToShape: \(shape) -> \(target)")
        var t = self.detached
        // Drop extra leading dimensions.
        while t.rank > target.count {
            let lead = t.shape[0]
            t = t.reshaped([lead, t.count / Swift.max(lead, 1)]).sum(axis: 0, keepDims: false).reshaped(Array(t.shape.dropFirst()))
        }
        for axis in 0..<target.count where target[axis] == 1 && t.shape[axis] != 1 {
            t = t.sum(axis: axis, keepDims: true)
        }
        precondition(t.shape == target, "sumToShape: cannot reduce \(shape) to \(target)")
        return t
    }

    /// Elementwise sum of two tensors of the same shape, without recording (used to
    /// accumulate gradients).
    func addingSameShape(_ other: Tensor) -> Tensor {
        Tensor.binary(self.detached, other.detached, AddKernel.self, op: "add")
    }

    /// `a + b`, broadcasting.
    public static func + (a: Tensor, b: Tensor) -> Tensor {
        let out = binary(a, b, AddKernel.self, op: "add")
        guard anyTracked(a, b) else { return out }
        let sa = a.shape, sb = b.shape
        return out.recorded([a, b]) { g in [g.sumToShape(sa), g.sumToShape(sb)] }
    }

    /// `a - b`, broadcasting.
    public static func - (a: Tensor, b: Tensor) -> Tensor {
        let out = binary(a, b, SubKernel.self, op: "sub")
        guard anyTracked(a, b) else { return out }
        let sa = a.shape, sb = b.shape
        return out.recorded([a, b]) { g in [g.sumToShape(sa), (-g).sumToShape(sb)] }
    }

    /// `a * b` elementwise, broadcasting.
    public static func * (a: Tensor, b: Tensor) -> Tensor {
        let out = binary(a, b, MulKernel.self, op: "mul")
        guard anyTracked(a, b) else { return out }
        let av = a.detached, bv = b.detached
        let ta = a.isTracked, tb = b.isTracked
        return out.recorded([a, b]) { g in
            [ta ? (g * bv).sumToShape(av.shape) : nil, tb ? (g * av).sumToShape(bv.shape) : nil]
        }
    }

    /// `a / b` elementwise, broadcasting.
    public static func / (a: Tensor, b: Tensor) -> Tensor {
        let out = binary(a, b, DivKernel.self, op: "div")
        guard anyTracked(a, b) else { return out }
        let av = a.detached, bv = b.detached
        let ta = a.isTracked, tb = b.isTracked
        return out.recorded([a, b]) { g in
            [ta ? (g / bv).sumToShape(av.shape) : nil,
             tb ? (-(g * av) / (bv * bv)).sumToShape(bv.shape) : nil]
        }
    }

    /// `a + s` for a scalar `s`.
    public static func + (a: Tensor, s: Float) -> Tensor { a + Tensor(s) }
    /// `s + a` for a scalar `s`.
    public static func + (s: Float, a: Tensor) -> Tensor { Tensor(s) + a }
    /// `a - s` for a scalar `s`.
    public static func - (a: Tensor, s: Float) -> Tensor { a + Tensor(-s) }
    /// `s - a` for a scalar `s`.
    public static func - (s: Float, a: Tensor) -> Tensor { Tensor(s) - a }
    /// `a * s` for a scalar `s`.
    public static func * (a: Tensor, s: Float) -> Tensor { a * Tensor(s) }
    /// `s * a` for a scalar `s`.
    public static func * (s: Float, a: Tensor) -> Tensor { Tensor(s) * a }
    /// `a / s` for a scalar `s`.
    public static func / (a: Tensor, s: Float) -> Tensor { a * Tensor(1 / s) }
    /// `s / a` for a scalar `s`.
    public static func / (s: Float, a: Tensor) -> Tensor { Tensor(s) / a }
}
