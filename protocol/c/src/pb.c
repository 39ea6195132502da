/* Protocol Buffers wire primitives: see include/glassbridge/pb.h for the contract. */
#include "glassbridge/pb.h"

#include <string.h>

const char *gb_pb_status_str(gb_pb_status s) {
  switch (s) {
    case GB_PB_OK: return "ok";
    case GB_PB_ERR_OVERFLOW: return "output buffer too small";
    case GB_PB_ERR_TRUNCATED: return "input ends inside a field";
    case GB_PB_ERR_VARINT: return "malformed or too wide varint";
    case GB_PB_ERR_WIRE_TYPE: return "unsupported or unexpected wire type";
    case GB_PB_ERR_FIELD: return "invalid field number";
    case GB_PB_ERR_TOO_LARGE: return "string or bytes value exceeds its limit";
    case GB_PB_ERR_UTF8: return "string is not valid UTF-8 or contains a NUL byte";
  }
  return "unknown pb status";
}

/* ---- writer ---------------------------------------------------------------------------------------- */

void gb_pb_writer_init(gb_pb_writer *w, uint8_t *buf, size_t cap) {
  w->buf = buf;
  w->cap = cap;
  w->len = 0;
  w->status = GB_PB_OK;
}

static void put_byte(gb_pb_writer *w, uint8_t b) {
  if (w->status != GB_PB_OK) return;
  if (w->len >= w->cap) {
    w->status = GB_PB_ERR_OVERFLOW;
    return;
  }
  if (w->buf) w->buf[w->len] = b; /* a writer without a buffer only counts (gb_pb_field_message) */
  w->len++;
}

void gb_pb_put_varint(gb_pb_writer *w, uint64_t v) {
  while (v >= 0x80u) {
    put_byte(w, (uint8_t)(v | 0x80u));
    v >>= 7;
  }
  put_byte(w, (uint8_t)v);
}

void gb_pb_put_tag(gb_pb_writer *w, uint32_t field, uint32_t wire_type) {
  gb_pb_put_varint(w, ((uint64_t)field << 3) | (wire_type & 7u));
}

void gb_pb_put_fixed32(gb_pb_writer *w, uint32_t v) {
  for (int i = 0; i < 4; i++) put_byte(w, (uint8_t)(v >> (8 * i)));
}

void gb_pb_put_fixed64(gb_pb_writer *w, uint64_t v) {
  for (int i = 0; i < 8; i++) put_byte(w, (uint8_t)(v >> (8 * i)));
}

void gb_pb_put_raw(gb_pb_writer *w, const void *data, size_t n) {
  if (w->status != GB_PB_OK) return;
  if (n > w->cap - w->len) {
    w->status = GB_PB_ERR_OVERFLOW;
    return;
  }
  if (n && w->buf) memcpy(w->buf + w->len, data, n);
  w->len += n;
}

void gb_pb_field_uint(gb_pb_writer *w, uint32_t field, uint64_t v) {
  if (!v) return;
  gb_pb_put_tag(w, field, GB_PB_VARINT);
  gb_pb_put_varint(w, v);
}

void gb_pb_field_sint(gb_pb_writer *w, uint32_t field, int64_t v) {
  if (!v) return;
  /* zigzag: 0,-1,1,-2 -> 0,1,2,3; the shift of the sign is done on unsigned values (no UB). */
  uint64_t u = ((uint64_t)v << 1) ^ (v < 0 ? UINT64_MAX : 0u);
  gb_pb_put_tag(w, field, GB_PB_VARINT);
  gb_pb_put_varint(w, u);
}

void gb_pb_field_int(gb_pb_writer *w, uint32_t field, int64_t v) {
  /* int32 negatives are sign-extended to 64 bits on the wire (10 bytes), as protobuf does. */
  gb_pb_field_uint(w, field, (uint64_t)v);
}

void gb_pb_field_bool(gb_pb_writer *w, uint32_t field, bool v) { gb_pb_field_uint(w, field, v ? 1u : 0u); }

void gb_pb_field_fixed32(gb_pb_writer *w, uint32_t field, uint32_t v) {
  if (!v) return;
  gb_pb_put_tag(w, field, GB_PB_FIXED32);
  gb_pb_put_fixed32(w, v);
}

