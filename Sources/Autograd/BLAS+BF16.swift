import CKernels

/// The number format of training's large matrix products.
///
/// - `float32`: every product in float32 (OpenBLAS sgemm). The default.
/// - `bf16`: operands rounded to bfloat16 (8 bits of mantissa, ties to even) as they are
///   packed, products accumulated in float32 (`vdpbf16ps`; Sources/CKernels), alpha and beta in
///   float32. Weights, gradients and optimizer state stay float32: only the inputs of each
///   product lose precision (relative error up to 2^-9 per operand). Needs AVX512_BF16
///   (Intel Cooper Lake, Sapphire Rapids and later; AMD Zen 4 and later); elsewhere asking
///   for it is an error naming the missing feature, never a silent float32 fallback.
public enum Precision: String, Codable, Sendable, CaseIterable {
    case float32
    case bf16
}

extension BLAS {
    /// The precision `product` uses in the current scope (`withPrecision`), float32 outside
    /// one. Task-local: it follows the calling thread (and task), not the process, so a bf16
    /// training step never changes the products of other work running beside it.
    static let scopedPrecision = TaskLocal<Precision>(wrappedValue: .float32)

    /// The precision of `product` calls made here (see `withPrecision`).
    public static var precision: Precision { scopedPrecision.get() }

    /// The name of the CPU feature bf16 products need that this machine lacks ("AVX512_BF16",
    /// "AVX512F", ...), or nil when it has them all (checked with cpuid and XCR0 once).
    public static let bf16MissingFeature: String? = instructkit_bf16_missing_feature().map { String(cString: $0) }

    /// Products with M, N or K below this stay float32 under bf16: the kernel's tiles are
    /// 8 x 48 and its K blocks pair values, so thin products (a LoRA adapter's rank-r
    /// factors, r <= 32 or so) would mostly pack and pad; they are a small share of a step.
    public static let bf16MinimumDimension = 64

    /// Runs `body` with `product` (hence `Tensor.matmul`, `linear` and the fused
    /// cross-entropy head) in `precision`. Attention's per-head products call `sgemm`
    /// directly and stay float32, as do products thinner than `bf16MinimumDimension`.
    /// Precondition: bf16 only where `bf16MissingFeature` is nil (callers check and report).
    public static func withPrecision<R>(_ precision: Precision, _ body: () throws -> R) rethrows -> R {
        precondition(precision == .float32 || bf16MissingFeature == nil,
                     "BLAS.withPrecision(.bf16): this CPU lacks \(bf16MissingFeature ?? "")")
        return try scopedPrecision.withValue(precision, operation: body)
    }

    /// Row-major `C = alpha * op(A) * op(B) + beta * C` with both operands rounded to
    /// bfloat16 and float32 accumulation, single-threaded; same arguments as `sgemm`.
    /// Differs from float32 sgemm by the operands' rounding (each product's relative error
    /// up to about 2^-8) plus float32 summation-order error; bit-identical from run to run.
    /// Subnormal operands (below 1.2e-38) count as zero. Precondition: `bf16MissingFeature` is nil.
    @inline(__always)
    public static func gemmBF16(transposeA: Bool, transposeB: Bool, m: Int, n: Int, k: Int,
                                alpha: Float = 1,
                                a: UnsafePointer<Float>, lda: Int,
                                b: UnsafePointer<Float>, ldb: Int,
                                beta: Float = 0,
                                c: UnsafeMutablePointer<Float>, ldc: Int) {
        instructkit_gemm_bf16(transposeA ? 1 : 0, transposeB ? 1 : 0, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc)
    }

    /// The bit pattern of `x` rounded to bfloat16: ties to even, infinities kept, NaN kept
    /// (made quiet), finite values past the largest bfloat16 to infinity.
    public static func bf16Bits(_ x: Float) -> UInt16 { instructkit_bf16_round(x) }

    /// `x` rounded to bfloat16, as a Float (exactly representable).
    public static func bf16Rounded(_ x: Float) -> Float { Float(bitPattern: UInt32(bf16Bits(x)) << 16) }
}
