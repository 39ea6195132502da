/* ADD, int8: TFLM's reference_integer_ops::Add / BroadcastAdd (both inputs rescaled to twice the larger input
 * scale with a left shift of 20, summed, rescaled to the output), numpy-style broadcasting up to GBNN_MAX_RANK
 * dimensions, fused RELU/RELU6/RELU_N1_TO_1. */
#include <stddef.h>

#include "internal.h"
#include "quant.h"

typedef struct {
  int32_t input1_offset, input2_offset, output_offset;
  int32_t input1_multiplier, input1_shift, input2_multiplier, input2_shift;
  int32_t output_multiplier, output_shift, act_min, act_max;
  int32_t broadcast; /* 0: same shapes, elementwise over `count` */
  int32_t count;
  int32_t rank;      /* broadcast: the output's rank, and per dim the output's size and each input's stride */
  int32_t out_dims[GBNN_MAX_RANK];
  int32_t stride1[GBNN_MAX_RANK];
  int32_t stride2[GBNN_MAX_RANK];
} add_data;

#define ADD_LEFT_SHIFT 20

/* Element strides of `t` seen as an `rank`-D tensor aligned at the trailing dims, 0 where it broadcasts. */
static int broadcast_strides(const gbnn_tensor *t, int32_t rank, const int32_t *out_dims, int32_t *stride) {
  int32_t acc = 1;
  for (int32_t i = rank - 1; i >= 0; --i) {
    const int32_t k = i - (rank - t->rank);
    const int32_t dim = k >= 0 ? t->dims[k] : 1;
    if (dim == out_dims[i]) {
      stride[i] = dim == 1 ? 0 : acc;
    } else if (dim == 1) {
      stride[i] = 0;
    } else {
      return 0;
    }
    acc *= dim;
  }
  return 1;
}

static gbnn_status prepare(gbnn_ctx *c, gbnn_node *n) {
  if (n->n_inputs != 2 || n->n_outputs != 1) {
    return gbnn_refuse(c, n, GBNN_BAD_MODEL, "expects 2 inputs and 1 output");
  }
  const gbnn_tensor *in1 = gbnn_node_input(c, n, 0);
  const gbnn_tensor *in2 = gbnn_node_input(c, n, 1);
  const gbnn_tensor *output = gbnn_node_output(c, n, 0);
  gbnn_status st;
  if ((st = gbnn_check_int8(c, n, output, "output")) != GBNN_OK ||
      (st = gbnn_check_per_tensor(c, n, output, "output")) != GBNN_OK ||
      (st = gbnn_check_int8(c, n, in1, "input 1")) != GBNN_OK ||
      (st = gbnn_check_per_tensor(c, n, in1, "input 1")) != GBNN_OK ||
      (st = gbnn_check_int8(c, n, in2, "input 2")) != GBNN_OK ||
      (st = gbnn_check_per_tensor(c, n, in2, "input 2")) != GBNN_OK) {
    return st;
  }
  add_data *d = (add_data *)gbnn_persistent(c, sizeof(add_data));
  if (d == NULL) {
    return gbnn_status_of(c);
  }
  const int32_t act = gbnn_table_i8(&n->options, 0, GBNN_ACT_NONE);
  if ((st = gbnn_activation_range(c, n, act, output, &d->act_min, &d->act_max)) != GBNN_OK) {
    return st;
  }
  /* TFLM's CalculateOpDataAdd, in double as there. */
  const double twice_max = 2.0 * (double)(in1->scale > in2->scale ? in1->scale : in2->scale);
  const double real1 = (double)in1->scale / twice_max;
  const double real2 = (double)in2->scale / twice_max;
  const double real_out = twice_max / ((double)(1 << ADD_LEFT_SHIFT) * (double)output->scale);
  if (!(real_out < 1.0)) {
    return gbnn_refuse(c, n, GBNN_UNSUPPORTED, "output scale too small for the inputs' (rescale >= 1)");
  }
  gbnn_quantize_multiplier(real1, &d->input1_multiplier, &d->input1_shift);
  gbnn_quantize_multiplier(real2, &d->input2_multiplier, &d->input2_shift);
  gbnn_quantize_multiplier(real_out, &d->output_multiplier, &d->output_shift);
  if (d->input1_shift > 0 || d->input2_shift > 0 || d->output_shift > 0) {
    return gbnn_refuse(c, n, GBNN_UNSUPPORTED, "rescale multiplier not below one");
  }
  d->input1_offset = -in1->zero_point;
  d->input2_offset = -in2->zero_point;
  d->output_offset = output->zero_point;

  /* Shapes: equal after aligning at the trailing dims (elementwise), or broadcast. */
  const int32_t rank = in1->rank > in2->rank ? in1->rank : in2->rank;
  if (rank > GBNN_MAX_RANK || output->rank != rank) {
    return gbnn_refuse(c, n, GBNN_UNSUPPORTED, "output rank %d for input ranks %d and %d", (int)output->rank,
                       (int)in1->rank, (int)in2->rank);
  }
  d->rank = rank;
  int same = 1;
  for (int32_t i = 0; i < rank; ++i) {
    const int32_t k1 = i - (rank - in1->rank);
    const int32_t k2 = i - (rank - in2->rank);
    const int32_t a = k1 >= 0 ? in1->dims[k1] : 1;
    const int32_t b = k2 >= 0 ? in2->dims[k2] : 1;
    if (a <= 0 || b <= 0) {
      return gbnn_refuse(c, n, GBNN_UNSUPPORTED, "empty or negative dimensions");
    }
    if (a != b && a != 1 && b != 1) {
      return gbnn_refuse(c, n, GBNN_BAD_MODEL, "input shapes do not broadcast (dimension %d: %d and %d)", (int)i,
                         (int)a, (int)b);
    }
    d->out_dims[i] = a > b ? a : b;
    same = same && a == b;
    if (output->dims[i] != d->out_dims[i]) {
      return gbnn_refuse(c, n, GBNN_BAD_MODEL, "output dimension %d is %d, the broadcast gives %d", (int)i,
                         (int)output->dims[i], (int)d->out_dims[i]);
    }
  }
  d->count = gbnn_checked_elements(output);
  if (d->count < 0) {
    return gbnn_refuse(c, n, GBNN_BAD_MODEL, "output too large");
  }
  d->broadcast = !same;
  if (d->broadcast && (!broadcast_strides(in1, rank, d->out_dims, d->stride1) ||
                       !broadcast_strides(in2, rank, d->out_dims, d->stride2))) {
    return gbnn_refuse(c, n, GBNN_BAD_MODEL, "input shapes do not broadcast");
  }
  n->data = d;
  return GBNN_OK;
}

