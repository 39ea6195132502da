/* CONV_2D, int8: TFLM's reference_integer_ops::ConvPerChannel (per-channel or per-tensor int8 filters, optional
 * int32 bias, strides, dilation, SAME/VALID, fused RELU/RELU6/RELU_N1_TO_1, grouped filters). The filter's zero
 * points are ignored, as TFLM's kernel ignores them (LiteRT refuses non-zero ones). */
#include <stddef.h>

#include "internal.h"
#include "kernels.h"
#include "quant.h"

typedef struct {
  int32_t batches, in_h, in_w, in_d;
  int32_t f_h, f_w, f_d, out_h, out_w, out_d, per_group;
  int32_t stride_h, stride_w, dil_h, dil_w, pad_h, pad_w;
  int32_t input_offset, output_offset, act_min, act_max;
  int32_t *multiplier;
  int32_t *shift;
  const gbnn_kernels *k; /* the kernel set current at gbnn_open */
} conv_data;

/* Output channels accumulated together, on the stack (no arena for it). */
#define CONV_BLOCK 64

/* Requantisation parameters for `channels` output channels from the filter's scales (TFLM's
 * PopulateConvolutionQuantizationParams): a per-tensor filter scale is used for every channel. */
static gbnn_status channel_multipliers(gbnn_ctx *c, const gbnn_node *n, const gbnn_tensor *input,
                                       const gbnn_tensor *filter, const gbnn_tensor *output, int32_t channels,
                                       int32_t *multiplier, int32_t *shift) {
  for (int32_t i = 0; i < channels; ++i) {
    const float fs = filter->n_scales > 1 ? filter->scales[i] : filter->scale;
    const double effective = (double)input->scale * (double)fs / (double)output->scale;
    gbnn_quantize_multiplier(effective, &multiplier[i], &shift[i]);
    if (shift[i] > 30) {
      return gbnn_refuse(c, n, GBNN_UNSUPPORTED, "requantisation multiplier of channel %d is 2^31 or more", (int)i);
    }
  }
  return GBNN_OK;
}

