// AVX2 row kernels of the fused preprocessing, bit-identical to preprocess_ref.cpp (see preprocess_internal.h).
//
// hrow, per block of 16 output columns: vpgatherdd / vpgatherdq load each column's adjacent tap pair straight
// from the source row (Y pair, NV12 chroma quad [U0 V0 U1 V1], I420 U and V pairs, YUYV pixel pairs, an RGB pixel
// pair as 8 bytes), pshufb spreads them into 16-bit lanes (chroma of tap b chosen by the parity of i0), the
// conversion runs 16 taps per register (pmulhrsw is the reference's mulhrs) and pmaddwd interpolates each
// column's pair. Gathers read a few bytes beyond the pair, into the next row (readable_row_bytes): only on a
// plane's last row are the columns near the row's end staged with exact scalar loads instead, through the same
// vector code. A partial last block loads the plan's padded taps (kColPad); its extra results land in the row
// slack. vrow: pmaddwd of the two rows' Q7 values, float32 multiply then add, clamp, cvtps2dq (round half to even),
// packs, and a pshufb / vpermps interleave into RGB order; the last partial block goes through a
// buffer. row2 (NV12, I420, when downscaling at least 2x vertically): both source rows of an output row in one
// pass (one row when it carries all the weight), chroma terms computed once when both rows share a chroma row, the
// two Q7 results paired in registers (no row planes in between), the float clamp skipped when y always fits int32,
// and, when 4 columns' taps span at most 16 bytes (downscales up to ~4.5x), window loads with per-call pshufb
// controls instead of gathers (build_windows). callgrind, NV12 -> 224 int8: 640x480 0.84 M instructions per frame
// (was 1.17 M with gathers and per-row staging), 1080p 0.85 M.
// row2 for RGB888 / BGR888 / RGBA8888 with RGB or BGR output (downscaling at least 2x vertically): the RGB hrow's
// conversion for both rows of each block, vblend and emit16 straight to the output. Its pairs come from eight 8-byte
// loads per 8 columns instead of two vpgatherdq: more instructions, less time on the AMD Zen 4 development VM (1280x720
// RGB -> 224 uint8: 0.94 M instructions and 0.104 ms with gathers, 1.10 M and 0.080 ms with loads; hrow + vrow was
// 1.44 M and 0.136 ms). The per-row format constructors (Yuv420, Rgb) are forced inline: out of line they stored
// their constants for the loop to reload (the 64x64 gray crop spent 12 k of its 110 k instructions in them).
// Coverage: hrow for every format (RGB and gray outputs), vrow for every output type and channel order, row2 for
// NV12, I420 and the RGB formats.
// Measured pitfalls: templates on gray / channel order / output type keep per-channel values in registers (runtime
// indices spilled them to the stack, +25% time); forcing emit16 inline, or adding backward gathers for the last
// block, made GCC 12's allocation of the main loop worse (+8-10%).
// What does not depend on the instruction set (loops, tables, kernel selection), and the x86 code this path shares
// with SSE4.1 at another register width, is in preprocess_simd.h.
#include <immintrin.h>

#include "preprocess_simd.h"

namespace glassbridge::detail {
namespace {

inline __m256i loadu(const void* p) { return _mm256_loadu_si256(static_cast<const __m256i*>(p)); }

// vpgatherdd merges into its destination register, so a reused destination chains each gather to the previous
// one: start every gather from a fresh zero (with an all-ones mask) to keep them independent.
inline __m256i gather32(const void* base, __m256i idx, const int scale) {
  const __m256i ones = _mm256_set1_epi32(-1);
  switch (scale) {
    case 2:
      return _mm256_mask_i32gather_epi32(_mm256_setzero_si256(), static_cast<const int*>(base), idx, ones, 2);
    default:
      return _mm256_mask_i32gather_epi32(_mm256_setzero_si256(), static_cast<const int*>(base), idx, ones, 1);
  }
}
inline __m256i gather64(const void* base, __m128i idx) {
  return _mm256_mask_i32gather_epi64(_mm256_setzero_si256(), static_cast<const long long*>(base), idx,
                                     _mm256_set1_epi64x(-1), 1);
}
inline __m128i loadu128(const void* p) { return _mm_loadu_si128(static_cast<const __m128i*>(p)); }
inline void storeu(void* p, __m256i v) { _mm256_storeu_si256(static_cast<__m256i*>(p), v); }

// Packs the Q7 results of columns 0-7 and 8-15 into 16 int16 in column order.
inline void store16(int16_t* dst, __m256i lo, __m256i hi) {
  storeu(dst, _mm256_permute4x64_epi64(_mm256_packs_epi32(lo, hi), 0xD8));
}

static_assert(kColPad % 16 == 0, "blocks of 16 columns load their taps from the padded plan");

// The end of the columns a block of 16 may gather for: blocks starting below it are gathered. When every column's
// i0 is below `limit`, that is the padded end (the padding repeats the last column), so a partial last block is
// gathered too; otherwise the first column at or past the limit.
int gather_end(const Plan& p, int x1, int limit) {
  const int n = p.cols_with_i0_below(limit);
  return n >= x1 ? (x1 + 15) / 16 * 16 : n;
}

// pshufb control zero-extending bytes (4m, 4m + 1) of each dword into two 16-bit lanes (a gathered pair).
inline __m256i pair_ctrl_dword() {
  return _mm256_setr_epi8(0, -128, 1, -128, 4, -128, 5, -128, 8, -128, 9, -128, 12, -128, 13, -128, 0, -128, 1, -128,
                          4, -128, 5, -128, 8, -128, 9, -128, 12, -128, 13, -128);
}

// ---- YUV 4:2:0 (NV12, I420) ------------------------------------------------------------------------------------
using YuvK = YuvConsts<256>;

inline __m256i clamp_tap(__m256i v, const YuvK& k) { return _mm256_min_epi16(_mm256_max_epi16(v, k.zero), k.tmax); }

// y: Y in 16-bit lanes. Returns mulhrs((Y - offset) * 128, ky).
inline __m256i luma6(__m256i y, const YuvK& k) {
  return _mm256_mulhrs_epi16(_mm256_slli_epi16(_mm256_sub_epi16(y, k.yoff), 7), k.ky);
}

using Terms = ChromaTerms<256>;

// NV12 chroma dword per column: [U0 V0 U1 V1] at 2 * (i0 >> 1), tap b taking U1 V1 when i0 is odd.
// I420: a U dword [U0 U1 ..] at i0 >> 1 and a V dword likewise, tap b taking byte 1 when i0 is odd.
template <bool kI420, bool kGray>
struct Yuv420 : YuvRowPtrs {
  static constexpr bool gray = kGray;  // gray output: luma taps only
  const Plan& p;
  YuvK k;
  __m256i ctrl_y, ctrl_u, ctrl_v, one, not1;

