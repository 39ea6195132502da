/* MEAN, int8: TFLM's reference_ops::QuantizedMeanOrSum (int32 sums over the reduced axes, then the input/output
 * rescale with 1/count folded into the multiplier, as TFLM does it), any set of constant axes (negative and
 * duplicate axes resolved as TFLM does), keep_dims either way (it only shapes the output). */
#include <stddef.h>
#include <string.h>

#include "internal.h"
#include "quant.h"

typedef struct {
  int32_t rank;
  int32_t n_kept, n_reduced;
  /* The kept dims (outer loop, in input order) and the reduced dims (inner loop), each with its input stride. */
  int32_t kept_dims[GBNN_MAX_RANK], kept_strides[GBNN_MAX_RANK];
  int32_t red_dims[GBNN_MAX_RANK], red_strides[GBNN_MAX_RANK];
  int32_t outputs, count; /* output elements; input elements per output */
  int32_t input_zero_point, output_zero_point, multiplier, shift;
} mean_data;

static gbnn_status prepare(gbnn_ctx *c, gbnn_node *n) {
  if (n->n_inputs != 2 || n->n_outputs != 1) {
    return gbnn_refuse(c, n, GBNN_BAD_MODEL, "expects 2 inputs and 1 output");
  }
  const gbnn_tensor *input = gbnn_node_input(c, n, 0);
  const gbnn_tensor *axis = gbnn_node_input(c, n, 1);
  const gbnn_tensor *output = gbnn_node_output(c, n, 0);
  gbnn_status st;
  if ((st = gbnn_check_int8_in_out(c, n, input, output)) != GBNN_OK) {
    return st;
  }
  if (axis == NULL || axis->type != GBNN_INT32) {
    return gbnn_refuse(c, n, GBNN_UNSUPPORTED, "axis must be an int32 tensor");
  }
  if (!axis->is_constant || axis->data == NULL) {
    return gbnn_refuse(c, n, GBNN_UNSUPPORTED, "axis must be a constant tensor");
  }
  const int32_t n_axis = gbnn_checked_elements(axis);
  if (n_axis < 0 || (size_t)n_axis * sizeof(int32_t) > axis->bytes) {
    return gbnn_refuse(c, n, GBNN_BAD_MODEL, "axis tensor shorter than its shape");
  }
  if (input->rank > GBNN_MAX_RANK) {
    return gbnn_refuse(c, n, GBNN_UNSUPPORTED, "input rank %d", (int)input->rank);
  }
  mean_data *d = (mean_data *)gbnn_persistent(c, sizeof(mean_data));
  if (d == NULL) {
    return gbnn_status_of(c);
  }
  d->rank = input->rank;
  int reduced[GBNN_MAX_RANK] = {0};
  const uint8_t *axes = (const uint8_t *)axis->data;
  for (int32_t i = 0; i < n_axis && d->rank > 0; ++i) {
    int32_t given = 0;
    memcpy(&given, axes + (size_t)i * sizeof(int32_t), sizeof given);
    int32_t a = given;
    if (a < 0) {
      a += d->rank;
    }
    if (a < 0 || a >= d->rank) {
      return gbnn_refuse(c, n, GBNN_BAD_MODEL, "axis %d out of range for rank %d", (int)given, (int)d->rank);
    }
    reduced[a] = 1;
  }
  int32_t stride = 1;
  int32_t strides[GBNN_MAX_RANK];
  for (int32_t i = d->rank - 1; i >= 0; --i) {
    if (input->dims[i] <= 0) {
      return gbnn_refuse(c, n, GBNN_UNSUPPORTED, "empty or negative input dimension");
    }
    strides[i] = stride;
    if ((int64_t)stride * input->dims[i] > INT32_MAX / 128) {
      return gbnn_refuse(c, n, GBNN_UNSUPPORTED, "input too large for an int32 sum");
    }
    stride *= input->dims[i];
  }
  d->n_kept = 0;
  d->n_reduced = 0;
  d->outputs = 1;
  d->count = 1;
  for (int32_t i = 0; i < d->rank; ++i) {
    if (reduced[i]) {
      d->red_dims[d->n_reduced] = input->dims[i];
      d->red_strides[d->n_reduced++] = strides[i];
      d->count *= input->dims[i];
    } else {
      d->kept_dims[d->n_kept] = input->dims[i];
      d->kept_strides[d->n_kept++] = strides[i];
      d->outputs *= input->dims[i];
    }
  }
  if (gbnn_checked_elements(output) != d->outputs) {
    return gbnn_refuse(c, n, GBNN_BAD_MODEL, "output has %d elements, the reduction gives %d",
                       (int)gbnn_checked_elements(output), (int)d->outputs);
  }
  d->input_zero_point = input->zero_point;
  d->output_zero_point = output->zero_point;
  int32_t multiplier = 0;
  int32_t shift = 0;
  gbnn_quantize_multiplier((double)input->scale / (double)output->scale, &multiplier, &shift);
  if (shift > 30) {
    return gbnn_refuse(c, n, GBNN_UNSUPPORTED, "input/output scale ratio of 2^31 or more");
  }
  /* Fold 1/count into the multiplier: TFLM's shift by floor(log2(count)), clamped so the total shift stays >= -31,
   * then an integer division. */
  int s = 31 - gbnn_clz32((uint32_t)d->count);
  if (s > 32) {
    s = 32;
  }
  if (s > 31 + shift) {
    s = (int)(31 + shift);
  }
  d->multiplier = (int32_t)(((int64_t)multiplier * ((int64_t)1 << s)) / d->count);
  d->shift = shift - s;
  n->data = d;
  return GBNN_OK;
}

