/* The inner loops of CONV_2D, DEPTHWISE_CONV_2D and FULLY_CONNECTED, one table per instruction set. Each variant
 * computes exactly what the plain C reference (kernels_ref.c) computes: integer sums whose every partial sum the
 * ops' prepare bounds within int32, so the order of additions cannot change a result. Offsets are -zero_point of
 * an int8 tensor, in [-127, 128], so (value + offset) fits int16 and |filter * (input + offset)| <= 32,640.
 * Not a public header (the public side is gbnn/isa.h). */
#ifndef GBNN_KERNELS_H
#define GBNN_KERNELS_H

#include <stddef.h>
#include <stdint.h>

#include "gbnn/isa.h"

/* acc[o] += sum_{i < n} (f[o * f_stride + i] + f_off) * (x[i] + x_off), for o < n_oc.
 * A conv's filter rows against one input run (f_off 0), or a fully connected layer. */
typedef void (*gbnn_gemv_fn)(int32_t *acc, const int8_t *x, const int8_t *f, int32_t n, size_t f_stride,
                             int32_t n_oc, int32_t x_off, int32_t f_off);

/* One output pixel of a depthwise conv with depth multiplier 1, channels c < n (acc is overwritten):
 * acc[c] = sum_{ty < taps_y, tx < taps_x} f[ty * f_ys + tx * f_xs + c] * (x[ty * x_ys + tx * x_xs + c] + x_off). */
typedef void (*gbnn_dw_fn)(int32_t *acc, const int8_t *x, size_t x_ys, size_t x_xs, const int8_t *f, size_t f_ys,
                           size_t f_xs, int32_t taps_y, int32_t taps_x, int32_t n, int32_t x_off);

/* Requantisation of n accumulators to int8, per output channel i < n: out[i] = clamp(MultiplyByQuantizedMultiplier(
 * acc[i] + bias[i] (wrapping; bias NULL: none), mult[i], shift[i]) + out_off, act_min, act_max), exactly
 * gbnn_requant_s8 (quant.h). mult[i] is 0 or in [2^30, 2^31) and -31 <= shift[i] <= 30, as prepare ensures. */
typedef void (*gbnn_requant_fn)(int8_t *out, const int32_t *acc, const int32_t *bias, const int32_t *mult,
                                const int32_t *shift, int32_t n, int32_t out_off, int32_t act_min, int32_t act_max);

typedef struct gbnn_kernels {
  gbnn_isa isa;
  gbnn_gemv_fn gemv;
  gbnn_dw_fn dw;
  gbnn_requant_fn requant;
} gbnn_kernels;

/* The scalar ends the SIMD and DSP sets finish with (inline: the sets call them on every output channel or pixel).
 * gbnn_dot_tail: sum_{i <= k < n} (f[k] + f_off) * (x[k] + x_off), the elements after the last whole vector.
 * gbnn_dw_tail: the depthwise pixel (gbnn_dw_fn) for channels c0 <= c < n, after the last whole vector. */
static inline int32_t gbnn_dot_tail(const int8_t *x, const int8_t *f, int32_t i, int32_t n, int32_t x_off,
                                    int32_t f_off) {
  int32_t sum = 0;
  for (; i < n; ++i) {
    sum += ((int32_t)f[i] + f_off) * ((int32_t)x[i] + x_off);
  }
  return sum;
}

static inline void gbnn_dw_tail(int32_t *acc, const int8_t *x, size_t x_ys, size_t x_xs, const int8_t *f,
                                size_t f_ys, size_t f_xs, int32_t taps_y, int32_t taps_x, int32_t c0, int32_t n,
                                int32_t x_off) {
  for (int32_t c = c0; c < n; ++c) {
    int32_t sum = 0;
    for (int32_t ty = 0; ty < taps_y; ++ty) {
      for (int32_t tx = 0; tx < taps_x; ++tx) {
        const size_t xi = (size_t)ty * x_ys + (size_t)tx * x_xs + (size_t)c;
        const size_t fi = (size_t)ty * f_ys + (size_t)tx * f_xs + (size_t)c;
        sum += (int32_t)f[fi] * ((int32_t)x[xi] + x_off);
      }
    }
    acc[c] = sum;
  }
}

/* The reference requantisation (quant.h's gbnn_requant_s8 per element). */
void gbnn_requant_ref(int8_t *out, const int32_t *acc, const int32_t *bias, const int32_t *mult, const int32_t *shift,
                      int32_t n, int32_t out_off, int32_t act_min, int32_t act_max);
/* The same in fewer instructions, plain C (kernels_ref.c): the sets without a vector requantisation use it. */
void gbnn_requant_scalar(int8_t *out, const int32_t *acc, const int32_t *bias, const int32_t *mult,
                         const int32_t *shift, int32_t n, int32_t out_off, int32_t act_min, int32_t act_max);

/* The table gbnn_open() should bake into the ops it prepares (gbnn_get_isa()'s set). */
const gbnn_kernels *gbnn_kernels_current(void);
/* The table of one set, or NULL when this build or CPU lacks it. */
const gbnn_kernels *gbnn_kernels_for(gbnn_isa isa);

/* The per-set tables (each defined only where its file is built). */
extern const gbnn_kernels gbnn_kernels_ref;
extern const gbnn_kernels gbnn_kernels_sse41;
extern const gbnn_kernels gbnn_kernels_avx2;
extern const gbnn_kernels gbnn_kernels_neon;
extern const gbnn_kernels gbnn_kernels_dsp;

#endif