  GB_INLINE Yuv420(const Plan& pl, int sy)
      : YuvRowPtrs(pl, sy, kI420),
        p(pl),
        k(pl.yuv()),
        ctrl_y(pair_ctrl_dword()),
        ctrl_u(loadu(kChromaCtrl[0].v)),
        ctrl_v(loadu(kChromaCtrl[kI420 ? 0 : 1].v)),
        one(_mm256_set1_epi32(1)),
        not1(_mm256_set1_epi32(~1)),
        lim(gather_limit(pl, sy)) {}

  // Columns with i0 below limit() may gather: 4 bytes at i0 (Y), at 2 * (i0 >> 1) (NV12 UV) or at i0 >> 1 (I420
  // U, V), within the bytes readable from the start of row sy (its chroma row), which include the next row's.
  int limit() const { return lim; }
  int lim;
  static int gather_limit(const Plan& p, int sy) {
    const int y_limit = readable_row_bytes(p.stride[0], p.src_height, sy, p.src_width) - 3;
    if (gray || p.format != (kI420 ? PixelFormat::I420 : PixelFormat::NV12)) return y_limit;
    const int cw = (p.src_width + 1) / 2;
    const int c = readable_row_bytes(p.stride[1], (p.src_height + 1) / 2, sy >> 1, kI420 ? cw : 2 * cw);
    if (kI420) {  // V reads like U: its own stride
      const int cv = readable_row_bytes(p.stride[2], (p.src_height + 1) / 2, sy >> 1, cw);
      return std::min(y_limit, 2 * std::min(c, cv) - 7);
    }
    // 2 * (i0 >> 1) + 4 <= c for every i0 below the limit
    return std::min(y_limit, c < 4 ? 0 : (c - 4) / 2 * 2 + 2);
  }

  __m256i y_fast(__m256i idx) const {
    return _mm256_shuffle_epi8(gather32(yrow, idx, 1), ctrl_y);
  }
  void chroma_fast(__m256i idx, __m256i& qu, __m256i& qv) const {
    if (kI420) {
      const __m256i ci = _mm256_srli_epi32(idx, 1);
      qu = gather32(c1, ci, 1);
      qv = gather32(c2, ci, 1);
    } else {
      qu = qv = gather32(c1, _mm256_and_si256(idx, not1), 1);
    }
  }
  // The same from exact loads: only the bytes each tap reads (i1 == i0 + 1 < width).
  __m256i y_staged(const int32_t* i0) const {
    alignas(16) uint8_t ys[16];
    for (int j = 0; j < 8; ++j) {
      ys[2 * j] = yrow[i0[j]];
      ys[2 * j + 1] = yrow[i0[j] + 1];
    }
    return _mm256_cvtepu8_epi16(loadu128(ys));
  }
  void chroma_staged(const int32_t* i0, __m256i& qu, __m256i& qv) const {
    alignas(32) uint32_t su[8], sv[8];
    for (int j = 0; j < 8; ++j) {
      const int ca = i0[j] >> 1, cb = (i0[j] + 1) >> 1;
      if (kI420) {
        su[j] = c1[ca] | static_cast<uint32_t>(c1[cb]) << 8;
        sv[j] = c2[ca] | static_cast<uint32_t>(c2[cb]) << 8;
      } else {
        su[j] = sv[j] = c1[2 * ca] | static_cast<uint32_t>(c1[2 * ca + 1]) << 8 |
                        static_cast<uint32_t>(c1[2 * cb]) << 16 | static_cast<uint32_t>(c1[2 * cb + 1]) << 24;
      }
    }
    qu = loadu(su);
    qv = loadu(sv);
  }

  Terms terms(__m256i qu, __m256i qv, __m256i idx) const {
    const __m256i odd = _mm256_slli_epi32(_mm256_and_si256(idx, one), kI420 ? 24 : 25);
    return terms_uv(_mm256_shuffle_epi8(qu, _mm256_add_epi32(ctrl_u, odd)),
                    _mm256_shuffle_epi8(qv, _mm256_add_epi32(ctrl_v, odd)));
  }
  // From each tap's chroma << 8 in 16-bit lanes; xor 0x8000 gives (C - 128) * 256 as int16.
  GB_INLINE Terms terms_uv(__m256i u8, __m256i v8) const {
    const __m256i u = _mm256_xor_si256(u8, k.bias), v = _mm256_xor_si256(v8, k.bias);
    return Terms{_mm256_mulhrs_epi16(v, k.kvr),
                 _mm256_add_epi16(_mm256_mulhrs_epi16(u, k.kug), _mm256_mulhrs_epi16(v, k.kvg)),
                 _mm256_mulhrs_epi16(u, k.kub)};
  }

