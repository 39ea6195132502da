/* The kernels with AVX2 (x86-64): the SSE4.1 method (kernels_sse41.c) on 16 int16 lanes, 8-lane and scalar tails.
 * Compiled with -mavx2 (nn/CMakeLists.txt); empty where GBNN_HAVE_AVX2 is not defined. */
#include "kernels.h"

#if defined(GBNN_HAVE_AVX2)
#include <immintrin.h>

static inline __m256i load16_s16(const int8_t *p) {
  return _mm256_cvtepi8_epi16(_mm_loadu_si128((const __m128i *)p));
}
static inline __m128i load8_s16(const int8_t *p) { return _mm_cvtepi8_epi16(_mm_loadl_epi64((const __m128i *)p)); }
static inline __m128i fold(__m256i a) {
  return _mm_add_epi32(_mm256_castsi256_si128(a), _mm256_extracti128_si256(a, 1));
}

static void gemv_avx2(int32_t *acc, const int8_t *x, const int8_t *f, int32_t n, size_t f_stride, int32_t n_oc,
                      int32_t x_off, int32_t f_off) {
  const __m256i xo = _mm256_set1_epi16((int16_t)x_off);
  const __m256i fo = _mm256_set1_epi16((int16_t)f_off);
  const __m128i xo8 = _mm256_castsi256_si128(xo);
  const __m128i fo8 = _mm256_castsi256_si128(fo);
  const int32_t n16 = n & ~15;
  const int32_t n8 = n & ~7;
  int32_t o = 0;
  for (; o + 4 <= n_oc; o += 4) {
    const int8_t *f0 = f + (size_t)o * f_stride;
    const int8_t *f1 = f0 + f_stride;
    const int8_t *f2 = f1 + f_stride;
    const int8_t *f3 = f2 + f_stride;
    __m256i a0 = _mm256_setzero_si256(), a1 = a0, a2 = a0, a3 = a0;
    for (int32_t i = 0; i < n16; i += 16) {
      const __m256i xv = _mm256_add_epi16(load16_s16(x + i), xo);
      a0 = _mm256_add_epi32(a0, _mm256_madd_epi16(xv, _mm256_add_epi16(load16_s16(f0 + i), fo)));
      a1 = _mm256_add_epi32(a1, _mm256_madd_epi16(xv, _mm256_add_epi16(load16_s16(f1 + i), fo)));
      a2 = _mm256_add_epi32(a2, _mm256_madd_epi16(xv, _mm256_add_epi16(load16_s16(f2 + i), fo)));
      a3 = _mm256_add_epi32(a3, _mm256_madd_epi16(xv, _mm256_add_epi16(load16_s16(f3 + i), fo)));
    }
    __m128i b0 = fold(a0), b1 = fold(a1), b2 = fold(a2), b3 = fold(a3);
    if (n16 < n8) {
      const __m128i xv = _mm_add_epi16(load8_s16(x + n16), xo8);
      b0 = _mm_add_epi32(b0, _mm_madd_epi16(xv, _mm_add_epi16(load8_s16(f0 + n16), fo8)));
      b1 = _mm_add_epi32(b1, _mm_madd_epi16(xv, _mm_add_epi16(load8_s16(f1 + n16), fo8)));
      b2 = _mm_add_epi32(b2, _mm_madd_epi16(xv, _mm_add_epi16(load8_s16(f2 + n16), fo8)));
      b3 = _mm_add_epi32(b3, _mm_madd_epi16(xv, _mm_add_epi16(load8_s16(f3 + n16), fo8)));
    }
    __m128i s = _mm_hadd_epi32(_mm_hadd_epi32(b0, b1), _mm_hadd_epi32(b2, b3));
    s = _mm_add_epi32(s, _mm_loadu_si128((const __m128i *)(acc + o)));
    _mm_storeu_si128((__m128i *)(acc + o), s);
    if (n8 < n) {
      acc[o] += gbnn_dot_tail(x, f0, n8, n, x_off, f_off);
      acc[o + 1] += gbnn_dot_tail(x, f1, n8, n, x_off, f_off);
      acc[o + 2] += gbnn_dot_tail(x, f2, n8, n, x_off, f_off);
      acc[o + 3] += gbnn_dot_tail(x, f3, n8, n, x_off, f_off);
    }
  }
  for (; o < n_oc; ++o) {
    const int8_t *f0 = f + (size_t)o * f_stride;
    __m256i a0 = _mm256_setzero_si256();
    for (int32_t i = 0; i < n16; i += 16) {
      const __m256i xv = _mm256_add_epi16(load16_s16(x + i), xo);
      a0 = _mm256_add_epi32(a0, _mm256_madd_epi16(xv, _mm256_add_epi16(load16_s16(f0 + i), fo)));
    }
    __m128i b0 = fold(a0);
    if (n16 < n8) {
      const __m128i xv = _mm_add_epi16(load8_s16(x + n16), xo8);
      b0 = _mm_add_epi32(b0, _mm_madd_epi16(xv, _mm_add_epi16(load8_s16(f0 + n16), fo8)));
    }
    b0 = _mm_hadd_epi32(b0, b0);
    b0 = _mm_hadd_epi32(b0, b0);
    acc[o] += _mm_cvtsi128_si32(b0) + gbnn_dot_tail(x, f0, n8, n, x_off, f_off);
  }
}

