import CBLAS

/// The BLAS library behind matrix products (OpenBLAS on Linux, Accelerate on macOS).
public enum BLAS {
    /// Sets how many threads BLAS uses for one product. The command line sets this once
    /// from the recipe or `--threads`; results of a product may differ in the last bits
    /// between thread counts, never between runs with the same count.
    public static func setThreadCount(_ n: Int) {
        precondition(n >= 1, "BLAS.setThreadCount needs at least 1 thread, got \(n)")
        #if !os(macOS)
        openblas_set_num_threads(Int32(n))
        #endif
    }

    /// The number of threads BLAS currently uses.
    public static var threadCount: Int {
        #if os(macOS)
        return 1
        #else
        return Int(openblas_get_num_threads())
        #endif
    }

    /// Row-major `C = alpha * op(A) * op(B) + beta * C`, with `op(A)` of shape [M, K] and
    /// `op(B)` of shape [K, N]; leading dimensions are the row strides of the stored arrays.
    @inline(__always)
    public static func sgemm(transposeA: Bool, transposeB: Bool, m: Int, n: Int, k: Int,
                             alpha: Float = 1,
                             a: UnsafePointer<Float>, lda: Int,
                             b: UnsafePointer<Float>, ldb: Int,
                             beta: Float = 0,
                             c: UnsafeMutablePointer<Float>, ldc: Int) {
        cblas_sgemm(CblasRowMajor,
                    transposeA ? CblasTrans : CblasNoTrans,
                    transposeB ? CblasTrans : CblasNoTrans,
                    Int32(m), Int32(n), Int32(k), alpha, a, Int32(lda), b, Int32(ldb), beta, c, Int32(ldc))
    }
}
