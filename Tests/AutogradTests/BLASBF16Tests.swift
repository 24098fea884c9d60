import Foundation
import XCTest
import Autograd
import TestSupport

/// The bf16 product (Sources/CKernels through `BLAS.gemmBF16` and `BLAS.product`) against a
/// float64 loop over the same bf16-rounded operands, and the rounding itself against
/// hand-computed bit patterns.
final class BLASBF16Tests: XCTestCase {
    // Every test here runs on AVX512_BF16 CPUs (the Zen 4 these were written on) and skips
    // elsewhere, since the kernel cannot run there; TrainerPrecisionTests checks the error
    // such a CPU gives instead.
    func requireBF16() throws {
        if let missing = BLAS.bf16MissingFeature {
            throw XCTSkip("skipped: this CPU lacks \(missing), which the bf16 product needs (AVX512_BF16 CPUs: Intel Cooper Lake, Sapphire Rapids and later; AMD Zen 4 and later)")
        }
    }

    // MARK: - Rounding

    func test_bf16Round_handComputedCases_roundToNearestTiesToEven() {
        // 1 + 2^-8 is half a bf16 ulp above 1 (7 stored mantissa bits): a tie, to the even 1.
        XCTAssertEqual(BLAS.bf16Bits(1), 0x3F80)
        XCTAssertEqual(BLAS.bf16Bits(1 + 0x1p-8), 0x3F80)
        // 1 + 3 * 2^-8 lies half-way between 1 + 2^-7 (odd, 0x3F81) and 1 + 2^-6 (even, 0x3F82).
        XCTAssertEqual(BLAS.bf16Bits(1 + 3 * 0x1p-8), 0x3F82)
        // Just above a tie rounds up, just below rounds down.
        XCTAssertEqual(BLAS.bf16Bits(Float(bitPattern: 0x3F80_8001)), 0x3F81)
        XCTAssertEqual(BLAS.bf16Bits(Float(bitPattern: 0x3F81_7FFF)), 0x3F81)
        XCTAssertEqual(BLAS.bf16Bits(Float(bitPattern: 0x3F81_8000)), 0x3F82)  // tie, odd 0x3F81 -> even
        XCTAssertEqual(BLAS.bf16Bits(-2.5), 0xC020)
        XCTAssertEqual(BLAS.bf16Bits(0), 0x0000)
        XCTAssertEqual(BLAS.bf16Bits(-0.0), 0x8000)
        // pi = 0x40490FDB -> 0x4049 (the dropped 0x0FDB is below half).
        XCTAssertEqual(BLAS.bf16Bits(Float.pi), 0x4049)
        XCTAssertEqual(BLAS.bf16Rounded(Float.pi), 3.140625)
        // A carry through the mantissa into the exponent: 0x3FFF_FFFF (just under 2) -> 2.
        XCTAssertEqual(BLAS.bf16Bits(Float(bitPattern: 0x3FFF_FFFF)), 0x4000)
        // Subnormals round like any value (the products then read them as zero).
        XCTAssertEqual(BLAS.bf16Bits(Float(bitPattern: 0x0000_8001)), 0x0001)
    }

    func test_bf16Round_infinitiesNaNAndOverflow_keepTheirClass() {
        XCTAssertEqual(BLAS.bf16Bits(.infinity), 0x7F80)
        XCTAssertEqual(BLAS.bf16Bits(-.infinity), 0xFF80)
        // The largest float is past bfloat16's largest (0x7F7F) by more than half an ulp: infinity.
        XCTAssertEqual(BLAS.bf16Bits(.greatestFiniteMagnitude), 0x7F80)
        XCTAssertEqual(BLAS.bf16Bits(Float(bitPattern: 0x7F7F_7FFF)), 0x7F7F)
        // NaNs stay NaN (quiet, sign kept), even those whose payload would carry into infinity.
        XCTAssertEqual(BLAS.bf16Bits(.nan), 0x7FC0)
        XCTAssertEqual(BLAS.bf16Bits(Float(bitPattern: 0xFFC0_0000)), 0xFFC0)
        XCTAssertEqual(BLAS.bf16Bits(Float(bitPattern: 0x7F80_0001)), 0x7FC0)  // signalling, low payload
        XCTAssertEqual(BLAS.bf16Bits(Float(bitPattern: 0x7FFF_FFFF)), 0x7FFF)
        XCTAssertTrue(BLAS.bf16Rounded(.nan).isNaN)
    }

