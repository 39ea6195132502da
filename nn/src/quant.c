/* Requantisation arithmetic (see quant.h): TFLM's multiplier computation, activation ranges, padding, and the
 * gemmlowp fixed-point functions int8 SOFTMAX and LOGISTIC are built from. */
#include "quant.h"

#include <math.h>

void gbnn_quantize_multiplier(double real, int32_t *multiplier, int32_t *shift) {
  if (real == 0.0) {
    *multiplier = 0;
    *shift = 0;
    return;
  }
  int exponent = 0;
  const double q = frexp(real, &exponent);
  int64_t q_fixed = (int64_t)round(q * 2147483648.0);
  if (q_fixed == ((int64_t)1 << 31)) {
    q_fixed /= 2;
    ++exponent;
  }
  if (exponent < -31) {
    exponent = 0;
    q_fixed = 0;
  }
  *multiplier = (int32_t)q_fixed;
  *shift = (int32_t)exponent;
}

int gbnn_quantize_value(float scale, int32_t zero_point, float real, int32_t *q) {
  const float tmp = roundf(real / scale);
  if (!(tmp >= -2147483648.0f && tmp <= 2147483648.0f) || tmp == 2147483648.0f) {
    return 0;
  }
  const int64_t v = (int64_t)zero_point + (int64_t)tmp;
  if (v < INT32_MIN || v > INT32_MAX) {
    return 0;
  }
  *q = (int32_t)v;
  return 1;
}

gbnn_status gbnn_activation_range(gbnn_ctx *c, const gbnn_node *n, int32_t act, const gbnn_tensor *out,
                                  int32_t *lo, int32_t *hi) {
  const int32_t qmin = -128;
  const int32_t qmax = 127;
  int32_t q_lo = 0;
  int32_t q_hi = 0;
  switch (act) {
    case GBNN_ACT_NONE:
      *lo = qmin;
      *hi = qmax;
      return GBNN_OK;
    case GBNN_ACT_RELU:
      if (!gbnn_quantize_value(out->scale, out->zero_point, 0.0f, &q_lo)) {
        break;
      }
      *lo = q_lo > qmin ? q_lo : qmin;
      *hi = qmax;
      return GBNN_OK;
    case GBNN_ACT_RELU6:
    case GBNN_ACT_RELU_N1_TO_1: {
      const float f_lo = act == GBNN_ACT_RELU6 ? 0.0f : -1.0f;
      const float f_hi = act == GBNN_ACT_RELU6 ? 6.0f : 1.0f;
      if (!gbnn_quantize_value(out->scale, out->zero_point, f_lo, &q_lo) ||
          !gbnn_quantize_value(out->scale, out->zero_point, f_hi, &q_hi)) {
        break;
      }
      *lo = q_lo > qmin ? q_lo : qmin;
      *hi = q_hi < qmax ? q_hi : qmax;
      return GBNN_OK;
    }
    case 4:
      return gbnn_refuse(c, n, GBNN_UNSUPPORTED, "fused activation TANH is not supported");
    case 5:
      return gbnn_refuse(c, n, GBNN_UNSUPPORTED, "fused activation SIGN_BIT is not supported");
    default:
      return gbnn_refuse(c, n, GBNN_UNSUPPORTED, "unknown fused activation %d", (int)act);
  }
  return gbnn_refuse(c, n, GBNN_UNSUPPORTED, "the fused activation's bounds overflow the output's quantisation");
}

static int scale_ok(float s) { return isfinite(s) && s > 0.0f; }

gbnn_status gbnn_check_int8(gbnn_ctx *c, const gbnn_node *n, const gbnn_tensor *t, const char *what) {
  if (t == NULL) {
    return gbnn_refuse(c, n, GBNN_BAD_MODEL, "%s tensor missing", what);
  }
  if (t->type != GBNN_INT8) {
    return gbnn_refuse(c, n, GBNN_UNSUPPORTED, "%s of type %s: only INT8 is supported", what,
                       gbnn_type_name(t->type));
  }
  if (t->n_scales < 1) {
    return gbnn_refuse(c, n, GBNN_UNSUPPORTED, "%s is not quantised", what);
  }
  return gbnn_check_scales(c, n, t, what);
}

gbnn_status gbnn_check_per_tensor(gbnn_ctx *c, const gbnn_node *n, const gbnn_tensor *t, const char *what) {
  if (t->n_scales != 1) {
    return gbnn_refuse(c, n, GBNN_UNSUPPORTED, "%s has %d scales: only per-tensor quantisation is supported", what,
                       (int)t->n_scales);
  }
  if (!scale_ok(t->scale)) {
    return gbnn_refuse(c, n, GBNN_UNSUPPORTED, "%s scale is not a positive finite number", what);
  }
  if (t->zero_point < -128 || t->zero_point > 127) {
    return gbnn_refuse(c, n, GBNN_UNSUPPORTED, "%s zero point %d is outside int8", what, (int)t->zero_point);
  }
  return GBNN_OK;
}

