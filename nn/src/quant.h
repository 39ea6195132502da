/* Requantisation arithmetic shared by the ops: the fixed-point primitives TFLite Micro's int8 kernels use (its
 * QuantizeMultiplier, MultiplyByQuantizedMultiplier in the double-rounding form TFLM is built with, gemmlowp's
 * SaturatingRoundingDoublingHighMul and RoundingDivideByPOT, the fixed-point exp / 1/(1+x) / logistic that int8
 * SOFTMAX and LOGISTIC use), fused-activation ranges, and the prepare-time checks every op repeats.
 *
 * Fixed-point values are raw int32 with a stated number of integer bits: "Q4" means 4 integer bits and 27
 * fractional bits (gemmlowp's FixedPoint<int32_t, 4>). Every function here is defined for every input (wrapping
 * where TFLM's C++ wraps, never undefined behaviour). Not a public header. */
#ifndef GBNN_QUANT_H
#define GBNN_QUANT_H

#include <stdint.h>

#include "internal.h"

/* The .tflite schema's ActivationFunctionType. */
enum { GBNN_ACT_NONE = 0, GBNN_ACT_RELU = 1, GBNN_ACT_RELU_N1_TO_1 = 2, GBNN_ACT_RELU6 = 3 };
/* The schema's Padding. */
enum { GBNN_PAD_SAME = 0, GBNN_PAD_VALID = 1 };

/* ---- prepare time (floating point allowed) ---- */

/* TFLM's QuantizeMultiplier: real = multiplier * 2^(shift - 31), multiplier in [2^30, 2^31) or 0; tiny values
 * (shift < -31) flush to 0. `real` must be finite and >= 0. */
void gbnn_quantize_multiplier(double real, int32_t *multiplier, int32_t *shift);

/* The quantised value of `real` in a tensor with `scale` and `zero_point`, as TFLM's activation-range code
 * computes it (float division, round half away from zero). Returns 0 when the rounded quotient is outside int32
 * (TFLM refuses the model then). */
int gbnn_quantize_value(float scale, int32_t zero_point, float real, int32_t *q);

/* The int8 output range [*lo, *hi] of fused activation `act` for `out`'s quantisation (TFLM's
 * CalculateActivationRangeQuantized). Refuses (with the op's name) TANH, SIGN_BIT and unknown activations. */
gbnn_status gbnn_activation_range(gbnn_ctx *c, const gbnn_node *n, int32_t act, const gbnn_tensor *out,
                                  int32_t *lo, int32_t *hi);


/* Checks shared by the ops' prepare, each refusing with a message that names the tensor (`what`: "input",
 * "filter"). gbnn_check_int8: the tensor exists, is INT8 and quantised, and every scale is finite and > 0. */
gbnn_status gbnn_check_int8(gbnn_ctx *c, const gbnn_node *n, const gbnn_tensor *t, const char *what);
/* A per-tensor quantised tensor: n_scales == 1, scale finite and > 0, zero point in int8 range. */
gbnn_status gbnn_check_per_tensor(gbnn_ctx *c, const gbnn_node *n, const gbnn_tensor *t, const char *what);
/* Both of the above for an op's "input" and "output" (the int8 per-tensor ops). */
gbnn_status gbnn_check_int8_in_out(gbnn_ctx *c, const gbnn_node *n, const gbnn_tensor *input,
                                   const gbnn_tensor *output);
/* The start of CONV_2D's, DEPTHWISE_CONV_2D's and FULLY_CONNECTED's prepare: 2 or 3 inputs and 1 output, int8
 * per-tensor input and output, an int8 filter (a float one is refused as hybrid); *bias is NULL when absent. */
gbnn_status gbnn_check_weighted(gbnn_ctx *c, const gbnn_node *n, const gbnn_tensor **input,
                                const gbnn_tensor **filter, const gbnn_tensor **bias, const gbnn_tensor **output);
/* Every scale of a (possibly per-channel) tensor finite and > 0. */
gbnn_status gbnn_check_scales(gbnn_ctx *c, const gbnn_node *n, const gbnn_tensor *t, const char *what);
/* The element count of a tensor, or -1 when a dim is negative or the product passes 2^31 - 1. */
int32_t gbnn_checked_elements(const gbnn_tensor *t);

/* TFLM's padding: out size for SAME/VALID (0 when invalid) and the leading pad (the trailing offset is implied). */
int32_t gbnn_conv_out_size(int32_t padding, int32_t in, int32_t filter, int32_t stride, int32_t dilation);
int32_t gbnn_conv_pad(int32_t stride, int32_t dilation, int32_t in, int32_t filter, int32_t out);

