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
// the output (see the window table below).
// Coverage: hrow for every format (RGB and gray outputs), vrow for every output type and channel order, row2 for
// NV12 and I420 when the windows apply.
// What does not depend on the instruction set (staging, loops, tables, kernel selection), and the x86 code this path
// shares with AVX2 at another register width, is in preprocess_simd.h.
#include <smmintrin.h>

#include "preprocess_simd.h"

namespace glassbridge::detail {
namespace {

inline __m128i loadu(const void* p) { return _mm_loadu_si128(static_cast<const __m128i*>(p)); }
inline void storeu(void* p, __m128i v) { _mm_storeu_si128(static_cast<__m128i*>(p), v); }

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

// ---- YUV 4:2:0 -------------------------------------------------------------------------------------------------
using YuvK = YuvConsts<128>;
inline __m128i clamp_tap(__m128i v, const YuvK& k) { return _mm_min_epi16(_mm_max_epi16(v, k.zero), k.tmax); }
inline __m128i luma6(__m128i y, const YuvK& k) {
  return _mm_mulhrs_epi16(_mm_slli_epi16(_mm_sub_epi16(y, k.yoff), 7), k.ky);
}

template <bool kI420>
struct Yuv420 : YuvRowPtrs {
  const Plan& p;
  YuvK k;
  __m128i ctrl_u, ctrl_v, one;
  bool gray;
  alignas(16) uint16_t ys[kStage];
  alignas(16) uint32_t cs[kStage];

  Yuv420(const Plan& pl, int sy)
      : YuvRowPtrs(pl, sy, kI420),
        p(pl),
        k(pl.yuv()),
        ctrl_u(loadu(kChromaCtrl[0].v)),  // the first 128-bit lane
        ctrl_v(loadu(kChromaCtrl[kI420 ? 2 : 1].v)),
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
template <int kBpp, bool kBgr>
struct Rgb : StagedRgb<kBpp> {
  __m128i crg, cb, crg_gray, cb_gray, k_rg, k_b1, one_hi;

  Rgb(const Plan& pl, int sy) : StagedRgb<kBpp>(pl, sy) {
    const RgbCtrl<kBpp, kBgr> c;
    crg = loadu(c.rg);
    cb = loadu(c.b);
    crg_gray = loadu(c.rg_gray);
    cb_gray = loadu(c.b_gray);
    k_rg = _mm_set1_epi32(kGrayR | (kGrayG << 16));
    k_b1 = _mm_set1_epi32(kGrayB | (128 << 16));
    one_hi = _mm_set1_epi32(1 << 16);
  }

  __m128i gray_taps(__m128i s) const {
    return _mm_srai_epi32(_mm_add_epi32(_mm_madd_epi16(_mm_shuffle_epi8(s, crg_gray), k_rg),
                                        _mm_madd_epi16(_mm_or_si128(_mm_shuffle_epi8(s, cb_gray), one_hi), k_b1)),
                          8);
  }

