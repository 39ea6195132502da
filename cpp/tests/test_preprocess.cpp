// Preprocessing tests: every available ISA path bit-identical to the scalar reference on random formats, sizes,
// strides, crops, destination rectangles, output types and channels (odd sizes, widths that are not multiples of
// any vector width, one-pixel crops, upscaling, crops touching every edge), deterministic cases for the SIMD fast
// paths (window tables per downscale, mul == 1 with `add` on rounding boundaries, extreme pixel data), and
// validation errors.
// Accuracy against an independent float64 reference is tested in Python (tests/unit/test_preprocess.py).
// Every buffer is allocated at its exact size so AddressSanitizer catches any read or write past it, and output
// row padding is checked to stay untouched.
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <limits>
#include <random>
#include <stdexcept>
#include <string>
#include <vector>

#include "glassbridge/dispatch.h"
#include "glassbridge/preprocess.h"
#include "check.h"

namespace gb = glassbridge;


namespace {

// Source pixel data: random bytes, or the extremes (every byte 0 or 255, alternating 0 / 255 sample columns, rows
// or both), or a mosaic of 16x16-pixel tiles (luma / RGB: 0, 255, alternating columns, random; chroma of NV12,
// I420 and YUYV per tile: neutral 128, 0 or 255), so that normalised values reach both ends of 0..255 in one image.
enum class Fill : int { Random = 0, Zero, Full, AltCols, AltRows, Checker, Mosaic };
constexpr int kFills = 7;

struct Case {
  gb::PixelFormat format = gb::PixelFormat::NV12;
  int width = 0, height = 0;
  gb::YuvRange range = gb::YuvRange::Limited;
  int stride_pad[3] = {0, 0, 0};
  gb::Rect crop;
  int out_w = 0, out_h = 0;
  gb::Rect dst;
  gb::Channels channels = gb::Channels::RGB;
  gb::OutputType type = gb::OutputType::UInt8;
  float mul[3] = {1, 1, 1}, add[3] = {0, 0, 0}, pad[3] = {0, 0, 0};
  int out_stride_pad = 0;
  Fill fill = Fill::Random;
  gb::Interpolation interpolation = gb::Interpolation::Bilinear;

