/* Data movement: RESHAPE, CONCATENATION, SPLIT_V, STRIDED_SLICE. Bytes are copied, never requantised: where TFLM
 * requires the quantisation of inputs and outputs to agree it is checked here and a model that differs is refused.
 * Every output shape is checked against the model's at prepare, so eval copies exactly the bytes planned. */
#include <string.h>

#include "core_private.h"

#define OPTIONS_CONCATENATION 10
#define OPTIONS_RESHAPE 17
#define OPTIONS_STRIDED_SLICE 32
#define OPTIONS_SPLIT_V 79
#define MAX_CONCAT_INPUTS 10 /* TFLM's kMaxInputNum */

static bool data_type(int32_t type) { return gbnn_type_size(type) != 0; }

/* ---- RESHAPE: the model's output shape (its shape input is not read, as TFLM), same elements and type ---- */

static gbnn_status reshape_prepare(gbnn_ctx *c, gbnn_node *n) {
  if (n->n_inputs < 1 || n->n_inputs > 2 || n->n_outputs != 1) {
    return gbnn_refuse(c, n, GBNN_BAD_MODEL, "takes one or two inputs, gives one output");
  }
  const gbnn_tensor *in = gbnn_node_input(c, n, 0), *out = gbnn_node_output(c, n, 0);
  if (in == NULL) return gbnn_refuse(c, n, GBNN_BAD_MODEL, "no input");
  if (!data_type(in->type) || in->type != out->type) {
    return gbnn_refuse(c, n, GBNN_UNSUPPORTED, "reshapes %s into %s", gbnn_type_name(in->type),
                       gbnn_type_name(out->type));
  }
  if (gbnn_elements(in) != gbnn_elements(out)) {
    return gbnn_refuse(c, n, GBNN_BAD_MODEL, "%d elements into %d", gbnn_elements(in), gbnn_elements(out));
  }
  return GBNN_OK;
}

static gbnn_status reshape_eval(gbnn_ctx *c, const gbnn_node *n) {
  const gbnn_tensor *in = gbnn_node_input(c, n, 0);
  gbnn_tensor *out = gbnn_node_output(c, n, 0);
  if (in->bytes > 0 && in->data != out->data) memmove(out->data, in->data, in->bytes);
  return GBNN_OK;
}

const gbnn_op gbnn_op_reshape = {"RESHAPE", 22, OPTIONS_RESHAPE, reshape_prepare, reshape_eval};

/* ---- shared by CONCATENATION and SPLIT_V: pieces along one axis of a larger tensor ---- */

typedef struct {
  int32_t outer;      /* product of the dimensions before the axis */
  size_t inner_bytes; /* bytes of one step along the axis (product of the dimensions after it, times the element) */
} axis_data;

/* Checks that the pieces (inputs or outputs `first`..) put together along `axis` make `whole`; fills d. */
static gbnn_status check_pieces(gbnn_ctx *c, const gbnn_node *n, const gbnn_tensor *whole, bool pieces_are_inputs,
                                int32_t axis, axis_data *d) {
  int32_t count = pieces_are_inputs ? n->n_inputs : n->n_outputs;
  int64_t along = 0;
  for (int32_t i = 0; i < count; i++) {
    const gbnn_tensor *p = pieces_are_inputs ? gbnn_node_input(c, n, i) : gbnn_node_output(c, n, i);
    if (p == NULL) return gbnn_refuse(c, n, GBNN_BAD_MODEL, "a missing tensor");
    if (p->type != whole->type) {
      return gbnn_refuse(c, n, GBNN_UNSUPPORTED, "mixes %s and %s", gbnn_type_name(p->type),
                         gbnn_type_name(whole->type));
    }
    if (p->rank != whole->rank) return gbnn_refuse(c, n, GBNN_BAD_MODEL, "ranks %d and %d", p->rank, whole->rank);
    for (int32_t k = 0; k < whole->rank; k++) {
      if (k != axis && p->dims[k] != whole->dims[k]) {
        return gbnn_refuse(c, n, GBNN_BAD_MODEL, "dimension %d is %d, not %d", k, p->dims[k], whole->dims[k]);
      }
    }
    along += p->dims[axis];
  }
  if (along != whole->dims[axis]) {
    return gbnn_refuse(c, n, GBNN_BAD_MODEL, "the pieces make %d along axis %d, not %d", (int32_t)along, axis,
                       whole->dims[axis]);
  }
  d->outer = 1;
  for (int32_t k = 0; k < axis; k++) d->outer *= whole->dims[k];
  d->inner_bytes = gbnn_type_size(whole->type);
  for (int32_t k = axis + 1; k < whole->rank; k++) d->inner_bytes *= (size_t)whole->dims[k];
  return GBNN_OK;
}

