/* The C message codec against Python's protobuf: protocol/vectors/messages.txt (bytes made by protobuf, see
 * protocol/tools/make_message_vectors.py) decoded, checked field by field, re-encoded and compared byte for
 * byte; invalid inputs must give the stated status. Plus the encoder's own refusals, which no vector can
 * carry (over-limit strings and bytes in a struct, bad UTF-8, an unknown oneof member, a short buffer).
 *
 * Exit code 0 = all passed; every failure is printed with the vector's name.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "glassbridge/messages.h"
#include "messages_dump.h"

#ifndef GB_VECTORS_DIR
#define GB_VECTORS_DIR "protocol/vectors"
#endif

static int failures;
static int checks;

#define CHECK(cond, ...)                                   \
  do {                                                     \
    checks++;                                              \
    if (!(cond)) {                                         \
      failures++;                                          \
      fprintf(stderr, "FAIL %s:%d: ", __FILE__, __LINE__); \
      fprintf(stderr, __VA_ARGS__);                        \
      fprintf(stderr, "\n");                               \
    }                                                      \
  } while (0)

/* Room for the largest message struct, aligned for any member. */
static union {
  max_align_t align;
  uint8_t bytes[8192];
} obj, obj2;

static uint8_t input[8192], output[8192], encoded[8192];

typedef struct {
  const char *name;
  gb_pb_status status;
} status_name;

/* Written here from pb.h, not taken from gb_pb_status_str: the vectors name statuses by their enum suffix. */
static const status_name STATUS_NAMES[] = {
    {"OVERFLOW", GB_PB_ERR_OVERFLOW}, {"TRUNCATED", GB_PB_ERR_TRUNCATED}, {"VARINT", GB_PB_ERR_VARINT},
    {"WIRE_TYPE", GB_PB_ERR_WIRE_TYPE}, {"FIELD", GB_PB_ERR_FIELD}, {"TOO_LARGE", GB_PB_ERR_TOO_LARGE},
    {"UTF8", GB_PB_ERR_UTF8},
};

static bool status_by_name(const char *name, gb_pb_status *out) {
  for (size_t i = 0; i < sizeof STATUS_NAMES / sizeof STATUS_NAMES[0]; i++)
    if (!strcmp(STATUS_NAMES[i].name, name)) {
      *out = STATUS_NAMES[i].status;
      return true;
    }
  return false;
}

static int hexval(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  return -1;
}

/* Parses lowercase hex into out; returns the byte count or -1 on bad input. */
static long parse_hex(const char *s, uint8_t *out, size_t cap) {
  size_t n = strlen(s);
  if (n % 2 || n / 2 > cap) return -1;
  for (size_t i = 0; i < n / 2; i++) {
    int hi = hexval(s[2 * i]), lo = hexval(s[2 * i + 1]);
    if (hi < 0 || lo < 0) return -1;
    out[i] = (uint8_t)(hi * 16 + lo);
  }
  return (long)(n / 2);
}

static const gb_dump_type *type_by_name(const char *name) {
  for (size_t i = 0; i < sizeof gb_dump_types / sizeof gb_dump_types[0]; i++)
    if (!strcmp(gb_dump_types[i].name, name)) return &gb_dump_types[i];
  return NULL;
}

static bool all_zero(const uint8_t *p, size_t n) {
  for (size_t i = 0; i < n; i++)
    if (p[i]) return false;
  return true;
}

typedef struct {
  char name[96];
  char type[48];
  long input_len, output_len;
  bool has_output, has_error, python_ok;
  gb_pb_status error;
  char fields[16384]; /* expected dump: "path=value\n" lines */
  size_t fields_len;
} vector;

