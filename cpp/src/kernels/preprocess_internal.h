// Internal to the preprocessing kernels: the fixed-point numerics every ISA path shares, the per-call plan (tap
// tables, normalisation constants) and the row-kernel interface. Not part of the public API.
//
// The work is split in two row kernels so each ISA file implements only what it accelerates:
//   hrow: one source row -> for each output column, convert the two horizontal taps (YUV->RGB, RGB->gray, ...)
//         to Q6 and interpolate them horizontally -> "row planes" of Q7 int16 values (one plane per distinct
//         channel: R, G, B, or a single luma plane).
//   vrow: two row-plane sets (the upper and lower source rows) -> vertical interpolation -> float normalisation
//         -> quantisation -> the output pixels, channels in output order.
// The driver (preprocess.cpp) caches the last two hrow results, so upscaling converts each source row once.
// Every ISA returns the same integers from hrow and the same bytes from vrow as the reference, so pieces from
// different ISAs may be mixed (an ISA without a kernel for some format uses the reference hrow).
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

#include "glassbridge/preprocess.h"

namespace glassbridge::detail {

// ---------------------------------------------------------------------------------------------------------------
// Fixed-point formats.
//   Tap values (one converted source pixel, one channel): Q6, 0 .. 255 * 64 (kTapMax), clamped.
//   Bilinear weights: Q14, w0 + w1 == 1 << 14, as int16 so pmaddwd / vmlal can use them.
//   Horizontally interpolated values: Q7 (0 .. 32640, fits int16): h = (t0 * w0 + t1 * w1 + 2^12) >> 13.
//   Vertical accumulator: Q21 (max 32640 * 16384 < 2^31): a = h_top * wy0 + h_bot * wy1.
//   Normalisation: y = float(a) * mulk + add, with mulk = mul * 2^-21 (an exact power-of-two scaling in float32,
//   so this is v * mul + add with v = float32(a / 2^21)); float32 multiply then add, never fused.
//   uint8 / int8: y is clamped to the type's range in float32, then rounded half-to-even (the default rounding
//   mode: cvtps2dq, vcvtnq, nearbyint), then stored.
// Errors against the exact (float64) value: <= 2^-7 level per converted tap (rounded Q15 products), <= 2^-8 from
// the Q7 rounding, 2^-15 relative from the Q14 weights, float32 rounding of a (2^-16 level): about 0.03 level in
// all, well under half an output step even when one output step is one input level.
constexpr int kWeightBits = 14;
constexpr int kWeightOne = 1 << kWeightBits;
constexpr int kTapFrac = 6;
constexpr int kTapMax = 255 << kTapFrac;  // 16320
constexpr int kRowFrac = 7;
constexpr int kHShift = kWeightBits + kTapFrac - kRowFrac;  // 13
constexpr int kHRound = 1 << (kHShift - 1);
constexpr int kAccFrac = kRowFrac + kWeightBits;  // 21

// Rounding Q15 multiply of int16 values: exactly SSSE3 pmulhrsw and NEON vqrdmulh (a, c never both -32768).
inline int mulhrs(int a, int c) { return (a * c + (1 << 14)) >> 15; }

inline int clamp_tap(int v) { return v < 0 ? 0 : (v > kTapMax ? kTapMax : v); }

constexpr int round_pos(double x) { return static_cast<int>(x + 0.5); }

// BT.601 YUV -> RGB, per tap, in int16-friendly steps (the SIMD paths run these in 16-bit lanes):
//   yc = mulhrs((Y - y_offset) * 128, ky)                       luma, Q6 (may be < 0 or > 255 for illegal Y)
//   R  = clamp(yc + mulhrs((V - 128) * 256, kvr))              chroma terms are Q6: coefficient * 64 / 256
//   G  = clamp(yc - mulhrs((U - 128) * 256, kug) - mulhrs((V - 128) * 256, kvg))
//   B  = clamp(yc + mulhrs((U - 128) * 256, kub))
// The constants are coefficient * 2^15 * 64 / scale, scale = 128 for luma, 256 for chroma, rounded.
// Limited range: R = 255/219 (Y-16) + 255/224 * 1.402 (V-128), G and B likewise (Kr 0.299, Kb 0.114).
// Full range (JPEG): R = Y + 1.402 (V-128), G = Y - 0.344136 (U-128) - 0.714136 (V-128), B = Y + 1.772 (U-128).
// In 16-bit lanes R and B may exceed int16 before clamping (limited range, Y 235 + strong blue); SIMD paths use
// saturating adds there, which clamp to the same kTapMax. G's partial sums always fit.
struct YuvCoeffs {
  int y_offset, ky, kvr, kug, kvg, kub;
};
constexpr double kKr = 0.299, kKb = 0.114, kKg = 1.0 - kKr - kKb;
constexpr double kCrR = 2.0 * (1.0 - kKr);               // 1.402
constexpr double kCbB = 2.0 * (1.0 - kKb);               // 1.772
constexpr double kCbG = kCbB * kKb / kKg;                // 0.344136
constexpr double kCrG = kCrR * kKr / kKg;                // 0.714136
constexpr double kLimY = 255.0 / 219.0, kLimC = 255.0 / 224.0;
constexpr YuvCoeffs kYuvLimited{16, round_pos(kLimY * 16384.0), round_pos(kLimC * kCrR * 8192.0),
                                round_pos(kLimC * kCbG * 8192.0), round_pos(kLimC * kCrG * 8192.0),
                                round_pos(kLimC * kCbB * 8192.0)};
constexpr YuvCoeffs kYuvFull{0, 16384, round_pos(kCrR * 8192.0), round_pos(kCbG * 8192.0), round_pos(kCrG * 8192.0),
                             round_pos(kCbB * 8192.0)};
static_assert(kYuvLimited.ky == 19077 && kYuvLimited.kvr == 13075 && kYuvLimited.kub == 16525, "BT.601 limited");
static_assert(kYuvFull.kvr == 11485 && kYuvFull.kug == 2819 && kYuvFull.kvg == 5850 && kYuvFull.kub == 14516,
              "BT.601 full");

inline int yuv_luma6(int y, const YuvCoeffs& k) { return mulhrs((y - k.y_offset) * 128, k.ky); }

inline void yuv_to_rgb6(int y, int u, int v, const YuvCoeffs& k, int* rgb) {
  const int yc = yuv_luma6(y, k);
  const int uc = (u - 128) * 256, vc = (v - 128) * 256;
  rgb[0] = clamp_tap(yc + mulhrs(vc, k.kvr));
  rgb[1] = clamp_tap(yc - mulhrs(uc, k.kug) - mulhrs(vc, k.kvg));
  rgb[2] = clamp_tap(yc + mulhrs(uc, k.kub));
}

// Luma of RGB taps (BT.601 weights 0.299, 0.587, 0.114 in Q14, summing to 2^14 so white stays 255 * 64).
constexpr int kGrayR = 4899, kGrayG = 9617, kGrayB = 1868;
static_assert(kGrayR + kGrayG + kGrayB == 1 << 14, "gray weights sum to one");
inline int gray6_from_rgb6(int r, int g, int b) { return (r * kGrayR + g * kGrayG + b * kGrayB + 8192) >> 14; }
// For 8-bit RGB this equals (R * kGrayR + G * kGrayG + B * kGrayB + 128) >> 8.
inline int gray6_from_rgb8(int r, int g, int b) { return (r * kGrayR + g * kGrayG + b * kGrayB + 128) >> 8; }

// RGB565 components widened to Q6 of 0..255: c * 255 / (2^bits - 1), as a rounding Q15 multiply.
constexpr int k565R = round_pos(255.0 * 64.0 / 31.0 / 1024.0 * 32768.0);  // applied to R5 * 1024 (and B5)
constexpr int k565G = round_pos(255.0 * 64.0 / 63.0 / 512.0 * 32768.0);   // applied to G6 * 512
inline void rgb565_to_rgb6(int px, int* rgb) {
  rgb[0] = mulhrs(((px >> 11) & 31) * 1024, k565R);
  rgb[1] = mulhrs(((px >> 5) & 63) * 512, k565G);
  rgb[2] = mulhrs((px & 31) * 1024, k565R);
}

// ---------------------------------------------------------------------------------------------------------------
// Tap tables. For output index d along an axis with crop [c0, c0 + len) mapped onto n outputs:
//   s = (d + 0.5) * len / n - 0.5 (float64), clamped to [0, len - 1]; i = c0 + floor(s), w1 = round((s - floor(s))
//   * 2^14) (w1 == 2^14 becomes i + 1 with w1 = 0). Then the pair is (i0, i1) = (i, i + 1), except at the image's
//   last pixel, where it is (i - 1, i) with w1 = 2^14: so i1 == i0 + 1 always holds when the image has at least
//   two pixels along the axis (SIMD paths load adjacent pairs). A tap with weight 0 may lie one pixel outside the
//   crop (never outside the image); it contributes exactly nothing. An image one pixel wide gives i0 == i1 == 0.
struct AxisTaps {
  std::vector<int32_t> i0;  // absolute source index of the first tap
  std::vector<int32_t> i1;  // i0 + 1, or i0 when the image is one pixel wide
  std::vector<int16_t> w;   // (w0, w1) interleaved, Q14
};
AxisTaps make_axis_taps(int image_len, int crop_start, int crop_len, int out_len);

// The plan's column taps (Plan::x) are padded to a multiple of kColPad entries: the last column repeated with
// zero weights, so a SIMD block at the row's end loads its taps like any other block (the extra outputs land in
// row-plane slack or a scratch buffer, never in the output).
constexpr int kColPad = 16;

// Bytes a kernel may read from the start of row `row` of a plane whose rows hold `row_bytes` bytes: the row
// itself for the plane's last row, else also the next row (validate() guarantees (rows - 1) * stride + row_bytes
// readable bytes). Wide loads (gathers of 4 or 8 bytes for a 2-byte pair) near a row's end then stay on the fast
// path for every row but the last. Capped: no kernel reads more than a few bytes past its row.
inline int readable_row_bytes(ptrdiff_t stride, int rows, int row, int row_bytes) {
  if (row + 1 >= rows) return row_bytes;
  return row_bytes + static_cast<int>(stride < 64 ? stride : 64);
}
// Software prefetch of the source lines a later output row reads, issued a few lines at a time as a row kernel
// proceeds along its row (see preprocess.cpp, RowPrefetcher): the driver loads one stream per source row span, a
// row kernel calls step() once per block of 16 output columns, and the driver drains whatever is left. Spreading
// the requests keeps them from arriving as one burst that fills the core's line-fill buffers while the current
// row still computes (measured, 1080p NV12 -> 224 DRAM-cold: 0.27 ms with one burst per row, 0.20 ms spread).
// A prefetch never faults and changes no result. Kernels without step() calls get everything from drain().
class RowPrefetch {
 public:
  static constexpr int kMaxStreams = 6;  // two source rows of up to three planes
  static constexpr uintptr_t kLine = 64;