static int8_t add_one(const add_data *d, int8_t x, int8_t y) {
  const int32_t a = (d->input1_offset + x) * (1 << ADD_LEFT_SHIFT);
  const int32_t b = (d->input2_offset + y) * (1 << ADD_LEFT_SHIFT);
  const int32_t sa = gbnn_mul_by_qm(a, d->input1_multiplier, d->input1_shift);
  const int32_t sb = gbnn_mul_by_qm(b, d->input2_multiplier, d->input2_shift);
  const int32_t out = gbnn_mul_by_qm(sa + sb, d->output_multiplier, d->output_shift) + d->output_offset;
  return (int8_t)gbnn_clamp(out, d->act_min, d->act_max);
}

/* The elementwise loop a SIMD variant replaces; strides of 0 or 1 per input. */
static void add_row(const add_data *d, const int8_t *x, int32_t sx, const int8_t *y, int32_t sy, int8_t *out,
                    int32_t count) {
  for (int32_t i = 0; i < count; ++i) {
    out[i] = add_one(d, x[(size_t)i * (size_t)sx], y[(size_t)i * (size_t)sy]);
  }
}

static gbnn_status eval(gbnn_ctx *c, const gbnn_node *n) {
  const add_data *d = (const add_data *)n->data;
  const int8_t *x = (const int8_t *)gbnn_node_input(c, n, 0)->data;
  const int8_t *y = (const int8_t *)gbnn_node_input(c, n, 1)->data;
  int8_t *out = (int8_t *)gbnn_node_output(c, n, 0)->data;
  if (!d->broadcast) {
    add_row(d, x, 1, y, 1, out, d->count);
    return GBNN_OK;
  }
  /* Odometer over every dim but the last; the last is one row. */
  int32_t index[GBNN_MAX_RANK] = {0};
  const int32_t last = d->rank - 1;
  const int32_t row = d->out_dims[last];
  size_t off1 = 0;
  size_t off2 = 0;
  for (int32_t done = 0; done < d->count; done += row) {
    add_row(d, x + off1, d->stride1[last], y + off2, d->stride2[last], out + done, row);
    for (int32_t i = last - 1; i >= 0; --i) {
      ++index[i];
      off1 += (size_t)d->stride1[i];
      off2 += (size_t)d->stride2[i];
      if (index[i] < d->out_dims[i]) {
        break;
      }
      off1 -= (size_t)d->stride1[i] * (size_t)d->out_dims[i];
      off2 -= (size_t)d->stride2[i] * (size_t)d->out_dims[i];
      index[i] = 0;
    }
  }
  return GBNN_OK;
}

const gbnn_op gbnn_op_add = {"ADD", 0, 11, prepare, eval};
