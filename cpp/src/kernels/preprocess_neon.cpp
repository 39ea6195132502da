// NEON (AArch64) row kernels of the fused preprocessing, bit-identical to preprocess_ref.cpp (see
// preprocess_internal.h).
//
// hrow: as in the SSE4.1 path, a scalar pass stages each output column's adjacent tap pair (wide loads where they
// stay inside the row, exact byte loads near its end), then the vector pass works on 8 columns: vld2 / vld4 /
// tbl split the staged pairs into a tap-a vector and a tap-b vector (NV12/I420 chroma of tap b chosen by the parity
// of i0 with vbsl; YUYV's is staged explicitly), the conversion runs in 16-bit lanes (vqrdmulh is the reference's
// mulhrs, vqadd its saturating add) and the interpolation is vmull + vmlal with the weights split by vld2, rounded
// and narrowed by vrshrn. vrow: vmull + vmlal of the two rows, float32 multiply then add (never fused), vcvtnq
// (round half to even; AArch64 conversions saturate, so no float clamp is needed), saturating narrows, and vst3
// interleaves RGB. row2 (YUV formats, when downscaling at least 2x vertically): both source rows staged in one
// pass, chroma terms computed once when they share a chroma row, straight to the output.
// Coverage: hrow for every format (RGB and gray outputs), vrow for every output type and channel order, row2 for
// NV12, I420 and YUYV (one source row converted once when it carries all the weight). Wide chroma loads may read
// into the next row (readable_row_bytes), so only a plane's last row stages exact bytes near its end.
// Window tables replace the staging where the taps of a few columns lie close together (built once per call):
// NV12 / I420 row2, 8 columns within 32 or 64 bytes (vqtbl2q / vqtbl4q), else 4 columns within 32 (two windows per
// 8 columns, vqtbl2q + vqtbx2q), 16 output pixels per step (build_windows, row2_win); RGB888 / BGR888 / RGBA8888
// hrow, 4 columns within 64 bytes (build_rgb_windows). The tables order each column's taps as base (the heavier)
// and other, so the interpolation of doubled taps is one vqrdmulh (hinterp2), and the clamp of a doubled tap is a
// saturating shift and an unsigned min (tap2). With mul == 1 (int8 models with scale 2/255 and zero point -1, or
// identity uint8) row2 converts a with 21 fraction bits instead of multiplying, and narrows without saturation
// when no value can leave the type's range (unit_norm).
// Instruction counts (qemu-aarch64 -cpu cortex-a53, TCG insn plugin, per frame, kernel called directly from C++):
// NV12 -> 224 int8: 1080p 1.23 M (was 1.89 M), 640x480 1.06 M (was 1.62 M); NV12 1080p -> 192x108 float32 0.58 M
// (was 0.99 M); RGB888 720p -> 224 uint8 1.48 M (was 2.55 M); reference 21.0 M at 1080p.
// What does not depend on the instruction set (staging, loops, tables, kernel selection) is in preprocess_simd.h.
#include <arm_neon.h>

#include <cmath>

#include "preprocess_simd.h"

namespace glassbridge::detail {
namespace {

// The small vector helpers must inline into the loops (GCC otherwise calls some, spilling registers around them):
// hence GB_INLINE (preprocess_simd.h) on them.

// Weights of 8 columns, split into w0 and w1 vectors.
struct W8 {
  int16x8_t w0, w1;
};

// (a * w0 + b * w1 + 2^(shift-1)) >> shift for 8 columns, narrowed to int16 (the values fit).
template <int kShift>
GB_INLINE int16x8_t hinterp(int16x8_t a, int16x8_t b, const W8& w) {
  const int32x4_t lo = vmlal_s16(vmull_s16(vget_low_s16(a), vget_low_s16(w.w0)), vget_low_s16(b), vget_low_s16(w.w1));
  const int32x4_t hi = vmlal_high_s16(vmull_high_s16(a, w.w0), b, w.w1);
  return vcombine_s16(vrshrn_n_s32(lo, kShift), vrshrn_n_s32(hi, kShift));
}

GB_INLINE int16x8_t widen(uint8x8_t v) { return vreinterpretq_s16_u16(vmovl_u8(v)); }

// A partial last block of 8 columns loads its taps from the plan, padded past dst.width with the last column and
// zero weights; its staged values are padded the same way (pad_stage).
static_assert(kColPad % 8 == 0, "blocks of 8 columns load their taps from the padded plan");

// ---- YUV 4:2:0 and YUYV ----------------------------------------------------------------------------------------
using YuvK = YuvConsts<128, 128>;  // yoff = y_offset * 128
GB_INLINE int16x8_t clamp_tap(int16x8_t v, const YuvK& k) { return vminq_s16(vmaxq_s16(v, k.zero), k.tmax); }
// mulhrs((Y - offset) * 128, ky): Y * 128 by a widening shift.
GB_INLINE int16x8_t luma6(uint8x8_t y, const YuvK& k) {
  return vqrdmulhq_s16(vsubq_s16(vreinterpretq_s16_u16(vshll_n_u8(y, 7)), k.yoff), k.ky);
}
// (C - 128) * 256 as int16: C << 8 by a widening shift, xor 0x8000.
GB_INLINE int16x8_t chroma(uint8x8_t c, const YuvK& k) {
  return vreinterpretq_s16_u16(veorq_u16(vshll_n_u8(c, 8), vreinterpretq_u16_s16(k.bias)));
}

// Chroma terms of 8 taps (ChromaTerms, preprocess_simd.h).
using Terms = ChromaTerms<128>;
GB_INLINE Terms terms(uint8x8_t u8, uint8x8_t v8, const YuvK& k) {
  const int16x8_t u = chroma(u8, k), v = chroma(v8, k);
  return Terms{vqrdmulhq_s16(v, k.kvr), vaddq_s16(vqrdmulhq_s16(u, k.kug), vqrdmulhq_s16(v, k.kvg)),
               vqrdmulhq_s16(u, k.kub)};
}
// Terms of tap a and tap b of 8 columns from their staged chroma quads (NV12 bytes U0 V0 U1 V1, I420 U0 U1 V0 V1;
// tap b takes the second sample where `odd` is set).
template <bool kI420>
GB_INLINE void column_terms(const uint32_t* cs, uint8x8_t odd, const YuvK& k, Terms& ta, Terms& tb) {
  const uint8x8x4_t q = vld4_u8(reinterpret_cast<const uint8_t*>(cs));
  const uint8x8_t ua = q.val[0], va = q.val[kI420 ? 2 : 1];
  ta = terms(ua, va, k);
  tb = terms(vbsl_u8(odd, q.val[kI420 ? 1 : 2], ua), vbsl_u8(odd, q.val[3], va), k);
}
// Parity of i0 for 8 columns as a byte mask.
GB_INLINE uint8x8_t odd_mask(const int32_t* i0) {
  const uint32x4_t one = vdupq_n_u32(1);
  const uint16x8_t par = vcombine_u16(vmovn_u32(vandq_u32(vreinterpretq_u32_s32(vld1q_s32(i0)), one)),
                                      vmovn_u32(vandq_u32(vreinterpretq_u32_s32(vld1q_s32(i0 + 4)), one)));
  return vmovn_u16(vtstq_u16(par, par));
}
// Q7 results of 8 columns from their staged Y pairs (16 bytes: a0 b0 a1 b1 ...) and the taps' chroma terms.
template <bool kGray>
GB_INLINE void finish_taps(uint8x8_t y_a, uint8x8_t y_b, const Terms& ta, const Terms& tb, const W8& w, const YuvK& k,
                           int16x8_t* res) {
  const int16x8_t ya = luma6(y_a, k), yb = luma6(y_b, k);
  if constexpr (kGray) {
    res[0] = hinterp<kHShift>(clamp_tap(ya, k), clamp_tap(yb, k), w);
  } else {
    // R and B may exceed int16 before the clamp (limited range): saturating adds clamp to the same kTapMax.
    res[0] = hinterp<kHShift>(clamp_tap(vqaddq_s16(ya, ta.rv), k), clamp_tap(vqaddq_s16(yb, tb.rv), k), w);
    res[1] = hinterp<kHShift>(clamp_tap(vsubq_s16(ya, ta.guv), k), clamp_tap(vsubq_s16(yb, tb.guv), k), w);
    res[2] = hinterp<kHShift>(clamp_tap(vqaddq_s16(ya, ta.bu), k), clamp_tap(vqaddq_s16(yb, tb.bu), k), w);
  }
}
template <bool kGray>
GB_INLINE void finish(const uint16_t* ys, const Terms& ta, const Terms& tb, const W8& w, const YuvK& k, int16x8_t* res) {
  const uint8x8x2_t y = vld2_u8(reinterpret_cast<const uint8_t*>(ys));  // tap a, tap b
  finish_taps<kGray>(y.val[0], y.val[1], ta, tb, w, k, res);
}

// Staging of one row. NV12: Y pair at i0, [U0 V0 U1 V1] at 2 * (i0 >> 1); I420: [U0 U1 V0 V1] from the pairs at
// i0 >> 1; YUYV: Y(x) Y(x+1) and [U(x) V(x) U(x+1) V(x+1)] (tap b's chroma explicit, so converted as odd).
template <PixelFormat kFmt>
struct YuvRow : YuvRowPtrs {
  int limit;  // wide chroma loads stay inside the bytes readable from the row's start for i0 below this