gbnn_status gbnn_check_scales(gbnn_ctx *c, const gbnn_node *n, const gbnn_tensor *t, const char *what) {
  if (!scale_ok(t->scale)) {
    return gbnn_refuse(c, n, GBNN_UNSUPPORTED, "%s scale is not a positive finite number", what);
  }
  for (int32_t i = 0; i < t->n_scales && t->scales != NULL; ++i) {
    if (!scale_ok(t->scales[i])) {
      return gbnn_refuse(c, n, GBNN_UNSUPPORTED, "%s scale %d is not a positive finite number", what, (int)i);
    }
  }
  return GBNN_OK;
}

int32_t gbnn_checked_elements(const gbnn_tensor *t) {
  int64_t count = 1;
  for (int i = 0; i < t->rank; ++i) {
    if (t->dims[i] < 0) {
      return -1;
    }
    count *= t->dims[i];
    if (count > INT32_MAX) {
      return -1;
    }
  }
  return (int32_t)count;
}

int32_t gbnn_conv_out_size(int32_t padding, int32_t in, int32_t filter, int32_t stride, int32_t dilation) {
  if (in < 0 || filter <= 0 || stride <= 0 || dilation <= 0) {
    return 0;
  }
  const int64_t effective = ((int64_t)filter - 1) * dilation + 1;
  int64_t v = 0;
  if (padding == GBNN_PAD_SAME) {
    v = ((int64_t)in + stride - 1) / stride;
  } else if (padding == GBNN_PAD_VALID) {
    v = ((int64_t)in + stride - effective) / stride;
  }
  return v < 0 || v > INT32_MAX ? 0 : (int32_t)v;
}

int32_t gbnn_conv_pad(int32_t stride, int32_t dilation, int32_t in, int32_t filter, int32_t out) {
  const int64_t effective = ((int64_t)filter - 1) * dilation + 1;
  int64_t total = ((int64_t)out - 1) * stride + effective - in;
  total = total > 0 ? total : 0;
  return (int32_t)(total / 2);
}

int gbnn_clz32(uint32_t x) {
  if (x == 0) {
    return 32;
  }
  int n = 0;
  while ((x & 0x80000000u) == 0) {
    x <<= 1;
    ++n;
  }
  return n;
}

/* exp(a) for a in [-1/4, 0), Q0 in and out: a Taylor expansion around -1/8. */
static int32_t exp_on_interval_neg_quarter_to_0(int32_t a) {
  const int32_t constant_term = 1895147668; /* exp(-1/8) */
  const int32_t one_third = 715827883;
  const int32_t x = gbnn_wrap_add(a, 1 << 28);
  const int32_t x2 = gbnn_srdhm(x, x);
  const int32_t x3 = gbnn_srdhm(x2, x);
  const int32_t x4 = gbnn_srdhm(x2, x2);
  const int32_t x4_over_4 = gbnn_rdivpot(x4, 2);
  const int32_t poly = gbnn_rdivpot(gbnn_wrap_add(gbnn_srdhm(gbnn_wrap_add(x4_over_4, x3), one_third), x2), 1);
  return gbnn_wrap_add(constant_term, gbnn_srdhm(constant_term, gbnn_wrap_add(x, poly)));
}

int32_t gbnn_exp_on_negative_values(int32_t a, int integer_bits) {
  static const int32_t multipliers[7] = {
      1672461947, /* exp(-1/4) */
      1302514674, /* exp(-1/2) */
      790015084,  /* exp(-1) */
      290630308,  /* exp(-2) */
      39332535,   /* exp(-4) */
      720401,     /* exp(-8) */
      242,        /* exp(-16) */
  };
  const int fractional_bits = 31 - integer_bits;
  const int32_t one_quarter = (int32_t)1 << (fractional_bits - 2);
  const int32_t mask = one_quarter - 1;
  const int32_t a_mod_quarter_minus_quarter = gbnn_wrap_sub(a & mask, one_quarter);
  int32_t result = exp_on_interval_neg_quarter_to_0(gbnn_sat_shl(a_mod_quarter_minus_quarter, integer_bits));
  const int32_t remainder = gbnn_wrap_sub(a_mod_quarter_minus_quarter, a);
  for (int e = -2; e <= 4; ++e) {
    if (integer_bits > e) {
      const int bit = fractional_bits + e;
      if ((remainder & (int32_t)((uint32_t)1 << bit)) != 0) {
        result = gbnn_srdhm(result, multipliers[e + 2]);
      }
    }
  }
  /* integer_bits > 5 would clamp below -32 here; the ops use 4 and 5 only. */
  if (a == 0) {
    result = INT32_MAX;
  }
  return result;
}

