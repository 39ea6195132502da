/* The wake-word model runs bit-exact on this target: the firmware's own gb_wake_init (the embedded okay_nabu, the
 * static arena) then a fixed input sequence invoked in order, every output compared with TensorFlow Lite Micro's,
 * computed at build time by tests/gen_wake_golden.py (gen/wake_golden.h), and the FNV-1a hash of all of them.
 * Runs on the host (ASan+UBSan) and on the Cortex-M4F under QEMU (semihosting), where the engine's DSP paths run. */
#include <string.h>

#include "check.h"
#include "wake.h"
#include "wake_golden.h"

static uint32_t rng = WAKE_GOLDEN_SEED;

static uint32_t next_rng(void) {
  rng ^= rng << 13;
  rng ^= rng >> 17;
  rng ^= rng << 5;
  return rng;
}

/* gen_wake_golden.py's perturbed_inputs: pass 0 adds (x >> 28) - 8, later passes (x >> 26) - 32, saturated. */
static void make_input(uint32_t k, int8_t *out) {
  const int8_t *base = wake_golden_selftest + (size_t)(k % WAKE_GOLDEN_SELFTEST) * WAKE_GOLDEN_INPUT_BYTES;
  uint32_t pass = k / WAKE_GOLDEN_SELFTEST;
  for (uint32_t i = 0; i < WAKE_GOLDEN_INPUT_BYTES; i++) {
    int32_t v = base[i];
    if (pass > 0) {
      uint32_t x = next_rng();
      v += pass == 1 ? (int32_t)(x >> 28) - 8 : (int32_t)(x >> 26) - 32;
      v = v < -128 ? -128 : v > 127 ? 127 : v;
    }
    out[i] = (int8_t)v;
  }
}

static gb_wake wake;

void gb_tests(void) {
  char err[160];
  CHECK(gb_wake_init(&wake, err, sizeof err));
  if (!wake.ready) {
    gb_check_log("%s\n", err);
    return;
  }
  CHECK_EQ(wake.input->bytes, WAKE_GOLDEN_INPUT_BYTES);
  CHECK_EQ(wake.output->bytes, WAKE_GOLDEN_OUTPUT_BYTES);
  size_t used = gbnn_arena_used(wake.model);
  CHECK(used > 0 && used <= GB_WAKE_ARENA);
  uint32_t total = WAKE_GOLDEN_SELFTEST * (1u + WAKE_GOLDEN_PASSES);
  uint32_t hash = 0x811C9DC5u, mismatches = 0;
  for (uint32_t k = 0; k < total; k++) {
    make_input(k, (int8_t *)wake.input->data);
    gbnn_error e;
    if (gbnn_invoke(wake.model, &e) != GBNN_OK) {
      gb_check_log("invoke %u: %s\n", (unsigned)k, e.message);
      CHECK(0);
      return;
    }
    const uint8_t *got = (const uint8_t *)wake.output->data;
    const uint8_t *want = wake_golden_outputs + (size_t)k * WAKE_GOLDEN_OUTPUT_BYTES;
    for (uint32_t j = 0; j < WAKE_GOLDEN_OUTPUT_BYTES; j++) hash = (hash ^ got[j]) * 0x01000193u;
    if (memcmp(got, want, WAKE_GOLDEN_OUTPUT_BYTES) != 0 && mismatches++ < 5)
      gb_check_log("invoke %u: output %u, %s says %u\n", (unsigned)k, (unsigned)got[0], WAKE_GOLDEN_ORACLE,
                   (unsigned)want[0]);
  }
  CHECK_EQ(mismatches, 0);
  CHECK_EQ(hash, WAKE_GOLDEN_HASH);
  gb_check_log("okay_nabu: %u invokes, output hash %08x (%s: %08x), arena used %u of %u bytes\n", (unsigned)total,
               (unsigned)hash, WAKE_GOLDEN_ORACLE, (unsigned)WAKE_GOLDEN_HASH, (unsigned)used,
               (unsigned)GB_WAKE_ARENA);
}