void gb_pb_field_bytes(gb_pb_writer *w, uint32_t field, const void *data, size_t n) {
  if (!n) return;
  gb_pb_put_tag(w, field, GB_PB_LEN);
  gb_pb_put_varint(w, n);
  gb_pb_put_raw(w, data, n);
}

void gb_pb_field_message(gb_pb_writer *w, uint32_t field, void (*body)(gb_pb_writer *, const void *),
                         const void *ctx) {
  if (w->status != GB_PB_OK) return;
  /* Measure first (a writer with no buffer counts), then write tag, length and body: no moving of bytes. */
  gb_pb_writer probe;
  gb_pb_writer_init(&probe, NULL, SIZE_MAX);
  body(&probe, ctx);
  if (probe.status != GB_PB_OK) { /* e.g. a value over its limit: report that, not a wrong-length overflow */
    w->status = probe.status;
    return;
  }
  size_t n = probe.len;
  gb_pb_put_tag(w, field, GB_PB_LEN);
  gb_pb_put_varint(w, n);
  if (w->status != GB_PB_OK) return;
  if (n > w->cap - w->len) {
    w->status = GB_PB_ERR_OVERFLOW;
    return;
  }
  size_t start = w->len;
  body(w, ctx);
  if (w->status == GB_PB_OK && w->len - start != n) w->status = GB_PB_ERR_OVERFLOW; /* body not deterministic */
}

/* ---- reader ---------------------------------------------------------------------------------------- */

void gb_pb_reader_init(gb_pb_reader *r, const void *buf, size_t len) {
  r->p = (const uint8_t *)buf;
  r->end = len ? r->p + len : r->p; /* NULL + 0 is undefined in C: an empty input may come as NULL */
  r->status = GB_PB_OK;
}

static bool get_varint(gb_pb_reader *r, uint64_t *out) {
  uint64_t v = 0;
  for (unsigned shift = 0; shift < 70; shift += 7) {
    if (r->p >= r->end) {
      r->status = GB_PB_ERR_TRUNCATED;
      return false;
    }
    uint8_t b = *r->p++;
    /* The 10th byte may only carry the top bit of a 64-bit value. */
    if (shift == 63 && b > 1) {
      r->status = GB_PB_ERR_VARINT;
      return false;
    }
    v |= (uint64_t)(b & 0x7fu) << shift;
    if (!(b & 0x80u)) {
      *out = v;
      return true;
    }
  }
  r->status = GB_PB_ERR_VARINT;
  return false;
}

static bool get_fixed(gb_pb_reader *r, unsigned n, uint64_t *out) {
  if ((size_t)(r->end - r->p) < n) {
    r->status = GB_PB_ERR_TRUNCATED;
    return false;
  }
  uint64_t v = 0;
  for (unsigned i = 0; i < n; i++) v |= (uint64_t)r->p[i] << (8 * i);
  r->p += n;
  *out = v;
  return true;
}

bool gb_pb_next(gb_pb_reader *r, gb_pb_field_t *f) {
  if (r->status != GB_PB_OK || r->p >= r->end) return false;
  uint64_t key;
  const uint8_t *tag_start = r->p;
  if (!get_varint(r, &key)) return false;
  /* A tag is a 32-bit varint: at most 5 bytes, as protobuf's parsers require (CODEC.md). */
  if (r->p - tag_start > 5) {
    r->status = GB_PB_ERR_VARINT;
    return false;
  }
  uint64_t field = key >> 3;
  if (field == 0 || field > 0x1fffffffu) {
    r->status = GB_PB_ERR_FIELD;
    return false;
  }
  f->field = (uint32_t)field;
  f->wire_type = (uint32_t)(key & 7u);
  f->varint = 0;
  f->data = NULL;
  f->len = 0;
  switch (f->wire_type) {
    case GB_PB_VARINT: return get_varint(r, &f->varint);
    case GB_PB_FIXED64: return get_fixed(r, 8, &f->varint);
    case GB_PB_FIXED32: return get_fixed(r, 4, &f->varint);
    case GB_PB_LEN: {
      uint64_t n;
      if (!get_varint(r, &n)) return false;
      if (n > (uint64_t)(r->end - r->p)) {
        r->status = GB_PB_ERR_TRUNCATED;
        return false;
      }
      f->data = r->p;
      f->len = (size_t)n;
      r->p += n;
      return true;
    }
    default: r->status = GB_PB_ERR_WIRE_TYPE; return false;
  }
}

