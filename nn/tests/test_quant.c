/* The fixed-point primitives of quant.h against definitions written here independently: exact integer arithmetic
 * (64-bit products and floor division) or double precision for the rounding steps, and the real
 * functions (exp, 1/(1+x), logistic) within the accuracy gemmlowp's approximations reach. The ops' bit-exactness
 * against TFLM is tested in tests/nn/test_ops_random.py; this test pins the building blocks. */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include "quant.h"

static int failures = 0;

#define CHECK(cond, ...)                  \
  do {                                    \
    if (!(cond)) {                        \
      if (failures < 20) {                \
        printf("FAIL %s:%d: ", __FILE__, __LINE__); \
        printf(__VA_ARGS__);              \
        printf("\n");                     \
      }                                   \
      ++failures;                         \
    }                                     \
  } while (0)

/* A small deterministic generator (xorshift64*). */
static uint64_t rng_state = 0x9E3779B97F4A7C15ull;
static uint32_t rnd32(void) {
  rng_state ^= rng_state >> 12;
  rng_state ^= rng_state << 25;
  rng_state ^= rng_state >> 27;
  return (uint32_t)((rng_state * 0x2545F4914F6CDD1Dull) >> 32);
}
/* Random int32 with a random magnitude (so small values and the extremes both occur). */
static int32_t rnd_i32(void) {
  const int bits = (int)(rnd32() % 32u);
  int64_t v = (int64_t)(rnd32() & (bits == 31 ? 0x7fffffffu : ((1u << bits) - 1u)));
  if (rnd32() & 1u) {
    v = -v - (int64_t)(rnd32() & 1u);
  }
  return (int32_t)v;
}

static int64_t floor_div(int64_t a, int64_t b) { /* b > 0 */
  int64_t q = a / b;
  if ((a % b) != 0 && a < 0) {
    --q;
  }
  return q;
}

/* round(a * b / 2^31), ties toward +infinity, saturating the single overflow. */
static int32_t ref_srdhm(int32_t a, int32_t b) {
  if (a == INT32_MIN && b == INT32_MIN) {
    return INT32_MAX;
  }
  const int64_t p = (int64_t)a * (int64_t)b;
  return (int32_t)floor_div(p + ((int64_t)1 << 30), (int64_t)1 << 31);
}

/* x / 2^e rounded to nearest, ties away from zero (exact in double: x has 32 bits, the divisor is a power of 2). */
static int32_t ref_rdivpot(int32_t x, int e) { return (int32_t)round(ldexp((double)x, -e)); }

static void test_srdhm(void) {
  CHECK(gbnn_srdhm(INT32_MIN, INT32_MIN) == INT32_MAX, "MIN*MIN saturates");
  CHECK(gbnn_srdhm(1 << 30, 1 << 30) == 1 << 29, "0.5*0.5");
  CHECK(gbnn_srdhm(-(1 << 30), 1) == 0, "-2^30 * 1 / 2^31 = -0.5 rounds up to 0");
  CHECK(gbnn_srdhm(1 << 30, 1) == 1, "2^30 * 1 / 2^31 = 0.5 rounds up to 1");
  for (int i = 0; i < 200000; ++i) {
    const int32_t a = rnd_i32();
    const int32_t b = rnd_i32();
    CHECK(gbnn_srdhm(a, b) == ref_srdhm(a, b), "srdhm(%d, %d) = %d, expected %d", (int)a, (int)b,
          (int)gbnn_srdhm(a, b), (int)ref_srdhm(a, b));
  }
}

static void test_rdivpot(void) {
  CHECK(gbnn_rdivpot(3, 1) == 2 && gbnn_rdivpot(-3, 1) == -2, "ties away from zero");
  CHECK(gbnn_rdivpot(INT32_MIN, 31) == -1 && gbnn_rdivpot(INT32_MAX, 31) == 1, "exponent 31");
  for (int i = 0; i < 200000; ++i) {
    const int32_t x = rnd_i32();
    const int e = (int)(rnd32() % 32u);
    CHECK(gbnn_rdivpot(x, e) == ref_rdivpot(x, e), "rdivpot(%d, %d) = %d, expected %d", (int)x, e,
          (int)gbnn_rdivpot(x, e), (int)ref_rdivpot(x, e));
  }
}

