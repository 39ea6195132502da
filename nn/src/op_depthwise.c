/* DEPTHWISE_CONV_2D, int8: TFLM's reference_integer_ops::DepthwiseConvPerChannel (filter [1, H, W, C * M],
 * per-channel or per-tensor int8 filter, optional int32 bias, depth_multiplier M, strides, dilation, SAME/VALID,
 * fused RELU/RELU6/RELU_N1_TO_1). The filter's zero points are ignored, as TFLM's kernel ignores them. An omitted
 * bias must be the 2-input form: TFLM crashes on a third input of -1, so gbnn refuses it. */
#include <stddef.h>

#include "internal.h"
#include "kernels.h"
#include "quant.h"

typedef struct {
  int32_t batches, in_h, in_w, in_d, mult;
  int32_t f_h, f_w, out_h, out_w, out_d;
  int32_t stride_h, stride_w, dil_h, dil_w, pad_h, pad_w;
  int32_t input_offset, output_offset, act_min, act_max;
  int32_t *multiplier;
  int32_t *shift;
  const gbnn_kernels *k; /* the kernel set current at gbnn_open */
} dw_data;

/* Output channels accumulated together, on the stack (no arena for it). */
#define DW_BLOCK 64

static gbnn_status prepare(gbnn_ctx *c, gbnn_node *n) {
  const gbnn_tensor *input, *filter, *bias, *output;
  gbnn_status st = gbnn_check_weighted(c, n, &input, &filter, &bias, &output);
  if (st != GBNN_OK) {
    return st;
  }
  if (input->rank != 4 || filter->rank != 4 || output->rank != 4) {
    return gbnn_refuse(c, n, GBNN_UNSUPPORTED, "input, filter and output must be 4-D");
  }
  dw_data *d = (dw_data *)gbnn_persistent(c, sizeof(dw_data));
  if (d == NULL) {
    return gbnn_status_of(c);
  }
  d->batches = input->dims[0];
  d->in_h = input->dims[1];
  d->in_w = input->dims[2];
  d->in_d = input->dims[3];
  d->f_h = filter->dims[1];
  d->f_w = filter->dims[2];
  d->out_d = filter->dims[3];
  if (filter->dims[0] != 1 || d->batches < 0 || d->in_h < 0 || d->in_w < 0 || d->in_d <= 0 || d->f_h <= 0 ||
      d->f_w <= 0 || d->out_d <= 0) {
    return gbnn_refuse(c, n, GBNN_BAD_MODEL, "bad input or filter dimensions");
  }
  const int32_t padding = gbnn_table_i8(&n->options, 0, GBNN_PAD_SAME);
  d->stride_w = gbnn_table_i32(&n->options, 1, 0);
  d->stride_h = gbnn_table_i32(&n->options, 2, 0);
  d->mult = gbnn_table_i32(&n->options, 3, 0);
  const int32_t act = gbnn_table_i8(&n->options, 4, GBNN_ACT_NONE);
  d->dil_w = gbnn_table_i32(&n->options, 5, 1);
  d->dil_h = gbnn_table_i32(&n->options, 6, 1);
  if (padding != GBNN_PAD_SAME && padding != GBNN_PAD_VALID) {
    return gbnn_refuse(c, n, GBNN_UNSUPPORTED, "unknown padding %d", (int)padding);
  }
  if (d->stride_w <= 0 || d->stride_h <= 0 || d->dil_w <= 0 || d->dil_h <= 0) {
    return gbnn_refuse(c, n, GBNN_BAD_MODEL, "strides and dilations must be positive");
  }
  if (d->mult <= 0 || (int64_t)d->in_d * d->mult != d->out_d) {
    return gbnn_refuse(c, n, GBNN_UNSUPPORTED, "depth_multiplier %d with %d input and %d output channels",
                       (int)d->mult, (int)d->in_d, (int)d->out_d);
  }
  if (filter->n_scales != 1 && (filter->n_scales != d->out_d || filter->quantized_dimension != 3)) {
    return gbnn_refuse(c, n, GBNN_UNSUPPORTED, "filter has %d scales along dimension %d for %d output channels",
                       (int)filter->n_scales, (int)filter->quantized_dimension, (int)d->out_d);
  }
  if ((int64_t)d->f_h * d->f_w * 32640 > INT32_MAX) {
    return gbnn_refuse(c, n, GBNN_UNSUPPORTED, "filter could overflow the int32 accumulator");
  }
  if (bias == NULL && n->n_inputs == 3) {
    /* TFLM crashes on it and LiteRT refuses it; the 2-input form is the bias-less one. */
    return gbnn_refuse(c, n, GBNN_UNSUPPORTED, "an omitted bias input (-1) is not supported: give 2 inputs");
  }
  if (bias != NULL) {
    if (bias->type != GBNN_INT32) {
      return gbnn_refuse(c, n, GBNN_UNSUPPORTED, "bias of type %s: only INT32 is supported",
                         gbnn_type_name(bias->type));
    }
    if (gbnn_checked_elements(bias) != d->out_d) {
      return gbnn_refuse(c, n, GBNN_BAD_MODEL, "bias has %d elements for %d output channels",
                         (int)gbnn_checked_elements(bias), (int)d->out_d);
    }
  }
  d->out_h = gbnn_conv_out_size(padding, d->in_h, d->f_h, d->stride_h, d->dil_h);
  d->out_w = gbnn_conv_out_size(padding, d->in_w, d->f_w, d->stride_w, d->dil_w);
  if (output->dims[0] != d->batches || output->dims[1] != d->out_h || output->dims[2] != d->out_w ||
      output->dims[3] != d->out_d) {
    return gbnn_refuse(c, n, GBNN_BAD_MODEL, "output shape does not match the convolution (expected %d x %d x %d x %d)",
                       (int)d->batches, (int)d->out_h, (int)d->out_w, (int)d->out_d);
  }
  d->pad_h = gbnn_conv_pad(d->stride_h, d->dil_h, d->in_h, d->f_h, d->out_h);
  d->pad_w = gbnn_conv_pad(d->stride_w, d->dil_w, d->in_w, d->f_w, d->out_w);
  if ((st = gbnn_activation_range(c, n, act, output, &d->act_min, &d->act_max)) != GBNN_OK) {
    return st;
  }
  d->input_offset = -input->zero_point;
  d->output_offset = output->zero_point;
  d->multiplier = (int32_t *)gbnn_persistent(c, sizeof(int32_t) * (size_t)d->out_d);
  d->shift = (int32_t *)gbnn_persistent(c, sizeof(int32_t) * (size_t)d->out_d);
  if (d->multiplier == NULL || d->shift == NULL) {
    return gbnn_status_of(c);
  }
  for (int32_t i = 0; i < d->out_d; ++i) {
    const float fs = filter->n_scales > 1 ? filter->scales[i] : filter->scale;
    const double effective = (double)input->scale * (double)fs / (double)output->scale;
    gbnn_quantize_multiplier(effective, &d->multiplier[i], &d->shift[i]);
    if (d->shift[i] > 30) {
      return gbnn_refuse(c, n, GBNN_UNSUPPORTED, "requantisation multiplier of channel %d is 2^31 or more", (int)i);
    }
  }
  d->k = gbnn_kernels_current();
  n->data = d;
  return GBNN_OK;
}