static void run_vector(const vector *v) {
  const gb_dump_type *t = type_by_name(v->type);
  CHECK(t != NULL, "%s: unknown type %s", v->name, v->type);
  if (!t) return;
  CHECK(t->size <= sizeof obj.bytes, "%s: struct too large for the test buffer", v->name);
  gb_pb_status st = GB_PB_OK;
  bool ok = t->decode(input, (size_t)v->input_len, obj.bytes, &st);

  if (v->has_error) {
    CHECK(!ok && st == v->error, "%s: expected status %s, got %s", v->name, gb_pb_status_str(v->error),
          ok ? "success" : gb_pb_status_str(st));
    CHECK(all_zero(obj.bytes, t->size), "%s: output not zeroed after a failed decode", v->name);
    return;
  }
  CHECK(ok && st == GB_PB_OK, "%s: decode failed: %s", v->name, gb_pb_status_str(st));
  if (!ok) return;

  gb_dump d = {{0}, 0, false};
  t->dump(&d, obj.bytes);
  CHECK(!d.overflow, "%s: dump overflow", v->name);
  CHECK(d.len == v->fields_len && !memcmp(d.text, v->fields, d.len), "%s: fields differ\n--- expected\n%s--- got\n%s",
        v->name, v->fields, d.text);

  /* Re-encode: exactly the bytes protobuf gives, in a buffer of exactly that size. */
  size_t len = 0;
  ok = t->encode(obj.bytes, encoded, (size_t)v->output_len, &len, &st);
  CHECK(ok && len == (size_t)v->output_len && !memcmp(encoded, output, len),
        "%s: re-encoding differs (status %s, %zu bytes, expected %ld)", v->name, gb_pb_status_str(st), len,
        v->output_len);
  CHECK(len <= t->max_size, "%s: %zu bytes exceed GB_%s_MAX_SIZE %zu", v->name, len, v->type, t->max_size);
  /* Measuring (buf NULL) gives the same length. */
  size_t measured = 0;
  CHECK(t->encode(obj.bytes, NULL, 0, &measured, &st) && measured == len, "%s: measuring gives %zu, not %zu",
        v->name, measured, len);
  /* One byte less must overflow, never write past the end. */
  if (len > 0) {
    ok = t->encode(obj.bytes, encoded, len - 1, &measured, &st);
    CHECK(!ok && st == GB_PB_ERR_OVERFLOW && measured == 0, "%s: short buffer gives %s", v->name,
          ok ? "success" : gb_pb_status_str(st));
  }
  /* The output decodes to the same fields (idempotence). */
  ok = t->decode(output, (size_t)v->output_len, obj2.bytes, &st);
  gb_dump d2 = {{0}, 0, false};
  if (ok) t->dump(&d2, obj2.bytes);
  CHECK(ok && d2.len == d.len && !memcmp(d2.text, d.text, d.len), "%s: output does not decode to the same fields",
        v->name);
  /* Every proper prefix either decodes or fails cleanly (the sanitizers watch the reads). */
  for (long n = 0; n < v->input_len; n++) {
    if (!t->decode(input, (size_t)n, obj2.bytes, &st)) CHECK(all_zero(obj2.bytes, t->size), "%s: prefix %ld", v->name, n);
  }
}

static int run_vectors(const char *path) {
  FILE *f = fopen(path, "rb");
  if (!f) {
    fprintf(stderr, "cannot open %s: run from the repository root or define GB_VECTORS_DIR\n", path);
    return 0;
  }
  static char line[20000];
  static vector v;
  int count = 0;
  bool in_vector = false;
  while (fgets(line, sizeof line, f)) {
    size_t n = strlen(line);
    if (n && line[n - 1] != '\n' && !feof(f)) {
      fprintf(stderr, "%s: line longer than %zu bytes\n", path, sizeof line);
      failures++;
      break;
    }
    while (n && (line[n - 1] == '\n' || line[n - 1] == '\r')) line[--n] = 0;
    if (!n || line[0] == '#') continue;
    char *val = strchr(line, ' ');
    const char *key = line;
    if (val) *val++ = 0;
    else val = line + n;
    if (!strcmp(key, "vector")) {
      memset(&v, 0, sizeof v);
      snprintf(v.name, sizeof v.name, "%s", val);
      in_vector = true;
    } else if (!in_vector) {
      CHECK(0, "%s: '%s' outside a vector", path, key);
    } else if (!strcmp(key, "type")) {
      snprintf(v.type, sizeof v.type, "%s", val);
    } else if (!strcmp(key, "input")) {
      v.input_len = parse_hex(val, input, sizeof input);
      CHECK(v.input_len >= 0, "%s: bad input hex", v.name);
    } else if (!strcmp(key, "output")) {
      v.output_len = parse_hex(val, output, sizeof output);
      v.has_output = v.output_len >= 0;
      CHECK(v.has_output, "%s: bad output hex", v.name);
    } else if (!strcmp(key, "python")) {
      v.python_ok = !strcmp(val, "ok");
    } else if (!strcmp(key, "error")) {
      v.has_error = status_by_name(val, &v.error);
      CHECK(v.has_error, "%s: unknown error name %s", v.name, val);
    } else if (!strcmp(key, "field")) {
      size_t add = strlen(val) + 1;
      CHECK(v.fields_len + add < sizeof v.fields, "%s: too many fields", v.name);
      if (v.fields_len + add < sizeof v.fields) {
        memcpy(v.fields + v.fields_len, val, add - 1);
        v.fields[v.fields_len + add - 1] = '\n';
        v.fields_len += add;
        v.fields[v.fields_len] = 0;
      }
    } else if (!strcmp(key, "end")) {
      CHECK(v.has_error != v.has_output, "%s: a vector needs exactly one of output and error", v.name);
      if (v.input_len >= 0 && (v.has_error || v.has_output)) run_vector(&v);
      in_vector = false;
      count++;
    } else if (strcmp(key, "about")) {
      CHECK(0, "%s: unknown key '%s'", v.name, key);
    }
  }
  fclose(f);
  return count;
}

/* ---- the encoder's refusals (no vector can hold an invalid struct) ---- */

