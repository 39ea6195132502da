/* The core's own declarations (reader.c, core.c, plan.c, ops_data.c, ops_state.c, names.c): the flatbuffer reader's
 * primitives, the interpreter's bookkeeping, the context the ops see. Not for op_*.c (they use internal.h only). */
#ifndef GBNN_CORE_PRIVATE_H
#define GBNN_CORE_PRIVATE_H

#include <stdbool.h>

#include "internal.h"

/* ---- flatbuffer primitives (reader.c); all bounds-checked, little-endian ---- */

/* The table at `pos` (its soffset to the vtable) if it and its vtable lie inside the buffer: *t filled, true. */
bool gbnn_fb_table(const uint8_t *buf, size_t len, uint32_t pos, gbnn_table *t);
/* The position of field `field` inside table t if present and `size` bytes fit inside the table and the buffer; 0 if
 * absent (and *bad set when present but out of range). */
uint32_t gbnn_fb_field(const gbnn_table *t, int field, uint32_t size, bool *bad);
/* Follows an offset field (a table, vector or string) to its target; 0 when absent, *bad on a bad offset. */
uint32_t gbnn_fb_indirect(const gbnn_table *t, int field, bool *bad);
/* A vector field: the position of its first element and its length, elements of `elem` bytes all inside the
 * buffer. Returns false only when the field is present but broken (*pos = 0, *n = 0 when absent). */
bool gbnn_fb_vector(const gbnn_table *t, int field, uint32_t elem, uint32_t *pos, uint32_t *n);
/* The i-th table of a vector of tables starting at `pos` (i < n checked by the caller). */
bool gbnn_fb_vector_table(const uint8_t *buf, size_t len, uint32_t pos, uint32_t i, gbnn_table *t);
uint32_t gbnn_fb_u32(const uint8_t *p);
int64_t gbnn_fb_i64(const uint8_t *p);
uint64_t gbnn_fb_u64_field(const gbnn_table *t, int field, uint64_t dflt, bool *bad);


/* ---- the interpreter ---- */

typedef struct {
  gbnn_tensor *tensors;
  gbnn_node *nodes;
  const int32_t *inputs;
  const int32_t *outputs;
  int32_t n_tensors, n_nodes, n_inputs, n_outputs;
  int32_t caller;         /* the subgraph whose CALL_ONCE runs this one, -1 for none (subgraph 0, unreached) */
  int32_t caller_node;
} gbnn_subgraph;

typedef struct {
  const char *container; /* bytes in the model, not NUL-terminated; NULL = none */
  const char *shared_name;
  uint32_t container_len, shared_name_len;
  void *buffer;          /* persistent, sized by the first ASSIGN_VARIABLE prepared */
  size_t bytes;
  int32_t default_value; /* the zero point of that first assigned tensor, as TFLM (memset on reset) */
} gbnn_resource;

struct gbnn_interpreter {
  const uint8_t *model;
  size_t model_len;
  uint8_t *arena;
  size_t arena_len;
  size_t head;           /* bytes used at the arena's start: bookkeeping, per-op data, resources, variables */
  size_t needed_head;    /* what `head` would be had everything fitted */
  size_t activations;    /* bytes of the planned activation area (after head, 16-aligned) */
  uint32_t flags;
  gbnn_subgraph *subgraphs;
  int32_t n_subgraphs;
  gbnn_resource *resources;
  int32_t n_resources, max_resources;
  uint8_t overflow;      /* the head ran past the arena: allocations only count from then on */
};

struct gbnn_ctx {
  gbnn_interpreter *it;
  gbnn_subgraph *sg;
  int32_t sg_index;
  gbnn_status status;    /* the first failure recorded */
  gbnn_error *err;
  bool preparing;
  gbnn_node *node;       /* the node being prepared: its data is the first gbnn_persistent() unless it sets one */
};

/* CALL_ONCE's per-node data (ops_state.c; plan.c reads the subgraph to nest its lifetimes). */
typedef struct {
  int32_t subgraph;
  uint8_t has_run; /* as TFLM: set by the first invoke, kept by gbnn_reset */
} gbnn_call_once_data;

/* Bump allocation from the arena's head; counts what would be needed once it fails (NULL then). */
void *gbnn_head_alloc(gbnn_interpreter *it, size_t bytes, size_t align);
/* Records an error with no node (core), formats like gbnn_refuse. */
gbnn_status gbnn_fail(gbnn_ctx *c, gbnn_status st, const char *fmt, ...);
/* Runs subgraph `index` (CALL_ONCE). */
gbnn_status gbnn_run_subgraph(gbnn_ctx *c, int32_t index);
/* After every prepare: each READ_VARIABLE reads a variable some ASSIGN_VARIABLE sized, of its output's size. */
gbnn_status gbnn_state_check(gbnn_ctx *c);
/* Plans the activations into the arena after the head (plan.c). */
gbnn_status gbnn_plan(gbnn_ctx *c);
/* Bytes of one element of a tensor type, 0 for types the engine does not hold data for. */
size_t gbnn_type_size(int32_t type);

#endif
