/* LOGISTIC, int8: TFLM's reference_integer_ops::Logistic (input rescaled into Q4.27, gemmlowp's fixed-point
 * logistic, the result taken to 8 fractional bits with zero point -128; inputs beyond the radius saturate). As in
 * TFLM, the output's zero point must be -128 and its scale is taken to be 1/256 without being checked. */
#include <math.h>
#include <stddef.h>

#include "internal.h"
#include "quant.h"

#define INPUT_INTEGER_BITS 4

typedef struct {
  int32_t count, input_zero_point, input_multiplier, input_left_shift, input_range_radius;
} logistic_data;

static gbnn_status prepare(gbnn_ctx *c, gbnn_node *n) {
  if (n->n_inputs != 1 || n->n_outputs != 1) {
    return gbnn_refuse(c, n, GBNN_BAD_MODEL, "expects 1 input and 1 output");
  }
  const gbnn_tensor *input = gbnn_node_input(c, n, 0);
  const gbnn_tensor *output = gbnn_node_output(c, n, 0);
  gbnn_status st;
  if ((st = gbnn_check_int8_in_out(c, n, input, output)) != GBNN_OK) {
    return st;
  }
  if (output->zero_point != -128) {
    return gbnn_refuse(c, n, GBNN_UNSUPPORTED, "output zero point must be -128");
  }
  const int32_t count = gbnn_checked_elements(input);
  if (count < 0 || gbnn_checked_elements(output) != count) {
    return gbnn_refuse(c, n, GBNN_BAD_MODEL, "input and output sizes differ");
  }
  logistic_data *d = (logistic_data *)gbnn_persistent(c, sizeof(logistic_data));
  if (d == NULL) {
    return gbnn_status_of(c);
  }
  d->count = count;
  d->input_zero_point = input->zero_point;
  /* TFLM: frexp of scale * 2^27 directly (not QuantizeMultiplier), and the radius beyond which the output
   * saturates, floor(15 * 2^27 / 2^shift). */
  const double real = (double)input->scale * (double)(1 << (31 - INPUT_INTEGER_BITS));
  int shift = 0;
  const double q = frexp(real, &shift);
  const double m = round(q * 2147483648.0);
  if (shift < 0 || m >= 2147483648.0) {
    return gbnn_refuse(c, n, GBNN_UNSUPPORTED, "input scale below 2^-28");
  }
  d->input_multiplier = (int32_t)m;
  d->input_left_shift = shift;
  d->input_range_radius =
      (int32_t)floor(ldexp((double)((1 << INPUT_INTEGER_BITS) - 1) * (double)(1 << (31 - INPUT_INTEGER_BITS)), -shift));
  n->data = d;
  return GBNN_OK;
}

static int8_t logistic_one(const logistic_data *d, int8_t x) {
  const int32_t input = (int32_t)x - d->input_zero_point;
  if (input <= -d->input_range_radius) {
    return -128;
  }
  if (input >= d->input_range_radius) {
    return 127;
  }
  const int32_t q4 = gbnn_mul_by_qm(input, d->input_multiplier, d->input_left_shift);
  const int32_t q0 = gbnn_logistic_q4(q4);
  return (int8_t)gbnn_clamp(gbnn_rdivpot(q0, 31 - 8) - 128, -128, 127);
}

static gbnn_status eval(gbnn_ctx *c, const gbnn_node *n) {
  const logistic_data *d = (const logistic_data *)n->data;
  const int8_t *input = (const int8_t *)gbnn_node_input(c, n, 0)->data;
  int8_t *output = (int8_t *)gbnn_node_output(c, n, 0)->data;
  for (int32_t i = 0; i < d->count; ++i) {
    output[i] = logistic_one(d, input[i]);
  }
  return GBNN_OK;
}

const gbnn_op gbnn_op_logistic = {"LOGISTIC", 14, 0, prepare, eval};