  void clear() {
    n_ = 0;
    countdown_ = 1;
  }
  // The lines holding bytes [begin, end) (end > begin).
  void add(const uint8_t* begin, const uint8_t* end) {
    Stream& s = s_[n_++];
    s.next = reinterpret_cast<uintptr_t>(begin) & ~(kLine - 1);
    s.end = (reinterpret_cast<uintptr_t>(end - 1) & ~(kLine - 1)) + kLine;
  }
  // Each stream requests `lines` lines on every `every`-th step (the first step included).
  void set_pace(int lines, int every) {
    per_step_ = lines;
    every_ = every;
  }
  // Called once per 16 output columns; inline and cheap so the row kernel's loop stays as the compiler had it.
  void step() {
    if (--countdown_ <= 0) issue();
  }
  void drain();  // every line not yet requested; then the streams are empty

 private:
  struct Stream {
    uintptr_t next, end;  // the next line to request; the end of the span's last line
  };
  void issue();  // out of line (preprocess.cpp): the next `per_step_` lines of every stream
  Stream s_[kMaxStreams] = {};
  int n_ = 0, per_step_ = 1, every_ = 1, countdown_ = 1;
};

// Everything a row kernel needs, computed once per call.
struct Plan {
  PixelFormat format = PixelFormat::GRAY8;
  YuvRange range = YuvRange::Limited;
  int src_width = 0, src_height = 0;
  const uint8_t* plane[3] = {nullptr, nullptr, nullptr};
  ptrdiff_t stride[3] = {0, 0, 0};
  Rect dst;                    // resolved destination rectangle inside the output
  int out_width = 0, out_height = 0;
  AxisTaps x, y;               // x: dst.width entries (padded, see kColPad), y: dst.height entries
  int row_planes = 3;          // 1 (gray output, or a gray source) or 3 (R, G, B)
  int out_channels = 3;        // 1 or 3
  int perm[3] = {0, 1, 2};     // output channel j reads row plane perm[j]
  OutputType type = OutputType::UInt8;
  size_t elem_size = 1, pixel_bytes = 3;
  float mulk[3] = {0, 0, 0};   // mul * 2^-21, output channel order
  float add[3] = {0, 0, 0};
  float lo = 0.f, hi = 255.f;  // quantised range (uint8 0..255, int8 -128..127)
  // |y| < 2^31 for every possible v: converting y to int32 and saturating to the type then equals clamping y first
  // (the bounds are integers), so vector paths may skip the float clamp.
  bool y_fits_int32 = false;
  bool fuse_rows = false;      // crop height >= 2 * dst height: consecutive output rows share no source rows
  // Column tables an ISA derives from x once per call (its kernels_* function fills them; see that file).
  std::vector<int32_t> isa_cols;
  // The next output row's source lines, loaded by the driver before each output row; mutable because the row
  // kernels, which take the plan const, call prefetch.step() (a plan belongs to one call on one thread).
  mutable RowPrefetch prefetch;

