/* The streaming state, as TFLM keeps it: VAR_HANDLE names a resource variable (container + shared_name, one per
 * distinct pair in the whole model), ASSIGN_VARIABLE sizes its buffer when first prepared (filled with that tensor's
 * zero point) and copies into it, READ_VARIABLE copies out of it, CALL_ONCE runs its init subgraph on the first
 * invoke only (gbnn_reset puts the buffers back to their zero point and does not run it again, as TFLM). */
#include <string.h>

#include "core_private.h"

#define OPTIONS_CALL_ONCE 103
#define OPTIONS_VAR_HANDLE 111

typedef struct {
  int32_t resource;
} resource_data;

static bool same_name(const char *a, uint32_t alen, const char *b, uint32_t blen) {
  return alen == blen && (alen == 0 || memcmp(a, b, alen) == 0);
}

/* ---- VAR_HANDLE ---- */

static gbnn_status var_handle_prepare(gbnn_ctx *c, gbnn_node *n) {
  if (n->n_inputs != 0 || n->n_outputs != 1) {
    return gbnn_refuse(c, n, GBNN_BAD_MODEL, "takes no input, gives one output");
  }
  const gbnn_tensor *out = gbnn_node_output(c, n, 0);
  if (out->type != GBNN_RESOURCE) return gbnn_refuse(c, n, GBNN_BAD_MODEL, "its output is not a resource");
  uint32_t clen = 0, slen = 0;
  const char *container = gbnn_table_string(&n->options, 0, &clen);
  const char *shared = gbnn_table_string(&n->options, 1, &slen);
  if (shared == NULL) return gbnn_refuse(c, n, GBNN_BAD_MODEL, "no shared_name");
  resource_data *d = gbnn_persistent(c, sizeof *d);
  if (d == NULL) return gbnn_status_of(c);
  n->data = d;
  gbnn_interpreter *it = c->it;
  /* As TFLM: an absent container matches any. */
  for (int32_t r = 0; r < it->n_resources; r++) {
    const gbnn_resource *res = &it->resources[r];
    if ((container == NULL || res->container == NULL ||
         same_name(container, clen, res->container, res->container_len)) &&
        same_name(shared, slen, res->shared_name, res->shared_name_len)) {
      d->resource = r;
      return GBNN_OK;
    }
  }
  if (it->n_resources >= it->max_resources) return gbnn_refuse(c, n, GBNN_RUNTIME, "too many resources");
  gbnn_resource *res = &it->resources[it->n_resources];
  memset(res, 0, sizeof *res);
  res->container = container;
  res->container_len = clen;
  res->shared_name = shared;
  res->shared_name_len = slen;
  d->resource = it->n_resources++;
  return GBNN_OK;
}

static gbnn_status nothing(gbnn_ctx *c, const gbnn_node *n) {
  (void)c;
  (void)n;
  return GBNN_OK;
}

const gbnn_op gbnn_op_var_handle = {"VAR_HANDLE", 142, OPTIONS_VAR_HANDLE, var_handle_prepare, nothing};

/* The resource a node's input 0 names: the VAR_HANDLE before it in the same subgraph that writes that tensor. -1
 * when there is none; NO_ARENA when that VAR_HANDLE could not keep its data (the arena ran out: not a refusal). */
#define NO_ARENA (-2)
static int32_t resource_of(gbnn_ctx *c, const gbnn_node *n) {
  if (n->n_inputs < 1 || n->inputs[0] < 0) return -1;
  const gbnn_tensor *h = gbnn_node_input(c, n, 0);
  if (h->type != GBNN_RESOURCE) return -1;
  for (int32_t k = n->index - 1; k >= 0; k--) {
    const gbnn_node *p = &c->sg->nodes[k];
    if (p->op == &gbnn_op_var_handle && p->outputs[0] == n->inputs[0]) {
      return p->data ? ((const resource_data *)p->data)->resource : NO_ARENA;
    }
  }
  return -1;
}

/* ---- ASSIGN_VARIABLE ---- */

static gbnn_status assign_prepare(gbnn_ctx *c, gbnn_node *n) {
  if (n->n_inputs != 2 || n->n_outputs != 0) return gbnn_refuse(c, n, GBNN_BAD_MODEL, "takes two inputs, no output");
  int32_t r = resource_of(c, n);
  if (r == NO_ARENA) return gbnn_status_of(c);
  if (r < 0) return gbnn_refuse(c, n, GBNN_UNSUPPORTED, "its resource does not come from a VAR_HANDLE before it");
  const gbnn_tensor *value = gbnn_node_input(c, n, 1);
  if (value == NULL || value->type == GBNN_RESOURCE) return gbnn_refuse(c, n, GBNN_BAD_MODEL, "no value to assign");
  resource_data *d = gbnn_persistent(c, sizeof *d);
  if (d == NULL) return gbnn_status_of(c);
  n->data = d;
  d->resource = r;
  gbnn_resource *res = &c->it->resources[r];
  if (res->buffer == NULL) {
    res->buffer = gbnn_persistent(c, value->bytes);
    if (res->buffer == NULL) return gbnn_status_of(c);
    res->bytes = value->bytes;
    /* TFLM: the zero point (as a byte) of the first tensor assigned, 0 when unquantised. */
    res->default_value = value->n_scales > 0 ? (int32_t)(int8_t)(value->zero_point & 0xff) : 0;
    memset(res->buffer, res->default_value & 0xff, res->bytes);
  } else if (res->bytes != value->bytes) {
    return gbnn_refuse(c, n, GBNN_UNSUPPORTED, "assigns %u bytes to a variable of %u", (unsigned)value->bytes,
                       (unsigned)res->bytes);
  }
  return GBNN_OK;
}

