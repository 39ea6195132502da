// SSE4.1 kernels of the area mode (preprocess_area.h), bit-identical to the scalar definition: the AVX2 file's
// design at 128 bits. rowsum, per block of 16 bytes: the footprint's rows in runs of equal weight, each run's bytes
// widened (pmovzxbw) and added in 16-bit lanes (<= 128 rows: 255 * 128 fits int16), weighted once with pmaddwd
// against (w, 0) pairs, normalised with the same float32 multiply and cvtps2dq (round half to even); footprints of
// more than 48 runs, and the last < 16 bytes, use the scalar definition. finish: column sums 4 outputs at a time
// from the window tables (pmaddwd, phaddd), the float32 conversion in scalar code.
#include <smmintrin.h>

#include "preprocess_area.h"

namespace glassbridge::detail {
namespace {

constexpr int kRunMax = 128;
constexpr int kMaxRuns = 48;

struct Run {
  int first, count;
  __m128i w;  // (w, 0) in each int32 lane
};

bool make_runs(const int16_t* w, int nrows, Run* runs, int& nruns) {
  nruns = 0;
  for (int i = 0; i < nrows;) {
    int j = i + 1;
    while (j < nrows && j - i < kRunMax && w[j] == w[i]) ++j;
    if (nruns == kMaxRuns) return false;
    runs[nruns++] = Run{i, j - i, _mm_set1_epi32(static_cast<uint16_t>(w[i]))};
    i = j;
  }
  return true;
}

inline __m128i widen8(const uint8_t* p) {
  return _mm_cvtepu8_epi16(_mm_loadl_epi64(reinterpret_cast<const __m128i*>(p)));
}
inline __m128i loadu(const void* p) { return _mm_loadu_si128(static_cast<const __m128i*>(p)); }

inline __m128i normalise(__m128i lo, __m128i hi, __m128 f) {
  const __m128i a = _mm_cvtps_epi32(_mm_mul_ps(_mm_cvtepi32_ps(lo), f));
  const __m128i b = _mm_cvtps_epi32(_mm_mul_ps(_mm_cvtepi32_ps(hi), f));
  return _mm_packs_epi32(a, b);
}

}  // namespace

void area_rowsum_sse41(const uint8_t* const* rows, const int16_t* w, int nrows, int n, float fy, int16_t* m,
                       int32_t* col) {
  Run runs[kMaxRuns];
  int nruns = 0;
  if (!make_runs(w, nrows, runs, nruns)) {
    area_rowsum_ref(rows, w, nrows, n, fy, m, col);
    return;
  }
  const __m128 f = _mm_set1_ps(fy);
  const __m128i z = _mm_setzero_si128();
  int k = 0;
  for (; k + 16 <= n; k += 16) {
    __m128i a0 = z, a1 = z, a2 = z, a3 = z;
    for (int r = 0; r < nruns; ++r) {
      const Run& run = runs[r];
      const uint8_t* const* rp = rows + run.first;
      __m128i s0 = widen8(rp[0] + k), s1 = widen8(rp[0] + k + 8);
      for (int i = 1; i < run.count; ++i) {
        s0 = _mm_add_epi16(s0, widen8(rp[i] + k));
        s1 = _mm_add_epi16(s1, widen8(rp[i] + k + 8));
      }
      a0 = _mm_add_epi32(a0, _mm_madd_epi16(_mm_unpacklo_epi16(s0, z), run.w));
      a1 = _mm_add_epi32(a1, _mm_madd_epi16(_mm_unpackhi_epi16(s0, z), run.w));
      a2 = _mm_add_epi32(a2, _mm_madd_epi16(_mm_unpacklo_epi16(s1, z), run.w));
      a3 = _mm_add_epi32(a3, _mm_madd_epi16(_mm_unpackhi_epi16(s1, z), run.w));
    }
    _mm_storeu_si128(reinterpret_cast<__m128i*>(m + k), normalise(a0, a1, f));
    _mm_storeu_si128(reinterpret_cast<__m128i*>(m + k + 8), normalise(a2, a3, f));
  }
  if (k < n) area_rowsum_ref_tail(rows, w, nrows, k, n, fy, m, col);
}

void area_finish_sse41(const AreaPlan& p, int16_t* const* m, int32_t* const* t, uint8_t* out) {
  const int dw = p.dst.width;
  for (int c = 0; c < p.nch; ++c) {
    const AreaChannel& ch = p.ch[c];
    const int16_t* mp = m[ch.plane];
    int d = 0;
    if (ch.window >= 0) {
      const AreaWindow& wt = p.windows[ch.window];
      for (; d + 4 <= dw; d += 4) {
        __m128i acc[4];
        for (int k = 0; k < 4; ++k) {
          const int16_t* src = mp + ch.base[d + k];
          const int16_t* wd = wt.w.data() + static_cast<size_t>(d + k) * wt.win;
          __m128i a = _mm_setzero_si128();
          for (int i = 0; i < wt.win; i += 8) a = _mm_add_epi32(a, _mm_madd_epi16(loadu(src + i), loadu(wd + i)));
          acc[k] = a;
        }
        const __m128i s = _mm_hadd_epi32(_mm_hadd_epi32(acc[0], acc[1]), _mm_hadd_epi32(acc[2], acc[3]));
        _mm_storeu_si128(reinterpret_cast<__m128i*>(t[c] + d), s);
      }
    }
    if (d < dw) area_colsum_ref(p, c, mp, d, dw, t[c]);
  }
  area_convert_ref(p, t, 0, dw, out);
}

}  // namespace glassbridge::detail
