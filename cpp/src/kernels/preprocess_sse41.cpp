// SSE4.1 row kernels of the fused preprocessing, bit-identical to preprocess_ref.cpp (see preprocess_internal.h).
//
// hrow: the tap columns are scattered but the same for every row, so each row is done in two passes over a chunk
// of output columns: a scalar pass copies each column's adjacent tap pair into a staging buffer (Y pair as 16 bits,
// NV12 chroma quad [U0 V0 U1 V1] as 32 bits, I420 [U0 U1 V0 V1], an RGB pixel pair as 8 bytes), with one wide
// load where it stays inside the row and exact byte loads near the row's end; then a vector pass spreads them into
// 16-bit lanes with pshufb, converts 8 taps (4 columns) per register (pmulhrsw is the reference's mulhrs) and
// interpolates each column's pair with pmaddwd. The chunk is padded to whole blocks of 8 columns whose extra
// results land in the row slack. vrow: pmaddwd of the two rows' Q7 values, float32 multiply then add, clamp,
// cvtps2dq (round half to even), packs, and a pshufb / shufps interleave into RGB order.
// row2 (NV12, I420, downscales of 2x to ~4.5x): window loads with per-call pshufb controls, both rows straight to
// the output (see build_windows below).
// Coverage: hrow for every format (RGB and gray outputs), vrow for every output type and channel order, row2 for
// NV12 and I420 when the windows apply.
#include <smmintrin.h>

#include <algorithm>
#include <climits>
#include <cstring>

#include "preprocess_internal.h"

namespace glassbridge::detail {
namespace {

constexpr int kChunk = 256;  // output columns staged per pass (a multiple of 8)
constexpr int kStage = kChunk + 8;

template <typename T>
inline T load_raw(const uint8_t* p) {
  T v;
  std::memcpy(&v, p, sizeof v);
  return v;
}
inline __m128i loadu(const void* p) { return _mm_loadu_si128(static_cast<const __m128i*>(p)); }
inline void storeu(void* p, __m128i v) { _mm_storeu_si128(static_cast<__m128i*>(p), v); }

template <int kShift>
inline __m128i hinterp(__m128i taps, __m128i w) {
  return _mm_srai_epi32(_mm_add_epi32(_mm_madd_epi16(taps, w), _mm_set1_epi32(1 << (kShift - 1))), kShift);
}
constexpr int kRawShift = kHShift - kTapFrac;  // 8-bit taps: (64 S + 2^12) >> 13 == (S + 64) >> 7

// The tap table of 8 columns from ox; past x1 the last column repeats with zero weights.
struct Cols8 {
  alignas(16) int32_t i0[8];
  alignas(16) int16_t w[16];
  Cols8(const Plan& p, int ox, int x1) {
    const int n = std::min(8, x1 - ox);
    for (int j = 0; j < 8; ++j) {
      const int c = ox + std::min(j, n - 1);
      i0[j] = p.x.i0[c];
      w[2 * j] = j < n ? p.x.w[2 * c] : int16_t{0};
      w[2 * j + 1] = j < n ? p.x.w[2 * c + 1] : int16_t{0};
    }
  }
};

// Repeats the last staged entry up to a whole block of 8.
template <typename T>
void pad_stage(T* st, int n) {
  for (int j = n; j % 8 != 0; ++j) st[j] = st[n - 1];
}

inline __m128i chroma_ctrl(int base) {  // see preprocess_avx2.cpp: (base + 4m) into the high byte of two lanes
  alignas(16) int32_t c[4];
  for (int j = 0; j < 4; ++j) {
    const uint32_t m = static_cast<uint32_t>(4 * j + base);
    c[j] = static_cast<int32_t>(0x80u | (m << 8) | (0x80u << 16) | (m << 24));
  }
  return loadu(c);
}

// ---- YUV 4:2:0 -------------------------------------------------------------------------------------------------
struct YuvK {
  __m128i yoff, ky, kvr, kug, kvg, kub, bias, zero, tmax;
  explicit YuvK(const YuvCoeffs& c)
      : yoff(_mm_set1_epi16(static_cast<int16_t>(c.y_offset))),
        ky(_mm_set1_epi16(static_cast<int16_t>(c.ky))),
        kvr(_mm_set1_epi16(static_cast<int16_t>(c.kvr))),
        kug(_mm_set1_epi16(static_cast<int16_t>(c.kug))),
        kvg(_mm_set1_epi16(static_cast<int16_t>(c.kvg))),
        kub(_mm_set1_epi16(static_cast<int16_t>(c.kub))),
        bias(_mm_set1_epi16(static_cast<int16_t>(0x8000))),
        zero(_mm_setzero_si128()),
        tmax(_mm_set1_epi16(kTapMax)) {}
};
inline __m128i clamp_tap(__m128i v, const YuvK& k) { return _mm_min_epi16(_mm_max_epi16(v, k.zero), k.tmax); }
inline __m128i luma6(__m128i y, const YuvK& k) {
  return _mm_mulhrs_epi16(_mm_slli_epi16(_mm_sub_epi16(y, k.yoff), 7), k.ky);
}

template <bool kI420>
struct Yuv420 {
  const Plan& p;
  const uint8_t* yrow;
  const uint8_t* c1;
  const uint8_t* c2;
  YuvK k;
  __m128i ctrl_u, ctrl_v, one;
  bool gray;
  alignas(16) uint16_t ys[kStage];
  alignas(16) uint32_t cs[kStage];

