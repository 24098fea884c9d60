// Matrix products with bfloat16 operands and float32 accumulation, for the CPUs that have
// AVX512_BF16 (`vdpbf16ps`: 16 float32 lanes, each adding the two products of a pair of
// bfloat16 values). Debian bookworm's OpenBLAS 0.3.21 has no sbgemm, hence our own kernel.
//
// Blocking (the usual Goto/BLIS scheme): C is computed in tiles of MR x NR = 8 x 48 held in
// 24 zmm accumulators. K is cut into blocks of at most 2 * KCP = 256 values; a block of B
// (K block x NC columns) is packed once into panels of NR columns, a block of A (MC rows x
// K block) into rows of KCP pair-words, and the micro-kernel runs over every (row panel,
// column panel). Packing rounds each float to bfloat16 (ties to even) and stores two
// consecutive K values as one 32-bit "pair word" (low half: even k, high half: odd k), the
// layout `vdpbf16ps` multiplies lane by lane; an odd K block ends with a zero high half.
//
// Packed layouts, in 32-bit pair words (kcp = pairs in the K block):
//   A block: word (i, p) at i * KCP + p, for i < MC rounded up to MR (extra rows zero); the
//            fixed row stride makes the kernel's eight broadcasts immediate offsets.
//   B block: panel q (columns q*NR ..< q*NR+NR) at q * kcp * NR; word (p, j) at p * NR + j
//            (extra columns zero), so one K pair of a panel is three aligned zmm loads.
// The first K block writes C = alpha * acc + beta * C (C unread when beta = 0); later K
// blocks add alpha * acc, in float32.
#include "gemm_bf16.h"

#include <stdlib.h>
#include <string.h>

static inline uint32_t round_bits(uint32_t u) {
    // NaN: keep sign and the top of the payload, set the quiet bit (never round to infinity).
    if ((u & 0x7fffffffu) > 0x7f800000u) return (u | 0x00400000u) & 0xffff0000u;
    // Add just under half an ulp of bfloat16, plus one when the kept lowest bit is odd:
    // ties go to even. A carry into the exponent is the correct rounding up (to infinity
    // above the largest bfloat16).
    return (u + 0x7fffu + ((u >> 16) & 1u)) & 0xffff0000u;
}

uint16_t instructkit_bf16_round(float x) {
    uint32_t u;
    memcpy(&u, &x, sizeof u);
    return (uint16_t)(round_bits(u) >> 16);
}

#if defined(__x86_64__)
#include <cpuid.h>
#include <immintrin.h>
#include <pthread.h>

const char *instructkit_bf16_missing_feature(void) {
    unsigned a, b, c, d;
    if (!__get_cpuid_count(7, 0, &a, &b, &c, &d)) return "AVX512F";
    const unsigned leaf7Subleaves = a;
    if (!(b & (1u << 16))) return "AVX512F";
    if (!(b & (1u << 30))) return "AVX512BW";
    if (!(b & (1u << 31))) return "AVX512VL";
    if (leaf7Subleaves < 1) return "AVX512_BF16";
    __cpuid_count(7, 1, a, b, c, d);
    if (!(a & (1u << 5))) return "AVX512_BF16";
    // The OS must save the opmask and zmm registers: OSXSAVE, then XCR0 bits 1, 2, 5, 6, 7.
    if (!__get_cpuid(1, &a, &b, &c, &d) || !(c & (1u << 27))) return "OS support for AVX-512 registers (OSXSAVE)";
    unsigned lo, hi;
    __asm__ volatile("xgetbv" : "=a"(lo), "=d"(hi) : "c"(0));
    if ((lo & 0xe6u) != 0xe6u) return "OS support for AVX-512 registers (XCR0)";
    return NULL;
}

#define KERNEL __attribute__((target("avx512f,avx512bw,avx512vl,avx512bf16")))

// Block sizes; -DBF16_KCP=... etc. override them when timing the kernel on its own.
#ifndef BF16_KCP
#define BF16_KCP 128
#endif
#ifndef BF16_MC
#define BF16_MC 192
#endif
#ifndef BF16_NC
#define BF16_NC 1536
#endif
enum {
    MR = 8,          // rows of a C tile
    NR = 48,         // columns of a C tile: three zmm of 16 floats
    KCP = BF16_KCP,  // pair words per K block (K block <= 256): a B panel is 24 KiB, in L1
    MC = BF16_MC,    // rows of an A block: 96 KiB, in L2
    NC = BF16_NC,    // columns of a B block: 768 KiB
};

