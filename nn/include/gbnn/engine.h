/* glassbridge's int8 inference engine (gbnn): runs a quantised .tflite model, bit-exact with TensorFlow Lite Micro.
 *
 * Portable C11, the same sources in the Python extension (glassbridge.nn._nn) and in the Cortex-M4F firmware.
 * No allocation: the caller gives one arena; gbnn_open() parses the model in place (the model bytes must outlive
 * the interpreter and are never written), validates every op and tensor, refuses what it cannot run exactly
 * (the error names the op and the variant), plans the activations into the arena and keeps its own bookkeeping
 * at the arena's start. After gbnn_open() nothing is allocated and nothing can fail for lack of memory.
 * Little-endian targets only (x86-64, AArch64, Cortex-M). */
#ifndef GBNN_ENGINE_H
#define GBNN_ENGINE_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef enum {
  GBNN_OK = 0,
  GBNN_BAD_MODEL = 1,       /* not a .tflite flatbuffer, or inconsistent: an offset or index out of range */
  GBNN_UNSUPPORTED = 2,     /* an op, or a variant of one (types, quantisation, options), the engine lacks */
  GBNN_ARENA_TOO_SMALL = 3, /* gbnn_error.arena_needed says how many bytes would do */
  GBNN_BAD_ARGUMENT = 4,    /* a NULL pointer, an index out of range, a misaligned arena */
  GBNN_RUNTIME = 5          /* invoke failed (should not happen after a successful open) */
} gbnn_status;

#define GBNN_MESSAGE_MAX 192

/* What went wrong, for a person: "model uses TANH (builtin 28), which gbnn does not implement". */
typedef struct {
  gbnn_status status;
  int32_t subgraph;     /* -1 when not about one node */
  int32_t node;         /* -1 when not about one node */
  size_t arena_needed;  /* with GBNN_ARENA_TOO_SMALL: the arena size that would succeed; when even the bookkeeping
                         * did not fit, a lower bound (the message says "at least"): open again with it */
  char message[GBNN_MESSAGE_MAX];
} gbnn_error;

/* Tensor element types: the values of the .tflite schema's TensorType. */
typedef enum {
  GBNN_FLOAT32 = 0,
  GBNN_INT32 = 2,
  GBNN_UINT8 = 3,
  GBNN_INT64 = 4,
  GBNN_BOOL = 6,
  GBNN_INT16 = 7,
  GBNN_INT8 = 9,
  GBNN_RESOURCE = 13
} gbnn_type;

#define GBNN_MAX_RANK 6

typedef struct gbnn_tensor {
  void *data;            /* in the arena (activations, variables) or in the model (constants); NULL for a resource handle
                          * and for a tensor no node uses */
  size_t bytes;
  int32_t dims[GBNN_MAX_RANK];
  uint8_t rank;
  uint8_t type;          /* gbnn_type */
  uint8_t is_constant;   /* data points into the model's buffers: never written */
  uint8_t is_variable;   /* the schema's is_variable flag */
  /* Quantisation (real = scale * (q - zero_point)). n_scales is 0 for an unquantised tensor, 1 per-tensor,
   * > 1 per-channel along quantized_dimension; scales points into the model (4-byte aligned, checked at open). */
  float scale;           /* scales[0] */
  int32_t zero_point;    /* zero_points[0] */
  int32_t n_scales;
  int32_t quantized_dimension;
  const float *scales;
} gbnn_tensor;

typedef struct gbnn_interpreter gbnn_interpreter;

/* Flags for gbnn_open. */
#define GBNN_PRESERVE_ALL_TENSORS 1u /* every activation gets its own arena space, readable after invoke (tests) */

/* Parses and validates `model`, prepares every op, plans the arena. `arena` must be 16-byte aligned; the model
 * 16-byte aligned too (constants are used in place). Returns NULL and fills `err` on failure (err may be NULL).
 * CALL_ONCE's init subgraph runs on the first invoke, as in TFLM. The interpreter lives in the arena (no handle to
 * free: reusing the arena ends it). */
gbnn_interpreter *gbnn_open(const void *model, size_t model_len, void *arena, size_t arena_len, uint32_t flags,
                            gbnn_error *err);

/* Runs subgraph 0 once on the current inputs. */
gbnn_status gbnn_invoke(gbnn_interpreter *it, gbnn_error *err);

/* Forgets the streaming state as TFLM's MicroInterpreter::Reset does: every resource variable (and is_variable
 * tensor) back to its zero point; CALL_ONCE does not run its init subgraph again (TFLM keeps it done). */
void gbnn_reset(gbnn_interpreter *it);

size_t gbnn_input_count(const gbnn_interpreter *it);
size_t gbnn_output_count(const gbnn_interpreter *it);
gbnn_tensor *gbnn_input(gbnn_interpreter *it, size_t i);   /* NULL when out of range */
gbnn_tensor *gbnn_output(gbnn_interpreter *it, size_t i);  /* NULL when out of range */

/* Every tensor of subgraph 0, by its index in the model (for tests with GBNN_PRESERVE_ALL_TENSORS). */
size_t gbnn_tensor_count(const gbnn_interpreter *it);
gbnn_tensor *gbnn_tensor_at(gbnn_interpreter *it, size_t index);

/* Bytes of the arena in use: bookkeeping + per-op data + variables + planned activations. */
size_t gbnn_arena_used(const gbnn_interpreter *it);

/* The .tflite schema's BuiltinOperator name for a code ("CONV_2D"), "UNKNOWN" past the table's end. */
const char *gbnn_builtin_name(int32_t code);

#ifdef __cplusplus
}
#endif
#endif
