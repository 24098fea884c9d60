import Dispatch

/// Micro-benchmarks of the tensor library against raw BLAS, measured side by side.
///
/// Each case alternates the two sides (raw, ours, raw, ours, ...) so that drift on a
/// shared machine hits both alike, and reports medians. This type measures only; the
/// command line prints.
public enum OpsBenchmark {
    /// One matrix-product case: `BLAS.product` on preallocated buffers vs `Tensor.matmul`
    /// (which also allocates its result).
    public struct MatmulResult: Codable, Sendable {
        public var name: String
        public var m: Int, n: Int, k: Int
        public var transposeA: Bool, transposeB: Bool
        public var rawGflops: Double
        public var tensorGflops: Double
        /// tensor / raw throughput.
        public var ratio: Double
        /// The same product through `BLAS.product` in bf16 (`withPrecision(.bf16)`), timed in
        /// turn with the other two; nil on a CPU without AVX512_BF16.
        public var bf16Gflops: Double?
        /// bf16 / raw sgemm throughput; above 1 means bf16 is faster.
        public var bf16Ratio: Double?
    }

    /// One timed op (forward and backward where it has one).
    public struct OpResult: Codable, Sendable {
        public var name: String
        public var shape: String
        public var forwardMs: Double
        public var backwardMs: Double?
        /// Useful floating-point work per second, where it is well defined.
        public var gflops: Double?
        /// Bytes moved per second (elementwise ops), where it is well defined.
        public var gbPerSecond: Double?
    }

    /// Elementwise throughput at one size: our parallel kernel vs a plain one-thread loop.
    public struct ElementwiseResult: Codable, Sendable {
        public var op: String
        public var elements: Int
        public var serialGBs: Double
        public var tensorGBs: Double
        /// tensor / serial: about 2 on two cores when the size pays for a second thread.
        public var speedup: Double
    }

    /// Everything `instruct bench ops` reports.
    public struct Report: Codable, Sendable {
        public var threads: Int
        /// OpenBLAS's kernel family for this CPU (see `BLAS.coreName`).
        public var blasCore: String
        public var matmul: [MatmulResult]
        public var ops: [OpResult]
        public var elementwise: [ElementwiseResult]
    }

    /// Median wall time in seconds of `body`, after `warmup` untimed runs.
    public static func medianSeconds(reps: Int, warmup: Int = 1, _ body: () -> Void) -> Double {
        for _ in 0..<warmup { body() }
        var times: [Double] = []
        for _ in 0..<Swift.max(reps, 1) {
            let t0 = DispatchTime.now().uptimeNanoseconds
            body()
            times.append(Double(DispatchTime.now().uptimeNanoseconds - t0) * 1e-9)
        }
        times.sort()
        return times[times.count / 2]
    }

    /// Runs `a` and `b` once each untimed, then `reps` times alternately (a, b, a, b, ...)
    /// so that drift on a shared machine hits both alike; returns both median times.
    public static func alternating(reps: Int, _ a: () -> Void, _ b: () -> Void) -> (Double, Double) {
        a(); b()
        var ta: [Double] = [], tb: [Double] = []
        for _ in 0..<Swift.max(reps, 1) {
            ta.append(medianSeconds(reps: 1, warmup: 0, a))
            tb.append(medianSeconds(reps: 1, warmup: 0, b))
        }
        ta.sort(); tb.sort()
        return (ta[ta.count / 2], tb[tb.count / 2])
    }

    /// Runs each body once untimed, then `reps` rounds of all of them in turn; returns each
    /// one's median time (the n-way form of `alternating`).
    public static func alternating(reps: Int, _ bodies: [() -> Void]) -> [Double] {
        for body in bodies { body() }
        var times = [[Double]](repeating: [], count: bodies.count)
        for _ in 0..<Swift.max(reps, 1) {
            for (i, body) in bodies.enumerated() { times[i].append(medianSeconds(reps: 1, warmup: 0, body)) }
        }
        return times.map { t in t.sorted()[t.count / 2] }
    }

