/* libFuzzer target of gbnn's .tflite reader, planner and prepare: a model is bytes from outside (a file on the
 * board, a download). Every input must either be refused at gbnn_open with a status a caller can act on and a
 * message, or open, and then invoke, reset and invoke again without failing: a model gbnn accepted it can run.
 * ASan and UBSan watch every read of the flatbuffer and every write to the arena.
 *
 * Seeds: nn/fuzz/corpus_model/ (one-op models of every arithmetic op, written by make_corpus.py) and the
 * streaming wake word models/cache/okay_nabu.tflite (subgraphs, resource variables, CALL_ONCE, the data ops),
 * which `make test-fuzz` copies into the writable corpus.
 *
 * Every kernel set the build and the CPU have runs each model that opens (the Makefile compiles the SSE4.1 and AVX2
 * sets on x86-64; NEON is built in on AArch64): the plain C reference first, then each other set on the same
 * inputs, whose outputs must equal the reference's byte for byte (the sets' contract: the same int32 accumulators).
 * So the SIMD loops' reads and writes are checked by ASan on shapes the fuzzer invents, and their results by the
 * reference. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gbnn/engine.h"
#include "gbnn/isa.h"

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

/* The reference's outputs of both rounds, to compare the other kernel sets with. */
static uint8_t want[2][ARENA_BYTES];
static size_t want_len[2];

/* Opens and runs the model with the current kernel set: two rounds of invoke, invoke, reset. With `record`, keeps
 * the second invoke's outputs of each round; otherwise compares them with what was kept. Returns GBNN_OK, or the
 * status the model was refused with. */
static gbnn_status run(uint8_t *model, size_t size, int record) {
  gbnn_error e;
  memset(&e, 0, sizeof e);
  gbnn_interpreter *it = gbnn_open(model, size, arena, ARENA_BYTES, 0, &e);
  if (it == NULL) {
    if (e.status != GBNN_BAD_MODEL && e.status != GBNN_UNSUPPORTED && e.status != GBNN_ARENA_TOO_SMALL)
      fail("open refused with an unexpected status", &e);
    if (e.message[0] == '\0' || memchr(e.message, '\0', GBNN_MESSAGE_MAX) == NULL) fail("open refused silently", &e);
    if (e.status == GBNN_ARENA_TOO_SMALL && e.arena_needed <= ARENA_BYTES && strstr(e.message, "at least") == NULL)
      fail("arena too small, yet the arena it asks for is no larger", &e);
    return e.status;
  }
  if (gbnn_arena_used(it) > ARENA_BYTES) {
    fprintf(stderr, "fuzz_model: arena_used %zu beyond the arena\n", gbnn_arena_used(it));
    abort();
  }
  for (uint32_t round = 0; round < 2; round++) {
    fill_inputs(it, round);
    if (gbnn_invoke(it, &e) != GBNN_OK) fail("invoke failed after a successful open", &e);
    if (gbnn_invoke(it, &e) != GBNN_OK) fail("second invoke failed", &e);
    size_t at = 0;
    for (size_t i = 0; i < gbnn_output_count(it); i++) {
      const gbnn_tensor *t = gbnn_output(it, i);
      if (t == NULL || t->data == NULL || t->bytes > ARENA_BYTES - at) continue;
      if (record) {
        memcpy(want[round] + at, t->data, t->bytes);
      } else if (at + t->bytes > want_len[round] || memcmp(want[round] + at, t->data, t->bytes) != 0) {
        fprintf(stderr, "fuzz_model: kernel set %s: output %zu of round %u differs from the reference's\n",
                gbnn_isa_name(gbnn_get_isa()), i, (unsigned)round);
        abort();
      }
      at += t->bytes;
    }
    if (record) want_len[round] = at;
    gbnn_reset(it);
  }
  return GBNN_OK;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  /* gbnn uses the model in place and wants it 16-byte aligned, as a loader would give it. */
  uint8_t *model = aligned_alloc(16, size / 16u * 16u + 16u);
  if (model == NULL) return 0;
  memcpy(model, data, size);
  gbnn_set_isa(GBNN_ISA_REF);
  if (run(model, size, 1) == GBNN_OK) {
    static const gbnn_isa others[] = {GBNN_ISA_SSE41, GBNN_ISA_AVX2, GBNN_ISA_NEON};
    for (size_t k = 0; k < sizeof others / sizeof others[0]; k++) {
      if (!gbnn_set_isa(others[k])) continue;
      gbnn_status st = run(model, size, 0);
      /* A set may keep more per-op data (packed filters) than the reference: only the arena may run short. */
      if (st != GBNN_OK && st != GBNN_ARENA_TOO_SMALL) {
        fprintf(stderr, "fuzz_model: kernel set %s refused a model the reference opened (status %d)\n",
                gbnn_isa_name(others[k]), (int)st);
        abort();
      }
    }
  }
  gbnn_set_isa(GBNN_ISA_AUTO);
  free(model);
  return 0;
}

/* Which kernel sets this build runs, once at start (libFuzzer's optional initialiser). */
int LLVMFuzzerInitialize(int *argc, char ***argv) {
  (void)argc;
  (void)argv;
  fprintf(stderr, "fuzz_model: kernel sets:");
  for (int isa = GBNN_ISA_REF; isa < GBNN_ISA_COUNT; isa++)
    if (gbnn_isa_available((gbnn_isa)isa)) fprintf(stderr, " %s", gbnn_isa_name((gbnn_isa)isa));
  fprintf(stderr, "\n");
  return 0;
}
