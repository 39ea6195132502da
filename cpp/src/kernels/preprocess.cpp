// Fused preprocessing: validation, the per-call plan (tap tables, normalisation), the row driver, ISA dispatch.
#include "glassbridge/preprocess.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <stdexcept>
#include <string>
#include <vector>

#include "glassbridge/dispatch.h"
#include "preprocess_area.h"
#include "preprocess_internal.h"

namespace glassbridge {

const char* to_string(PixelFormat f) {
  switch (f) {
    case PixelFormat::NV12: return "NV12";
    case PixelFormat::I420: return "I420";
    case PixelFormat::YUYV: return "YUYV";
    case PixelFormat::RGB888: return "RGB888";
    case PixelFormat::BGR888: return "BGR888";
    case PixelFormat::RGBA8888: return "RGBA8888";
    case PixelFormat::RGB565: return "RGB565";
    case PixelFormat::GRAY8: return "GRAY8";
  }
  return "unknown";
}

namespace {

// Sizes beyond this are certainly a mistake (a 32768-pixel-wide camera does not exist) and keeping below it
// keeps every index and byte offset computation far from int overflow.
constexpr int kMaxDim = 1 << 15;

[[noreturn]] void fail(const std::string& msg) { throw std::invalid_argument(msg); }

std::string rect_str(const Rect& r) {
  return "(x=" + std::to_string(r.x) + ", y=" + std::to_string(r.y) + ", w=" + std::to_string(r.width) +
         ", h=" + std::to_string(r.height) + ")";
}

int plane_count(PixelFormat f) {
  switch (f) {
    case PixelFormat::NV12: return 2;
    case PixelFormat::I420: return 3;
    default: return 1;
  }
}

// Rows and bytes per row that plane i of a width x height image of format f must hold.
void plane_geometry(PixelFormat f, int width, int height, int i, long long& rows, long long& row_bytes) {
  const long long cw = (width + 1) / 2, ch = (height + 1) / 2;
  rows = height;
  switch (f) {
    case PixelFormat::NV12:
      row_bytes = i == 0 ? width : 2 * cw;
      if (i > 0) rows = ch;
      return;
    case PixelFormat::I420:
      row_bytes = i == 0 ? width : cw;
      if (i > 0) rows = ch;
      return;
    case PixelFormat::YUYV: row_bytes = 2LL * width; return;
    case PixelFormat::RGB888:
    case PixelFormat::BGR888: row_bytes = 3LL * width; return;
    case PixelFormat::RGBA8888: row_bytes = 4LL * width; return;
    case PixelFormat::RGB565: row_bytes = 2LL * width; return;
    case PixelFormat::GRAY8: row_bytes = width; return;
  }
}

size_t element_size(OutputType t) { return t == OutputType::Float32 ? 4 : 1; }
int channel_count(Channels c) { return c == Channels::Gray ? 1 : 3; }

bool valid_format(PixelFormat f) {
  const int v = static_cast<int>(f);
  return v >= 0 && v <= static_cast<int>(PixelFormat::GRAY8);
}

Rect resolved_dst(const OutputSpec& out) {
  if (out.dst.width == 0 && out.dst.height == 0) return Rect{0, 0, out.width, out.height};
  return out.dst;
}

}  // namespace

void validate(const SourceImage& src, const Rect& crop, const OutputSpec& out) {
  if (!valid_format(src.format)) fail("source format " + std::to_string(static_cast<int>(src.format)) + " is unknown");
  const std::string fmt = to_string(src.format);
  if (src.width <= 0 || src.height <= 0 || src.width > kMaxDim || src.height > kMaxDim) {
    fail(fmt + " source size " + std::to_string(src.width) + "x" + std::to_string(src.height) +
         " is invalid: each side must be 1.." + std::to_string(kMaxDim));
  }
  if (src.format == PixelFormat::YUYV && src.width % 2 != 0) {
    fail("YUYV source width must be even (Y0 U Y1 V carries two pixels), got " + std::to_string(src.width));
  }
  const int yuv_range = static_cast<int>(src.range);
  if (yuv_range != 0 && yuv_range != 1) fail("source YUV range " + std::to_string(yuv_range) + " is unknown");
  for (int i = 0; i < plane_count(src.format); ++i) {
    const std::string name = fmt + " plane " + std::to_string(i);
    long long rows = 0, row_bytes = 0;
    plane_geometry(src.format, src.width, src.height, i, rows, row_bytes);
    if (src.plane[i] == nullptr) fail(name + " is missing (null pointer)");
    if (src.stride[i] < row_bytes) {
      fail(name + " row stride " + std::to_string(src.stride[i]) + " is smaller than its row of " +
           std::to_string(row_bytes) + " bytes (width " + std::to_string(src.width) + ")");
    }
    const long long need = (rows - 1) * static_cast<long long>(src.stride[i]) + row_bytes;
    if (src.plane_size[i] != 0 && static_cast<long long>(src.plane_size[i]) < need) {
      fail(name + " is truncated: " + std::to_string(src.plane_size[i]) + " bytes, need " + std::to_string(need) +
           " (" + std::to_string(rows) + " rows, stride " + std::to_string(src.stride[i]) + ")");
    }
  }
  if (crop.width <= 0 || crop.height <= 0 || crop.x < 0 || crop.y < 0 ||
      static_cast<long long>(crop.x) + crop.width > src.width ||
      static_cast<long long>(crop.y) + crop.height > src.height) {
    fail("crop " + rect_str(crop) + " is not a non-empty rectangle inside the " + std::to_string(src.width) + "x" +
         std::to_string(src.height) + " source");
  }

  if (out.width <= 0 || out.height <= 0 || out.width > kMaxDim || out.height > kMaxDim) {
    fail("output size " + std::to_string(out.width) + "x" + std::to_string(out.height) + " is invalid: each side must be 1.." +
         std::to_string(kMaxDim));
  }
  const int ch = static_cast<int>(out.channels), ty = static_cast<int>(out.type);
  if (ch < 0 || ch > 2) fail("output channels " + std::to_string(ch) + " is unknown (RGB=0, BGR=1, Gray=2)");
  if (ty < 0 || ty > 2) fail("output type " + std::to_string(ty) + " is unknown (UInt8=0, Int8=1, Float32=2)");
  if (out.data == nullptr) fail("output buffer is missing (null pointer)");
  const long long row_bytes = static_cast<long long>(out.width) * channel_count(out.channels) *
                              static_cast<long long>(element_size(out.type));
  const long long stride = out.row_stride == 0 ? row_bytes : static_cast<long long>(out.row_stride);
  if (stride < row_bytes) {
    fail("output row stride " + std::to_string(out.row_stride) + " is smaller than a row of " +
         std::to_string(row_bytes) + " bytes");
  }
  const long long need = (out.height - 1) * stride + row_bytes;
  if (out.size != 0 && static_cast<long long>(out.size) < need) {
    fail("output buffer holds " + std::to_string(out.size) + " bytes, a " + std::to_string(out.width) + "x" +
         std::to_string(out.height) + " output needs " + std::to_string(need));
  }
  const Rect d = resolved_dst(out);
  if (d.width <= 0 || d.height <= 0 || d.x < 0 || d.y < 0 || static_cast<long long>(d.x) + d.width > out.width ||
      static_cast<long long>(d.y) + d.height > out.height) {
    fail("destination rectangle " + rect_str(out.dst) + " is not a non-empty rectangle inside the " +
         std::to_string(out.width) + "x" + std::to_string(out.height) + " output (all zero means the whole output)");
  }
  const int interp = static_cast<int>(out.interpolation);
  if (interp != 0 && interp != 1) {
    fail("interpolation " + std::to_string(interp) + " is unknown (Bilinear=0, Area=1)");
  }
  for (int c = 0; c < 3; ++c) {
    if (!std::isfinite(out.mul[c]) || !std::isfinite(out.add[c]) || !std::isfinite(out.pad[c])) {
      fail("normalisation of channel " + std::to_string(c) + " is not finite: mul " + std::to_string(out.mul[c]) +
           ", add " + std::to_string(out.add[c]) + ", pad " + std::to_string(out.pad[c]));
    }
  }
}

namespace detail {

OutputRows::OutputRows(const OutputSpec& out, const Rect& dst, int out_channels, OutputType type, float lo, float hi,
                       size_t pixel_bytes)
    : data_(static_cast<uint8_t*>(out.data)),
      row_bytes_(static_cast<size_t>(out.width) * pixel_bytes),
      left_(static_cast<size_t>(dst.x) * pixel_bytes),
      inner_(static_cast<size_t>(dst.width) * pixel_bytes),
      dst_y_(dst.y),
      dst_h_(dst.height),
      letterbox_(dst.width != out.width || dst.height != out.height) {
  stride_ = out.row_stride == 0 ? static_cast<ptrdiff_t>(row_bytes_) : out.row_stride;
  if (!letterbox_) return;
  uint8_t px[12];
  for (int j = 0; j < out_channels; ++j) {
    const float y = out.pad[j] * out.mul[j] + out.add[j];
    if (type == OutputType::Float32) {
      std::memcpy(px + 4 * j, &y, 4);
    } else {
      const long q = std::lrint(clamp_float(y, lo, hi));
      px[j] = static_cast<uint8_t>(q & 0xff);  // int8 stores its two's complement byte
    }
  }
  pad_row_.resize(row_bytes_);
  for (size_t x = 0; x < row_bytes_; x += pixel_bytes) std::memcpy(pad_row_.data() + x, px, pixel_bytes);
}

uint8_t* OutputRows::row(int oy) const {
  uint8_t* row = data_ + oy * stride_;
  const int dy = oy - dst_y_;
  if (dy < 0 || dy >= dst_h_) {
    std::memcpy(row, pad_row_.data(), row_bytes_);
    return nullptr;
  }
  if (letterbox_) {
    std::memcpy(row, pad_row_.data(), left_);
    std::memcpy(row + left_ + inner_, pad_row_.data(), row_bytes_ - left_ - inner_);
  }
  return row + left_;
}

AxisTaps make_axis_taps(int image_len, int crop_start, int crop_len, int out_len) {
  AxisTaps t;
  t.i0.resize(out_len);
  t.i1.resize(out_len);
  t.w.resize(2 * static_cast<size_t>(out_len));
  const double scale = static_cast<double>(crop_len) / out_len;
  for (int d = 0; d < out_len; ++d) {
    double s = (d + 0.5) * scale - 0.5;
    s = std::min(std::max(s, 0.0), static_cast<double>(crop_len - 1));
    // s >= 0, so truncation is floor and + 0.5 rounds (half up); cheaper than libm's floor / lround per entry.
    const int fl = static_cast<int>(s);
    int i = crop_start + fl;
    int w1 = static_cast<int>((s - fl) * kWeightOne + 0.5);
    if (w1 == kWeightOne) {  // rounds up onto the next pixel, which is inside the crop since s <= crop_len - 1
      ++i;
      w1 = 0;
    }
    int i0 = i;
    if (image_len == 1) {
      w1 = 0;
    } else if (i == image_len - 1) {  // keep i1 == i0 + 1 inside the image: all weight on the last pixel
      i0 = i - 1;
      w1 = kWeightOne;
    }
    t.i0[d] = i0;
    t.i1[d] = image_len == 1 ? i0 : i0 + 1;
    t.w[2 * d] = static_cast<int16_t>(kWeightOne - w1);
    t.w[2 * d + 1] = static_cast<int16_t>(w1);
  }
  return t;
}

int Plan::cols_with_i0_below(int limit) const {
  if (memo_cols_ < 0 || memo_limit_ != limit) {
    memo_limit_ = limit;
    const auto end = x.i0.begin() + dst.width;  // the padding past dst.width is not a column
    memo_cols_ = static_cast<int>(std::lower_bound(x.i0.begin(), end, limit) - x.i0.begin());
  }
  return memo_cols_;
}

namespace {

Plan make_plan(const SourceImage& src, const Rect& crop, const OutputSpec& out) {
  Plan p;
  p.format = src.format;
  p.range = src.range;
  p.src_width = src.width;
  p.src_height = src.height;
  for (int i = 0; i < 3; ++i) {
    p.plane[i] = src.plane[i];
    p.stride[i] = src.stride[i];
  }
  p.dst = resolved_dst(out);
  p.out_width = out.width;
  p.out_height = out.height;
  p.x = make_axis_taps(src.width, crop.x, crop.width, p.dst.width);
  // Pad the column taps to whole SIMD blocks (see kColPad): the last column repeated with zero weights.
  const size_t padded = (static_cast<size_t>(p.dst.width) + kColPad - 1) / kColPad * kColPad;
  p.x.i0.resize(padded, p.x.i0.back());
  p.x.i1.resize(padded, p.x.i1.back());
  p.x.w.resize(2 * padded, int16_t{0});
  p.y = make_axis_taps(src.height, crop.y, crop.height, p.dst.height);
  p.out_channels = channel_count(out.channels);
  p.row_planes = (out.channels == Channels::Gray || src.format == PixelFormat::GRAY8) ? 1 : 3;
  for (int j = 0; j < 3; ++j) {
    if (p.row_planes == 1) {
      p.perm[j] = 0;
    } else {
      p.perm[j] = out.channels == Channels::BGR ? 2 - j : j;
    }
  }
  p.type = out.type;
  p.elem_size = element_size(out.type);
  p.pixel_bytes = p.elem_size * static_cast<size_t>(p.out_channels);
  for (int j = 0; j < 3; ++j) {
    p.mulk[j] = std::ldexp(out.mul[j], -kAccFrac);
    p.add[j] = out.add[j];
  }
  if (out.type == OutputType::Int8) {
    p.lo = -128.f;
    p.hi = 127.f;
  }
  p.y_fits_int32 = true;
  for (int j = 0; j < p.out_channels; ++j) {
    // |v| <= 256 bounds every value the kernel can produce; 2^30 leaves room for float rounding.
    p.y_fits_int32 = p.y_fits_int32 && std::fabs(out.mul[j]) * 256.0 + std::fabs(out.add[j]) < 1073741824.0;
  }
  p.fuse_rows = crop.height >= 2 * p.dst.height;
  return p;
}

// One output pixel of padding: pad normalised and quantised like any value (y = pad * mul + add).
// A small two-slot cache of hrow results: the rows the previous output row used are often used again (always
// when upscaling), and each slot holds one source row's planes.
class RowCache {
 public:
  RowCache(const Plan& p, HRowFn hrow) : p_(p), hrow_(hrow) {
    plane_len_ = static_cast<size_t>(p.dst.width) + kRowSlack;
    buf_.assign(2 * 3 * plane_len_, 0);
    for (int s = 0; s < 2; ++s) {
      for (int c = 0; c < 3; ++c) ptr_[s][c] = buf_.data() + (static_cast<size_t>(s) * 3 + c) * plane_len_;
    }
  }