/* MultiplyByQuantizedMultiplier's definition: x * 2^left (wrapping to 32 bits), the doubling high product rounded
 * half up, then divided by 2^right rounded half away from zero: floor division in 64 bits, then double. */
static int32_t ref_mul_by_qm(int32_t x, int32_t m, int32_t shift) {
  const int left = shift > 0 ? (int)shift : 0;
  const int right = shift > 0 ? 0 : (int)-shift;
  const int32_t shifted = (int32_t)(uint32_t)((uint64_t)(uint32_t)x << left);
  const int32_t q = (int32_t)floor_div((int64_t)shifted * (int64_t)m + ((int64_t)1 << 30), (int64_t)1 << 31);
  const int32_t high = (shifted == INT32_MIN && m == INT32_MIN) ? INT32_MAX : q;
  return ref_rdivpot(high, right);
}

static void test_mul_by_qm(void) {
  for (int i = 0; i < 200000; ++i) {
    const int32_t x = rnd_i32();
    const int32_t m = (int32_t)(0x40000000u | (rnd32() & 0x3fffffffu));
    const int32_t shift = (int32_t)(rnd32() % 62u) - 31;
    CHECK(gbnn_mul_by_qm(x, m, shift) == ref_mul_by_qm(x, m, shift), "mul_by_qm(%d, %d, %d) = %d, expected %d",
          (int)x, (int)m, (int)shift, (int)gbnn_mul_by_qm(x, m, shift), (int)ref_mul_by_qm(x, m, shift));
  }
  /* A multiplier of 0.5 with shift 0 halves, rounding ties away from zero. */
  CHECK(gbnn_mul_by_qm(5, 1 << 30, 0) == 3 && gbnn_mul_by_qm(-5, 1 << 30, 0) == -2,
        "0.5 x 5 -> 3 (double rounding: half up, then exact), 0.5 x -5 -> -2");
}

static void test_quantize_multiplier(void) {
  int32_t m = 0;
  int32_t s = 0;
  gbnn_quantize_multiplier(0.0, &m, &s);
  CHECK(m == 0 && s == 0, "zero");
  gbnn_quantize_multiplier(1.0, &m, &s);
  CHECK(m == 1 << 30 && s == 1, "1.0 = 2^30 * 2^(1-31)");
  gbnn_quantize_multiplier(ldexp(1.0, -40), &m, &s);
  CHECK(m == 0 && s == 0, "below 2^-32 flushes to zero");
  /* Just below 1.0: the mantissa rounds up to 2^31 and is renormalised. */
  gbnn_quantize_multiplier(1.0 - ldexp(1.0, -40), &m, &s);
  CHECK(m == 1 << 30 && s == 1, "renormalised after rounding up (%d, %d)", (int)m, (int)s);
  for (int i = 0; i < 100000; ++i) {
    const double real = ldexp((double)(rnd32() | 1u) / 4294967296.0, (int)(rnd32() % 60u) - 40);
    gbnn_quantize_multiplier(real, &m, &s);
    if (m == 0) {
      CHECK(real < ldexp(1.0, -32), "flushed %g", real);
      continue;
    }
    CHECK(m >= (1 << 30), "normalised multiplier %d", (int)m);
    /* Nearest: |m * 2^(s-31) - real| <= half a unit of the multiplier's last place. */
    const double back = ldexp((double)m, (int)s - 31);
    CHECK(fabs(back - real) <= ldexp(0.5, (int)s - 31) * (1.0 + 1e-12), "quantize_multiplier(%g) = %d, %d", real,
          (int)m, (int)s);
  }
}

static void test_sat_shl_and_clz(void) {
  CHECK(gbnn_sat_shl(1 << 29, 1) == 1 << 30, "in range");
  CHECK(gbnn_sat_shl(1 << 30, 1) == INT32_MAX, "saturates up");
  CHECK(gbnn_sat_shl(-(1 << 30) - 1, 1) == INT32_MIN, "saturates down");
  CHECK(gbnn_clz32(0) == 32 && gbnn_clz32(1) == 31 && gbnn_clz32(0x80000000u) == 0, "clz");
  for (int i = 0; i < 10000; ++i) {
    const uint32_t x = rnd32() >> (rnd32() % 32u);
    int expected = 32;
    for (int b = 31; b >= 0; --b) {
      if (x & (1u << b)) {
        expected = 31 - b;
        break;
      }
    }
    CHECK(gbnn_clz32(x) == expected, "clz(%u)", (unsigned)x);
  }
}