/* ---- CONCATENATION ---- */

static gbnn_status concat_prepare(gbnn_ctx *c, gbnn_node *n) {
  if (n->n_inputs < 1 || n->n_outputs != 1) return gbnn_refuse(c, n, GBNN_BAD_MODEL, "no inputs");
  if (n->n_inputs > MAX_CONCAT_INPUTS) {
    return gbnn_refuse(c, n, GBNN_UNSUPPORTED, "%d inputs (TFLM takes at most %d)", n->n_inputs, MAX_CONCAT_INPUTS);
  }
  if (gbnn_table_i8(&n->options, 1, 0) != 0) return gbnn_refuse(c, n, GBNN_UNSUPPORTED, "a fused activation");
  const gbnn_tensor *out = gbnn_node_output(c, n, 0);
  int32_t type = out->type;
  if (type != GBNN_FLOAT32 && type != GBNN_INT8 && type != GBNN_INT16 && type != GBNN_INT32 && type != GBNN_INT64 &&
      type != GBNN_BOOL) {
    return gbnn_refuse(c, n, GBNN_UNSUPPORTED, "type %s", gbnn_type_name(type));
  }
  if (out->rank < 1 || out->rank > 5) return gbnn_refuse(c, n, GBNN_UNSUPPORTED, "rank %d", out->rank);
  int32_t axis = gbnn_table_i32(&n->options, 0, 0);
  if (axis < 0) axis += out->rank;
  if (axis < 0 || axis >= out->rank) return gbnn_refuse(c, n, GBNN_BAD_MODEL, "axis %d of rank %d", axis, out->rank);
  for (int32_t i = 0; i < n->n_inputs; i++) {
    const gbnn_tensor *in = gbnn_node_input(c, n, i);
    if (in == NULL) return gbnn_refuse(c, n, GBNN_BAD_MODEL, "input %d is missing", i);
    /* TFLM: int8 inputs are not rescaled: their quantisation must be the output's; int16 zero points are 0. */
    if (type == GBNN_INT8 && in->type == GBNN_INT8 && (in->scale != out->scale || in->zero_point != out->zero_point)) {
      return gbnn_refuse(c, n, GBNN_UNSUPPORTED, "input %d's quantisation differs from the output's (rescaling)", i);
    }
    if (type == GBNN_INT16 && (in->zero_point != 0 || out->zero_point != 0)) {
      return gbnn_refuse(c, n, GBNN_UNSUPPORTED, "int16 with a zero point");
    }
  }
  axis_data *d = gbnn_persistent(c, sizeof *d);
  if (d == NULL) return gbnn_status_of(c);
  n->data = d;
  return check_pieces(c, n, out, true, axis, d);
}

static gbnn_status concat_eval(gbnn_ctx *c, const gbnn_node *n) {
  const axis_data *d = n->data;
  uint8_t *dst = gbnn_node_output(c, n, 0)->data;
  for (int32_t o = 0; o < d->outer; o++) {
    for (int32_t i = 0; i < n->n_inputs; i++) {
      const gbnn_tensor *in = gbnn_node_input(c, n, i);
      const size_t chunk = in->bytes / (size_t)d->outer; /* its length along the axis times inner_bytes */
      if (chunk > 0) memcpy(dst, (const uint8_t *)in->data + (size_t)o * chunk, chunk);
      dst += chunk;
    }
  }
  return GBNN_OK;
}

const gbnn_op gbnn_op_concatenation = {"CONCATENATION", 2, OPTIONS_CONCATENATION, concat_prepare, concat_eval};

/* ---- SPLIT_V: the output shapes decide (as TFLM); size_splits must agree with them ---- */

