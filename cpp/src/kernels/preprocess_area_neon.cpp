// NEON kernels of the area mode (preprocess_area.h), bit-identical to the scalar definition: the integer sums are
// exact in any order, the normalisation is the same float32 multiply and round-half-even conversion (vcvtnq).
//
// rowsum, per block of 32 bytes (then 16): the footprint's rows in runs of equal weight, each run's bytes added
// into uint16 lanes (vaddw_u8, <= 256 rows) and weighted once (vmlal_n_u16; weights and bytes are non-negative and
// the sum is < 2^31, so uint32 lanes hold it exactly), then float32 multiply by fy, vcvtnq_s32_f32, narrowed to
// int16 (<= 32640); footprints of more than 48 runs go row by row. The last < 16 columns run the scalar definition.
// finish: column sums from the plan's window tables (AreaWindow), 8 int16 at a time with vmlal_s16 and a final
// vaddvq_s32 per output; the float32 conversion 4 outputs at a time with the scalar's
// operations (compare-and-select clamps, separate multiplies and adds), float32 RGB stored by vst3q.
#include <arm_neon.h>

#include "preprocess_area.h"

namespace glassbridge::detail {

namespace {

// Runs of consecutive rows with equal weight (interior rows all weigh 2^q): their bytes are added into uint16 lanes
// with vaddw_u8 (at most kRunMax rows: 255 * 256 < 2^16) and multiplied by the weight once (vmlal_n_u16).
constexpr int kRunMax = 256;
constexpr int kMaxRuns = 48;

struct Run {
  int first, count;
  uint16_t w;
};

bool make_runs(const int16_t* w, int nrows, Run* runs, int& nruns) {
  nruns = 0;
  for (int i = 0; i < nrows;) {
    int j = i + 1;
    while (j < nrows && j - i < kRunMax && w[j] == w[i]) ++j;
    if (nruns == kMaxRuns) return false;
    runs[nruns++] = Run{i, j - i, static_cast<uint16_t>(w[i])};
    i = j;
  }
  return true;
}

inline void store_mean(int16_t* m, uint32x4_t a0, uint32x4_t a1, uint32x4_t a2, uint32x4_t a3, float32x4_t f) {
  const int32x4_t r0 = vcvtnq_s32_f32(vmulq_f32(vcvtq_f32_u32(a0), f));
  const int32x4_t r1 = vcvtnq_s32_f32(vmulq_f32(vcvtq_f32_u32(a1), f));
  const int32x4_t r2 = vcvtnq_s32_f32(vmulq_f32(vcvtq_f32_u32(a2), f));
  const int32x4_t r3 = vcvtnq_s32_f32(vmulq_f32(vcvtq_f32_u32(a3), f));
  vst1q_s16(m, vcombine_s16(vmovn_s32(r0), vmovn_s32(r1)));
  vst1q_s16(m + 8, vcombine_s16(vmovn_s32(r2), vmovn_s32(r3)));
}

}  // namespace

namespace {

// kBlocks blocks of 16 bytes at once (32-byte blocks halve the per-row pointer and loop overhead; 16 for the rest).
template <int kBlocks>
int rowsum_runs(const uint8_t* const* rows, const Run* runs, int nruns, int k, int n, float32x4_t f, int16_t* m) {
  for (; k + 16 * kBlocks <= n; k += 16 * kBlocks) {
    uint32x4_t acc[4 * kBlocks];
    for (auto& a : acc) a = vdupq_n_u32(0);
    for (int r = 0; r < nruns; ++r) {
      const Run& run = runs[r];
      const uint8_t* const* rp = rows + run.first;
      uint16x8_t sum[2 * kBlocks];
      for (auto& x : sum) x = vdupq_n_u16(0);
      for (int i = 0; i < run.count; ++i) {
        const uint8_t* row = rp[i] + k;
        for (int h = 0; h < kBlocks; ++h) {
          const uint8x16_t b = vld1q_u8(row + 16 * h);
          sum[2 * h] = vaddw_u8(sum[2 * h], vget_low_u8(b));
          sum[2 * h + 1] = vaddw_u8(sum[2 * h + 1], vget_high_u8(b));
        }
      }
      for (int h = 0; h < 2 * kBlocks; ++h) {
        acc[2 * h] = vmlal_n_u16(acc[2 * h], vget_low_u16(sum[h]), run.w);
        acc[2 * h + 1] = vmlal_n_u16(acc[2 * h + 1], vget_high_u16(sum[h]), run.w);
      }
    }
    for (int h = 0; h < kBlocks; ++h) {
      store_mean(m + k + 16 * h, acc[4 * h], acc[4 * h + 1], acc[4 * h + 2], acc[4 * h + 3], f);
    }
  }
  return k;
}

}  // namespace

void area_rowsum_neon(const uint8_t* const* rows, const int16_t* w, int nrows, int n, float fy, int16_t* m,
                      int32_t* col) {
  const float32x4_t f = vdupq_n_f32(fy);
  Run runs[kMaxRuns];
  int nruns = 0;
  int k = 0;
  if (make_runs(w, nrows, runs, nruns)) {
    k = rowsum_runs<2>(rows, runs, nruns, 0, n, f, m);
    k = rowsum_runs<1>(rows, runs, nruns, k, n, f, m);
  } else {
    for (; k + 16 <= n; k += 16) {  // footprints of more than kMaxRuns runs: row by row
      uint32x4_t a0 = vdupq_n_u32(0), a1 = a0, a2 = a0, a3 = a0;
      for (int i = 0; i < nrows; ++i) {
        const uint8x16_t b = vld1q_u8(rows[i] + k);
        const uint16_t wi = static_cast<uint16_t>(w[i]);
        const uint16x8_t lo = vmovl_u8(vget_low_u8(b)), hi = vmovl_u8(vget_high_u8(b));
        a0 = vmlal_n_u16(a0, vget_low_u16(lo), wi);
        a1 = vmlal_n_u16(a1, vget_high_u16(lo), wi);
        a2 = vmlal_n_u16(a2, vget_low_u16(hi), wi);
        a3 = vmlal_n_u16(a3, vget_high_u16(hi), wi);
      }
      store_mean(m + k, a0, a1, a2, a3, f);
    }
  }
  if (k < n) area_rowsum_ref_tail(rows, w, nrows, k, n, fy, m, col);
}

namespace {

// The scalar clamp's semantics exactly (v < lo ? lo : v, then v > hi ? hi : v): vmaxq / vminq would turn -0.0 into
// +0.0, which a float32 output would show.
inline float32x4_t clamp(float32x4_t v, float32x4_t lo, float32x4_t hi) {
  v = vbslq_f32(vcltq_f32(v, lo), lo, v);
  return vbslq_f32(vcgtq_f32(v, hi), hi, v);
}
inline float32x4_t mul(float32x4_t a, float k) { return vmulq_f32(a, vdupq_n_f32(k)); }

// The conversion of outputs d .. d + 3, the scalar's operations in the scalar's order (separate multiplies and
// adds: no vmla / vfma), then float32 stores interleaved by vst3q (RGB) or quantised as the scalar does.
void convert4(const AreaPlan& p, int32_t* const* t, int d, uint8_t* out) {
  const bool full = p.range == YuvRange::Full;
  const float32x4_t kx = vld1q_f32(p.kx.data() + d);
  float32x4_t a[3];
  for (int c = 0; c < p.nch; ++c) a[c] = vmulq_f32(vcvtq_f32_s32(vld1q_s32(t[c] + d)), kx);
  const float32x4_t zero = vdupq_n_f32(0.f), k255 = vdupq_n_f32(255.f);
  float32x4_t v[3];
  if (p.yuv) {
    const float32x4_t l = full ? a[0] : mul(vsubq_f32(a[0], vdupq_n_f32(kAreaLimited.yoff)), kAreaLimited.ky);
    if (p.gray_out) {
      v[0] = clamp(l, zero, k255);
    } else {
      const float32x4_t c128 = vdupq_n_f32(128.f);
      float32x4_t u = vsubq_f32(a[1], c128), vv = vsubq_f32(a[2], c128);
      if (!full) {
        u = mul(u, kAreaLimited.kc);
        vv = mul(vv, kAreaLimited.kc);
      }
      v[0] = clamp(vaddq_f32(l, mul(vv, kAreaLimited.kvr)), zero, k255);
      v[1] = clamp(vsubq_f32(vsubq_f32(l, mul(u, kAreaLimited.kug)), mul(vv, kAreaLimited.kvg)), zero, k255);
      v[2] = clamp(vaddq_f32(l, mul(u, kAreaLimited.kub)), zero, k255);
    }
  } else if (p.nch == 1) {
    v[0] = v[1] = v[2] = a[0];
  } else {
    if (p.format == PixelFormat::RGB565) {
      a[0] = mul(a[0], kArea5);
      a[1] = mul(a[1], kArea6);
      a[2] = mul(a[2], kArea5);
    }
    if (p.gray_out) {
      v[0] = vaddq_f32(vaddq_f32(mul(a[0], kAreaGr), mul(a[1], kAreaGg)), mul(a[2], kAreaGb));
    } else {
      v[0] = a[0];
      v[1] = a[1];
      v[2] = a[2];
    }
  }
  float32x4_t y[3];
  for (int j = 0; j < p.out_channels; ++j) y[j] = vaddq_f32(mul(v[p.perm[j]], p.mul[j]), vdupq_n_f32(p.add[j]));
  uint8_t* px = out + static_cast<size_t>(d) * p.pixel_bytes;
  if (p.type == OutputType::Float32) {
    if (p.out_channels == 3) {
      float32x4x3_t rgb;
      rgb.val[0] = y[0];
      rgb.val[1] = y[1];
      rgb.val[2] = y[2];
      vst3q_f32(reinterpret_cast<float*>(px), rgb);
    } else {
      vst1q_f32(reinterpret_cast<float*>(px), y[0]);
    }
    return;
  }
  const float32x4_t lo = vdupq_n_f32(p.lo), hi = vdupq_n_f32(p.hi);
  int32_t q[3][4];
  for (int j = 0; j < p.out_channels; ++j) vst1q_s32(q[j], vcvtnq_s32_f32(clamp(y[j], lo, hi)));
  for (int k = 0; k < 4; ++k, px += p.pixel_bytes) {
    for (int j = 0; j < p.out_channels; ++j) px[j] = static_cast<uint8_t>(q[j][k] & 0xff);
  }
}

}  // namespace

void area_finish_neon(const AreaPlan& p, int16_t* const* m, int32_t* const* t, uint8_t* out) {
  const int dw = p.dst.width;
  for (int c = 0; c < p.nch; ++c) {
    const AreaChannel& ch = p.ch[c];
    const int16_t* mp = m[ch.plane];
    if (ch.window < 0) {
      area_colsum_ref(p, c, mp, 0, dw, t[c]);
      continue;
    }
    const AreaWindow& wt = p.windows[ch.window];
    for (int d = 0; d < dw; ++d) {
      const int16_t* src = mp + ch.base[d];
      const int16_t* wd = wt.w.data() + static_cast<size_t>(d) * wt.win;
      int32x4_t acc = vdupq_n_s32(0);
      for (int i = 0; i < wt.win; i += 8) {
        const int16x8_t a = vld1q_s16(src + i), b = vld1q_s16(wd + i);
        acc = vmlal_s16(acc, vget_low_s16(a), vget_low_s16(b));
        acc = vmlal_high_s16(acc, a, b);
      }
      t[c][d] = vaddvq_s32(acc);
    }
  }
  int d = 0;
  for (; d + 4 <= dw; d += 4) convert4(p, t, d, out);
  if (d < dw) area_convert_ref(p, t, d, dw, out);
}

}  // namespace glassbridge::detail