/* The fixed-point functions against the real ones. gemmlowp's are accurate to a few units of 2^-31 for exp's
 * polynomial and Newton's division; the bounds below leave room for the rounding of the Q4/Q5 input. */
static void test_fixed_point_functions(void) {
  CHECK(gbnn_exp_on_negative_values(0, 5) == INT32_MAX, "exp(0) = 1");
  CHECK(gbnn_logistic_q4(0) == 1 << 30, "logistic(0) = 1/2");
  double worst_exp = 0.0;
  double worst_recip = 0.0;
  double worst_logistic = 0.0;
  for (int i = 0; i < 20000; ++i) {
    /* exp on Q5.26 inputs in [-32, 0]. */
    const int32_t a5 = -(int32_t)(rnd32() % (32u << 26));
    const double e = (double)gbnn_exp_on_negative_values(a5, 5) / 2147483648.0;
    const double err = fabs(e - exp(ldexp((double)a5, -26)));
    worst_exp = err > worst_exp ? err : worst_exp;
    /* exp on Q4.27 inputs in [-16, 0]. */
    const int32_t a4 = -(int32_t)(rnd32() % (16u << 27));
    const double e4 = (double)gbnn_exp_on_negative_values(a4, 4) / 2147483648.0;
    const double err4 = fabs(e4 - exp(ldexp((double)a4, -27)));
    worst_exp = err4 > worst_exp ? err4 : worst_exp;
    /* 1 / (1 + x) for x in [0, 1). */
    const int32_t x = (int32_t)(rnd32() & 0x7fffffffu);
    const double r = (double)gbnn_one_over_one_plus_x(x) / 2147483648.0;
    const double err_r = fabs(r - 1.0 / (1.0 + ldexp((double)x, -31)));
    worst_recip = err_r > worst_recip ? err_r : worst_recip;
    /* logistic on Q4.27 inputs: all of [-16, 16). */
    const int32_t l = (int32_t)rnd32();
    const double g = (double)gbnn_logistic_q4(l) / 2147483648.0;
    const double err_l = fabs(g - 1.0 / (1.0 + exp(-ldexp((double)l, -27))));
    worst_logistic = err_l > worst_logistic ? err_l : worst_logistic;
  }
  CHECK(worst_exp < 5e-7, "exp error %g", worst_exp);
  CHECK(worst_recip < 2e-8, "1/(1+x) error %g", worst_recip);
  CHECK(worst_logistic < 2e-7, "logistic error %g", worst_logistic);
  /* The reciprocal: x in Q12 -> a Q0 scale and the bits over one, so that x * scale * 2^-bits ~= 1. */
  for (int i = 0; i < 20000; ++i) {
    const int32_t x = (int32_t)(rnd32() % 0x7fffffffu) + 1;
    int bits = 0;
    const int32_t scale = gbnn_reciprocal(x, 12, &bits);
    const double product = ldexp((double)x, -19) * ((double)scale / 2147483648.0) * ldexp(1.0, -bits);
    CHECK(fabs(product - 1.0) < 1e-6, "reciprocal(%d) = %d, %d", (int)x, (int)scale, bits);
  }
}

/* Values computed once with gemmlowp's fixedpoint.h (the code TFLM's int8 SOFTMAX and LOGISTIC are built on), to
 * pin the fixed-point functions bit for bit (the loops above only bound their error against the real functions).
 * A one-off cross-check against gemmlowp itself found them identical on 20 million random inputs each. */