static gbnn_status split_v_prepare(gbnn_ctx *c, gbnn_node *n) {
  if (n->n_inputs != 3 || n->n_outputs < 1) return gbnn_refuse(c, n, GBNN_BAD_MODEL, "takes three inputs");
  const gbnn_tensor *in = gbnn_node_input(c, n, 0), *sizes = gbnn_node_input(c, n, 1),
                    *axis_t = gbnn_node_input(c, n, 2);
  if (in == NULL || sizes == NULL || axis_t == NULL) return gbnn_refuse(c, n, GBNN_BAD_MODEL, "a missing input");
  if (in->type != GBNN_FLOAT32 && in->type != GBNN_INT8 && in->type != GBNN_INT16 && in->type != GBNN_INT32) {
    return gbnn_refuse(c, n, GBNN_UNSUPPORTED, "type %s", gbnn_type_name(in->type));
  }
  if (!axis_t->is_constant || axis_t->type != GBNN_INT32 || gbnn_elements(axis_t) < 1) {
    return gbnn_refuse(c, n, GBNN_UNSUPPORTED, "an axis that is not a constant int32");
  }
  if (in->rank < 1) return gbnn_refuse(c, n, GBNN_BAD_MODEL, "a scalar input");
  int32_t axis = ((const int32_t *)axis_t->data)[0];
  if (axis < 0) axis += in->rank;
  if (axis < 0 || axis >= in->rank) return gbnn_refuse(c, n, GBNN_BAD_MODEL, "axis %d of rank %d", axis, in->rank);
  int32_t num_splits = gbnn_table_i32(&n->options, 0, n->n_outputs);
  if (num_splits != n->n_outputs) {
    return gbnn_refuse(c, n, GBNN_BAD_MODEL, "num_splits %d but %d outputs", num_splits, n->n_outputs);
  }
  if (!sizes->is_constant || sizes->type != GBNN_INT32 || gbnn_elements(sizes) != n->n_outputs) {
    return gbnn_refuse(c, n, GBNN_UNSUPPORTED, "size_splits that are not %d constant int32", n->n_outputs);
  }
  const int32_t *split = sizes->data;
  for (int32_t i = 0; i < n->n_outputs; i++) {
    if (split[i] != -1 && split[i] != gbnn_node_output(c, n, i)->dims[axis]) {
      return gbnn_refuse(c, n, GBNN_UNSUPPORTED, "size_splits[%d] = %d but output %d has %d", i, split[i], i,
                         gbnn_node_output(c, n, i)->dims[axis]);
    }
  }
  axis_data *d = gbnn_persistent(c, sizeof *d);
  if (d == NULL) return gbnn_status_of(c);
  n->data = d;
  return check_pieces(c, n, in, false, axis, d);
}

static gbnn_status split_v_eval(gbnn_ctx *c, const gbnn_node *n) {
  const axis_data *d = n->data;
  const uint8_t *src = gbnn_node_input(c, n, 0)->data;
  for (int32_t o = 0; o < d->outer; o++) {
    for (int32_t i = 0; i < n->n_outputs; i++) {
      gbnn_tensor *out = gbnn_node_output(c, n, i);
      size_t chunk = out->bytes / (size_t)d->outer;
      if (chunk > 0) memcpy((uint8_t *)out->data + (size_t)o * chunk, src, chunk);
      src += chunk;
    }
  }
  return GBNN_OK;
}

const gbnn_op gbnn_op_split_v = {"SPLIT_V", 102, OPTIONS_SPLIT_V, split_v_prepare, split_v_eval};

/* ---- STRIDED_SLICE: TFLM's variant (rank <= 4, constant begin/end/strides, begin/end/shrink masks) ---- */

#define SLICE_DIMS 5

typedef struct {
  int32_t start[SLICE_DIMS], stop[SLICE_DIMS], stride[SLICE_DIMS], dims[SLICE_DIMS];
  uint32_t elem;
} slice_data;

static int32_t clamp(int32_t v, int32_t lo, int32_t hi) { return v < lo ? lo : (v > hi ? hi : v); }

/* Start and stop as TFLM's eval computes them (strided_slice reference, padded to 5 dimensions). */
static int32_t eval_start(int32_t begin, int32_t stride, int32_t size, bool begin_mask) {
  int32_t start = begin;
  if (start < 0) start += size; /* no overflow: size >= 0 */
  start = stride > 0 ? clamp(start, 0, size) : clamp(start, -1, size - 1);
  if (begin_mask) start = stride > 0 ? 0 : size - 1;
  return start;
}

