/* The kernels with the Arm v7E-M DSP extension (Cortex-M4F): four int8 at a time from one 32-bit load, SXTAB16
 * adding the offset while widening bytes 0 and 2 (and, rotated by 8, bytes 1 and 3) to int16 pairs (exact: at most
 * 255 in magnitude), SMLAD for two products per instruction (each pair sum at most 2 x 65,025), SMLABB / SMLATT for
 * the depthwise channels. Built wherever the compiler defines __ARM_FEATURE_DSP; empty elsewhere. */
#include "kernels.h"

#if defined(__ARM_FEATURE_DSP)
#include <arm_acle.h>
#include <string.h>

static inline int32_t load4(const int8_t *p) {
  int32_t v;
  memcpy(&v, p, sizeof v); /* LDR: the M4 loads unaligned words */
  return v;
}
/* Bytes 1 and 3 of b, sign-extended, plus the int16 pair a: SXTAB16 with its ROR #8 operand (GCC 12's arm_acle.h
 * has no __ror, and a C rotate costs a separate instruction). */
static inline int32_t sxtab16_ror8(int32_t a, int32_t b) {
  int32_t r;
  __asm__("sxtab16 %0, %1, %2, ror #8" : "=r"(r) : "r"(a), "r"(b));
  return r;
}
static inline int32_t sxtb16_ror8(int32_t b) {
  int32_t r;
  __asm__("sxtb16 %0, %1, ror #8" : "=r"(r) : "r"(b));
  return r;
}
static inline int32_t pair(int32_t v) { return (int32_t)(((uint32_t)v & 0xFFFFu) * 0x00010001u); }

/* Two output channels sharing each widened input word, pointers stepped; not inlined, so that its loop has the
 * registers to itself (no spills at -Os). */
__attribute__((noinline)) static void gemv2_nofoff(const int8_t *x, const int8_t *p0, const int8_t *p1,
                                                   int32_t n4, int32_t xo, int32_t *s0, int32_t *s1) {
  const int8_t *const end = x + n4;
  int32_t a0 = 0, a1 = 0;
  while (x < end) {
    const int32_t xw = load4(x);
    x += 4;
    const int32_t xe = __sxtab16(xo, xw);
    const int32_t xd = sxtab16_ror8(xo, xw);
    const int32_t w0 = load4(p0);
    p0 += 4;
    a0 = __smlad(__sxtb16(w0), xe, a0);
    a0 = __smlad(sxtb16_ror8(w0), xd, a0);
    const int32_t w1 = load4(p1);
    p1 += 4;
    a1 = __smlad(__sxtb16(w1), xe, a1);
    a1 = __smlad(sxtb16_ror8(w1), xd, a1);
  }
  *s0 = a0;
  *s1 = a1;
}

__attribute__((noinline)) static int32_t gemv1(const int8_t *x, const int8_t *p0, int32_t n4, int32_t xo, int32_t fo) {
  const int8_t *const end = x + n4;
  int32_t a0 = 0;
  while (x < end) {
    const int32_t xw = load4(x);
    x += 4;
    const int32_t w0 = load4(p0);
    p0 += 4;
    a0 = __smlad(__sxtab16(fo, w0), __sxtab16(xo, xw), a0);
    a0 = __smlad(sxtab16_ror8(fo, w0), sxtab16_ror8(xo, xw), a0);
  }
  return a0;
}

static void gemv_dsp(int32_t *acc, const int8_t *x, const int8_t *f, int32_t n, size_t f_stride, int32_t n_oc,
                     int32_t x_off, int32_t f_off) {
  const int32_t xo = pair(x_off);
  const int32_t fo = pair(f_off);
  const int32_t n4 = n & ~3;
  int32_t o = 0;
  if (f_off == 0) { /* every conv; fully connected layers with a per-channel or zero-point-0 filter */
    for (; o + 2 <= n_oc; o += 2) {
      const int8_t *f0 = f + (size_t)o * f_stride;
      const int8_t *f1 = f0 + f_stride;
      int32_t a0, a1;
      gemv2_nofoff(x, f0, f1, n4, xo, &a0, &a1);
      acc[o] += a0 + gbnn_dot_tail(x, f0, n4, n, x_off, 0);
      acc[o + 1] += a1 + gbnn_dot_tail(x, f1, n4, n, x_off, 0);
    }
  }
  for (; o < n_oc; ++o) {
    const int8_t *f0 = f + (size_t)o * f_stride;
    acc[o] += gemv1(x, f0, n4, xo, fo) + gbnn_dot_tail(x, f0, n4, n, x_off, f_off);
  }
}

/* Four depthwise channels along one run of taps (x and f stepped by their strides), into a[0..3]. Not inlined,
 * and the even pair finished before the odd one starts, so the loop's values fit the registers at -Os. */
__attribute__((noinline)) static void dw4_run(int32_t *a, const int8_t *x, size_t x_step, const int8_t *f,
                                              size_t f_step, int32_t count, int32_t xo) {
  int32_t a0 = a[0], a1 = a[1], a2 = a[2], a3 = a[3];
  for (; count > 0; --count) {
    const int32_t xw = load4(x);
    const int32_t fw = load4(f);
    x += x_step;
    f += f_step;
    const int32_t xe = __sxtab16(xo, xw); /* channels c, c + 2 */
    const int32_t fe = __sxtb16(fw);
    a0 = __smlabb(fe, xe, a0);
    a2 = __smlatt(fe, xe, a2);
    const int32_t xd = sxtab16_ror8(xo, xw); /* channels c + 1, c + 3 */
    const int32_t fd = sxtb16_ror8(fw);
    a1 = __smlabb(fd, xd, a1);
    a3 = __smlatt(fd, xd, a3);
  }
  a[0] = a0;
  a[1] = a1;
  a[2] = a2;
  a[3] = a3;
}

static void dw_dsp(int32_t *acc, const int8_t *x, size_t x_ys, size_t x_xs, const int8_t *f, size_t f_ys,
                   size_t f_xs, int32_t taps_y, int32_t taps_x, int32_t n, int32_t x_off) {
  const int32_t xo = pair(x_off);
  int32_t c = 0;
  for (; c + 4 <= n; c += 4) {
    int32_t *a = acc + c;
    a[0] = a[1] = a[2] = a[3] = 0;
    if (taps_x == 1) { /* a column of taps (okay_nabu's [1, k, 1, C] filters): one run */
      dw4_run(a, x + c, x_ys, f + c, f_ys, taps_y, xo);
      continue;
    }
    for (int32_t ty = 0; ty < taps_y; ++ty) {
      dw4_run(a, x + (size_t)ty * x_ys + c, x_xs, f + (size_t)ty * f_ys + c, f_xs, taps_x, xo);
    }
  }
  gbnn_dw_tail(acc, x, x_ys, x_xs, f, f_ys, f_xs, taps_y, taps_x, c, n, x_off);
}

const gbnn_kernels gbnn_kernels_dsp = {GBNN_ISA_DSP, gemv_dsp, dw_dsp, gbnn_requant_scalar};
#else
typedef int gbnn_kernels_dsp_not_built; /* keeps the translation unit non-empty */
#endif