  Yuv420(const Plan& pl, int sy)
      : p(pl),
        yrow(pl.plane[0] + sy * pl.stride[0]),
        c1(pl.plane[1] != nullptr ? pl.plane[1] + (sy >> 1) * pl.stride[1] : nullptr),  // null for YUYV
        c2(kI420 ? pl.plane[2] + (sy >> 1) * pl.stride[2] : nullptr),
        k(pl.yuv()),
        ctrl_u(chroma_ctrl(0)),
        ctrl_v(chroma_ctrl(kI420 ? 2 : 1)),
        one(_mm_set1_epi32(1)),
        gray(pl.row_planes == 1) {}

  // Wide chroma loads: NV12 4 bytes at 2 * (i0 >> 1), I420 2 bytes at i0 >> 1 of each plane.
  int limit() const {
    const int cw = (p.src_width + 1) / 2;
    return gray ? INT_MAX : (kI420 ? 2 * cw - 3 : 2 * cw - 2);
  }

  void stage(const int32_t* i0, int n, int n_safe) {
    for (int j = 0; j < n; ++j) ys[j] = load_raw<uint16_t>(yrow + i0[j]);  // i0 + 1 < width always
    pad_stage(ys, n);
    if (gray) return;
    for (int j = 0; j < n; ++j) {
      const int x = i0[j];
      if (kI420) {
        cs[j] = j < n_safe ? load_raw<uint16_t>(c1 + (x >> 1)) | static_cast<uint32_t>(load_raw<uint16_t>(c2 + (x >> 1))) << 16
                           : c1[x >> 1] | static_cast<uint32_t>(c1[(x + 1) >> 1]) << 8 |
                                 static_cast<uint32_t>(c2[x >> 1]) << 16 | static_cast<uint32_t>(c2[(x + 1) >> 1]) << 24;
      } else {
        const int ca = 2 * (x >> 1), cb = 2 * ((x + 1) >> 1);
        cs[j] = j < n_safe ? load_raw<uint32_t>(c1 + ca)
                           : c1[ca] | static_cast<uint32_t>(c1[ca + 1]) << 8 | static_cast<uint32_t>(c1[cb]) << 16 |
                                 static_cast<uint32_t>(c1[cb + 1]) << 24;
      }
    }
    pad_stage(cs, n);
  }

  // Columns j .. j + 3 of the chunk.
  void compute(int j, __m128i idx, __m128i w, __m128i* res) const {
    const __m128i y = _mm_cvtepu8_epi16(_mm_loadl_epi64(reinterpret_cast<const __m128i*>(ys + j)));
    if (gray) {
      res[0] = hinterp<kHShift>(clamp_tap(luma6(y, k), k), w);
      return;
    }
    const __m128i odd = _mm_slli_epi32(_mm_and_si128(idx, one), kI420 ? 24 : 25);
    const __m128i q = loadu(cs + j);
    const __m128i yc = luma6(y, k);
    const __m128i u = _mm_xor_si128(_mm_shuffle_epi8(q, _mm_add_epi32(ctrl_u, odd)), k.bias);
    const __m128i v = _mm_xor_si128(_mm_shuffle_epi8(q, _mm_add_epi32(ctrl_v, odd)), k.bias);
    res[0] = hinterp<kHShift>(clamp_tap(_mm_adds_epi16(yc, _mm_mulhrs_epi16(v, k.kvr)), k), w);
    res[1] = hinterp<kHShift>(
        clamp_tap(_mm_sub_epi16(_mm_sub_epi16(yc, _mm_mulhrs_epi16(u, k.kug)), _mm_mulhrs_epi16(v, k.kvg)), k), w);
    res[2] = hinterp<kHShift>(clamp_tap(_mm_adds_epi16(yc, _mm_mulhrs_epi16(u, k.kub)), k), w);
  }
};

// ---- YUYV --------------------------------------------------------------------------------------------------------
// Packed Y0 U Y1 V, staged as the NV12 path's Y pair and chroma quad with tap b's chroma made explicit:
// [U(x) V(x) U(x+1) V(x+1)], converted as an odd NV12 column. Exact byte loads, so no limit.
struct Yuyv : Yuv420<false> {
  using Base = Yuv420<false>;
  Yuyv(const Plan& pl, int sy) : Base(pl, sy) {}
  int limit() const { return INT_MAX; }
  void stage(const int32_t* i0, int n, int) {
    for (int j = 0; j < n; ++j) {
      const uint8_t* px = yrow + 2 * i0[j];
      ys[j] = static_cast<uint16_t>(px[0] | px[2] << 8);
    }
    pad_stage(ys, n);
    if (gray) return;
    for (int j = 0; j < n; ++j) {
      const uint8_t* a = yrow + 4 * (i0[j] >> 1);
      const uint8_t* b = yrow + 4 * ((i0[j] + 1) >> 1);
      cs[j] = a[1] | static_cast<uint32_t>(a[3]) << 8 | static_cast<uint32_t>(b[1]) << 16 |
              static_cast<uint32_t>(b[3]) << 24;
    }
    pad_stage(cs, n);
  }
  void compute(int j, __m128i, __m128i w, __m128i* res) const {
    Base::compute(j, _mm_set1_epi32(1), w, res);  // tap b's chroma is explicit: bytes 2, 3, as for an odd NV12 i0
  }
};

// ---- RGB888 / BGR888 / RGBA8888 ----------------------------------------------------------------------------------
inline void byte_pair_ctrl(int8_t* c, int o0, int o1) {  // (o0, o1) of the register's two columns, 16-bit lanes
  for (int col = 0; col < 2; ++col) {
    c[4 * col + 0] = static_cast<int8_t>(8 * col + o0);
    c[4 * col + 1] = static_cast<int8_t>(-128);
    c[4 * col + 2] = static_cast<int8_t>(8 * col + o1);
    c[4 * col + 3] = static_cast<int8_t>(-128);
  }
}

template <int kBpp, bool kBgr>
struct Rgb {
  const Plan& p;
  const uint8_t* row;
  __m128i crg, cb, crg_gray, cb_gray, k_rg, k_b1, one_hi;
  bool gray;
  alignas(16) uint64_t st[kStage];