  // Both slots as scratch for a row2 kernel; their contents are forgotten.
  void scratch(int16_t* const*& a, int16_t* const*& b) {
    row_[0] = row_[1] = -1;
    a = ptr_[0];
    b = ptr_[1];
  }

  // Returns the planes of source rows a and b (which may be equal), computing at most the missing ones.
  void get(int a, int b, const int16_t* const*& ra, const int16_t* const*& rb) {
    const int sa = fetch(a, b);
    const int sb = fetch(b, a);
    ra = ptr_[sa];
    rb = ptr_[sb];
  }

 private:
  int fetch(int row, int keep) {
    for (int s = 0; s < 2; ++s) {
      if (row_[s] == row) return s;
    }
    const int s = row_[0] == keep ? 1 : 0;  // never evict the other row this output row needs
    hrow_(p_, row, 0, p_.dst.width, ptr_[s]);
    row_[s] = row;
    return s;
  }

  const Plan& p_;
  HRowFn hrow_;
  size_t plane_len_ = 0;
  std::vector<int16_t> buf_;
  int16_t* ptr_[2][3] = {};
  int row_[2] = {-1, -1};
};

// Software prefetch of the source rows a later output row will read. A downscale jumps several source rows from
// one output row to the next (1080 -> 224: ~4.8 rows), and each jump lands where the hardware prefetcher has no
// stream yet, so a DRAM-cold frame would stall on every row's first lines. While output row k is computed, the
// lines of row k + kPrefetchAhead's source rows are requested: only the bytes the crop's columns read, one
// prefetch per 64-byte line, in every plane the format reads (the chroma planes at half the row index). A
// prefetch is a hint: it never faults and changes no result, so every ISA path shares this driver code.
constexpr int kPrefetchAhead = 1;  // measured: 2 or 3 rows ahead are slower cold (the lines arrive too early)
constexpr int kLine = static_cast<int>(RowPrefetch::kLine);
// Each step that requests lines costs a call (the row kernel saves and restores its vector registers around it) and
// a dozen instructions per stream, whatever its number of lines. Measured (AVX2, 1080p NV12 -> 224 int8, with the
// unrolled loop in issue()): about 8 lines a step cut 0.2 M instructions a frame against 3 and are as fast DRAM-cold;
// 16 are 10 % slower cold (the requests bunch up again).
constexpr int kMinLinesPerStep = 8;

inline void prefetch_line(uintptr_t a) {
#if defined(__GNUC__)
  __builtin_prefetch(reinterpret_cast<const void*>(a), 0, 3);  // read, keep in all levels (prefetcht0 / prfm pldl1keep)
#else
  (void)a;
#endif
}

}  // namespace

void RowPrefetch::issue() {
  countdown_ = every_;
  const uintptr_t chunk = static_cast<uintptr_t>(per_step_) * kLine;
  for (int i = 0; i < n_; ++i) {
    uintptr_t a = s_[i].next;
    const uintptr_t stop = std::min(a + chunk, s_[i].end);
    for (; a + 3 * kLine < stop; a += 4 * kLine) {  // unrolled: a step requests about kMinLinesPerStep lines
      prefetch_line(a);
      prefetch_line(a + kLine);
      prefetch_line(a + 2 * kLine);
      prefetch_line(a + 3 * kLine);
    }
    for (; a < stop; a += kLine) prefetch_line(a);
    s_[i].next = a;
  }
}

void RowPrefetch::drain() {
  for (int i = 0; i < n_; ++i) {
    const uintptr_t stop = s_[i].end;
    for (uintptr_t a = s_[i].next; a < stop; a += kLine) prefetch_line(a);
  }
  n_ = 0;
}

namespace {

class RowPrefetcher {
 public:
  explicit RowPrefetcher(const Plan& p) : q_(p.prefetch) {
    // Pixel columns the crop reads: the first tap of the first column to the second tap of the last.
    const int x0 = p.x.i0.front(), x1 = p.x.i1[static_cast<size_t>(p.dst.width) - 1] + 1;  // [x0, x1)
    const bool gray = p.row_planes == 1;
    switch (p.format) {
      case PixelFormat::NV12:
        add(p, 0, 0, x0, x1);
        if (!gray) add(p, 1, 1, 2 * (x0 >> 1), 2 * ((x1 + 1) >> 1));
        break;
      case PixelFormat::I420:
        add(p, 0, 0, x0, x1);
        if (!gray) {
          add(p, 1, 1, x0 >> 1, (x1 + 1) >> 1);
          add(p, 2, 1, x0 >> 1, (x1 + 1) >> 1);
        }
        break;
      case PixelFormat::YUYV: add(p, 0, 0, 4 * (x0 >> 1), 4 * ((x1 + 1) >> 1)); break;
      case PixelFormat::RGB888:
      case PixelFormat::BGR888: add(p, 0, 0, 3 * x0, 3 * x1); break;
      case PixelFormat::RGBA8888: add(p, 0, 0, 4 * x0, 4 * x1); break;
      case PixelFormat::RGB565: add(p, 0, 0, 2 * x0, 2 * x1); break;
      case PixelFormat::GRAY8: add(p, 0, 0, x0, x1); break;
    }
    // Spread each stream over the row kernel's blocks of 16 columns (rounded up: a stream ends early, not late),
    // at least kMinLinesPerStep lines at a time: each step costs a few instructions per stream.
    int lines = 0;
    for (int i = 0; i < n_; ++i) lines = std::max(lines, (span_[i].end - span_[i].begin) / kLine + 2);
    const int blocks = (p.dst.width + 15) / 16;
    const int steps = std::max(1, std::min(blocks, (lines + kMinLinesPerStep - 1) / kMinLinesPerStep));
    const int every = (blocks + steps - 1) / steps;  // rounded up: at most `steps` steps request lines
    const int active = (blocks + every - 1) / every;
    q_.set_pace((lines + active - 1) / active, every);
  }