  // Window loads of one 8-column group t of the per-call table (see build_windows): 16 bytes at each 128-bit
  // lane's offset, then pshufb by the group's precomputed control, in place of a gather.
  GB_INLINE __m256i y_window(const int32_t* t) const {
    return _mm256_shuffle_epi8(load2(yrow, t[0], t[1]), loadu(t + 8));
  }
  GB_INLINE Terms terms_window(const int32_t* t) const {
    if constexpr (kI420) {
      const __m256i ctrl = loadu(t + 16);  // U and V planes have the same layout
      return terms_uv(_mm256_shuffle_epi8(load2(c1, t[2], t[3]), ctrl),
                      _mm256_shuffle_epi8(load2(c2, t[2], t[3]), ctrl));
    } else {
      const __m256i q = load2(c1, t[2], t[3]);
      return terms_uv(_mm256_shuffle_epi8(q, loadu(t + 16)), _mm256_shuffle_epi8(q, loadu(t + 24)));
    }
  }
  GB_INLINE static __m256i load2(const uint8_t* row, int lo, int hi) {
    return _mm256_inserti128_si256(_mm256_castsi128_si256(loadu128(row + lo)), loadu128(row + hi), 1);
  }

  // Q7 results of 8 columns from Y pairs (16-bit lanes) and the chroma terms.
  GB_INLINE void finish(__m256i y, const Terms& t, __m256i w, __m256i* res) const {
    const __m256i yc = luma6(y, k);
    if constexpr (kGray) {
      res[0] = hinterp<kHShift>(clamp_tap(yc, k), w);
      return;
    }
    // R and B may exceed int16 before the clamp (limited range): saturating adds clamp to the same kTapMax.
    res[0] = hinterp<kHShift>(clamp_tap(_mm256_adds_epi16(yc, t.rv), k), w);
    res[1] = hinterp<kHShift>(clamp_tap(_mm256_sub_epi16(yc, t.guv), k), w);
    res[2] = hinterp<kHShift>(clamp_tap(_mm256_adds_epi16(yc, t.bu), k), w);
  }

  void fast(const int32_t* i0, const int16_t* wp, __m256i* res) const {
    const __m256i idx = loadu(i0);
    Terms t{};
    if constexpr (!kGray) {
      __m256i qu, qv;
      chroma_fast(idx, qu, qv);
      t = terms(qu, qv, idx);
    }
    finish(y_fast(idx), t, loadu(wp), res);
  }
  void staged(const int32_t* i0, const int16_t* wp, __m256i* res) const {
    Terms t{};
    if constexpr (!kGray) {
      __m256i qu, qv;
      chroma_staged(i0, qu, qv);
      t = terms(qu, qv, loadu(i0));
    }
    finish(y_staged(i0), t, loadu(wp), res);
  }
};

// ---- YUYV --------------------------------------------------------------------------------------------------------
// Packed Y0 U Y1 V: the conversion of the 4:2:0 path with each column's chroma made explicit, [U(x) V(x) U(x+1)
// V(x+1)] (tap b always takes bytes 2 and 3, as an odd i0 does for NV12). Gathers: the Y pair from the 4 bytes at
// 2 * i0 (bytes 0 and 2), the chroma of each tap from the 4 bytes of its pixel pair. Even width and i0 + 1 < width
// keep all of them inside the row.
template <bool kGray>
struct Yuyv : Yuv420<false, kGray> {
  using Base = Yuv420<false, kGray>;
  __m256i ctrl_y2, ctrl_uva, ctrl_uvb;

  Yuyv(const Plan& pl, int sy) : Base(pl, sy) {
    // Per dword m of a lane (pshufb indexes within 128-bit lanes; -1 zeroes the byte):
    alignas(32) int8_t y2[32], uva[32], uvb[32];
    for (int j = 0; j < 32; j += 4) {
      const int8_t m = static_cast<int8_t>(j % 16);
      const int8_t cy[4] = {m, -1, static_cast<int8_t>(m + 2), -1};                            // Y(x), Y(x+1)
      const int8_t ca[4] = {static_cast<int8_t>(m + 1), static_cast<int8_t>(m + 3), -1, -1};  // U, V -> bytes 0, 1
      const int8_t cb[4] = {-1, -1, static_cast<int8_t>(m + 1), static_cast<int8_t>(m + 3)};  // U, V -> bytes 2, 3
      std::memcpy(y2 + j, cy, 4);
      std::memcpy(uva + j, ca, 4);
      std::memcpy(uvb + j, cb, 4);
    }
    ctrl_y2 = loadu(y2);
    ctrl_uva = loadu(uva);
    ctrl_uvb = loadu(uvb);
  }

  int limit() const { return INT_MAX; }

  __m256i y_fast(__m256i idx) const { return _mm256_shuffle_epi8(gather32(this->yrow, idx, 2), ctrl_y2); }
  void chroma_fast(__m256i idx, __m256i& qu, __m256i& qv) const {
    const __m256i pair_a = _mm256_slli_epi32(_mm256_srli_epi32(idx, 1), 2);
    const __m256i pair_b = _mm256_slli_epi32(_mm256_srli_epi32(_mm256_add_epi32(idx, this->one), 1), 2);
    qu = qv = _mm256_or_si256(_mm256_shuffle_epi8(gather32(this->yrow, pair_a, 1), ctrl_uva),
                              _mm256_shuffle_epi8(gather32(this->yrow, pair_b, 1), ctrl_uvb));
  }
  __m256i y_staged(const int32_t* i0) const {
    alignas(16) uint8_t ys[16];
    for (int j = 0; j < 8; ++j) {
      ys[2 * j] = this->yrow[2 * i0[j]];
      ys[2 * j + 1] = this->yrow[2 * i0[j] + 2];
    }
    return _mm256_cvtepu8_epi16(loadu128(ys));
  }
  void chroma_staged(const int32_t* i0, __m256i& qu, __m256i& qv) const {
    alignas(32) uint32_t q[8];
    for (int j = 0; j < 8; ++j) {
      const uint8_t* a = this->yrow + 4 * (i0[j] >> 1);
      const uint8_t* b = this->yrow + 4 * ((i0[j] + 1) >> 1);
      q[j] = a[1] | static_cast<uint32_t>(a[3]) << 8 | static_cast<uint32_t>(b[1]) << 16 |
             static_cast<uint32_t>(b[3]) << 24;
    }
    qu = qv = loadu(q);
  }
  Terms terms(__m256i qu, __m256i qv, __m256i) const { return Base::terms(qu, qv, this->one); }

