/* SOFTMAX, int8 -> int8 and int8 -> int16: TFLM's reference_ops::Softmax (input differences from the row maximum
 * scaled by beta x input scale into Q5.26, gemmlowp's fixed-point exp, a Q12 sum, its fixed-point reciprocal), over
 * the last dimension. As TFLM requires, an int8 output has scale 1/256 and zero point -128, an int16 one scale
 * 1/65536 (within 0.1%) and zero point -32768. */
#include <math.h>
#include <stddef.h>

#include "internal.h"
#include "quant.h"

#define SCALED_DIFF_INTEGER_BITS 5
#define ACCUMULATION_INTEGER_BITS 12

typedef struct {
  int32_t outer, depth, int16_output;
  int32_t input_multiplier, input_left_shift, diff_min;
} softmax_data;

static gbnn_status prepare(gbnn_ctx *c, gbnn_node *n) {
  if (n->n_inputs != 1 || n->n_outputs != 1) {
    return gbnn_refuse(c, n, GBNN_BAD_MODEL, "expects 1 input and 1 output");
  }
  const gbnn_tensor *input = gbnn_node_input(c, n, 0);
  const gbnn_tensor *output = gbnn_node_output(c, n, 0);
  gbnn_status st;
  if ((st = gbnn_check_int8(c, n, input, "input")) != GBNN_OK ||
      (st = gbnn_check_per_tensor(c, n, input, "input")) != GBNN_OK) {
    return st;
  }
  if (output == NULL) {
    return gbnn_refuse(c, n, GBNN_BAD_MODEL, "output tensor missing");
  }
  const int int16_output = output->type == GBNN_INT16;
  if (int16_output) {
    const float want = 1.0f / 65536.0f;
    const float delta = output->scale > want ? output->scale - want : want - output->scale;
    if (output->n_scales != 1 || output->zero_point != -32768 || delta > 0.001f * 1.0f / 65536.0f) {
      return gbnn_refuse(c, n, GBNN_UNSUPPORTED, "int16 output must have scale 1/65536 and zero point -32768");
    }
  } else {
    if ((st = gbnn_check_int8(c, n, output, "output")) != GBNN_OK ||
        (st = gbnn_check_per_tensor(c, n, output, "output")) != GBNN_OK) {
      return st;
    }
    if (output->zero_point != -128 || output->scale != 1.0f / 256.0f) {
      return gbnn_refuse(c, n, GBNN_UNSUPPORTED, "output must have scale 1/256 and zero point -128");
    }
  }
  if (input->rank < 1) {
    return gbnn_refuse(c, n, GBNN_BAD_MODEL, "input must have at least one dimension");
  }
  const int32_t elements = gbnn_checked_elements(input);
  if (elements < 0 || gbnn_checked_elements(output) != elements) {
    return gbnn_refuse(c, n, GBNN_BAD_MODEL, "input and output sizes differ");
  }
  softmax_data *d = (softmax_data *)gbnn_persistent(c, sizeof(softmax_data));
  if (d == NULL) {
    return gbnn_status_of(c);
  }
  d->depth = input->dims[input->rank - 1];
  if (d->depth <= 0 || d->depth >= 4096) {
    /* Each exp adds at most 2^19 to the Q12 sum: 4096 of them would overflow int32. */
    return gbnn_refuse(c, n, GBNN_UNSUPPORTED, "depth %d (1 to 4095 supported)", (int)d->depth);
  }
  d->outer = elements / d->depth;
  d->int16_output = int16_output;
  /* TFLM's PreprocessSoftmaxScaling and CalculateInputRadius, in double as there. */
  const double beta = (double)gbnn_table_f32(&n->options, 0, 0.0f);
  double real = beta * (double)input->scale * (double)(1 << (31 - SCALED_DIFF_INTEGER_BITS));
  if (real > 2147483647.0) {
    real = 2147483647.0;
  }
  if (!(real > 1.0)) {
    return gbnn_refuse(c, n, GBNN_UNSUPPORTED, "beta x input scale too small (TFLM requires a rescale above 1)");
  }
  gbnn_quantize_multiplier(real, &d->input_multiplier, &d->input_left_shift);
  const double radius = floor(31.0 * (double)((int64_t)1 << (31 - SCALED_DIFF_INTEGER_BITS)) /
                              (double)((int64_t)1 << d->input_left_shift));
  d->diff_min = -(int32_t)radius;
  n->data = d;
  return GBNN_OK;
}

/* exp(beta * scale * (x - max)) in Q0 for one element, or -1 when it is below the range that counts. */
static int32_t row_exp(const softmax_data *d, int32_t diff) {
  const int32_t rescaled = gbnn_srdhm(gbnn_wrap_shl(diff, (int)d->input_left_shift), d->input_multiplier);
  return gbnn_exp_on_negative_values(rescaled, SCALED_DIFF_INTEGER_BITS);
}

/* One row: the Q12 sum of the exps that count, its reciprocal, then each output as an int8 or int16 (`out_bits`),
 * offset by the type's minimum (the zero point TFLM requires) and clamped. */
static void softmax_row(const softmax_data *d, const int8_t *in, void *out, int out_bits) {
  int32_t max = -128;
  for (int32_t i = 0; i < d->depth; ++i) {
    max = in[i] > max ? in[i] : max;
  }
  int32_t sum = 0; /* Q12 */
  for (int32_t i = 0; i < d->depth; ++i) {
    const int32_t diff = (int32_t)in[i] - max;
    if (diff >= d->diff_min) {
      sum += gbnn_rdivpot(row_exp(d, diff), ACCUMULATION_INTEGER_BITS); /* Q0 -> Q12 */
    }
  }
  int bits_over_unit = 0;
  const int32_t scale = gbnn_reciprocal(sum, ACCUMULATION_INTEGER_BITS, &bits_over_unit);
  int exponent = bits_over_unit + 31 - out_bits;
  /* TFLM aborts when exponent passes 31 (int8 output: 512 or more elements tied near the maximum); gbnn clamps. */
  exponent = exponent < 0 ? 0 : (exponent > 31 ? 31 : exponent);
  const int32_t lo = out_bits == 8 ? -128 : -32768;
  const int32_t hi = out_bits == 8 ? 127 : 32767;
  for (int32_t i = 0; i < d->depth; ++i) {
    const int32_t diff = (int32_t)in[i] - max;
    int32_t v = lo;
    if (diff >= d->diff_min) {
      v = gbnn_clamp(gbnn_rdivpot(gbnn_srdhm(scale, row_exp(d, diff)), exponent) + lo, lo, hi);
    }
    if (out_bits == 8) {
      ((int8_t *)out)[i] = (int8_t)v;
    } else {
      ((int16_t *)out)[i] = (int16_t)v;
    }
  }
}

static gbnn_status eval(gbnn_ctx *c, const gbnn_node *n) {
  const softmax_data *d = (const softmax_data *)n->data;
  const int8_t *input = (const int8_t *)gbnn_node_input(c, n, 0)->data;
  void *output = gbnn_node_output(c, n, 0)->data;
  for (int32_t r = 0; r < d->outer; ++r) {
    const size_t at = (size_t)r * (size_t)d->depth;
    if (d->int16_output) {
      softmax_row(d, input + at, (int16_t *)output + at, 16);
    } else {
      softmax_row(d, input + at, (int8_t *)output + at, 8);
    }
  }
  return GBNN_OK;
}

const gbnn_op gbnn_op_softmax = {"SOFTMAX", 25, 9, prepare, eval};
