/* FULLY_CONNECTED, int8: TFLM's reference_integer_ops::FullyConnected (per-tensor filter, whose zero point is
 * applied) and FullyConnectedPerChannel (per-channel filter along dimension 0, zero points ignored), optional int32
 * bias, fused RELU/RELU6/RELU_N1_TO_1; keep_num_dims only shapes the output, which the model states. */
#include <stddef.h>

#include "internal.h"
#include "kernels.h"
#include "quant.h"

typedef struct {
  int32_t batches, depth, out_d;
  int32_t input_offset, filter_offset, output_offset, act_min, act_max;
  int32_t per_channel;
  int32_t multiplier0, shift0;
  int32_t *multiplier;
  int32_t *shift;
  const gbnn_kernels *k; /* the kernel set current at gbnn_open */
} fc_data;

/* Outputs accumulated together, on the stack (no arena for it). */
#define FC_BLOCK 64

static gbnn_status prepare(gbnn_ctx *c, gbnn_node *n) {
  const gbnn_tensor *input, *filter, *bias, *output;
  gbnn_status st = gbnn_check_weighted(c, n, &input, &filter, &bias, &output);
  if (st != GBNN_OK) {
    return st;
  }
  const int32_t act = gbnn_table_i8(&n->options, 0, GBNN_ACT_NONE);
  const int32_t weights_format = gbnn_table_i8(&n->options, 1, 0);
  if (weights_format != 0) {
    return gbnn_refuse(c, n, GBNN_UNSUPPORTED, "shuffled weights format %d is not supported", (int)weights_format);
  }
  if (filter->rank < 2 || output->rank < 1) {
    return gbnn_refuse(c, n, GBNN_BAD_MODEL, "filter must be at least 2-D and output at least 1-D");
  }
  fc_data *d = (fc_data *)gbnn_persistent(c, sizeof(fc_data));
  if (d == NULL) {
    return gbnn_status_of(c);
  }
  const int32_t out_elements = gbnn_checked_elements(output);
  const int32_t in_elements = gbnn_checked_elements(input);
  d->out_d = output->dims[output->rank - 1];
  d->depth = filter->dims[filter->rank - 1];
  if (out_elements < 0 || in_elements < 0 || d->out_d <= 0 || d->depth <= 0 ||
      d->out_d > filter->dims[filter->rank - 2] || gbnn_checked_elements(filter) < 0) {
    return gbnn_refuse(c, n, GBNN_BAD_MODEL, "bad input, filter or output dimensions");
  }
  d->batches = out_elements / d->out_d;
  if ((int64_t)d->batches * d->depth != in_elements) {
    return gbnn_refuse(c, n, GBNN_BAD_MODEL, "input of %d elements for %d batches of depth %d", (int)in_elements,
                       (int)d->batches, (int)d->depth);
  }
  if ((int64_t)d->depth * 65025 > INT32_MAX) { /* (255 * 255) per product with a filter zero point */
    return gbnn_refuse(c, n, GBNN_UNSUPPORTED, "depth %d could overflow the int32 accumulator", (int)d->depth);
  }
  if (bias != NULL) {
    if (bias->type != GBNN_INT32) {
      return gbnn_refuse(c, n, GBNN_UNSUPPORTED, "bias of type %s: only INT32 is supported",
                         gbnn_type_name(bias->type));
    }
    if (gbnn_checked_elements(bias) < d->out_d) {
      return gbnn_refuse(c, n, GBNN_BAD_MODEL, "bias has %d elements for %d outputs", (int)gbnn_checked_elements(bias),
                         (int)d->out_d);
    }
  }
  if ((st = gbnn_activation_range(c, n, act, output, &d->act_min, &d->act_max)) != GBNN_OK) {
    return st;
  }
  d->input_offset = -input->zero_point;
  d->output_offset = output->zero_point;
  d->per_channel = filter->n_scales > 1;
  if (d->per_channel) {
    if (filter->quantized_dimension != 0 || filter->n_scales != filter->dims[0] || filter->n_scales < d->out_d) {
      return gbnn_refuse(c, n, GBNN_UNSUPPORTED, "filter has %d scales along dimension %d", (int)filter->n_scales,
                         (int)filter->quantized_dimension);
    }
    d->filter_offset = 0; /* TFLM's per-channel kernel ignores the filter's zero points */
    d->multiplier = (int32_t *)gbnn_persistent(c, sizeof(int32_t) * (size_t)d->out_d);
    d->shift = (int32_t *)gbnn_persistent(c, sizeof(int32_t) * (size_t)d->out_d);
    if (d->multiplier == NULL || d->shift == NULL) {
      return gbnn_status_of(c);
    }
    for (int32_t i = 0; i < d->out_d; ++i) {
      const double effective = (double)input->scale * (double)filter->scales[i] / (double)output->scale;
      gbnn_quantize_multiplier(effective, &d->multiplier[i], &d->shift[i]);
      if (d->shift[i] > 30) {
        return gbnn_refuse(c, n, GBNN_UNSUPPORTED, "requantisation multiplier of channel %d is 2^31 or more", (int)i);
      }
    }
  } else {
    if (filter->zero_point < -128 || filter->zero_point > 127) {
      return gbnn_refuse(c, n, GBNN_UNSUPPORTED, "filter zero point %d is outside int8", (int)filter->zero_point);
    }
    /* TFLM's GetQuantizedConvolutionMultipler: the input x filter product in float, and a bias whose scale is
     * too far from it refused. */
    const double product = (double)(input->scale * filter->scale);
    if (bias != NULL) {
      const double bias_scale = bias->n_scales > 0 ? (double)bias->scale : 0.0;
      const double diff = product > bias_scale ? product - bias_scale : bias_scale - product;
      if (!(diff / (double)output->scale <= 0.02)) {
        return gbnn_refuse(c, n, GBNN_UNSUPPORTED, "bias scale differs from input scale x filter scale");
      }
    }
    d->filter_offset = -filter->zero_point;
    gbnn_quantize_multiplier(product / (double)output->scale, &d->multiplier0, &d->shift0);
    if (d->shift0 > 30) {
      return gbnn_refuse(c, n, GBNN_UNSUPPORTED, "requantisation multiplier is 2^31 or more");
    }
    d->multiplier = &d->multiplier0;
    d->shift = &d->shift0;
  }
  d->k = gbnn_kernels_current();
  n->data = d;
  return GBNN_OK;
}

