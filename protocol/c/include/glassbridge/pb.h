/* Protocol Buffers wire primitives for the link engine and the firmware's message codec.
 *
 * Contract: no allocation, no I/O. A writer fills a caller-provided buffer and latches the first error, so a
 * sequence of writes needs one check at the end; a reader walks a caller-provided buffer and latches the first
 * error likewise. Every length read from the wire is checked against what is left before it is used.
 * Wire format: https://protobuf.dev/programming-guides/encoding/ (varint, fixed32, fixed64, length-delimited;
 * groups are refused: proto3 never produces them).
 */
#ifndef GLASSBRIDGE_PB_H
#define GLASSBRIDGE_PB_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef enum {
  GB_PB_OK = 0,
  GB_PB_ERR_OVERFLOW,   /* writer: the buffer is too small */
  GB_PB_ERR_TRUNCATED,  /* reader: the input ends inside a field */
  GB_PB_ERR_VARINT,     /* reader: a varint longer than 10 bytes or wider than its field */
  GB_PB_ERR_WIRE_TYPE,  /* reader: wire type 3, 4, 6 or 7, or a known field with the wrong wire type */
  GB_PB_ERR_FIELD,      /* reader: field number 0 or above 2^29-1 */
  GB_PB_ERR_TOO_LARGE,  /* a string/bytes value exceeds its C buffer (the .proto `limit:`) */
  GB_PB_ERR_UTF8,       /* a string is not valid UTF-8 (protobuf refuses it too) or holds a NUL (C cannot) */
} gb_pb_status;

const char *gb_pb_status_str(gb_pb_status s);

enum { GB_PB_VARINT = 0, GB_PB_FIXED64 = 1, GB_PB_LEN = 2, GB_PB_FIXED32 = 5 };

typedef struct {
  uint8_t *buf;
  size_t cap;
  size_t len;
  gb_pb_status status;
} gb_pb_writer;

void gb_pb_writer_init(gb_pb_writer *w, uint8_t *buf, size_t cap);
void gb_pb_put_tag(gb_pb_writer *w, uint32_t field, uint32_t wire_type);
void gb_pb_put_varint(gb_pb_writer *w, uint64_t v);
void gb_pb_put_fixed32(gb_pb_writer *w, uint32_t v);
void gb_pb_put_fixed64(gb_pb_writer *w, uint64_t v);
void gb_pb_put_raw(gb_pb_writer *w, const void *data, size_t n);
/* Field helpers: proto3 semantics, a field equal to its default (0, false, empty) is not written. */
void gb_pb_field_uint(gb_pb_writer *w, uint32_t field, uint64_t v);
void gb_pb_field_sint(gb_pb_writer *w, uint32_t field, int64_t v);     /* sint32/sint64: zigzag */
void gb_pb_field_int(gb_pb_writer *w, uint32_t field, int64_t v);      /* int32/int64/enum: two's complement */
void gb_pb_field_bool(gb_pb_writer *w, uint32_t field, bool v);
void gb_pb_field_fixed32(gb_pb_writer *w, uint32_t field, uint32_t v);
void gb_pb_field_bytes(gb_pb_writer *w, uint32_t field, const void *data, size_t n);
/* A nested message: writes tag and length, then calls `body` into a sub-writer of the remaining space.
 * Written even when empty (a set oneof member must be visible). */
void gb_pb_field_message(gb_pb_writer *w, uint32_t field, void (*body)(gb_pb_writer *, const void *),
                         const void *ctx);

typedef struct {
  const uint8_t *p;
  const uint8_t *end;
  gb_pb_status status;
} gb_pb_reader;

typedef struct {
  uint32_t field;
  uint32_t wire_type;
  uint64_t varint;          /* GB_PB_VARINT, GB_PB_FIXED32, GB_PB_FIXED64: the value */
  const uint8_t *data;      /* GB_PB_LEN: the bytes */
  size_t len;
} gb_pb_field_t;

void gb_pb_reader_init(gb_pb_reader *r, const void *buf, size_t len);
/* Next field; false at the end of input or on error (then r->status says which). */
bool gb_pb_next(gb_pb_reader *r, gb_pb_field_t *f);
/* Typed views of a field just read; each checks the wire type and latches GB_PB_ERR_WIRE_TYPE otherwise. */
uint32_t gb_pb_as_u32(gb_pb_reader *r, const gb_pb_field_t *f);   /* uint32, enum (values above 2^32 refused) */
uint64_t gb_pb_as_u64(gb_pb_reader *r, const gb_pb_field_t *f);
int32_t gb_pb_as_s32(gb_pb_reader *r, const gb_pb_field_t *f);    /* sint32 (zigzag) */
int32_t gb_pb_as_i32(gb_pb_reader *r, const gb_pb_field_t *f);    /* int32 / enum as protobuf encodes it */
bool gb_pb_as_bool(gb_pb_reader *r, const gb_pb_field_t *f);
uint32_t gb_pb_as_fixed32(gb_pb_reader *r, const gb_pb_field_t *f);
/* Copies a string/bytes field into dst (cap bytes); strings get a NUL (so cap includes it). A string must be
 * valid UTF-8 without NUL bytes (GB_PB_ERR_UTF8 otherwise): proto3 parsers refuse invalid UTF-8, and a NUL
 * would silently cut the C string. */
size_t gb_pb_as_bytes(gb_pb_reader *r, const gb_pb_field_t *f, void *dst, size_t cap);
void gb_pb_as_string(gb_pb_reader *r, const gb_pb_field_t *f, char *dst, size_t cap);

/* True when s[0..n) is well-formed UTF-8 (RFC 3629: no overlong forms, no surrogates, at most U+10FFFF)
 * without NUL bytes: what a string field may carry. Encoders check it before writing a string. */
bool gb_pb_utf8_ok(const void *s, size_t n);

#ifdef __cplusplus
}
#endif
#endif