  std::string describe() const {
    char buf[480];
    std::snprintf(buf, sizeof buf,
                  "%s %dx%d range %d stride pad (%d,%d,%d) fill %d crop (%d,%d,%d,%d) -> out %dx%d dst (%d,%d,%d,%d) "
                  "channels %d type %d mul (%.9g,%.9g,%.9g) add (%.9g,%.9g,%.9g)",
                  gb::to_string(format), width, height, static_cast<int>(range), stride_pad[0], stride_pad[1],
                  stride_pad[2], static_cast<int>(fill), crop.x, crop.y, crop.width, crop.height, out_w, out_h, dst.x,
                  dst.y, dst.width, dst.height, static_cast<int>(channels), static_cast<int>(type),
                  static_cast<double>(mul[0]), static_cast<double>(mul[1]), static_cast<double>(mul[2]),
                  static_cast<double>(add[0]), static_cast<double>(add[1]), static_cast<double>(add[2]));
    return buf;
  }
};

int planes_of(gb::PixelFormat f) {
  return f == gb::PixelFormat::NV12 ? 2 : (f == gb::PixelFormat::I420 ? 3 : 1);
}

void plane_geometry(gb::PixelFormat f, int w, int h, int i, int& rows, int& row_bytes) {
  const int cw = (w + 1) / 2, ch = (h + 1) / 2;
  rows = h;
  switch (f) {
    case gb::PixelFormat::NV12: row_bytes = i == 0 ? w : 2 * cw; rows = i == 0 ? h : ch; return;
    case gb::PixelFormat::I420: row_bytes = i == 0 ? w : cw; rows = i == 0 ? h : ch; return;
    case gb::PixelFormat::YUYV:
    case gb::PixelFormat::RGB565: row_bytes = 2 * w; return;
    case gb::PixelFormat::RGB888:
    case gb::PixelFormat::BGR888: row_bytes = 3 * w; return;
    case gb::PixelFormat::RGBA8888: row_bytes = 4 * w; return;
    case gb::PixelFormat::GRAY8: row_bytes = w; return;
  }
}

// Byte `b` of row `row` of plane i under c.fill (not Random: the row padding and Random bytes come from the caller).
uint8_t fill_byte(const Case& c, int i, int row, int b, std::mt19937& rng) {
  int unit = 1;                   // bytes of one sample column of the plane
  bool chroma = i > 0;            // NV12 / I420 chroma planes, subsampled 2x2
  const bool sub = i > 0;
  switch (c.format) {
    case gb::PixelFormat::NV12: unit = i == 0 ? 1 : 2; break;
    case gb::PixelFormat::YUYV: unit = 2; chroma = b % 2 == 1; break;  // Y0 U Y1 V: one pixel per 2 bytes
    case gb::PixelFormat::RGB565: unit = 2; break;
    case gb::PixelFormat::RGB888:
    case gb::PixelFormat::BGR888: unit = 3; break;
    case gb::PixelFormat::RGBA8888: unit = 4; break;
    default: break;
  }
  const int col = b / unit;
  const auto ext = [](bool hi) { return static_cast<uint8_t>(hi ? 255 : 0); };
  switch (c.fill) {
    case Fill::Zero: return 0;
    case Fill::Full: return 255;
    case Fill::AltCols: return ext(col & 1);
    case Fill::AltRows: return ext(row & 1);
    case Fill::Checker: return ext((col ^ row) & 1);
    case Fill::Mosaic: {
      const int tx = (sub ? 2 * col : col) / 16, ty = (sub ? 2 * row : row) / 16;  // tiles in luma pixels
      if (chroma) {
        const uint8_t kChroma[3] = {128, 0, 255};
        return kChroma[(tx + ty) % 3];
      }
      switch ((tx + 3 * ty) % 4) {
        case 0: return 0;
        case 1: return 255;
        case 2: return ext(col & 1);
        default: return static_cast<uint8_t>(rng());
      }
    }
    case Fill::Random: break;
  }
  return static_cast<uint8_t>(rng());
}

// Planes of exactly the bytes the image needs (the last row ends the allocation), filled as c.fill says (row
// padding always random).
struct Source {
  std::vector<std::vector<uint8_t>> planes;
  gb::SourceImage image;
};

Source make_source(const Case& c, std::mt19937& rng) {
  Source s;
  s.image.format = c.format;
  s.image.width = c.width;
  s.image.height = c.height;
  s.image.range = c.range;
  s.planes.resize(static_cast<size_t>(planes_of(c.format)));
  for (int i = 0; i < planes_of(c.format); ++i) {
    int rows = 0, row_bytes = 0;
    plane_geometry(c.format, c.width, c.height, i, rows, row_bytes);
    const int stride = row_bytes + c.stride_pad[i];
    auto& p = s.planes[static_cast<size_t>(i)];
    p.resize(static_cast<size_t>(rows - 1) * static_cast<size_t>(stride) + static_cast<size_t>(row_bytes));
    if (c.fill == Fill::Random) {
      for (auto& b : p) b = static_cast<uint8_t>(rng());
    } else {
      for (size_t k = 0; k < p.size(); ++k) {
        const int row = static_cast<int>(k / static_cast<size_t>(stride));
        const int b = static_cast<int>(k % static_cast<size_t>(stride));
        p[k] = b < row_bytes ? fill_byte(c, i, row, b, rng) : static_cast<uint8_t>(rng());
      }
    }
    s.image.plane[i] = p.data();
    s.image.stride[i] = stride;
    s.image.plane_size[i] = p.size();
  }
  return s;
}

size_t pixel_bytes(const Case& c) {
  return (c.channels == gb::Channels::Gray ? 1u : 3u) * (c.type == gb::OutputType::Float32 ? 4u : 1u);
}

gb::OutputSpec make_spec(const Case& c, std::vector<uint8_t>& buf) {
  gb::OutputSpec o;
  o.width = c.out_w;
  o.height = c.out_h;
  o.channels = c.channels;
  o.type = c.type;
  for (int j = 0; j < 3; ++j) {
    o.mul[j] = c.mul[j];
    o.add[j] = c.add[j];
    o.pad[j] = c.pad[j];
  }
  o.dst = c.dst;
  o.interpolation = c.interpolation;
  const size_t row = static_cast<size_t>(c.out_w) * pixel_bytes(c);
  o.row_stride = static_cast<ptrdiff_t>(row) + c.out_stride_pad;
  buf.assign(static_cast<size_t>(c.out_h - 1) * static_cast<size_t>(o.row_stride) + row, 0xA5);
  o.data = buf.data();
  o.size = buf.size();
  return o;
}

int uniform(std::mt19937& rng, int lo, int hi) {  // inclusive
  return std::uniform_int_distribution<int>(lo, hi)(rng);
}

float uniform_f(std::mt19937& rng, float lo, float hi) { return std::uniform_real_distribution<float>(lo, hi)(rng); }

Case random_case(std::mt19937& rng, int max_src, int max_out) {
  Case c;
  c.format = static_cast<gb::PixelFormat>(uniform(rng, 0, 7));
  c.width = uniform(rng, 1, max_src);
  if (c.format == gb::PixelFormat::YUYV && c.width % 2) ++c.width;
  c.height = uniform(rng, 1, max_src);
  c.range = static_cast<gb::YuvRange>(uniform(rng, 0, 1));
  for (int& p : c.stride_pad) p = uniform(rng, 0, 3) == 0 ? 0 : uniform(rng, 1, 40);
  // Crops: sometimes the whole image, sometimes one pixel, sometimes touching an edge, else anywhere.
  const int kind = uniform(rng, 0, 5);
  if (kind == 0) {
    c.crop = {0, 0, c.width, c.height};
  } else if (kind == 1) {
    c.crop = {uniform(rng, 0, c.width - 1), uniform(rng, 0, c.height - 1), 1, 1};
  } else {
    c.crop.width = uniform(rng, 1, c.width);
    c.crop.height = uniform(rng, 1, c.height);
    c.crop.x = uniform(rng, 0, c.width - c.crop.width);
    c.crop.y = uniform(rng, 0, c.height - c.crop.height);
    if (kind == 2) c.crop.x = c.width - c.crop.width;  // touches the right edge
    if (kind == 3) c.crop.y = c.height - c.crop.height;  // touches the bottom edge
  }
  c.out_w = uniform(rng, 1, max_out);
  c.out_h = uniform(rng, 1, max_out);
  if (uniform(rng, 0, 2) == 0) {
    c.dst = {0, 0, 0, 0};
  } else {
    c.dst.width = uniform(rng, 1, c.out_w);
    c.dst.height = uniform(rng, 1, c.out_h);
    c.dst.x = uniform(rng, 0, c.out_w - c.dst.width);
    c.dst.y = uniform(rng, 0, c.out_h - c.dst.height);
  }
  c.channels = static_cast<gb::Channels>(uniform(rng, 0, 2));
  c.type = static_cast<gb::OutputType>(uniform(rng, 0, 2));
  // One case in eight has scales so large that y leaves the int32 range: the paths that clamp in float first.
  const bool huge = uniform(rng, 0, 7) == 0;
  for (int j = 0; j < 3; ++j) {
    // Scales from tiny to larger than one level per step, zero points that push values into saturation.
    c.mul[j] = uniform_f(rng, 0.002f, 2.5f) * (uniform(rng, 0, 4) == 0 ? -1.f : 1.f) * (huge ? 3e7f : 1.f);
    c.add[j] = uniform_f(rng, -200.f, 200.f);
    c.pad[j] = uniform_f(rng, 0.f, 255.f);
  }
  c.out_stride_pad = uniform(rng, 0, 2) == 0 ? 0 : uniform(rng, 1, 13);
  return c;
}

// Runs the case on the reference and on every available ISA with a source made for it (make_source(c) or one of the
// same format, size, strides, range and fill); returns the number of mismatching ISAs.
int compare_source(const Case& c, const Source& src) {
  std::vector<uint8_t> want_buf;
  const gb::OutputSpec want_spec = make_spec(c, want_buf);
  gb::preprocess_ref(src.image, c.crop, want_spec);
  int bad = 0;
  for (gb::Isa isa : gb::available_isas()) {
    gb::set_isa(isa);
    std::vector<uint8_t> got_buf;
    const gb::OutputSpec got_spec = make_spec(c, got_buf);
    gb::preprocess(src.image, c.crop, got_spec);
    if (got_buf != want_buf) {  // includes the row padding, which must keep its 0xA5 fill
      size_t i = 0;
      while (got_buf[i] == want_buf[i]) ++i;
      std::fprintf(stderr, "%s differs from ref at byte %zu (%d vs %d): %s\n", gb::isa_name(isa), i, got_buf[i],
                   want_buf[i], c.describe().c_str());
      ++bad;
    }
  }
  return bad;
}

int compare_isas(const Case& c, std::mt19937& rng) { return compare_source(c, make_source(c, rng)); }

void test_random_cases(int count, int max_src, int max_out, unsigned seed) {
  std::mt19937 rng(seed);
  int bad = 0;
  for (int i = 0; i < count; ++i) bad += compare_isas(random_case(rng, max_src, max_out), rng) ? 1 : 0;
  CHECK(bad == 0);
}

// The shapes the product uses, with every format: camera frames to model inputs, face crops, letterboxes.
void test_product_shapes() {
  std::mt19937 rng(42);
  const int W = 1920, H = 1080;
  for (int f = 0; f < 8; ++f) {
    Case c;
    c.format = static_cast<gb::PixelFormat>(f);
    c.width = W;
    c.height = H;
    struct Shape {
      gb::Rect crop;
      int ow, oh;
      gb::Rect dst;
      gb::Channels ch;
      gb::OutputType ty;
    };
    const Shape shapes[] = {
        {{0, 0, W, H}, 224, 224, {0, 0, 0, 0}, gb::Channels::RGB, gb::OutputType::Int8},
        {{0, 0, W, H}, 192, 192, {0, 0, 0, 0}, gb::Channels::RGB, gb::OutputType::Float32},
        {{W / 3 + 1, H / 4 + 1, 171, 171}, 64, 64, {0, 0, 0, 0}, gb::Channels::Gray, gb::OutputType::Int8},
        {{0, 0, W, H}, 128, 128, {0, 28, 128, 72}, gb::Channels::BGR, gb::OutputType::UInt8},
        {{W - 13, H - 9, 13, 9}, 97, 61, {0, 0, 0, 0}, gb::Channels::RGB, gb::OutputType::UInt8},  // upscale
    };
    for (const Shape& s : shapes) {
      c.crop = s.crop;
      c.out_w = s.ow;
      c.out_h = s.oh;
      c.dst = s.dst;
      c.channels = s.ch;
      c.type = s.ty;
      c.mul[0] = c.mul[1] = c.mul[2] = 1.0039216f;
      c.add[0] = c.add[1] = c.add[2] = -128.5f;
      CHECK(compare_isas(c, rng) == 0);
    }
  }
}

// Every output width from 1 to 70 (all vector tails) with crops starting at every parity, per format.
void test_all_widths() {
  std::mt19937 rng(7);
  for (int f = 0; f < 8; ++f) {
    for (int ow = 1; ow <= 70; ++ow) {
      Case c;
      c.format = static_cast<gb::PixelFormat>(f);
      c.width = 2 * uniform(rng, 3, 60);
      c.height = uniform(rng, 2, 9);
      c.crop = {ow % 2, 0, c.width - 1 - ow % 2, c.height};
      c.out_w = ow;
      c.out_h = 3;
      c.channels = static_cast<gb::Channels>(ow % 3);
      c.type = static_cast<gb::OutputType>((ow / 3) % 3);
      c.range = static_cast<gb::YuvRange>(ow % 2);
      CHECK(compare_isas(c, rng) == 0);
    }
  }
}

// Wide loads and windows near a row's end read into the next row (only the last rows stay exact), and a fused row
// whose weight lies on one source row converts it once: downscales of 2x to 8x (window sizes) whose taps reach the
// right and bottom edges, for every stride padding from none to odd, and vertical factors with zero-weight rows
// (3x, 480 -> 224). AddressSanitizer does not see inside vpgatherdd: run this binary under valgrind memcheck (which
// does) after changing a gather's read limit.
void test_row_ends() {
  std::mt19937 rng(11);
  const gb::PixelFormat formats[] = {gb::PixelFormat::NV12, gb::PixelFormat::I420, gb::PixelFormat::YUYV,
                                     gb::PixelFormat::GRAY8, gb::PixelFormat::RGB888, gb::PixelFormat::RGB565};
  struct Shape {
    int w, h, ow, oh;
  };
  const Shape shapes[] = {{640, 480, 224, 224}, {96, 60, 32, 20}, {2, 9, 1, 3},   {6, 12, 3, 4},
                          {34, 30, 17, 10},    {50, 18, 16, 6},  {200, 40, 24, 12}, {130, 26, 16, 8},
                          {2, 2, 1, 1}};
  for (gb::PixelFormat f : formats) {
    for (const Shape& sh : shapes) {
      for (int pad = 0; pad < 3; ++pad) {
        Case c;
        c.format = f;
        c.width = sh.w;
        c.height = sh.h;
        for (int& sp : c.stride_pad) sp = pad == 2 ? 3 : pad;
        c.crop = {0, 0, sh.w, sh.h};
        c.out_w = sh.ow;
        c.out_h = sh.oh;
        c.channels = static_cast<gb::Channels>(pad);
        c.type = static_cast<gb::OutputType>((pad + sh.w) % 3);
        c.mul[0] = c.mul[1] = c.mul[2] = 0.7f;
        c.add[0] = c.add[1] = c.add[2] = -60.f;
        CHECK(compare_isas(c, rng) == 0);
      }
    }
  }
}

// Deterministic cases for the window-table and mul == 1 fast paths of the SIMD row kernels (the random cases draw
// mul from a continuous range and rarely pick the shapes). Which table a NEON plan gets, by the horizontal
// downscale of NV12 / I420 with rows fused (crop height >= 2x the destination's): up to ~4.3x 8 columns in 32 bytes
// (vqtbl2q), up to ~8.8x in 64 bytes (vqtbl4q), up to ~10x the split table (4 columns per 32 bytes, vqtbl2q +
// vqtbx2q); the plane's last row (and last chroma row) keeps the staged loads. Every case compares every ISA with
// the reference byte for byte.
Case yuv_case(gb::PixelFormat f, int w, int h, int pad, gb::Rect crop, int ow, int oh, gb::Rect dst, Fill fill) {
  Case c;
  c.format = f;
  c.width = w;
  c.height = h;
  for (int& sp : c.stride_pad) sp = pad;
  c.crop = crop;
  c.out_w = ow;
  c.out_h = oh;
  c.dst = dst;
  c.fill = fill;
  return c;
}

void set_norm(Case& c, gb::Channels ch, gb::OutputType ty, float mul, float add) {
  c.channels = ch;
  c.type = ty;
  for (int j = 0; j < 3; ++j) {
    c.mul[j] = mul;
    c.add[j] = add;
    c.pad[j] = 255.f;
  }
}

// mul == 1 for every channel (the int8 [-1, 1] models, identity uint8): NEON converts the sum with 21 fraction bits
// and, when both ends of 0..255 plus add round into the output type's range (unit_norm), narrows without saturation.
// `add` on each side of those boundaries: uint8 -0.5 and 0.49 fit (-0.51, 0.5 do not), int8 -128.5 fits (-128.51,
// -127.49 do not); 127, -129 and 0 saturate one end or fit only uint8. The mosaic fill reaches v = 0 and v = 255 in
// every channel, where a wrong range check wraps instead of saturating. Each table, a tail block (33 columns), rows
// fused with two weighted rows or one (vertical 3x and 5x: one row carries all the weight).
void test_unit_mul() {
  std::mt19937 rng(2025);
  const float adds[] = {0.f, -0.5f, -0.51f, 0.49f, 0.5f, -128.5f, -128.51f, -127.49f, 127.f, -129.f};
  struct Shape {
    int w, h, ow, oh;
  };
  // 32-byte table (vertical 2.67x), 64-byte (5x, one row), split (4x), 32-byte (3x, one row).
  const Shape shapes[] = {{96, 64, 33, 24}, {198, 60, 33, 12}, {330, 52, 33, 13}, {96, 72, 33, 24}};
  const gb::PixelFormat formats[] = {gb::PixelFormat::NV12, gb::PixelFormat::I420};
  int bad = 0, n = 0;
  for (gb::PixelFormat f : formats) {
    for (int si = 0; si < 4; ++si) {
      const Shape& sh = shapes[si];
      Case c = yuv_case(f, sh.w, sh.h, si == 2 ? 2 : si, {0, 0, sh.w, sh.h}, sh.ow, sh.oh, {0, 0, 0, 0},
                        Fill::Mosaic);
      c.range = static_cast<gb::YuvRange>(si % 2);
      const Source src = make_source(c, rng);
      for (int ty = 0; ty < 3; ++ty) {
        for (int ch = 0; ch < 3; ++ch) {
          for (float a : adds) {
            set_norm(c, static_cast<gb::Channels>(ch), static_cast<gb::OutputType>(ty), 1.f, a);
            bad += compare_source(c, src);
            ++n;
          }
          // One channel past a boundary while the others fit; a mul one ulp below 1; gray reads channel 0 only.
          const bool i8 = ty == 1;
          set_norm(c, static_cast<gb::Channels>(ch), static_cast<gb::OutputType>(ty), 1.f, i8 ? -128.5f : -0.5f);
          c.add[2] = i8 ? -127.49f : 0.5f;
          bad += compare_source(c, src);
          set_norm(c, static_cast<gb::Channels>(ch), static_cast<gb::OutputType>(ty), 1.f, i8 ? -128.5f : 0.f);
          c.mul[1] = 0.99999994f;
          c.add[0] = i8 ? -128.51f : -0.51f;
          c.add[2] = i8 ? -128.f : 0.49f;
          bad += compare_source(c, src);
          set_norm(c, static_cast<gb::Channels>(ch), static_cast<gb::OutputType>(ty), 1.f, i8 ? -128.5f : 0.f);
          c.mul[1] = 0.5f;
          c.mul[2] = 3.f;
          c.add[1] = c.add[2] = 300.f;
          bad += compare_source(c, src);
          n += 3;
        }
      }
    }
  }
  CHECK(n == 2 * 4 * 3 * 3 * 13);
  CHECK(bad == 0);
}

// NV12 / I420 window tables on product shapes and on odd ones: 640x480 -> 224 (2.9x, 32-byte), 1080p -> 320x180
// (6x, 64-byte), 1080p -> 192x192 letterboxed to 192x108 (10x, split), with mul == 1 and a general scale; then odd
// widths and heights, stride padding (the windows read past a row's end into the next row), even and odd crop
// offsets, crops touching the bottom row, every fill.
void test_yuv_windows() {
  std::mt19937 rng(77);
  const gb::PixelFormat formats[] = {gb::PixelFormat::NV12, gb::PixelFormat::I420};
  struct Norm {
    gb::Channels ch;
    gb::OutputType ty;
    float mul, add;
  };
  const Norm norms[] = {{gb::Channels::RGB, gb::OutputType::Int8, 1.f, -128.5f},
                        {gb::Channels::BGR, gb::OutputType::UInt8, 1.f, 0.f},
                        {gb::Channels::Gray, gb::OutputType::Float32, 1.f, -0.5f},
                        {gb::Channels::RGB, gb::OutputType::Int8, 0.0078431377f, -1.f}};
  int bad = 0;
  for (gb::PixelFormat f : formats) {
    {
      Case c = yuv_case(f, 640, 480, 0, {0, 0, 640, 480}, 224, 224, {0, 0, 0, 0}, Fill::Random);
      const Source src = make_source(c, rng);
      for (const Norm& m : norms) {
        set_norm(c, m.ch, m.ty, m.mul, m.add);
        bad += compare_source(c, src);
      }
    }
    {
      Case c = yuv_case(f, 1920, 1080, f == gb::PixelFormat::I420 ? 3 : 0, {0, 0, 1920, 1080}, 320, 180,
                        {0, 0, 0, 0}, Fill::Random);
      const Source src = make_source(c, rng);
      for (int k = 0; k < 3; ++k) {
        set_norm(c, norms[k].ch, norms[k].ty, norms[k].mul, norms[k].add);
        bad += compare_source(c, src);
      }
      c.out_w = c.out_h = 192;  // letterbox: 10x horizontally
      c.dst = {0, 42, 192, 108};
      for (int k = 1; k < 4; ++k) {
        set_norm(c, norms[k].ch, norms[k].ty, norms[k].mul, norms[k].add);
        bad += compare_source(c, src);
      }
    }
    struct Shape {
      int w, h, pad;
      gb::Rect crop;
      int ow, oh;
    };
    const Shape shapes[] = {
        {641, 481, 3, {0, 0, 641, 481}, 221, 150},     // 2.9x, 32-byte; odd sizes, last chroma row half used
        {647, 363, 1, {2, 3, 642, 360}, 107, 60},      // 6x, 64-byte
        {1001, 501, 37, {10, 0, 990, 501}, 99, 50},    // 10x, split; crop touching the bottom row
        {333, 200, 0, {1, 1, 330, 199}, 33, 19},       // 10x from an odd column: the split table does not fit
        {91, 40, 5, {3, 20, 88, 20}, 21, 9},           // 4.2x from an odd column, the last rows, a short row
    };
    for (const Shape& sh : shapes) {
      for (int fi = 0; fi < kFills; ++fi) {
        Case c = yuv_case(f, sh.w, sh.h, sh.pad, sh.crop, sh.ow, sh.oh, {0, 0, 0, 0}, static_cast<Fill>(fi));
        c.range = static_cast<gb::YuvRange>(fi % 2);
        const Norm& m = norms[fi % 4];
        set_norm(c, static_cast<gb::Channels>(fi % 3), m.ty, m.mul, m.add);
        bad += compare_isas(c, rng);
      }
    }
  }
  CHECK(bad == 0);
}

// RGB888 / BGR888 / RGBA8888 hrow through 64-byte windows per 4 columns (downscales of about 3x to 6x; 6x is too
// wide for RGBA8888, which keeps the staged loads), the plane's last row through the old code: odd widths, stride
// padding, a vertical upscale (the last row feeds several output rows), crops touching the last row and the right
// edge, a row narrower than a window (the windows read into the next row), every fill, output channel and type.
void test_rgb_windows() {
  std::mt19937 rng(5);
  const gb::PixelFormat formats[] = {gb::PixelFormat::RGB888, gb::PixelFormat::BGR888, gb::PixelFormat::RGBA8888};
  struct Shape {
    int w, h, pad;
    gb::Rect crop;
    int ow, oh;
  };
  const Shape shapes[] = {
      {641, 97, 0, {0, 0, 641, 97}, 160, 33},      // 4x, odd width
      {333, 61, 1, {0, 0, 333, 61}, 111, 20},      // 3x
      {463, 90, 4, {0, 0, 463, 90}, 101, 31},      // 4.6x
      {383, 200, 2, {0, 0, 383, 200}, 64, 64},     // 6x
      {301, 77, 7, {5, 40, 296, 37}, 70, 12},      // 4.2x, crop touching the last row
      {257, 40, 1, {107, 20, 150, 20}, 37, 7},     // 4x, crop touching the last row and the right edge
      {300, 10, 0, {0, 0, 300, 10}, 75, 25},       // 4x, vertical upscale
      {23, 9, 5, {0, 0, 23, 9}, 5, 3},             // 4.6x, a row of 69 or 92 bytes
      {21, 9, 0, {0, 0, 21, 9}, 5, 4},             // 4.2x, no padding
  };
  const float muls[] = {1.f, 0.0078431377f, 1.f / 58.f};
  const float adds[] = {-128.5f, -1.f, -2.1f};
  int bad = 0, k = 0;
  for (gb::PixelFormat f : formats) {
    for (const Shape& sh : shapes) {
      for (int rep = 0; rep < 2; ++rep, ++k) {
        Case c = yuv_case(f, sh.w, sh.h, sh.pad, sh.crop, sh.ow, sh.oh, {0, 0, 0, 0}, static_cast<Fill>(k % kFills));
        set_norm(c, static_cast<gb::Channels>(k % 3), static_cast<gb::OutputType>((k / 3) % 3), muls[k % 3],
                 adds[k % 3]);
        if (c.type == gb::OutputType::UInt8) {
          for (float& a : c.add) a = a == -128.5f ? 0.f : 128.f;
        }
        bad += compare_isas(c, rng);
      }
    }
  }
  CHECK(bad == 0);
}

// validate() rejects inconsistent input with std::invalid_argument whose message names the problem.
void expect_error(const gb::SourceImage& src, const gb::Rect& crop, const gb::OutputSpec& out, const char* needle) {
  CHECK_THROWS(gb::preprocess(src, crop, out), needle);
}

void test_validation() {
  std::vector<uint8_t> y(64 * 48), uv(64 * 24), out(8 * 8 * 3);
  gb::SourceImage s;
  s.format = gb::PixelFormat::NV12;
  s.width = 64;
  s.height = 48;
  s.plane[0] = y.data();
  s.plane[1] = uv.data();
  s.stride[0] = s.stride[1] = 64;
  s.plane_size[0] = y.size();
  s.plane_size[1] = uv.size();
  gb::OutputSpec o;
  o.width = o.height = 8;
  o.data = out.data();
  o.size = out.size();
  const gb::Rect all{0, 0, 64, 48};
  gb::preprocess(s, all, o);  // the baseline is valid

  gb::SourceImage t = s;
  t.plane_size[1] = uv.size() - 1;
  expect_error(t, all, o, "NV12 plane 1 is truncated");
  t = s;
  t.stride[0] = 63;
  expect_error(t, all, o, "row stride 63 is smaller than its row of 64 bytes");
  t = s;
  t.plane[1] = nullptr;
  expect_error(t, all, o, "plane 1 is missing");
  t = s;
  t.width = 0;
  expect_error(t, all, o, "source size 0x48");
  t = s;
  t.format = gb::PixelFormat::YUYV;
  t.width = 31;
  t.stride[0] = 64;
  expect_error(t, {0, 0, 31, 48}, o, "YUYV source width must be even");
  t = s;
  t.format = static_cast<gb::PixelFormat>(11);
  expect_error(t, all, o, "format 11 is unknown");
  gb::OutputSpec bad_interp = o;
  bad_interp.interpolation = static_cast<gb::Interpolation>(5);
  expect_error(s, all, bad_interp, "interpolation 5 is unknown");
  expect_error(s, {60, 0, 5, 5}, o, "crop (x=60, y=0, w=5, h=5) is not a non-empty rectangle inside the 64x48");
  expect_error(s, {0, 0, 0, 5}, o, "crop");
  expect_error(s, {-1, 0, 5, 5}, o, "crop");

  gb::OutputSpec p = o;
  p.size = out.size() - 1;
  expect_error(s, all, p, "output buffer holds 191 bytes");
  p = o;
  p.row_stride = 20;
  expect_error(s, all, p, "output row stride 20 is smaller than a row of 24 bytes");
  p = o;
  p.dst = {4, 4, 5, 1};
  expect_error(s, all, p, "destination rectangle");
  p = o;
  p.dst = {0, 0, 0, 3};
  expect_error(s, all, p, "destination rectangle");
  p = o;
  p.data = nullptr;
  expect_error(s, all, p, "output buffer is missing");
  p = o;
  p.mul[1] = std::numeric_limits<float>::quiet_NaN();
  expect_error(s, all, p, "not finite");
  p = o;
  p.channels = static_cast<gb::Channels>(3);
  expect_error(s, all, p, "output channels 3 is unknown");
  p = o;
  p.type = static_cast<gb::OutputType>(-1);
  expect_error(s, all, p, "output type -1 is unknown");
  p = o;
  p.width = 40000;
  expect_error(s, all, p, "output size 40000x8");

  bool threw = false;
  try {
    gb::set_isa(gb::isa_from_name("nonsense"));
  } catch (const std::invalid_argument&) {
    threw = true;
  }
  CHECK(threw);
}

// Sanity of the semantics that need no reference: a constant image stays constant at any scale and crop.
// Area mode (Interpolation::Area): every path bit-identical to the scalar reference on random cases (mostly
// reductions, some enlarged axes), the detector's job, and the largest reduction the int32 bound allows.
void test_area_random_cases(int count, int max_src, int max_out, unsigned seed) {
  std::mt19937 rng(seed);
  int bad = 0;
  for (int i = 0; i < count; ++i) {
    Case c = random_case(rng, max_src, max_out);
    c.interpolation = gb::Interpolation::Area;
    c.fill = static_cast<Fill>(uniform(rng, 0, kFills - 1));
    bad += compare_isas(c, rng) ? 1 : 0;
  }
  CHECK(bad == 0);
}

void test_area_product_shapes() {
  std::mt19937 rng(77);
  const gb::PixelFormat formats[] = {gb::PixelFormat::NV12, gb::PixelFormat::I420, gb::PixelFormat::YUYV,
                                     gb::PixelFormat::RGB888, gb::PixelFormat::RGBA8888, gb::PixelFormat::RGB565,
                                     gb::PixelFormat::GRAY8};
  for (gb::PixelFormat f : formats) {
    for (int k = 0; k < 2; ++k) {
      Case c;
      c.format = f;
      c.width = k == 0 ? 1920 : 1280;
      c.height = k == 0 ? 1080 : 720;
      c.crop = {0, 0, c.width, c.height};
      c.out_w = c.out_h = 192;
      c.dst = k == 0 ? gb::Rect{0, 42, 192, 108} : gb::Rect{0, 42, 192, 108};
      c.type = k == 0 ? gb::OutputType::Float32 : gb::OutputType::Int8;
      c.mul[0] = c.mul[1] = c.mul[2] = 2.f / 255.f;
      c.add[0] = c.add[1] = c.add[2] = -1.f;
      c.interpolation = gb::Interpolation::Area;
      c.fill = k == 0 ? Fill::Random : Fill::Mosaic;
      CHECK(compare_isas(c, rng) == 0);
    }
  }
  // Footprints of 32768 pixels: the adaptive Q keeps the sums in int32 (and ASan sees the exact-size planes).
  Case wide;
  wide.format = gb::PixelFormat::GRAY8;
  wide.width = 32768;
  wide.height = 2;
  wide.crop = {0, 0, 32768, 2};
  wide.out_w = 3;
  wide.out_h = 1;
  wide.type = gb::OutputType::Float32;
  wide.channels = gb::Channels::Gray;
  wide.interpolation = gb::Interpolation::Area;
  wide.fill = Fill::Full;
  CHECK(compare_isas(wide, rng) == 0);
  Case tall = wide;
  tall.format = gb::PixelFormat::NV12;
  tall.width = 4;
  tall.height = 32768;
  tall.crop = {0, 0, 4, 32768};
  tall.channels = gb::Channels::RGB;
  tall.out_w = 1;
  tall.out_h = 2;
  CHECK(compare_isas(tall, rng) == 0);
  // A flat white image stays exactly 255 after the largest reduction.
  std::vector<uint8_t> buf;
  const gb::OutputSpec spec = make_spec(wide, buf);
  const Source src = make_source(wide, rng);
  gb::preprocess(src.image, wide.crop, spec);
  float v[3];
  std::memcpy(v, buf.data(), sizeof v);
  CHECK(v[0] == 255.f && v[1] == 255.f && v[2] == 255.f);
}

void test_constant_image() {
  std::vector<uint8_t> rgb(static_cast<size_t>(33 * 3 * 21));
  for (size_t i = 0; i < rgb.size(); i += 3) {
    rgb[i] = 200;
    rgb[i + 1] = 13;
    rgb[i + 2] = 77;
  }
  gb::SourceImage s;
  s.format = gb::PixelFormat::RGB888;
  s.width = 33;
  s.height = 21;
  s.plane[0] = rgb.data();
  s.stride[0] = 99;
  std::vector<uint8_t> out(static_cast<size_t>(50 * 70 * 3));
  gb::OutputSpec o;
  o.width = 70;
  o.height = 50;
  o.channels = gb::Channels::BGR;
  o.data = out.data();
  for (gb::Isa isa : gb::available_isas()) {
    gb::set_isa(isa);
    gb::preprocess(s, {3, 2, 17, 11}, o);
    bool ok = true;
    for (size_t i = 0; i < out.size(); i += 3) ok = ok && out[i] == 77 && out[i + 1] == 13 && out[i + 2] == 200;
    CHECK(ok);
  }
}

}  // namespace

