/* The flatbuffer reader: tables, fields, vectors and strings of a .tflite model, every position checked against the
 * model's length before it is read (a corrupt model is refused, never read out of bounds). Multi-byte values are read
 * with memcpy (any alignment) and are little-endian, as the targets are. */
#include <string.h>

#include "core_private.h"

uint32_t gbnn_fb_u32(const uint8_t *p) {
  uint32_t v;
  memcpy(&v, p, sizeof v);
  return v;
}

static uint16_t fb_u16(const uint8_t *p) {
  uint16_t v;
  memcpy(&v, p, sizeof v);
  return v;
}

int64_t gbnn_fb_i64(const uint8_t *p) {
  int64_t v;
  memcpy(&v, p, sizeof v);
  return v;
}

/* The vtable of a table already checked by gbnn_fb_table. */
static uint32_t vtable_of(const gbnn_table *t) {
  int32_t soff;
  memcpy(&soff, t->buf + t->pos, sizeof soff);
  return (uint32_t)((int64_t)t->pos - (int64_t)soff);
}

bool gbnn_fb_table(const uint8_t *buf, size_t len, uint32_t pos, gbnn_table *t) {
  t->buf = buf;
  t->len = len;
  t->pos = 0;
  if (pos == 0 || (uint64_t)pos + 4u > len) return false;
  int32_t soff;
  memcpy(&soff, buf + pos, sizeof soff);
  int64_t vt = (int64_t)pos - (int64_t)soff;
  if (vt < 0 || (uint64_t)vt + 4u > len) return false;
  uint16_t vt_size = fb_u16(buf + vt), table_size = fb_u16(buf + vt + 2);
  if (vt_size < 4 || (vt_size & 1u) || (uint64_t)vt + vt_size > len) return false;
  if (table_size < 4 || (uint64_t)pos + table_size > len) return false;
  /* Every present field starts inside the table. */
  for (uint32_t f = 4; f + 2 <= vt_size; f += 2) {
    uint16_t off = fb_u16(buf + vt + f);
    if (off != 0 && (off < 4 || off >= table_size)) return false;
  }
  t->pos = pos;
  return true;
}

uint32_t gbnn_fb_field(const gbnn_table *t, int field, uint32_t size, bool *bad) {
  if (t->pos == 0 || field < 0) return 0;
  uint32_t vt = vtable_of(t);
  uint16_t vt_size = fb_u16(t->buf + vt), table_size = fb_u16(t->buf + vt + 2);
  uint32_t entry = 4u + 2u * (uint32_t)field;
  if (entry + 2u > vt_size) return 0;
  uint16_t off = fb_u16(t->buf + vt + entry);
  if (off == 0) return 0;
  if ((uint32_t)off + size > table_size) {
    if (bad) *bad = true;
    return 0;
  }
  return t->pos + off;
}

uint32_t gbnn_fb_indirect(const gbnn_table *t, int field, bool *bad) {
  bool broken = false;
  uint32_t at = gbnn_fb_field(t, field, 4, &broken);
  if (at == 0) {
    if (broken && bad) *bad = true;
    return 0;
  }
  uint64_t target = (uint64_t)at + gbnn_fb_u32(t->buf + at);
  if (target + 4u > t->len) {
    if (bad) *bad = true;
    return 0;
  }
  return (uint32_t)target;
}

bool gbnn_fb_vector(const gbnn_table *t, int field, uint32_t elem, uint32_t *pos, uint32_t *n) {
  bool bad = false;
  *pos = 0;
  *n = 0;
  uint32_t at = gbnn_fb_indirect(t, field, &bad);
  if (at == 0) return !bad;
  uint32_t count = gbnn_fb_u32(t->buf + at);
  if ((uint64_t)at + 4u + (uint64_t)count * elem > t->len) return false;
  *pos = at + 4u;
  *n = count;
  return true;
}

bool gbnn_fb_vector_table(const uint8_t *buf, size_t len, uint32_t pos, uint32_t i, gbnn_table *t) {
  uint64_t at = (uint64_t)pos + 4u * (uint64_t)i;
  if (at + 4u > len) return false;
  uint64_t target = at + gbnn_fb_u32(buf + at);
  if (target > UINT32_MAX) return false;
  return gbnn_fb_table(buf, len, (uint32_t)target, t);
}

uint64_t gbnn_fb_u64_field(const gbnn_table *t, int field, uint64_t dflt, bool *bad) {
  uint32_t at = gbnn_fb_field(t, field, 8, bad);
  if (at == 0) return dflt;
  uint64_t v;
  memcpy(&v, t->buf + at, sizeof v);
  return v;
}

/* ---- internal.h: what the ops read from their options (a broken field reads as the default) ---- */

int32_t gbnn_table_i32(const gbnn_table *t, int field, int32_t dflt) {
  uint32_t at = gbnn_fb_field(t, field, 4, NULL);
  if (at == 0) return dflt;
  int32_t v;
  memcpy(&v, t->buf + at, sizeof v);
  return v;
}

int32_t gbnn_table_i8(const gbnn_table *t, int field, int32_t dflt) {
  uint32_t at = gbnn_fb_field(t, field, 1, NULL);
  if (at == 0) return dflt;
  return (int32_t)(int8_t)t->buf[at];
}

float gbnn_table_f32(const gbnn_table *t, int field, float dflt) {
  uint32_t at = gbnn_fb_field(t, field, 4, NULL);
  if (at == 0) return dflt;
  float v;
  memcpy(&v, t->buf + at, sizeof v);
  return v;
}

const char *gbnn_table_string(const gbnn_table *t, int field, uint32_t *len) {
  uint32_t pos, n;
  *len = 0;
  if (!gbnn_fb_vector(t, field, 1, &pos, &n) || pos == 0) return NULL;
  *len = n;
  return (const char *)(t->buf + pos);
}

const uint8_t *gbnn_table_vector(const gbnn_table *t, int field, uint32_t *n) {
  uint32_t pos, count;
  *n = 0;
  if (!gbnn_fb_vector(t, field, 4, &pos, &count) || pos == 0) return NULL;
  *n = count;
  return t->buf + pos;
}

int32_t gbnn_vec_i32(const uint8_t *vec, uint32_t i) {
  int32_t v;
  memcpy(&v, vec + 4u * (size_t)i, sizeof v);
  return v;
}
