/* QUANTIZE, per-tensor output, the type pairs TFLM's reference kernel implements:
 *   float32 -> int8, int16: TFLM's AffineQuantize (float division by the scale, round half away from zero);
 *   int8 -> int8, uint8, int16, int32; uint8 -> int8; int16 -> int8, int16, int32; int32 -> int8, int16: TFLM's
 *   Requantize (QuantizeMultiplier(input scale / output scale), then MultiplyByQuantizedMultiplier).
 * Where TFLM converts a float quotient outside int32 (platform-dependent there), gbnn saturates (NaN gives the
 * output type's minimum). */
#include <math.h>
#include <stddef.h>
#include <string.h>

#include "internal.h"
#include "quant.h"

typedef struct {
  int32_t count, in_type, out_type, out_min, out_max;
  float scale;
  int32_t input_zero_point, output_zero_point, multiplier, shift;
} quantize_data;

/* The value range of an integer tensor type; 0 for the types QUANTIZE does not read or write. */
static int type_range(int32_t type, int32_t *lo, int32_t *hi) {
  switch (type) {
    case GBNN_INT8:
      *lo = -128;
      *hi = 127;
      return 1;
    case GBNN_UINT8:
      *lo = 0;
      *hi = 255;
      return 1;
    case GBNN_INT16:
      *lo = -32768;
      *hi = 32767;
      return 1;
    case GBNN_INT32:
      *lo = INT32_MIN;
      *hi = INT32_MAX;
      return 1;
    default:
      return 0;
  }
}

/* TFLM's pairs (quantize_common.cc). */
static int pair_supported(int32_t in, int32_t out) {
  switch (in) {
    case GBNN_FLOAT32:
      return out == GBNN_INT8 || out == GBNN_INT16;
    case GBNN_INT8:
      return out == GBNN_INT8 || out == GBNN_UINT8 || out == GBNN_INT16 || out == GBNN_INT32;
    case GBNN_UINT8:
      return out == GBNN_INT8;
    case GBNN_INT16:
      return out == GBNN_INT8 || out == GBNN_INT16 || out == GBNN_INT32;
    case GBNN_INT32:
      return out == GBNN_INT8 || out == GBNN_INT16;
    default:
      return 0;
  }
}

static gbnn_status check_quantised(gbnn_ctx *c, const gbnn_node *n, const gbnn_tensor *t, const char *what) {
  int32_t lo = 0;
  int32_t hi = 0;
  (void)type_range(t->type, &lo, &hi);
  if (t->n_scales != 1) {
    return gbnn_refuse(c, n, GBNN_UNSUPPORTED, "%s has %d scales: only per-tensor quantisation is supported", what,
                       (int)t->n_scales);
  }
  if (!(isfinite(t->scale) && t->scale > 0.0f)) {
    return gbnn_refuse(c, n, GBNN_UNSUPPORTED, "%s scale is not a positive finite number", what);
  }
  if (t->zero_point < lo || t->zero_point > hi) {
    return gbnn_refuse(c, n, GBNN_UNSUPPORTED, "%s zero point %d is outside its type", what, (int)t->zero_point);
  }
  return GBNN_OK;
}

