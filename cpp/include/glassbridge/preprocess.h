// Fused image preprocessing: camera frame -> model input tensor, in one pass.
//
// Contract (ARCHITECTURE decision 2; the float64 numpy reference in tests/ checks it independently):
//  * Source formats: NV12, I420, YUYV, RGB888, BGR888, RGBA8888, RGB565, GRAY8, any row stride (bytes, >= row size).
//  * A crop rectangle of the source (integer pixels, inside the image) is resized with bilinear interpolation,
//    half-pixel centres (OpenCV INTER_LINEAR: src = (dst + 0.5) * crop / out - 0.5, clamped at the crop edges),
//    into a destination rectangle of the output; output pixels outside it are filled with `pad` (letterbox).
//  * YUV: each chroma sample applies to its 2x2 (NV12/I420) or 2x1 (YUYV) luma block, as OpenCV's cvtColor.
//    BT.601, limited range (camera) or full range (JPEG). Each of the four taps is converted to RGB and clamped
//    to [0, 255] BEFORE interpolation, so the result is what convert-then-resize would give without the
//    rounding of the intermediate image. Gray output takes luma per tap: Y expanded to full range for YUV
//    sources ((Y - 16) * 255 / 219, clamped, when limited), 0.299 R + 0.587 G + 0.114 B for RGB sources.
//  * The unrounded interpolated value v (0..255) is normalised and quantised once:
//        y = v * mul[c] + add[c]               (float32, multiply then add, no FMA)
//    uint8 / int8 outputs store saturate(round_half_even(y)); float32 outputs store y.
//    Callers derive mul/add from the model: with real = (q - zero_point) * scale and the model expecting
//    real = (v - mean) / std, mul = 1 / (std * scale), add = zero_point - mean / (std * scale).
//  * Output is NHWC (one image), channels RGB, BGR or Gray (1 channel), written to caller memory (the LiteRT
//    input tensor), row stride in bytes. Nothing is allocated per call beyond small per-row tap tables.
//  * Every ISA path (ref, sse41, avx2, neon) is bit-identical to the scalar reference.
//
// Numerics (exact definitions in src/kernels/preprocess_internal.h; every path computes these integers):
//  * Taps: OpenCV INTER_LINEAR coordinates in float64, clamped to the crop; weight w1 = round(frac * 2^14), w0 =
//    2^14 - w1. The pair is (i, i + 1); at the image's last pixel it becomes (i - 1, i) with all weight on i, so
//    SIMD paths can load adjacent pairs. A tap with weight 0 may read one pixel beyond the crop (never beyond the
//    image) and contributes nothing.
//  * Each tap is converted to Q6 (0..255*64, clamped): BT.601 YUV with rounding Q15 products (pmulhrsw /
//    vqrdmulh), gray as 0.299/0.587/0.114 in Q14, RGB565 widened as c * 255 / (2^bits - 1).
//  * h = (t0 * w0 + t1 * w1 + 2^12) >> 13 per source row (Q7), a = h_top * wy0 + h_bottom * wy1 (Q21), and
//    v = float32(a) * 2^-21: y = float32(a) * (mul * 2^-21) + add, float32 multiply then add (never fused), so
//    y = v * mul + add exactly as above. Integer outputs clamp y to the type's range in float32, then round half to
//    even (the default rounding mode), then store.
//  * Error of v against the exact float64 value: at most ~0.035 level (measured over all formats), so an integer
//    output is within half a step plus 0.035 * |mul| of the exact y: within one step for any |mul| < 14.
//  * Performance: the kernel reads only the tap pairs it needs; tap tables are built once per call. Source images
//    at most 32768 pixels on a side. SIMD paths load a few bytes more than a pair (or 16-byte windows) and may read
//    past a row's end into the next row's bytes, which the plane's validated extent ((rows - 1) * stride + row
//    bytes) guarantees; nothing past a plane's last row is ever read, and the extra bytes never affect a result.
//
// Area mode (OutputSpec::interpolation = Interpolation::Area; Bilinear stays the default). For reductions, as
// OpenCV's INTER_AREA:
//  * Per axis with crop length L mapped onto n outputs (scale = L / n): if L >= n the axis is REDUCED and output d
//    averages the crop's source footprint [d * scale, (d + 1) * scale) (crop coordinates), each source pixel
//    weighted by the length of its overlap with the footprint (interior pixels 1, the two partial ones their
//    fraction), divided by the footprint's total weight. If L < n (enlarged axis) that axis uses the bilinear
//    definition above: the two taps at s = (d + 0.5) * scale - 0.5, clamped to [0, L - 1], weights 1 - frac, frac.
//    The weights of the two axes multiply (separable); the chosen weights are the same for every channel.
//  * Colour: the average is taken in the SOURCE's colour space, then converted once per output pixel: the source
//    channels (Y, U, V with each chroma sample standing for its 2x2 / 2x1 luma block; R, G, B; RGB565's raw
//    5/6-bit components; gray) are averaged with those weights, then RGB = BT.601(Y, U, V) as above and clamped
//    to [0, 255]; gray output from YUV is the averaged Y expanded (limited range) and clamped; from RGB it is
//    0.299 R + 0.587 G + 0.114 B of the averaged R, G, B (RGB565: c * 255 / (2^bits - 1) first). Since the
//    conversion is linear before its clamp, this equals convert-then-average except where a source pixel is out of
//    the RGB gamut (there the clamp comes after averaging instead of before; OpenCV's cvtColor + INTER_AREA clamps
//    first: on the benchmark's natural NV12 frame the two definitions differ by 0.008 level on average, 4.1 at
//    worst, at saturated chroma edges). RGBA's alpha is ignored.
//  * Normalisation and quantisation are as above: y = v * mul + add on the converted value v (0..255).
//  * Numerics (exact definition in src/kernels/preprocess_area.h, shared by every ISA path, which are bit-identical
//    to the scalar one): per axis, integer weights in Q(q) (one whole source pixel = 2^q; partial pixels rounded),
//    q <= 13 chosen per call as the largest value whose sums provably fit int32 (below). Columns first: for each
//    output row, the footprint's source rows are summed byte-wise, c = sum w_y * s (int32, <= W_y * 255 < 2^31 by
//    the choice of q_y: W_y <= 8421504), and normalised to the Q7 mean m = round_half_even(float32(c) * float32(128
//    / W_y)) (0..32640, int16). Then per output column and source channel t = sum w_x * m (int32, <= W_x * 32768 <
//    2^31 by the choice of q_x: W_x <= 65535), and the channel's average is float32(t) * float32(1 / (128 * W_x)).
//    Conversion, normalisation and quantisation follow in float32, in the order written in preprocess_area.h.
//    Any footprint up to 32768 pixels fits (q then drops to 8 on y and 0 on x, where a partial pixel's rounded
//    weight is off by at most half a pixel in 32768). Error against the exact float64 value of this definition:
//    <= ~0.07 level (boundary weights 2^-14, the Q7 mean 2^-8, float32), so integer outputs are within one step
//    for any |mul| <= 7 (uint8 / int8 model inputs have |mul| <= ~1).
//  * Cost: every source byte of the crop is read (footprint rows shared by two output rows, at non-integer
//    scales, are read twice, the second time from cache); per-call tables are O(crop width + output size).
//    Paths: AVX2 has vector row sums, column sums (per-call window tables, footprints up to 64 int16 wide: about
//    20x reductions of packed RGB, more for planar formats; wider ones use the scalar column sums) and
//    conversion; NEON has all three; SSE4.1 has vector row and column sums and the scalar conversion; RGB565 row
//    sums are scalar on every path (the rows are unpacked first). All are bit-identical to the scalar path.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>

