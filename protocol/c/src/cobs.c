/* COBS encode/decode and the delimiter-finding stream decoder: see include/glassbridge/frame.h. */
#include "glassbridge/frame.h"

const char *gb_cobs_status_str(gb_cobs_status s) {
  switch (s) {
    case GB_COBS_OK: return "ok";
    case GB_COBS_ERR_OVERFLOW: return "COBS output buffer too small or frame too long";
    case GB_COBS_ERR_ZERO: return "0x00 byte inside a COBS frame";
    case GB_COBS_ERR_TRUNCATED: return "COBS code byte runs past the end of the frame";
    case GB_COBS_ERR_EMPTY: return "empty COBS frame";
  }
  return "unknown COBS status";
}

/* The paper's StuffData: every block is a code byte (1 + number of non-zero bytes that follow) and those bytes;
 * a block with code < 0xFF stands for its bytes followed by a zero; the input is treated as if it ended with
 * one extra zero, which the decoder drops again. */
gb_cobs_result gb_cobs_encode(const uint8_t *src, size_t n, uint8_t *dst, size_t cap) {
  gb_cobs_result r = {0, GB_COBS_OK};
  if (cap < 1 || (n && !src) || !dst) {
    r.status = GB_COBS_ERR_OVERFLOW;
    return r;
  }
  size_t code_at = 0, out = 1;
  uint8_t code = 1;
  for (size_t i = 0; i < n; i++) {
    if (src[i] == 0) {
      dst[code_at] = code;
      code_at = out++;
      code = 1;
    } else {
      if (out >= cap) goto overflow;
      dst[out++] = src[i];
      if (++code == 0xFF) {
        dst[code_at] = code;
        code_at = out++;
        code = 1;
      }
    }
    if (code_at >= cap) goto overflow;
  }
  dst[code_at] = code;
  r.len = out;
  return r;
overflow:
  r.status = GB_COBS_ERR_OVERFLOW;
  return r;
}

gb_cobs_result gb_cobs_decode(const uint8_t *src, size_t n, uint8_t *dst, size_t cap) {
  gb_cobs_result r = {0, GB_COBS_OK};
  if (n == 0 || !src) {
    r.status = GB_COBS_ERR_EMPTY;
    return r;
  }
  size_t in = 0, out = 0;
  while (in < n) {
    uint8_t code = src[in++];
    if (code == 0) {
      r.status = GB_COBS_ERR_ZERO;
      return r;
    }
    if ((size_t)(code - 1u) > n - in) {
      r.status = GB_COBS_ERR_TRUNCATED;
      return r;
    }
    if ((size_t)(code - 1u) > cap - out) {
      r.status = GB_COBS_ERR_OVERFLOW;
      return r;
    }
    for (uint8_t k = 1; k < code; k++) {
      uint8_t b = src[in++];
      if (b == 0) {
        r.status = GB_COBS_ERR_ZERO;
        return r;
      }
      dst[out++] = b; /* in place: out < in always holds, the code byte was read first */
    }
    /* The implied zero of a short block, except after the last block (it is the paper's appended zero). */
    if (code < 0xFF && in < n) {
      if (out >= cap) {
        r.status = GB_COBS_ERR_OVERFLOW;
        return r;
      }
      dst[out++] = 0;
    }
  }
  r.len = out;
  return r;
}

void gb_cobs_stream_init(gb_cobs_stream *s, uint8_t *buf, size_t cap) {
  s->buf = buf;
  s->cap = cap;
  s->len = 0;
  s->overflow = false;
}

gb_cobs_stream_result gb_cobs_stream_feed(gb_cobs_stream *s, const uint8_t *data, size_t n) {
  gb_cobs_stream_result r = {GB_COBS_STREAM_MORE, 0, NULL, 0, GB_COBS_OK};
  size_t i = 0;
  while (i < n) {
    uint8_t b = data[i++];
    if (b != 0) {
      if (s->overflow) continue;
      if (s->len >= s->cap) {
        s->overflow = true; /* reported once, at its delimiter */
        continue;
      }
      s->buf[s->len++] = b;
      continue;
    }
    /* A delimiter ends the current frame. */
    size_t len = s->len;
    bool overflow = s->overflow;
    s->len = 0;
    s->overflow = false;
    if (overflow) {
      r.kind = GB_COBS_STREAM_ERROR;
      r.error = GB_COBS_ERR_OVERFLOW;
      break;
    }
    if (len == 0) continue; /* back-to-back delimiters: idle line, not an error */
    gb_cobs_result d = gb_cobs_decode(s->buf, len, s->buf, s->cap);
    if (d.status != GB_COBS_OK) {
      r.kind = GB_COBS_STREAM_ERROR;
      r.error = d.status;
    } else {
      r.kind = GB_COBS_STREAM_FRAME;
      r.frame = s->buf;
      r.len = d.len;
    }
    break;
  }
  r.consumed = i;
  return r;
}