  void fast(const int32_t* i0, const int16_t* wp, __m256i* res) const {
    const __m256i idx = loadu(i0);
    Terms t{};
    if constexpr (!kGray) {
      __m256i qu, qv;
      chroma_fast(idx, qu, qv);
      t = terms(qu, qv, idx);
    }
    this->finish(y_fast(idx), t, loadu(wp), res);
  }
  void staged(const int32_t* i0, const int16_t* wp, __m256i* res) const { fast(i0, wp, res); }
};

// ---- RGB888 / BGR888 / RGBA8888 ----------------------------------------------------------------------------------
// Each column's pixel pair as 8 bytes (6 used for RGB888). Two registers of four columns each, ordered
// [c0 c1 | c4 c5] and [c2 c3 | c6 c7] so that pshufb (per 128-bit lane) and 64-bit unpacks give columns 0-3 in the
// low lane and 4-7 in the high lane, like the weights; the pshufb controls (RgbCtrl) apply to each lane.
template <int kBpp, bool kBgr>
struct Rgb : PackedRow {
  __m256i crg, cb, crg_gray, cb_gray, k_rg, k_b1, one_hi, order;

  GB_INLINE Rgb(const Plan& pl, int sy) : PackedRow(pl, sy), sy_(sy) {
    const RgbCtrl<kBpp, kBgr> c;
    crg = _mm256_broadcastsi128_si256(loadu128(c.rg));
    cb = _mm256_broadcastsi128_si256(loadu128(c.b));
    crg_gray = _mm256_broadcastsi128_si256(loadu128(c.rg_gray));
    cb_gray = _mm256_broadcastsi128_si256(loadu128(c.b_gray));
    k_rg = _mm256_set1_epi32(kGrayR | (kGrayG << 16));
    k_b1 = _mm256_set1_epi32(kGrayB | (128 << 16));
    one_hi = _mm256_set1_epi32(1 << 16);
    order = _mm256_setr_epi32(0, 1, 4, 5, 2, 3, 6, 7);
  }

  // An 8-byte gather at bpp * i0 stays inside a row of bpp * width bytes while i0 <= width - 8 / bpp.
  int limit() const {
    if (kBpp == 4) return INT_MAX;
    const int avail = readable_row_bytes(p.stride[0], p.src_height, sy_, kBpp * p.src_width);
    return avail < 8 ? 0 : (avail - 8) / kBpp + 1;  // bpp * i0 + 8 <= avail
  }
  int sy_;

  // Gray taps (R * kGrayR + G * kGrayG + B * kGrayB + 128) >> 8 of one register's four columns, int32 per tap.
  __m256i gray_taps(__m256i s) const {
    return _mm256_srai_epi32(
        _mm256_add_epi32(_mm256_madd_epi16(_mm256_shuffle_epi8(s, crg_gray), k_rg),
                         _mm256_madd_epi16(_mm256_or_si256(_mm256_shuffle_epi8(s, cb_gray), one_hi), k_b1)),
        8);
  }

  void compute(__m256i s0, __m256i s1, __m256i w, __m256i* res) const {
    if (gray) {
      res[0] = hinterp<kHShift>(_mm256_packs_epi32(gray_taps(s0), gray_taps(s1)), w);
      return;
    }
    compute_rgb(s0, s1, w, res);
  }
  void compute_rgb(__m256i s0, __m256i s1, __m256i w, __m256i* res) const {
    const __m256i rg0 = _mm256_shuffle_epi8(s0, crg), rg1 = _mm256_shuffle_epi8(s1, crg);
    const __m256i b0 = _mm256_shuffle_epi8(s0, cb), b1 = _mm256_shuffle_epi8(s1, cb);
    res[0] = hinterp<kRawShift>(_mm256_unpacklo_epi64(rg0, rg1), w);
    res[1] = hinterp<kRawShift>(_mm256_unpackhi_epi64(rg0, rg1), w);
    res[2] = hinterp<kRawShift>(_mm256_unpacklo_epi64(b0, b1), w);
  }

  // The two registers of pixel-pair records of 8 columns: gathered, or staged with exact loads.
  void load_fast(const int32_t* i0, __m256i& s0, __m256i& s1) const {
    const __m256i idx = _mm256_permutevar8x32_epi32(loadu(i0), order);
    const __m256i off = kBpp == 4 ? _mm256_slli_epi32(idx, 2) : _mm256_add_epi32(idx, _mm256_add_epi32(idx, idx));
    s0 = gather64(row, _mm256_castsi256_si128(off));
    s1 = gather64(row, _mm256_extracti128_si256(off, 1));
  }
  // The same records from eight 8-byte loads (no gather): cheaper than vpgatherdq in time on some cores.
  void load_scalar(const int32_t* i0, __m256i& s0, __m256i& s1) const {
    const auto pair = [&](int a, int b) GB_LAMBDA_INLINE {
      const __m128i lo = _mm_loadl_epi64(reinterpret_cast<const __m128i*>(row + kBpp * i0[a]));
      return _mm_castpd_si128(_mm_loadh_pd(_mm_castsi128_pd(lo), reinterpret_cast<const double*>(row + kBpp * i0[b])));
    };
    s0 = _mm256_inserti128_si256(_mm256_castsi128_si256(pair(0, 1)), pair(4, 5), 1);
    s1 = _mm256_inserti128_si256(_mm256_castsi128_si256(pair(2, 3)), pair(6, 7), 1);
  }
  void load_staged(const int32_t* i0, __m256i& s0, __m256i& s1) const {
    static constexpr int kSlot[8] = {0, 1, 4, 5, 2, 3, 6, 7};
    alignas(32) uint8_t st[64] = {};
    for (int j = 0; j < 8; ++j) std::memcpy(st + 8 * kSlot[j], row + kBpp * i0[j], 2 * kBpp);
    s0 = loadu(st);
    s1 = loadu(st + 32);
  }

