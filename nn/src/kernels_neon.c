/* The kernels with AArch64 Advanced SIMD: int8 widened to int16 (sxtl), offsets added in int16 (exact), smlal /
 * smlal2 into int32 lanes. No sdot (Cortex-A53 lacks it). Empty where GBNN_HAVE_NEON is not defined. */
#include "kernels.h"

#if defined(GBNN_HAVE_NEON)
#include <arm_neon.h>

static inline int32x4_t mac8(int32x4_t a, int16x8_t xv, const int8_t *fp, int16x8_t fo) {
  const int16x8_t fv = vaddq_s16(vmovl_s8(vld1_s8(fp)), fo);
  a = vmlal_s16(a, vget_low_s16(xv), vget_low_s16(fv));
  return vmlal_high_s16(a, xv, fv);
}

static void gemv_neon(int32_t *acc, const int8_t *x, const int8_t *f, int32_t n, size_t f_stride, int32_t n_oc,
                      int32_t x_off, int32_t f_off) {
  const int16x8_t xo = vdupq_n_s16((int16_t)x_off);
  const int16x8_t fo = vdupq_n_s16((int16_t)f_off);
  const int32_t n8 = n & ~7;
  int32_t o = 0;
  for (; o + 4 <= n_oc; o += 4) {
    const int8_t *f0 = f + (size_t)o * f_stride;
    const int8_t *f1 = f0 + f_stride;
    const int8_t *f2 = f1 + f_stride;
    const int8_t *f3 = f2 + f_stride;
    int32x4_t a0 = vdupq_n_s32(0), a1 = a0, a2 = a0, a3 = a0;
    for (int32_t i = 0; i < n8; i += 8) {
      const int16x8_t xv = vaddq_s16(vmovl_s8(vld1_s8(x + i)), xo);
      a0 = mac8(a0, xv, f0 + i, fo);
      a1 = mac8(a1, xv, f1 + i, fo);
      a2 = mac8(a2, xv, f2 + i, fo);
      a3 = mac8(a3, xv, f3 + i, fo);
    }
    acc[o] += vaddvq_s32(a0) + gbnn_dot_tail(x, f0, n8, n, x_off, f_off);
    acc[o + 1] += vaddvq_s32(a1) + gbnn_dot_tail(x, f1, n8, n, x_off, f_off);
    acc[o + 2] += vaddvq_s32(a2) + gbnn_dot_tail(x, f2, n8, n, x_off, f_off);
    acc[o + 3] += vaddvq_s32(a3) + gbnn_dot_tail(x, f3, n8, n, x_off, f_off);
  }
  for (; o < n_oc; ++o) {
    const int8_t *f0 = f + (size_t)o * f_stride;
    int32x4_t a0 = vdupq_n_s32(0);
    for (int32_t i = 0; i < n8; i += 8) {
      a0 = mac8(a0, vaddq_s16(vmovl_s8(vld1_s8(x + i)), xo), f0 + i, fo);
    }
    acc[o] += vaddvq_s32(a0) + gbnn_dot_tail(x, f0, n8, n, x_off, f_off);
  }
}

static void dw_neon(int32_t *acc, const int8_t *x, size_t x_ys, size_t x_xs, const int8_t *f, size_t f_ys,
                    size_t f_xs, int32_t taps_y, int32_t taps_x, int32_t n, int32_t x_off) {
  const int16x8_t xo = vdupq_n_s16((int16_t)x_off);
  int32_t c = 0;
  for (; c + 8 <= n; c += 8) {
    int32x4_t lo = vdupq_n_s32(0), hi = lo;
    for (int32_t ty = 0; ty < taps_y; ++ty) {
      const int8_t *xr = x + (size_t)ty * x_ys + c;
      const int8_t *fr = f + (size_t)ty * f_ys + c;
      for (int32_t tx = 0; tx < taps_x; ++tx) {
        const int16x8_t xv = vaddq_s16(vmovl_s8(vld1_s8(xr + (size_t)tx * x_xs)), xo);
        const int16x8_t fv = vmovl_s8(vld1_s8(fr + (size_t)tx * f_xs));
        lo = vmlal_s16(lo, vget_low_s16(xv), vget_low_s16(fv));
        hi = vmlal_high_s16(hi, xv, fv);
      }
    }
    vst1q_s32(acc + c, lo);
    vst1q_s32(acc + c + 4, hi);
  }
  gbnn_dw_tail(acc, x, x_ys, x_xs, f, f_ys, f_xs, taps_y, taps_x, c, n, x_off);
}

const gbnn_kernels gbnn_kernels_neon = {GBNN_ISA_NEON, gemv_neon, dw_neon, gbnn_requant_scalar};
#else
typedef int gbnn_kernels_neon_not_built; /* keeps the translation unit non-empty */
#endif
