/* The contract between the engine's core (model reader, planner, interpreter: core.c and friends) and its ops
 * (op_*.c). An op is a gbnn_op: `prepare` runs once in gbnn_open and validates everything the op's `eval` relies on
 * (types, quantisation, options, shapes: refuse with gbnn_refuse what eval cannot compute exactly as TFLM does), and
 * precomputes its parameters into memory from gbnn_persistent(); `eval` runs on every invoke, integer-only, and
 * cannot fail for a reason prepare could have seen. Not a public header. */
#ifndef GBNN_INTERNAL_H
#define GBNN_INTERNAL_H

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include "gbnn/engine.h"

/* ---- reading the model's flatbuffer (core; every read is bounds-checked against the model's length) ---- */

/* A table inside the model: an op's builtin_options. `pos` is 0 when the table is absent (every read then gives
 * the default, as the schema says). Fields are numbered as in the schema, from 0. */
typedef struct {
  const uint8_t *buf;
  size_t len;
  uint32_t pos;
} gbnn_table;

int32_t gbnn_table_i32(const gbnn_table *t, int field, int32_t dflt); /* an int field (4 bytes) */
int32_t gbnn_table_i8(const gbnn_table *t, int field, int32_t dflt);  /* a byte / enum-of-byte / bool field */
float gbnn_table_f32(const gbnn_table *t, int field, float dflt);
/* A string field: its bytes (not NUL-terminated) and length; NULL when absent. */
const char *gbnn_table_string(const gbnn_table *t, int field, uint32_t *len);
/* A vector of ints: element count into *n, NULL when absent; read elements with gbnn_vec_i32. */
const uint8_t *gbnn_table_vector(const gbnn_table *t, int field, uint32_t *n);
int32_t gbnn_vec_i32(const uint8_t *vec, uint32_t i);

/* ---- nodes, ops, the context ---- */

typedef struct gbnn_ctx gbnn_ctx; /* the interpreter while preparing and running one subgraph */

typedef struct gbnn_node {
  const struct gbnn_op *op;
  int32_t index;          /* position in its subgraph (error messages) */
  int32_t n_inputs, n_outputs;
  const int32_t *inputs;  /* tensor indices in the node's subgraph (in the model, 4-aligned, each checked at open);
                           * -1 = optional input absent */
  const int32_t *outputs;
  gbnn_table options;     /* builtin_options: the table of the op's own options type (the core checks the type) */
  void *data;             /* what prepare allocated: the node's first gbnn_persistent() unless prepare sets it */
} gbnn_node;

typedef struct gbnn_op {
  const char *name;       /* the schema's BuiltinOperator name, e.g. "CONV_2D" */
  int32_t code;           /* BuiltinOperator */
  int32_t options_type;   /* the BuiltinOptions union type this op's options must have (0 = NONE: any/absent) */
  gbnn_status (*prepare)(gbnn_ctx *c, gbnn_node *n);
  gbnn_status (*eval)(gbnn_ctx *c, const gbnn_node *n);
} gbnn_op;

/* The node's i-th input or output tensor; NULL when the index is past the node's count or the input is -1.
 * During prepare only constants have data: activations are planned after every prepare (their data is NULL). */
gbnn_tensor *gbnn_node_input(gbnn_ctx *c, const gbnn_node *n, int i);
gbnn_tensor *gbnn_node_output(gbnn_ctx *c, const gbnn_node *n, int i);

/* Prepare only: zeroed, 8-byte aligned memory that lives as long as the interpreter. NULL after recording
 * GBNN_ARENA_TOO_SMALL (the core keeps counting so that the error reports the size needed): return
 * gbnn_status_of(c) then. */
void *gbnn_persistent(gbnn_ctx *c, size_t bytes);
gbnn_status gbnn_status_of(const gbnn_ctx *c);

/* Records an error about node `n` (NULL: none) and returns `st`. The message starts with the op's name and the
 * node's index; `fmt` understands only %s, %d (int32_t or int) and %u (unsigned): no stdio on the MCU. */
gbnn_status gbnn_refuse(gbnn_ctx *c, const gbnn_node *n, gbnn_status st, const char *fmt, ...);

/* Elements of a tensor (product of dims; 1 for rank 0). */
int32_t gbnn_elements(const gbnn_tensor *t);

/* The schema's TensorType name ("INT8", "FLOAT32"), for messages (names.c). */
const char *gbnn_type_name(int32_t type);

/* ---- the ops, one registration each (the core's table in core.c maps builtin codes to these) ---- */

/* Arithmetic, pooling and requantisation (op_*.c with quant.h / quant.c). */
extern const gbnn_op gbnn_op_conv_2d;
extern const gbnn_op gbnn_op_depthwise_conv_2d;
extern const gbnn_op gbnn_op_fully_connected;
extern const gbnn_op gbnn_op_add;
extern const gbnn_op gbnn_op_mean;
extern const gbnn_op gbnn_op_softmax;
extern const gbnn_op gbnn_op_logistic;
extern const gbnn_op gbnn_op_max_pool_2d;
extern const gbnn_op gbnn_op_quantize;

/* Data movement and streaming state (the core's side). */
extern const gbnn_op gbnn_op_concatenation;
extern const gbnn_op gbnn_op_strided_slice;
extern const gbnn_op gbnn_op_split_v;
extern const gbnn_op gbnn_op_reshape;
extern const gbnn_op gbnn_op_var_handle;
extern const gbnn_op gbnn_op_read_variable;
extern const gbnn_op gbnn_op_assign_variable;
extern const gbnn_op gbnn_op_call_once;

#endif