namespace glassbridge {

enum class PixelFormat : int { NV12 = 0, I420, YUYV, RGB888, BGR888, RGBA8888, RGB565, GRAY8 };
enum class YuvRange : int { Limited = 0, Full };  // BT.601: camera YUV is Limited, JPEG's YCbCr is Full
enum class Channels : int { RGB = 0, BGR, Gray };
enum class OutputType : int { UInt8 = 0, Int8, Float32 };
enum class Interpolation : int { Bilinear = 0, Area };  // see the contract above

const char* to_string(PixelFormat f);

struct Rect {
  int x = 0, y = 0, width = 0, height = 0;
};

// A source image. Planes: NV12 {Y, UV}; I420 {Y, U, V}; packed formats use plane[0] only.
// Chroma planes of NV12/I420 have ceil(width/2) x ceil(height/2) samples; YUYV needs an even width.
struct SourceImage {
  PixelFormat format = PixelFormat::GRAY8;
  int width = 0, height = 0;
  const uint8_t* plane[3] = {nullptr, nullptr, nullptr};
  ptrdiff_t stride[3] = {0, 0, 0};  // bytes per row of each plane
  // Bytes readable from each plane pointer (for validation against truncated buffers); 0 = trust strides.
  size_t plane_size[3] = {0, 0, 0};
  YuvRange range = YuvRange::Limited;
};

struct OutputSpec {
  int width = 0, height = 0;
  Channels channels = Channels::RGB;
  OutputType type = OutputType::UInt8;
  float mul[3] = {1.f, 1.f, 1.f};  // per output channel, in output channel order
  float add[3] = {0.f, 0.f, 0.f};
  Rect dst{0, 0, 0, 0};             // where the crop lands in the output; all zero = the whole output
  float pad[3] = {0.f, 0.f, 0.f};   // source-range value (0..255) used outside dst, normalised like any pixel
  void* data = nullptr;
  ptrdiff_t row_stride = 0;         // bytes; 0 = packed (width * channels * element size)
  size_t size = 0;                  // bytes writable at data (validated); 0 = trust
  Interpolation interpolation = Interpolation::Bilinear;  // Area: footprint averaging (see the contract above)
};

// Throws std::invalid_argument with a message naming the field and the values when anything is inconsistent:
// sizes, strides, plane sizes, crop outside the image, dst outside the output, odd YUYV width, null pointers.
void validate(const SourceImage& src, const Rect& crop, const OutputSpec& out);

// Validates, then runs the active ISA path. Thread-safe; the caller may release the GIL around it.
void preprocess(const SourceImage& src, const Rect& crop, const OutputSpec& out);

// The scalar reference, always available (tests and benchmarks call it directly).
void preprocess_ref(const SourceImage& src, const Rect& crop, const OutputSpec& out);

}  // namespace glassbridge
