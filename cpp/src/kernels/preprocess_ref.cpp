// The scalar reference of the fused preprocessing kernel: the definition of its arithmetic (see
// preprocess_internal.h). SIMD paths must produce exactly these integers and bytes; they also call these
// functions for the columns their vector loops leave over.
#include <cmath>
#include <cstring>

#include "preprocess_internal.h"

namespace glassbridge::detail {
namespace {

// Reads the Q6 values of one source pixel (absolute column x) of the current row, one per row plane.
struct TapReader {
  const Plan& p;
  const uint8_t* r0;  // row of plane 0
  const uint8_t* r1;  // chroma row (NV12: UV, I420: U)
  const uint8_t* r2;  // I420: V

  void read(int x, int* t) const {
    const bool gray = p.row_planes == 1;
    switch (p.format) {
      case PixelFormat::NV12:
      case PixelFormat::I420:
      case PixelFormat::YUYV: {
        int yv, u = 128, v = 128;
        if (p.format == PixelFormat::YUYV) {
          yv = r0[2 * x];
          u = r0[4 * (x >> 1) + 1];
          v = r0[4 * (x >> 1) + 3];
        } else if (p.format == PixelFormat::NV12) {
          yv = r0[x];
          u = r1[2 * (x >> 1)];
          v = r1[2 * (x >> 1) + 1];
        } else {
          yv = r0[x];
          u = r1[x >> 1];
          v = r2[x >> 1];
        }
        if (gray) {
          t[0] = clamp_tap(yuv_luma6(yv, p.yuv()));
        } else {
          yuv_to_rgb6(yv, u, v, p.yuv(), t);
        }
        return;
      }
      case PixelFormat::RGB888:
      case PixelFormat::BGR888:
      case PixelFormat::RGBA8888: {
        const int bpp = p.format == PixelFormat::RGBA8888 ? 4 : 3;
        const uint8_t* s = r0 + bpp * x;
        const int r = p.format == PixelFormat::BGR888 ? s[2] : s[0];
        const int g = s[1];
        const int b = p.format == PixelFormat::BGR888 ? s[0] : s[2];
        if (gray) {
          t[0] = gray6_from_rgb8(r, g, b);
        } else {
          t[0] = r << kTapFrac;
          t[1] = g << kTapFrac;
          t[2] = b << kTapFrac;
        }
        return;
      }
      case PixelFormat::RGB565: {
        int rgb[3];
        rgb565_to_rgb6(r0[2 * x] | (r0[2 * x + 1] << 8), rgb);
        if (gray) {
          t[0] = gray6_from_rgb6(rgb[0], rgb[1], rgb[2]);
        } else {
          t[0] = rgb[0];
          t[1] = rgb[1];
          t[2] = rgb[2];
        }
        return;
      }
      case PixelFormat::GRAY8:
        t[0] = r0[x] << kTapFrac;
        return;
    }
  }
};

template <typename T>
void store(uint8_t* out, T v) {
  std::memcpy(out, &v, sizeof v);  // the output may be any byte address
}

}  // namespace

void hrow_ref(const Plan& p, int sy, int x0, int x1, int16_t* const* rows) {
  const int cy = sy >> 1;  // chroma row of NV12 / I420
  TapReader rd{p, p.plane[0] + sy * p.stride[0], nullptr, nullptr};
  if (p.format == PixelFormat::NV12 || p.format == PixelFormat::I420) rd.r1 = p.plane[1] + cy * p.stride[1];
  if (p.format == PixelFormat::I420) rd.r2 = p.plane[2] + cy * p.stride[2];
  for (int ox = x0; ox < x1; ++ox) {
    int t0[3], t1[3];
    rd.read(p.x.i0[ox], t0);
    rd.read(p.x.i1[ox], t1);
    const int w0 = p.x.w[2 * ox], w1 = p.x.w[2 * ox + 1];
    for (int c = 0; c < p.row_planes; ++c) {
      rows[c][ox] = static_cast<int16_t>((t0[c] * w0 + t1[c] * w1 + kHRound) >> kHShift);
    }
  }
}

void vrow_ref(const Plan& p, const int16_t* const* top, const int16_t* const* bot, int wy0, int wy1, int x0, int x1,
              uint8_t* out) {
  for (int ox = x0; ox < x1; ++ox) {
    uint8_t* px = out + static_cast<size_t>(ox) * p.pixel_bytes;
    for (int j = 0; j < p.out_channels; ++j) {
      const int pl = p.perm[j];
      const int acc = top[pl][ox] * wy0 + bot[pl][ox] * wy1;
      const float y = static_cast<float>(acc) * p.mulk[j] + p.add[j];
      switch (p.type) {
        case OutputType::Float32:
          store(px + 4 * j, y);
          break;
        case OutputType::UInt8:
          px[j] = static_cast<uint8_t>(std::lrint(clamp_float(y, p.lo, p.hi)));
          break;
        case OutputType::Int8:
          px[j] = static_cast<uint8_t>(static_cast<int8_t>(std::lrint(clamp_float(y, p.lo, p.hi))));
          break;
      }
    }
  }
}

RowKernels kernels_ref(const Plan&) { return RowKernels{hrow_ref, vrow_ref}; }

}  // namespace glassbridge::detail