  YuvRow(const Plan& p, int sy) : YuvRowPtrs(p, sy, kFmt == PixelFormat::I420) {
    // Only the last chroma row limits the wide loads (readable_row_bytes): the others may read into the next row.
    const int cw = (p.src_width + 1) / 2, ch = (p.src_height + 1) / 2;
    if (kFmt == PixelFormat::NV12) {  // 4 bytes at 2 * (i0 >> 1)
      const int c = readable_row_bytes(p.stride[1], ch, sy >> 1, 2 * cw);
      limit = c < 4 ? 0 : (c - 4) / 2 * 2 + 2;
    } else if (kFmt == PixelFormat::I420) {  // 2 bytes at i0 >> 1 of U and of V
      const int c = std::min(readable_row_bytes(p.stride[1], ch, sy >> 1, cw),
                             readable_row_bytes(p.stride[2], ch, sy >> 1, cw));
      limit = 2 * c - 3;
    } else {
      limit = INT_MAX;
    }
  }

  // The Y pair of column x (i0 + 1 < width always).
  uint16_t y_pair(int x) const {
    if (kFmt == PixelFormat::YUYV) return static_cast<uint16_t>(yrow[2 * x] | yrow[2 * x + 2] << 8);
    return load_raw<uint16_t>(yrow + x);
  }
  // The chroma quad of column x with wide loads (only for x < limit).
  uint32_t c_wide(int x) const {
    if (kFmt == PixelFormat::I420) {
      return load_raw<uint16_t>(c1 + (x >> 1)) | static_cast<uint32_t>(load_raw<uint16_t>(c2 + (x >> 1))) << 16;
    }
    if (kFmt == PixelFormat::NV12) return load_raw<uint32_t>(c1 + 2 * (x >> 1));
    return c_exact(x);
  }
  // The same from exact byte loads.
  uint32_t c_exact(int x) const {
    const int ca = x >> 1, cb = (x + 1) >> 1;
    if (kFmt == PixelFormat::YUYV) {
      const uint8_t* a = yrow + 4 * ca;
      const uint8_t* b = yrow + 4 * cb;
      return a[1] | static_cast<uint32_t>(a[3]) << 8 | static_cast<uint32_t>(b[1]) << 16 |
             static_cast<uint32_t>(b[3]) << 24;
    }
    if (kFmt == PixelFormat::I420) {
      return c1[ca] | static_cast<uint32_t>(c1[cb]) << 8 | static_cast<uint32_t>(c2[ca]) << 16 |
             static_cast<uint32_t>(c2[cb]) << 24;
    }
    return c1[2 * ca] | static_cast<uint32_t>(c1[2 * ca + 1]) << 8 | static_cast<uint32_t>(c1[2 * cb]) << 16 |
           static_cast<uint32_t>(c1[2 * cb + 1]) << 24;
  }

  void stage_y(const int32_t* i0, int n, uint16_t* ys) const {
    for (int j = 0; j < n; ++j) ys[j] = y_pair(i0[j]);
    pad_stage(ys, n);
  }
  void stage_c(const int32_t* i0, int n, int n_safe, uint32_t* cs) const {
    for (int j = 0; j < n_safe; ++j) cs[j] = c_wide(i0[j]);
    for (int j = n_safe; j < n; ++j) cs[j] = c_exact(i0[j]);
    pad_stage(cs, n);
  }
};

template <PixelFormat kFmt>
GB_INLINE uint8x8_t tap_b_mask(const int32_t* i0) {
  return kFmt == PixelFormat::YUYV ? vdup_n_u8(0xff) : odd_mask(i0);
}

// hrow for the YUV formats.
template <PixelFormat kFmt, bool kGray>
struct YuvHrow {
  static constexpr bool kI420 = kFmt == PixelFormat::I420;
  const Plan& p;
  YuvRow<kFmt> row;
  YuvK k;
  alignas(16) uint16_t ys[kStage];
  alignas(16) uint32_t cs[kStage];

  YuvHrow(const Plan& pl, int sy) : p(pl), row(pl, sy), k(pl.yuv()) {}
  int limit() const { return kGray ? INT_MAX : row.limit; }
  void stage(const int32_t* i0, int n, int n_safe) {
    row.stage_y(i0, n, ys);
    if (!kGray) row.stage_c(i0, n, n_safe, cs);
  }
  void compute(int j, const int32_t* i0, const W8& w, int16x8_t* res) const {
    Terms ta{}, tb{};
    if constexpr (!kGray) column_terms<kI420>(cs + j, tap_b_mask<kFmt>(i0), k, ta, tb);
    finish<kGray>(ys + j, ta, tb, w, k, res);
  }
};

// ---- RGB888 / BGR888 / RGBA8888 ----------------------------------------------------------------------------------
template <int kBpp, bool kBgr>
struct RgbTables {
  uint8x16_t tbl_r, tbl_g, tbl_b;  // [tap a of columns 0-7 | tap b of columns 0-7] from 8-byte records

  RgbTables() {
    const int ro = kBgr ? 2 : 0, bo = kBgr ? 0 : 2;
    uint8_t r[16], g[16], b[16];
    for (int c = 0; c < 8; ++c) {
      for (int t = 0; t < 2; ++t) {
        r[8 * t + c] = static_cast<uint8_t>(8 * c + t * kBpp + ro);
        g[8 * t + c] = static_cast<uint8_t>(8 * c + t * kBpp + 1);
        b[8 * t + c] = static_cast<uint8_t>(8 * c + t * kBpp + bo);
      }
    }
    tbl_r = vld1q_u8(r);
    tbl_g = vld1q_u8(g);
    tbl_b = vld1q_u8(b);
  }
};

template <int kBpp, bool kBgr>
struct Rgb : RgbTables<kBpp, kBgr>, StagedRgb<kBpp> {  // the tables before the staging buffer
  using StagedRgb<kBpp>::StagedRgb;

  // (R * kGrayR + G * kGrayG + B * kGrayB + 128) >> 8 for 8 taps.
  static int16x8_t gray_taps(uint8x8_t r, uint8x8_t g, uint8x8_t b) {
    const uint16x8_t r16 = vmovl_u8(r), g16 = vmovl_u8(g), b16 = vmovl_u8(b);
    uint32x4_t lo = vmull_n_u16(vget_low_u16(r16), kGrayR);
    lo = vmlal_n_u16(lo, vget_low_u16(g16), kGrayG);
    lo = vmlal_n_u16(lo, vget_low_u16(b16), kGrayB);
    uint32x4_t hi = vmull_high_n_u16(r16, kGrayR);
    hi = vmlal_high_n_u16(hi, g16, kGrayG);
    hi = vmlal_high_n_u16(hi, b16, kGrayB);
    return vreinterpretq_s16_u16(vcombine_u16(vrshrn_n_u32(lo, 8), vrshrn_n_u32(hi, 8)));
  }