  void fast(const int32_t* i0, const int16_t* wp, __m256i* res) const {
    __m256i s0, s1;
    load_fast(i0, s0, s1);
    compute(s0, s1, loadu(wp), res);
  }
  void staged(const int32_t* i0, const int16_t* wp, __m256i* res) const {
    __m256i s0, s1;
    load_staged(i0, s0, s1);
    compute(s0, s1, loadu(wp), res);
  }
  // RGB / BGR output only (row2): the three planes, with no run-time gray branch.
  template <bool kFast>
  void rgb(const int32_t* i0, const int16_t* wp, __m256i* res) const {
    __m256i s0, s1;
    if constexpr (kFast) load_scalar(i0, s0, s1); else load_staged(i0, s0, s1);
    compute_rgb(s0, s1, loadu(wp), res);
  }
};

// ---- RGB565 ------------------------------------------------------------------------------------------------------
struct Rgb565 : Rgb565Conv<256>, PackedRow {
  using PackedRow::PackedRow;

  int limit() const { return INT_MAX; }  // the pair's 4 bytes at 2 * i0 always lie inside the row

  void fast(const int32_t* i0, const int16_t* wp, __m256i* res) const {
    convert(gather32(row, loadu(i0), 2), loadu(wp), gray, res);
  }
  void staged(const int32_t* i0, const int16_t* wp, __m256i* res) const { fast(i0, wp, res); }
};

// ---- GRAY8 -------------------------------------------------------------------------------------------------------
struct Gray8 : PackedRow {
  __m256i ctrl;

  int sy_;
  Gray8(const Plan& pl, int sy) : PackedRow(pl, sy), ctrl(pair_ctrl_dword()), sy_(sy) {}

  // 4-byte gathers at i0, within the bytes readable from the row's start
  int limit() const { return readable_row_bytes(p.stride[0], p.src_height, sy_, p.src_width) - 3; }

