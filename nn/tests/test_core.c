/* The engine's core on the real models: reading, refusing, arena sizing, planning (a planned arena gives the same
 * outputs as one where every tensor has its own space), reset, and a fuzz pass (truncated and byte-flipped models
 * must open, or fail with BAD_MODEL / UNSUPPORTED, never crash: run it under -DGLASSBRIDGE_SANITIZE=ON). The
 * bit-exactness against TFLM is tests/nn/test_engine_models.py's. Run from the repository root. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core_private.h"
#include "gbnn/engine.h"

static int failures = 0;
#define CHECK(cond, ...)                                    \
  do {                                                      \
    if (!(cond)) {                                          \
      failures++;                                           \
      fprintf(stderr, "%s:%d: %s: ", __FILE__, __LINE__, #cond); \
      fprintf(stderr, __VA_ARGS__);                         \
      fprintf(stderr, "\n");                                \
    }                                                       \
  } while (0)

typedef struct {
  uint8_t *data;
  size_t len;
} blob;

static blob load(const char *path) {
  blob b = {NULL, 0};
  FILE *f = fopen(path, "rb");
  if (f == NULL) return b;
  fseek(f, 0, SEEK_END);
  long n = ftell(f);
  fseek(f, 0, SEEK_SET);
  b.data = aligned_alloc(16, ((size_t)n + 15u) / 16u * 16u);
  b.len = fread(b.data, 1, (size_t)n, f);
  fclose(f);
  return b;
}

static uint32_t rng_state = 12345u;
static uint32_t rnd(void) {
  rng_state ^= rng_state << 13;
  rng_state ^= rng_state >> 17;
  rng_state ^= rng_state << 5;
  return rng_state;
}

#define ARENA_BYTES (1u << 20)
static _Alignas(16) uint8_t arena_a[ARENA_BYTES];
static _Alignas(16) uint8_t arena_b[ARENA_BYTES];

static void fill_inputs(gbnn_interpreter *it, uint32_t seed) {
  rng_state = seed;
  for (size_t i = 0; i < gbnn_input_count(it); i++) {
    gbnn_tensor *t = gbnn_input(it, i);
    for (size_t k = 0; k < t->bytes; k++) ((uint8_t *)t->data)[k] = (uint8_t)rnd();
  }
}

static void test_names(void) {
  CHECK(strcmp(gbnn_builtin_name(0), "ADD") == 0, "%s", gbnn_builtin_name(0));
  CHECK(strcmp(gbnn_builtin_name(3), "CONV_2D") == 0, "%s", gbnn_builtin_name(3));
  CHECK(strcmp(gbnn_builtin_name(28), "TANH") == 0, "%s", gbnn_builtin_name(28));
  CHECK(strcmp(gbnn_builtin_name(142), "VAR_HANDLE") == 0, "%s", gbnn_builtin_name(142));
  CHECK(strcmp(gbnn_builtin_name(129), "CALL_ONCE") == 0, "%s", gbnn_builtin_name(129));
  CHECK(strcmp(gbnn_builtin_name(102), "SPLIT_V") == 0, "%s", gbnn_builtin_name(102));
  CHECK(strcmp(gbnn_builtin_name(-1), "UNKNOWN") == 0, "%s", gbnn_builtin_name(-1));
  CHECK(strcmp(gbnn_builtin_name(100000), "UNKNOWN") == 0, "%s", gbnn_builtin_name(100000));
}

static void test_arguments(const blob *m) {
  gbnn_error e;
  CHECK(gbnn_open(NULL, 0, arena_a, ARENA_BYTES, 0, &e) == NULL && e.status == GBNN_BAD_ARGUMENT, "%d", e.status);
  CHECK(gbnn_open(m->data, m->len, arena_a + 4, ARENA_BYTES - 4, 0, &e) == NULL && e.status == GBNN_BAD_ARGUMENT,
        "%d", e.status);
  static _Alignas(16) const uint8_t junk[64] = {1, 2, 3};
  CHECK(gbnn_open(junk, sizeof junk, arena_a, ARENA_BYTES, 0, &e) == NULL && e.status == GBNN_BAD_MODEL, "%d %s",
        e.status, e.message);
  CHECK(gbnn_invoke(NULL, &e) == GBNN_BAD_ARGUMENT, "invoke(NULL)");
  CHECK(gbnn_input(NULL, 0) == NULL && gbnn_tensor_count(NULL) == 0, "NULL accessors");
}

/* Arena sizing: too small reports the size; that size works, one byte less does not; any start converges. */
static void test_arena(const char *name, const blob *m) {
  gbnn_error e;
  gbnn_interpreter *it = gbnn_open(m->data, m->len, arena_a, ARENA_BYTES, 0, &e);
  if (it == NULL) {
    CHECK(0, "%s: not opened: %s", name, e.message);
    return;
  }
  size_t used = gbnn_arena_used(it);
  it = gbnn_open(m->data, m->len, arena_a, used, 0, &e);
  CHECK(it != NULL, "%s: the arena it reported (%zu) does not do: %s", name, used, e.message);
  it = gbnn_open(m->data, m->len, arena_a, used - 1, 0, &e);
  CHECK(it == NULL && e.status == GBNN_ARENA_TOO_SMALL && e.arena_needed == used, "%s: %zu: %s", name,
        e.arena_needed, e.message);
  size_t size = 64;
  int rounds = 0;
  for (; rounds < 12; rounds++) {
    it = gbnn_open(m->data, m->len, arena_a, size, 0, &e);
    if (it != NULL) break;
    CHECK(e.status == GBNN_ARENA_TOO_SMALL && e.arena_needed > size, "%s: %s", name, e.message);
    if (e.status != GBNN_ARENA_TOO_SMALL || e.arena_needed <= size) break;
    size = e.arena_needed;
  }
  CHECK(it != NULL && gbnn_arena_used(it) == used, "%s: from 64 bytes: %d rounds, %zu", name, rounds, size);
  printf("  %s: arena %zu bytes (from 64 bytes in %d opens)\n", name, used, rounds + 1);
}