static void dw_avx2(int32_t *acc, const int8_t *x, size_t x_ys, size_t x_xs, const int8_t *f, size_t f_ys,
                    size_t f_xs, int32_t taps_y, int32_t taps_x, int32_t n, int32_t x_off) {
  const __m256i xo = _mm256_set1_epi16((int16_t)x_off);
  const __m128i xo8 = _mm256_castsi256_si128(xo);
  int32_t c = 0;
  for (; c + 16 <= n; c += 16) {
    __m256i lo = _mm256_setzero_si256(), hi = lo;
    for (int32_t ty = 0; ty < taps_y; ++ty) {
      const int8_t *xr = x + (size_t)ty * x_ys + c;
      const int8_t *fr = f + (size_t)ty * f_ys + c;
      for (int32_t tx = 0; tx < taps_x; ++tx) {
        const __m256i p = _mm256_mullo_epi16(_mm256_add_epi16(load16_s16(xr + (size_t)tx * x_xs), xo),
                                             load16_s16(fr + (size_t)tx * f_xs));
        lo = _mm256_add_epi32(lo, _mm256_cvtepi16_epi32(_mm256_castsi256_si128(p)));
        hi = _mm256_add_epi32(hi, _mm256_cvtepi16_epi32(_mm256_extracti128_si256(p, 1)));
      }
    }
    _mm256_storeu_si256((__m256i *)(acc + c), lo);
    _mm256_storeu_si256((__m256i *)(acc + c + 8), hi);
  }
  for (; c + 8 <= n; c += 8) {
    __m128i lo = _mm_setzero_si128(), hi = lo;
    for (int32_t ty = 0; ty < taps_y; ++ty) {
      const int8_t *xr = x + (size_t)ty * x_ys + c;
      const int8_t *fr = f + (size_t)ty * f_ys + c;
      for (int32_t tx = 0; tx < taps_x; ++tx) {
        const __m128i p = _mm_mullo_epi16(_mm_add_epi16(load8_s16(xr + (size_t)tx * x_xs), xo8),
                                          load8_s16(fr + (size_t)tx * f_xs));
        lo = _mm_add_epi32(lo, _mm_cvtepi16_epi32(p));
        hi = _mm_add_epi32(hi, _mm_cvtepi16_epi32(_mm_srli_si128(p, 8)));
      }
    }
    _mm_storeu_si128((__m128i *)(acc + c), lo);
    _mm_storeu_si128((__m128i *)(acc + c + 4), hi);
  }
  gbnn_dw_tail(acc, x, x_ys, x_xs, f, f_ys, f_xs, taps_y, taps_x, c, n, x_off);
}