  Rgb(const Plan& pl, int sy) : p(pl), row(pl.plane[0] + sy * pl.stride[0]), gray(pl.row_planes == 1) {
    const int ro = kBgr ? 2 : 0, bo = kBgr ? 0 : 2;
    alignas(16) int8_t c_rg[16], c_b[16], c_rg_gray[16], c_b_gray[16];
    byte_pair_ctrl(c_rg, ro, kBpp + ro);
    byte_pair_ctrl(c_rg + 8, 1, kBpp + 1);
    byte_pair_ctrl(c_b, bo, kBpp + bo);
    byte_pair_ctrl(c_b + 8, bo, kBpp + bo);
    for (int t = 0; t < 4; ++t) {
      const int base = 8 * (t / 2) + (t % 2) * kBpp;
      const int8_t rg[4] = {static_cast<int8_t>(base + ro), -128, static_cast<int8_t>(base + 1), -128};
      const int8_t b[4] = {static_cast<int8_t>(base + bo), -128, -128, -128};
      std::memcpy(c_rg_gray + 4 * t, rg, 4);
      std::memcpy(c_b_gray + 4 * t, b, 4);
    }
    crg = loadu(c_rg);
    cb = loadu(c_b);
    crg_gray = loadu(c_rg_gray);
    cb_gray = loadu(c_b_gray);
    k_rg = _mm_set1_epi32(kGrayR | (kGrayG << 16));
    k_b1 = _mm_set1_epi32(kGrayB | (128 << 16));
    one_hi = _mm_set1_epi32(1 << 16);
  }

  int limit() const { return kBpp == 4 ? INT_MAX : p.src_width - 2; }  // 8-byte loads at bpp * i0

  void stage(const int32_t* i0, int n, int n_safe) {
    for (int j = 0; j < n_safe; ++j) st[j] = load_raw<uint64_t>(row + kBpp * i0[j]);
    for (int j = n_safe; j < n; ++j) {
      st[j] = 0;
      std::memcpy(&st[j], row + kBpp * i0[j], 2 * kBpp);
    }
    pad_stage(st, n);
  }

  __m128i gray_taps(__m128i s) const {
    return _mm_srai_epi32(_mm_add_epi32(_mm_madd_epi16(_mm_shuffle_epi8(s, crg_gray), k_rg),
                                        _mm_madd_epi16(_mm_or_si128(_mm_shuffle_epi8(s, cb_gray), one_hi), k_b1)),
                          8);
  }

  void compute(int j, __m128i, __m128i w, __m128i* res) const {
    const __m128i s0 = loadu(st + j), s1 = loadu(st + j + 2);  // columns j, j+1 and j+2, j+3
    if (gray) {
      res[0] = hinterp<kHShift>(_mm_packs_epi32(gray_taps(s0), gray_taps(s1)), w);
      return;
    }
    const __m128i rg0 = _mm_shuffle_epi8(s0, crg), rg1 = _mm_shuffle_epi8(s1, crg);
    res[0] = hinterp<kRawShift>(_mm_unpacklo_epi64(rg0, rg1), w);
    res[1] = hinterp<kRawShift>(_mm_unpackhi_epi64(rg0, rg1), w);
    res[2] = hinterp<kRawShift>(_mm_unpacklo_epi64(_mm_shuffle_epi8(s0, cb), _mm_shuffle_epi8(s1, cb)), w);
  }
};

// ---- RGB565 ------------------------------------------------------------------------------------------------------
struct Rgb565 {
  const Plan& p;
  const uint8_t* row;
  __m128i m5, m6, kr, kg, k_rg, k_b1, ones;
  bool gray;
  alignas(16) uint32_t st[kStage];

