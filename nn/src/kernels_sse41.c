/* The kernels with SSE4.1 (x86-64): int8 widened to int16 (pmovsxbw), offsets added in int16 (exact: at most
 * 255 in magnitude), then pmaddwd into int32 (each pair sum at most 2 x 65,025) for the dot products, and pmullw
 * (exact: |f * (x + off)| <= 32,640) widened to int32 for the depthwise sums. pmaddubsw is not used: it saturates.
 * Compiled with -msse4.1 (nn/CMakeLists.txt); empty where GBNN_HAVE_SSE41 is not defined. */
#include "kernels.h"

#if defined(GBNN_HAVE_SSE41)
#include <smmintrin.h>

static inline __m128i load8_s16(const int8_t *p) { return _mm_cvtepi8_epi16(_mm_loadl_epi64((const __m128i *)p)); }

static void gemv_sse41(int32_t *acc, const int8_t *x, const int8_t *f, int32_t n, size_t f_stride, int32_t n_oc,
                       int32_t x_off, int32_t f_off) {
  const __m128i xo = _mm_set1_epi16((int16_t)x_off);
  const __m128i fo = _mm_set1_epi16((int16_t)f_off);
  const int32_t n8 = n & ~7;
  int32_t o = 0;
  for (; o + 4 <= n_oc; o += 4) {
    const int8_t *f0 = f + (size_t)o * f_stride;
    const int8_t *f1 = f0 + f_stride;
    const int8_t *f2 = f1 + f_stride;
    const int8_t *f3 = f2 + f_stride;
    __m128i a0 = _mm_setzero_si128(), a1 = a0, a2 = a0, a3 = a0;
    for (int32_t i = 0; i < n8; i += 8) {
      const __m128i xv = _mm_add_epi16(load8_s16(x + i), xo);
      a0 = _mm_add_epi32(a0, _mm_madd_epi16(xv, _mm_add_epi16(load8_s16(f0 + i), fo)));
      a1 = _mm_add_epi32(a1, _mm_madd_epi16(xv, _mm_add_epi16(load8_s16(f1 + i), fo)));
      a2 = _mm_add_epi32(a2, _mm_madd_epi16(xv, _mm_add_epi16(load8_s16(f2 + i), fo)));
      a3 = _mm_add_epi32(a3, _mm_madd_epi16(xv, _mm_add_epi16(load8_s16(f3 + i), fo)));
    }
    __m128i s = _mm_hadd_epi32(_mm_hadd_epi32(a0, a1), _mm_hadd_epi32(a2, a3));
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
    __m128i a0 = _mm_setzero_si128();
    for (int32_t i = 0; i < n8; i += 8) {
      const __m128i xv = _mm_add_epi16(load8_s16(x + i), xo);
      a0 = _mm_add_epi32(a0, _mm_madd_epi16(xv, _mm_add_epi16(load8_s16(f0 + i), fo)));
    }
    a0 = _mm_hadd_epi32(a0, a0);
    a0 = _mm_hadd_epi32(a0, a0);
    acc[o] += _mm_cvtsi128_si32(a0) + gbnn_dot_tail(x, f0, n8, n, x_off, f_off);
  }
}

static void dw_sse41(int32_t *acc, const int8_t *x, size_t x_ys, size_t x_xs, const int8_t *f, size_t f_ys,
                     size_t f_xs, int32_t taps_y, int32_t taps_x, int32_t n, int32_t x_off) {
  const __m128i xo = _mm_set1_epi16((int16_t)x_off);
  int32_t c = 0;
  for (; c + 8 <= n; c += 8) {
    __m128i lo = _mm_setzero_si128(), hi = lo;
    for (int32_t ty = 0; ty < taps_y; ++ty) {
      const int8_t *xr = x + (size_t)ty * x_ys + c;
      const int8_t *fr = f + (size_t)ty * f_ys + c;
      for (int32_t tx = 0; tx < taps_x; ++tx) {
        const __m128i p = _mm_mullo_epi16(_mm_add_epi16(load8_s16(xr + (size_t)tx * x_xs), xo),
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

const gbnn_kernels gbnn_kernels_sse41 = {GBNN_ISA_SSE41, gemv_sse41, dw_sse41, gbnn_requant_scalar};
#else
typedef int gbnn_kernels_sse41_not_built; /* keeps the translation unit non-empty */
#endif
