/* glassbridge frames: CRC-32C, COBS and the frame header of both profiles (SPEC.md "Frame format").
 *
 * Contract: pure functions over caller buffers; no allocation, no I/O, no global state. Every length read from
 * the wire is checked before it is used, so arbitrary bytes never make these functions read or write out of
 * bounds (protocol/c/fuzz/fuzz_frame.c holds them to that). The link engine (link.h) is built on them; they are
 * public so that tests, the fuzzer and the Python conformance tests can check each layer on its own.
 */
#ifndef GLASSBRIDGE_FRAME_H
#define GLASSBRIDGE_FRAME_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "glassbridge/link.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ---- CRC-32C (Castagnoli): reflected polynomial 0x82F63B78, init and final XOR 0xFFFFFFFF ------------------
 * Chainable like zlib's crc32: start with crc = 0, feed pieces, the result of the last call is the CRC.
 * Check value: gb_crc32c(0, "123456789", 9) == 0xE3069283. */
#define GB_CRC32C_CHECK 0xE3069283u
uint32_t gb_crc32c(uint32_t crc, const void *data, size_t n);

/* ---- COBS (Cheshire & Baker, "Consistent Overhead Byte Stuffing", 1999) ------------------------------------
 * Encoding removes every 0x00 so that 0x00 can delimit frames. The encoder produces exactly the paper's
 * output (a block of 254 data bytes has code 0xFF and no implied zero; the encoding of n bytes is never longer
 * than GB_COBS_ENCODE_BOUND(n)); the delimiter is not part of it. */
#define GB_COBS_ENCODE_BOUND(n) ((n) + (n) / 254u + 1u) /* without the 0x00 delimiter */

typedef enum {
  GB_COBS_OK = 0,
  GB_COBS_ERR_OVERFLOW,  /* the output buffer is too small (encode or decode), or a stream frame too long */
  GB_COBS_ERR_ZERO,      /* decode: a 0x00 byte inside an encoded frame (it can only be a delimiter) */
  GB_COBS_ERR_TRUNCATED, /* decode: a code byte promises more bytes than the frame has */
  GB_COBS_ERR_EMPTY,     /* decode: nothing to decode (a valid encoding has at least one byte) */
} gb_cobs_status;

const char *gb_cobs_status_str(gb_cobs_status s);

typedef struct {
  size_t len; /* bytes written to dst (0 on error) */
  gb_cobs_status status;
} gb_cobs_result;

gb_cobs_result gb_cobs_encode(const uint8_t *src, size_t n, uint8_t *dst, size_t cap);
/* dst may equal src (decoding in place never writes ahead of what it reads). Accepts the paper's encoding and
 * also the common variant that omits a final 0x01 block after a 0xFF block. */
gb_cobs_result gb_cobs_decode(const uint8_t *src, size_t n, uint8_t *dst, size_t cap);

/* A byte-stream decoder: collects bytes up to each 0x00 delimiter and decodes them in place in `buf`. Noise
 * resynchronises at the next delimiter; empty frames (0x00 0x00, used to flush a line) are skipped silently. */
typedef struct {
  uint8_t *buf;
  size_t cap;    /* the longest encoded frame kept: GB_COBS_ENCODE_BOUND(max frame) */
  size_t len;
  bool overflow; /* the current frame exceeded cap: discard up to the next delimiter */
} gb_cobs_stream;

typedef enum {
  GB_COBS_STREAM_MORE = 0, /* all input consumed, no frame finished */
  GB_COBS_STREAM_FRAME,    /* frame/len hold a decoded frame (valid until the next feed) */
  GB_COBS_STREAM_ERROR,    /* a frame was discarded: error says why */
} gb_cobs_stream_kind;

typedef struct {
  gb_cobs_stream_kind kind;
  size_t consumed; /* input bytes used by this call: feed the rest again */
  const uint8_t *frame;
  size_t len;
  gb_cobs_status error;
} gb_cobs_stream_result;

void gb_cobs_stream_init(gb_cobs_stream *s, uint8_t *buf, size_t cap);
gb_cobs_stream_result gb_cobs_stream_feed(gb_cobs_stream *s, const uint8_t *data, size_t n);

/* ---- Frames ----------------------------------------------------------------------------------------------
 * UART profile (little-endian), then COBS and one 0x00:
 *   version u8 | flags u8 | channel u8 | seq u16 | ack u16 | sack u32 | length u16 | payload | crc32c u32
 *   (the CRC covers every byte before it)
 * Packet profile (one frame per datagram; the transport checks integrity and length):
 *   flags u8 | channel u8 | seq u16 | ack u16 | sack u32 | payload */
typedef struct {
  uint8_t flags;
  uint8_t channel;
  uint16_t seq;
  uint16_t ack;
  uint32_t sack;
  const uint8_t *payload;
  size_t payload_len;
} gb_frame;

typedef enum {
  GB_FRAME_OK = 0,
  GB_FRAME_ERR_SHORT,    /* fewer bytes than a header (and CRC) */
  GB_FRAME_ERR_LENGTH,   /* UART: the length field disagrees with the bytes received */
  GB_FRAME_ERR_CRC,      /* UART: CRC-32C mismatch (line noise) */
  GB_FRAME_ERR_VERSION,  /* UART: version byte other than GB_FRAME_VERSION */
  GB_FRAME_ERR_OVERFLOW, /* encode: output buffer too small, or payload longer than 65535 */
} gb_frame_status;

const char *gb_frame_status_str(gb_frame_status s);

/* Header (+ CRC) bytes a frame costs in a profile. */
size_t gb_frame_overhead(gb_profile profile);

/* The frame before COBS (UART) or the datagram (packet). Returns its length, 0 on GB_FRAME_ERR_OVERFLOW. */
size_t gb_frame_encode(gb_profile profile, const gb_frame *f, uint8_t *out, size_t cap);

/* Parses a frame (UART: already COBS-decoded, without delimiter). out->payload points into buf. The UART CRC is
 * checked before the version, so line noise counts as a CRC error and never as a version. */
gb_frame_status gb_frame_parse(gb_profile profile, const uint8_t *buf, size_t n, gb_frame *out);

/* UART: frame + COBS + 0x00 in one step. `scratch` holds the raw frame (>= overhead + payload bytes). Returns the
 * wire length, 0 if out or scratch is too small. */
size_t gb_frame_encode_uart_wire(const gb_frame *f, uint8_t *scratch, size_t scratch_cap, uint8_t *out, size_t cap);

#ifdef __cplusplus
}
#endif
#endif