static bool want(gb_pb_reader *r, const gb_pb_field_t *f, uint32_t wire_type) {
  if (f->wire_type == wire_type) return true;
  if (r->status == GB_PB_OK) r->status = GB_PB_ERR_WIRE_TYPE;
  return false;
}

uint32_t gb_pb_as_u32(gb_pb_reader *r, const gb_pb_field_t *f) {
  if (!want(r, f, GB_PB_VARINT)) return 0;
  /* protobuf truncates wider varints into uint32 fields; we refuse them: our peers never send them. */
  if (f->varint > UINT32_MAX) {
    if (r->status == GB_PB_OK) r->status = GB_PB_ERR_VARINT;
    return 0;
  }
  return (uint32_t)f->varint;
}

uint64_t gb_pb_as_u64(gb_pb_reader *r, const gb_pb_field_t *f) { return want(r, f, GB_PB_VARINT) ? f->varint : 0; }

int32_t gb_pb_as_s32(gb_pb_reader *r, const gb_pb_field_t *f) {
  uint32_t u = gb_pb_as_u32(r, f);
  return (int32_t)((u >> 1) ^ (0u - (u & 1u)));
}

int32_t gb_pb_as_i32(gb_pb_reader *r, const gb_pb_field_t *f) {
  if (!want(r, f, GB_PB_VARINT)) return 0;
  /* int32 and enums: negative values arrive sign-extended to 64 bits; keep the low 32 bits. */
  return (int32_t)(uint32_t)f->varint;
}

bool gb_pb_as_bool(gb_pb_reader *r, const gb_pb_field_t *f) { return want(r, f, GB_PB_VARINT) && f->varint != 0; }

uint32_t gb_pb_as_fixed32(gb_pb_reader *r, const gb_pb_field_t *f) {
  return want(r, f, GB_PB_FIXED32) ? (uint32_t)f->varint : 0;
}

size_t gb_pb_as_bytes(gb_pb_reader *r, const gb_pb_field_t *f, void *dst, size_t cap) {
  if (!want(r, f, GB_PB_LEN)) return 0;
  if (f->len > cap) {
    if (r->status == GB_PB_OK) r->status = GB_PB_ERR_TOO_LARGE;
    return 0;
  }
  if (f->len) memcpy(dst, f->data, f->len);
  return f->len;
}

void gb_pb_as_string(gb_pb_reader *r, const gb_pb_field_t *f, char *dst, size_t cap) {
  if (cap == 0) return;
  dst[0] = 0;
  if (!want(r, f, GB_PB_LEN)) return;
  if (f->len >= cap) {
    if (r->status == GB_PB_OK) r->status = GB_PB_ERR_TOO_LARGE;
    return;
  }
  if (!gb_pb_utf8_ok(f->data, f->len)) {
    if (r->status == GB_PB_OK) r->status = GB_PB_ERR_UTF8;
    return;
  }
  if (f->len) memcpy(dst, f->data, f->len);
  dst[f->len] = 0;
}

bool gb_pb_utf8_ok(const void *s, size_t n) {
  const uint8_t *p = (const uint8_t *)s, *end = n ? p + n : p; /* NULL + 0 is undefined */
  while (p < end) {
    uint8_t b = *p++;
    if (b < 0x80u) {
      if (b == 0) return false;
      continue;
    }
    /* Lead byte: the count of continuation bytes and the smallest/largest allowed second byte, which rules
     * out overlong forms (E0 80..9F, F0 80..8F), surrogates (ED A0..BF) and code points above U+10FFFF. */
    unsigned more;
    uint8_t lo = 0x80u, hi = 0xBFu;
    if (b >= 0xC2u && b <= 0xDFu) more = 1;
    else if (b >= 0xE0u && b <= 0xEFu) {
      more = 2;
      if (b == 0xE0u) lo = 0xA0u;
      if (b == 0xEDu) hi = 0x9Fu;
    } else if (b >= 0xF0u && b <= 0xF4u) {
      more = 3;
      if (b == 0xF0u) lo = 0x90u;
      if (b == 0xF4u) hi = 0x8Fu;
    } else
      return false; /* 80..C1 (continuation or overlong 2-byte lead), F5..FF */
    if ((size_t)(end - p) < more) return false;
    if (p[0] < lo || p[0] > hi) return false;
    for (unsigned i = 1; i < more; i++)
      if ((p[i] & 0xC0u) != 0x80u) return false;
    p += more;
  }
  return true;
}