    // MARK: - The product

    /// op(A) op(B) with stored shapes, leading dimensions `pad` wider than the rows, in bf16,
    /// against a float64 loop over the bf16-rounded operands. The bound is float32
    /// summation error: (K + 4) * 2^-23 * (|alpha| sum |a b| + |beta c|).
    func checkProduct(ta: Bool, tb: Bool, m: Int, n: Int, k: Int, alpha: Float = 1, beta: Float = 0, pad: Int = 0,
                      split: Bool = false, file: StaticString = #filePath, line: UInt = #line) {
        var rng = RNG(seed: UInt64(m * 7919 + n * 104729 + k * 31 + (ta ? 1 : 0) + (tb ? 2 : 0)))
        let (ra, ca) = ta ? (k, m) : (m, k), (rb, cb) = tb ? (n, k) : (k, n)
        let lda = ca + pad, ldb = cb + pad, ldc = n + pad
        let a = (0..<(ra * lda)).map { _ in rng.nextFloat() * 2 - 1 }
        let b = (0..<(rb * ldb)).map { _ in rng.nextFloat() * 2 - 1 }
        let c0 = (0..<(m * ldc)).map { _ in rng.nextFloat() * 2 - 1 }
        var c = c0
        a.withUnsafeBufferPointer { pa in
            b.withUnsafeBufferPointer { pb in
                c.withUnsafeMutableBufferPointer { pc in
                    if split {
                        BLAS.withPrecision(.bf16) {
                            BLAS.product(transposeA: ta, transposeB: tb, m: m, n: n, k: k, alpha: alpha, a: pa.baseAddress!, lda: lda,
                                         b: pb.baseAddress!, ldb: ldb, beta: beta, c: pc.baseAddress!, ldc: ldc)
                        }
                    } else {
                        BLAS.gemmBF16(transposeA: ta, transposeB: tb, m: m, n: n, k: k, alpha: alpha, a: pa.baseAddress!, lda: lda,
                                      b: pb.baseAddress!, ldb: ldb, beta: beta, c: pc.baseAddress!, ldc: ldc)
                    }
                }
            }
        }
        var worst = 0.0, failures = 0
        for i in 0..<m {
            for j in 0..<n {
                var sum = 0.0, magnitude = 0.0
                for p in 0..<k {
                    let x = Double(BLAS.bf16Rounded(ta ? a[p * lda + i] : a[i * lda + p]))
                    let y = Double(BLAS.bf16Rounded(tb ? b[j * ldb + p] : b[p * ldb + j]))
                    sum += x * y
                    magnitude += abs(x * y)
                }
                let old = Double(c0[i * ldc + j])
                let expected = Double(alpha) * sum + (beta == 0 ? 0 : Double(beta) * old)
                let bound = Double(k + 4) * 0x1p-23 * (Double(abs(alpha)) * magnitude + abs(Double(beta) * old)) + 1e-30
                let error = abs(Double(c[i * ldc + j]) - expected)
                worst = max(worst, error / bound)
                if error > bound { failures += 1 }
            }
            for j in n..<ldc where c[i * ldc + j] != c0[i * ldc + j] {
                XCTFail("column \(j) of row \(i) lies past N = \(n) in the leading dimension and was written", file: file, line: line)
            }
        }
        XCTAssertEqual(failures, 0, "bf16 product ta \(ta) tb \(tb) \(m)x\(n)x\(k) alpha \(alpha) beta \(beta) pad \(pad): "
                       + "\(failures) of \(m * n) elements past the float32 summation bound (worst \(worst) x the bound)",
                       file: file, line: line)
    }