  void compute(int j, __m128i, __m128i w, __m128i* res) const {
    const __m128i s0 = loadu(this->st + j), s1 = loadu(this->st + j + 2);  // columns j, j+1 and j+2, j+3
    if (this->gray) {
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
struct Rgb565 : Rgb565Conv<128>, StagedRgb565 {
  using StagedRgb565::StagedRgb565;
  void compute(int j, __m128i, __m128i w, __m128i* res) const { convert(loadu(st + j), w, gray, res); }
};

// ---- GRAY8 -------------------------------------------------------------------------------------------------------
struct Gray8 : StagedGray8 {
  using StagedGray8::StagedGray8;
  void compute(int j, __m128i, __m128i w, __m128i* res) const {
    res[0] = hinterp<kRawShift>(_mm_cvtepu8_epi16(_mm_loadl_epi64(reinterpret_cast<const __m128i*>(st + j))), w);
  }
};

template <typename Fmt>
void hrow_sse41(const Plan& p, int sy, int x0, int x1, int16_t* const* rows) {
  __m128i res[2][3] = {};  // planes a format does not produce stay unused
  hrow_staged<Fmt>(p, sy, x0, x1, [&](const Fmt& f, int j, int ox) GB_LAMBDA_INLINE {
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
  });
}

template <typename Fmt>
struct Hrow {  // for select_kernels
  static constexpr HRowFn fn = hrow_sse41<Fmt>;
};

// ---- vrow --------------------------------------------------------------------------------------------------------
// 4 pixels of R, G, B floats into 12 floats: [R0 G0 B0 R1] [G1 B1 R2 G2] [B2 R3 G3 B3].
struct StoreRgbF32 {  // a functor, for the shared x86 code to call directly
  void operator()(uint8_t* out, __m128 r, __m128 g, __m128 b) const {
    float* o = reinterpret_cast<float*>(out);
    const __m128 o0 =
        _mm_blend_ps(_mm_blend_ps(_mm_shuffle_ps(r, r, _MM_SHUFFLE(1, 0, 0, 0)), _mm_shuffle_ps(g, g, 0), 0x2),
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
};

void vrow_sse41(const Plan& p, const int16_t* const* top, const int16_t* const* bot, int wy0, int wy1, int x0, int x1,
                uint8_t* out) {
  // Channel by channel, in two halves of 8 columns.
  const auto channel = [](const int16_t* tp, const int16_t* bp, __m128i w, __m128 mk, __m128 ad,
                          const VrowQuant<128>& q, __m128 (&f)[4], __m128i& bytes) {
    __m128i q16[2];
    for (int h = 0; h < 2; ++h) {  // columns 0-7, 8-15
      const __m128i t = loadu(tp + 8 * h), b = loadu(bp + 8 * h);
      const __m128 ya = _mm_add_ps(_mm_mul_ps(_mm_cvtepi32_ps(_mm_madd_epi16(_mm_unpacklo_epi16(t, b), w)), mk), ad);
      const __m128 yb = _mm_add_ps(_mm_mul_ps(_mm_cvtepi32_ps(_mm_madd_epi16(_mm_unpackhi_epi16(t, b), w)), mk), ad);
      if (q.is_float) {
        f[2 * h] = ya;
        f[2 * h + 1] = yb;
      } else {
        q16[h] = _mm_packs_epi32(_mm_cvtps_epi32(_mm_min_ps(_mm_max_ps(ya, q.lo), q.hi)),
                                 _mm_cvtps_epi32(_mm_min_ps(_mm_max_ps(yb, q.lo), q.hi)));
      }
    }
    if (!q.is_float) bytes = q.is_u8 ? _mm_packus_epi16(q16[0], q16[1]) : _mm_packs_epi16(q16[0], q16[1]);
  };
  vrow_x86<128>(p, top, bot, wy0, wy1, x0, x1, out, StoreRgbF32{}, channel);
}

// ---- row2: both source rows straight to the output (NV12, I420, downscales of 2x to ~4.5x) ------------------
// When 4 consecutive output columns' taps span at most 16 source bytes, one 16-byte load and a pshufb by a
// per-call control replace the scalar staging (as the AVX2 path's windows, one 128-bit lane per group): both rows
// of an output row are converted and interpolated in registers, chroma terms shared when the rows share a chroma
// row, one row converted once when it carries all the weight. Rows whose windows would pass the plane's last row
// (readable_row_bytes) go through hrow + vrow in the scratch row planes.
// Per 4-column group g, kWinInts int32 at Plan::isa_cols[kWinInts * g] (build_windows_x86<1>, preprocess_simd.h):
// [0] the Y window offset (i0 of the group's first column), [1] the chroma window offset, [4..7] the Y control
// (zero-extended pairs), [8..11] the U control, [12..15] the V control (NV12; I420 uses the U control for both
// planes): chroma << 8 of tap a and tap b.
constexpr int kWinInts = 16;

using Terms = ChromaTerms<128>;

// One row of a window row2: plane pointers and the conversion constants.
template <bool kI420, bool kGray>
struct WinRow : YuvRowPtrs {
  WinRow(const Plan& p, int sy) : YuvRowPtrs(p, sy, kI420) {}

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
  emit16_x86<kType, kCh>(o, y, StoreRgbF32{}, [&](const __m128 (&c)[4]) GB_LAMBDA_INLINE {
    __m128i q32[4];
    for (int q = 0; q < 4; ++q) {
      // Without the clamp, y fits int32 (Plan::y_fits_int32) and the saturating packs clamp to the same integers.
      q32[q] = _mm_cvtps_epi32(kClamp ? _mm_min_ps(_mm_max_ps(c[q], lo), hi) : c[q]);
    }
    const __m128i a = _mm_packs_epi32(q32[0], q32[1]), b = _mm_packs_epi32(q32[2], q32[3]);
    return kType == OutputType::UInt8 ? _mm_packus_epi16(a, b) : _mm_packs_epi16(a, b);
  });
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
  const NormConsts<128, kCh> nk(p);
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
        y[j][q] = _mm_add_ps(_mm_mul_ps(_mm_cvtepi32_ps(a), nk.mk[j]), nk.ad[j]);
      }
    }
    emit_block<16, 16>(p, ox, x1, out, [&](uint8_t* o) GB_LAMBDA_INLINE { emit16<kType, kClamp, kCh>(y, lo, hi, o); });
  }
}

// O: the instance's Row2Opts (preprocess_simd.h).
template <bool kI420, typename O>
void row2_sse41(const Plan& p, int ra, int rb, int wy0, int wy1, uint8_t* out, int16_t* const* sa,
                int16_t* const* sb) {
  const int last = std::max(ra, rb);
  if (last + 1 < p.src_height && (last >> 1) + 1 < (p.src_height + 1) / 2) {
    if (ra == rb) {
      row2_windows<kI420, O::kGray, O::kBgr, O::kType, O::kClamp, true>(p, ra, rb, wy0, wy1, out);
    } else {
      row2_windows<kI420, O::kGray, O::kBgr, O::kType, O::kClamp, false>(p, ra, rb, wy0, wy1, out);
    }
    return;
  }
  // The windows of the plane's last row could read past the plane: the staged row kernels instead.
  hrow_sse41<Yuv420<kI420>>(p, ra, 0, p.dst.width, sa);
  if (rb != ra) hrow_sse41<Yuv420<kI420>>(p, rb, 0, p.dst.width, sb);
  vrow_sse41(p, sa, rb != ra ? sb : sa, wy0, wy1, 0, p.dst.width, out);
}

// NV12, I420: the staged hrow, and row2 when the windows apply; YUYV: the staged hrow.
template <PixelFormat kFormat>
struct YuvKernels {
  static void set(Plan& p, RowKernels& k) {
    constexpr bool kI420 = kFormat == PixelFormat::I420;
    if constexpr (kFormat == PixelFormat::YUYV) {
      k.hrow = hrow_sse41<Yuyv>;
    } else {
      k.hrow = hrow_sse41<Yuv420<kI420>>;
      if (!p.fuse_rows || !build_windows_x86<1>(p, kI420)) return;
      k.row2 = pick_row2(p, [](auto o) -> Row2Fn { return row2_sse41<kI420, decltype(o)>; });
    }
  }
};

}  // namespace

RowKernels kernels_sse41(Plan& p) { return select_kernels<Hrow, YuvKernels, Rgb, Rgb565, Gray8>(p, vrow_sse41); }

}  // namespace glassbridge::detail