// Per-thread packing buffers, made on a thread's first product and freed when it exits.
typedef struct { uint32_t *a, *b; } Buffers;
static pthread_key_t buffersKey;
static pthread_once_t buffersOnce = PTHREAD_ONCE_INIT;
static void freeBuffers(void *p) {
    Buffers *bu = p;
    free(bu->a);
    free(bu->b);
    free(bu);
}
static void makeKey(void) { pthread_key_create(&buffersKey, freeBuffers); }
static Buffers *buffers(void) {
    pthread_once(&buffersOnce, makeKey);
    Buffers *bu = pthread_getspecific(buffersKey);
    if (bu) return bu;
    bu = malloc(sizeof *bu);
    if (bu) {
        bu->a = aligned_alloc(64, (size_t)MC * KCP * 4);
        bu->b = aligned_alloc(64, (size_t)NC * KCP * 4);
    }
    if (!bu || !bu->a || !bu->b) abort();  // < 1 MiB per thread; no caller can go on without it
    pthread_setspecific(buffersKey, bu);
    return bu;
}

static inline __mmask16 lanes(long count) {
    return count <= 0 ? 0 : count >= 16 ? (__mmask16)0xffff : (__mmask16)((1u << count) - 1);
}

// 16 floats (as bits) rounded to bfloat16, each kept in the high half of its lane.
KERNEL static inline __m512i round16(__m512i u) {
    const __m512i lsb = _mm512_and_si512(_mm512_srli_epi32(u, 16), _mm512_set1_epi32(1));
    __m512i r = _mm512_add_epi32(u, _mm512_add_epi32(lsb, _mm512_set1_epi32(0x7fff)));
    const __mmask16 nan = _mm512_cmpgt_epu32_mask(_mm512_and_si512(u, _mm512_set1_epi32(0x7fffffff)),
                                                  _mm512_set1_epi32(0x7f800000));
    r = _mm512_mask_or_epi32(r, nan, u, _mm512_set1_epi32(0x00400000));
    return _mm512_and_si512(r, _mm512_set1_epi32((int)0xffff0000u));
}

// Pair words from two vectors: `even` holds the even-k values, `odd` the odd-k ones.
KERNEL static inline __m512i pairs(__m512i even, __m512i odd) {
    return _mm512_or_si512(_mm512_srli_epi32(round16(even), 16), round16(odd));
}

// 16 pair words from up to 32 consecutive-k floats x[0 ..< count] (missing values zero).
KERNEL static inline __m512i pairsContiguous(const float *x, long count) {
    const __m512i v0 = _mm512_maskz_loadu_epi32(lanes(count), x);
    const __m512i v1 = _mm512_maskz_loadu_epi32(lanes(count - 16), x + 16);
    const __m256i h0 = _mm512_cvtepi32_epi16(_mm512_srli_epi32(round16(v0), 16));
    const __m256i h1 = _mm512_cvtepi32_epi16(_mm512_srli_epi32(round16(v1), 16));
    return _mm512_inserti64x4(_mm512_castsi256_si512(h0), h1, 1);
}

// Transposes a 16 x 16 matrix of 32-bit words held as 16 rows: 32-bit then 64-bit unpacks
// (4 x 4 blocks inside each 128-bit lane), then two rounds of 128-bit lane shuffles.
KERNEL static inline void transpose16(__m512i r[16]) {
    __m512i t[16], g[4][4];
#pragma clang loop unroll(full)
    for (int i = 0; i < 8; i++) {
        t[2 * i] = _mm512_unpacklo_epi32(r[2 * i], r[2 * i + 1]);
        t[2 * i + 1] = _mm512_unpackhi_epi32(r[2 * i], r[2 * i + 1]);
    }
    // g[q][c], lane L: column 4L + c of rows 4q ..< 4q + 4.
#pragma clang loop unroll(full)
    for (int q = 0; q < 4; q++) {
        g[q][0] = _mm512_unpacklo_epi64(t[4 * q], t[4 * q + 2]);
        g[q][1] = _mm512_unpackhi_epi64(t[4 * q], t[4 * q + 2]);
        g[q][2] = _mm512_unpacklo_epi64(t[4 * q + 1], t[4 * q + 3]);
        g[q][3] = _mm512_unpackhi_epi64(t[4 * q + 1], t[4 * q + 3]);
    }
#pragma clang loop unroll(full)
    for (int c = 0; c < 4; c++) {
        const __m512i even01 = _mm512_shuffle_i32x4(g[0][c], g[1][c], 0x88), even23 = _mm512_shuffle_i32x4(g[2][c], g[3][c], 0x88);
        const __m512i odd01 = _mm512_shuffle_i32x4(g[0][c], g[1][c], 0xdd), odd23 = _mm512_shuffle_i32x4(g[2][c], g[3][c], 0xdd);
        r[c] = _mm512_shuffle_i32x4(even01, even23, 0x88);
        r[8 + c] = _mm512_shuffle_i32x4(even01, even23, 0xdd);
        r[4 + c] = _mm512_shuffle_i32x4(odd01, odd23, 0x88);
        r[12 + c] = _mm512_shuffle_i32x4(odd01, odd23, 0xdd);
    }
}