  void compute(int j, const int32_t*, const W8& w, int16x8_t* res) const {
    const uint8x16x4_t s = vld1q_u8_x4(reinterpret_cast<const uint8_t*>(this->st + j));
    const uint8x16_t r = vqtbl4q_u8(s, this->tbl_r), g = vqtbl4q_u8(s, this->tbl_g), b = vqtbl4q_u8(s, this->tbl_b);
    if (this->gray) {
      res[0] = hinterp<kHShift>(gray_taps(vget_low_u8(r), vget_low_u8(g), vget_low_u8(b)),
                                gray_taps(vget_high_u8(r), vget_high_u8(g), vget_high_u8(b)), w);
      return;
    }
    res[0] = hinterp<kRawShift>(widen(vget_low_u8(r)), widen(vget_high_u8(r)), w);
    res[1] = hinterp<kRawShift>(widen(vget_low_u8(g)), widen(vget_high_u8(g)), w);
    res[2] = hinterp<kRawShift>(widen(vget_low_u8(b)), widen(vget_high_u8(b)), w);
  }
};

// ---- RGB565 ------------------------------------------------------------------------------------------------------
struct Rgb565 : StagedRgb565 {
  using StagedRgb565::StagedRgb565;

  // R5 * 1024, G6 * 512, B5 * 1024, then the rounding Q15 multiplies of rgb565_to_rgb6.
  static void decode(uint16x8_t px, int16x8_t& r, int16x8_t& g, int16x8_t& b) {
    r = vqrdmulhq_n_s16(vreinterpretq_s16_u16(vandq_u16(vshrq_n_u16(px, 1), vdupq_n_u16(0x7C00))),
                        static_cast<int16_t>(k565R));
    g = vqrdmulhq_n_s16(vreinterpretq_s16_u16(vandq_u16(vshlq_n_u16(px, 4), vdupq_n_u16(0x7E00))),
                        static_cast<int16_t>(k565G));
    b = vqrdmulhq_n_s16(vreinterpretq_s16_u16(vandq_u16(vshlq_n_u16(px, 10), vdupq_n_u16(0x7C00))),
                        static_cast<int16_t>(k565R));
  }
  // (r * kGrayR + g * kGrayG + b * kGrayB + 8192) >> 14 for 8 taps.
  static int16x8_t gray6(int16x8_t r, int16x8_t g, int16x8_t b) {
    int32x4_t lo = vmull_n_s16(vget_low_s16(r), kGrayR);
    lo = vmlal_n_s16(lo, vget_low_s16(g), kGrayG);
    lo = vmlal_n_s16(lo, vget_low_s16(b), kGrayB);
    int32x4_t hi = vmull_high_n_s16(r, kGrayR);
    hi = vmlal_high_n_s16(hi, g, kGrayG);
    hi = vmlal_high_n_s16(hi, b, kGrayB);
    return vcombine_s16(vrshrn_n_s32(lo, 14), vrshrn_n_s32(hi, 14));
  }

