/* COBS against protocol/vectors/cobs.txt (the paper's algorithm in Python), round trips of random data, the
 * decoder's errors, and the stream decoder's resynchronisation after noise. */
#include <string.h>

#include "check.h"
#include "glassbridge/frame.h"
#include "vectors.h"

static uint32_t rng = 12345;
static uint32_t rnd(void) { /* xorshift32: reproducible without libc's rand */
  rng ^= rng << 13;
  rng ^= rng >> 17;
  rng ^= rng << 5;
  return rng;
}

static void vectors(void) {
  vec_file v;
  REQUIRE(vec_open(&v, "cobs.txt"), "vectors");
  static uint8_t data[2048], enc[2048], out[2048];
  int n = 0;
  while (vec_next(&v)) {
    const char *name = vec_get(&v, "name");
    size_t len = vec_hex(&v, "data", data, sizeof data);
    size_t elen = vec_hex(&v, "encoded", enc, sizeof enc);
    gb_cobs_result r = gb_cobs_encode(data, len, out, sizeof out);
    CHECK(r.status == GB_COBS_OK && r.len == elen && memcmp(out, enc, elen) == 0, "%s: encode", name);
    CHECK(elen <= GB_COBS_ENCODE_BOUND(len), "%s: %zu > bound", name, elen);
    /* Exactly enough room works, one byte less overflows. */
    r = gb_cobs_encode(data, len, out, elen);
    CHECK(r.status == GB_COBS_OK, "%s: encode into exact room", name);
    r = gb_cobs_encode(data, len, out, elen - 1);
    CHECK(r.status == GB_COBS_ERR_OVERFLOW, "%s: encode into room - 1: %d", name, r.status);
    r = gb_cobs_decode(enc, elen, out, sizeof out);
    CHECK(r.status == GB_COBS_OK && r.len == len && memcmp(out, data, len) == 0, "%s: decode", name);
    /* In place. */
    memcpy(out, enc, elen);
    r = gb_cobs_decode(out, elen, out, elen);
    CHECK(r.status == GB_COBS_OK && r.len == len && memcmp(out, data, len) == 0, "%s: decode in place", name);
    /* The variant without the final 0x01 after a 0xFF block decodes to the same bytes. */
    if (elen >= 2 && enc[elen - 1] == 0x01 && len > 0 && len % 254 == 0 && memchr(data, 0, len) == NULL) {
      r = gb_cobs_decode(enc, elen - 1, out, sizeof out);
      CHECK(r.status == GB_COBS_OK && r.len == len && memcmp(out, data, len) == 0, "%s: short form", name);
    }
    n++;
  }
  vec_close(&v);
  CHECK(n >= 10, "only %d COBS vectors", n);
}

static void round_trips(void) {
  static uint8_t data[1200], enc[1300], out[1200];
  for (int i = 0; i < 2000; i++) {
    size_t len = rnd() % sizeof data;
    unsigned zero_odds = 1 + rnd() % 300; /* from mostly zeros to long zero-free runs */
    for (size_t k = 0; k < len; k++) data[k] = (rnd() % zero_odds == 0) ? 0 : (uint8_t)(1 + rnd() % 255);
    gb_cobs_result r = gb_cobs_encode(data, len, enc, sizeof enc);
    REQUIRE(r.status == GB_COBS_OK, "encode %zu", len);
    CHECK(r.len <= GB_COBS_ENCODE_BOUND(len), "bound");
    CHECK(memchr(enc, 0, r.len) == NULL, "zero in encoding");
    gb_cobs_result d = gb_cobs_decode(enc, r.len, out, sizeof out);
    CHECK(d.status == GB_COBS_OK && d.len == len && memcmp(out, data, len) == 0, "round trip of %zu bytes", len);
  }
}

static void decode_errors(void) {
  uint8_t out[16];
  CHECK(gb_cobs_decode((const uint8_t *)"", 0, out, sizeof out).status == GB_COBS_ERR_EMPTY, "empty");
  CHECK(gb_cobs_decode((const uint8_t *)"\x05\x01\x02", 3, out, sizeof out).status == GB_COBS_ERR_TRUNCATED, "short");
  CHECK(gb_cobs_decode((const uint8_t *)"\x03\x01\x00", 3, out, sizeof out).status == GB_COBS_ERR_ZERO, "zero");
  CHECK(gb_cobs_decode((const uint8_t *)"\x00", 1, out, sizeof out).status == GB_COBS_ERR_ZERO, "zero code");
  CHECK(gb_cobs_decode((const uint8_t *)"\x04\x01\x02\x03", 4, out, 2).status == GB_COBS_ERR_OVERFLOW, "room");
}

/* Frames split at every possible point, noise between them, an overlong frame: each good frame comes out once. */
static void stream(void) {
  static uint8_t wire[4096], buf[300];
  static const uint8_t msgs[3][6] = {{1, 2, 3, 0, 5, 6}, {0, 0, 0, 0, 0, 0}, {9, 9, 9, 9, 9, 9}};
  size_t n = 0;
  wire[n++] = 0x00; /* idle delimiters are skipped */
  wire[n++] = 0x00;
  for (int rep = 0; rep < 2; rep++) {
    for (int m = 0; m < 3; m++) {
      gb_cobs_result r = gb_cobs_encode(msgs[m], 6, wire + n, sizeof wire - n);
      n += r.len;
      wire[n++] = 0;
    }
    memcpy(wire + n, "\x07noise", 6); /* noise: a bad COBS frame (code 7 promises 6 bytes, 5 follow) */
    n += 6;
    wire[n++] = 0;
    for (int k = 0; k < 400; k++) wire[n++] = 0x55; /* longer than the buffer: dropped, reported once */
    wire[n++] = 0;
  }
  for (size_t chunk = 1; chunk <= n; chunk = chunk < 8 ? chunk + 1 : chunk * 3) {
    gb_cobs_stream s;
    gb_cobs_stream_init(&s, buf, sizeof buf);
    int frames = 0, errors = 0, overflow = 0;
    for (size_t at = 0; at < n; at += chunk) {
      const uint8_t *p = wire + at;
      size_t left = (n - at) < chunk ? (n - at) : chunk;
      while (left) {
        gb_cobs_stream_result r = gb_cobs_stream_feed(&s, p, left);
        CHECK(r.consumed > 0 && r.consumed <= left, "consumed %zu of %zu", r.consumed, left);
        if (r.consumed == 0) return;
        p += r.consumed;
        left -= r.consumed;
        if (r.kind == GB_COBS_STREAM_FRAME) {
          CHECK(r.len == 6 && memcmp(r.frame, msgs[frames % 3], 6) == 0, "frame %d (chunk %zu)", frames, chunk);
          frames++;
        } else if (r.kind == GB_COBS_STREAM_ERROR) {
          errors++;
          if (r.error == GB_COBS_ERR_OVERFLOW) overflow++;
        }
      }
    }
    CHECK(frames == 6 && errors == 4 && overflow == 2, "chunk %zu: %d frames, %d errors, %d overflows", chunk,
          frames, errors, overflow);
  }
}

int main(void) {
  vectors();
  round_trips();
  decode_errors();
  stream();
  return check_result("test_cobs");
}