  // Loads the streams of source rows ra and rb (equal when one row carries all the weight) into the plan's
  // RowPrefetch, unless the previous call asked for the same pair (upscaling: output rows share source rows).
  void load(int ra, int rb) {
    q_.clear();
    if (ra == last_a_ && rb == last_b_) return;
    last_a_ = ra;
    last_b_ = rb;
    for (int i = 0; i < n_; ++i) {
      const Span& s = span_[i];
      const int a = ra >> s.row_shift, b = rb >> s.row_shift;
      add_row(s, a);
      if (b != a) add_row(s, b);
    }
  }

 private:
  struct Span {
    const uint8_t* base;
    ptrdiff_t stride;
    int row_shift;   // 1 for the half-height chroma planes of NV12 and I420
    int begin, end;  // byte span within a row
  };

  void add(const Plan& p, int plane, int row_shift, int begin, int end) {
    span_[n_++] = Span{p.plane[plane], p.stride[plane], row_shift, begin, end};
  }
  void add_row(const Span& s, int row) {
    const uint8_t* r = s.base + row * s.stride;
    q_.add(r + s.begin, r + s.end);
  }

  RowPrefetch& q_;
  Span span_[3] = {};
  int n_ = 0;
  int last_a_ = -1, last_b_ = -1;
};

// The source rows output row dy (relative to dst) reads: a row with weight 0 contributes exactly 0, so it need not
// be read; the other row is used twice.
inline void source_rows(const Plan& p, int dy, int& ra, int& rb) {
  const int wy0 = p.y.w[2 * dy], wy1 = p.y.w[2 * dy + 1];
  ra = wy0 == 0 ? p.y.i1[dy] : p.y.i0[dy];
  rb = wy1 == 0 ? p.y.i0[dy] : p.y.i1[dy];
}

void run(const Plan& p, const RowKernels& k, const OutputSpec& out) {
  const detail::OutputRows rows(out, p.dst, p.out_channels, p.type, p.lo, p.hi, p.pixel_bytes);
  RowCache cache(p, k.hrow);
  RowPrefetcher prefetch(p);
  for (int dy = 0; dy < kPrefetchAhead && dy < p.dst.height; ++dy) {
    int ra = 0, rb = 0;
    source_rows(p, dy, ra, rb);
    prefetch.load(ra, rb);
    p.prefetch.drain();
  }
  for (int oy = 0; oy < out.height; ++oy) {
    uint8_t* const row = rows.row(oy);
    if (row == nullptr) continue;  // outside dst: padding only
    const int dy = oy - p.dst.y;
    if (dy + kPrefetchAhead < p.dst.height) {
      int pa = 0, pb = 0;
      source_rows(p, dy + kPrefetchAhead, pa, pb);
      prefetch.load(pa, pb);
    }
    const int wy0 = p.y.w[2 * dy], wy1 = p.y.w[2 * dy + 1];
    int ra = 0, rb = 0;
    source_rows(p, dy, ra, rb);
    // ra == rb (one row carries all the weight) also goes to row2, which then converts that row once.
    if (k.row2 != nullptr && p.fuse_rows) {
      int16_t* const* sa = nullptr;
      int16_t* const* sb = nullptr;
      cache.scratch(sa, sb);
      k.row2(p, ra, rb, wy0, wy1, row, sa, sb);
      p.prefetch.drain();  // what the kernel did not request (or all of it, from a kernel that does not step)
      continue;
    }
    const int16_t* const* top = nullptr;
    const int16_t* const* bot = nullptr;
    cache.get(ra, rb, top, bot);  // the hrow kernels step the prefetch
    k.vrow(p, top, bot, wy0, wy1, 0, p.dst.width, row);
    p.prefetch.drain();
  }
}

RowKernels kernels_for(Isa isa, Plan& p) {
  switch (isa) {
#if defined(GLASSBRIDGE_X86)
    case Isa::Sse41: return kernels_sse41(p);
    case Isa::Avx2: return kernels_avx2(p);
#endif
#if defined(GLASSBRIDGE_ARM64)
    case Isa::Neon: return kernels_neon(p);
#endif
    default: return kernels_ref(p);
  }
}

}  // namespace
}  // namespace detail

void preprocess(const SourceImage& src, const Rect& crop, const OutputSpec& out) {
  validate(src, crop, out);
  if (out.interpolation == Interpolation::Area) {
    detail::preprocess_area(src, crop, out, active_isa());
    return;
  }
  detail::Plan p = detail::make_plan(src, crop, out);
  const detail::RowKernels k = detail::kernels_for(active_isa(), p);  // may add the ISA's column tables to p
  detail::run(p, k, out);
}

void preprocess_ref(const SourceImage& src, const Rect& crop, const OutputSpec& out) {
  validate(src, crop, out);
  if (out.interpolation == Interpolation::Area) {
    detail::preprocess_area(src, crop, out, Isa::Ref);
    return;
  }
  const detail::Plan p = detail::make_plan(src, crop, out);
  detail::run(p, detail::kernels_ref(p), out);
}

}  // namespace glassbridge