// A block: op(A) rows [0, mc) and K values [0, kc) from `a` (already offset to the block).
KERNEL static void packA(int trans, const float *a, long lda, long mc, long kc, uint32_t *dst) {
    const long kcp = (kc + 1) / 2, rows = (mc + MR - 1) / MR * MR;
    if (!trans) {  // op(A)[i][k] = a[i * lda + k]: a row's K values are consecutive
        for (long i = 0; i < rows; i++) {
            uint32_t *d = dst + i * KCP;
            if (i >= mc) { memset(d, 0, (size_t)kcp * 4); continue; }
            for (long p = 0; p < kcp; p += 16)
                _mm512_store_si512(d + p, pairsContiguous(a + i * lda + 2 * p, kc - 2 * p));
        }
    } else {       // op(A)[i][k] = a[k * lda + i]: a K pair is two rows, words over i; 16 pairs
                   // of 16 rows are transposed so that each row's words are consecutive
        __m512i w[16];
        for (long i = 0; i < rows; i += 16) {
            const __mmask16 mk = lanes(mc - i);
            for (long p = 0; p < kcp; p += 16) {
#pragma clang loop unroll(full)
                for (int t = 0; t < 16; t++) {
                    const long pair = p + t;
                    const float *even = a + 2 * pair * lda + i;
                    w[t] = pair >= kcp ? _mm512_setzero_si512()
                         : pairs(_mm512_maskz_loadu_epi32(mk, even),
                                 2 * pair + 1 < kc ? _mm512_maskz_loadu_epi32(mk, even + lda) : _mm512_setzero_si512());
                }
                transpose16(w);
                const long n = rows - i < 16 ? rows - i : 16;
                for (long t = 0; t < n; t++) _mm512_store_si512(dst + (i + t) * KCP + p, w[t]);
            }
        }
    }
}

// B block: op(B) K values [0, kc) and columns [0, nc) from `b` (already offset to the block).
KERNEL static void packB(int trans, const float *b, long ldb, long kc, long nc, uint32_t *dst) {
    const long kcp = (kc + 1) / 2;
    for (long q = 0; q * NR < nc; q++) {
        uint32_t *panel = dst + q * kcp * NR;
        const long j0 = q * NR, width = nc - j0 < NR ? nc - j0 : NR;
        if (!trans) {  // op(B)[k][j] = b[k * ldb + j]: a K pair is two rows, 48 columns each
            for (long p = 0; p < kcp; p++) {
                const float *even = b + 2 * p * ldb + j0, *odd = even + ldb;
                const int hasOdd = 2 * p + 1 < kc;
                for (int v = 0; v < NR / 16; v++) {
                    const __mmask16 mk = lanes(width - 16 * v);
                    const __m512i w = pairs(_mm512_maskz_loadu_epi32(mk, even + 16 * v),
                                            hasOdd ? _mm512_maskz_loadu_epi32(mk, odd + 16 * v) : _mm512_setzero_si512());
                    _mm512_store_si512(panel + p * NR + 16 * v, w);
                }
            }
        } else {       // op(B)[k][j] = b[j * ldb + k]: a column's K values are consecutive; 16
                       // columns of 16 pairs are transposed so that each pair's words are consecutive
            __m512i w[16];
            for (int v = 0; v < NR / 16; v++) {
                for (long p = 0; p < kcp; p += 16) {
#pragma clang loop unroll(full)
                    for (int t = 0; t < 16; t++) {
                        const long j = 16 * v + t;
                        w[t] = j >= width ? _mm512_setzero_si512() : pairsContiguous(b + (j0 + j) * ldb + 2 * p, kc - 2 * p);
                    }
                    transpose16(w);
                    const long n = kcp - p < 16 ? kcp - p : 16;
                    for (long t = 0; t < n; t++) _mm512_store_si512(panel + (p + t) * NR + 16 * v, w[t]);
                }
            }
        }
    }
}

