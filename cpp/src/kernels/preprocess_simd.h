// Shared by the SIMD row kernels (preprocess_sse41.cpp, preprocess_avx2.cpp, preprocess_neon.cpp), as simdjson's
// generic/ is by its implementations: the code that does not depend on the instruction set (scalar staging, the
// loops around the vector work, the per-call tables, the kernel selection) and the x86 code SSE4.1 and AVX2 run at
// two register widths, written once. The vector parts come from the including file as functors or as the register
// types the templates below are instantiated with.
//
// Only the ISA files include this header, each compiled with its own flags (-msse4.1; -mavx2 -mfma -mbmi2;
// AArch64), so every function here is built for the ISA of the file that uses it. Everything has internal linkage
// (an anonymous namespace): an inline function with external linkage would be merged by the linker across the files,
// and an AVX2 build of it could then run on a CPU with SSE4.1 only.
#pragma once

#include <algorithm>
#include <climits>
#include <cstring>
#include <type_traits>
#include <vector>

#if defined(__SSE4_1__)
#include <immintrin.h>
#elif defined(__ARM_NEON)
#include <arm_neon.h>
#endif

#include "preprocess_internal.h"

// For the small helpers the row loops are built from: GCC 12 otherwise calls some of them out of line once a loop
// body grows (measured on AVX2: finish() and terms_window() as calls cost 30% more instructions in row2).
#define GB_INLINE __attribute__((always_inline)) inline
// For the lambdas an ISA hands to the loops below (after the parameter list): each is the body of the loop it is
// handed to, never a call (measured on NEON: a row2 store lambda left out of line cost 2% more instructions). Not on
// the vrow channel functions, which GCC inlines anyway: forced, SSE4.1's vrow got 0.5% more instructions.
#define GB_LAMBDA_INLINE __attribute__((always_inline))