/* The filter taps [*first, *last) whose input coordinate origin + dilation * tap lies in [0, size). */
static void tap_range(int32_t origin, int32_t dilation, int32_t size, int32_t taps, int32_t *first, int32_t *last) {
  const int32_t lo = origin >= 0 ? 0 : (-origin + dilation - 1) / dilation;
  const int32_t hi = size - origin <= 0 ? 0 : (size - origin + dilation - 1) / dilation;
  *first = lo;
  *last = hi < taps ? hi : taps;
}

/* One filter tap at one pixel, output channels [oc0, oc0 + count): acc[i] += filter[oc] * (input[oc / mult] +
 * offset). Depth multipliers other than 1 (the kernels take 1). */
static void tap_accumulate(int32_t *acc, const int8_t *input, const int8_t *filter, int32_t oc0, int32_t count,
                           int32_t mult, int32_t input_offset) {
  for (int32_t i = 0; i < count; ++i) {
    const int32_t oc = oc0 + i;
    acc[i] += (int32_t)filter[oc] * ((int32_t)input[oc / mult] + input_offset);
  }
}

static gbnn_status eval(gbnn_ctx *c, const gbnn_node *n) {
  const dw_data *d = (const dw_data *)n->data;
  const int8_t *input = (const int8_t *)gbnn_node_input(c, n, 0)->data;
  const int8_t *filter = (const int8_t *)gbnn_node_input(c, n, 1)->data;
  const gbnn_tensor *bias_t = gbnn_node_input(c, n, 2);
  const int32_t *bias = bias_t != NULL ? (const int32_t *)bias_t->data : NULL;
  int8_t *out = (int8_t *)gbnn_node_output(c, n, 0)->data;
  int32_t acc[DW_BLOCK];
  const size_t in_row = (size_t)d->in_w * (size_t)d->in_d;
  for (int32_t b = 0; b < d->batches; ++b) {
    const int8_t *in_b = input + (size_t)b * (size_t)d->in_h * in_row;
    for (int32_t oy = 0; oy < d->out_h; ++oy) {
      const int32_t y0 = oy * d->stride_h - d->pad_h;
      int32_t fy0, fy1;
      tap_range(y0, d->dil_h, d->in_h, d->f_h, &fy0, &fy1);
      for (int32_t ox = 0; ox < d->out_w; ++ox) {
        const int32_t x0 = ox * d->stride_w - d->pad_w;
        int32_t fx0, fx1;
        tap_range(x0, d->dil_w, d->in_w, d->f_w, &fx0, &fx1);
        for (int32_t oc0 = 0; oc0 < d->out_d; oc0 += DW_BLOCK) {
          const int32_t count = d->out_d - oc0 < DW_BLOCK ? d->out_d - oc0 : DW_BLOCK;
          if (fy1 <= fy0 || fx1 <= fx0) {
            for (int32_t i = 0; i < count; ++i) {
              acc[i] = 0;
            }
          } else if (d->mult == 1) {
            /* The kernel set's loop over every tap of this pixel, the sums kept in registers. */
            const int8_t *x = in_b + (size_t)(y0 + d->dil_h * fy0) * in_row +
                              (size_t)(x0 + d->dil_w * fx0) * (size_t)d->in_d + (size_t)oc0;
            const int8_t *f = filter + ((size_t)fy0 * (size_t)d->f_w + (size_t)fx0) * (size_t)d->out_d + (size_t)oc0;
            d->k->dw(acc, x, (size_t)d->dil_h * in_row, (size_t)d->dil_w * (size_t)d->in_d, f,
                     (size_t)d->f_w * (size_t)d->out_d, (size_t)d->out_d, fy1 - fy0, fx1 - fx0, count,
                     d->input_offset);
          } else {
            for (int32_t i = 0; i < count; ++i) {
              acc[i] = 0;
            }
            for (int32_t fy = fy0; fy < fy1; ++fy) {
              const int8_t *in_y = in_b + (size_t)(y0 + d->dil_h * fy) * in_row;
              for (int32_t fx = fx0; fx < fx1; ++fx) {
                tap_accumulate(acc, in_y + (size_t)(x0 + d->dil_w * fx) * (size_t)d->in_d,
                               filter + ((size_t)fy * (size_t)d->f_w + (size_t)fx) * (size_t)d->out_d, oc0, count,
                               d->mult, d->input_offset);
              }
            }
          }
          d->k->requant(out + oc0, acc, bias != NULL ? bias + oc0 : NULL, d->multiplier + oc0, d->shift + oc0, count,
                        d->output_offset, d->act_min, d->act_max);
        }
        out += d->out_d;
      }
    }
  }
  return GBNN_OK;
}

const gbnn_op gbnn_op_depthwise_conv_2d = {"DEPTHWISE_CONV_2D", 4, 2, prepare, eval};