static int32_t eval_stop(int32_t end, int32_t stride, int32_t size, int32_t start, bool end_mask, bool shrink) {
  if (shrink) return start >= size ? start : start + 1;
  int32_t stop = end;
  if (stop < 0) stop += size;
  stop = stride > 0 ? clamp(stop, 0, size) : clamp(stop, -1, size - 1);
  if (end_mask) stop = stride > 0 ? size : -1;
  return stop;
}

/* The output dimension as TFLM's prepare computes it (the older StartForAxis / StopForAxis). */
static int32_t prepare_dim(int32_t begin, int32_t end, int32_t stride, int32_t size, bool begin_mask, bool end_mask,
                           bool shrink) {
  int64_t start = 0, stop = 0;
  if (size != 0) {
    start = begin_mask ? (stride > 0 ? INT32_MIN : INT32_MAX) : begin;
    if (start < 0) start += size;
    start = stride > 0 ? (start < 0 ? 0 : (start > size ? size : start))
                       : (start < -1 ? -1 : (start > size - 1 ? size - 1 : start));
    if (shrink) {
      stop = start + 1;
    } else {
      stop = end_mask ? (stride > 0 ? INT32_MAX : INT32_MIN) : end;
      if (stop < 0) stop += size;
      stop = stride > 0 ? (stop < 0 ? 0 : (stop > size ? size : stop))
                        : (stop < -1 ? -1 : (stop > size - 1 ? size - 1 : stop));
    }
  }
  if (shrink) stop = start + 1;
  int64_t span = stop - start, q = span / stride, r = span % stride;
  if (r != 0 && ((r > 0) == (stride > 0))) q++;
  return q < 0 ? 0 : (int32_t)q;
}

static int64_t steps(int32_t start, int32_t stop, int32_t stride) {
  int64_t span = (int64_t)stop - start;
  if (stride > 0) return span <= 0 ? 0 : (span + stride - 1) / stride;
  return span >= 0 ? 0 : (-span + (-(int64_t)stride) - 1) / (-(int64_t)stride);
}

static gbnn_status strided_slice_prepare(gbnn_ctx *c, gbnn_node *n) {
  if (n->n_inputs != 4 || n->n_outputs != 1) return gbnn_refuse(c, n, GBNN_BAD_MODEL, "takes four inputs");
  const gbnn_tensor *in = gbnn_node_input(c, n, 0), *out = gbnn_node_output(c, n, 0);
  const gbnn_tensor *tb = gbnn_node_input(c, n, 1), *te = gbnn_node_input(c, n, 2), *ts = gbnn_node_input(c, n, 3);
  if (in == NULL || tb == NULL || te == NULL || ts == NULL) return gbnn_refuse(c, n, GBNN_BAD_MODEL, "a missing input");
  if (in->type != GBNN_FLOAT32 && in->type != GBNN_INT8 && in->type != GBNN_INT16 && in->type != GBNN_INT32 &&
      in->type != GBNN_BOOL) {
    return gbnn_refuse(c, n, GBNN_UNSUPPORTED, "type %s", gbnn_type_name(in->type));
  }
  if (out->type != in->type) return gbnn_refuse(c, n, GBNN_BAD_MODEL, "output type differs from the input's");
  const int32_t rank = in->rank;
  if (rank > 4) return gbnn_refuse(c, n, GBNN_UNSUPPORTED, "rank %d (TFLM slices at most 4)", rank);
  const gbnn_tensor *idx[3] = {tb, te, ts};
  for (int i = 0; i < 3; i++) {
    if (!idx[i]->is_constant || idx[i]->type != GBNN_INT32 || gbnn_elements(idx[i]) != rank) {
      return gbnn_refuse(c, n, GBNN_UNSUPPORTED, "begin, end and strides must be constant int32 of %d", rank);
    }
  }
  const int32_t begin_mask = gbnn_table_i32(&n->options, 0, 0), end_mask = gbnn_table_i32(&n->options, 1, 0);
  const int32_t ellipsis = gbnn_table_i32(&n->options, 2, 0), new_axis = gbnn_table_i32(&n->options, 3, 0);
  const int32_t shrink_mask = gbnn_table_i32(&n->options, 4, 0);
  if (ellipsis != 0 || new_axis != 0) return gbnn_refuse(c, n, GBNN_UNSUPPORTED, "an ellipsis or new-axis mask");
  if (gbnn_table_i8(&n->options, 5, 0) != 0) return gbnn_refuse(c, n, GBNN_UNSUPPORTED, "offset");
  const int32_t *begin = tb->data, *end = te->data, *stride = ts->data;

  slice_data *d = gbnn_persistent(c, sizeof *d);
  if (d == NULL) return gbnn_status_of(c);
  n->data = d;
  d->elem = (uint32_t)gbnn_type_size(in->type);
  /* Pad to 5 dimensions at the front: whole axes of size 1. */
  const int32_t pad = SLICE_DIMS - rank;
  int32_t out_rank = 0;
  int64_t count = 1;
  for (int32_t a = 0; a < SLICE_DIMS; a++) {
    if (a < pad) {
      d->dims[a] = 1;
      d->start[a] = 0;
      d->stop[a] = 1;
      d->stride[a] = 1;
      continue;
    }
    const int32_t k = a - pad, size = in->dims[k];
    const bool bm = (begin_mask >> k) & 1, em = (end_mask >> k) & 1, sm = (shrink_mask >> k) & 1;
    if (stride[k] == 0) return gbnn_refuse(c, n, GBNN_BAD_MODEL, "stride 0 on axis %d", k);
    d->dims[a] = size;
    d->stride[a] = stride[k];
    d->start[a] = eval_start(begin[k], stride[k], size, bm);
    d->stop[a] = eval_stop(end[k], stride[k], size, d->start[a], em, sm);
    count *= steps(d->start[a], d->stop[a], d->stride[a]);
    int32_t dim = prepare_dim(begin[k], end[k], stride[k], size, bm, em, sm);
    if (!sm) {
      if (out_rank >= out->rank || out->dims[out_rank] != dim) {
        return gbnn_refuse(c, n, GBNN_BAD_MODEL, "output dimension %d should be %d", out_rank, dim);
      }
      out_rank++;
    }
  }
  if (out_rank != out->rank) return gbnn_refuse(c, n, GBNN_BAD_MODEL, "output rank %d, not %d", out->rank, out_rank);
  if (count != gbnn_elements(out)) {
    return gbnn_refuse(c, n, GBNN_UNSUPPORTED, "slices %d elements into an output of %d", (int32_t)count,
                       gbnn_elements(out));
  }
  return GBNN_OK;
}