namespace glassbridge::detail {
namespace {

// ---- registers and broadcasts, by width in bits ----------------------------------------------------------------
// Regs<kBits>: I16, a register of int16 lanes, F, of float32 lanes, and on x86 I, the integer register. Templates
// take the width rather than the register type: x86 register types carry attributes a template argument drops
// (-Wignored-attributes). The 256-bit (AVX2) code is instantiated only in the file built with -mavx2.
template <int kBits>
struct Regs;
#if defined(__SSE4_1__)
template <>
struct Regs<128> {
  using I = __m128i;
  using I16 = __m128i;
  using F = __m128;
};
template <>
struct Regs<256> {
  using I = __m256i;
  using I16 = __m256i;
  using F = __m256;
};
template <int kBits>
GB_INLINE typename Regs<kBits>::I16 set16(int v) {
  if constexpr (kBits == 256) return _mm256_set1_epi16(static_cast<int16_t>(v));
  else return _mm_set1_epi16(static_cast<int16_t>(v));
}
template <int kBits>
GB_INLINE typename Regs<kBits>::I16 zero16() {
  if constexpr (kBits == 256) return _mm256_setzero_si256();
  else return _mm_setzero_si128();
}
template <int kBits>
GB_INLINE typename Regs<kBits>::F setf(float v) {
  if constexpr (kBits == 256) return _mm256_set1_ps(v);
  else return _mm_set1_ps(v);
}
#elif defined(__ARM_NEON)
template <>
struct Regs<128> {
  using I16 = int16x8_t;
  using F = float32x4_t;
};
template <int kBits>
GB_INLINE int16x8_t set16(int v) { return vdupq_n_s16(static_cast<int16_t>(v)); }
template <int kBits>
GB_INLINE int16x8_t zero16() { return vdupq_n_s16(0); }
template <int kBits>
GB_INLINE float32x4_t setf(float v) { return vdupq_n_f32(v); }
#endif

// BT.601 constants (YuvCoeffs) in int16 lanes. yoff is y_offset * kYOffsetScale: x86 subtracts it from Y, NEON
// (scale 128) from Y * 128, which a widening shift gives. bias (0x8000) turns chroma << 8 into (C - 128) * 256 by xor.
template <int kBits, int kYOffsetScale = 1>
struct YuvConsts {
  typename Regs<kBits>::I16 yoff, ky, kvr, kug, kvg, kub, bias, zero, tmax;
  explicit YuvConsts(const YuvCoeffs& c)
      : yoff(set16<kBits>(c.y_offset * kYOffsetScale)),
        ky(set16<kBits>(c.ky)),
        kvr(set16<kBits>(c.kvr)),
        kug(set16<kBits>(c.kug)),
        kvg(set16<kBits>(c.kvg)),
        kub(set16<kBits>(c.kub)),
        bias(set16<kBits>(0x8000)),
        zero(zero16<kBits>()),
        tmax(set16<kBits>(kTapMax)) {}
};

// The normalisation y = a * mulk + add of kCh output channels, broadcast once per row2 call.
template <int kBits, int kCh>
struct NormConsts {
  typename Regs<kBits>::F mk[3], ad[3];
  explicit NormConsts(const Plan& p) {
    for (int j = 0; j < kCh; ++j) {
      mk[j] = setf<kBits>(p.mulk[j]);
      ad[j] = setf<kBits>(p.add[j]);
    }
  }
};

// Chroma terms of YUV taps, shared by both rows of an output row when they have the same chroma row:
// rv = mulhrs(V', kvr), guv = mulhrs(U', kug) + mulhrs(V', kvg) (so G = yc - guv = yc - gu - gv exactly, no 16-bit
// overflow), bu = mulhrs(U', kub), with U', V' = (C - 128) * 256.
template <int kBits>
struct ChromaTerms {
  typename Regs<kBits>::I16 rv, guv, bu;
};

// ---- source rows ---------------------------------------------------------------------------------------------
// The rows of source row sy of a YUV format: luma (YUYV: the packed row), the NV12 UV or I420 U row (null when the
// plan has no chroma plane, as YUYV), the I420 V row (i420, a constant where it is constructed).
struct YuvRowPtrs {
  const uint8_t* yrow;
  const uint8_t* c1;
  const uint8_t* c2;
  GB_INLINE YuvRowPtrs(const Plan& p, int sy, bool i420)
      : yrow(p.plane[0] + sy * p.stride[0]),
        c1(p.plane[1] != nullptr ? p.plane[1] + (sy >> 1) * p.stride[1] : nullptr),
        c2(i420 ? p.plane[2] + (sy >> 1) * p.stride[2] : nullptr) {}
};

// One source row of a packed format (RGB888 / BGR888 / RGBA8888, RGB565, GRAY8): plane 0.
struct PackedRow {
  const Plan& p;
  const uint8_t* row;
  bool gray;  // gray output: one row plane
  PackedRow(const Plan& pl, int sy) : p(pl), row(pl.plane[0] + sy * pl.stride[0]), gray(pl.row_planes == 1) {}
};

// ---- staging (the SSE4.1 and NEON hrow) ------------------------------------------------------------------------
// A scalar pass copies each output column's adjacent tap pair into a staging buffer, a vector pass converts and
// interpolates them: per chunk of kChunk columns, stage(i0, n, n_safe) (wide loads for the first n_safe columns,
// exact byte loads after), then the including ISA's compute per block of 8 columns.
constexpr int kChunk = 256;  // output columns staged per pass (a multiple of 8)
constexpr int kStage = kChunk + 8;

// Shift for 8-bit taps: (64 S + 2^12) >> 13 == (S + 64) >> 7, so raw bytes need no widening to Q6 first.
constexpr int kRawShift = kHShift - kTapFrac;

template <typename T>
inline T load_raw(const uint8_t* p) {
  T v;
  std::memcpy(&v, p, sizeof v);
  return v;
}

// Repeats the last staged entry up to a whole block of 8.
template <typename T>
void pad_stage(T* st, int n) {
  for (int j = n; j % 8 != 0; ++j) st[j] = st[n - 1];
}

// GRAY8: the pair (i0, i0 + 1) per column.
struct StagedGray8 : PackedRow {
  alignas(16) uint16_t st[kStage];
  using PackedRow::PackedRow;
  int limit() const { return INT_MAX; }
  void stage(const int32_t* i0, int n, int) {
    for (int j = 0; j < n; ++j) st[j] = load_raw<uint16_t>(row + i0[j]);
    pad_stage(st, n);
  }
};

// RGB888 / BGR888 / RGBA8888: the pixel pair as 8 bytes per column (6 used for 3 bytes per pixel).
template <int kBpp>
struct StagedRgb : PackedRow {
  alignas(16) uint64_t st[kStage];
  using PackedRow::PackedRow;
  int limit() const { return kBpp == 4 ? INT_MAX : p.src_width - 2; }  // 8-byte loads at bpp * i0
  void stage(const int32_t* i0, int n, int n_safe) {
    for (int j = 0; j < n_safe; ++j) st[j] = load_raw<uint64_t>(row + kBpp * i0[j]);
    for (int j = n_safe; j < n; ++j) {
      st[j] = 0;
      std::memcpy(&st[j], row + kBpp * i0[j], 2 * kBpp);
    }
    pad_stage(st, n);
  }
};

// RGB565: the pixel pair as 32 bits per column.
struct StagedRgb565 : PackedRow {
  alignas(16) uint32_t st[kStage];
  using PackedRow::PackedRow;
  int limit() const { return INT_MAX; }
  void stage(const int32_t* i0, int n, int) {
    for (int j = 0; j < n; ++j) st[j] = load_raw<uint32_t>(row + 2 * i0[j]);
    pad_stage(st, n);
  }
};

// hrow of a staged format Fmt: block(f, j, ox) computes and stores the 8 columns from ox (j: the same column in the
// chunk), one prefetch step per 16 columns.
template <typename Fmt, typename Block>
GB_INLINE void hrow_staged(const Plan& p, int sy, int x0, int x1, Block block) {
  Fmt f(p, sy);
  const int safe = std::min(x1, p.cols_with_i0_below(f.limit()));
  for (int c = x0; c < x1; c += kChunk) {
    const int n = std::min(kChunk, x1 - c);
    f.stage(p.x.i0.data() + c, n, std::max(0, std::min(n, safe - c)));
    for (int j = 0; j < n; j += 8) {
      const int ox = c + j;
      if ((ox & 15) == 0) p.prefetch.step();  // one step per 16 columns
      block(static_cast<const Fmt&>(f), j, ox);
    }
  }
}

// ---- output blocks -----------------------------------------------------------------------------------------------
// vrow's loop: block(ox, o) writes the kBlock pixels from column ox to o. The last partial block goes through a
// buffer (the row planes' slack makes its reads safe) and only the wanted pixels are copied out.
template <int kBlock, int kAlign, typename Block>
GB_INLINE void vrow_blocks(const Plan& p, int x0, int x1, uint8_t* out, Block block) {
  int ox = x0;
  for (; ox + kBlock <= x1; ox += kBlock) block(ox, out + static_cast<size_t>(ox) * p.pixel_bytes);
  if (ox < x1) {
    alignas(kAlign) uint8_t buf[kBlock * 12];
    block(ox, buf);
    std::memcpy(out + static_cast<size_t>(ox) * p.pixel_bytes, buf, static_cast<size_t>(x1 - ox) * p.pixel_bytes);
  }
}

// A row2 block's store: emit(o) writes the kBlock pixels from column ox to o; the row's last partial block goes
// through a buffer.
template <int kBlock, int kAlign, typename Emit>
GB_INLINE void emit_block(const Plan& p, int ox, int x1, uint8_t* out, Emit emit) {
  uint8_t* o = out + static_cast<size_t>(ox) * p.pixel_bytes;
  if (ox + kBlock <= x1) {
    emit(o);
  } else {
    alignas(kAlign) uint8_t buf[kBlock * 12];
    emit(buf);
    std::memcpy(o, buf, static_cast<size_t>(x1 - ox) * p.pixel_bytes);
  }
}

// ---- window tables (NV12, I420 row2) -----------------------------------------------------------------------------
// When a few consecutive output columns' taps fall within one window of the source row, one load per window and a
// byte shuffle by per-call indices replace the per-column loads (gathers on AVX2, scalar staging on SSE4.1 and
// NEON). Each ISA lays out its own table in Plan::isa_cols (see its build_windows).

// Offset of the chroma bytes of pixel x in its row: NV12 U (V follows), I420 U or V.
constexpr int chroma_byte(int x, bool i420) { return i420 ? x >> 1 : 2 * (x >> 1); }

// Windows may read past a row's end into the next row (readable_row_bytes): the plane's last row (and last chroma
// row) keeps the per-column loads. Windows ending by y_end (luma) and c_end (chroma) bytes from their row's start
// are used only if they stay within that for every other row.
inline bool windows_fit(const Plan& p, bool i420, int y_end, int c_end) {
  const int cw = (p.src_width + 1) / 2, ch = (p.src_height + 1) / 2;
  if (p.src_height < 2 || ch < 2) return false;
  if (y_end > readable_row_bytes(p.stride[0], p.src_height, 0, p.src_width)) return false;
  if (c_end > readable_row_bytes(p.stride[1], ch, 0, i420 ? cw : 2 * cw)) return false;
  if (i420 && c_end > readable_row_bytes(p.stride[2], ch, 0, cw)) return false;
  return true;
}

// Fills Plan::isa_cols: `lead` int32 of header, then per group of kLanes windows of kCols consecutive columns,
// kInts int32. A window reads `bytes` bytes of the Y row from yo (i0 of its first column) and of the chroma row(s)
// from co; put_window(t, lane, yo, co) stores those, put_col(t, lane, m, dy, ca, cb) the indices of its column m
// (t: the group's entries): the Y pair at dy and dy + 1 and the chroma of taps a and b at ca and cb (NV12: U; V
// follows). False, and the table is left empty, when a column's taps do not fit its window or a window does not fit
// the plane (windows_fit).
template <int kCols, int kLanes, int kInts, typename PutWindow, typename PutCol>
bool build_window_table(Plan& p, bool i420, int bytes, int lead, PutWindow put_window, PutCol put_col) {
  const int groups = static_cast<int>(p.x.i0.size()) / (kCols * kLanes);  // padded to whole blocks
  std::vector<int32_t> tab(static_cast<size_t>(lead) + static_cast<size_t>(groups) * kInts, 0);
  const int vb = i420 ? 0 : 1;  // NV12: V follows U
  int y_end = 0, c_end = 0;
  for (int g = 0; g < groups; ++g) {
    int32_t* t = tab.data() + lead + static_cast<size_t>(g) * kInts;
    for (int lane = 0; lane < kLanes; ++lane) {
      const int32_t* i0 = p.x.i0.data() + kCols * (kLanes * g + lane);
      const int yo = i0[0], co = chroma_byte(i0[0], i420);
      put_window(t, lane, yo, co);
      y_end = std::max(y_end, yo + bytes);
      c_end = std::max(c_end, co + bytes);
      for (int m = 0; m < kCols; ++m) {
        const int x = i0[m];
        const int ca = chroma_byte(x, i420) - co, cb = chroma_byte(x + 1, i420) - co;
        if (x + 1 - yo >= bytes || cb + vb >= bytes) return false;
        put_col(t, lane, m, x - yo, ca, cb);
      }
    }
  }
  if (!windows_fit(p, i420, y_end, c_end)) return false;
  p.isa_cols = std::move(tab);
  return true;
}

// ---- kernel selection --------------------------------------------------------------------------------------------
// The compile-time choices of a row2 instance: gray output (one row plane), BGR order (output channel 0 reads row
// plane 2), the output type, and the float clamp before the conversion (unless y always fits int32).
template <bool kGray_, bool kBgr_, OutputType kType_, bool kClamp_>
struct Row2Opts {
  static constexpr bool kGray = kGray_, kBgr = kBgr_, kClamp = kClamp_;
  static constexpr OutputType kType = kType_;
};

template <bool kGray, bool kBgr, typename Make>
Row2Fn pick_row2_type(const Plan& p, Make make) {
  const bool clamp = !p.y_fits_int32;
  switch (p.type) {
    case OutputType::UInt8:
      return clamp ? make(Row2Opts<kGray, kBgr, OutputType::UInt8, true>{})
                   : make(Row2Opts<kGray, kBgr, OutputType::UInt8, false>{});
    case OutputType::Int8:
      return clamp ? make(Row2Opts<kGray, kBgr, OutputType::Int8, true>{})
                   : make(Row2Opts<kGray, kBgr, OutputType::Int8, false>{});
    case OutputType::Float32:
      return make(Row2Opts<kGray, kBgr, OutputType::Float32, false>{});
  }
  return nullptr;
}

// The row2 instance for the plan: make(Row2Opts<...>{}) returns it (an ISA whose conversions saturate may ignore
// kClamp).
template <typename Make>
Row2Fn pick_row2(const Plan& p, Make make) {
  if (p.row_planes == 1) return pick_row2_type<true, false>(p, make);
  return p.perm[0] == 2 ? pick_row2_type<false, true>(p, make) : pick_row2_type<false, false>(p, make);
}

// The row kernels of an ISA for the plan: vrow, the hrow of each packed format from Hrow<Fmt>::fn (Fmt: the ISA's
// RgbF<bytes per pixel, BGR order>, Rgb565F or Gray8F), and for NV12, I420 and YUYV whatever Yuv<format>::set(p, k)
// chooses (it may set k.hrow and k.row2 and fill p.isa_cols).
template <template <typename> class Hrow, template <PixelFormat> class Yuv, template <int, bool> class RgbF,
          typename Rgb565F, typename Gray8F>
RowKernels select_kernels(Plan& p, VRowFn vrow) {
  RowKernels k{hrow_ref, vrow};
  if (p.src_width < 2) return k;  // the pair loads need i1 == i0 + 1
  switch (p.format) {
    case PixelFormat::NV12: Yuv<PixelFormat::NV12>::set(p, k); break;
    case PixelFormat::I420: Yuv<PixelFormat::I420>::set(p, k); break;
    case PixelFormat::YUYV: Yuv<PixelFormat::YUYV>::set(p, k); break;
    case PixelFormat::RGB888: k.hrow = Hrow<RgbF<3, false>>::fn; break;
    case PixelFormat::BGR888: k.hrow = Hrow<RgbF<3, true>>::fn; break;
    case PixelFormat::RGBA8888: k.hrow = Hrow<RgbF<4, false>>::fn; break;
    case PixelFormat::RGB565: k.hrow = Hrow<Rgb565F>::fn; break;
    case PixelFormat::GRAY8: k.hrow = Hrow<Gray8F>::fn; break;
  }
  return k;
}

#if defined(__SSE4_1__)
// ---- x86: SSE4.1 and AVX2 ------------------------------------------------------------------------------------------
// The operations the shared x86 code needs, at the width of I: __m128i (SSE4.1) or __m256i (AVX2).
namespace x86 {
template <typename I>
constexpr bool kYmm = sizeof(I) == 32;  // a 256-bit AVX2 register rather than a 128-bit one

template <int kBits>
GB_INLINE typename Regs<kBits>::I set32(int v) {
  if constexpr (kBits == 256) return _mm256_set1_epi32(v);
  else return _mm_set1_epi32(v);
}
// op(a, b) or op<kN>(a) (an immediate shift count): the AVX2 intrinsic for __m256i, the SSE one for __m128i.
#define GB_X86_OP2(op, avx2, sse) \
  template <typename I>           \
  GB_INLINE I op(I a, I b) {      \
    if constexpr (kYmm<I>) return avx2(a, b); else return sse(a, b); \
  }
#define GB_X86_SHIFT(op, avx2, sse) \
  template <int kN, typename I>     \
  GB_INLINE I op(I a) {             \
    if constexpr (kYmm<I>) return avx2(a, kN); else return sse(a, kN); \
  }
GB_X86_OP2(and_, _mm256_and_si256, _mm_and_si128)
GB_X86_OP2(add32, _mm256_add_epi32, _mm_add_epi32)
GB_X86_OP2(madd16, _mm256_madd_epi16, _mm_madd_epi16)
GB_X86_OP2(mulhrs16, _mm256_mulhrs_epi16, _mm_mulhrs_epi16)
GB_X86_OP2(unpacklo16, _mm256_unpacklo_epi16, _mm_unpacklo_epi16)
GB_X86_OP2(unpackhi16, _mm256_unpackhi_epi16, _mm_unpackhi_epi16)
GB_X86_OP2(packs32, _mm256_packs_epi32, _mm_packs_epi32)
GB_X86_SHIFT(srli16, _mm256_srli_epi16, _mm_srli_epi16)
GB_X86_SHIFT(slli16, _mm256_slli_epi16, _mm_slli_epi16)
GB_X86_SHIFT(srai32, _mm256_srai_epi32, _mm_srai_epi32)
#undef GB_X86_OP2
#undef GB_X86_SHIFT

template <typename F>
GB_INLINE void storeu_ps(float* p, F v) {
  if constexpr (kYmm<F>) _mm256_storeu_ps(p, v);
  else _mm_storeu_ps(p, v);
}
}  // namespace x86

// (taps . weights + 2^(shift-1)) >> shift per column; taps and w hold one (a, b) int16 pair per column.
template <int kShift, typename I>
inline I hinterp(I taps, I w) {
  constexpr int kBits = static_cast<int>(sizeof(I) * 8);
  return x86::srai32<kShift>(x86::add32(x86::madd16(taps, w), x86::set32<kBits>(1 << (kShift - 1))));
}

// RGB565 pixels in 16-bit lanes -> Q6 taps (rgb565_to_rgb6: R5 * 1024, G6 * 512, B5 * 1024 by masks, then the
// rounding Q15 multiplies), each column's pair interpolated: the R, G, B planes, or gray. A base of the ISA's Rgb565,
// listed before its staging buffer if any: GCC 12 allocates the loop better with the constants first.
template <int kBits>
struct Rgb565Conv {
  using I = typename Regs<kBits>::I;
  I m5, m6, kr, kg, k_rg, k_b1, ones;
  Rgb565Conv()
      : m5(set16<kBits>(0x7C00)),
        m6(set16<kBits>(0x7E00)),
        kr(set16<kBits>(k565R)),
        kg(set16<kBits>(k565G)),
        k_rg(x86::set32<kBits>(kGrayR | (kGrayG << 16))),
        k_b1(x86::set32<kBits>(kGrayB | (8192 << 16))),
        ones(set16<kBits>(1)) {}