  Rgb565(const Plan& pl, int sy)
      : p(pl),
        row(pl.plane[0] + sy * pl.stride[0]),
        m5(_mm_set1_epi16(0x7C00)),
        m6(_mm_set1_epi16(0x7E00)),
        kr(_mm_set1_epi16(static_cast<int16_t>(k565R))),
        kg(_mm_set1_epi16(static_cast<int16_t>(k565G))),
        k_rg(_mm_set1_epi32(kGrayR | (kGrayG << 16))),
        k_b1(_mm_set1_epi32(kGrayB | (8192 << 16))),
        ones(_mm_set1_epi16(1)),
        gray(pl.row_planes == 1) {}

  int limit() const { return INT_MAX; }

  void stage(const int32_t* i0, int n, int) {
    for (int j = 0; j < n; ++j) st[j] = load_raw<uint32_t>(row + 2 * i0[j]);
    pad_stage(st, n);
  }

  void compute(int j, __m128i, __m128i w, __m128i* res) const {
    const __m128i px = loadu(st + j);
    const __m128i r = _mm_mulhrs_epi16(_mm_and_si128(_mm_srli_epi16(px, 1), m5), kr);
    const __m128i g = _mm_mulhrs_epi16(_mm_and_si128(_mm_slli_epi16(px, 4), m6), kg);
    const __m128i b = _mm_mulhrs_epi16(_mm_and_si128(_mm_slli_epi16(px, 10), m5), kr);
    if (gray) {
      const __m128i lo = _mm_srai_epi32(_mm_add_epi32(_mm_madd_epi16(_mm_unpacklo_epi16(r, g), k_rg),
                                                      _mm_madd_epi16(_mm_unpacklo_epi16(b, ones), k_b1)),
                                        14);
      const __m128i hi = _mm_srai_epi32(_mm_add_epi32(_mm_madd_epi16(_mm_unpackhi_epi16(r, g), k_rg),
                                                      _mm_madd_epi16(_mm_unpackhi_epi16(b, ones), k_b1)),
                                        14);
      res[0] = hinterp<kHShift>(_mm_packs_epi32(lo, hi), w);
      return;
    }
    res[0] = hinterp<kHShift>(r, w);
    res[1] = hinterp<kHShift>(g, w);
    res[2] = hinterp<kHShift>(b, w);
  }
};

// ---- GRAY8 -------------------------------------------------------------------------------------------------------
struct Gray8 {
  const Plan& p;
  const uint8_t* row;
  alignas(16) uint16_t st[kStage];

