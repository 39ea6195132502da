/* libFuzzer target for the C message codec (protocol/c/src/messages.c).
 *
 * The first input byte picks the message type (gb_dump_types[], Message and Hello included), the rest is
 * decoded. Whatever decodes must encode again within GB_X_MAX_SIZE, and that encoding must decode to the same
 * fields and re-encode to the same bytes (the codec is a fixed point after one round). Anything else aborts.
 *
 * Build and run (from the repository root; seeds in protocol/c/fuzz/corpus_messages/):
 *   mkdir -p build/fuzz/corpus_messages
 *   clang -std=c11 -g -O1 -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=all \
 *     -Iprotocol/c/include -Iprotocol/c/tests protocol/c/fuzz/fuzz_messages.c protocol/c/src/messages.c \
 *     protocol/c/src/pb.c -o build/fuzz/fuzz_messages
 *   build/fuzz/fuzz_messages -max_total_time=60 -max_len=2048 build/fuzz/corpus_messages \
 *     protocol/c/fuzz/corpus_messages
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "glassbridge/messages.h"
#include "messages_dump.h"

static union {
  max_align_t align;
  uint8_t bytes[8192];
} a, b;
static uint8_t enc1[8192], enc2[8192];
static gb_dump d1, d2;

static void fail(const char *what, const gb_dump_type *t, gb_pb_status st) {
  fprintf(stderr, "fuzz_messages: %s (%s): %s\n", what, t->name, gb_pb_status_str(st));
  abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (size < 1) return 0;
  const size_t ntypes = sizeof gb_dump_types / sizeof gb_dump_types[0];
  const gb_dump_type *t = &gb_dump_types[data[0] % ntypes];
  if (t->size > sizeof a.bytes) abort();
  gb_pb_status st;
  if (!t->decode(data + 1, size - 1, a.bytes, &st)) {
    if (st == GB_PB_OK) fail("decode failed with status OK", t, st);
    return 0;
  }
  size_t n1 = 0, n2 = 0;
  if (!t->encode(a.bytes, enc1, t->max_size, &n1, &st)) fail("a decoded message does not encode within MAX_SIZE", t, st);
  if (!t->decode(enc1, n1, b.bytes, &st)) fail("an encoded message does not decode", t, st);
  if (!t->encode(b.bytes, enc2, sizeof enc2, &n2, &st)) fail("second encode failed", t, st);
  if (n1 != n2 || memcmp(enc1, enc2, n1)) fail("encode(decode(encode(x))) differs from encode(x)", t, st);
  memset(&d1, 0, sizeof d1);
  memset(&d2, 0, sizeof d2);
  t->dump(&d1, a.bytes);
  t->dump(&d2, b.bytes);
  if (d1.len != d2.len || memcmp(d1.text, d2.text, d1.len)) fail("fields changed through a round trip", t, GB_PB_OK);
  return 0;
}
