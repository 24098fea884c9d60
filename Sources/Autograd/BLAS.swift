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

    /// The kernel family OpenBLAS chose for this CPU at load time ("SkylakeX", "Haswell",
    /// "Prescott" ...); "Accelerate" on macOS.
    public static var coreName: String {
        #if os(macOS)
        return "Accelerate"
        #else
        guard let p = openblas_get_corename() else { return "unknown" }
        return String(cString: p)
        #endif
    }

    /// A better OpenBLAS core type for this CPU when OpenBLAS fell back to its generic
    /// kernel, else nil.
    ///
    /// OpenBLAS 0.3.21 (Debian bookworm) does not recognise recent Xeons (the model name
    /// reads "Intel(R) Xeon(R) Processor") and falls back to "Prescott", an SSE3 kernel
    /// 3-4x slower than its AVX-512 one on the same machine. The core type can only be
    /// chosen before the library loads (environment variable `OPENBLAS_CORETYPE`), so the
    /// command line re-executes itself with it set. `cpuFlags` are /proc/cpuinfo's flags.
    public static func recommendedCoreType(current: String, cpuFlags: Set<String>) -> String? {
        guard current.lowercased() == "prescott" || current.lowercased() == "katmai"
                || current.lowercased() == "northwood" || current.lowercased() == "core2" else { return nil }
        if ["avx512f", "avx512bw", "avx512vl", "avx512dq", "avx512cd"].allSatisfy(cpuFlags.contains) { return "SkylakeX" }
        if ["avx2", "fma"].allSatisfy(cpuFlags.contains) { return "Haswell" }
        return nil
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