  Gray8(const Plan& pl, int sy) : p(pl), row(pl.plane[0] + sy * pl.stride[0]) {}
  int limit() const { return INT_MAX; }
  void stage(const int32_t* i0, int n, int) {
    for (int j = 0; j < n; ++j) st[j] = load_raw<uint16_t>(row + i0[j]);
    pad_stage(st, n);
  }
  void compute(int j, __m128i, __m128i w, __m128i* res) const {
    res[0] = hinterp<kRawShift>(_mm_cvtepu8_epi16(_mm_loadl_epi64(reinterpret_cast<const __m128i*>(st + j))), w);
  }
};

template <typename Fmt>
void hrow_sse41(const Plan& p, int sy, int x0, int x1, int16_t* const* rows) {
  Fmt f(p, sy);
  const int safe = std::min(x1, p.cols_with_i0_below(f.limit()));
  __m128i res[2][3] = {};  // planes a format does not produce stay unused
  for (int c = x0; c < x1; c += kChunk) {
    const int n = std::min(kChunk, x1 - c);
    f.stage(p.x.i0.data() + c, n, std::max(0, std::min(n, safe - c)));
    for (int j = 0; j < n; j += 8) {
      const int ox = c + j;
      if ((ox & 15) == 0) p.prefetch.step();  // one step per 16 columns
      if (ox + 8 <= x1) {
        const int32_t* i0 = p.x.i0.data() + ox;
        const int16_t* w = p.x.w.data() + 2 * ox;
        f.compute(j, loadu(i0), loadu(w), res[0]);
        f.compute(j + 4, loadu(i0 + 4), loadu(w + 8), res[1]);
      } else {  // the last partial block: its extra columns land in the row slack
        const Cols8 tail(p, ox, x1);
        f.compute(j, loadu(tail.i0), loadu(tail.w), res[0]);
        f.compute(j + 4, loadu(tail.i0 + 4), loadu(tail.w + 8), res[1]);
      }
      for (int pl = 0; pl < p.row_planes; ++pl) storeu(rows[pl] + ox, _mm_packs_epi32(res[0][pl], res[1][pl]));
    }
  }
}

// ---- vrow --------------------------------------------------------------------------------------------------------
struct InterleaveMasks {
  alignas(16) int8_t m[3][3][16];
  InterleaveMasks() {
    for (int k = 0; k < 3; ++k) {
      for (int c = 0; c < 3; ++c) {
        for (int i = 0; i < 16; ++i) {
          const int g = 16 * k + i;
          m[k][c][i] = static_cast<int8_t>(g % 3 == c ? g / 3 : -128);
        }
      }
    }
  }
};
const InterleaveMasks kMasks;

inline void store_rgb48(uint8_t* out, __m128i r, __m128i g, __m128i b) {
  for (int k = 0; k < 3; ++k) {
    const __m128i v = _mm_or_si128(
        _mm_or_si128(_mm_shuffle_epi8(r, loadu(kMasks.m[k][0])), _mm_shuffle_epi8(g, loadu(kMasks.m[k][1]))),
        _mm_shuffle_epi8(b, loadu(kMasks.m[k][2])));
    storeu(out + 16 * k, v);
  }
}

// 4 pixels of R, G, B floats into 12 floats: [R0 G0 B0 R1] [G1 B1 R2 G2] [B2 R3 G3 B3].
inline void store_rgb_f32(uint8_t* out, __m128 r, __m128 g, __m128 b) {
  float* o = reinterpret_cast<float*>(out);
  const __m128 o0 = _mm_blend_ps(_mm_blend_ps(_mm_shuffle_ps(r, r, _MM_SHUFFLE(1, 0, 0, 0)), _mm_shuffle_ps(g, g, 0), 0x2),
                                 _mm_shuffle_ps(b, b, 0), 0x4);
  const __m128 o1 = _mm_blend_ps(_mm_blend_ps(_mm_shuffle_ps(g, g, _MM_SHUFFLE(2, 1, 1, 1)),
                                              _mm_shuffle_ps(b, b, _MM_SHUFFLE(1, 1, 1, 1)), 0x2),
                                 _mm_shuffle_ps(r, r, _MM_SHUFFLE(2, 2, 2, 2)), 0x4);
  const __m128 o2 = _mm_blend_ps(_mm_blend_ps(_mm_shuffle_ps(b, b, _MM_SHUFFLE(3, 3, 3, 2)),
                                              _mm_shuffle_ps(r, r, _MM_SHUFFLE(3, 3, 3, 3)), 0x2),
                                 _mm_shuffle_ps(g, g, _MM_SHUFFLE(3, 3, 3, 3)), 0x4);
  _mm_storeu_ps(o, o0);
  _mm_storeu_ps(o + 4, o1);
  _mm_storeu_ps(o + 8, o2);
}

// 16 output pixels from columns ox .. ox + 15 of the row planes.
inline void vrow_block(const Plan& p, const int16_t* const* top, const int16_t* const* bot, __m128i w, int ox,
                       uint8_t* o) {
  const __m128 lo = _mm_set1_ps(p.lo), hi = _mm_set1_ps(p.hi);
  const bool is_float = p.type == OutputType::Float32, is_u8 = p.type == OutputType::UInt8;
  __m128 f[3][4];    // float32: columns 0-3, 4-7, 8-11, 12-15
  __m128i bytes[3];  // uint8 / int8: 16 columns
  for (int j = 0; j < p.out_channels; ++j) {
    const int pl = p.perm[j];
    const __m128 mk = _mm_set1_ps(p.mulk[j]), ad = _mm_set1_ps(p.add[j]);
    __m128i q16[2];
    for (int h = 0; h < 2; ++h) {
      const __m128i t = loadu(top[pl] + ox + 8 * h), b = loadu(bot[pl] + ox + 8 * h);
      const __m128 ya = _mm_add_ps(_mm_mul_ps(_mm_cvtepi32_ps(_mm_madd_epi16(_mm_unpacklo_epi16(t, b), w)), mk), ad);
      const __m128 yb = _mm_add_ps(_mm_mul_ps(_mm_cvtepi32_ps(_mm_madd_epi16(_mm_unpackhi_epi16(t, b), w)), mk), ad);
      if (is_float) {
        f[j][2 * h] = ya;
        f[j][2 * h + 1] = yb;
      } else {
        q16[h] = _mm_packs_epi32(_mm_cvtps_epi32(_mm_min_ps(_mm_max_ps(ya, lo), hi)),
                                 _mm_cvtps_epi32(_mm_min_ps(_mm_max_ps(yb, lo), hi)));
      }
    }
    if (!is_float) bytes[j] = is_u8 ? _mm_packus_epi16(q16[0], q16[1]) : _mm_packs_epi16(q16[0], q16[1]);
  }
  if (is_float) {
    for (int q = 0; q < 4; ++q) {
      if (p.out_channels == 1) {
        _mm_storeu_ps(reinterpret_cast<float*>(o) + 4 * q, f[0][q]);
      } else {
        store_rgb_f32(o + 48 * q, f[0][q], f[1][q], f[2][q]);
      }
    }
  } else if (p.out_channels == 1) {
    storeu(o, bytes[0]);
  } else {
    store_rgb48(o, bytes[0], bytes[1], bytes[2]);
  }
}

void vrow_sse41(const Plan& p, const int16_t* const* top, const int16_t* const* bot, int wy0, int wy1, int x0, int x1,
                uint8_t* out) {
  const __m128i w = _mm_set1_epi32((wy0 & 0xffff) | (wy1 << 16));
  int ox = x0;
  for (; ox + 16 <= x1; ox += 16) vrow_block(p, top, bot, w, ox, out + static_cast<size_t>(ox) * p.pixel_bytes);
  if (ox < x1) {  // the row planes' slack makes the block's reads safe; only the wanted pixels are copied out
    alignas(16) uint8_t buf[16 * 12];
    vrow_block(p, top, bot, w, ox, buf);
    std::memcpy(out + static_cast<size_t>(ox) * p.pixel_bytes, buf, static_cast<size_t>(x1 - ox) * p.pixel_bytes);
  }
}

// ---- row2: both source rows straight to the output (NV12, I420, downscales of 2x to ~4.5x) ------------------
// When 4 consecutive output columns' taps span at most 16 source bytes, one 16-byte load and a pshufb by a
// per-call control replace the scalar staging (as the AVX2 path's windows, one 128-bit lane per group): both rows
// of an output row are converted and interpolated in registers, chroma terms shared when the rows share a chroma
// row, one row converted once when it carries all the weight. Rows whose windows would pass the plane's last row
// (readable_row_bytes) go through hrow + vrow in the scratch row planes.
// Per 4-column group g, kWinInts int32 at Plan::isa_cols[kWinInts * g]: [0] the Y window offset (i0 of the
// group's first column), [1] the chroma window offset, [4..7] the Y control (zero-extended pairs), [8..11] the U
// control, [12..15] the V control (NV12; I420 uses the U control for both planes): chroma << 8 of tap a and tap b.
constexpr int kWinInts = 16;

bool build_windows(Plan& p, bool i420) {
  const int groups = static_cast<int>(p.x.i0.size()) / 4;  // padded to whole blocks
  std::vector<int32_t> tab(static_cast<size_t>(groups) * kWinInts, 0);
  int y_end = 0, c_end = 0;
  for (int g = 0; g < groups; ++g) {
    int32_t* t = tab.data() + static_cast<size_t>(g) * kWinInts;
    const int32_t* i0 = p.x.i0.data() + 4 * g;
    const int yo = i0[0], co = i420 ? i0[0] >> 1 : 2 * (i0[0] >> 1);
    t[0] = yo;
    t[1] = co;
    y_end = std::max(y_end, yo + 16);
    c_end = std::max(c_end, co + 16);
    uint8_t cy[16], cu[16], cv[16];
    for (int m = 0; m < 4; ++m) {
      const int x = i0[m];
      const int dy = x - yo;
      const int ca = i420 ? (x >> 1) - co : 2 * (x >> 1) - co;            // chroma byte of tap a
      const int cb = i420 ? ((x + 1) >> 1) - co : 2 * ((x + 1) >> 1) - co;  // of tap b
      const int vb = i420 ? 0 : 1;                                           // NV12: V follows U
      if (dy + 1 > 15 || cb + vb > 15) return false;
      const uint8_t y4[4] = {static_cast<uint8_t>(dy), 0x80, static_cast<uint8_t>(dy + 1), 0x80};
      const uint8_t u4[4] = {0x80, static_cast<uint8_t>(ca), 0x80, static_cast<uint8_t>(cb)};
      const uint8_t v4[4] = {0x80, static_cast<uint8_t>(ca + vb), 0x80, static_cast<uint8_t>(cb + vb)};
      std::memcpy(cy + 4 * m, y4, 4);
      std::memcpy(cu + 4 * m, u4, 4);
      std::memcpy(cv + 4 * m, v4, 4);
    }
    std::memcpy(t + 4, cy, 16);
    std::memcpy(t + 8, cu, 16);
    std::memcpy(t + 12, cv, 16);
  }
  const int cw = (p.src_width + 1) / 2, ch = (p.src_height + 1) / 2;
  if (p.src_height < 2 || ch < 2) return false;
  if (y_end > readable_row_bytes(p.stride[0], p.src_height, 0, p.src_width)) return false;
  if (c_end > readable_row_bytes(p.stride[1], ch, 0, i420 ? cw : 2 * cw)) return false;
  if (i420 && c_end > readable_row_bytes(p.stride[2], ch, 0, cw)) return false;
  p.isa_cols = std::move(tab);
  return true;
}

#define GB_INLINE __attribute__((always_inline)) inline

struct Terms {
  __m128i rv, guv, bu;
};

// One row of a window row2: plane pointers and the conversion constants.
template <bool kI420, bool kGray>
struct WinRow {
  const uint8_t* yrow;
  const uint8_t* c1;
  const uint8_t* c2;
  WinRow(const Plan& p, int sy)
      : yrow(p.plane[0] + sy * p.stride[0]),
        c1(p.plane[1] + (sy >> 1) * p.stride[1]),
        c2(kI420 ? p.plane[2] + (sy >> 1) * p.stride[2] : nullptr) {}

