/* libFuzzer target of gbnn's .tflite reader, planner and prepare: a model is bytes from outside (a file on the
 * board, a download). Every input must either be refused at gbnn_open with a status a caller can act on and a
 * message, or open, and then invoke, reset and invoke again without failing: a model gbnn accepted it can run.
 * ASan and UBSan watch every read of the flatbuffer and every write to the arena.
 *
 * Seeds: nn/fuzz/corpus_model/ (one-op models of every arithmetic op, written by make_corpus.py) and the
 * streaming wake word models/cache/okay_nabu.tflite (subgraphs, resource variables, CALL_ONCE, the data ops),
 * which `make test-fuzz` copies into the writable corpus. Only the reference kernels are compiled in: the ISA
 * kernels are compared with them by nn/tests/test_kernels.c. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gbnn/engine.h"

#define ARENA_BYTES (256u * 1024u)

static _Alignas(16) uint8_t arena[ARENA_BYTES];

static void fail(const char *what, const gbnn_error *e) {
  fprintf(stderr, "fuzz_model: %s: status %d node %d: %s\n", what, (int)e->status, (int)e->node, e->message);
  abort();
}

/* Inputs from a counter: the values do not matter to the reader, only that every kernel reads defined bytes. */
static void fill_inputs(gbnn_interpreter *it, uint32_t seed) {
  for (size_t i = 0; i < gbnn_input_count(it); i++) {
    gbnn_tensor *t = gbnn_input(it, i);
    if (t == NULL || t->data == NULL) continue;
    uint8_t *p = t->data;
    for (size_t k = 0; k < t->bytes; k++) p[k] = (uint8_t)(seed * 2654435761u + k * 40503u);
  }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  /* gbnn uses the model in place and wants it 16-byte aligned, as a loader would give it. */
  uint8_t *model = aligned_alloc(16, size / 16u * 16u + 16u);
  if (model == NULL) return 0;
  memcpy(model, data, size);
  gbnn_error e;
  memset(&e, 0, sizeof e);
  gbnn_interpreter *it = gbnn_open(model, size, arena, ARENA_BYTES, 0, &e);
  if (it == NULL) {
    if (e.status != GBNN_BAD_MODEL && e.status != GBNN_UNSUPPORTED && e.status != GBNN_ARENA_TOO_SMALL)
      fail("open refused with an unexpected status", &e);
    if (e.message[0] == '\0' || memchr(e.message, '\0', GBNN_MESSAGE_MAX) == NULL) fail("open refused silently", &e);
    if (e.status == GBNN_ARENA_TOO_SMALL && e.arena_needed <= ARENA_BYTES && strstr(e.message, "at least") == NULL)
      fail("arena too small, yet the arena it asks for is no larger", &e);
  } else {
    for (uint32_t round = 0; round < 2; round++) {
      fill_inputs(it, round);
      if (gbnn_invoke(it, &e) != GBNN_OK) fail("invoke failed after a successful open", &e);
      if (gbnn_invoke(it, &e) != GBNN_OK) fail("second invoke failed", &e);
      gbnn_reset(it);
    }
    if (gbnn_arena_used(it) > ARENA_BYTES) {
      fprintf(stderr, "fuzz_model: arena_used %zu beyond the arena\n", gbnn_arena_used(it));
      abort();
    }
  }
  free(model);
  return 0;
}