/* The planned arena (tensors sharing space by lifetime) computes what the one with all tensors apart computes. */
static void test_plan(const char *name, const blob *m, int invokes) {
  gbnn_error e;
  gbnn_interpreter *a = gbnn_open(m->data, m->len, arena_a, ARENA_BYTES, 0, &e);
  gbnn_interpreter *b = gbnn_open(m->data, m->len, arena_b, ARENA_BYTES, GBNN_PRESERVE_ALL_TENSORS, &e);
  if (a == NULL || b == NULL) {
    CHECK(0, "%s: not opened: %s", name, e.message);
    return;
  }
  CHECK(gbnn_arena_used(a) < gbnn_arena_used(b), "%s: planned %zu, preserved %zu", name, gbnn_arena_used(a),
        gbnn_arena_used(b));
  for (int k = 0; k < invokes; k++) {
    fill_inputs(a, (uint32_t)k + 1u);
    fill_inputs(b, (uint32_t)k + 1u);
    CHECK(gbnn_invoke(a, &e) == GBNN_OK, "%s", e.message);
    CHECK(gbnn_invoke(b, &e) == GBNN_OK, "%s", e.message);
    for (size_t o = 0; o < gbnn_output_count(a); o++) {
      gbnn_tensor *x = gbnn_output(a, o), *y = gbnn_output(b, o);
      CHECK(x->bytes == y->bytes && memcmp(x->data, y->data, x->bytes) == 0, "%s: invoke %d output %zu", name, k, o);
    }
  }
  /* With every tensor apart, no two planned tensors overlap. */
  size_t n = gbnn_tensor_count(b);
  for (size_t i = 0; i < n; i++) {
    gbnn_tensor *t = gbnn_tensor_at(b, i);
    if (t->data == NULL || t->is_constant || t->bytes == 0) continue;
    for (size_t j = i + 1; j < n; j++) {
      gbnn_tensor *u = gbnn_tensor_at(b, j);
      if (u->data == NULL || u->is_constant || u->bytes == 0) continue;
      const uint8_t *p = t->data, *q = u->data;
      CHECK(p + t->bytes <= q || q + u->bytes <= p, "%s: tensors %zu and %zu overlap when preserved", name, i, j);
    }
  }
  printf("  %s: planned %zu bytes, preserved %zu; %d invokes agree\n", name, gbnn_arena_used(a), gbnn_arena_used(b),
         invokes);
}

/* Streaming state: after gbnn_reset the same inputs give the same outputs again. */
static void test_reset(const char *name, const blob *m) {
  gbnn_error e;
  gbnn_interpreter *it = gbnn_open(m->data, m->len, arena_a, ARENA_BYTES, 0, &e);
  if (it == NULL) {
    CHECK(0, "%s: not opened: %s", name, e.message);
    return;
  }
  enum { STEPS = 12 };
  uint8_t first[STEPS][16];
  for (int pass = 0; pass < 2; pass++) {
    for (int k = 0; k < STEPS; k++) {
      fill_inputs(it, (uint32_t)k * 7u + 3u);
      CHECK(gbnn_invoke(it, &e) == GBNN_OK, "%s", e.message);
      gbnn_tensor *o = gbnn_output(it, 0);
      size_t n = o->bytes < 16 ? o->bytes : 16;
      if (pass == 0) memcpy(first[k], o->data, n);
      else CHECK(memcmp(first[k], o->data, n) == 0, "%s: step %d differs after reset", name, k);
    }
    gbnn_reset(it);
  }
}