  void convert(I px, I w, bool gray, I* res) const {
    using namespace x86;
    const I r = mulhrs16(and_(srli16<1>(px), m5), kr);
    const I g = mulhrs16(and_(slli16<4>(px), m6), kg);
    const I b = mulhrs16(and_(slli16<10>(px), m5), kr);
    if (gray) {  // (r * kGrayR + g * kGrayG + b * kGrayB + 8192) >> 14 per tap; unpack / pack keep the lane order
      const I lo = srai32<14>(add32(madd16(unpacklo16(r, g), k_rg), madd16(unpacklo16(b, ones), k_b1)));
      const I hi = srai32<14>(add32(madd16(unpackhi16(r, g), k_rg), madd16(unpackhi16(b, ones), k_b1)));
      res[0] = hinterp<kHShift>(packs32(lo, hi), w);
      return;
    }
    res[0] = hinterp<kHShift>(r, w);
    res[1] = hinterp<kHShift>(g, w);
    res[2] = hinterp<kHShift>(b, w);
  }
};

// pshufb controls taking bytes (base + 4m, base + 4m) of each dword m of a 128-bit lane (both lanes of 256 bits)
// into the HIGH bytes of two 16-bit lanes (the chroma << 8 the conversion wants); the parity of i0 is added to the
// second one at run time. Built at compile time: the kernels construct their per-row state once or twice per row.
struct Ctrl8 {
  alignas(32) int32_t v[8];
};
constexpr Ctrl8 make_chroma_ctrl(int base) {
  Ctrl8 c{};
  for (int j = 0; j < 8; ++j) {
    const int m = 4 * (j % 4) + base;
    c.v[j] = 0x80 | (m << 8) | (0x80 << 16) | (m << 24);
  }
  return c;
}
constexpr Ctrl8 kChromaCtrl[3] = {make_chroma_ctrl(0), make_chroma_ctrl(1), make_chroma_ctrl(2)};

// pshufb control: (o0, o1) of the two 8-byte records of 8 bytes, each byte zero-extended into a 16-bit lane.
inline void byte_pair_ctrl(int8_t* c, int o0, int o1) {
  for (int col = 0; col < 2; ++col) {
    c[4 * col + 0] = static_cast<int8_t>(8 * col + o0);
    c[4 * col + 1] = static_cast<int8_t>(-128);
    c[4 * col + 2] = static_cast<int8_t>(8 * col + o1);
    c[4 * col + 3] = static_cast<int8_t>(-128);
  }
}

// pshufb controls of the RGB hrow over two 8-byte pixel-pair records (one 128-bit lane): rg, the R pairs (low 8
// bytes) and G pairs (high 8 bytes); b, the B pairs twice; for gray output, per tap a0 b0 a1 b1 of the two records
// the 16-bit pairs (R, G) and (B, 0), the 0 becoming 1 by an or.
template <int kBpp, bool kBgr>
struct RgbCtrl {
  alignas(16) int8_t rg[16], b[16], rg_gray[16], b_gray[16];
  RgbCtrl() {
    const int ro = kBgr ? 2 : 0, bo = kBgr ? 0 : 2;
    byte_pair_ctrl(rg, ro, kBpp + ro);
    byte_pair_ctrl(rg + 8, 1, kBpp + 1);
    byte_pair_ctrl(b, bo, kBpp + bo);
    byte_pair_ctrl(b + 8, bo, kBpp + bo);
    for (int t = 0; t < 4; ++t) {
      const int base = 8 * (t / 2) + (t % 2) * kBpp;
      const int8_t c_rg[4] = {static_cast<int8_t>(base + ro), -128, static_cast<int8_t>(base + 1), -128};
      const int8_t c_b[4] = {static_cast<int8_t>(base + bo), -128, -128, -128};
      std::memcpy(rg_gray + 4 * t, c_rg, 4);
      std::memcpy(b_gray + 4 * t, c_b, 4);
    }
  }
};

// pshufb masks interleaving three 16-byte channel vectors into 48 bytes of RGB: m[k][c] builds output bytes
// 16k .. 16k+15 from channel c.
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

inline __m128i load_mask(const int8_t* m) { return _mm_loadu_si128(reinterpret_cast<const __m128i*>(m)); }

inline void store_rgb48(uint8_t* out, __m128i r, __m128i g, __m128i b) {
  for (int k = 0; k < 3; ++k) {
    const __m128i v = _mm_or_si128(
        _mm_or_si128(_mm_shuffle_epi8(r, load_mask(kMasks.m[k][0])), _mm_shuffle_epi8(g, load_mask(kMasks.m[k][1]))),
        _mm_shuffle_epi8(b, load_mask(kMasks.m[k][2])));
    _mm_storeu_si128(reinterpret_cast<__m128i*>(out + 16 * k), v);
  }
}

// 16 pixels of uint8 / int8 output: one channel, or three interleaved.
GB_INLINE void store16_bytes(uint8_t* o, const __m128i (&bytes)[3], int channels) {
  if (channels == 1) {
    _mm_storeu_si128(reinterpret_cast<__m128i*>(o), bytes[0]);
  } else {
    store_rgb48(o, bytes[0], bytes[1], bytes[2]);
  }
}

// GCC cannot tell that vrow_block16 stores f only after setting it (is_float, channels): no false warning.
#if !defined(__clang__)
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#endif

// 16 pixels of float32 output from f[c][q] (channel c, columns q * L .. q * L + L - 1 for L float lanes, kRegs = 16 / L
// registers): one channel, or three interleaved by store_rgb(o, r, g, b), which writes L pixels.
template <typename F, int kRegs, typename StoreRgb>
GB_INLINE void store16_floats(uint8_t* o, const F (&f)[3][kRegs], int channels, StoreRgb store_rgb) {
  constexpr int kLanes = 16 / kRegs;
  if (channels == 1) {
    for (int q = 0; q < kRegs; ++q) x86::storeu_ps(reinterpret_cast<float*>(o) + kLanes * q, f[0][q]);
  } else {
    for (int q = 0; q < kRegs; ++q) store_rgb(o + 12 * kLanes * q, f[0][q], f[1][q], f[2][q]);
  }
}

// The quantisation of a vrow: float32 output, or clamp to lo .. hi, round and pack to uint8 / int8.
template <int kBits>
struct VrowQuant {
  typename Regs<kBits>::F lo, hi;
  bool is_float, is_u8;
  explicit VrowQuant(const Plan& p)
      : lo(setf<kBits>(p.lo)),
        hi(setf<kBits>(p.hi)),
        is_float(p.type == OutputType::Float32),
        is_u8(p.type == OutputType::UInt8) {}
};

// One block of an x86 vrow: 16 output pixels from columns ox .. ox + 15 of the row planes. channel(t, b, w, mk, ad, q,
// f, bytes) does one output channel from its plane's top and bottom rows t and b (from column ox): y = a * mk + ad in
// column order into f (float32 output), or quantised into bytes.
template <int kBits, typename I, typename StoreRgb, typename Channel>
inline void vrow_block16(const Plan& p, const int16_t* const* top, const int16_t* const* bot, I w, int ox, uint8_t* o,
                         StoreRgb store_rgb, Channel channel) {
  const VrowQuant<kBits> q(p);
  typename Regs<kBits>::F f[3][512 / kBits];
  __m128i bytes[3];
  for (int j = 0; j < p.out_channels; ++j) {
    const int pl = p.perm[j];
    channel(top[pl] + ox, bot[pl] + ox, w, setf<kBits>(p.mulk[j]), setf<kBits>(p.add[j]), q, f[j], bytes[j]);
  }
  if (q.is_float) {
    store16_floats(o, f, p.out_channels, store_rgb);
  } else {
    store16_bytes(o, bytes, p.out_channels);
  }
}

#if !defined(__clang__)
#pragma GCC diagnostic pop
#endif

// row2's store of 16 output pixels from normalised values y[j][q] (channel j, registers in column order): float32
// as they are, else pack(y[j]) quantises channel j to 16 bytes.
template <OutputType kType, int kCh, typename F, int kRegs, typename StoreRgb, typename Pack>
GB_INLINE void emit16_x86(uint8_t* o, const F (&y)[3][kRegs], StoreRgb store_rgb, Pack pack) {
  if constexpr (kType == OutputType::Float32) {
    store16_floats(o, y, kCh, store_rgb);
  } else {
    __m128i bytes[3];
    for (int j = 0; j < kCh; ++j) bytes[j] = pack(y[j]);
    store16_bytes(o, bytes, kCh);
  }
}

// An x86 vrow: vrow_block16 per 16 pixels, w holding (wy0, wy1) in each 32-bit lane for pmaddwd.
template <int kBits, typename StoreRgb, typename Channel>
GB_INLINE void vrow_x86(const Plan& p, const int16_t* const* top, const int16_t* const* bot, int wy0, int wy1, int x0,
                        int x1, uint8_t* out, StoreRgb store_rgb, Channel channel) {
  const typename Regs<kBits>::I w = x86::set32<kBits>((wy0 & 0xffff) | (wy1 << 16));
  vrow_blocks<16, kBits / 8>(p, x0, x1, out, [&](int ox, uint8_t* o) GB_LAMBDA_INLINE {
    vrow_block16<kBits>(p, top, bot, w, ox, o, store_rgb, channel);
  });
}

// The window table of NV12 / I420 row2 for pshufb: windows of 4 columns and 16 bytes, kLanes of them (one per 128-bit
// lane) per group of 16 * kLanes int32: [lane] the Y window offset of each lane, [kLanes + lane] the chroma window
// offset, then the controls of all lanes, 16 bytes per lane: from int32 4 * kLanes the Y control (zero-extended pairs),
// from 8 * kLanes the U control, from 12 * kLanes the V control (NV12; I420 uses the U control for both planes):
// chroma << 8 of tap a and tap b in 16-bit lanes.
template <int kLanes>
bool build_windows_x86(Plan& p, bool i420) {
  constexpr int kInts = 16 * kLanes;
  const int vb = i420 ? 0 : 1;  // NV12: V follows U
  return build_window_table<4, kLanes, kInts>(
      p, i420, 16, 0,
      [](int32_t* t, int lane, int yo, int co) {
        t[lane] = yo;
        t[kLanes + lane] = co;
      },
      [vb](int32_t* t, int lane, int m, int dy, int ca, int cb) {
        const auto ctrl = [&](int k) { return reinterpret_cast<uint8_t*>(t + 4 * kLanes * k + 4 * lane) + 4 * m; };
        uint8_t* y4 = ctrl(1);
        uint8_t* u4 = ctrl(2);
        uint8_t* v4 = ctrl(3);
        y4[0] = static_cast<uint8_t>(dy), y4[1] = 0x80, y4[2] = static_cast<uint8_t>(dy + 1), y4[3] = 0x80;
        u4[0] = 0x80, u4[1] = static_cast<uint8_t>(ca), u4[2] = 0x80, u4[3] = static_cast<uint8_t>(cb);
        v4[0] = 0x80, v4[1] = static_cast<uint8_t>(ca + vb), v4[2] = 0x80, v4[3] = static_cast<uint8_t>(cb + vb);
      });
}
#endif  // __SSE4_1__

}  // namespace
}  // namespace glassbridge::detail
