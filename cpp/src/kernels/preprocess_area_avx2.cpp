// AVX2 row sums of the area mode (preprocess_area.h), bit-identical to area_rowsum_ref: the int32 sums are exact
// (so any order gives the same integers) and the normalisation is the same float32 multiply and round-half-even
// conversion (cvtps2dq).
//
// Per block of 64 bytes (columns; then 32), all the footprint's rows are summed with the block's accumulators in
// registers. Rows come in runs of equal weight (all interior rows weigh 2^q; only the footprint's two boundary
// rows differ): a run's bytes are widened to int16 (vpmovzxbw) and added in 16-bit lanes (<= 128 rows: no
// overflow), then multiplied by the run's weight once with pmaddwd against (w, 0) pairs. (Footprints of more than
// 48 runs, over ~6000 rows, pair rows instead: two rows interleaved, pmaddwd with their weight pair.) The
// punpcklwd / punpckhwd put columns 0-3 | 8-11 in one accumulator and 4-7 | 12-15 in the other, which packssdw
// restores to column order. Loads never pass the span's end (the last < 32 columns run the scalar definition).
//
// finish: column sums for 8 outputs at a time from the plan's window tables (AreaWindow): per output, the window
// of row sums times its weights with pmaddwd (the zero weights drop the other channels of packed pixels), the 8
// accumulators reduced with phaddd; then the float32 conversion of those 8 outputs with the scalar's operations
// in the scalar's order (max(0, v) / min(255, v) as the scalar's comparisons, -0 included; cvtps2dq = lrint);
// float32 RGB is stored interleaved by vpermps + blends, the other outputs by the scalar loop's stores. Channels
// without a window table (footprints wider than kAreaMaxWin int16) and the last < 8 outputs use the scalar code.
#include <immintrin.h>

#include <cmath>
#include <cstring>

#include "preprocess_area.h"