static void test_encoder_refusals(void) {
  static gb_Message m;
  size_t len = 99;
  gb_pb_status st;

  memset(&m, 0, sizeof m);
  m.which_body = GB_MESSAGE_CARD_TAG;
  memset(m.body.card.title, 'a', sizeof m.body.card.title); /* no NUL: 48 bytes, one over the limit */
  CHECK(!gb_Message_encode(&m, encoded, sizeof encoded, &len, &st) && st == GB_PB_ERR_TOO_LARGE && len == 0,
        "string without NUL: %s", gb_pb_status_str(st));
  /* The same inside a buffer too small for the rest: the limit is reported, not the overflow. */
  CHECK(!gb_Message_encode(&m, encoded, 3, &len, &st) && st == GB_PB_ERR_TOO_LARGE, "nested limit: %s",
        gb_pb_status_str(st));

  memset(&m, 0, sizeof m);
  m.which_body = GB_MESSAGE_MIC_AUDIO_TAG;
  m.body.mic_audio.pcm.size = GB_AUDIO_FRAME_PCM_LIMIT + 1;
  CHECK(!gb_Message_encode(&m, encoded, sizeof encoded, &len, &st) && st == GB_PB_ERR_TOO_LARGE,
        "bytes size over limit: %s", gb_pb_status_str(st));

  memset(&m, 0, sizeof m);
  m.which_body = GB_MESSAGE_RESULT_TAG;
  memcpy(m.body.result.message, "caf\xc3", 4); /* cut inside a 2-byte sequence */
  CHECK(!gb_Message_encode(&m, encoded, sizeof encoded, &len, &st) && st == GB_PB_ERR_UTF8, "bad UTF-8: %s",
        gb_pb_status_str(st));

  memset(&m, 0, sizeof m);
  m.which_body = 99; /* names no member: the body would vanish silently */
  CHECK(!gb_Message_encode(&m, encoded, sizeof encoded, &len, &st) && st == GB_PB_ERR_FIELD, "unknown which: %s",
        gb_pb_status_str(st));

  /* The widest Message (the largest body, AudioFrame, with every field at its widest) is exactly
   * GB_MESSAGE_MAX_SIZE bytes and fits a buffer of that size. */
  memset(&m, 0, sizeof m);
  m.request_id = UINT32_MAX;
  m.which_body = GB_MESSAGE_MIC_AUDIO_TAG;
  m.body.mic_audio.sample_rate = UINT32_MAX;
  m.body.mic_audio.first_sample = UINT64_MAX;
  m.body.mic_audio.gap_before = true;
  m.body.mic_audio.pcm.size = GB_AUDIO_FRAME_PCM_LIMIT;
  m.body.mic_audio.stream_id = UINT32_MAX;
  CHECK(gb_Message_encode(&m, encoded, GB_MESSAGE_MAX_SIZE, &len, &st) && len == GB_MESSAGE_MAX_SIZE,
        "widest message: %s, %zu bytes, GB_MESSAGE_MAX_SIZE %u", gb_pb_status_str(st), len, GB_MESSAGE_MAX_SIZE);

  /* err and len may be NULL. */
  memset(&m, 0, sizeof m);
  CHECK(gb_Message_encode(&m, encoded, sizeof encoded, NULL, NULL), "NULL len/err");
  CHECK(gb_Message_decode(NULL, 0, &m, NULL), "empty input from NULL");
}

/* gb_pb_utf8_ok against hand-picked sequences from RFC 3629 section 3 and the Unicode table 3-7. */
static void test_utf8(void) {
  static const struct {
    const char *s;
    size_t n;
    bool ok;
  } cases[] = {
      {"", 0, true},           {"abc", 3, true},          {"\xc2\x80", 2, true},       {"\xdf\xbf", 2, true},
      {"\xe0\xa0\x80", 3, true}, {"\xef\xbf\xbf", 3, true}, {"\xf0\x90\x80\x80", 4, true}, {"\xf4\x8f\xbf\xbf", 4, true},
      {"\xc1\xbf", 2, false},  {"\xe0\x9f\xbf", 3, false}, {"\xed\xa0\x80", 3, false},   {"\xed\x9f\xbf", 3, true},
      {"\xf0\x8f\xbf\xbf", 4, false}, {"\xf4\x90\x80\x80", 4, false}, {"\xf5\x80\x80\x80", 4, false},
      {"\x80", 1, false},      {"\xc2", 1, false},         {"\xe2\x82", 2, false},      {"a\0b", 3, false},
      {"\xc2\x41", 2, false},  {"\xff", 1, false},
  };
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
    CHECK(gb_pb_utf8_ok(cases[i].s, cases[i].n) == cases[i].ok, "utf8 case %zu", i);
}

int main(void) {
  const char *path = GB_VECTORS_DIR "/messages.txt";
  int count = run_vectors(path);
  CHECK(count >= 50, "only %d message vectors read from %s", count, path);
  test_encoder_refusals();
  test_utf8();
  if (failures) {
    fprintf(stderr, "test_messages: %d of %d checks failed\n", failures, checks);
    return 1;
  }
  printf("test_messages: %d vectors, %d checks passed\n", count, checks);
  return 0;
}