  void compute(int j, const int32_t*, const W8& w, int16x8_t* res) const {
    const uint16x8x2_t px = vld2q_u16(reinterpret_cast<const uint16_t*>(st + j));  // tap a, tap b
    int16x8_t ra, ga, ba, rb, gb, bb;
    decode(px.val[0], ra, ga, ba);
    decode(px.val[1], rb, gb, bb);
    if (gray) {
      res[0] = hinterp<kHShift>(gray6(ra, ga, ba), gray6(rb, gb, bb), w);
      return;
    }
    res[0] = hinterp<kHShift>(ra, rb, w);
    res[1] = hinterp<kHShift>(ga, gb, w);
    res[2] = hinterp<kHShift>(ba, bb, w);
  }
};

// ---- GRAY8 -------------------------------------------------------------------------------------------------------
struct Gray8 : StagedGray8 {
  using StagedGray8::StagedGray8;
  void compute(int j, const int32_t*, const W8& w, int16x8_t* res) const {
    const uint8x8x2_t px = vld2_u8(reinterpret_cast<const uint8_t*>(st + j));
    res[0] = hinterp<kRawShift>(widen(px.val[0]), widen(px.val[1]), w);
  }
};

template <typename Fmt>
void hrow_neon(const Plan& p, int sy, int x0, int x1, int16_t* const* rows) {
  int16x8_t res[3] = {vdupq_n_s16(0), vdupq_n_s16(0), vdupq_n_s16(0)};
  const int planes = p.row_planes;
  hrow_staged<Fmt>(p, sy, x0, x1, [&](const Fmt& f, int j, int ox) GB_LAMBDA_INLINE {
    // A partial last block loads the padded taps; its extra columns land in the row slack.
    const int16x8x2_t w = vld2q_s16(p.x.w.data() + 2 * ox);
    f.compute(j, p.x.i0.data() + ox, W8{w.val[0], w.val[1]}, res);
    for (int pl = 0; pl < planes; ++pl) vst1q_s16(rows[pl] + ox, res[pl]);
  });
}

template <typename Fmt>
struct Hrow {  // for select_kernels
  static constexpr HRowFn fn = hrow_neon<Fmt>;
};

// ---- vrow --------------------------------------------------------------------------------------------------------
// 8 output pixels from columns ox .. ox + 7 of the row planes.
inline void vrow_block(const Plan& p, const int16_t* const* top, const int16_t* const* bot, int16x8_t wy0,
                       int16x8_t wy1, int ox, uint8_t* o) {
  const bool is_float = p.type == OutputType::Float32, is_u8 = p.type == OutputType::UInt8;
  float32x4x3_t f[2];
  uint8x8x3_t bytes;
  for (int j = 0; j < p.out_channels; ++j) {
    const int pl = p.perm[j];
    const int16x8_t t = vld1q_s16(top[pl] + ox), b = vld1q_s16(bot[pl] + ox);
    const int32x4_t acc_lo =
        vmlal_s16(vmull_s16(vget_low_s16(t), vget_low_s16(wy0)), vget_low_s16(b), vget_low_s16(wy1));
    const int32x4_t acc_hi = vmlal_high_s16(vmull_high_s16(t, wy0), b, wy1);
    const float32x4_t mk = vdupq_n_f32(p.mulk[j]), ad = vdupq_n_f32(p.add[j]);
    const float32x4_t ya = vaddq_f32(vmulq_f32(vcvtq_f32_s32(acc_lo), mk), ad);
    const float32x4_t yb = vaddq_f32(vmulq_f32(vcvtq_f32_s32(acc_hi), mk), ad);
    if (is_float) {
      f[0].val[j] = ya;
      f[1].val[j] = yb;
    } else {
      // No float clamp needed: AArch64 float -> int conversion saturates (and the clamp bounds are integers), so
      // the saturating narrows give exactly round(clamp(y)).
      const int16x8_t q = vcombine_s16(vqmovn_s32(vcvtnq_s32_f32(ya)), vqmovn_s32(vcvtnq_s32_f32(yb)));
      bytes.val[j] = is_u8 ? vqmovun_s16(q) : vreinterpret_u8_s8(vqmovn_s16(q));
    }
  }
  if (is_float) {
    float* of = reinterpret_cast<float*>(o);
    if (p.out_channels == 1) {
      vst1q_f32(of, f[0].val[0]);
      vst1q_f32(of + 4, f[1].val[0]);
    } else {
      vst3q_f32(of, f[0]);
      vst3q_f32(of + 12, f[1]);
    }
  } else if (p.out_channels == 1) {
    vst1_u8(o, bytes.val[0]);
  } else {
    vst3_u8(o, bytes);
  }
}

void vrow_neon(const Plan& p, const int16_t* const* top, const int16_t* const* bot, int wy0, int wy1, int x0, int x1,
               uint8_t* out) {
  const int16x8_t w0 = vdupq_n_s16(static_cast<int16_t>(wy0)), w1 = vdupq_n_s16(static_cast<int16_t>(wy1));
  vrow_blocks<8, 16>(p, x0, x1, out,
                     [&](int ox, uint8_t* o) GB_LAMBDA_INLINE { vrow_block(p, top, bot, w0, w1, ox, o); });
}

// ---- window tables (NV12, I420 row2) -------------------------------------------------------------------------
// When the taps of 8 consecutive output columns span at most 32 (or 64) source bytes (downscales up to about 4x,
// or 8.8x), a 32-byte (64-byte) window load and vqtbl2q (vqtbl4q) replace the scalar staging of each column's pair:
// both taps of 8 columns come out of one table lookup. The indices depend only on the columns, so they are built
// once per call. Plan::isa_cols[0] holds the window size in bytes; then per 8-column group g, kWinInts int32 at
// isa_cols[kWinInts * (g + 1)]: [0] the Y window offset (i0 of the group's first column), [1] the chroma window
// offset, then bytes: [4..7] the Y indices (the base tap of columns 0-7, then the other tap), [8..11] NV12: U then V
// of the base tap, or I420: the base tap then the other tap (for the U and the V plane alike), [12..15] NV12: U then
// V of the other tap; [16..19] 8 int16: 2 * the other tap's weight.
//
// Base and other tap: the one with the larger weight is the base, so the other's weight w is at most 2^13 (a tap
// pair is symmetric in the interpolation). With taps doubled (T = 2 t, clamped to 0 .. 2 * kTapMax by one
// saturating shift and one unsigned min), (t_base * (2^14 - w) + t_other * w + 2^12) >> 13 equals
// T_base + ((T_other - T_base) * 2w * 2 + 2^15) >> 16, which is one vqrdmulh (T_base * 2^13 is exact in the sum;
// T_other - T_base and 2w fit int16): 3 instructions per 8 columns and channel instead of 6.
constexpr int kWinInts = 20;
// The split table (isa_cols[0] == kSplitWin): two windows of 32 bytes per 8-column group, one per 4 columns, each
// group kSplitInts int32 at isa_cols[kSplitInts * (g + 1)]: [0, 1] the Y window offsets, [2, 3] the chroma window
// offsets, then index bytes laid out as above but one vector per window (the other window's lanes 0xff): [4..7]
// and [8..11] Y, [12..15] and [16..19] NV12 U, V of the base tap or I420 both taps, [20..23] and [24..27] NV12 U,
// V of the other tap; [28..31] 2 * the other tap's weights.
constexpr int kSplitInts = 32;
constexpr int kSplitWin = 0;  // isa_cols[0] and the kWin of the kernels for the split table

// The int32 per group of the table a row2_win<kWin> reads (its last 4 hold the weights).
template <int kWin>
constexpr int kGroupInts = kWin == kSplitWin ? kSplitInts : kWinInts;

template <bool split>
bool build_windows_t(Plan& p, bool i420, int bytes) {
  constexpr int ints = split ? kSplitInts : kWinInts;
  // Byte offsets in a group of the index vectors of window `lane` (split; else the one window): Y, the chroma of
  // tap a, of tap b (NV12; before the base / other swap below).
  const auto y_idx = [](int lane) { return 16 + (split ? 16 * lane : 0); };
  const auto ca_idx = [](int lane) { return split ? 48 + 16 * lane : 32; };
  const auto cb_idx = [](int lane) { return split ? 80 + 16 * lane : 48; };
  const auto put_col = [&](int32_t* t, int lane, int m, int dy, int ca, int cb) {
    uint8_t* b = reinterpret_cast<uint8_t*>(t);
    const int j = split ? 4 * lane + m : m;  // the output lane
    b[y_idx(lane) + j] = static_cast<uint8_t>(dy);
    b[y_idx(lane) + 8 + j] = static_cast<uint8_t>(dy + 1);
    if (i420) {
      b[ca_idx(lane) + j] = static_cast<uint8_t>(ca);
      b[ca_idx(lane) + 8 + j] = static_cast<uint8_t>(cb);
    } else {
      b[ca_idx(lane) + j] = static_cast<uint8_t>(ca);
      b[ca_idx(lane) + 8 + j] = static_cast<uint8_t>(ca + 1);
      b[cb_idx(lane) + j] = static_cast<uint8_t>(cb);
      b[cb_idx(lane) + 8 + j] = static_cast<uint8_t>(cb + 1);
    }
  };
  bool ok;
  if constexpr (split) {
    ok = build_window_table<4, 2, kSplitInts>(
        p, i420, 32, kSplitInts,
        [](int32_t* t, int lane, int yo, int co) {
          if (lane == 0) std::memset(t + 4, 0xff, 24 * sizeof(int32_t));  // lanes of the other window
          t[lane] = yo;
          t[2 + lane] = co;
        },
        put_col);
  } else {
    ok = build_window_table<8, 1, kWinInts>(
        p, i420, bytes, kWinInts,
        [](int32_t* t, int, int yo, int co) {
          t[0] = yo;
          t[1] = co;
        },
        put_col);
  }
  if (!ok) return false;
  p.isa_cols[0] = bytes;
  // Base and other tap per column: tap a unless tap b weighs more; the other tap's weight, doubled.
  const int groups = static_cast<int>(p.x.i0.size()) / 8;
  for (int g = 0; g < groups; ++g) {
    int32_t* t = p.isa_cols.data() + static_cast<size_t>(ints) * (g + 1);
    uint8_t* b = reinterpret_cast<uint8_t*>(t);
    int16_t w2[8];
    for (int j = 0; j < 8; ++j) {
      const int x = 8 * g + j;
      const int w0 = p.x.w[2 * static_cast<size_t>(x)], w1 = p.x.w[2 * static_cast<size_t>(x) + 1];
      int w = w1;
      if (w1 > w0) {  // tap b is the base
        w = w0;
        const int lane = split ? j / 4 : 0;
        std::swap(b[y_idx(lane) + j], b[y_idx(lane) + 8 + j]);
        if (i420) {
          std::swap(b[ca_idx(lane) + j], b[ca_idx(lane) + 8 + j]);
        } else {
          std::swap(b[ca_idx(lane) + j], b[cb_idx(lane) + j]);
          std::swap(b[ca_idx(lane) + 8 + j], b[cb_idx(lane) + 8 + j]);
        }
      }
      w2[j] = static_cast<int16_t>(2 * w);  // w <= 2^13 (w0 + w1 == 2^14, or both 0 past dst.width)
    }
    std::memcpy(t + ints - 4, w2, sizeof w2);
  }
  return true;
}
bool build_windows(Plan& p, bool i420, int bytes) {
  return bytes == kSplitWin ? build_windows_t<true>(p, i420, bytes) : build_windows_t<false>(p, i420, bytes);
}

GB_INLINE uint8x16_t win_idx(const int32_t* t, int k) { return vld1q_u8(reinterpret_cast<const uint8_t*>(t + k)); }

// The bytes of one window (kBytes from row + off), to pick from with tbl (window_pick).
template <int kBytes>
struct Win {
  std::conditional_t<kBytes == 32, uint8x16x2_t, uint8x16x4_t> v;
  GB_INLINE Win(const uint8_t* row, int off) {
    if constexpr (kBytes == 32) v = vld1q_u8_x2(row + off);
    else v = vld1q_u8_x4(row + off);
  }
  GB_INLINE uint8x16_t pick(uint8x16_t idx) const {
    if constexpr (kBytes == 32) return vqtbl2q_u8(v, idx);
    else return vqtbl4q_u8(v, idx);
  }
};

// (C - 128) * 256 of 16 chroma bytes as two int16x8 (low and high 8 bytes): xor 0x80 gives C - 128 as int8, and the
// widening shift by 8 puts it in the high byte, sign included.
GB_INLINE void chroma16(uint8x16_t c, int16x8_t& lo, int16x8_t& hi) {
  const int8x16_t s = vreinterpretq_s8_u8(veorq_u8(c, vdupq_n_u8(0x80)));
  lo = vshll_n_s8(vget_low_s8(s), 8);
  hi = vshll_high_n_s8(s, 8);
}
// The constants of window_row: the BT.601 coefficients (ky, kvr, kug, kvg, kub), yoff as in YuvK, and 2 * kTapMax.
// kLanes: the coefficients as lanes of one register (vqrdmulh by lane), which holds fewer registers across the
// loop; measured better with 32-byte windows, worse with 64-byte ones (vqtbl4q's four consecutive registers).
template <bool kLanes>
struct WinK {
  int16x8_t yoff, c[5];  // kLanes: c[0] holds all five
  uint16x8_t tmax2;
  explicit WinK(const YuvCoeffs& k)
      : yoff(vdupq_n_s16(static_cast<int16_t>(k.y_offset * 128))), tmax2(vdupq_n_u16(2 * kTapMax)) {
    const int16_t c8[8] = {static_cast<int16_t>(k.ky),  static_cast<int16_t>(k.kvr), static_cast<int16_t>(k.kug),
                           static_cast<int16_t>(k.kvg), static_cast<int16_t>(k.kub), 0, 0, 0};
    if constexpr (kLanes) {
      c[0] = vld1q_s16(c8);
    } else {
      for (int i = 0; i < 5; ++i) c[i] = vdupq_n_s16(c8[i]);
    }
  }
  // vqrdmulh by coefficient i (0 ky, 1 kvr, 2 kug, 3 kvg, 4 kub).
  template <int kI>
  GB_INLINE int16x8_t mul(int16x8_t x) const {
    if constexpr (kLanes) return vqrdmulhq_laneq_s16(x, c[0], kI);
    else return vqrdmulhq_s16(x, c[kI]);
  }
};
template <typename K>
GB_INLINE Terms terms16(int16x8_t u, int16x8_t v, const K& k) {
  return Terms{k.template mul<1>(v), vaddq_s16(k.template mul<2>(u), k.template mul<3>(v)), k.template mul<4>(u)};
}

// A tap doubled and clamped: 2 * clamp(v, 0, kTapMax) from v (int16, saturated sums saturate the same way).
GB_INLINE int16x8_t tap2(int16x8_t v, uint16x8_t tmax2) {
  return vreinterpretq_s16_u16(vminq_u16(vqshluq_n_s16(v, 1), tmax2));
}
// Q7 interpolation of doubled taps (see above): T_base + vqrdmulh(T_other - T_base, 2w).
GB_INLINE int16x8_t hinterp2(int16x8_t tb, int16x8_t to, int16x8_t w2) {
  return vaddq_s16(tb, vqrdmulhq_s16(vsubq_s16(to, tb), w2));
}

// The taps of window group t: the Y bytes (the base tap of columns 0-7, then the other tap), and the chroma bytes:
// NV12 c0: U then V of the base tap, c1: of the other; I420 c0: U of base then other, c1: V of the same. kWin 32 or
// 64: one window per group; kSplitWin: two 32-byte windows of 4 columns each, vqtbl2q for the first half's lanes
// and vqtbx2q for the second's (an index out of range keeps the lane).
template <PixelFormat kFmt, int kWin>
struct WinPick {
  static GB_INLINE uint8x16_t y(const YuvRow<kFmt>& r, const int32_t* t) {
    if constexpr (kWin == kSplitWin) {
      return vqtbx2q_u8(vqtbl2q_u8(vld1q_u8_x2(r.yrow + t[0]), win_idx(t, 4)), vld1q_u8_x2(r.yrow + t[1]),
                        win_idx(t, 8));
    } else {
      return Win<kWin>(r.yrow, t[0]).pick(win_idx(t, 4));
    }
  }
  static GB_INLINE void chroma(const YuvRow<kFmt>& r, const int32_t* t, uint8x16_t& c0, uint8x16_t& c1) {
    if constexpr (kWin == kSplitWin) {
      if constexpr (kFmt == PixelFormat::I420) {
        c0 = vqtbx2q_u8(vqtbl2q_u8(vld1q_u8_x2(r.c1 + t[2]), win_idx(t, 12)), vld1q_u8_x2(r.c1 + t[3]),
                        win_idx(t, 16));
        c1 = vqtbx2q_u8(vqtbl2q_u8(vld1q_u8_x2(r.c2 + t[2]), win_idx(t, 12)), vld1q_u8_x2(r.c2 + t[3]),
                        win_idx(t, 16));
      } else {
        const uint8x16x2_t w0 = vld1q_u8_x2(r.c1 + t[2]), w1 = vld1q_u8_x2(r.c1 + t[3]);
        c0 = vqtbx2q_u8(vqtbl2q_u8(w0, win_idx(t, 12)), w1, win_idx(t, 16));
        c1 = vqtbx2q_u8(vqtbl2q_u8(w0, win_idx(t, 20)), w1, win_idx(t, 24));
      }
    } else if constexpr (kFmt == PixelFormat::I420) {
      c0 = Win<kWin>(r.c1, t[1]).pick(win_idx(t, 8));
      c1 = Win<kWin>(r.c2, t[1]).pick(win_idx(t, 8));
    } else {
      const Win<kWin> w(r.c1, t[1]);
      c0 = w.pick(win_idx(t, 8));
      c1 = w.pick(win_idx(t, 12));
    }
  }
};

// Q7 results of the 8 columns of window group t for one row (chroma terms of the base and the other tap: computed
// here unless `shared`).
template <PixelFormat kFmt, bool kGray, int kWin, typename K>
GB_INLINE void window_row(const YuvRow<kFmt>& r, const int32_t* t, int16x8_t w2, const K& k, Terms& ta,
                          Terms& tb, bool shared, int16x8_t* res) {
  const uint16x8_t tmax2 = k.tmax2;
  if constexpr (!kGray) {
    if (!shared) {
      uint8x16_t b0, b1;
      WinPick<kFmt, kWin>::chroma(r, t, b0, b1);
      int16x8_t c0, c1, c2, c3;
      chroma16(b0, c0, c1);
      chroma16(b1, c2, c3);
      if constexpr (kFmt == PixelFormat::I420) {  // c0 U base, c1 U other, c2 V base, c3 V other
        ta = terms16(c0, c2, k);
        tb = terms16(c1, c3, k);
      } else {  // c0 U base, c1 V base, c2 U other, c3 V other
        ta = terms16(c0, c1, k);
        tb = terms16(c2, c3, k);
      }
    }
  }
  const uint8x16_t y = WinPick<kFmt, kWin>::y(r, t);
  const int16x8_t ya = k.template mul<0>(vsubq_s16(vreinterpretq_s16_u16(vshll_n_u8(vget_low_u8(y), 7)), k.yoff));
  const int16x8_t yb = k.template mul<0>(vsubq_s16(vreinterpretq_s16_u16(vshll_high_n_u8(y, 7)), k.yoff));
  if constexpr (kGray) {
    res[0] = hinterp2(tap2(ya, tmax2), tap2(yb, tmax2), w2);
  } else {
    // R and B may exceed int16 before the clamp (limited range): saturating adds clamp to the same kTapMax.
    res[0] = hinterp2(tap2(vqaddq_s16(ya, ta.rv), tmax2), tap2(vqaddq_s16(yb, tb.rv), tmax2), w2);
    res[1] = hinterp2(tap2(vsubq_s16(ya, ta.guv), tmax2), tap2(vsubq_s16(yb, tb.guv), tmax2), w2);
    res[2] = hinterp2(tap2(vqaddq_s16(ya, ta.bu), tmax2), tap2(vqaddq_s16(yb, tb.bu), tmax2), w2);
  }
}

// ---- row2: both source rows straight to the output (YUV formats) ------------------------------------------------
// 8 output pixels from normalised values of channel j: y[j][0] columns 0-3, y[j][1] columns 4-7.
template <OutputType kType, int kCh>
GB_INLINE void emit8(const float32x4_t (&y)[3][2], uint8_t* o) {
  if constexpr (kType == OutputType::Float32) {
    float* of = reinterpret_cast<float*>(o);
    if constexpr (kCh == 1) {
      vst1q_f32(of, y[0][0]);
      vst1q_f32(of + 4, y[0][1]);
    } else {
      vst3q_f32(of, float32x4x3_t{{y[0][0], y[1][0], y[2][0]}});
      vst3q_f32(of + 12, float32x4x3_t{{y[0][1], y[1][1], y[2][1]}});
    }
  } else {
    // AArch64 float -> int conversion saturates: no float clamp needed (see vrow_block).
    const auto q8 = [&](int j) GB_LAMBDA_INLINE {
      const int16x8_t q = vqmovn_high_s32(vqmovn_s32(vcvtnq_s32_f32(y[j][0])), vcvtnq_s32_f32(y[j][1]));
      return kType == OutputType::UInt8 ? vqmovun_s16(q) : vreinterpret_u8_s8(vqmovn_s16(q));
    };
    if constexpr (kCh == 1) {
      vst1_u8(o, q8(0));
    } else {
      uint8x8x3_t b;
      b.val[0] = q8(0);
      b.val[1] = q8(1);
      b.val[2] = q8(2);
      vst3_u8(o, b);
    }
  }
}

// Vertical interpolation of 8 columns' Q7 results, normalisation and the store (the last partial block through a
// buffer). kOne: a = h * 2^14, what the multiply-accumulate gives when one row carries all the weight.
template <OutputType kType, int kCh, bool kBgr, bool kOne>
GB_INLINE void vertical_emit(const Plan& p, const int16x8_t* ht, const int16x8_t* hb, int16x8_t w0, int16x8_t w1,
                             const float32x4_t* mk, const float32x4_t* ad, int ox, int x1, uint8_t* out) {
  float32x4_t y[3][2];
  for (int ch = 0; ch < kCh; ++ch) {
    const int pl = kBgr ? 2 - ch : ch;
    int32x4_t lo, hi;
    if constexpr (kOne) {
      lo = vshll_n_s16(vget_low_s16(ht[pl]), kWeightBits);
      hi = vshll_high_n_s16(ht[pl], kWeightBits);
    } else {
      lo = vmlal_s16(vmull_s16(vget_low_s16(ht[pl]), vget_low_s16(w0)), vget_low_s16(hb[pl]), vget_low_s16(w1));
      hi = vmlal_high_s16(vmull_high_s16(ht[pl], w0), hb[pl], w1);
    }
    y[ch][0] = vaddq_f32(vmulq_f32(vcvtq_f32_s32(lo), mk[ch]), ad[ch]);
    y[ch][1] = vaddq_f32(vmulq_f32(vcvtq_f32_s32(hi), mk[ch]), ad[ch]);
  }
  emit_block<8, 16>(p, ox, x1, out, [&](uint8_t* o) GB_LAMBDA_INLINE { emit8<kType, kCh>(y, o); });
}

// kOne: ra == rb, one source row carries all the weight; it is staged and converted once, and a = h * 2^14 is what
// the vertical multiply-accumulate would give.
template <PixelFormat kFmt, bool kGray, bool kBgr, OutputType kType, bool kOne>
void row2_rows(const Plan& p, int ra, int rb, int wy0, int wy1, uint8_t* out) {
  constexpr bool kI420 = kFmt == PixelFormat::I420;
  constexpr int kCh = kGray ? 1 : 3;
  const YuvRow<kFmt> top(p, ra), bot(p, rb);
  const YuvK k(p.yuv());
  // Rows 2k and 2k + 1 of NV12 / I420 share a chroma row; YUYV rows never do.
  const bool same_chroma = kOne || (kFmt != PixelFormat::YUYV && (ra >> 1) == (rb >> 1));
  const int x1 = p.dst.width;
  const int limit = kGray ? INT_MAX : (kOne ? top.limit : std::min(top.limit, bot.limit));
  const int safe = std::min(x1, p.cols_with_i0_below(limit));
  const int16x8_t w0 = vdupq_n_s16(static_cast<int16_t>(wy0)), w1 = vdupq_n_s16(static_cast<int16_t>(wy1));
  const NormConsts<128, kCh> nk(p);
  const float32x4_t* mk = nk.mk;
  const float32x4_t* ad = nk.ad;
  alignas(16) uint16_t yt[kStage], yb[kStage];
  alignas(16) uint32_t ct[kStage], cb[kStage];
  for (int c = 0; c < x1; c += kChunk) {
    const int n = std::min(kChunk, x1 - c);
    const int n_safe = std::max(0, std::min(n, safe - c));
    const int32_t* i0 = p.x.i0.data() + c;
    // Both rows in one pass over the columns (one index load per column).
    if constexpr (kOne) {
      top.stage_y(i0, n, yt);
      if constexpr (!kGray) top.stage_c(i0, n, n_safe, ct);
    } else if constexpr (kGray) {
      for (int j = 0; j < n; ++j) {
        yt[j] = top.y_pair(i0[j]);
        yb[j] = bot.y_pair(i0[j]);
      }
    } else if (same_chroma) {
      for (int j = 0; j < n_safe; ++j) {
        const int x = i0[j];
        yt[j] = top.y_pair(x);
        yb[j] = bot.y_pair(x);
        ct[j] = top.c_wide(x);
      }
      for (int j = n_safe; j < n; ++j) {
        yt[j] = top.y_pair(i0[j]);
        yb[j] = bot.y_pair(i0[j]);
        ct[j] = top.c_exact(i0[j]);
      }
      pad_stage(ct, n);
    } else {
      for (int j = 0; j < n_safe; ++j) {
        const int x = i0[j];
        yt[j] = top.y_pair(x);
        yb[j] = bot.y_pair(x);
        ct[j] = top.c_wide(x);
        cb[j] = bot.c_wide(x);
      }
      for (int j = n_safe; j < n; ++j) {
        yt[j] = top.y_pair(i0[j]);
        yb[j] = bot.y_pair(i0[j]);
        ct[j] = top.c_exact(i0[j]);
        cb[j] = bot.c_exact(i0[j]);
      }
      pad_stage(ct, n);
      pad_stage(cb, n);
    }
    if constexpr (!kOne) {
      pad_stage(yt, n);
      pad_stage(yb, n);
    }
    for (int j = 0; j < n; j += 8) {
      const int ox = c + j;
      if ((ox & 15) == 0) p.prefetch.step();  // one step per 16 columns
      // A partial last block loads the padded taps (kColPad) and goes out through a buffer.
      const int32_t* ci = i0 + j;
      const int16x8x2_t wv = vld2q_s16(p.x.w.data() + 2 * ox);
      const W8 w{wv.val[0], wv.val[1]};
      Terms ta{}, tb{};
      int16x8_t ht[3], hb[3];
      uint8x8_t odd = vdup_n_u8(0);
      if constexpr (!kGray) {
        odd = tap_b_mask<kFmt>(ci);
        column_terms<kI420>(ct + j, odd, k, ta, tb);
      }
      finish<kGray>(yt + j, ta, tb, w, k, ht);
      if constexpr (!kOne) {
        if constexpr (!kGray) {
          if (!same_chroma) column_terms<kI420>(cb + j, odd, k, ta, tb);
        }
        finish<kGray>(yb + j, ta, tb, w, k, hb);
      }
      vertical_emit<kType, kCh, kBgr, kOne>(p, ht, hb, w0, w1, mk, ad, ox, x1, out);
    }
  }
}

// ---- row2 with window tables (NV12, I420) -------------------------------------------------------------------------
// 16 output pixels per step: two window groups of 8 columns per source row, the vertical interpolation and
// normalisation, one interleaving store. kUnit (see unit_norm): mul == 1 for every channel (mulk == 2^-21), so
// a * mulk is the conversion of a with 21 fraction bits, exactly (scaling by a power of two is exact in float32
// here); and for uint8 / int8, every rounded y lies in the type's range, so the narrowing keeps the low bytes.
template <OutputType kType, int kCh, bool kExact>
GB_INLINE void emit16(const float32x4_t (&y)[3][4], uint8_t* o) {
  if constexpr (kType == OutputType::Float32) {
    float* of = reinterpret_cast<float*>(o);
    for (int q = 0; q < 4; ++q) {
      if constexpr (kCh == 1) {
        vst1q_f32(of + 4 * q, y[0][q]);
      } else {
        float32x4x3_t v;
        v.val[0] = y[0][q];
        v.val[1] = y[1][q];
        v.val[2] = y[2][q];
        vst3q_f32(of + 12 * q, v);
      }
    }
  } else {
    // AArch64 float -> int conversion saturates: no float clamp needed (see vrow_block).
    const auto q8 = [&](int j) GB_LAMBDA_INLINE {
      if constexpr (kExact) {  // every rounded value is in the type's range: the low bytes are the result
        const int16x8_t lo = vuzp1q_s16(vreinterpretq_s16_s32(vcvtnq_s32_f32(y[j][0])),
                                        vreinterpretq_s16_s32(vcvtnq_s32_f32(y[j][1])));
        const int16x8_t hi = vuzp1q_s16(vreinterpretq_s16_s32(vcvtnq_s32_f32(y[j][2])),
                                        vreinterpretq_s16_s32(vcvtnq_s32_f32(y[j][3])));
        return vuzp1q_u8(vreinterpretq_u8_s16(lo), vreinterpretq_u8_s16(hi));
      }
      const int16x8_t lo = vqmovn_high_s32(vqmovn_s32(vcvtnq_s32_f32(y[j][0])), vcvtnq_s32_f32(y[j][1]));
      const int16x8_t hi = vqmovn_high_s32(vqmovn_s32(vcvtnq_s32_f32(y[j][2])), vcvtnq_s32_f32(y[j][3]));
      if constexpr (kType == OutputType::UInt8) return vqmovun_high_s16(vqmovun_s16(lo), hi);
      else return vreinterpretq_u8_s8(vqmovn_high_s16(vqmovn_s16(lo), hi));
    };
    if constexpr (kCh == 1) {
      vst1q_u8(o, q8(0));
    } else {
      uint8x16x3_t b;
      b.val[0] = q8(0);
      b.val[1] = q8(1);
      b.val[2] = q8(2);
      vst3q_u8(o, b);
    }
  }
}

template <PixelFormat kFmt, bool kGray, bool kBgr, OutputType kType, bool kOne, int kWin, bool kUnit>
void row2_win(const Plan& p, int ra, int rb, int wy0, int wy1, uint8_t* out) {
  constexpr int kCh = kGray ? 1 : 3;
  constexpr int kPix = kCh * (kType == OutputType::Float32 ? 4 : 1);  // == p.pixel_bytes
  const YuvRow<kFmt> top(p, ra), bot(p, rb);
  const WinK<kWin == 32> k(p.yuv());
  const bool same_chroma = kOne || (ra >> 1) == (rb >> 1);  // rows 2k and 2k + 1 share a chroma row
  const int x1 = p.dst.width;
  const int16x8_t w0 = vdupq_n_s16(static_cast<int16_t>(wy0)), w1 = vdupq_n_s16(static_cast<int16_t>(wy1));
  const NormConsts<128, kCh> nk(p);
  constexpr int kInts = kGroupInts<kWin>;
  const int32_t* t = p.isa_cols.data() + kInts;  // a local: prefetch.step() stores through the plan
  for (int ox = 0; ox < x1; ox += 16, t += 2 * kInts) {
    p.prefetch.step();  // one step per 16 columns
    int16x8_t ht[2][3], hb[2][3];
#pragma GCC unroll 2
    for (int g = 0; g < 2; ++g) {  // the padded taps (kColPad) make whole groups
      const int32_t* tg = t + g * kInts;
      const int16x8_t w2 = vld1q_s16(reinterpret_cast<const int16_t*>(tg + kInts - 4));
      Terms ta{}, tb{};
      window_row<kFmt, kGray, kWin>(top, tg, w2, k, ta, tb, false, ht[g]);
      if constexpr (!kOne) window_row<kFmt, kGray, kWin>(bot, tg, w2, k, ta, tb, same_chroma, hb[g]);
    }
    float32x4_t y[3][4];
    for (int ch = 0; ch < kCh; ++ch) {
      const int pl = kBgr ? 2 - ch : ch;
      for (int g = 0; g < 2; ++g) {
        int32x4_t lo, hi;
        if constexpr (kOne) {
          lo = vshll_n_s16(vget_low_s16(ht[g][pl]), kWeightBits);
          hi = vshll_high_n_s16(ht[g][pl], kWeightBits);
        } else {
          lo = vmlal_s16(vmull_s16(vget_low_s16(ht[g][pl]), vget_low_s16(w0)), vget_low_s16(hb[g][pl]),
                         vget_low_s16(w1));
          hi = vmlal_high_s16(vmull_high_s16(ht[g][pl], w0), hb[g][pl], w1);
        }
        if constexpr (kUnit) {
          y[ch][2 * g] = vaddq_f32(vcvtq_n_f32_s32(lo, kAccFrac), nk.ad[ch]);
          y[ch][2 * g + 1] = vaddq_f32(vcvtq_n_f32_s32(hi, kAccFrac), nk.ad[ch]);
        } else {
          y[ch][2 * g] = vaddq_f32(vmulq_f32(vcvtq_f32_s32(lo), nk.mk[ch]), nk.ad[ch]);
          y[ch][2 * g + 1] = vaddq_f32(vmulq_f32(vcvtq_f32_s32(hi), nk.mk[ch]), nk.ad[ch]);
        }
      }
    }
    uint8_t* o = out + static_cast<size_t>(ox) * kPix;
    if (ox + 16 <= x1) {
      emit16<kType, kCh, kUnit>(y, o);
    } else {  // the row's last partial block through a buffer
      alignas(16) uint8_t buf[16 * kPix];
      emit16<kType, kCh, kUnit>(y, buf);
      std::memcpy(o, buf, static_cast<size_t>(x1 - ox) * kPix);
    }
  }
}

// True when row2_win's kUnit applies: mulk == 2^-21 for every output channel and, for uint8 / int8, y = v + add
// rounds into [lo, hi] for every v = a / 2^21 in 0 .. 255 (a <= 32640 * 2^14): y is non-decreasing in v, so its
// two ends decide.
inline bool unit_norm(const Plan& p) {
  constexpr float kUnitMul = 1.0f / static_cast<float>(1 << kAccFrac);
  for (int j = 0; j < p.out_channels; ++j) {
    if (p.mulk[j] != kUnitMul) return false;
    if (p.type == OutputType::Float32) continue;
    const float y0 = 0.f + p.add[j], y1 = 255.f + p.add[j];  // float32 sums, as the kernel computes them
    if (!(std::nearbyint(y0) >= p.lo && std::nearbyint(y1) <= p.hi)) return false;
  }
  return true;
}

template <PixelFormat kFmt, bool kGray, bool kBgr, OutputType kType, bool kOne, int kWin>
GB_INLINE void row2_win_unit(const Plan& p, int ra, int rb, int wy0, int wy1, uint8_t* out) {
  unit_norm(p) ? row2_win<kFmt, kGray, kBgr, kType, kOne, kWin, true>(p, ra, rb, wy0, wy1, out)
       : row2_win<kFmt, kGray, kBgr, kType, kOne, kWin, false>(p, ra, rb, wy0, wy1, out);
}

template <PixelFormat kFmt, bool kGray, bool kBgr, OutputType kType>
void row2_neon(const Plan& p, int ra, int rb, int wy0, int wy1, uint8_t* out, int16_t* const*, int16_t* const*) {
  // Window loads unless a row is its plane's last (or its chroma row is): they may read into the next row.
  if constexpr (kFmt != PixelFormat::YUYV) {
    const int last = std::max(ra, rb);
    if (!p.isa_cols.empty() && last + 1 < p.src_height && (last >> 1) + 1 < (p.src_height + 1) / 2) {
      const auto run = [&](auto one) GB_LAMBDA_INLINE {
        constexpr bool kOne = decltype(one)::value;
        switch (p.isa_cols[0]) {
          case 32: row2_win_unit<kFmt, kGray, kBgr, kType, kOne, 32>(p, ra, rb, wy0, wy1, out); break;
          case 64: row2_win_unit<kFmt, kGray, kBgr, kType, kOne, 64>(p, ra, rb, wy0, wy1, out); break;
          default: row2_win_unit<kFmt, kGray, kBgr, kType, kOne, kSplitWin>(p, ra, rb, wy0, wy1, out); break;
        }
      };
      ra == rb ? run(std::true_type{}) : run(std::false_type{});
      return;
    }
  }
  ra == rb ? row2_rows<kFmt, kGray, kBgr, kType, true>(p, ra, rb, wy0, wy1, out)
           : row2_rows<kFmt, kGray, kBgr, kType, false>(p, ra, rb, wy0, wy1, out);
}

// NV12, I420, YUYV: hrow and row2 (window loads for NV12 and I420 when a 32- or 64-byte table applies).
template <PixelFormat kFmt>
struct YuvKernels {
  static void set(Plan& p, RowKernels& k) {
    if (kFmt != PixelFormat::YUYV && p.fuse_rows) {
      const bool i420 = kFmt == PixelFormat::I420;
      if (!build_windows(p, i420, 32) && !build_windows(p, i420, 64)) build_windows(p, i420, kSplitWin);
    }
    k.hrow = p.row_planes == 1 ? hrow_neon<YuvHrow<kFmt, true>> : hrow_neon<YuvHrow<kFmt, false>>;
    // No float clamp in any row2 instance: the conversions saturate (see vrow_block).
    k.row2 = pick_row2(p, [](auto o) -> Row2Fn {
      using O = decltype(o);
      return row2_neon<kFmt, O::kGray, O::kBgr, O::kType>;
    });
  }
};

// ---- RGB888 / BGR888 / RGBA8888 hrow with window tables ------------------------------------------------------------
// When the pixel pairs of 4 consecutive output columns lie within 64 bytes of the row (downscales up to about 6x for
// 3 bytes per pixel), two 64-byte window loads per 8 columns and vqtbl4q / vqtbx4q pick each channel's bytes of both
// taps (the base tap of columns 0-7, then the other tap; see the YUV windows for base and other), replacing the
// scalar staging. Taps doubled: 2 * (v << 6) = v << 7 by a widening shift (gray: 2 * the Q6 luma), then hinterp2.
// Plan::isa_cols: kRgbInts int32 of header ([0] the bytes readable from a row's start that the windows need), then
// per 8-column group g, kRgbInts int32 at isa_cols[kRgbInts * (g + 1)]: [0, 1] the byte offsets of the two windows
// (columns 0-3 and 4-7), then index bytes, one vector per channel and window (the other window's lanes 0xff): [4..7]
// and [8..11] R, [12..15] and [16..19] G, [20..23] and [24..27] B; [28..31] 2 * the other tap's weights.
constexpr int kRgbInts = 32;

bool build_rgb_windows(Plan& p, int bpp, bool bgr) {
  if (p.src_height < 2) return false;  // only rows with a next row may be read past their end
  const int groups = static_cast<int>(p.x.i0.size()) / 8;  // padded to whole blocks
  std::vector<int32_t> tab(static_cast<size_t>(kRgbInts) * (groups + 1), 0);
  const int ch_off[3] = {bgr ? 2 : 0, 1, bgr ? 0 : 2};
  int end = 0;
  for (int g = 0; g < groups; ++g) {
    int32_t* t = tab.data() + static_cast<size_t>(kRgbInts) * (g + 1);
    uint8_t* b = reinterpret_cast<uint8_t*>(t);
    std::memset(t + 4, 0xff, 24 * sizeof(int32_t));
    int16_t w2[8];
    for (int h = 0; h < 2; ++h) {
      const int off = bpp * p.x.i0[8 * static_cast<size_t>(g) + 4 * h];
      t[h] = off;
      end = std::max(end, off + 64);
      for (int m = 0; m < 4; ++m) {
        const int j = 4 * h + m;  // the output lane
        const size_t x = 8 * static_cast<size_t>(g) + j;
        const int i0 = p.x.i0[x], w0 = p.x.w[2 * x], w1 = p.x.w[2 * x + 1];
        const bool swap = w1 > w0;  // tap b is the base
        const int pb = swap ? i0 + 1 : i0, po = swap ? i0 : i0 + 1;
        if (bpp * (i0 + 1) + bpp - 1 - off >= 64) return false;
        for (int c = 0; c < 3; ++c) {
          uint8_t* v = b + 16 + 32 * c + 16 * h;
          v[j] = static_cast<uint8_t>(bpp * pb + ch_off[c] - off);
          v[8 + j] = static_cast<uint8_t>(bpp * po + ch_off[c] - off);
        }
        w2[j] = static_cast<int16_t>(2 * (swap ? w0 : w1));  // <= 2^14 (w0 + w1 == 2^14, or both 0)
      }
    }
    std::memcpy(t + 28, w2, sizeof w2);
  }
  if (end > readable_row_bytes(p.stride[0], p.src_height, 0, bpp * p.src_width)) return false;
  tab[0] = end;
  p.isa_cols = std::move(tab);
  return true;
}

template <int kBpp, bool kBgr, bool kGray>
void hrow_rgb_win(const Plan& p, int sy, int x0, int x1, int16_t* const* rows) {
  if (x0 % 8 != 0 || sy + 1 >= p.src_height) {  // the plane's last row: the exact loads of the staged hrow
    hrow_neon<Rgb<kBpp, kBgr>>(p, sy, x0, x1, rows);
    return;
  }
  const uint8_t* row = p.plane[0] + sy * p.stride[0];
  int16_t* const r0 = rows[0];
  int16_t* const r1 = kGray ? nullptr : rows[1];
  int16_t* const r2 = kGray ? nullptr : rows[2];
  const int32_t* t = p.isa_cols.data() + kRgbInts * (x0 / 8 + 1);  // a local: prefetch.step() stores via the plan
  for (int ox = x0; ox < x1; ox += 8, t += kRgbInts) {
    if ((ox & 15) == 0) p.prefetch.step();  // one step per 16 columns
    const uint8x16x4_t wa = vld1q_u8_x4(row + t[0]), wb = vld1q_u8_x4(row + t[1]);
    const auto pick = [&](int k) GB_LAMBDA_INLINE {
      return vqtbx4q_u8(vqtbl4q_u8(wa, win_idx(t, k)), wb, win_idx(t, k + 4));
    };
    const uint8x16_t r = pick(4), g = pick(12), b = pick(20);
    const int16x8_t w2 = vld1q_s16(reinterpret_cast<const int16_t*>(t + 28));  // padded taps (kColPad)
    if constexpr (kGray) {
      const int16x8_t ga = Rgb<kBpp, kBgr>::gray_taps(vget_low_u8(r), vget_low_u8(g), vget_low_u8(b));
      const int16x8_t gb = Rgb<kBpp, kBgr>::gray_taps(vget_high_u8(r), vget_high_u8(g), vget_high_u8(b));
      vst1q_s16(r0 + ox, hinterp2(vshlq_n_s16(ga, 1), vshlq_n_s16(gb, 1), w2));
    } else {
      const auto h = [&](uint8x16_t v) GB_LAMBDA_INLINE {
        return hinterp2(vreinterpretq_s16_u16(vshll_n_u8(vget_low_u8(v), 7)),
                        vreinterpretq_s16_u16(vshll_high_n_u8(v, 7)), w2);
      };
      vst1q_s16(r0 + ox, h(r));
      vst1q_s16(r1 + ox, h(g));
      vst1q_s16(r2 + ox, h(b));
    }
  }
}

template <int kBpp, bool kBgr>
void set_rgb_windows(Plan& p, RowKernels& k) {
  if (!build_rgb_windows(p, kBpp, kBgr)) return;
  k.hrow = p.row_planes == 1 ? hrow_rgb_win<kBpp, kBgr, true> : hrow_rgb_win<kBpp, kBgr, false>;
}

}  // namespace

RowKernels kernels_neon(Plan& p) {
  RowKernels k = select_kernels<Hrow, YuvKernels, Rgb, Rgb565, Gray8>(p, vrow_neon);
  if (p.src_width >= 2) {  // the pair loads need i1 == i0 + 1
    switch (p.format) {
      case PixelFormat::RGB888: set_rgb_windows<3, false>(p, k); break;
      case PixelFormat::BGR888: set_rgb_windows<3, true>(p, k); break;
      case PixelFormat::RGBA8888: set_rgb_windows<4, false>(p, k); break;
      default: break;
    }
  }
  return k;
}

}  // namespace glassbridge::detail