namespace glassbridge::detail {
namespace {

inline __m256i widen16(const uint8_t* p) {
  return _mm256_cvtepu8_epi16(_mm_loadu_si128(reinterpret_cast<const __m128i*>(p)));
}

inline __m256i normalise(__m256i lo, __m256i hi, __m256 f) {
  const __m256i a = _mm256_cvtps_epi32(_mm256_mul_ps(_mm256_cvtepi32_ps(lo), f));
  const __m256i b = _mm256_cvtps_epi32(_mm256_mul_ps(_mm256_cvtepi32_ps(hi), f));
  return _mm256_packs_epi32(a, b);
}

}  // namespace

namespace {

// Runs of consecutive rows with equal weight (interior rows all weigh 2^q): their bytes are summed in 16-bit lanes
// (at most kRunMax rows: 255 * 128 = 32640 fits int16) and multiplied by the weight once.
constexpr int kRunMax = 128;
constexpr int kMaxRuns = 48;

struct Run {
  int first, count;
  __m256i w;  // (w, 0) in each int32 lane: pmaddwd of (sum, 0) pairs gives sum * w
};

// Splits the rows into runs; false when there are more than kMaxRuns (footprints over ~6000 rows).
bool make_runs(const int16_t* w, int nrows, Run* runs, int& nruns) {
  nruns = 0;
  for (int i = 0; i < nrows;) {
    int j = i + 1;
    while (j < nrows && j - i < kRunMax && w[j] == w[i]) ++j;
    if (nruns == kMaxRuns) return false;
    runs[nruns++] = Run{i, j - i, _mm256_set1_epi32(static_cast<uint16_t>(w[i]))};
    i = j;
  }
  return true;
}

// kHalves blocks of 32 bytes at once (64-byte blocks halve the per-row loop overhead; 32 for what is left).
template <int kHalves>
int rowsum_runs(const uint8_t* const* rows, const Run* runs, int nruns, int k, int n, __m256 f, int16_t* m) {
  const __m256i z = _mm256_setzero_si256();
  constexpr int kBytes = 32 * kHalves;
  for (; k + kBytes <= n; k += kBytes) {
    __m256i acc[4 * kHalves];
    for (auto& a : acc) a = z;
    for (int r = 0; r < nruns; ++r) {
      const Run& run = runs[r];
      const uint8_t* const* rp = rows + run.first;
      __m256i sum[2 * kHalves];
      for (int h = 0; h < 2 * kHalves; ++h) sum[h] = widen16(rp[0] + k + 16 * h);
      for (int i = 1; i < run.count; ++i) {
        const uint8_t* row = rp[i] + k;
        for (int h = 0; h < 2 * kHalves; ++h) sum[h] = _mm256_add_epi16(sum[h], widen16(row + 16 * h));
      }
      for (int h = 0; h < 2 * kHalves; ++h) {
        acc[2 * h] = _mm256_add_epi32(acc[2 * h], _mm256_madd_epi16(_mm256_unpacklo_epi16(sum[h], z), run.w));
        acc[2 * h + 1] = _mm256_add_epi32(acc[2 * h + 1], _mm256_madd_epi16(_mm256_unpackhi_epi16(sum[h], z), run.w));
      }
    }
    for (int h = 0; h < 2 * kHalves; ++h) {
      _mm256_storeu_si256(reinterpret_cast<__m256i*>(m + k + 16 * h), normalise(acc[2 * h], acc[2 * h + 1], f));
    }
  }
  return k;
}

}  // namespace

void area_rowsum_avx2(const uint8_t* const* rows, const int16_t* w, int nrows, int n, float fy, int16_t* m,
                      int32_t* col) {
  const __m256 f = _mm256_set1_ps(fy);
  Run runs[kMaxRuns];
  int nruns = 0;
  if (make_runs(w, nrows, runs, nruns)) {
    int k = rowsum_runs<2>(rows, runs, nruns, 0, n, f, m);
    k = rowsum_runs<1>(rows, runs, nruns, k, n, f, m);
    if (k < n) area_rowsum_ref_tail(rows, w, nrows, k, n, fy, m, col);
    return;
  }
  const int pairs = nrows / 2;
  const bool odd = (nrows & 1) != 0;
  const __m256i wlast = odd ? _mm256_set1_epi32(static_cast<uint16_t>(w[nrows - 1])) : _mm256_setzero_si256();
  int k = 0;
  for (; k + 32 <= n; k += 32) {
    __m256i a0 = _mm256_setzero_si256(), a1 = a0, a2 = a0, a3 = a0;
    for (int i = 0; i < pairs; ++i) {
      const uint8_t* ra = rows[2 * i] + k;
      const uint8_t* rb = rows[2 * i + 1] + k;
      const uint32_t w0 = static_cast<uint16_t>(w[2 * i]), w1 = static_cast<uint16_t>(w[2 * i + 1]);
      const __m256i wp = _mm256_set1_epi32(static_cast<int>(w0 | (w1 << 16)));
      const __m256i x0 = widen16(ra), y0 = widen16(rb);
      const __m256i x1 = widen16(ra + 16), y1 = widen16(rb + 16);
      a0 = _mm256_add_epi32(a0, _mm256_madd_epi16(_mm256_unpacklo_epi16(x0, y0), wp));
      a1 = _mm256_add_epi32(a1, _mm256_madd_epi16(_mm256_unpackhi_epi16(x0, y0), wp));
      a2 = _mm256_add_epi32(a2, _mm256_madd_epi16(_mm256_unpacklo_epi16(x1, y1), wp));
      a3 = _mm256_add_epi32(a3, _mm256_madd_epi16(_mm256_unpackhi_epi16(x1, y1), wp));
    }
    if (odd) {
      const uint8_t* ra = rows[nrows - 1] + k;
      const __m256i z = _mm256_setzero_si256();
      const __m256i x0 = widen16(ra), x1 = widen16(ra + 16);
      a0 = _mm256_add_epi32(a0, _mm256_madd_epi16(_mm256_unpacklo_epi16(x0, z), wlast));
      a1 = _mm256_add_epi32(a1, _mm256_madd_epi16(_mm256_unpackhi_epi16(x0, z), wlast));
      a2 = _mm256_add_epi32(a2, _mm256_madd_epi16(_mm256_unpacklo_epi16(x1, z), wlast));
      a3 = _mm256_add_epi32(a3, _mm256_madd_epi16(_mm256_unpackhi_epi16(x1, z), wlast));
    }
    _mm256_storeu_si256(reinterpret_cast<__m256i*>(m + k), normalise(a0, a1, f));
    _mm256_storeu_si256(reinterpret_cast<__m256i*>(m + k + 16), normalise(a2, a3, f));
  }
  if (k < n) area_rowsum_ref_tail(rows, w, nrows, k, n, fy, m, col);
}

namespace {

inline __m256i loadu(const void* p) { return _mm256_loadu_si256(static_cast<const __m256i*>(p)); }

// Sum of the 8 int32 lanes of each of a[0..7], as one vector in that order.
inline __m256i reduce8(const __m256i* a) {
  const __m256i s01 = _mm256_hadd_epi32(a[0], a[1]), s23 = _mm256_hadd_epi32(a[2], a[3]);
  const __m256i s45 = _mm256_hadd_epi32(a[4], a[5]), s67 = _mm256_hadd_epi32(a[6], a[7]);
  const __m256i t0 = _mm256_hadd_epi32(s01, s23), t1 = _mm256_hadd_epi32(s45, s67);
  return _mm256_add_epi32(_mm256_permute2x128_si256(t0, t1, 0x20), _mm256_permute2x128_si256(t0, t1, 0x31));
}

template <int kChunks>
void colsum_window_n(const int16_t* m, const int32_t* base, const int16_t* wt, int d0, int d1, int32_t* t) {
  constexpr int win = 16 * kChunks;
  int d = d0;
  for (; d + 8 <= d1; d += 8) {
    __m256i acc[8];
    for (int k = 0; k < 8; ++k) {
      const int16_t* src = m + base[d + k];
      const int16_t* w = wt + static_cast<size_t>(d + k) * win;
      __m256i a = _mm256_madd_epi16(loadu(src), loadu(w));
      for (int i = 1; i < kChunks; ++i) {
        a = _mm256_add_epi32(a, _mm256_madd_epi16(loadu(src + 16 * i), loadu(w + 16 * i)));
      }
      acc[k] = a;
    }
    _mm256_storeu_si256(reinterpret_cast<__m256i*>(t + d), reduce8(acc));
  }
}

// Column sums of outputs [0, dw) of channel c from its window table; returns the first output left to the caller.
int colsum_window(const AreaPlan& p, int c, const int16_t* m, int dw, int32_t* t) {
  const AreaChannel& ch = p.ch[c];
  const AreaWindow& wt = p.windows[ch.window];
  const int end = dw / 8 * 8;
  switch (wt.win / 16) {
    case 1: colsum_window_n<1>(m, ch.base.data(), wt.w.data(), 0, end, t); break;
    case 2: colsum_window_n<2>(m, ch.base.data(), wt.w.data(), 0, end, t); break;
    case 3: colsum_window_n<3>(m, ch.base.data(), wt.w.data(), 0, end, t); break;
    default: colsum_window_n<4>(m, ch.base.data(), wt.w.data(), 0, end, t); break;  // win <= kAreaMaxWin = 64
  }
  return end;
}

inline __m256 clamp(__m256 v, __m256 lo, __m256 hi) { return _mm256_min_ps(hi, _mm256_max_ps(lo, v)); }

// Stores 8 pixels of 3 float32 channels interleaved (c0 c1 c2 c0 c1 c2 ...): three vpermps per output vector and
// two blends. Pure data movement: the stored values are the computed ones.
inline void store_rgb_f32(uint8_t* px, __m256 a, __m256 b, __m256 c) {
  // out0 = a0 b0 c0 a1 b1 c1 a2 b2, out1 = c2 a3 b3 c3 a4 b4 c4 a5, out2 = b5 c5 a6 b6 c6 a7 b7 c7
  const __m256i ia0 = _mm256_setr_epi32(0, 0, 0, 1, 0, 0, 2, 0), ib0 = _mm256_setr_epi32(0, 0, 0, 0, 1, 0, 0, 2),
                ic0 = _mm256_setr_epi32(0, 0, 0, 0, 0, 1, 0, 0);
  const __m256i ia1 = _mm256_setr_epi32(0, 3, 0, 0, 4, 0, 0, 5), ib1 = _mm256_setr_epi32(0, 0, 3, 0, 0, 4, 0, 0),
                ic1 = _mm256_setr_epi32(2, 0, 0, 3, 0, 0, 4, 0);
  const __m256i ia2 = _mm256_setr_epi32(0, 0, 6, 0, 0, 7, 0, 0), ib2 = _mm256_setr_epi32(5, 0, 0, 6, 0, 0, 7, 0),
                ic2 = _mm256_setr_epi32(0, 5, 0, 0, 6, 0, 0, 7);
  // Blend masks (bit i: lane i from the second operand): b at lanes 1, 4, 7 of out0; c at 2, 5 of out0, etc.
  const __m256 o0 = _mm256_blend_ps(_mm256_blend_ps(_mm256_permutevar8x32_ps(a, ia0), _mm256_permutevar8x32_ps(b, ib0),
                                                    0x92),
                                    _mm256_permutevar8x32_ps(c, ic0), 0x24);
  const __m256 o1 = _mm256_blend_ps(_mm256_blend_ps(_mm256_permutevar8x32_ps(a, ia1), _mm256_permutevar8x32_ps(b, ib1),
                                                    0x24),
                                    _mm256_permutevar8x32_ps(c, ic1), 0x49);
  const __m256 o2 = _mm256_blend_ps(_mm256_blend_ps(_mm256_permutevar8x32_ps(a, ia2), _mm256_permutevar8x32_ps(b, ib2),
                                                    0x49),
                                    _mm256_permutevar8x32_ps(c, ic2), 0x92);
  float* f = reinterpret_cast<float*>(px);
  _mm256_storeu_ps(f, o0);
  _mm256_storeu_ps(f + 8, o1);
  _mm256_storeu_ps(f + 16, o2);
}

void convert8(const AreaPlan& p, int32_t* const* t, int d, uint8_t* out) {
  const bool full = p.range == YuvRange::Full;
  const __m256 kx = _mm256_loadu_ps(p.kx.data() + d);
  __m256 a[3];
  for (int c = 0; c < p.nch; ++c) {
    a[c] = _mm256_mul_ps(_mm256_cvtepi32_ps(loadu(t[c] + d)), kx);
  }
  const __m256 zero = _mm256_setzero_ps(), k255 = _mm256_set1_ps(255.f);
  __m256 v[3];
  if (p.yuv) {
    const __m256 l = full ? a[0]
                          : _mm256_mul_ps(_mm256_sub_ps(a[0], _mm256_set1_ps(kAreaLimited.yoff)),
                                          _mm256_set1_ps(kAreaLimited.ky));
    if (p.gray_out) {
      v[0] = clamp(l, zero, k255);
    } else {
      const __m256 c128 = _mm256_set1_ps(128.f);
      __m256 u = _mm256_sub_ps(a[1], c128), vv = _mm256_sub_ps(a[2], c128);
      if (!full) {
        u = _mm256_mul_ps(u, _mm256_set1_ps(kAreaLimited.kc));
        vv = _mm256_mul_ps(vv, _mm256_set1_ps(kAreaLimited.kc));
      }
      v[0] = clamp(_mm256_add_ps(l, _mm256_mul_ps(vv, _mm256_set1_ps(kAreaLimited.kvr))), zero, k255);
      v[1] = clamp(_mm256_sub_ps(_mm256_sub_ps(l, _mm256_mul_ps(u, _mm256_set1_ps(kAreaLimited.kug))),
                                 _mm256_mul_ps(vv, _mm256_set1_ps(kAreaLimited.kvg))),
                   zero, k255);
      v[2] = clamp(_mm256_add_ps(l, _mm256_mul_ps(u, _mm256_set1_ps(kAreaLimited.kub))), zero, k255);
    }
  } else if (p.nch == 1) {
    v[0] = v[1] = v[2] = a[0];
  } else {
    if (p.format == PixelFormat::RGB565) {
      a[0] = _mm256_mul_ps(a[0], _mm256_set1_ps(kArea5));
      a[1] = _mm256_mul_ps(a[1], _mm256_set1_ps(kArea6));
      a[2] = _mm256_mul_ps(a[2], _mm256_set1_ps(kArea5));
    }
    if (p.gray_out) {
      v[0] = _mm256_add_ps(_mm256_add_ps(_mm256_mul_ps(a[0], _mm256_set1_ps(kAreaGr)),
                                         _mm256_mul_ps(a[1], _mm256_set1_ps(kAreaGg))),
                           _mm256_mul_ps(a[2], _mm256_set1_ps(kAreaGb)));
    } else {
      v[0] = a[0];
      v[1] = a[1];
      v[2] = a[2];
    }
  }
  alignas(32) float yf[3][8];
  alignas(32) int32_t yi[3][8];
  __m256 yv[3];
  const __m256 lo = _mm256_set1_ps(p.lo), hi = _mm256_set1_ps(p.hi);
  for (int j = 0; j < p.out_channels; ++j) {
    const __m256 y = _mm256_add_ps(_mm256_mul_ps(v[p.perm[j]], _mm256_set1_ps(p.mul[j])), _mm256_set1_ps(p.add[j]));
    yv[j] = y;
    if (p.type == OutputType::Float32) {
      _mm256_store_ps(yf[j], y);
    } else {
      _mm256_store_si256(reinterpret_cast<__m256i*>(yi[j]), _mm256_cvtps_epi32(clamp(y, lo, hi)));
    }
  }
  uint8_t* px = out + static_cast<size_t>(d) * p.pixel_bytes;
  if (p.type == OutputType::Float32 && p.out_channels == 3) {
    store_rgb_f32(px, yv[0], yv[1], yv[2]);
  } else if (p.type == OutputType::Float32 && p.out_channels == 1) {
    _mm256_storeu_ps(reinterpret_cast<float*>(px), yv[0]);
  } else if (p.type == OutputType::Float32) {
    for (int k = 0; k < 8; ++k, px += p.pixel_bytes) {
      for (int j = 0; j < p.out_channels; ++j) std::memcpy(px + 4 * j, &yf[j][k], 4);
    }
  } else {
    for (int k = 0; k < 8; ++k, px += p.pixel_bytes) {
      for (int j = 0; j < p.out_channels; ++j) px[j] = static_cast<uint8_t>(yi[j][k] & 0xff);
    }
  }
}

}  // namespace

void area_finish_avx2(const AreaPlan& p, int16_t* const* m, int32_t* const* t, uint8_t* out) {
  const int dw = p.dst.width;
  for (int c = 0; c < p.nch; ++c) {
    if (p.ch[c].window >= 0) {
      const int d = colsum_window(p, c, m[p.ch[c].plane], dw, t[c]);
      if (d < dw) area_colsum_ref(p, c, m[p.ch[c].plane], d, dw, t[c]);
    } else {
      area_colsum_ref(p, c, m[p.ch[c].plane], 0, dw, t[c]);
    }
  }
  int d = 0;
  for (; d + 8 <= dw; d += 8) convert8(p, t, d, out);
  if (d < dw) area_convert_ref(p, t, d, dw, out);
}

}  // namespace glassbridge::detail