  GB_INLINE Terms terms(const int32_t* t, const YuvK& k) const {
    __m128i u, v;
    if constexpr (kI420) {
      const __m128i ctrl = loadu(t + 8);
      u = _mm_shuffle_epi8(loadu(c1 + t[1]), ctrl);
      v = _mm_shuffle_epi8(loadu(c2 + t[1]), ctrl);
    } else {
      const __m128i q = loadu(c1 + t[1]);
      u = _mm_shuffle_epi8(q, loadu(t + 8));
      v = _mm_shuffle_epi8(q, loadu(t + 12));
    }
    u = _mm_xor_si128(u, k.bias);
    v = _mm_xor_si128(v, k.bias);
    return Terms{_mm_mulhrs_epi16(v, k.kvr), _mm_add_epi16(_mm_mulhrs_epi16(u, k.kug), _mm_mulhrs_epi16(v, k.kvg)),
                 _mm_mulhrs_epi16(u, k.kub)};
  }
  // Q7 results of the group's 4 columns (int32 lanes), per plane.
  GB_INLINE void finish(const int32_t* t, const Terms& c, __m128i w, const YuvK& k, __m128i* res) const {
    const __m128i yc = luma6(_mm_shuffle_epi8(loadu(yrow + t[0]), loadu(t + 4)), k);
    if constexpr (kGray) {
      res[0] = hinterp<kHShift>(clamp_tap(yc, k), w);
    } else {
      // R and B may exceed int16 before the clamp (limited range): saturating adds clamp to the same kTapMax.
      res[0] = hinterp<kHShift>(clamp_tap(_mm_adds_epi16(yc, c.rv), k), w);
      res[1] = hinterp<kHShift>(clamp_tap(_mm_sub_epi16(yc, c.guv), k), w);
      res[2] = hinterp<kHShift>(clamp_tap(_mm_adds_epi16(yc, c.bu), k), w);
    }
  }
};

// 16 output pixels from normalised values y[j][q] (channel j, columns 4q .. 4q + 3).
template <OutputType kType, bool kClamp, int kCh>
GB_INLINE void emit16(const __m128 (&y)[3][4], __m128 lo, __m128 hi, uint8_t* o) {
  if constexpr (kType == OutputType::Float32) {
    for (int q = 0; q < 4; ++q) {
      if constexpr (kCh == 1) {
        _mm_storeu_ps(reinterpret_cast<float*>(o) + 4 * q, y[0][q]);
      } else {
        store_rgb_f32(o + 48 * q, y[0][q], y[1][q], y[2][q]);
      }
    }
  } else {
    __m128i bytes[3];
    for (int j = 0; j < kCh; ++j) {
      __m128i q32[4];
      for (int q = 0; q < 4; ++q) {
        // Without the clamp, y fits int32 (Plan::y_fits_int32) and the saturating packs clamp to the same integers.
        q32[q] = _mm_cvtps_epi32(kClamp ? _mm_min_ps(_mm_max_ps(y[j][q], lo), hi) : y[j][q]);
      }
      const __m128i a = _mm_packs_epi32(q32[0], q32[1]), b = _mm_packs_epi32(q32[2], q32[3]);
      bytes[j] = kType == OutputType::UInt8 ? _mm_packus_epi16(a, b) : _mm_packs_epi16(a, b);
    }
    if constexpr (kCh == 1) {
      storeu(o, bytes[0]);
    } else {
      store_rgb48(o, bytes[0], bytes[1], bytes[2]);
    }
  }
}

template <bool kI420, bool kGray, bool kBgr, OutputType kType, bool kClamp, bool kOne>
void row2_windows(const Plan& p, int ra, int rb, int wy0, int wy1, uint8_t* out) {
  constexpr int kCh = kGray ? 1 : 3;
  const WinRow<kI420, kGray> top(p, ra), bot(p, rb);
  const YuvK k(p.yuv());
  const bool same_chroma = (ra >> 1) == (rb >> 1);
  const int x1 = p.dst.width;
  const __m128i wy = _mm_set1_epi32((wy0 & 0xffff) | (wy1 << 16));
  const __m128 lo = _mm_set1_ps(p.lo), hi = _mm_set1_ps(p.hi);
  __m128 mk[3], ad[3];
  for (int j = 0; j < kCh; ++j) {
    mk[j] = _mm_set1_ps(p.mulk[j]);
    ad[j] = _mm_set1_ps(p.add[j]);
  }
  const int16_t* w = p.x.w.data();  // padded to whole blocks (kColPad)
  for (int ox = 0; ox < x1; ox += 16) {
    p.prefetch.step();
    __m128 y[3][4];
    for (int q = 0; q < 4; ++q) {
      const int32_t* t = p.isa_cols.data() + kWinInts * (ox / 4 + q);
      const __m128i wc = loadu(w + 2 * (ox + 4 * q));
      Terms c{};
      if constexpr (!kGray) c = top.terms(t, k);
      __m128i ht[3], hb[3];
      top.finish(t, c, wc, k, ht);
      if constexpr (!kOne) {
        if constexpr (!kGray) {
          if (!same_chroma) c = bot.terms(t, k);
        }
        bot.finish(t, c, wc, k, hb);
      }
      for (int j = 0; j < kCh; ++j) {
        const int pl = kBgr ? 2 - j : j;
        // a = h_top * wy0 + h_bot * wy1 (one row: h * 2^14, what the multiply-accumulate gives).
        const __m128i a = kOne ? _mm_slli_epi32(ht[pl], kWeightBits)
                               : _mm_madd_epi16(_mm_blend_epi16(ht[pl], _mm_slli_epi32(hb[pl], 16), 0xAA), wy);
        y[j][q] = _mm_add_ps(_mm_mul_ps(_mm_cvtepi32_ps(a), mk[j]), ad[j]);
      }
    }
    uint8_t* o = out + static_cast<size_t>(ox) * p.pixel_bytes;
    if (ox + 16 <= x1) {
      emit16<kType, kClamp, kCh>(y, lo, hi, o);
    } else {  // the last partial block, through a buffer
      alignas(16) uint8_t buf[16 * 12];
      emit16<kType, kClamp, kCh>(y, lo, hi, buf);
      std::memcpy(o, buf, static_cast<size_t>(x1 - ox) * p.pixel_bytes);
    }
  }
}

template <bool kI420, bool kGray, bool kBgr, OutputType kType, bool kClamp>
void row2_sse41(const Plan& p, int ra, int rb, int wy0, int wy1, uint8_t* out, int16_t* const* sa,
                int16_t* const* sb) {
  const int last = std::max(ra, rb);
  if (last + 1 < p.src_height && (last >> 1) + 1 < (p.src_height + 1) / 2) {
    if (ra == rb) {
      row2_windows<kI420, kGray, kBgr, kType, kClamp, true>(p, ra, rb, wy0, wy1, out);
    } else {
      row2_windows<kI420, kGray, kBgr, kType, kClamp, false>(p, ra, rb, wy0, wy1, out);
    }
    return;
  }
  // The windows of the plane's last row could read past the plane: the staged row kernels instead.
  hrow_sse41<Yuv420<kI420>>(p, ra, 0, p.dst.width, sa);
  if (rb != ra) hrow_sse41<Yuv420<kI420>>(p, rb, 0, p.dst.width, sb);
  vrow_sse41(p, sa, rb != ra ? sb : sa, wy0, wy1, 0, p.dst.width, out);
}

template <bool kI420, bool kGray, bool kBgr>
Row2Fn pick_row2(const Plan& p) {
  const bool clamp = !p.y_fits_int32;
  switch (p.type) {
    case OutputType::UInt8:
      return clamp ? row2_sse41<kI420, kGray, kBgr, OutputType::UInt8, true>
                   : row2_sse41<kI420, kGray, kBgr, OutputType::UInt8, false>;
    case OutputType::Int8:
      return clamp ? row2_sse41<kI420, kGray, kBgr, OutputType::Int8, true>
                   : row2_sse41<kI420, kGray, kBgr, OutputType::Int8, false>;
    case OutputType::Float32:
      return row2_sse41<kI420, kGray, kBgr, OutputType::Float32, false>;
  }
  return nullptr;
}

template <bool kI420>
void yuv420_kernels(Plan& p, RowKernels& k) {
  k.hrow = hrow_sse41<Yuv420<kI420>>;
  if (!p.fuse_rows || !build_windows(p, kI420)) return;
  if (p.row_planes == 1) {
    k.row2 = pick_row2<kI420, true, false>(p);
  } else {
    k.row2 = p.perm[0] == 2 ? pick_row2<kI420, false, true>(p) : pick_row2<kI420, false, false>(p);
  }
}

}  // namespace

RowKernels kernels_sse41(Plan& p) {
  RowKernels k{hrow_ref, vrow_sse41};
  if (p.src_width < 2) return k;  // the pair loads need i1 == i0 + 1
  switch (p.format) {
    case PixelFormat::NV12: yuv420_kernels<false>(p, k); break;
    case PixelFormat::I420: yuv420_kernels<true>(p, k); break;
    case PixelFormat::RGB888: k.hrow = hrow_sse41<Rgb<3, false>>; break;
    case PixelFormat::BGR888: k.hrow = hrow_sse41<Rgb<3, true>>; break;
    case PixelFormat::RGBA8888: k.hrow = hrow_sse41<Rgb<4, false>>; break;
    case PixelFormat::RGB565: k.hrow = hrow_sse41<Rgb565>; break;
    case PixelFormat::GRAY8: k.hrow = hrow_sse41<Gray8>; break;
    case PixelFormat::YUYV: k.hrow = hrow_sse41<Yuyv>; break;
  }
  return k;
}

}  // namespace glassbridge::detail
