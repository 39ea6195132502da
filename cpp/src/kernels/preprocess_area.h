// Internal to the preprocessing kernels: the area-averaging mode (OutputSpec::interpolation == Area), its per-call
// plan and the row-sum kernel interface. The contract is in include/glassbridge/preprocess.h; this file is the exact
// definition of its arithmetic, which every ISA path computes bit for bit.
//
// Per call:
//   * Axis tables (AreaAxis): for each output index d the first source index, the number of taps and their integer
//     weights in Q(q). A reduced axis (crop length L >= outputs n) weights source pixel j of the crop by its overlap
//     with [d * L / n, (d + 1) * L / n), computed exactly in units of 1 / n and rounded to Q(q) (half up); an
//     enlarged axis takes the two bilinear taps of the contract (frac rounded to Q(q), the pair (i, i + 1), or one
//     tap at the crop's last pixel). Taps of weight 0 are dropped. W(d) is the sum of d's weights.
//   * Chroma tables (NV12 / I420 rows and columns, YUYV columns): the luma table with every tap moved to its chroma
//     sample (index >> 1) and weights of the same sample added; W(d) is unchanged. Weights stay <= 2^(q + 1) <= 2^14.
//   * q per axis: the largest q <= 13 with max_d W(d) <= kAreaMaxWy (rows) or kAreaMaxWx (columns): bounds below.
// Per output row (source rows from the row table; chroma planes from the chroma row table):
//   * Row sums, per plane, over the bytes of the crop's span in that plane (all channels of packed pixels alike):
//         c[k] = sum_i w_i * row_i[k]                                  int32, exact (<= W * 255 <= kAreaMaxWy * 255)
//         m[k] = round_half_even(float32(c[k]) * fy)                   fy = float32(128.0 / W), m in 0..32640, int16
//     RGB565 rows are first unpacked into three bytes per pixel (R5, G6, B5).
//   * Column sums, per source channel (Y, U, V / R, G, B / gray) and output column d:
//         t = sum_j w_j * m[offset + step * j]                         int32, exact (<= W * 32768 < 2^31)
//         a = float32(t) * float32(1.0 / (128.0 * W(d)))               the channel's average on its 0..255 scale
//   * Conversion (float32, each operation rounded, no FMA; kR.. are the double constants rounded to float32):
//       YUV limited: l = (Y - 16) * (255/219), u = (U - 128) * (255/224), v = (V - 128) * (255/224);
//       YUV full: l = Y, u = U - 128, v = V - 128;
//         R = clamp(l + v * 1.402), G = clamp((l - u * 0.344136) - v * 0.714136), B = clamp(l + u * 1.772);
//         gray output: clamp(l). clamp = to [0, 255].
//       RGB sources: the averages; RGB565: R * (255/31), G * (255/63), B * (255/31).
//       Gray output from RGB: (R * 0.299 + G * 0.587) + B * 0.114. GRAY8: the average (RGB output: three times).
//   * y = v * mul + add, quantised exactly as the bilinear vrow (clamp in float32, round half to even).
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

#include "glassbridge/dispatch.h"
#include "glassbridge/preprocess.h"

