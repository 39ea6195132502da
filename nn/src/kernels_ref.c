/* The plain C kernels: the reference every other set must equal (kernels.h states the contract). */
#include "kernels.h"
#include "quant.h"

static void gemv_ref(int32_t *acc, const int8_t *x, const int8_t *f, int32_t n, size_t f_stride, int32_t n_oc,
                     int32_t x_off, int32_t f_off) {
  for (int32_t o = 0; o < n_oc; ++o) {
    const int8_t *fo = f + (size_t)o * f_stride;
    int32_t sum = 0;
    for (int32_t i = 0; i < n; ++i) {
      sum += ((int32_t)fo[i] + f_off) * ((int32_t)x[i] + x_off);
    }
    acc[o] += sum;
  }
}

static void dw_ref(int32_t *acc, const int8_t *x, size_t x_ys, size_t x_xs, const int8_t *f, size_t f_ys,
                   size_t f_xs, int32_t taps_y, int32_t taps_x, int32_t n, int32_t x_off) {
  for (int32_t c = 0; c < n; ++c) {
    acc[c] = 0;
  }
  for (int32_t ty = 0; ty < taps_y; ++ty) {
    for (int32_t tx = 0; tx < taps_x; ++tx) {
      const int8_t *xt = x + (size_t)ty * x_ys + (size_t)tx * x_xs;
      const int8_t *ft = f + (size_t)ty * f_ys + (size_t)tx * f_xs;
      for (int32_t c = 0; c < n; ++c) {
        acc[c] += (int32_t)ft[c] * ((int32_t)xt[c] + x_off);
      }
    }
  }
}

void gbnn_requant_ref(int8_t *out, const int32_t *acc, const int32_t *bias, const int32_t *mult, const int32_t *shift,
                      int32_t n, int32_t out_off, int32_t act_min, int32_t act_max) {
  for (int32_t i = 0; i < n; ++i) {
    const int32_t total = bias != NULL ? gbnn_wrap_add(acc[i], bias[i]) : acc[i];
    out[i] = gbnn_requant_s8(total, mult[i], shift[i], out_off, act_min, act_max);
  }
}

/* gbnn_requant_s8 rewritten for speed, with the same results: the multiplier is never INT32_MIN (prepare), so
 * SaturatingRoundingDoublingHighMul never saturates, and its round-then-truncate equals floor((a * b + 2^30) / 2^31)
 * for either sign: the low 32 bits of the 64-bit sum shifted right by 31 (logically: the bits above do not matter).
 * One 32 x 32 -> 64 multiply (SMULL on the Cortex-M4), no 64-bit division. RoundingDivideByPOT as quant.h. */
void gbnn_requant_scalar(int8_t *out, const int32_t *acc, const int32_t *bias, const int32_t *mult,
                         const int32_t *shift, int32_t n, int32_t out_off, int32_t act_min, int32_t act_max) {
  for (int32_t i = 0; i < n; ++i) {
    const int32_t x = bias != NULL ? gbnn_wrap_add(acc[i], bias[i]) : acc[i];
    const int32_t s = shift[i];
    const int left = s > 0 ? (int)s : 0;
    const int right = s > 0 ? 0 : (int)-s;
    const int64_t ab = (int64_t)gbnn_wrap_shl(x, left) * (int64_t)mult[i];
    const int32_t y = (int32_t)(uint32_t)((uint64_t)(ab + ((int64_t)1 << 30)) >> 31);
    const int32_t mask = (int32_t)(((uint32_t)1 << right) - 1u);
    const int32_t threshold = (mask >> 1) + (y < 0 ? 1 : 0);
    const int32_t q = (y >> right) + ((y & mask) > threshold ? 1 : 0);
    out[i] = (int8_t)gbnn_clamp(gbnn_wrap_add(q, out_off), act_min, act_max);
  }
}

const gbnn_kernels gbnn_kernels_ref = {GBNN_ISA_REF, gemv_ref, dw_ref, gbnn_requant_ref};