  void fast(const int32_t* i0, const int16_t* wp, __m256i* res) const {
    const __m256i px = _mm256_shuffle_epi8(gather32(row, loadu(i0), 1), ctrl);
    res[0] = hinterp<kRawShift>(px, loadu(wp));
  }
  void staged(const int32_t* i0, const int16_t* wp, __m256i* res) const {
    alignas(16) uint8_t st[16];
    for (int j = 0; j < 8; ++j) std::memcpy(st + 2 * j, row + i0[j], 2);
    res[0] = hinterp<kRawShift>(_mm256_cvtepu8_epi16(loadu128(st)), loadu(wp));
  }
};

// The hrow driver: whole blocks of 16 columns that may gather, then the rest staged (padded to a block).
template <typename Fmt>
void hrow_avx2(const Plan& p, int sy, int x0, int x1, int16_t* const* rows) {
  const Fmt f(p, sy);
  const int safe = gather_end(p, x1, f.limit());
  const int32_t* i0 = p.x.i0.data();  // padded to whole blocks: a partial last block loads like any other
  const int16_t* w = p.x.w.data();
  __m256i res[2][3] = {};  // planes a format does not produce stay unused
  int ox = x0;
  for (; ox < x1 && ox + 16 <= safe; ox += 16) {  // the stores of a partial block land in the slack
    p.prefetch.step();
    f.fast(i0 + ox, w + 2 * ox, res[0]);
    f.fast(i0 + ox + 8, w + 2 * ox + 16, res[1]);
    for (int pl = 0; pl < p.row_planes; ++pl) store16(rows[pl] + ox, res[0][pl], res[1][pl]);
  }
  for (; ox < x1; ox += 16) {
    p.prefetch.step();
    f.staged(i0 + ox, w + 2 * ox, res[0]);
    f.staged(i0 + ox + 8, w + 2 * ox + 16, res[1]);
    for (int pl = 0; pl < p.row_planes; ++pl) store16(rows[pl] + ox, res[0][pl], res[1][pl]);
  }
}

template <typename Fmt>
struct Hrow {  // for select_kernels
  static constexpr HRowFn fn = hrow_avx2<Fmt>;
};

// ---- vrow --------------------------------------------------------------------------------------------------------
// Interleaves 8 pixels of R, G, B floats into 24 floats: output float e of register k is pixel (8k + e) / 3,
// channel (8k + e) % 3; vpermps spreads each channel, the blend masks pick the G and B positions.
struct StoreRgbF32 {  // a functor, for the shared x86 code to call directly
  void operator()(uint8_t* out, __m256 r, __m256 g, __m256 b) const {
    float* o = reinterpret_cast<float*>(out);  // unaligned stores only
    _mm256_storeu_ps(o, _mm256_blend_ps(_mm256_blend_ps(_mm256_permutevar8x32_ps(r, _mm256_setr_epi32(0, 0, 0, 1, 1, 1, 2, 2)),
                                                        _mm256_permutevar8x32_ps(g, _mm256_setr_epi32(0, 0, 0, 1, 1, 1, 2, 2)), 0x92),
                                        _mm256_permutevar8x32_ps(b, _mm256_setr_epi32(0, 0, 0, 1, 1, 1, 2, 2)), 0x24));
    _mm256_storeu_ps(o + 8, _mm256_blend_ps(_mm256_blend_ps(_mm256_permutevar8x32_ps(r, _mm256_setr_epi32(2, 3, 3, 3, 4, 4, 4, 5)),
                                                            _mm256_permutevar8x32_ps(g, _mm256_setr_epi32(2, 3, 3, 3, 4, 4, 4, 5)), 0x24),
                                            _mm256_permutevar8x32_ps(b, _mm256_setr_epi32(2, 3, 3, 3, 4, 4, 4, 5)), 0x49));
    _mm256_storeu_ps(o + 16, _mm256_blend_ps(_mm256_blend_ps(_mm256_permutevar8x32_ps(r, _mm256_setr_epi32(5, 5, 6, 6, 6, 7, 7, 7)),
                                                             _mm256_permutevar8x32_ps(g, _mm256_setr_epi32(5, 5, 6, 6, 6, 7, 7, 7)), 0x49),
                                             _mm256_permutevar8x32_ps(b, _mm256_setr_epi32(5, 5, 6, 6, 6, 7, 7, 7)), 0x92));
  }
};

void vrow_avx2(const Plan& p, const int16_t* const* top, const int16_t* const* bot, int wy0, int wy1, int x0, int x1,
               uint8_t* out) {
  // Channel by channel, all 16 columns in one register per row.
  const auto channel = [](const int16_t* tp, const int16_t* bp, __m256i w, __m256 mk, __m256 ad,
                          const VrowQuant<256>& q, __m256 (&f)[2], __m128i& bytes) {
    const __m256i t = loadu(tp), b = loadu(bp);
    // unpacklo: columns 0-3 | 8-11, unpackhi: 4-7 | 12-15.
    const __m256 ya =
        _mm256_add_ps(_mm256_mul_ps(_mm256_cvtepi32_ps(_mm256_madd_epi16(_mm256_unpacklo_epi16(t, b), w)), mk), ad);
    const __m256 yb =
        _mm256_add_ps(_mm256_mul_ps(_mm256_cvtepi32_ps(_mm256_madd_epi16(_mm256_unpackhi_epi16(t, b), w)), mk), ad);
    if (q.is_float) {
      f[0] = _mm256_permute2f128_ps(ya, yb, 0x20);
      f[1] = _mm256_permute2f128_ps(ya, yb, 0x31);
    } else {
      const __m256i qa = _mm256_cvtps_epi32(_mm256_min_ps(_mm256_max_ps(ya, q.lo), q.hi));
      const __m256i qb = _mm256_cvtps_epi32(_mm256_min_ps(_mm256_max_ps(yb, q.lo), q.hi));
      const __m256i q16 = _mm256_packs_epi32(qa, qb);  // columns 0-7 | 8-15, in order
      const __m128i l = _mm256_castsi256_si128(q16), h = _mm256_extracti128_si256(q16, 1);
      bytes = q.is_u8 ? _mm_packus_epi16(l, h) : _mm_packs_epi16(l, h);
    }
  };
  vrow_x86<256>(p, top, bot, wy0, wy1, x0, x1, out, StoreRgbF32{}, channel);
}

// ---- window tables (NV12, I420 row2) -------------------------------------------------------------------------
// When 4 consecutive output columns' taps span at most 16 source bytes (downscales up to about 4.5x), one 16-byte
// load per 128-bit lane and a pshufb replace each vpgatherdd: gathers cost several times a load on current cores
// (measured: 640x480 -> 224 spent about 40% of its time in them). The controls depend only on the columns, so they
// are built once per call (build_windows_x86<2>, preprocess_simd.h). Per 8-column group g, kWinInts int32 at
// Plan::isa_cols[kWinInts * g]: [0], [1] the Y window offsets of lanes 0 and 1 (i0 of columns 0 and 4), [2], [3]
// the chroma window offsets, [8..15] the Y control (zero-extended pairs, as pair_ctrl_dword), [16..23] the U control,
// [24..31] the V control (NV12; I420 uses the U control for both planes), giving chroma << 8 of tap a and tap b as
// kChromaCtrl plus parity does.
constexpr int kWinInts = 32;

// ---- row2: both source rows straight to the output (NV12, I420) ----------------------------------------------
// Stores 16 pixels from normalised values in column order (y[j][0]: columns 0-7, y[j][1]: 8-15 of channel j).
template <OutputType kType, bool kClamp, int kCh>
inline void emit16(const __m256 (&y)[3][2], __m256 lo, __m256 hi, uint8_t* o) {
  emit16_x86<kType, kCh>(o, y, StoreRgbF32{}, [&](const __m256 (&c)[2]) GB_LAMBDA_INLINE {
    __m256 a = c[0], b = c[1];
    if constexpr (kClamp) {
      a = _mm256_min_ps(_mm256_max_ps(a, lo), hi);
      b = _mm256_min_ps(_mm256_max_ps(b, lo), hi);
    }
    // Without the clamp, y fits int32 (Plan::y_fits_int32) and the saturating packs clamp to the same integers.
    const __m256i q16 = _mm256_permute4x64_epi64(_mm256_packs_epi32(_mm256_cvtps_epi32(a), _mm256_cvtps_epi32(b)), 0xD8);
    const __m128i l = _mm256_castsi256_si128(q16), h = _mm256_extracti128_si256(q16, 1);
    return kType == OutputType::UInt8 ? _mm_packus_epi16(l, h) : _mm_packs_epi16(l, h);
  });
}

// Top and bottom Q7 results of 8 columns -> (top, bottom) 16-bit pairs -> vertical pmaddwd -> y = acc * mulk + add.
inline __m256 vblend(__m256i top, __m256i bot, __m256i wy, __m256 mk, __m256 ad) {
  const __m256i pair = _mm256_blend_epi16(top, _mm256_slli_epi32(bot, 16), 0xAA);
  return _mm256_add_ps(_mm256_mul_ps(_mm256_cvtepi32_ps(_mm256_madd_epi16(pair, wy)), mk), ad);
}

// One source row carrying all the weight (wy0 + wy1 == 2^14): a = h * 2^14 exactly as the pmaddwd would give.
inline __m256 vone(__m256i h, __m256 mk, __m256 ad) {
  return _mm256_add_ps(_mm256_mul_ps(_mm256_cvtepi32_ps(_mm256_slli_epi32(h, kWeightBits)), mk), ad);
}

// How row2_block reads its taps: gathers, exact scalar loads (the last rows' ends), or window loads.
enum class Taps { kGather, kStaged, kWindow };

template <Taps kTaps, typename Fmt>
inline Terms row2_chroma(const Fmt& f, const int32_t* ci, __m256i idx, const int32_t* win) {
  if constexpr (kTaps == Taps::kWindow) {
    return f.terms_window(win);
  } else {
    __m256i qu, qv;
    if constexpr (kTaps == Taps::kStaged) f.chroma_staged(ci, qu, qv); else f.chroma_fast(idx, qu, qv);
    return f.terms(qu, qv, idx);
  }
}
template <Taps kTaps, typename Fmt>
inline __m256i row2_luma(const Fmt& f, const int32_t* ci, __m256i idx, const int32_t* win) {
  if constexpr (kTaps == Taps::kWindow) return f.y_window(win);
  if constexpr (kTaps == Taps::kStaged) return f.y_staged(ci);
  return f.y_fast(idx);
}

// Normalised values of 16 columns (y[j][0]: columns 0-7, y[j][1]: 8-15 of output channel j) from the taps at
// i0 / w (win: the block's window table). kOne: top and bottom are the same row, converted once.
template <Taps kTaps, bool kOne, bool kBgr, typename Fmt>
GB_INLINE void row2_block(const Fmt& top, const Fmt& bot, bool same_chroma,
                                                      const int32_t* i0, const int16_t* w, const int32_t* win,
                                                      __m256i wy, const __m256 (&mk)[3], const __m256 (&ad)[3],
                                                      __m256 (&y)[3][2]) {
  constexpr int kCh = Fmt::gray ? 1 : 3;
  for (int h = 0; h < 2; ++h) {
    const int32_t* ci = i0 + 8 * h;
    const int32_t* wt = win + kWinInts * h;
    const __m256i idx = kTaps == Taps::kWindow ? _mm256_setzero_si256() : loadu(ci);
    const __m256i wc = loadu(w + 16 * h);
    __m256i ht[3], hb[3];
    Terms t{};
    if constexpr (!Fmt::gray) t = row2_chroma<kTaps>(top, ci, idx, wt);
    top.finish(row2_luma<kTaps>(top, ci, idx, wt), t, wc, ht);
    if constexpr (kOne) {
      for (int j = 0; j < kCh; ++j) y[j][h] = vone(ht[kBgr ? 2 - j : j], mk[j], ad[j]);
      continue;
    }
    if constexpr (!Fmt::gray) {
      if (!same_chroma) t = row2_chroma<kTaps>(bot, ci, idx, wt);
    }
    bot.finish(row2_luma<kTaps>(bot, ci, idx, wt), t, wc, hb);
    for (int j = 0; j < kCh; ++j) {
      const int pl = kBgr ? 2 - j : j;  // compile-time, so ht / hb stay in registers
      y[j][h] = vblend(ht[pl], hb[pl], wy, mk[j], ad[j]);
    }
  }
}

template <bool kI420, bool kGray, bool kBgr, OutputType kType, bool kClamp, bool kOne>
void row2_rows(const Plan& p, int ra, int rb, int wy0, int wy1, uint8_t* out) {
  using Fmt = Yuv420<kI420, kGray>;
  constexpr int kCh = kGray ? 1 : 3;
  const Fmt top(p, ra), bot(p, rb);
  const bool same_chroma = (ra >> 1) == (rb >> 1);  // rows 2k and 2k + 1 share a chroma row
  const int x1 = p.dst.width;
  // Only the last source rows limit the gathers (see readable_row_bytes): usually every block is gathered.
  const int safe = gather_end(p, x1, kOne ? top.limit() : std::min(top.limit(), bot.limit()));
  const __m256i wy = _mm256_set1_epi32((wy0 & 0xffff) | (wy1 << 16));
  const __m256 lo = _mm256_set1_ps(p.lo), hi = _mm256_set1_ps(p.hi);
  const NormConsts<256, kCh> nk(p);
  const auto& mk = nk.mk;
  const auto& ad = nk.ad;
  const int32_t* i0 = p.x.i0.data();  // padded to whole blocks
  const int16_t* w = p.x.w.data();
  const int32_t* win = p.isa_cols.data();
  const int full = x1 / 16 * 16;
  // Window loads unless a row is its plane's last (or its chroma row is): they may read into the next row.
  const int last = std::max(ra, rb);
  const bool windows = !p.isa_cols.empty() && last + 1 < p.src_height && (last >> 1) + 1 < (p.src_height + 1) / 2;
  int ox = 0;
  if (windows) {
    for (; ox < full; ox += 16) {
      __m256 y[3][2];
    p.prefetch.step();
      row2_block<Taps::kWindow, kOne, kBgr>(top, bot, same_chroma, i0 + ox, w + 2 * ox, win + kWinInts * (ox / 8),
                                            wy, mk, ad, y);
      emit16<kType, kClamp, kCh>(y, lo, hi, out + static_cast<size_t>(ox) * p.pixel_bytes);
    }
  }
  for (; ox < full && ox + 16 <= safe; ox += 16) {
    __m256 y[3][2];
    p.prefetch.step();
    row2_block<Taps::kGather, kOne, kBgr>(top, bot, same_chroma, i0 + ox, w + 2 * ox, win, wy, mk, ad, y);
    emit16<kType, kClamp, kCh>(y, lo, hi, out + static_cast<size_t>(ox) * p.pixel_bytes);
  }
  for (; ox < x1; ox += 16) {  // near the last rows' end (exact loads), and a partial last block (via a buffer)
    __m256 y[3][2];
    p.prefetch.step();
    if (windows) {
      row2_block<Taps::kWindow, kOne, kBgr>(top, bot, same_chroma, i0 + ox, w + 2 * ox, win + kWinInts * (ox / 8),
                                            wy, mk, ad, y);
    } else if (ox + 16 <= safe) {
      row2_block<Taps::kGather, kOne, kBgr>(top, bot, same_chroma, i0 + ox, w + 2 * ox, win, wy, mk, ad, y);
    } else {
      row2_block<Taps::kStaged, kOne, kBgr>(top, bot, same_chroma, i0 + ox, w + 2 * ox, win, wy, mk, ad, y);
    }
    emit_block<16, 32>(p, ox, x1, out, [&](uint8_t* o) GB_LAMBDA_INLINE { emit16<kType, kClamp, kCh>(y, lo, hi, o); });
  }
}

// O: the instance's Row2Opts (preprocess_simd.h).
template <bool kI420, typename O>
void row2_yuv420(const Plan& p, int ra, int rb, int wy0, int wy1, uint8_t* out, int16_t* const*, int16_t* const*) {
  if (ra == rb) {
    row2_rows<kI420, O::kGray, O::kBgr, O::kType, O::kClamp, true>(p, ra, rb, wy0, wy1, out);
  } else {
    row2_rows<kI420, O::kGray, O::kBgr, O::kType, O::kClamp, false>(p, ra, rb, wy0, wy1, out);
  }
}

// ---- row2: both source rows straight to the output (RGB888, BGR888, RGBA8888) ------------------------------------
// The RGB hrow's gathers and conversion for the top and the bottom row of each block of 16 columns, then vblend /
// vone and emit16 as the YUV row2: no row planes stored and read back, no separate vrow pass. The integers are
// hrow's and the float steps vrow's, so the bytes are the reference's. Blocks near the last rows' end (where an
// 8-byte gather could leave the plane) use hrow's exact staged loads; a partial last block goes through a buffer.
template <int kBpp, bool kSrcBgr, bool kBgr, OutputType kType, bool kClamp, bool kOne>
void row2_rgb_rows(const Plan& p, int ra, int rb, int wy0, int wy1, uint8_t* out) {
  using Fmt = Rgb<kBpp, kSrcBgr>;
  constexpr int kCh = 3;
  const Fmt top(p, ra), bot(p, rb);
  const int x1 = p.dst.width;
  const int safe = gather_end(p, x1, kOne ? top.limit() : std::min(top.limit(), bot.limit()));
  const __m256i wy = _mm256_set1_epi32((wy0 & 0xffff) | (wy1 << 16));
  const __m256 lo = _mm256_set1_ps(p.lo), hi = _mm256_set1_ps(p.hi);
  const NormConsts<256, kCh> nk(p);
  const int32_t* i0 = p.x.i0.data();  // padded to whole blocks
  const int16_t* w = p.x.w.data();
  const auto block = [&](int ox, auto fast, __m256 (&y)[3][2]) GB_LAMBDA_INLINE {
    for (int h = 0; h < 2; ++h) {
      const int32_t* ci = i0 + ox + 8 * h;
      const int16_t* wc = w + 2 * ox + 16 * h;
      __m256i ht[3], hb[3];
      top.template rgb<decltype(fast)::value>(ci, wc, ht);
      if constexpr (kOne) {
        for (int j = 0; j < kCh; ++j) y[j][h] = vone(ht[kBgr ? 2 - j : j], nk.mk[j], nk.ad[j]);
      } else {
        bot.template rgb<decltype(fast)::value>(ci, wc, hb);
        for (int j = 0; j < kCh; ++j) {
          const int pl = kBgr ? 2 - j : j;  // compile-time, so ht / hb stay in registers
          y[j][h] = vblend(ht[pl], hb[pl], wy, nk.mk[j], nk.ad[j]);
        }
      }
    }
  };
  const int full = std::min(x1 / 16 * 16, safe / 16 * 16);
  int ox = 0;
  for (; ox < full; ox += 16) {
    __m256 y[3][2];
    p.prefetch.step();
    block(ox, std::true_type{}, y);
    emit16<kType, kClamp, kCh>(y, lo, hi, out + static_cast<size_t>(ox) * p.pixel_bytes);
  }
  for (; ox < x1; ox += 16) {  // near the last rows' end (exact loads), and a partial last block (via a buffer)
    __m256 y[3][2];
    p.prefetch.step();
    if (ox + 16 <= safe) block(ox, std::true_type{}, y); else block(ox, std::false_type{}, y);
    emit_block<16, 32>(p, ox, x1, out, [&](uint8_t* o) GB_LAMBDA_INLINE { emit16<kType, kClamp, kCh>(y, lo, hi, o); });
  }
}

template <int kBpp, bool kSrcBgr, typename O>
void row2_rgb(const Plan& p, int ra, int rb, int wy0, int wy1, uint8_t* out, int16_t* const*, int16_t* const*) {
  if (ra == rb) {
    row2_rgb_rows<kBpp, kSrcBgr, O::kBgr, O::kType, O::kClamp, true>(p, ra, rb, wy0, wy1, out);
  } else {
    row2_rgb_rows<kBpp, kSrcBgr, O::kBgr, O::kType, O::kClamp, false>(p, ra, rb, wy0, wy1, out);
  }
}

// row2 for the RGB formats with RGB / BGR output (gray output keeps hrow + vrow).
template <int kBpp, bool kSrcBgr>
Row2Fn rgb_row2(const Plan& p) {
  if (p.row_planes != 3 || p.src_width < 2) return nullptr;
  return pick_row2(p, [](auto o) -> Row2Fn {
    if constexpr (decltype(o)::kGray) return nullptr;
    else return row2_rgb<kBpp, kSrcBgr, decltype(o)>;
  });
}

// NV12, I420: hrow, and row2 (window loads when the table applies); YUYV: hrow.
template <PixelFormat kFormat>
struct YuvKernels {
  static void set(Plan& p, RowKernels& k) {
    constexpr bool kI420 = kFormat == PixelFormat::I420;
    if constexpr (kFormat == PixelFormat::YUYV) {
      k.hrow = p.row_planes == 1 ? hrow_avx2<Yuyv<true>> : hrow_avx2<Yuyv<false>>;
    } else {
      if (p.fuse_rows) build_windows_x86<2>(p, kI420);
      k.hrow = p.row_planes == 1 ? hrow_avx2<Yuv420<kI420, true>> : hrow_avx2<Yuv420<kI420, false>>;
      k.row2 = pick_row2(p, [](auto o) -> Row2Fn { return row2_yuv420<kI420, decltype(o)>; });
    }
  }
};

}  // namespace

RowKernels kernels_avx2(Plan& p) {
  RowKernels k = select_kernels<Hrow, YuvKernels, Rgb, Rgb565, Gray8>(p, vrow_avx2);
  if (p.fuse_rows) {
    switch (p.format) {
      case PixelFormat::RGB888: k.row2 = rgb_row2<3, false>(p); break;
      case PixelFormat::BGR888: k.row2 = rgb_row2<3, true>(p); break;
      case PixelFormat::RGBA8888: k.row2 = rgb_row2<4, false>(p); break;
      default: break;
    }
  }
  return k;
}

}  // namespace glassbridge::detail