  const YuvCoeffs& yuv() const { return range == YuvRange::Full ? kYuvFull : kYuvLimited; }
  // Number of leading output columns whose first tap index i0 is below `limit` (x.i0 is non-decreasing): the
  // columns a SIMD loop may gather with wide loads that would run past the row's end for larger i0.
  int cols_with_i0_below(int limit) const;

 private:
  // One-entry memo of cols_with_i0_below: every row of a call asks the same question. A plan belongs to one call
  // on one thread.
  mutable int memo_limit_ = 0, memo_cols_ = -1;
};

// Row planes hold dst.width + kRowSlack int16: SIMD kernels may store whole vectors past dst.width in hrow and read
// them back in vrow (the values there are never written to the output).
constexpr int kRowSlack = 64;

// Writes row planes rows[p][x0 .. x1) (indices relative to dst.x) for absolute source row sy.
using HRowFn = void (*)(const Plan& p, int sy, int x0, int x1, int16_t* const* rows);
// Writes output pixels x0 .. x1 (relative to dst.x) of one output row; out points at the dst.x pixel.
using VRowFn = void (*)(const Plan& p, const int16_t* const* top, const int16_t* const* bot, int wy0, int wy1, int x0,
                        int x1, uint8_t* out);
// Optional: one output row straight from its two source rows ra and rb (columns 0 .. dst.width), without row planes
// in between; used when the crop is at least twice the destination's height, so rows are not reused. ra == rb when
// one row carries all the weight (the kernel may then convert it once). scratch_a /
// scratch_b are row planes (dst.width + kRowSlack each) for columns the kernel leaves to hrow + vrow.
using Row2Fn = void (*)(const Plan& p, int ra, int rb, int wy0, int wy1, uint8_t* out, int16_t* const* scratch_a,
                        int16_t* const* scratch_b);
struct RowKernels {
  HRowFn hrow = nullptr;
  VRowFn vrow = nullptr;
  Row2Fn row2 = nullptr;
};

// The reference row kernels (preprocess_ref.cpp): the definition of the arithmetic, and the tails of SIMD loops.
void hrow_ref(const Plan& p, int sy, int x0, int x1, int16_t* const* rows);
void vrow_ref(const Plan& p, const int16_t* const* top, const int16_t* const* bot, int wy0, int wy1, int x0, int x1,
              uint8_t* out);
RowKernels kernels_ref(const Plan& p);
#if defined(GLASSBRIDGE_X86)
RowKernels kernels_sse41(Plan& p);        // preprocess_sse41.cpp; may fill p.isa_cols
RowKernels kernels_avx2(Plan& p);         // preprocess_avx2.cpp; may fill p.isa_cols
#endif
#if defined(GLASSBRIDGE_ARM64)
RowKernels kernels_neon(Plan& p);         // preprocess_neon.cpp; may fill p.isa_cols
#endif

// Quantises one normalised value exactly as every vrow does.
inline float clamp_float(float v, float lo, float hi) { return v < lo ? lo : (v > hi ? hi : v); }

// The letterbox around OutputSpec::dst, shared by the bilinear and area drivers: the pad pixel (`pad` normalised
// and quantised like any value) and, per output row, the padding written outside dst.
class OutputRows {
 public:
  OutputRows(const OutputSpec& out, const Rect& dst, int out_channels, OutputType type, float lo, float hi,
             size_t pixel_bytes);
  // Output row oy: outside dst it is filled with padding and nullptr returned; inside, the padding left and right
  // of dst is written and the address of dst's first pixel in that row returned.
  uint8_t* row(int oy) const;

 private:
  uint8_t* data_;
  ptrdiff_t stride_;
  size_t row_bytes_, left_, inner_;
  int dst_y_, dst_h_;
  bool letterbox_;
  std::vector<uint8_t> pad_row_;
};

}  // namespace glassbridge::detail