static gbnn_status prepare(gbnn_ctx *c, gbnn_node *n) {
  const gbnn_tensor *input, *filter, *bias, *output;
  gbnn_status st = gbnn_check_weighted(c, n, &input, &filter, &bias, &output);
  if (st != GBNN_OK) {
    return st;
  }
  if (input->rank != 4 || filter->rank != 4 || output->rank != 4) {
    return gbnn_refuse(c, n, GBNN_UNSUPPORTED, "input, filter and output must be 4-D");
  }
  conv_data *d = (conv_data *)gbnn_persistent(c, sizeof(conv_data));
  if (d == NULL) {
    return gbnn_status_of(c);
  }
  d->batches = input->dims[0];
  d->in_h = input->dims[1];
  d->in_w = input->dims[2];
  d->in_d = input->dims[3];
  d->out_d = filter->dims[0];
  d->f_h = filter->dims[1];
  d->f_w = filter->dims[2];
  d->f_d = filter->dims[3];
  if (d->batches < 0 || d->in_h < 0 || d->in_w < 0 || d->in_d <= 0 || d->out_d <= 0 || d->f_h <= 0 || d->f_w <= 0 ||
      d->f_d <= 0) {
    return gbnn_refuse(c, n, GBNN_BAD_MODEL, "bad input or filter dimensions");
  }
  if (d->in_d % d->f_d != 0) {
    return gbnn_refuse(c, n, GBNN_BAD_MODEL, "input depth %d is not a multiple of the filter depth %d", (int)d->in_d,
                       (int)d->f_d);
  }
  const int32_t groups = d->in_d / d->f_d;
  if (d->out_d % groups != 0) {
    return gbnn_refuse(c, n, GBNN_BAD_MODEL, "output channels %d not divisible into %d groups", (int)d->out_d,
                       (int)groups);
  }
  d->per_group = d->out_d / groups;
  if (filter->n_scales != 1 && (filter->n_scales != d->out_d || filter->quantized_dimension != 0)) {
    return gbnn_refuse(c, n, GBNN_UNSUPPORTED, "filter has %d scales along dimension %d for %d output channels",
                       (int)filter->n_scales, (int)filter->quantized_dimension, (int)d->out_d);
  }
  /* int32 accumulation: every product is at most 128 * 255 in magnitude. */
  if ((int64_t)d->f_h * d->f_w * d->f_d * 32640 > INT32_MAX) {
    return gbnn_refuse(c, n, GBNN_UNSUPPORTED, "filter of %d x %d x %d could overflow the int32 accumulator",
                       (int)d->f_h, (int)d->f_w, (int)d->f_d);
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
  const int32_t padding = gbnn_table_i8(&n->options, 0, GBNN_PAD_SAME);
  d->stride_w = gbnn_table_i32(&n->options, 1, 0);
  d->stride_h = gbnn_table_i32(&n->options, 2, 0);
  const int32_t act = gbnn_table_i8(&n->options, 3, GBNN_ACT_NONE);
  d->dil_w = gbnn_table_i32(&n->options, 4, 1);
  d->dil_h = gbnn_table_i32(&n->options, 5, 1);
  if (padding != GBNN_PAD_SAME && padding != GBNN_PAD_VALID) {
    return gbnn_refuse(c, n, GBNN_UNSUPPORTED, "unknown padding %d", (int)padding);
  }
  if (d->stride_w <= 0 || d->stride_h <= 0 || d->dil_w <= 0 || d->dil_h <= 0) {
    return gbnn_refuse(c, n, GBNN_BAD_MODEL, "strides and dilations must be positive");
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
  if ((st = channel_multipliers(c, n, input, filter, output, d->out_d, d->multiplier, d->shift)) != GBNN_OK) {
    return st;
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

static gbnn_status eval(gbnn_ctx *c, const gbnn_node *n) {
  const conv_data *d = (const conv_data *)n->data;
  const gbnn_gemv_fn gemv = d->k->gemv;
  const gbnn_requant_fn requant = d->k->requant;
  const int8_t *input = (const int8_t *)gbnn_node_input(c, n, 0)->data;
  const int8_t *filter = (const int8_t *)gbnn_node_input(c, n, 1)->data;
  const gbnn_tensor *bias_t = gbnn_node_input(c, n, 2);
  const int32_t *bias = bias_t != NULL ? (const int32_t *)bias_t->data : NULL;
  int8_t *output = (int8_t *)gbnn_node_output(c, n, 0)->data;
  const size_t filter_row = (size_t)d->f_w * (size_t)d->f_d; /* elements of one filter row (y) */
  const size_t filter_size = (size_t)d->f_h * filter_row;
  const size_t in_row = (size_t)d->in_w * (size_t)d->in_d;
  const int32_t groups = d->out_d / d->per_group;
  /* Without dilation and groups, the taps of one filter row meet one contiguous run of the input row. */
  const int contiguous = d->dil_w == 1 && d->f_d == d->in_d;
  /* ... and when the filter is as wide as the input (no dilation along y), successive filter rows meet successive
   * input rows, adjacent in memory: the whole window is one run (okay_nabu's first layer: 5 x 40 in one call). */
  const int rows_adjacent = contiguous && d->dil_h == 1 && d->f_w == d->in_w;
  int32_t acc[CONV_BLOCK];
  int8_t *out = output;
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
        for (int32_t g = 0; g < groups; ++g) {
          const size_t group_offset = (size_t)g * (size_t)d->f_d;
          const int32_t group_end = (g + 1) * d->per_group;
          for (int32_t oc0 = g * d->per_group; oc0 < group_end; oc0 += CONV_BLOCK) {
            const int32_t count = group_end - oc0 < CONV_BLOCK ? group_end - oc0 : CONV_BLOCK;
            const int8_t *f_oc = filter + (size_t)oc0 * filter_size;
            for (int32_t i = 0; i < count; ++i) {
              acc[i] = 0;
            }
            if (rows_adjacent && fx0 == 0 && fx1 == d->f_w && fy1 > fy0) {
              /* The window is whole input rows (x0 is 0 then): one run of the input, one of the filter. */
              gemv(acc, in_b + (size_t)(y0 + fy0) * in_row, f_oc + (size_t)fy0 * filter_row,
                   (fy1 - fy0) * (int32_t)filter_row, filter_size, count, d->input_offset, 0);
            } else {
              for (int32_t fy = fy0; fy < fy1 && fx1 > fx0; ++fy) {
                const int8_t *in_y = in_b + (size_t)(y0 + d->dil_h * fy) * in_row + group_offset;
                const int8_t *f_y = f_oc + (size_t)fy * filter_row;
                if (contiguous) {
                  gemv(acc, in_y + (size_t)(x0 + fx0) * (size_t)d->in_d, f_y + (size_t)fx0 * (size_t)d->f_d,
                       (fx1 - fx0) * d->f_d, filter_size, count, d->input_offset, 0);
                  continue;
                }
                for (int32_t fx = fx0; fx < fx1; ++fx) {
                  gemv(acc, in_y + (size_t)(x0 + d->dil_w * fx) * (size_t)d->in_d, f_y + (size_t)fx * (size_t)d->f_d,
                       d->f_d, filter_size, count, d->input_offset, 0);
                }
              }
            }
            requant(out + oc0, acc, bias != NULL ? bias + oc0 : NULL, d->multiplier + oc0, d->shift + oc0, count,
                    d->output_offset, d->act_min, d->act_max);
          }
        }
        out += d->out_d;
      }
    }
  }
  return GBNN_OK;
}

const gbnn_op gbnn_op_conv_2d = {"CONV_2D", 3, 1, prepare, eval};