int main() {
  const bool emulated = std::getenv("GB_UNDER_EMULATOR") != nullptr;
  std::printf("ISAs:");
  for (gb::Isa isa : gb::available_isas()) std::printf(" %s", gb::isa_name(isa));
  std::printf("%s\n", emulated ? " (under an emulator)" : "");
  // Every comparison below is against the reference: with only the reference available (a SIMD path lost to a
  // build flag or define) they would compare it with itself and pass. NEON is part of every AArch64 core; every
  // x86-64 core this runs on has at least SSE4.1.
#if defined(__aarch64__) || defined(__x86_64__)
  CHECK(gb::available_isas().size() >= 2);
#endif
#if defined(__aarch64__)
  bool neon = false;
  for (gb::Isa isa : gb::available_isas()) neon = neon || std::string(gb::isa_name(isa)) == "neon";
  CHECK(neon);
#endif
  test_validation();
  test_constant_image();
  test_all_widths();
  // Case counts keep each run well under 20 s under qemu-aarch64 and under the sanitizers.
  test_random_cases(emulated ? 1000 : 1500, 90, 80, 1234);
  test_random_cases(emulated ? 40 : 60, 400, 260, 99);
  test_product_shapes();
  test_row_ends();
  test_unit_mul();
  test_yuv_windows();
  test_rgb_windows();
  test_area_random_cases(emulated ? 300 : 600, 200, 60, 4321);
  test_area_product_shapes();
  gb::set_isa(gb::best_isa());
  return gb_test::finish("test_preprocess");
}