    func test_gemmBF16_allTransposes_oddSizesMatchFloat64OnRoundedInputs() throws {
        try requireBF16()
        for ta in [false, true] {
            for tb in [false, true] {
                checkProduct(ta: ta, tb: tb, m: 1, n: 1, k: 1)
                // Not multiples of the 8 x 48 tile, of 16-lane vectors or of K pairs.
                checkProduct(ta: ta, tb: tb, m: 13, n: 53, k: 37)
                // Several K blocks (K > 256, unequal last block), several row blocks (M > 192).
                checkProduct(ta: ta, tb: tb, m: 203, n: 97, k: 531)
                // Several column blocks (N > 1536) with a short K.
                checkProduct(ta: ta, tb: tb, m: 9, n: 1601, k: 7)
            }
        }
    }

    func test_gemmBF16_alphaBetaAndWideLeadingDimensions_matchFloat64() throws {
        try requireBF16()
        for ta in [false, true] {
            for tb in [false, true] {
                checkProduct(ta: ta, tb: tb, m: 17, n: 50, k: 300, alpha: 0.5, beta: 0.25, pad: 5)
                checkProduct(ta: ta, tb: tb, m: 8, n: 48, k: 257, alpha: -2, beta: 1, pad: 3)
                checkProduct(ta: ta, tb: tb, m: 31, n: 33, k: 64, alpha: 1, beta: 0, pad: 16)
            }
        }
    }

    func test_product_inBF16Scope_splitAcrossCoresMatchesFloat64() throws {
        try requireBF16()
        let before = BLAS.productThreads
        BLAS.setThreadCount(2)
        defer { BLAS.setThreadCount(before) }
        for ta in [false, true] {
            for tb in [false, true] {
                checkProduct(ta: ta, tb: tb, m: 160, n: 200, k: 96, alpha: 1, beta: 1, pad: 2, split: true)
            }
        }
    }

    /// With beta = 0, C is not read: NaNs already in C do not reach the result.
    func test_gemmBF16_betaZero_ignoresNaNInC() throws {
        try requireBF16()
        let a = [Float](repeating: 1, count: 4 * 3), b = [Float](repeating: 2, count: 3 * 5)
        var c = [Float](repeating: .nan, count: 4 * 5)
        BLAS.gemmBF16(transposeA: false, transposeB: false, m: 4, n: 5, k: 3, a: a, lda: 3, b: b, ldb: 5, c: &c, ldc: 5)
        XCTAssertEqual(c, [Float](repeating: 6, count: 20))
    }

    /// bf16 is chosen per scope: the same product differs from float32 inside
    /// `withPrecision(.bf16)` (operands rounded) and equals it again outside.
    func test_matmul_precisionScope_roundsOnlyInside() throws {
        try requireBF16()
        var rng = RNG(seed: 9)
        let a = Tensor.randomUniform([64, 96], low: -1, high: 1, rng: &rng)
        let b = Tensor.randomUniform([96, 80], low: -1, high: 1, rng: &rng)
        let f32 = Tensor.matmul(a, b)
        let bf = BLAS.withPrecision(.bf16) { Tensor.matmul(a, b) }
        XCTAssertEqual(BLAS.precision, .float32)
        XCTAssertNotEqual(f32.scalars, bf.scalars)
        XCTAssertEqual(Tensor.matmul(a, b).scalars, f32.scalars)
        assertClose(bf, f32, atol: 0.1, rtol: 0.02, "bf16 vs float32 product")
        // Thin products (a dimension below bf16MinimumDimension) stay float32 even in scope.
        let thin = Tensor.randomUniform([96, 8], low: -1, high: 1, rng: &rng)
        XCTAssertEqual(BLAS.withPrecision(.bf16) { Tensor.matmul(a, thin) }.scalars, Tensor.matmul(a, thin).scalars)
    }
}
