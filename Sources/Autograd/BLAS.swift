import CBLAS
import CPUCheck
import Dispatch
import Foundation

/// The BLAS library behind matrix products (OpenBLAS on Linux, Accelerate on macOS).
public enum BLAS {
    /// How a product uses several cores.
    ///
    /// - `split` (default): OpenBLAS runs single-threaded and `product` splits a large
    ///   product into row (or column) blocks, one per core, on our own worker threads.
    ///   OpenBLAS's own pool would keep a worker spinning (sched_yield) between calls; on
    ///   two cores that spinner takes the second core from every elementwise kernel that
    ///   runs between products (profiles showed 15-20% of all samples in that spin).
    /// - `openblas`: OpenBLAS's own threads (`INSTRUCTKIT_BLAS_THREADING=openblas`), for
    ///   comparison.
    public enum Threading: String, Sendable {
        case split, openblas
    }

    /// The threading scheme, fixed at start-up from `INSTRUCTKIT_BLAS_THREADING`.
    public static let threading: Threading = {
        #if os(macOS)
        return .openblas
        #else
        let value = ProcessInfo.processInfo.environment["INSTRUCTKIT_BLAS_THREADING"] ?? "split"
        return Threading(rawValue: value) ?? .split
        #endif
    }()

    /// Threads one `product` call may use (the number given to `setThreadCount`).
    public private(set) static var productThreads = 1

    /// Sets how many threads one product uses. The command line sets this once from the
    /// recipe or `--threads`; results of a product may differ in the last bits between
    /// thread counts, never between runs with the same count.
    public static func setThreadCount(_ n: Int) {
        precondition(n >= 1, "BLAS.setThreadCount needs at least 1 thread, got \(n)")
        productThreads = n
        #if !os(macOS)
        openblas_set_num_threads(Int32(threading == .split ? 1 : n))
        #endif
    }

    /// Runs `body` with OpenBLAS itself using `n` threads (raw-BLAS baselines in
    /// benchmarks), then restores the setting.
    public static func withLibraryThreads<R>(_ n: Int, _ body: () throws -> R) rethrows -> R {
        #if os(macOS)
        return try body()
        #else
        let before = openblas_get_num_threads()
        openblas_set_num_threads(Int32(n))
        defer { openblas_set_num_threads(before) }
        return try body()
        #endif
    }

    /// Multiply-adds below which a product stays on one thread (~20 µs of work; handing a
    /// block to another core costs a few µs).
    public static let minimumSplitWork = 1 << 20

    /// `sgemm` on `productThreads` cores: in `split` mode a large product is cut into
    /// blocks of rows or of columns of C (whichever packs less twice), each one single-threaded
    /// sgemm on its own core. Every element of C is computed by one call with the same K
    /// loop whatever the split, and the split depends only on the shapes and the thread
    /// count, so results are the same from run to run. Inside `withPrecision(.bf16)` a
    /// product whose M, N and K are all at least `bf16MinimumDimension` runs `gemmBF16`
    /// instead (split the same way, whatever the threading scheme).
    public static func product(transposeA: Bool, transposeB: Bool, m: Int, n: Int, k: Int,
                               alpha: Float = 1,
                               a: UnsafePointer<Float>, lda: Int,
                               b: UnsafePointer<Float>, ldb: Int,
                               beta: Float = 0,
                               c: UnsafeMutablePointer<Float>, ldc: Int) {
        let parts = productThreads
        let bf16 = precision == .bf16 && Swift.min(m, n, k) >= bf16MinimumDimension
        func gemm(transposeA: Bool, transposeB: Bool, m: Int, n: Int, k: Int, alpha: Float,
                  a: UnsafePointer<Float>, lda: Int, b: UnsafePointer<Float>, ldb: Int,
                  beta: Float, c: UnsafeMutablePointer<Float>, ldc: Int) {
            if bf16 {
                gemmBF16(transposeA: transposeA, transposeB: transposeB, m: m, n: n, k: k, alpha: alpha,
                         a: a, lda: lda, b: b, ldb: ldb, beta: beta, c: c, ldc: ldc)
            } else {
                sgemm(transposeA: transposeA, transposeB: transposeB, m: m, n: n, k: k, alpha: alpha,
                      a: a, lda: lda, b: b, ldb: ldb, beta: beta, c: c, ldc: ldc)
            }
        }
        // Each block packs its share of one operand and all of the other, so the other is
        // packed once per block: split so that the duplicated operand is the smaller one
        // (rows of C duplicate B's packing, K x N; columns duplicate A's, M x K).
        let rowsPossible = m >= 32 * parts, columnsPossible = n >= 32 * parts
        let alongRows = rowsPossible && (!columnsPossible || k * n <= m * k)
        let extent = alongRows ? m : n
        guard threading == .split || bf16, parts > 1, m * n * k >= minimumSplitWork, extent >= 16 * parts else {
            gemm(transposeA: transposeA, transposeB: transposeB, m: m, n: n, k: k, alpha: alpha,
                 a: a, lda: lda, b: b, ldb: ldb, beta: beta, c: c, ldc: ldc)
            return
        }
        // Block edges on multiples of 16 (the AVX-512 kernel's row unroll).
        let per = ((extent + parts - 1) / parts + 15) / 16 * 16
        let blocks = (extent + per - 1) / per
        DispatchQueue.concurrentPerform(iterations: blocks) { i in
            let lo = i * per, len = Swift.min(extent, lo + per) - lo
            // A block of rows of C starts `lo` rows into op(A); a block of columns, `lo`
            // columns into op(B). A transposed operand stores those as columns / rows.
            let blockA = !alongRows ? a : (transposeA ? a + lo : a + lo * lda)
            let blockB = alongRows ? b : (transposeB ? b + lo * ldb : b + lo)
            gemm(transposeA: transposeA, transposeB: transposeB, m: alongRows ? len : m, n: alongRows ? n : len,
                 k: k, alpha: alpha, a: blockA, lda: lda, b: blockB, ldb: ldb, beta: beta,
                 c: alongRows ? c + lo * ldc : c + lo, ldc: ldc)
        }
    }

    /// True when this CPU runs the instruction set the numeric targets were compiled for
    /// (checked before main as well, by CPUCheck's constructor).
    public static var cpuSupported: Bool { instructkit_cpu_supported() != 0 }

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

    /// The number of threads OpenBLAS itself uses for one call (1 in `split` mode).
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