static gbnn_status prepare(gbnn_ctx *c, gbnn_node *n) {
  if (n->n_inputs != 1 || n->n_outputs != 1) {
    return gbnn_refuse(c, n, GBNN_BAD_MODEL, "expects 1 input and 1 output");
  }
  const gbnn_tensor *input = gbnn_node_input(c, n, 0);
  const gbnn_tensor *output = gbnn_node_output(c, n, 0);
  gbnn_status st;
  if (input == NULL || output == NULL) {
    return gbnn_refuse(c, n, GBNN_BAD_MODEL, "input or output tensor missing");
  }
  if (!pair_supported(input->type, output->type)) {
    return gbnn_refuse(c, n, GBNN_UNSUPPORTED, "from %s to %s is not supported", gbnn_type_name(input->type),
                       gbnn_type_name(output->type));
  }
  if ((st = check_quantised(c, n, output, "output")) != GBNN_OK) {
    return st;
  }
  const int32_t count = gbnn_checked_elements(input);
  if (count < 0 || gbnn_checked_elements(output) != count) {
    return gbnn_refuse(c, n, GBNN_BAD_MODEL, "input and output sizes differ");
  }
  quantize_data *d = (quantize_data *)gbnn_persistent(c, sizeof(quantize_data));
  if (d == NULL) {
    return gbnn_status_of(c);
  }
  d->count = count;
  d->in_type = input->type;
  d->out_type = output->type;
  (void)type_range(output->type, &d->out_min, &d->out_max);
  d->scale = output->scale;
  d->output_zero_point = output->zero_point;
  if (input->type != GBNN_FLOAT32) {
    if ((st = check_quantised(c, n, input, "input")) != GBNN_OK) {
      return st;
    }
    d->input_zero_point = input->zero_point;
    gbnn_quantize_multiplier((double)input->scale / (double)output->scale, &d->multiplier, &d->shift);
    if (d->shift > 30) {
      return gbnn_refuse(c, n, GBNN_UNSUPPORTED, "input/output scale ratio of 2^31 or more");
    }
  }
  n->data = d;
  return GBNN_OK;
}

static int32_t load(const void *data, int32_t type, int32_t i) {
  switch (type) {
    case GBNN_INT8:
      return ((const int8_t *)data)[i];
    case GBNN_UINT8:
      return ((const uint8_t *)data)[i];
    case GBNN_INT16:
      return ((const int16_t *)data)[i];
    default:
      return ((const int32_t *)data)[i];
  }
}

static void store(void *data, int32_t type, int32_t i, int32_t v) {
  switch (type) {
    case GBNN_INT8:
      ((int8_t *)data)[i] = (int8_t)v;
      break;
    case GBNN_UINT8:
      ((uint8_t *)data)[i] = (uint8_t)v;
      break;
    case GBNN_INT16:
      ((int16_t *)data)[i] = (int16_t)v;
      break;
    default:
      ((int32_t *)data)[i] = v;
      break;
  }
}

/* round(x / scale) + zero point, clamped to the output type (TFLM's AffineQuantize). */
static int32_t quantize_float(const quantize_data *d, float x) {
  const float r = roundf(x / d->scale);
  int64_t q;
  if (r >= 2147483648.0f) {
    q = INT32_MAX;
  } else if (r >= -2147483648.0f) {
    q = (int64_t)r;
  } else {
    q = INT32_MIN; /* below int32, and NaN */
  }
  q += d->output_zero_point;
  return q < d->out_min ? d->out_min : (q > d->out_max ? d->out_max : (int32_t)q);
}

static gbnn_status eval(gbnn_ctx *c, const gbnn_node *n) {
  const quantize_data *d = (const quantize_data *)n->data;
  const void *input = gbnn_node_input(c, n, 0)->data;
  void *output = gbnn_node_output(c, n, 0)->data;
  if (d->in_type == GBNN_FLOAT32) {
    for (int32_t i = 0; i < d->count; ++i) {
      float x;
      memcpy(&x, (const uint8_t *)input + (size_t)i * sizeof x, sizeof x);
      store(output, d->out_type, i, quantize_float(d, x));
    }
    return GBNN_OK;
  }
  for (int32_t i = 0; i < d->count; ++i) {
    const int32_t x = gbnn_wrap_sub(load(input, d->in_type, i), d->input_zero_point);
    const int32_t v = gbnn_wrap_add(gbnn_mul_by_qm(x, d->multiplier, d->shift), d->output_zero_point); /* as TFLM */
    store(output, d->out_type, i, gbnn_clamp(v, d->out_min, d->out_max));
  }
  return GBNN_OK;
}

const gbnn_op gbnn_op_quantize = {"QUANTIZE", 114, 0, prepare, eval};