/* A model using an op gbnn lacks is refused by name: LOGISTIC's or SOFTMAX's operator code patched to TANH. */
static void test_refusal(const blob *m) {
  blob copy = {aligned_alloc(16, (m->len + 15u) / 16u * 16u), m->len};
  memcpy(copy.data, m->data, m->len);
  gbnn_table root, codes_table;
  uint32_t codes, n_codes;
  int patched = 0;
  if (gbnn_fb_table(copy.data, copy.len, gbnn_fb_u32(copy.data), &root) &&
      gbnn_fb_vector(&root, 1, 4, &codes, &n_codes)) {
    for (uint32_t i = 0; i < n_codes; i++) {
      if (!gbnn_fb_vector_table(copy.data, copy.len, codes, i, &codes_table)) continue;
      uint32_t dep = gbnn_fb_field(&codes_table, 0, 1, NULL), code = gbnn_fb_field(&codes_table, 3, 4, NULL);
      int32_t v = dep ? (int8_t)copy.data[dep] : 0;
      if (code) {
        int32_t c;
        memcpy(&c, copy.data + code, 4);
        if (c > v) v = c;
      }
      if (v != 14 && v != 25) continue; /* LOGISTIC, SOFTMAX */
      if (dep) copy.data[dep] = 28;
      if (code) {
        int32_t tanh_code = 28;
        memcpy(copy.data + code, &tanh_code, 4);
      }
      patched = 1;
    }
  }
  CHECK(patched, "no LOGISTIC or SOFTMAX in the model");
  gbnn_error e;
  gbnn_interpreter *it = gbnn_open(copy.data, copy.len, arena_a, ARENA_BYTES, 0, &e);
  CHECK(it == NULL && e.status == GBNN_UNSUPPORTED && strstr(e.message, "TANH (builtin 28)") != NULL && e.node >= 0,
        "%d %s", e.status, e.message);
  printf("  refusal: %s\n", e.message);
  free(copy.data);
}

/* Truncations and byte flips: open must fail cleanly or succeed (and then invoke must run). */
static void fuzz(const char *name, const blob *m, int flips, int max_invokes) {
  uint8_t *copy = aligned_alloc(16, (m->len + 15u) / 16u * 16u);
  int opened = 0, invoked = 0, refused = 0;
  gbnn_error e;
  for (size_t len = 0; len < m->len; len += (len < 4096 || len + 4096 > m->len) ? 1u : 61u) {
    memcpy(copy, m->data, len);
    gbnn_interpreter *it = gbnn_open(copy, len, arena_a, ARENA_BYTES, 0, &e);
    CHECK(it == NULL && (e.status == GBNN_BAD_MODEL || e.status == GBNN_UNSUPPORTED), "%s truncated to %zu: %d %s",
          name, len, e.status, e.message);
  }
  rng_state = 777u;
  for (int k = 0; k < flips; k++) {
    memcpy(copy, m->data, m->len);
    int n = 1 + (int)(rnd() % 4u);
    for (int f = 0; f < n; f++) {
      /* Mostly the structure (the first and last few KB hold the tables and vectors of these models). */
      size_t at = (rnd() & 1u) ? rnd() % m->len : (rnd() & 2u) ? rnd() % (m->len < 8192 ? m->len : 8192)
                                                                : m->len - 1u - rnd() % (m->len < 8192 ? m->len : 8192);
      copy[at] ^= (uint8_t)(1u + rnd() % 255u);
    }
    gbnn_interpreter *it = gbnn_open(copy, m->len, arena_a, ARENA_BYTES, 0, &e);
    if (it == NULL) {
      refused++;
      CHECK(e.status == GBNN_BAD_MODEL || e.status == GBNN_UNSUPPORTED || e.status == GBNN_ARENA_TOO_SMALL,
            "%s flip %d: %d %s", name, k, e.status, e.message);
      CHECK(e.message[0] != '\0', "%s flip %d: no message", name, k);
      continue;
    }
    opened++;
    if (invoked < max_invokes) {
      fill_inputs(it, (uint32_t)k);
      gbnn_status st = gbnn_invoke(it, &e);
      CHECK(st == GBNN_OK, "%s flip %d: invoke %s", name, k, e.message);
      invoked++;
    }
  }
  printf("  %s fuzz: every truncation refused; %d flipped models: %d opened (%d invoked), %d refused\n", name, flips,
         opened, invoked, refused);
  free(copy);
}

int main(void) {
  static const char *const paths[] = {"models/emotion_fer_int8.tflite", "models/cache/okay_nabu.tflite"};
  static const char *const names[] = {"emotion_fer_int8", "okay_nabu"};
  test_names();
  for (int i = 0; i < 2; i++) {
    blob m = load(paths[i]);
    if (m.data == NULL) {
      printf("%s: missing (run from the repository root; `make models` fetches the cache)\n", paths[i]);
      failures++;
      continue;
    }
    printf("%s (%zu bytes)\n", names[i], m.len);
    if (i == 0) test_arguments(&m);
    test_arena(names[i], &m);
    test_plan(names[i], &m, i == 0 ? 3 : 50);
    if (i == 1) test_reset(names[i], &m);
    test_refusal(&m);
    fuzz(names[i], &m, 3000, i == 0 ? 40 : 300);
    free(m.data);
  }
  if (failures) {
    fprintf(stderr, "%d failures\n", failures);
    return 1;
  }
  printf("ok\n");
  return 0;
}