static bool more(int32_t i, int32_t stop, int32_t stride) { return stride > 0 ? i < stop : i > stop; }

static gbnn_status strided_slice_eval(gbnn_ctx *c, const gbnn_node *n) {
  const slice_data *d = n->data;
  const uint8_t *src = gbnn_node_input(c, n, 0)->data;
  uint8_t *dst = gbnn_node_output(c, n, 0)->data;
  const size_t e = d->elem;
  const int32_t *dm = d->dims;
  for (int32_t i0 = d->start[0]; more(i0, d->stop[0], d->stride[0]); i0 += d->stride[0]) {
    for (int32_t i1 = d->start[1]; more(i1, d->stop[1], d->stride[1]); i1 += d->stride[1]) {
      for (int32_t i2 = d->start[2]; more(i2, d->stop[2], d->stride[2]); i2 += d->stride[2]) {
        for (int32_t i3 = d->start[3]; more(i3, d->stop[3], d->stride[3]); i3 += d->stride[3]) {
          const size_t row = ((((size_t)i0 * (size_t)dm[1] + (size_t)i1) * (size_t)dm[2] + (size_t)i2) * (size_t)dm[3] +
                              (size_t)i3) * (size_t)dm[4];
          if (d->stride[4] == 1) {
            if (d->stop[4] > d->start[4]) {
              size_t len = (size_t)(d->stop[4] - d->start[4]) * e;
              memcpy(dst, src + (row + (size_t)d->start[4]) * e, len);
              dst += len;
            }
          } else {
            for (int32_t i4 = d->start[4]; more(i4, d->stop[4], d->stride[4]); i4 += d->stride[4]) {
              memcpy(dst, src + (row + (size_t)i4) * e, e);
              dst += e;
            }
          }
        }
      }
    }
  }
  return GBNN_OK;
}

const gbnn_op gbnn_op_strided_slice = {"STRIDED_SLICE", 45, OPTIONS_STRIDED_SLICE, strided_slice_prepare,
                                       strided_slice_eval};