    /// Times raw sgemm, `Tensor.matmul` and (where the CPU has AVX512_BF16) the bf16 product
    /// in turn; returns the medians.
    public static func matmul(name: String, m: Int, n: Int, k: Int, transposeA: Bool = false,
                              transposeB: Bool = false, reps: Int) -> MatmulResult {
        var rng = RNG(seed: 1)
        let a = Tensor.randomUniform(transposeA ? [k, m] : [m, k], low: -1, high: 1, rng: &rng)
        let b = Tensor.randomUniform(transposeB ? [n, k] : [k, n], low: -1, high: 1, rng: &rng)
        let c = TensorStorage(uninitializedCount: m * n)
        // Raw: the same product on preallocated buffers through `BLAS.product` (split across
        // cores by us, or OpenBLAS's own threads with INSTRUCTKIT_BLAS_THREADING=openblas), so
        // the ratio is the cost of the Tensor layer alone. (Alternating with multi-threaded
        // OpenBLAS calls would leave its worker spinning on the second core during ours.)
        let raw = {
            BLAS.product(transposeA: transposeA, transposeB: transposeB, m: m, n: n, k: k,
                         a: a.storage.pointer, lda: a.shape[1], b: b.storage.pointer, ldb: b.shape[1],
                         c: c.pointer, ldc: n)
        }
        let ours = { _ = Tensor.matmul(a, b, transposeA: transposeA, transposeB: transposeB) }
        let bf16 = { BLAS.withPrecision(.bf16, raw) }
        let withBF16 = BLAS.bf16MissingFeature == nil
        let t = alternating(reps: reps, withBF16 ? [raw, ours, bf16] : [raw, ours])
        let flops = 2.0 * Double(m) * Double(n) * Double(k)
        let rg = flops / t[0] * 1e-9
        let tg = flops / t[1] * 1e-9
        let bg = withBF16 ? flops / t[2] * 1e-9 : nil
        return MatmulResult(name: name, m: m, n: n, k: k, transposeA: transposeA, transposeB: transposeB,
                            rawGflops: rg, tensorGflops: tg, ratio: tg / rg, bf16Gflops: bg, bf16Ratio: bg.map { $0 / rg })
    }

    /// Times `x + y` (same shape) with our kernel and with a plain serial loop.
    public static func elementwiseAdd(elements n: Int, reps: Int) -> ElementwiseResult {
        var rng = RNG(seed: 2)
        let x = Tensor.randomUniform([n], rng: &rng), y = Tensor.randomUniform([n], rng: &rng)
        let out = TensorStorage(uninitializedCount: n)
        let px = x.storage.pointer, py = y.storage.pointer, po = out.pointer
        let serial = { for i in 0..<n { po[i] = px[i] + py[i] } }
        let ours = { _ = x + y }
        let (sT, oT) = alternating(reps: reps, serial, ours)
        let bytes = 3.0 * 4.0 * Double(n)
        let s = bytes / sT * 1e-9
        let o = bytes / oT * 1e-9
        return ElementwiseResult(op: "add", elements: n, serialGBs: s, tensorGBs: o, speedup: o / s)
    }

    /// Times GELU (compute-bound: about 20 flops and an exp per element): our eight-lane
    /// kernel, split across cores, against a plain serial loop calling libm's tanhf.
    public static func elementwiseGELU(elements n: Int, reps: Int) -> ElementwiseResult {
        var rng = RNG(seed: 4)
        let x = Tensor.randomUniform([n], low: -3, high: 3, rng: &rng)
        let out = TensorStorage(uninitializedCount: n)
        let px = x.storage.pointer, po = out.pointer
        let serial = { for i in 0..<n { po[i] = GELUKernel.value(px[i], 0) } }
        let ours = { _ = x.gelu() }
        let (sT, oT) = alternating(reps: reps, serial, ours)
        let bytes = 2.0 * 4.0 * Double(n)
        let s = bytes / sT * 1e-9
        let o = bytes / oT * 1e-9
        return ElementwiseResult(op: "gelu", elements: n, serialGBs: s, tensorGBs: o, speedup: o / s)
    }

