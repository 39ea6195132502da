// Preprocessing tests: every available ISA path bit-identical to the scalar reference on random formats, sizes,
// strides, crops, destination rectangles, output types and channels (odd sizes, widths that are not multiples of
// any vector width, one-pixel crops, upscaling, crops touching every edge), and validation errors.
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

  std::string describe() const {
    char buf[320];
    std::snprintf(buf, sizeof buf,
                  "%s %dx%d range %d crop (%d,%d,%d,%d) -> out %dx%d dst (%d,%d,%d,%d) channels %d type %d",
                  gb::to_string(format), width, height, static_cast<int>(range), crop.x, crop.y, crop.width,
                  crop.height, out_w, out_h, dst.x, dst.y, dst.width, dst.height, static_cast<int>(channels),
                  static_cast<int>(type));
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

// Planes of exactly the bytes the image needs (the last row ends the allocation), filled with random bytes.
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
    for (auto& b : p) b = static_cast<uint8_t>(rng());
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

// Runs the case on the reference and on every available ISA; returns the number of mismatching ISAs.
int compare_isas(const Case& c, std::mt19937& rng) {
  Source src = make_source(c, rng);
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
  test_validation();
  test_constant_image();
  test_all_widths();
  // Case counts keep each run well under 20 s under qemu-aarch64 and under the sanitizers.
  test_random_cases(emulated ? 1000 : 1500, 90, 80, 1234);
  test_random_cases(emulated ? 40 : 60, 400, 260, 99);
  test_product_shapes();
  test_row_ends();
  gb::set_isa(gb::best_isa());
  return gb_test::finish("test_preprocess");
}