static int32_t rounding_half_sum(int32_t a, int32_t b) {
  const int64_t sum = (int64_t)a + (int64_t)b;
  const int64_t sign = sum >= 0 ? 1 : -1;
  return (int32_t)((sum + sign) / 2);
}

int32_t gbnn_one_over_one_plus_x(int32_t a) {
  const int32_t half_denominator = rounding_half_sum(a, INT32_MAX); /* Q0 */
  const int32_t c48_over_17 = 1515870810;                          /* Q2 */
  const int32_t c_neg32_over_17 = -1010580540;                     /* Q2 */
  const int32_t one_q2 = 1 << 29;
  int32_t x = gbnn_wrap_add(c48_over_17, gbnn_srdhm(half_denominator, c_neg32_over_17)); /* Q2 */
  for (int i = 0; i < 3; ++i) {
    const int32_t half_denominator_times_x = gbnn_srdhm(half_denominator, x);        /* Q2 */
    const int32_t one_minus = gbnn_wrap_sub(one_q2, half_denominator_times_x);      /* Q2 */
    x = gbnn_wrap_add(x, gbnn_sat_shl(gbnn_srdhm(x, one_minus), 2));                /* Q4 -> Q2 */
  }
  return gbnn_sat_shl(x, 1); /* x / 2 as Q1, then to Q0 */
}

int32_t gbnn_logistic_q4(int32_t a) {
  const int32_t abs_a = a > 0 ? a : gbnn_wrap_sub(0, a);
  const int32_t positive = gbnn_one_over_one_plus_x(gbnn_exp_on_negative_values(gbnn_wrap_sub(0, abs_a), 4));
  if (a == 0) {
    return 1 << 30;
  }
  return a > 0 ? positive : gbnn_wrap_sub(INT32_MAX, positive);
}

int32_t gbnn_reciprocal(int32_t x, int integer_digits, int *num_bits_over_unit) {
  if (x <= 0) { /* not reached from SOFTMAX (the row's maximum contributes exp(0)); defined anyway */
    *num_bits_over_unit = 0;
    return INT32_MAX;
  }
  const int headroom_plus_one = gbnn_clz32((uint32_t)x);
  *num_bits_over_unit = integer_digits - headroom_plus_one;
  const int32_t shifted_minus_one = (int32_t)(((uint32_t)x << headroom_plus_one) - ((uint32_t)1 << 31));
  return gbnn_one_over_one_plus_x(shifted_minus_one);
}

gbnn_status gbnn_check_int8_in_out(gbnn_ctx *c, const gbnn_node *n, const gbnn_tensor *input,
                                   const gbnn_tensor *output) {
  gbnn_status st;
  if ((st = gbnn_check_int8(c, n, input, "input")) != GBNN_OK ||
      (st = gbnn_check_per_tensor(c, n, input, "input")) != GBNN_OK ||
      (st = gbnn_check_int8(c, n, output, "output")) != GBNN_OK ||
      (st = gbnn_check_per_tensor(c, n, output, "output")) != GBNN_OK) {
    return st;
  }
  return GBNN_OK;
}

gbnn_status gbnn_check_weighted(gbnn_ctx *c, const gbnn_node *n, const gbnn_tensor **input,
                                const gbnn_tensor **filter, const gbnn_tensor **bias, const gbnn_tensor **output) {
  if (n->n_inputs < 2 || n->n_inputs > 3 || n->n_outputs != 1) {
    return gbnn_refuse(c, n, GBNN_BAD_MODEL, "expects 2 or 3 inputs and 1 output");
  }
  *input = gbnn_node_input(c, n, 0);
  *filter = gbnn_node_input(c, n, 1);
  *bias = gbnn_node_input(c, n, 2);
  *output = gbnn_node_output(c, n, 0);
  gbnn_status st = gbnn_check_int8_in_out(c, n, *input, *output);
  if (st != GBNN_OK) {
    return st;
  }
  if (*filter == NULL) {
    return gbnn_refuse(c, n, GBNN_BAD_MODEL, "filter tensor missing");
  }
  if ((*filter)->type == GBNN_FLOAT32) {
    return gbnn_refuse(c, n, GBNN_UNSUPPORTED, "float filter with int8 input (hybrid) is not supported");
  }
  return gbnn_check_int8(c, n, *filter, "filter");
}