    /// Times the forward and backward of a differentiable function of `inputs`.
    public static func forwardBackward(name: String, shape: String, inputs: [Tensor], flops: Double? = nil,
                                       reps: Int, _ f: ([Tensor]) -> Tensor) -> OpResult {
        let plain = inputs.map { $0.detached }
        let fwd = medianSeconds(reps: reps) { _ = f(plain) }
        let both = medianSeconds(reps: reps) {
            let tracked = inputs.map { $0.trackingGradients() }
            let y = f(tracked)
            _ = gradients(of: y.sum(), wrt: tracked)
        }
        let bwd = Swift.max(both - fwd, 0)
        return OpResult(name: name, shape: shape, forwardMs: fwd * 1e3, backwardMs: bwd * 1e3,
                        gflops: flops.map { $0 / both * 1e-9 }, gbPerSecond: nil)
    }

    /// The standard set: square products 256..2048, GPT-2-small-shaped products
    /// (B*T = 2048 rows, C = 384), SmolLM2-135M-shaped ones (C = 576, MLP 1536) with their
    /// gradient products, and the fused kernels at training shapes.
    public static func run(threads: Int, quick: Bool) -> Report {
        BLAS.setThreadCount(threads)
        let reps = quick ? 3 : 7
        var mm: [MatmulResult] = []
        for s in [256, 512, 1024, 2048] {
            mm.append(matmul(name: "square \(s)", m: s, n: s, k: s, reps: s >= 2048 ? Swift.max(3, reps / 2) : reps))
        }
        let rows = 2048, c = 384
        mm.append(matmul(name: "qkv x@Wᵀ", m: rows, n: 3 * c, k: c, transposeB: true, reps: reps))
        mm.append(matmul(name: "mlp up x@Wᵀ", m: rows, n: 4 * c, k: c, transposeB: true, reps: reps))
        mm.append(matmul(name: "mlp down x@Wᵀ", m: rows, n: c, k: 4 * c, transposeB: true, reps: reps))
        mm.append(matmul(name: "lm head x@Eᵀ", m: rows, n: 8192, k: c, transposeB: true, reps: reps))
        mm.append(matmul(name: "dW = dYᵀ@X", m: 4 * c, n: c, k: rows, transposeA: true, reps: reps))
        mm.append(matmul(name: "dX = dY@W", m: rows, n: c, k: 4 * c, reps: reps))
        // SmolLM2-135M at B*T = 2048 (C = 576, MLP 1536; Llama weights stored [out, in]).
        let sc = 576, si = 1536
        mm.append(matmul(name: "smol q x@Wᵀ", m: rows, n: sc, k: sc, transposeB: true, reps: reps))
        mm.append(matmul(name: "smol up x@Wᵀ", m: rows, n: si, k: sc, transposeB: true, reps: reps))
        mm.append(matmul(name: "smol down x@Wᵀ", m: rows, n: sc, k: si, transposeB: true, reps: reps))
        mm.append(matmul(name: "smol dX up dY@W", m: rows, n: sc, k: si, reps: reps))
        mm.append(matmul(name: "smol dX down dY@W", m: rows, n: si, k: sc, reps: reps))
        mm.append(matmul(name: "smol dW up dYᵀ@X", m: si, n: sc, k: rows, transposeA: true, reps: reps))
        mm.append(matmul(name: "smol dW down dYᵀ@X", m: sc, n: si, k: rows, transposeA: true, reps: reps))

        var ops: [OpResult] = []
        ops.append(contentsOf: fusedKernelResults(reps: reps))

        var ew: [ElementwiseResult] = []
        for n in [4_096, 65_536, 1 << 20, 1 << 24] {
            ew.append(elementwiseAdd(elements: n, reps: n >= 1 << 24 ? 5 : reps * 3))
        }
        for n in [4_096, 65_536, 1 << 20] {
            ew.append(elementwiseGELU(elements: n, reps: reps * 3))
        }
        return Report(threads: threads, blasCore: BLAS.coreName, matmul: mm, ops: ops, elementwise: ew)
    }
}
