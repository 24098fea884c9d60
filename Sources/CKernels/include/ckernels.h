#ifndef INSTRUCTKIT_CKERNELS_H
#define INSTRUCTKIT_CKERNELS_H

/// Kernels written with x86 intrinsics where Swift's generic SIMD conversions (int8 -> int32
/// -> float) compile to out-of-line per-element loops. Each function is compiled for AVX2,
/// FMA and F16C by a target attribute, so the rest of the build keeps its own flags; call
/// one only when `instructkit_q8_0_kernels_available()` is 1 (Autograd falls back to Swift).

/// 1 when this CPU has AVX2, FMA and F16C (what the Q8_0 kernels below use), else 0.
int instructkit_q8_0_kernels_available(void);

/// y[r * ldy + j] = sum_i w[j, i] x[r, i] for j in [row_lo, row_hi) and r < n, where `w` is
/// a Q8_0 matrix (blocks of 34 bytes: a half-precision scale, then 32 int8 values) with `k`
/// columns (a multiple of 32) and `x` is n rows of k floats. Input rows go four at a time,
/// so each weight block is decoded once per four rows. Every output is summed in the same
/// order whatever n is: per block, s = q0*x0 + q1*x1 + q2*x2 + q3*x3 over eight lanes, then
/// acc += s * d, then the eight lanes of acc are added pairwise.
void instructkit_q8_0_stream(const void *w, const float *x, float *y,
                             long row_lo, long row_hi, long k, long n, long ldy);

/// out[(r - row_lo) * k + i] = the weight w[r, i] for r in [row_lo, row_hi).
void instructkit_q8_0_dequantize_rows(const void *w, long row_lo, long row_hi, long k, float *out);

#endif
