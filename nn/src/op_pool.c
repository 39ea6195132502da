/* MAX_POOL_2D, int8: TFLM's reference_integer_ops::MaxPool (window clipped to the image, SAME/VALID, strides,
 * fused RELU/RELU6/RELU_N1_TO_1 from the output's quantisation); input and output must share their quantisation
 * (TFLM allows scales 1e-6 apart). */
#include <math.h>
#include <stddef.h>

#include "internal.h"
#include "quant.h"

typedef struct {
  int32_t batches, in_h, in_w, depth, out_h, out_w;
  int32_t stride_h, stride_w, f_h, f_w, pad_h, pad_w;
  int32_t act_min, act_max;
} pool_data;

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
  if (input->rank != 4 || output->rank != 4) {
    return gbnn_refuse(c, n, GBNN_UNSUPPORTED, "input and output must be 4-D");
  }
  const float scale_diff = fabsf(input->scale - output->scale);
  if (!((double)scale_diff <= 1.0e-6) || input->zero_point != output->zero_point) {
    return gbnn_refuse(c, n, GBNN_UNSUPPORTED, "input and output quantisation differ");
  }
  pool_data *d = (pool_data *)gbnn_persistent(c, sizeof(pool_data));
  if (d == NULL) {
    return gbnn_status_of(c);
  }
  const int32_t padding = gbnn_table_i8(&n->options, 0, GBNN_PAD_SAME);
  d->stride_w = gbnn_table_i32(&n->options, 1, 0);
  d->stride_h = gbnn_table_i32(&n->options, 2, 0);
  d->f_w = gbnn_table_i32(&n->options, 3, 0);
  d->f_h = gbnn_table_i32(&n->options, 4, 0);
  const int32_t act = gbnn_table_i8(&n->options, 5, GBNN_ACT_NONE);
  if (padding != GBNN_PAD_SAME && padding != GBNN_PAD_VALID) {
    return gbnn_refuse(c, n, GBNN_UNSUPPORTED, "unknown padding %d", (int)padding);
  }
  if (d->stride_w <= 0 || d->stride_h <= 0 || d->f_w <= 0 || d->f_h <= 0) {
    return gbnn_refuse(c, n, GBNN_BAD_MODEL, "strides and filter sizes must be positive");
  }
  d->batches = input->dims[0];
  d->in_h = input->dims[1];
  d->in_w = input->dims[2];
  d->depth = input->dims[3];
  if (d->batches < 0 || d->in_h < 0 || d->in_w < 0 || d->depth < 0) {
    return gbnn_refuse(c, n, GBNN_BAD_MODEL, "negative input dimension");
  }
  d->out_h = gbnn_conv_out_size(padding, d->in_h, d->f_h, d->stride_h, 1);
  d->out_w = gbnn_conv_out_size(padding, d->in_w, d->f_w, d->stride_w, 1);
  if (output->dims[0] != d->batches || output->dims[1] != d->out_h || output->dims[2] != d->out_w ||
      output->dims[3] != d->depth) {
    return gbnn_refuse(c, n, GBNN_BAD_MODEL, "output shape does not match the pooling (expected %d x %d x %d x %d)",
                       (int)d->batches, (int)d->out_h, (int)d->out_w, (int)d->depth);
  }
  d->pad_h = gbnn_conv_pad(d->stride_h, 1, d->in_h, d->f_h, d->out_h);
  d->pad_w = gbnn_conv_pad(d->stride_w, 1, d->in_w, d->f_w, d->out_w);
  if ((st = gbnn_activation_range(c, n, act, output, &d->act_min, &d->act_max)) != GBNN_OK) {
    return st;
  }
  n->data = d;
  return GBNN_OK;
}

/* The running maximum of one window row over all channels: the loop a SIMD variant replaces. */
static void max_row(int8_t *acc, const int8_t *in, int32_t depth) {
  for (int32_t ch = 0; ch < depth; ++ch) {
    acc[ch] = in[ch] > acc[ch] ? in[ch] : acc[ch];
  }
}

static gbnn_status eval(gbnn_ctx *c, const gbnn_node *n) {
  const pool_data *d = (const pool_data *)n->data;
  const int8_t *input = (const int8_t *)gbnn_node_input(c, n, 0)->data;
  int8_t *output = (int8_t *)gbnn_node_output(c, n, 0)->data;
  for (int32_t b = 0; b < d->batches; ++b) {
    for (int32_t oy = 0; oy < d->out_h; ++oy) {
      const int32_t y0 = oy * d->stride_h - d->pad_h;
      const int32_t fy0 = y0 < 0 ? -y0 : 0;
      const int32_t fy1 = d->f_h < d->in_h - y0 ? d->f_h : d->in_h - y0;
      for (int32_t ox = 0; ox < d->out_w; ++ox) {
        const int32_t x0 = ox * d->stride_w - d->pad_w;
        const int32_t fx0 = x0 < 0 ? -x0 : 0;
        const int32_t fx1 = d->f_w < d->in_w - x0 ? d->f_w : d->in_w - x0;
        int8_t *out_px =
            output + (((size_t)b * (size_t)d->out_h + (size_t)oy) * (size_t)d->out_w + (size_t)ox) * (size_t)d->depth;
        for (int32_t ch = 0; ch < d->depth; ++ch) {
          out_px[ch] = -128;
        }
        for (int32_t fy = fy0; fy < fy1; ++fy) {
          for (int32_t fx = fx0; fx < fx1; ++fx) {
            const size_t in_off =
                (((size_t)b * (size_t)d->in_h + (size_t)(y0 + fy)) * (size_t)d->in_w + (size_t)(x0 + fx)) *
                (size_t)d->depth;
            max_row(out_px, input + in_off, d->depth);
          }
        }
        for (int32_t ch = 0; ch < d->depth; ++ch) {
          out_px[ch] = (int8_t)gbnn_clamp(out_px[ch], d->act_min, d->act_max);
        }
      }
    }
  }
  return GBNN_OK;
}

const gbnn_op gbnn_op_max_pool_2d = {"MAX_POOL_2D", 17, 5, prepare, eval};