/* ---- eval time (integer only) ---- */

/* Arithmetic right shift and two's-complement wrapping, spelled without undefined behaviour. */
static inline int32_t gbnn_wrap_add(int32_t a, int32_t b) { return (int32_t)((uint32_t)a + (uint32_t)b); }
static inline int32_t gbnn_wrap_sub(int32_t a, int32_t b) { return (int32_t)((uint32_t)a - (uint32_t)b); }
static inline int32_t gbnn_wrap_shl(int32_t a, int s) { return (int32_t)((uint32_t)a << s); }
static inline int32_t gbnn_clamp(int32_t x, int32_t lo, int32_t hi) { return x < lo ? lo : (x > hi ? hi : x); }

/* gemmlowp SaturatingRoundingDoublingHighMul: round(a * b / 2^31), saturating the one overflow (MIN * MIN). */
static inline int32_t gbnn_srdhm(int32_t a, int32_t b) {
  if (a == b && a == INT32_MIN) {
    return INT32_MAX;
  }
  const int64_t ab = (int64_t)a * (int64_t)b;
  const int64_t nudge = ab >= 0 ? (1 << 30) : (1 - (1 << 30));
  return (int32_t)((ab + nudge) / ((int64_t)1 << 31)); /* C division truncates toward zero, as C++'s */
}

/* gemmlowp RoundingDivideByPOT: x / 2^exponent rounded to nearest, ties away from zero; 0 <= exponent <= 31. */
static inline int32_t gbnn_rdivpot(int32_t x, int exponent) {
  const int32_t mask = (int32_t)(((int64_t)1 << exponent) - 1);
  const int32_t remainder = x & mask;
  const int32_t threshold = (mask >> 1) + (x < 0 ? 1 : 0);
  return (x >> exponent) + (remainder > threshold ? 1 : 0);
}

/* TFLM's MultiplyByQuantizedMultiplier (double rounding, the form TFLM builds by default): x * multiplier *
 * 2^(shift - 31). A positive shift is applied first, wrapping as TFLM does; -31 <= shift <= 30. */
static inline int32_t gbnn_mul_by_qm(int32_t x, int32_t multiplier, int32_t shift) {
  const int left = shift > 0 ? (int)shift : 0;
  const int right = shift > 0 ? 0 : (int)-shift;
  return gbnn_rdivpot(gbnn_srdhm(gbnn_wrap_shl(x, left), multiplier), right);
}

/* gemmlowp SaturatingRoundingMultiplyByPOT with a positive exponent: x * 2^exponent, saturating. */
static inline int32_t gbnn_sat_shl(int32_t x, int exponent) {
  const int32_t threshold = (int32_t)(((int64_t)1 << (31 - exponent)) - 1);
  if (x > threshold) {
    return INT32_MAX;
  }
  if (x < -threshold) {
    return INT32_MIN;
  }
  return gbnn_wrap_shl(x, exponent);
}

/* The int8 output of an int32 accumulator: requantised, offset, clamped to the activation range. */
static inline int8_t gbnn_requant_s8(int32_t acc, int32_t multiplier, int32_t shift, int32_t output_offset,
                                     int32_t act_min, int32_t act_max) {
  const int32_t v = gbnn_wrap_add(gbnn_mul_by_qm(acc, multiplier, shift), output_offset);
  return (int8_t)gbnn_clamp(v, act_min, act_max);
}

/* Count of leading zero bits of a 32-bit value (32 for 0). */
int gbnn_clz32(uint32_t x);

/* gemmlowp exp_on_negative_values: exp(a) for a <= 0 in Q`integer_bits` (4 or 5), result in Q0 (1.0 is
 * INT32_MAX). */
int32_t gbnn_exp_on_negative_values(int32_t a, int integer_bits);
/* gemmlowp one_over_one_plus_x_for_x_in_0_1: 1 / (1 + a) for a in [0, 1) in Q0, result in Q0. */
int32_t gbnn_one_over_one_plus_x(int32_t a);
/* gemmlowp logistic for a Q4 input, result in Q0. */
int32_t gbnn_logistic_q4(int32_t a);
/* TFLM's GetReciprocal: 1 / x for x > 0 in Q`integer_digits`, as a Q0 scale and a shift (*num_bits_over_unit). */
int32_t gbnn_reciprocal(int32_t x, int integer_digits, int *num_bits_over_unit);

#endif