static gbnn_status assign_eval(gbnn_ctx *c, const gbnn_node *n) {
  const resource_data *d = n->data;
  const gbnn_resource *res = &c->it->resources[d->resource];
  const gbnn_tensor *value = gbnn_node_input(c, n, 1);
  if (res->bytes > 0) memcpy(res->buffer, value->data, res->bytes);
  return GBNN_OK;
}

const gbnn_op gbnn_op_assign_variable = {"ASSIGN_VARIABLE", 144, 0, assign_prepare, assign_eval};

/* ---- READ_VARIABLE ---- */

static gbnn_status read_prepare(gbnn_ctx *c, gbnn_node *n) {
  if (n->n_inputs != 1 || n->n_outputs != 1) {
    return gbnn_refuse(c, n, GBNN_BAD_MODEL, "takes one input, gives one output");
  }
  int32_t r = resource_of(c, n);
  if (r == NO_ARENA) return gbnn_status_of(c);
  if (r < 0) return gbnn_refuse(c, n, GBNN_UNSUPPORTED, "its resource does not come from a VAR_HANDLE before it");
  const gbnn_tensor *out = gbnn_node_output(c, n, 0);
  if (out->type == GBNN_RESOURCE) return gbnn_refuse(c, n, GBNN_BAD_MODEL, "reads into a resource");
  resource_data *d = gbnn_persistent(c, sizeof *d);
  if (d == NULL) return gbnn_status_of(c);
  n->data = d;
  d->resource = r;
  /* The variable's size is known once every ASSIGN_VARIABLE is prepared: gbnn_state_check. */
  return GBNN_OK;
}

static gbnn_status read_eval(gbnn_ctx *c, const gbnn_node *n) {
  const resource_data *d = n->data;
  const gbnn_resource *res = &c->it->resources[d->resource];
  gbnn_tensor *out = gbnn_node_output(c, n, 0);
  if (res->bytes > 0) memcpy(out->data, res->buffer, res->bytes);
  return GBNN_OK;
}

const gbnn_op gbnn_op_read_variable = {"READ_VARIABLE", 143, 0, read_prepare, read_eval};

gbnn_status gbnn_state_check(gbnn_ctx *c) {
  for (int32_t s = 0; s < c->it->n_subgraphs; s++) {
    c->sg = &c->it->subgraphs[s];
    c->sg_index = s;
    for (int32_t k = 0; k < c->sg->n_nodes; k++) {
      const gbnn_node *n = &c->sg->nodes[k];
      if (n->op != &gbnn_op_read_variable) continue;
      const gbnn_resource *res = &c->it->resources[((const resource_data *)n->data)->resource];
      if (res->buffer == NULL) return gbnn_refuse(c, n, GBNN_UNSUPPORTED, "reads a variable nothing assigns");
      if (res->bytes != gbnn_node_output(c, n, 0)->bytes) {
        return gbnn_refuse(c, n, GBNN_UNSUPPORTED, "reads %u bytes from a variable of %u",
                           (unsigned)gbnn_node_output(c, n, 0)->bytes, (unsigned)res->bytes);
      }
    }
  }
  c->sg = &c->it->subgraphs[0];
  c->sg_index = 0;
  return GBNN_OK;
}

/* ---- CALL_ONCE ---- */

static gbnn_status call_once_prepare(gbnn_ctx *c, gbnn_node *n) {
  if (n->n_inputs != 0 || n->n_outputs != 0) return gbnn_refuse(c, n, GBNN_UNSUPPORTED, "inputs or outputs");
  int32_t index = gbnn_table_i32(&n->options, 0, 0);
  if (index <= 0 || index >= c->it->n_subgraphs || index == c->sg_index) {
    return gbnn_refuse(c, n, GBNN_BAD_MODEL, "init subgraph %d of %d", index, c->it->n_subgraphs);
  }
  const gbnn_subgraph *init = &c->it->subgraphs[index];
  if (init->n_inputs != 0 || init->n_outputs != 0) {
    return gbnn_refuse(c, n, GBNN_UNSUPPORTED, "init subgraph %d has inputs or outputs", index);
  }
  gbnn_call_once_data *d = gbnn_persistent(c, sizeof *d);
  if (d == NULL) return gbnn_status_of(c);
  n->data = d;
  d->subgraph = index;
  d->has_run = 0;
  return GBNN_OK;
}

static gbnn_status call_once_eval(gbnn_ctx *c, const gbnn_node *n) {
  gbnn_call_once_data *d = n->data;
  if (d->has_run) return GBNN_OK;
  gbnn_status st = gbnn_run_subgraph(c, d->subgraph);
  if (st == GBNN_OK) d->has_run = 1;
  return st;
}

const gbnn_op gbnn_op_call_once = {"CALL_ONCE", 129, OPTIONS_CALL_ONCE, call_once_prepare, call_once_eval};
