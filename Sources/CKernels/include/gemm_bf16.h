#ifndef INSTRUCTKIT_GEMM_BF16_H
#define INSTRUCTKIT_GEMM_BF16_H

#include <stdint.h>

/// The first CPU feature the bf16 product needs that this CPU (or its operating system) lacks,
/// as a name to print ("AVX512_BF16", "AVX512F", ...), or NULL when the product can run.
/// Needs AVX512F, AVX512BW, AVX512VL and AVX512_BF16 (CPUID leaf 7 subleaf 1, EAX bit 5),
/// and an OS that saves the AVX-512 registers (XCR0). Checked once; cheap to call again.
const char *instructkit_bf16_missing_feature(void);

/// `x` rounded to bfloat16 (the high 16 bits of a float32), ties to even. Infinities stay
/// infinities, a NaN stays a NaN of the same sign (made quiet), finite values above the
/// largest bfloat16 round to infinity as IEEE rounding says. Subnormals are rounded like any
/// other value (the products then count them as zero: `vdpbf16ps` reads them as zero).
uint16_t instructkit_bf16_round(float x);

/// Row-major `C = alpha * op(A) * op(B) + beta * C` with op(A) [M, K] and op(B) [K, N]:
/// both operands rounded to bfloat16 (`instructkit_bf16_round`) while they are packed, each
/// product of two bfloat16 exact in float32, and the sums accumulated in float32 by
/// `vdpbf16ps`; alpha and beta are applied in float32. With beta = 0, C is not read.
/// Leading dimensions are the row strides of the stored arrays (lda >= K, or >= M when A is
/// transposed; likewise ldb; ldc >= N). Single-threaded; callers split large products.
/// Precondition: `instructkit_bf16_missing_feature()` is NULL (otherwise the process dies of
/// an illegal instruction).
void instructkit_gemm_bf16(int transpose_a, int transpose_b, long m, long n, long k, float alpha,
                           const float *a, long lda, const float *b, long ldb, float beta, float *c,
                           long ldc);

#endif