/* gbnn_requant_s8 on 8 lanes. SaturatingRoundingDoublingHighMul never saturates here (the multiplier is never
 * INT32_MIN), and its round-to-nearest-then-truncate is floor((a * b + 2^30) / 2^31) for either sign of a * b:
 * bits 31..62 of the 64-bit sum, which a logical shift gives as well as an arithmetic one. RoundingDivideByPOT
 * with a per-lane exponent: arithmetic shift (vpsravd) plus one where the remainder passes the threshold. */
static void requant_avx2(int8_t *out, const int32_t *acc, const int32_t *bias, const int32_t *mult,
                         const int32_t *shift, int32_t n, int32_t out_off, int32_t act_min, int32_t act_max) {
  const __m256i zero = _mm256_setzero_si256();
  const __m256i one = _mm256_set1_epi32(1);
  const __m256i round = _mm256_set1_epi64x((int64_t)1 << 30);
  const __m256i off = _mm256_set1_epi32(out_off);
  const __m256i lo = _mm256_set1_epi32(act_min);
  const __m256i hi = _mm256_set1_epi32(act_max);
  int32_t i = 0;
  for (; i + 8 <= n; i += 8) {
    __m256i x = _mm256_loadu_si256((const __m256i *)(acc + i));
    if (bias != NULL) {
      x = _mm256_add_epi32(x, _mm256_loadu_si256((const __m256i *)(bias + i)));
    }
    const __m256i s = _mm256_loadu_si256((const __m256i *)(shift + i));
    const __m256i m = _mm256_loadu_si256((const __m256i *)(mult + i));
    const __m256i left = _mm256_max_epi32(s, zero);
    const __m256i right = _mm256_max_epi32(_mm256_sub_epi32(zero, s), zero);
    x = _mm256_sllv_epi32(x, left);
    const __m256i pe = _mm256_srli_epi64(_mm256_add_epi64(_mm256_mul_epi32(x, m), round), 31);
    const __m256i po = _mm256_add_epi64(_mm256_mul_epi32(_mm256_srli_epi64(x, 32), _mm256_srli_epi64(m, 32)), round);
    __m256i y = _mm256_blend_epi32(pe, _mm256_slli_epi64(_mm256_srli_epi64(po, 31), 32), 0xAA);
    const __m256i mask = _mm256_sub_epi32(_mm256_sllv_epi32(one, right), one);
    const __m256i remainder = _mm256_and_si256(y, mask);
    const __m256i negative = _mm256_and_si256(_mm256_cmpgt_epi32(zero, y), one);
    const __m256i threshold = _mm256_add_epi32(_mm256_srli_epi32(mask, 1), negative);
    y = _mm256_add_epi32(_mm256_srav_epi32(y, right), _mm256_and_si256(_mm256_cmpgt_epi32(remainder, threshold), one));
    y = _mm256_min_epi32(_mm256_max_epi32(_mm256_add_epi32(y, off), lo), hi);
    const __m128i p16 = _mm_packs_epi32(_mm256_castsi256_si128(y), _mm256_extracti128_si256(y, 1));
    _mm_storel_epi64((__m128i *)(out + i), _mm_packs_epi16(p16, p16));
  }
  gbnn_requant_scalar(out + i, acc + i, bias != NULL ? bias + i : NULL, mult + i, shift + i, n - i, out_off,
                      act_min, act_max);
}

const gbnn_kernels gbnn_kernels_avx2 = {GBNN_ISA_AVX2, gemv_avx2, dw_avx2, requant_avx2};
#else
typedef int gbnn_kernels_avx2_not_built; /* keeps the translation unit non-empty */
#endif