static gbnn_status eval(gbnn_ctx *c, const gbnn_node *n) {
  const fc_data *d = (const fc_data *)n->data;
  const int8_t *input = (const int8_t *)gbnn_node_input(c, n, 0)->data;
  const int8_t *filter = (const int8_t *)gbnn_node_input(c, n, 1)->data;
  const gbnn_tensor *bias_t = gbnn_node_input(c, n, 2);
  const int32_t *bias = bias_t != NULL ? (const int32_t *)bias_t->data : NULL;
  int8_t *output = (int8_t *)gbnn_node_output(c, n, 0)->data;
  int32_t acc[FC_BLOCK];
  for (int32_t b = 0; b < d->batches; ++b) {
    const int8_t *in_b = input + (size_t)b * (size_t)d->depth;
    for (int32_t oc0 = 0; oc0 < d->out_d; oc0 += FC_BLOCK) {
      const int32_t count = d->out_d - oc0 < FC_BLOCK ? d->out_d - oc0 : FC_BLOCK;
      for (int32_t i = 0; i < count; ++i) {
        acc[i] = 0;
      }
      d->k->gemv(acc, in_b, filter + (size_t)oc0 * (size_t)d->depth, d->depth, (size_t)d->depth, count,
                 d->input_offset, d->filter_offset);
      for (int32_t i = 0; i < count; ++i) {
        const int32_t oc = oc0 + i;
        const int32_t total = bias != NULL ? gbnn_wrap_add(acc[i], bias[oc]) : acc[i];
        const int32_t k = d->per_channel ? oc : 0;
        output[(size_t)b * (size_t)d->out_d + (size_t)oc] =
            gbnn_requant_s8(total, d->multiplier[k], d->shift[k], d->output_offset, d->act_min, d->act_max);
      }
    }
  }
  return GBNN_OK;
}

const gbnn_op gbnn_op_fully_connected = {"FULLY_CONNECTED", 9, 8, prepare, eval};