/* {input, gemmlowp exp_on_negative_values<Q5>, <Q4>, one_over_one_plus_x (input & INT32_MAX), logistic<Q4>} */
static const int32_t golden[][5] = {
    {0, 2147483647, 2147483647, 2147483647, 1073741824},
    {-1, 2147483124, 2147483140, 1073741820, 1073741699},
    {-2147483647, 0, 242, 2147483647, 241},
    {2147483647, 0, 242, 1073741820, 2147483406},
    {239116, 2139845127, 2143660741, 2147244562, 1074698404},
    {58321, 2145617712, 2146550232, 2147425332, 1073975226},
    {1162, 2147445973, 2147464565, 2147482486, 1073746592},
    {-524, 2147466389, 2147474772, 1073741954, 1073739603},
    {1523656048, 0, 25221, 1256200086, 2147458428},
    {32350522, 1326092365, 1687531453, 2115613232, 1202520952},
    {-15579760, 1702572554, 1912131337, 1077650944, 1011492661},
    {1378972, 2103806623, 2125532731, 2146105560, 1079257744},
    {320475, 2137252491, 2142361719, 2147163220, 1075023836},
    {51643, 2145831231, 2146657035, 2147432002, 1073948518},
    {7324, 2147248804, 2147365976, 2147476322, 1073771244},
    {694, 2147460949, 2147472053, 2147482954, 1073744724},
    {2103251643, 0, 336, 1084914890, 2147483314},
    {6552076, 1947727328, 2045168067, 2140951502, 1099944938},
    {21000781, 1570447688, 1836439697, 2126686248, 1157573980},
    {1975169, 2085199194, 2116112080, 2145510294, 1081642422},
    {-105286, 2144116677, 2145799256, 1073768150, 1073320563},
    {29632, 2146535151, 2147009101, 2147454016, 1073860472},
    {3390, 2147374680, 2147428917, 2147480260, 1073755512},
    {660, 2147462036, 2147472596, 2147482986, 1073744588},
    {-631593923, 175620, 19420139, 1258863226, 19246087},
    {35456067, 1266123824, 1648932896, 2112603472, 1214747106},
    {-25089416, 1477623907, 1781340289, 1080051036, 973675381},
    {-3978423, 2023874267, 2084762914, 1074737348, 1057829259},
    {-21573, 2146792938, 2147138019, 1073747220, 1073655409},
    {65220, 2145397149, 2146439899, 2147418428, 1074002828},
    {5396, 2147310493, 2147396822, 2147478252, 1073763528},
    {207, 2147476532, 2147479844, 2147483440, 1073742770},
};

static void test_fixed_point_golden(void) {
  for (size_t i = 0; i < sizeof golden / sizeof golden[0]; ++i) {
    const int32_t a = golden[i][0];
    const int32_t neg = a > 0 ? -a : a;
    CHECK(gbnn_exp_on_negative_values(neg, 5) == golden[i][1], "exp Q5 of %d", (int)neg);
    CHECK(gbnn_exp_on_negative_values(neg, 4) == golden[i][2], "exp Q4 of %d", (int)neg);
    CHECK(gbnn_one_over_one_plus_x(a & INT32_MAX) == golden[i][3], "1/(1+x) of %d", (int)(a & INT32_MAX));
    CHECK(gbnn_logistic_q4(a) == golden[i][4], "logistic of %d", (int)a);
  }
}

static void test_padding(void) {
  /* SAME: out = ceil(in / stride); VALID: out = ceil((in - effective + 1) / stride). */
  for (int32_t in = 1; in < 20; ++in) {
    for (int32_t f = 1; f < 6; ++f) {
      for (int32_t s = 1; s < 4; ++s) {
        for (int32_t dil = 1; dil < 3; ++dil) {
          const int32_t eff = (f - 1) * dil + 1;
          CHECK(gbnn_conv_out_size(GBNN_PAD_SAME, in, f, s, dil) == (in + s - 1) / s, "same");
          const int32_t valid = in >= eff ? (in - eff) / s + 1 : 0;
          CHECK(gbnn_conv_out_size(GBNN_PAD_VALID, in, f, s, dil) == valid, "valid in=%d f=%d s=%d d=%d", (int)in,
                (int)f, (int)s, (int)dil);
          const int32_t out = (in + s - 1) / s;
          int32_t total = (out - 1) * s + eff - in;
          total = total > 0 ? total : 0;
          CHECK(gbnn_conv_pad(s, dil, in, f, out) == total / 2, "pad");
        }
      }
    }
  }
}

int main(void) {
  test_srdhm();
  test_rdivpot();
  test_mul_by_qm();
  test_quantize_multiplier();
  test_sat_shl_and_clz();
  test_fixed_point_functions();
  test_fixed_point_golden();
  test_padding();
  if (failures != 0) {
    printf("%d failures\n", failures);
    return EXIT_FAILURE;
  }
  printf("test_quant: all passed\n");
  return EXIT_SUCCESS;
}
