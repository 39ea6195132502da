// The area-averaging mode of the fused preprocessing (preprocess_area.h defines the arithmetic): axis tables, the
// per-row driver, the scalar row sums, the column sums and the float32 conversion shared by every ISA path.
#include "preprocess_area.h"

#include "preprocess_internal.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <stdexcept>
#include <string>

namespace glassbridge::detail {

namespace {

// One attempt at a given q; returns the largest W(d).
int64_t build_axis(AreaAxis& a, int crop_start, int crop_len, int out_len, int q) {
  a.q = q;
  a.start.assign(out_len, 0);
  a.count.assign(out_len, 0);
  a.offset.assign(out_len, 0);
  a.total.assign(out_len, 0);
  a.w.clear();
  a.w.reserve(static_cast<size_t>(crop_len) + 2 * static_cast<size_t>(out_len) + 2);  // taps <= L + 2n (no regrowth)
  a.max_count = 0;
  const int64_t one = int64_t{1} << q;
  const int64_t L = crop_len, n = out_len;
  int64_t max_total = 0;
  for (int d = 0; d < out_len; ++d) {
    a.offset[d] = static_cast<int32_t>(a.w.size());
    int first = -1, cnt = 0;
    int64_t tot = 0;
    auto push = [&](int idx, int64_t wt) {
      if (wt <= 0) return;
      if (first < 0) first = idx;
      // Taps are consecutive: fill any gap (cannot happen with nonzero interior weights) with zero weights.
      while (first + cnt < idx) {
        a.w.push_back(0);
        ++cnt;
      }
      a.w.push_back(static_cast<int16_t>(wt));
      ++cnt;
      tot += wt;
    };
    if (crop_len >= out_len) {
      // Footprint [d L, (d + 1) L) in units of 1 / n; pixel j covers [j n, (j + 1) n).
      const int64_t f0 = d * L, f1 = (d + 1) * L;
      const int64_t j0 = f0 / n, j1 = (f1 + n - 1) / n;  // pixels [j0, j1)
      for (int64_t j = j0; j < j1; ++j) {
        const int64_t cov = std::min((j + 1) * n, f1) - std::max(j * n, f0);  // 0 < cov <= n
        push(crop_start + static_cast<int>(j), cov == n ? one : (2 * cov * one + n) / (2 * n));
      }
    } else {
      double s = (d + 0.5) * (static_cast<double>(crop_len) / out_len) - 0.5;
      s = std::min(std::max(s, 0.0), static_cast<double>(crop_len - 1));
      int i = static_cast<int>(s);  // s >= 0: truncation is floor
      int64_t w1 = static_cast<int64_t>((s - i) * static_cast<double>(one) + 0.5);
      if (w1 == one) {
        ++i;
        w1 = 0;
      }
      push(crop_start + i, one - w1);
      if (w1 > 0) push(crop_start + i + 1, w1);
    }
    a.start[d] = first;
    a.count[d] = cnt;
    a.total[d] = static_cast<int32_t>(std::min<int64_t>(tot, INT32_MAX));
    a.max_count = std::max(a.max_count, cnt);
    max_total = std::max(max_total, tot);
  }
  return max_total;
}

}  // namespace

AreaAxis make_area_axis(int crop_start, int crop_len, int out_len, int64_t max_total) {
  AreaAxis a;
  for (int q = kAreaMaxQ; q >= 0; --q) {
    if (build_axis(a, crop_start, crop_len, out_len, q) <= max_total) return a;
  }
  // Unreachable for sizes validate() accepts (W <= 32768 * 2^0 + 2 at q = 0), kept as a clear refusal.
  throw std::invalid_argument("area interpolation: a reduction of " + std::to_string(crop_len) + " to " +
                              std::to_string(out_len) + " pixels cannot be summed exactly in int32");
}

AreaAxis chroma_area_axis(const AreaAxis& l) {
  AreaAxis c;
  c.q = l.q;
  const size_t n = l.start.size();
  c.start.assign(n, 0);
  c.count.assign(n, 0);
  c.offset.assign(n, 0);
  c.total = l.total;
  for (size_t d = 0; d < n; ++d) {
    const int s = l.start[d] >> 1, e = (l.start[d] + l.count[d] - 1) >> 1;
    c.start[d] = s;
    c.count[d] = e - s + 1;
    c.offset[d] = static_cast<int32_t>(c.w.size());
    c.w.resize(c.w.size() + static_cast<size_t>(c.count[d]), 0);
    int16_t* w = c.w.data() + c.offset[d];
    for (int j = 0; j < l.count[d]; ++j) {
      const int k = ((l.start[d] + j) >> 1) - s;
      w[k] = static_cast<int16_t>(w[k] + l.w[static_cast<size_t>(l.offset[d] + j)]);
    }
    c.max_count = std::max(c.max_count, c.count[d]);
  }
  return c;
}

void area_rowsum_ref_tail(const uint8_t* const* rows, const int16_t* w, int nrows, int k0, int k1, float fy,
                          int16_t* m, int32_t* col) {
  std::fill(col + k0, col + k1, 0);
  for (int i = 0; i < nrows; ++i) {
    const uint8_t* r = rows[i];
    const int32_t wi = w[i];
    for (int k = k0; k < k1; ++k) col[k] += wi * r[k];
  }
  for (int k = k0; k < k1; ++k) m[k] = static_cast<int16_t>(std::lrint(static_cast<float>(col[k]) * fy));
}

void area_rowsum_ref(const uint8_t* const* rows, const int16_t* w, int nrows, int n, float fy, int16_t* m,
                     int32_t* col) {
  area_rowsum_ref_tail(rows, w, nrows, 0, n, fy, m, col);
}

namespace {

int nplanes(PixelFormat f) { return f == PixelFormat::NV12 ? 2 : (f == PixelFormat::I420 ? 3 : 1); }


void setup_planes(AreaPlan& p, const SourceImage& src) {
  const int xa = p.xa, xb = p.xb;
  const int ca = xa >> 1, cb = ((xb - 1) >> 1) + 1;  // chroma samples [ca, cb)
  const bool yuv_gray = p.gray_out;                   // YUV with gray output reads Y only
  for (int i = 0; i < nplanes(src.format); ++i) {
    p.plane[i].base = src.plane[i];
    p.plane[i].stride = src.stride[i];
  }
  auto set_plane = [&](int i, int begin, int bytes, bool chroma_y) {
    p.plane[i].begin = begin;
    p.plane[i].bytes = bytes;
    p.plane[i].chroma_y = chroma_y;
    p.plane[i].used = true;
  };
  auto set_ch = [&](int c, int plane, int offset, int step, bool chroma_x) {
    p.ch[c] = AreaChannel{plane, offset, step, chroma_x, -1, {}};
  };
  switch (src.format) {
    case PixelFormat::NV12:
      set_plane(0, xa, xb - xa, false);
      set_ch(0, 0, -xa, 1, false);
      p.nch = yuv_gray ? 1 : 3;
      if (!yuv_gray) {
        set_plane(1, 2 * ca, 2 * (cb - ca), true);
        set_ch(1, 1, -2 * ca, 2, true);
        set_ch(2, 1, -2 * ca + 1, 2, true);
      }
      break;
    case PixelFormat::I420:
      set_plane(0, xa, xb - xa, false);
      set_ch(0, 0, -xa, 1, false);
      p.nch = yuv_gray ? 1 : 3;
      if (!yuv_gray) {
        set_plane(1, ca, cb - ca, true);
        set_plane(2, ca, cb - ca, true);
        set_ch(1, 1, -ca, 1, true);
        set_ch(2, 2, -ca, 1, true);
      }
      break;
    case PixelFormat::YUYV:
      set_plane(0, 4 * ca, 4 * (cb - ca), false);
      set_ch(0, 0, -4 * ca, 2, false);
      set_ch(1, 0, -4 * ca + 1, 4, true);
      set_ch(2, 0, -4 * ca + 3, 4, true);
      p.nch = yuv_gray ? 1 : 3;
      break;
    case PixelFormat::RGB888:
    case PixelFormat::BGR888:
    case PixelFormat::RGBA8888: {
      const int bpp = src.format == PixelFormat::RGBA8888 ? 4 : 3;
      const bool bgr = src.format == PixelFormat::BGR888;
      set_plane(0, bpp * xa, bpp * (xb - xa), false);
      set_ch(0, 0, -bpp * xa + (bgr ? 2 : 0), bpp, false);
      set_ch(1, 0, -bpp * xa + 1, bpp, false);
      set_ch(2, 0, -bpp * xa + (bgr ? 0 : 2), bpp, false);
      p.nch = 3;
      break;
    }
    case PixelFormat::RGB565:
      // Rows are unpacked to R5 G6 B5 bytes, pixel xa first; begin / bytes describe the packed source bytes.
      set_plane(0, 2 * xa, 2 * (xb - xa), false);
      set_ch(0, 0, -3 * xa, 3, false);
      set_ch(1, 0, -3 * xa + 1, 3, false);
      set_ch(2, 0, -3 * xa + 2, 3, false);
      p.nch = 3;
      break;
    case PixelFormat::GRAY8:
      set_plane(0, xa, xb - xa, false);
      set_ch(0, 0, -xa, 1, false);
      p.nch = 1;
      break;
  }
}

AreaPlan make_area_plan(const SourceImage& src, const Rect& crop, const OutputSpec& out, bool windows) {
  AreaPlan p;
  p.format = src.format;
  p.range = src.range;
  p.dst = (out.dst.width == 0 && out.dst.height == 0) ? Rect{0, 0, out.width, out.height} : out.dst;
  p.x = make_area_axis(crop.x, crop.width, p.dst.width, kAreaMaxWx);
  p.y = make_area_axis(crop.y, crop.height, p.dst.height, kAreaMaxWy);
  p.gray_out = out.channels == Channels::Gray;
  const bool yuv =
      src.format == PixelFormat::NV12 || src.format == PixelFormat::I420 || src.format == PixelFormat::YUYV;
  p.yuv = yuv;
  if (yuv && !p.gray_out) p.xc = chroma_area_axis(p.x);
  if ((src.format == PixelFormat::NV12 || src.format == PixelFormat::I420) && !p.gray_out) p.yc = chroma_area_axis(p.y);
  p.xa = p.x.start.front();
  p.xb = 0;
  for (size_t d = 0; d < p.x.start.size(); ++d) p.xb = std::max(p.xb, p.x.start[d] + p.x.count[d]);
  setup_planes(p, src);
  p.out_channels = p.gray_out ? 1 : 3;
  for (int j = 0; j < 3; ++j) p.perm[j] = p.gray_out ? 0 : (out.channels == Channels::BGR ? 2 - j : j);
  p.type = out.type;
  p.elem_size = out.type == OutputType::Float32 ? 4 : 1;
  p.pixel_bytes = p.elem_size * static_cast<size_t>(p.out_channels);
  for (int j = 0; j < 3; ++j) {
    p.mul[j] = out.mul[j];
    p.add[j] = out.add[j];
  }
  if (out.type == OutputType::Int8) {
    p.lo = -128.f;
    p.hi = 127.f;
  }
  p.kx.resize(p.x.total.size());
  const double mean_one = static_cast<double>(1 << kAreaMeanFrac);
  for (size_t d = 0; d < p.kx.size(); ++d) p.kx[d] = static_cast<float>(1.0 / (mean_one * p.x.total[d]));
  if (windows) {
    // Channels on the same axis share a step (packed pixels), so one window table per axis serves them all.
    for (int c = 0; c < p.nch; ++c) {
      AreaChannel& ch = p.ch[c];
      const AreaAxis& ax = ch.chroma_x ? p.xc : p.x;
      const int slot = ch.chroma_x ? 1 : 0;
      const int win = (ch.step * (ax.max_count - 1) + 1 + 15) / 16 * 16;
      if (win > kAreaMaxWin) continue;
      AreaWindow& wt = p.windows[slot];
      if (wt.win == 0) {
        wt.win = win;
        wt.w.assign(static_cast<size_t>(win) * ax.start.size(), 0);
        for (size_t d = 0; d < ax.start.size(); ++d) {
          for (int j = 0; j < ax.count[d]; ++j) {
            wt.w[d * win + ch.step * j] = ax.w[static_cast<size_t>(ax.offset[d] + j)];
          }
        }
      }
      ch.window = slot;
      ch.base.resize(ax.start.size());
      for (size_t d = 0; d < ax.start.size(); ++d) ch.base[d] = ch.offset + ch.step * ax.start[d];
    }
  }
  return p;
}

inline float clamp255(float v) { return v < 0.f ? 0.f : (v > 255.f ? 255.f : v); }

template <typename T>
void store(uint8_t* out, T v) {
  std::memcpy(out, &v, sizeof v);
}


}  // namespace

void area_colsum_ref(const AreaPlan& p, int c, const int16_t* m, int d0, int d1, int32_t* t) {
  const AreaChannel& ch = p.ch[c];
  const AreaAxis& ax = ch.chroma_x ? p.xc : p.x;
  for (int d = d0; d < d1; ++d) {
    const int16_t* w = ax.w.data() + ax.offset[d];
    const int16_t* src = m + ch.offset + ch.step * ax.start[d];
    int32_t acc = 0;
    for (int j = 0; j < ax.count[d]; ++j) acc += w[j] * src[ch.step * j];
    t[d] = acc;
  }
}

void area_convert_ref(const AreaPlan& p, int32_t* const* t, int d0, int d1, uint8_t* out) {
  const bool full = p.range == YuvRange::Full;
  for (int d = d0; d < d1; ++d) {
    float a[3];
    for (int c = 0; c < p.nch; ++c) a[c] = static_cast<float>(t[c][d]) * p.kx[d];
    float v[3];
    if (p.yuv) {
      const float l = full ? a[0] : (a[0] - kAreaLimited.yoff) * kAreaLimited.ky;
      if (p.gray_out) {
        v[0] = clamp255(l);
      } else {
        const float u = full ? a[1] - 128.f : (a[1] - 128.f) * kAreaLimited.kc;
        const float vv = full ? a[2] - 128.f : (a[2] - 128.f) * kAreaLimited.kc;
        v[0] = clamp255(l + vv * kAreaLimited.kvr);
        v[1] = clamp255((l - u * kAreaLimited.kug) - vv * kAreaLimited.kvg);
        v[2] = clamp255(l + u * kAreaLimited.kub);
      }
    } else if (p.nch == 1) {
      v[0] = v[1] = v[2] = a[0];
    } else {
      if (p.format == PixelFormat::RGB565) {
        a[0] = a[0] * kArea5;
        a[1] = a[1] * kArea6;
        a[2] = a[2] * kArea5;
      }
      if (p.gray_out) {
        v[0] = (a[0] * kAreaGr + a[1] * kAreaGg) + a[2] * kAreaGb;
      } else {
        v[0] = a[0];
        v[1] = a[1];
        v[2] = a[2];
      }
    }
    uint8_t* px = out + static_cast<size_t>(d) * p.pixel_bytes;
    for (int j = 0; j < p.out_channels; ++j) {
      const float y = v[p.perm[j]] * p.mul[j] + p.add[j];
      switch (p.type) {
        case OutputType::Float32: store(px + 4 * j, y); break;
        case OutputType::UInt8: px[j] = static_cast<uint8_t>(std::lrint(clamp_float(y, p.lo, p.hi))); break;
        case OutputType::Int8:
          px[j] = static_cast<uint8_t>(static_cast<int8_t>(std::lrint(clamp_float(y, p.lo, p.hi))));
          break;
      }
    }
  }
}

void area_finish_ref(const AreaPlan& p, int16_t* const* m, int32_t* const* t, uint8_t* out) {
  for (int c = 0; c < p.nch; ++c) area_colsum_ref(p, c, m[p.ch[c].plane], 0, p.dst.width, t[c]);
  area_convert_ref(p, t, 0, p.dst.width, out);
}

void preprocess_area(const SourceImage& src, const Rect& crop, const OutputSpec& out, Isa isa) {
  const bool simd = isa != Isa::Ref;
  const AreaPlan p = make_area_plan(src, crop, out, simd);
  AreaRowSumFn rowsum = area_rowsum_ref;
  AreaFinishFn finish = area_finish_ref;
#if defined(GLASSBRIDGE_X86)
  if (isa == Isa::Sse41) {
    rowsum = area_rowsum_sse41;
    finish = area_finish_sse41;
  }
  if (isa == Isa::Avx2) {
    rowsum = area_rowsum_avx2;
    finish = area_finish_avx2;
  }
#endif
#if defined(GLASSBRIDGE_ARM64)
  if (isa == Isa::Neon) {
    rowsum = area_rowsum_neon;
    finish = area_finish_neon;
  }
#endif

  // Per-call buffers: the row sums of each plane (+ slack for SIMD stores), column sums, row pointers.
  constexpr int kSlack = kAreaSlack;
  const bool unpack565 = p.format == PixelFormat::RGB565;
  std::vector<int16_t> mbuf[3];
  std::vector<int32_t> col;
  int16_t* m[3] = {nullptr, nullptr, nullptr};
  size_t max_bytes = 0;
  for (int i = 0; i < 3; ++i) {
    if (!p.plane[i].used) continue;
    const size_t n = unpack565 ? static_cast<size_t>(3) * (p.xb - p.xa) : static_cast<size_t>(p.plane[i].bytes);
    mbuf[i].assign(n + kSlack, 0);
    m[i] = mbuf[i].data();
    max_bytes = std::max(max_bytes, n);
  }
  col.assign(max_bytes + kSlack, 0);
  std::vector<int32_t> tbuf(3 * (static_cast<size_t>(p.dst.width) + kSlack), 0);
  int32_t* t[3];
  for (int c = 0; c < 3; ++c) t[c] = tbuf.data() + c * (static_cast<size_t>(p.dst.width) + kSlack);
  std::vector<const uint8_t*> rows(static_cast<size_t>(std::max(p.y.max_count, p.yc.max_count)));
  std::vector<uint8_t> unpacked;
  if (unpack565) unpacked.resize(max_bytes);

  const OutputRows out_rows(out, p.dst, p.out_channels, p.type, p.lo, p.hi, p.pixel_bytes);
  for (int oy = 0; oy < out.height; ++oy) {
    uint8_t* const row = out_rows.row(oy);
    if (row == nullptr) continue;  // outside dst: padding only
    const int dy = oy - p.dst.y;
    for (int i = 0; i < 3; ++i) {
      const AreaPlane& pl = p.plane[i];
      if (!pl.used) continue;
      const AreaAxis& ay = pl.chroma_y ? p.yc : p.y;
      const int n = ay.count[dy];
      const int16_t* w = ay.w.data() + ay.offset[dy];
      const float fy = static_cast<float>(static_cast<double>(1 << kAreaMeanFrac) / ay.total[dy]);
      if (unpack565) {
        // Row by row: unpack R5 G6 B5, accumulate (the scalar sums, whatever the ISA).
        const int npx = p.xb - p.xa;
        std::fill(col.begin(), col.begin() + 3 * npx, 0);
        for (int r = 0; r < n; ++r) {
          const uint8_t* s = pl.base + (ay.start[dy] + r) * pl.stride + pl.begin;
          for (int k = 0; k < npx; ++k) {
            const int px = s[2 * k] | (s[2 * k + 1] << 8);
            unpacked[3 * k] = static_cast<uint8_t>(px >> 11);
            unpacked[3 * k + 1] = static_cast<uint8_t>((px >> 5) & 63);
            unpacked[3 * k + 2] = static_cast<uint8_t>(px & 31);
          }
          for (int k = 0; k < 3 * npx; ++k) col[k] += w[r] * unpacked[k];
        }
        for (int k = 0; k < 3 * npx; ++k) m[i][k] = static_cast<int16_t>(std::lrint(static_cast<float>(col[k]) * fy));
        continue;
      }
      for (int r = 0; r < n; ++r) rows[r] = pl.base + (ay.start[dy] + r) * pl.stride + pl.begin;
      rowsum(rows.data(), w, n, pl.bytes, fy, m[i], col.data());
    }
    finish(p, m, t, row);
  }
}

}  // namespace glassbridge::detail
