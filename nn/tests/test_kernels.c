/* The kernel sets (nn/src/kernels*.c): every set this build and CPU have must give exactly the plain C
 * reference's int32 sums, and the reference must equal a naive int64 computation written here. Random shapes with
 * odd lengths (every SIMD tail), odd alignments, strides wider than the rows, offsets over their whole range
 * [-127, 128] and its ends, data at the extremes -128 / 127, long rows whose sums approach what prepare allows.
 * Runs on the host (x86: sse41, avx2), under qemu-aarch64 (neon) and on the Cortex-M4F under QEMU (dsp). */
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "gbnn/isa.h"
#include "kernels.h"

static int failures;

#define CHECK(cond, ...)                                               \
  do {                                                                 \
    if (!(cond)) {                                                     \
      ++failures;                                                      \
      if (failures < 20) {                                             \
        fprintf(stderr, "%s:%d: FAILED %s: ", __FILE__, __LINE__, #cond); \
        fprintf(stderr, __VA_ARGS__);                                  \
        fprintf(stderr, "\n");                                         \
      }                                                                \
    }                                                                  \
  } while (0)

static uint32_t rng_state = 0x12345678u;
static uint32_t rnd(void) {
  uint32_t x = rng_state;
  x ^= x << 13;
  x ^= x >> 17;
  x ^= x << 5;
  rng_state = x;
  return x;
}
static int32_t rnd_range(int32_t lo, int32_t hi) { return lo + (int32_t)(rnd() % (uint32_t)(hi - lo + 1)); }

/* int8 data in one of four moods: uniform, all -128, all 127, only the two extremes. */
static void fill(int8_t *p, size_t n, int mood) {
  for (size_t i = 0; i < n; ++i) {
    switch (mood) {
      case 1: p[i] = -128; break;
      case 2: p[i] = 127; break;
      case 3: p[i] = (rnd() & 1) ? 127 : -128; break;
      default: p[i] = (int8_t)((int32_t)(rnd() & 0xFF) - 128); break;
    }
  }
}
static int32_t rnd_offset(void) {
  switch (rnd() % 6) {
    case 0: return -127;
    case 1: return 128;
    case 2: return 0;
    default: return rnd_range(-127, 128);
  }
}

#define MAX_OC 20
#define MAX_N 4100
#define MAX_DW 80

static int8_t xbuf[MAX_N + 64];
static int8_t fbuf[MAX_OC * (MAX_N + 24) + 64];
static int8_t dxbuf[5 * 5 * 3 * (MAX_DW + 8) * 2 + 64];
static int8_t dfbuf[5 * 5 * 3 * (MAX_DW + 8) * 2 + 64];

/* The reference itself against int64 arithmetic written out here, on a case small enough to check by hand too. */
static void test_reference(void) {
  const int8_t x[3] = {1, 2, 3}, f[6] = {4, 5, 6, -1, 0, 127};
  int32_t acc[2] = {10, -10};
  gbnn_kernels_ref.gemv(acc, x, f, 3, 3, 2, 1, 0); /* 4*2 + 5*3 + 6*4 = 47; -1*2 + 0 + 127*4 = 506 */
  CHECK(acc[0] == 57 && acc[1] == 496, "gemv by hand: %d %d", (int)acc[0], (int)acc[1]);
  int32_t acc2[1] = {0};
  gbnn_kernels_ref.gemv(acc2, x, f, 3, 3, 1, -1, 2); /* 6*0 + 7*1 + 8*2 = 23 */
  CHECK(acc2[0] == 23, "gemv with a filter offset by hand: %d", (int)acc2[0]);
  int32_t dacc[2] = {99, 99};
  /* two channels, taps_y 1, taps_x 2: x rows {1,2} {3,4} (x_xs 2), f {4,5} {6,7}; offset 1 */
  const int8_t dx[4] = {1, 2, 3, 4}, df[4] = {4, 5, 6, 7};
  gbnn_kernels_ref.dw(dacc, dx, 0, 2, df, 0, 2, 1, 2, 2, 1); /* c0: 4*2 + 6*4 = 32; c1: 5*3 + 7*5 = 50 */
  CHECK(dacc[0] == 32 && dacc[1] == 50, "dw by hand: %d %d", (int)dacc[0], (int)dacc[1]);
}

static void test_gemv(const gbnn_kernels *k, int cases) {
  int32_t acc_ref[MAX_OC], acc_k[MAX_OC];
  for (int t = 0; t < cases; ++t) {
    const int32_t n = (t % 10 == 0) ? rnd_range(1000, MAX_N) : rnd_range(0, 140);
    const int32_t n_oc = rnd_range(1, MAX_OC);
    const size_t stride = (size_t)n + (size_t)((rnd() & 1) ? rnd_range(0, 23) : 0);
    const size_t xa = rnd() % 16, fa = rnd() % 16;
    const int32_t x_off = rnd_offset();
    const int32_t f_off = (rnd() & 1) ? 0 : rnd_offset();
    const int mood = (int)(rnd() % 4);
    fill(xbuf + xa, (size_t)n, mood);
    fill(fbuf + fa, stride * (size_t)n_oc, (rnd() & 1) ? mood : (int)(rnd() % 4));
    int64_t want[MAX_OC];
    for (int32_t o = 0; o < n_oc; ++o) {
      acc_ref[o] = acc_k[o] = (int32_t)(rnd() % 2001) - 1000;
      int64_t s = acc_ref[o];
      for (int32_t i = 0; i < n; ++i) {
        s += ((int64_t)fbuf[fa + (size_t)o * stride + (size_t)i] + f_off) * ((int64_t)xbuf[xa + (size_t)i] + x_off);
      }
      want[o] = s;
    }
    gbnn_kernels_ref.gemv(acc_ref, xbuf + xa, fbuf + fa, n, stride, n_oc, x_off, f_off);
    k->gemv(acc_k, xbuf + xa, fbuf + fa, n, stride, n_oc, x_off, f_off);
    for (int32_t o = 0; o < n_oc; ++o) {
      CHECK(acc_ref[o] == want[o], "ref gemv n %d oc %d: %d vs int64 %lld", (int)n, (int)o, (int)acc_ref[o],
            (long long)want[o]);
      CHECK(acc_k[o] == acc_ref[o], "%s gemv n %d n_oc %d stride %u offsets %d %d oc %d: %d vs ref %d",
            gbnn_isa_name(k->isa), (int)n, (int)n_oc, (unsigned)stride, (int)x_off, (int)f_off, (int)o,
            (int)acc_k[o], (int)acc_ref[o]);
    }
  }
}

static void test_dw(const gbnn_kernels *k, int cases) {
  int32_t acc_ref[MAX_DW], acc_k[MAX_DW];
  for (int t = 0; t < cases; ++t) {
    const int32_t n = rnd_range(1, MAX_DW);
    const int32_t ty = rnd_range(1, 5), tx = rnd_range(1, 5);
    /* x: a pixel's channels, then the next tap along x (x_xs, possibly dilated), then rows (x_ys) */
    const size_t x_xs = (size_t)n + (size_t)((rnd() & 1) ? rnd_range(0, 9) : 0);
    const size_t x_ys = x_xs * (size_t)tx + (size_t)rnd_range(0, 7);
    const size_t f_xs = (size_t)n + (size_t)((rnd() & 1) ? rnd_range(0, 5) : 0);
    const size_t f_ys = f_xs * (size_t)tx + (size_t)rnd_range(0, 3);
    const size_t xa = rnd() % 16, fa = rnd() % 16;
    const int32_t x_off = rnd_offset();
    const int mood = (int)(rnd() % 4);
    fill(dxbuf + xa, x_ys * (size_t)ty, mood);
    fill(dfbuf + fa, f_ys * (size_t)ty, (rnd() & 1) ? mood : (int)(rnd() % 4));
    for (int32_t c = 0; c < n; ++c) {
      acc_ref[c] = acc_k[c] = 12345; /* overwritten */
    }
    gbnn_kernels_ref.dw(acc_ref, dxbuf + xa, x_ys, x_xs, dfbuf + fa, f_ys, f_xs, ty, tx, n, x_off);
    k->dw(acc_k, dxbuf + xa, x_ys, x_xs, dfbuf + fa, f_ys, f_xs, ty, tx, n, x_off);
    for (int32_t c = 0; c < n; ++c) {
      int64_t s = 0;
      for (int32_t y = 0; y < ty; ++y) {
        for (int32_t x = 0; x < tx; ++x) {
          s += (int64_t)dfbuf[fa + (size_t)y * f_ys + (size_t)x * f_xs + (size_t)c] *
               ((int64_t)dxbuf[xa + (size_t)y * x_ys + (size_t)x * x_xs + (size_t)c] + x_off);
        }
      }
      CHECK(acc_ref[c] == s, "ref dw c %d: %d vs int64 %lld", (int)c, (int)acc_ref[c], (long long)s);
      CHECK(acc_k[c] == acc_ref[c], "%s dw n %d taps %d x %d offset %d c %d: %d vs ref %d", gbnn_isa_name(k->isa),
            (int)n, (int)ty, (int)tx, (int)x_off, (int)c, (int)acc_k[c], (int)acc_ref[c]);
    }
  }
}

static int32_t rnd_acc(void) {
  switch (rnd() % 8) {
    case 0: return INT32_MIN;
    case 1: return INT32_MAX;
    case 2: return (int32_t)rnd(); /* anywhere */
    case 3: return rnd_range(-3, 3);
    default: return rnd_range(-2000000, 2000000);
  }
}

/* Requantisation: every multiplier form prepare allows (0, 2^30, 2^31 - 1, between), every shift in [-31, 30],
 * accumulators and biases over all of int32 (the bias add wraps), any offset and activation range. */
static void test_requant(const gbnn_kernels *k, int cases) {
  int32_t acc[MAX_DW], bias[MAX_DW], mult[MAX_DW], shift[MAX_DW];
  int8_t out_ref[MAX_DW], out_k[MAX_DW];
  for (int t = 0; t < cases; ++t) {
    const int32_t n = rnd_range(1, MAX_DW);
    const int use_bias = (int)(rnd() & 1);
    const int32_t shift_all = rnd_range(-31, 30); /* per-tensor or per-channel shifts */
    const int per_channel = (int)(rnd() & 1);
    for (int32_t i = 0; i < n; ++i) {
      acc[i] = rnd_acc();
      bias[i] = (rnd() % 4 == 0) ? rnd_acc() : rnd_range(-100000, 100000);
      switch (rnd() % 6) {
        case 0: mult[i] = 0; break;
        case 1: mult[i] = 1 << 30; break;
        case 2: mult[i] = INT32_MAX; break;
        default: mult[i] = (int32_t)((1u << 30) | (rnd() & 0x3FFFFFFFu)); break;
      }
      shift[i] = per_channel ? rnd_range(-31, 30) : shift_all;
      out_ref[i] = out_k[i] = 55;
    }
    const int32_t out_off = rnd_range(-128, 127);
    int32_t lo = rnd_range(-128, 127), hi = rnd_range(-128, 127);
    if (rnd() % 3 == 0) {
      lo = -128;
      hi = 127;
    }
    if (lo > hi) {
      const int32_t tmp = lo;
      lo = hi;
      hi = tmp;
    }
    gbnn_kernels_ref.requant(out_ref, acc, use_bias ? bias : NULL, mult, shift, n, out_off, lo, hi);
    k->requant(out_k, acc, use_bias ? bias : NULL, mult, shift, n, out_off, lo, hi);
    for (int32_t i = 0; i < n; ++i) {
      CHECK(out_k[i] == out_ref[i], "%s requant acc %d bias %d mult %d shift %d offset %d range [%d, %d]: %d vs ref %d",
            gbnn_isa_name(k->isa), (int)acc[i], use_bias ? (int)bias[i] : 0, (int)mult[i], (int)shift[i],
            (int)out_off, (int)lo, (int)hi, (int)out_k[i], (int)out_ref[i]);
    }
  }
}

static void test_switch(void) {
  CHECK(gbnn_isa_available(GBNN_ISA_REF), "ref always available");
  const gbnn_isa dflt = gbnn_get_isa();
  CHECK(gbnn_isa_available(dflt), "default %s available", gbnn_isa_name(dflt));
  CHECK(gbnn_set_isa(GBNN_ISA_REF) == 1 && gbnn_get_isa() == GBNN_ISA_REF &&
            gbnn_kernels_current() == &gbnn_kernels_ref,
        "set ref");
  CHECK(gbnn_set_isa((gbnn_isa)99) == 0 && gbnn_get_isa() == GBNN_ISA_REF, "unknown set refused, nothing changed");
  for (int i = 0; i < GBNN_ISA_COUNT; ++i) {
    if (!gbnn_isa_available((gbnn_isa)i)) {
      CHECK(gbnn_set_isa((gbnn_isa)i) == 0, "%s is not available and cannot be set", gbnn_isa_name((gbnn_isa)i));
    }
  }
  CHECK(gbnn_set_isa(GBNN_ISA_AUTO) == 1 && gbnn_get_isa() == dflt, "auto restores %s", gbnn_isa_name(dflt));
  CHECK(strcmp(gbnn_isa_name(GBNN_ISA_DSP), "dsp") == 0 && strcmp(gbnn_isa_name((gbnn_isa)7), "?") == 0, "names");
}

int main(void) {
  test_reference();
  test_switch();
  /* the plain C fast requantisation, which sets without a vector one use: checked on every target */
  gbnn_kernels scalar = gbnn_kernels_ref;
  scalar.requant = gbnn_requant_scalar;
  test_requant(&scalar, 6000);
  printf("gbnn_requant_scalar: 6000 cases identical to ref\n");
  int sets = 0;
  for (int i = 0; i < GBNN_ISA_COUNT; ++i) {
    const gbnn_kernels *k = gbnn_kernels_for((gbnn_isa)i);
    if (k == NULL) {
      continue;
    }
    CHECK(k->isa == (gbnn_isa)i, "table of %s says %s", gbnn_isa_name((gbnn_isa)i), gbnn_isa_name(k->isa));
    test_gemv(k, 1500);
    test_dw(k, 1500);
    test_requant(k, 3000);
    printf("kernels %s: 1500 gemv, 1500 depthwise and 3000 requantisation cases%s\n", gbnn_isa_name(k->isa),
           i == GBNN_ISA_REF ? " (gemv, depthwise against int64)" : " identical to ref");
    ++sets;
  }
  printf("default set: %s; %d set(s) tested\n", gbnn_isa_name(gbnn_get_isa()), sets);
  if (failures) {
    fprintf(stderr, "%d failures\n", failures);
    return 1;
  }
  return 0;
}
