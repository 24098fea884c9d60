// Q8_0 (llama.cpp's block_q8_0) products for batch-1 decoding. See include/ckernels.h.
#include "ckernels.h"

#include <string.h>

#if defined(__x86_64__)
#include <immintrin.h>

#define KERNEL __attribute__((target("avx2,fma,f16c")))

int instructkit_q8_0_kernels_available(void) {
    __builtin_cpu_init();
    return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma") && __builtin_cpu_supports("f16c");
}

enum { BLOCK = 32, BLOCK_BYTES = 34 };

static inline KERNEL float scale_of(const unsigned char *block) {
    unsigned short h;
    memcpy(&h, block, 2);
    return _cvtsh_ss(h);
}

/// The c-th eight int8 values of a block as floats.
static inline KERNEL __m256 quarter(const unsigned char *block, int c) {
    __m128i bytes = _mm_loadl_epi64((const __m128i *)(block + 2 + 8 * c));
    return _mm256_cvtepi32_ps(_mm256_cvtepi8_epi32(bytes));
}

/// (((l0 + l4) + (l2 + l6)) + ((l1 + l5) + (l3 + l7))): one fixed order for every caller.
static inline KERNEL float lanes_sum(__m256 v) {
    __m128 lo = _mm256_castps256_ps128(v), hi = _mm256_extractf128_ps(v, 1);
    __m128 s = _mm_add_ps(lo, hi);
    s = _mm_add_ps(s, _mm_movehl_ps(s, s));
    s = _mm_add_ss(s, _mm_movehdup_ps(s));
    return _mm_cvtss_f32(s);
}

/// `g` (1...4, a constant after inlining) input rows against weight rows [lo, hi).
static inline __attribute__((always_inline)) KERNEL void
stream_group(const unsigned char *w, const float *x0, const float *x1, const float *x2, const float *x3,
             float *y, long lo, long hi, long k, long ldy, int g) {
    const long nb = k / BLOCK;
    const float *xs[4] = {x0, x1, x2, x3};
    for (long j = lo; j < hi; j++) {
        const unsigned char *row = w + j * nb * BLOCK_BYTES;
        __m256 acc[4] = {_mm256_setzero_ps(), _mm256_setzero_ps(), _mm256_setzero_ps(), _mm256_setzero_ps()};
        for (long b = 0; b < nb; b++) {
            const unsigned char *block = row + b * BLOCK_BYTES;
            if (b + 4 < nb) _mm_prefetch((const char *)(block + 4 * BLOCK_BYTES), _MM_HINT_T0);
            const __m256 d = _mm256_set1_ps(scale_of(block));
            const __m256 q0 = quarter(block, 0), q1 = quarter(block, 1), q2 = quarter(block, 2), q3 = quarter(block, 3);
            for (int r = 0; r < g; r++) {
                const float *xb = xs[r] + b * BLOCK;
                __m256 s = _mm256_mul_ps(q0, _mm256_loadu_ps(xb));
                s = _mm256_fmadd_ps(q1, _mm256_loadu_ps(xb + 8), s);
                s = _mm256_fmadd_ps(q2, _mm256_loadu_ps(xb + 16), s);
                s = _mm256_fmadd_ps(q3, _mm256_loadu_ps(xb + 24), s);
                acc[r] = _mm256_fmadd_ps(s, d, acc[r]);
            }
        }
        for (int r = 0; r < g; r++) y[r * ldy + j] = lanes_sum(acc[r]);
    }
}

KERNEL void instructkit_q8_0_stream(const void *w, const float *x, float *y,
                                    long row_lo, long row_hi, long k, long n, long ldy) {
    const unsigned char *wb = (const unsigned char *)w;
    for (long r0 = 0; r0 < n; r0 += 4) {
        const long g = n - r0 < 4 ? n - r0 : 4;
        const float *x0 = x + r0 * k;
        float *yr = y + r0 * ldy;
        switch (g) {
        case 1: stream_group(wb, x0, x0, x0, x0, yr, row_lo, row_hi, k, ldy, 1); break;
        case 2: stream_group(wb, x0, x0 + k, x0, x0, yr, row_lo, row_hi, k, ldy, 2); break;
        case 3: stream_group(wb, x0, x0 + k, x0 + 2 * k, x0, yr, row_lo, row_hi, k, ldy, 3); break;
        default: stream_group(wb, x0, x0 + k, x0 + 2 * k, x0 + 3 * k, yr, row_lo, row_hi, k, ldy, 4); break;
        }
    }
}

KERNEL void instructkit_q8_0_dequantize_rows(const void *w, long row_lo, long row_hi, long k, float *out) {
    const unsigned char *wb = (const unsigned char *)w;
    const long nb = k / BLOCK;
    for (long r = row_lo; r < row_hi; r++) {
        float *o = out + (r - row_lo) * k;
        for (long b = 0; b < nb; b++) {
            const unsigned char *block = wb + (r * nb + b) * BLOCK_BYTES;
            const __m256 d = _mm256_set1_ps(scale_of(block));
            for (int c = 0; c < 4; c++) _mm256_storeu_ps(o + b * BLOCK + 8 * c, _mm256_mul_ps(quarter(block, c), d));
        }
    }
}

#else

int instructkit_q8_0_kernels_available(void) { return 0; }
void instructkit_q8_0_stream(const void *w, const float *x, float *y, long row_lo, long row_hi, long k, long n, long ldy) {
    (void)w; (void)x; (void)y; (void)row_lo; (void)row_hi; (void)k; (void)n; (void)ldy;
    __builtin_trap();
}
void instructkit_q8_0_dequantize_rows(const void *w, long row_lo, long row_hi, long k, float *out) {
    (void)w; (void)row_lo; (void)row_hi; (void)k; (void)out;
    __builtin_trap();
}

#endif
