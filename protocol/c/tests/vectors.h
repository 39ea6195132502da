/* Reader of protocol/vectors/<name>.txt (format: protocol/vectors/README.md): one record per line, tokens
 * `key=value` separated by spaces, `#` starts a comment, blank lines skipped. Hex values decode to bytes. */
#ifndef GB_TESTS_VECTORS_H
#define GB_TESTS_VECTORS_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#ifndef GB_VECTORS_DIR
#define GB_VECTORS_DIR "protocol/vectors"
#endif

/* The longest line the reader takes. The firmware's MCU test build (firmware/tests/protocol_tests.cmake) passes a
 * smaller one: vec_file lives on the stack, and the STM32F405 has 128 KB of RAM (the longest line is ~2 KB). */
#ifndef VEC_LINE_MAX
#define VEC_LINE_MAX 32768
#endif
#define VEC_TOKENS 32

typedef struct {
  FILE *f;
  char path[512];
  int line_no;
  char line[VEC_LINE_MAX];
  int n;
  char *key[VEC_TOKENS];
  char *val[VEC_TOKENS];
  const char *first; /* the first token (for lines such as "config ..." or "t=0 ...") */
} vec_file;

static inline bool vec_open(vec_file *v, const char *name) {
  memset(v, 0, sizeof *v);
  snprintf(v->path, sizeof v->path, "%s/%s", GB_VECTORS_DIR, name);
  v->f = fopen(v->path, "r");
  if (!v->f) fprintf(stderr, "cannot open %s: run python protocol/tools/make_frame_vectors.py\n", v->path);
  return v->f != NULL;
}

static inline void vec_close(vec_file *v) {
  if (v->f) fclose(v->f);
  v->f = NULL;
}

/* Next record; false at the end of the file. */
static inline bool vec_next(vec_file *v) {
  while (fgets(v->line, sizeof v->line, v->f)) {
    v->line_no++;
    char *hash = strchr(v->line, '#');
    if (hash) *hash = 0;
    v->n = 0;
    char *p = v->line; /* split on whitespace by hand: strtok_r is POSIX, these tests are plain C11 */
    while (*p && v->n < VEC_TOKENS) {
      while (*p == ' ' || *p == '\t' || *p == '\r' || *p == '\n') *p++ = 0;
      if (!*p) break;
      char *t = p;
      while (*p && *p != ' ' && *p != '\t' && *p != '\r' && *p != '\n') p++;
      if (*p) *p++ = 0;
      char *eq = strchr(t, '=');
      v->key[v->n] = t;
      v->val[v->n] = eq ? eq + 1 : (char *)"";
      if (eq) *eq = 0;
      v->n++;
    }
    if (v->n) {
      v->first = v->key[0];
      return true;
    }
  }
  return false;
}

static inline const char *vec_get(const vec_file *v, const char *key) {
  for (int i = 0; i < v->n; i++)
    if (strcmp(v->key[i], key) == 0) return v->val[i];
  return NULL;
}

static inline bool vec_has(const vec_file *v, const char *key) { return vec_get(v, key) != NULL; }

static inline unsigned long long vec_u64(const vec_file *v, const char *key) {
  const char *s = vec_get(v, key);
  if (!s) {
    fprintf(stderr, "%s:%d: missing key %s\n", v->path, v->line_no, key);
    exit(2);
  }
  return strtoull(s, NULL, 0);
}

/* Decodes the hex value of `key` into buf (cap bytes); returns its length. Exits on malformed vectors. */
static inline size_t vec_hex(const vec_file *v, const char *key, uint8_t *buf, size_t cap) {
  const char *s = vec_get(v, key);
  size_t n = s ? strlen(s) : 0;
  if (!s || n % 2 || n / 2 > cap) {
    fprintf(stderr, "%s:%d: bad or missing hex value %s\n", v->path, v->line_no, key);
    exit(2);
  }
  for (size_t i = 0; i < n / 2; i++) {
    unsigned int b;
    if (sscanf(s + 2 * i, "%2x", &b) != 1) {
      fprintf(stderr, "%s:%d: bad hex in %s\n", v->path, v->line_no, key);
      exit(2);
    }
    buf[i] = (uint8_t)b;
  }
  return n / 2;
}

#endif