// One MR x NR tile of C from a packed A row panel (stride KCP) and a packed B panel; writes
// its first `mr` rows and `nr` columns. `accumulate`: C += alpha acc; else C = alpha acc + beta C.
KERNEL static void kernel(long kcp, const uint32_t *ap, const uint32_t *bp, float *c, long ldc, long mr, long nr,
                          float alpha, float beta, int accumulate) {
    __m512 acc[MR][3];
#pragma clang loop unroll(full)
    for (int r = 0; r < MR; r++) acc[r][0] = acc[r][1] = acc[r][2] = _mm512_setzero_ps();
    for (long p = 0; p < kcp; p++) {
        const __m512bh b0 = (__m512bh)_mm512_load_si512(bp);
        const __m512bh b1 = (__m512bh)_mm512_load_si512(bp + 16);
        const __m512bh b2 = (__m512bh)_mm512_load_si512(bp + 32);
        bp += NR;
#pragma clang loop unroll(full)
        for (int r = 0; r < MR; r++) {
            const __m512bh av = (__m512bh)_mm512_set1_epi32((int)ap[r * KCP + p]);
            acc[r][0] = _mm512_dpbf16_ps(acc[r][0], av, b0);
            acc[r][1] = _mm512_dpbf16_ps(acc[r][1], av, b1);
            acc[r][2] = _mm512_dpbf16_ps(acc[r][2], av, b2);
        }
    }
    const __m512 va = _mm512_set1_ps(alpha), vb = _mm512_set1_ps(beta);
#pragma clang loop unroll(full)
    for (int r = 0; r < MR; r++) {
        if (r >= mr) break;
        float *cr = c + r * ldc;
#pragma clang loop unroll(full)
        for (int v = 0; v < 3; v++) {
            const __mmask16 mk = lanes(nr - 16 * v);
            __m512 x = _mm512_mul_ps(acc[r][v], va);
            if (accumulate) x = _mm512_add_ps(x, _mm512_maskz_loadu_ps(mk, cr + 16 * v));
            else if (beta != 0) x = _mm512_fmadd_ps(vb, _mm512_maskz_loadu_ps(mk, cr + 16 * v), x);
            _mm512_mask_storeu_ps(cr + 16 * v, mk, x);
        }
    }
}

KERNEL static void gemm(int ta, int tb, long m, long n, long k, float alpha, const float *a, long lda,
                        const float *b, long ldb, float beta, float *c, long ldc) {
    Buffers *bu = buffers();
    // K blocks of equal even length (at most 2 * KCP), so no pair straddles two blocks.
    const long kBlocks = (k + 2 * KCP - 1) / (2 * KCP);
    const long kcStd = ((k + kBlocks - 1) / kBlocks + 1) & ~1L;
    for (long jc = 0; jc < n; jc += NC) {
        const long nc = n - jc < NC ? n - jc : NC;
        for (long pc = 0; pc < k; pc += kcStd) {
            const long kc = k - pc < kcStd ? k - pc : kcStd, kcp = (kc + 1) / 2;
            packB(tb, tb ? b + jc * ldb + pc : b + pc * ldb + jc, ldb, kc, nc, bu->b);
            for (long ic = 0; ic < m; ic += MC) {
                const long mc = m - ic < MC ? m - ic : MC;
                packA(ta, ta ? a + pc * lda + ic : a + ic * lda + pc, lda, mc, kc, bu->a);
                for (long jr = 0; jr < nc; jr += NR) {
                    const uint32_t *bp = bu->b + (jr / NR) * kcp * NR;
                    const long nr = nc - jr < NR ? nc - jr : NR;
                    for (long ir = 0; ir < mc; ir += MR) {
                        kernel(kcp, bu->a + ir * KCP, bp, c + (ic + ir) * ldc + jc + jr, ldc,
                               mc - ir < MR ? mc - ir : MR, nr, alpha, beta, pc > 0);
                    }
                }
            }
        }
    }
}

void instructkit_gemm_bf16(int transpose_a, int transpose_b, long m, long n, long k, float alpha,
                           const float *a, long lda, const float *b, long ldb, float beta, float *c,
                           long ldc) {
    if (m <= 0 || n <= 0) return;
    if (k <= 0) {  // no products: C = beta C (C unread when beta = 0)
        for (long i = 0; i < m; i++)
            for (long j = 0; j < n; j++) c[i * ldc + j] = beta == 0 ? 0 : beta * c[i * ldc + j];
        return;
    }
    gemm(transpose_a != 0, transpose_b != 0, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);
}

#else

const char *instructkit_bf16_missing_feature(void) { return "an x86-64 CPU with AVX512_BF16"; }

void instructkit_gemm_bf16(int transpose_a, int transpose_b, long m, long n, long k, float alpha,
                           const float *a, long lda, const float *b, long ldb, float beta, float *c,
                           long ldc) {
    (void)transpose_a; (void)transpose_b; (void)m; (void)n; (void)k; (void)alpha; (void)a; (void)lda;
    (void)b; (void)ldb; (void)beta; (void)c; (void)ldc;
    abort();  // callers check instructkit_bf16_missing_feature() first
}

#endif