namespace glassbridge::detail {

constexpr int kAreaMaxQ = 13;                  // weights <= 2^14 even after chroma merging: int16 for pmaddwd
constexpr int64_t kAreaMaxWy = 8421504;        // 2^31 / 255, rounded down: c = sum w * byte fits int32
constexpr int64_t kAreaMaxWx = 65535;          // W * 32768 < 2^31: t = sum w * m fits int32
constexpr int kAreaMeanFrac = 7;               // m is the mean in Q7

// Float32 constants of the conversion (preprocess_area.h), each a double expression rounded once.
struct AreaConsts {
  float yoff, ky, kc, kvr, kug, kvg, kub;
};
constexpr double kAreaKr = 0.299, kAreaKb = 0.114, kAreaKg = 1.0 - kAreaKr - kAreaKb;
constexpr AreaConsts kAreaLimited{16.f, static_cast<float>(255.0 / 219.0), static_cast<float>(255.0 / 224.0),
                                  static_cast<float>(2.0 * (1.0 - kAreaKr)),
                                  static_cast<float>(2.0 * (1.0 - kAreaKb) * kAreaKb / kAreaKg),
                                  static_cast<float>(2.0 * (1.0 - kAreaKr) * kAreaKr / kAreaKg),
                                  static_cast<float>(2.0 * (1.0 - kAreaKb))};
constexpr float kAreaGr = static_cast<float>(kAreaKr), kAreaGg = static_cast<float>(kAreaKg),
                kAreaGb = static_cast<float>(kAreaKb);
constexpr float kArea5 = static_cast<float>(255.0 / 31.0), kArea6 = static_cast<float>(255.0 / 63.0);

struct AreaAxis {
  int q = 0;
  std::vector<int32_t> start;   // first source index of each output (absolute, or chroma sample index)
  std::vector<int32_t> count;   // number of taps
  std::vector<int32_t> offset;  // index of the first weight in w
  std::vector<int16_t> w;       // Q(q) weights, <= 2^14
  std::vector<int32_t> total;   // W(d)
  int max_count = 0;
};

// Where one source channel lives: the plane, the byte of the first pixel (or chroma sample) relative to the plane's
// span start, and the byte step between consecutive pixels (or chroma samples).
struct AreaChannel {
  int plane = 0;
  int offset = 0;
  int step = 1;
  bool chroma_x = false;  // uses the chroma column table
  int window = -1;        // index into AreaPlan::windows, or -1: scalar column sums
  std::vector<int32_t> base;  // with a window: offset + step * start[d], the window's first row-sum index
};

// Column weights of one (axis, step) laid out for vector column sums: for output d, win int16 weights where
// position step * j holds tap j's weight and every other position 0; so m[offset + step * start[d] + i] * w[d * win
// + i] summed over i in [0, win) is the column sum t (the zero positions pick up the other channels of packed
// pixels, or values past the taps, and add nothing). Built only for SIMD paths and only when win <= kAreaMaxWin.
struct AreaWindow {
  int win = 0;
  std::vector<int16_t> w;
};
constexpr int kAreaMaxWin = 64;
constexpr int kAreaSlack = 96;  // int16 of slack after each row-sum buffer: window loads may run past the span

// A plane's bytes the crop covers in each row: [begin, begin + bytes).
struct AreaPlane {
  const uint8_t* base = nullptr;
  ptrdiff_t stride = 0;
  int begin = 0, bytes = 0;
  bool chroma_y = false;  // uses the chroma row table (NV12 / I420 chroma planes)
  bool used = false;
};

struct AreaPlan {
  PixelFormat format = PixelFormat::GRAY8;
  YuvRange range = YuvRange::Limited;
  Rect dst;
  AreaAxis x, xc, y, yc;  // luma and chroma tables (xc, yc empty when unused)
  AreaPlane plane[3];
  AreaChannel ch[3];
  int nch = 1;            // source channels averaged: 1 (Y or gray) or 3
  bool gray_out = false;
  bool yuv = false;
  int out_channels = 3;
  int perm[3] = {0, 1, 2};
  OutputType type = OutputType::UInt8;
  size_t elem_size = 1, pixel_bytes = 3;
  float mul[3] = {1, 1, 1}, add[3] = {0, 0, 0};
  float lo = 0.f, hi = 255.f;
  int xa = 0, xb = 0;     // source pixel columns read: [xa, xb)
  std::vector<float> kx;  // float32(1 / (128 * W_x(d)))
  AreaWindow windows[2];
};

// One output row from the row sums m (per plane): column sums into t (per channel, dst.width + kAreaSlack int32
// each), conversion, normalisation, quantisation, into out (the dst.x pixel of the output row).
using AreaFinishFn = void (*)(const AreaPlan& p, int16_t* const* m, int32_t* const* t, uint8_t* out);
void area_finish_ref(const AreaPlan& p, int16_t* const* m, int32_t* const* t, uint8_t* out);
// Parts of it, for the SIMD paths: the scalar column sums of outputs [d0, d1) of channel c, and the conversion of
// outputs [d0, d1) from t.
void area_colsum_ref(const AreaPlan& p, int c, const int16_t* m, int d0, int d1, int32_t* t);
void area_convert_ref(const AreaPlan& p, int32_t* const* t, int d0, int d1, uint8_t* out);
#if defined(GLASSBRIDGE_X86)
void area_finish_sse41(const AreaPlan& p, int16_t* const* m, int32_t* const* t, uint8_t* out);
void area_finish_avx2(const AreaPlan& p, int16_t* const* m, int32_t* const* t, uint8_t* out);
#endif
#if defined(GLASSBRIDGE_ARM64)
void area_finish_neon(const AreaPlan& p, int16_t* const* m, int32_t* const* t, uint8_t* out);
#endif

// Row sums of one plane for one output row: rows[i] points at the span's first byte of source row i, w[i] its
// weight. Writes m[0 .. n). col is int32 scratch of n entries (for kernels that accumulate row by row).
using AreaRowSumFn = void (*)(const uint8_t* const* rows, const int16_t* w, int nrows, int n, float fy, int16_t* m,
                              int32_t* col);

void area_rowsum_ref(const uint8_t* const* rows, const int16_t* w, int nrows, int n, float fy, int16_t* m,
                     int32_t* col);
// The scalar definition for columns [k0, k1) only (the tails of the vector loops); col holds k1 entries.
void area_rowsum_ref_tail(const uint8_t* const* rows, const int16_t* w, int nrows, int k0, int k1, float fy,
                          int16_t* m, int32_t* col);
#if defined(GLASSBRIDGE_X86)
void area_rowsum_sse41(const uint8_t* const* rows, const int16_t* w, int nrows, int n, float fy, int16_t* m,
                       int32_t* col);
void area_rowsum_avx2(const uint8_t* const* rows, const int16_t* w, int nrows, int n, float fy, int16_t* m,
                      int32_t* col);
#endif
#if defined(GLASSBRIDGE_ARM64)
void area_rowsum_neon(const uint8_t* const* rows, const int16_t* w, int nrows, int n, float fy, int16_t* m,
                      int32_t* col);
#endif

// The axis table of the contract (exposed for the C++ tests).
AreaAxis make_area_axis(int crop_start, int crop_len, int out_len, int64_t max_total);
// The chroma table of a luma table (taps moved to index >> 1, weights of one sample added).
AreaAxis chroma_area_axis(const AreaAxis& luma);

// Validated arguments in, output written; isa chooses the row-sum kernel.
void preprocess_area(const SourceImage& src, const Rect& crop, const OutputSpec& out, Isa isa);

}  // namespace glassbridge::detail