/* The sum over the reduced dims of one output element: an odometer over up to GBNN_MAX_RANK dims, the innermost
 * reduced dim as a plain loop (the part a SIMD variant replaces). */
static int32_t reduce_sum(const mean_data *d, const int8_t *base) {
  if (d->n_reduced == 0) {
    return *base;
  }
  const int32_t inner = d->n_reduced - 1;
  const int32_t inner_n = d->red_dims[inner];
  const int32_t inner_stride = d->red_strides[inner];
  int32_t index[GBNN_MAX_RANK] = {0};
  int32_t sum = 0;
  size_t off = 0;
  for (;;) {
    for (int32_t k = 0; k < inner_n; ++k) {
      sum += base[off + (size_t)k * (size_t)inner_stride];
    }
    int32_t i = inner - 1;
    for (; i >= 0; --i) {
      ++index[i];
      off += (size_t)d->red_strides[i];
      if (index[i] < d->red_dims[i]) {
        break;
      }
      off -= (size_t)d->red_strides[i] * (size_t)d->red_dims[i];
      index[i] = 0;
    }
    if (i < 0) {
      return sum;
    }
  }
}

static gbnn_status eval(gbnn_ctx *c, const gbnn_node *n) {
  const mean_data *d = (const mean_data *)n->data;
  const int8_t *input = (const int8_t *)gbnn_node_input(c, n, 0)->data;
  int8_t *output = (int8_t *)gbnn_node_output(c, n, 0)->data;
  int32_t index[GBNN_MAX_RANK] = {0};
  size_t off = 0;
  for (int32_t o = 0; o < d->outputs; ++o) {
    const int32_t sum = reduce_sum(d, input + off) - d->input_zero_point * d->count;
    const int32_t v = gbnn_mul_by_qm(sum, d->multiplier, d->shift) + d->output_zero_point;
    output[o] = (int8_t)gbnn_clamp(v, -128, 127);
    for (int32_t i = d->n_kept - 1; i >= 0; --i) {
      ++index[i];
      off += (size_t)d->kept_strides[i];
      if (index[i] < d->kept_dims[i]) {
        break;
      }
      off -= (size_t)d->kept_strides[i] * (size_t)d->kept_dims[i];
      index[i] = 0;
    }
  }
  return GBNN_OK;
}

const gbnn_op gbnn_op_mean = {"MEAN", 40, 27, prepare, eval};
