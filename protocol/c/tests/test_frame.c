/* Frame encode/parse against protocol/vectors/frames.txt (packed by Python with struct, bitwise CRC, the paper's
 * COBS), and the parser's refusals: short frames, bad length, bad CRC, unknown version. */
#include <string.h>

#include "check.h"
#include "glassbridge/frame.h"
#include "vectors.h"

static void vectors(void) {
  vec_file v;
  REQUIRE(vec_open(&v, "frames.txt"), "vectors");
  static uint8_t payload[4096], raw[4200], wire[4400], out[4400], scratch[4200];
  int n = 0;
  while (vec_next(&v)) {
    const char *name = vec_get(&v, "name");
    gb_profile prof = strcmp(vec_get(&v, "profile"), "uart") == 0 ? GB_PROFILE_UART : GB_PROFILE_PACKET;
    gb_frame f = {(uint8_t)vec_u64(&v, "flags"), (uint8_t)vec_u64(&v, "channel"), (uint16_t)vec_u64(&v, "seq"),
                  (uint16_t)vec_u64(&v, "ack"), (uint32_t)vec_u64(&v, "sack"), payload, 0};
    f.payload_len = vec_hex(&v, "payload", payload, sizeof payload);
    size_t rlen = vec_hex(&v, "raw", raw, sizeof raw);
    size_t wlen = vec_hex(&v, "wire", wire, sizeof wire);

    size_t got = gb_frame_encode(prof, &f, out, sizeof out);
    CHECK(got == rlen && memcmp(out, raw, rlen) == 0, "%s: encode", name);
    CHECK(gb_frame_encode(prof, &f, out, rlen - 1) == 0, "%s: encode into too little room", name);
    if (prof == GB_PROFILE_UART) {
      got = gb_frame_encode_uart_wire(&f, scratch, sizeof scratch, out, sizeof out);
      CHECK(got == wlen && memcmp(out, wire, wlen) == 0, "%s: wire", name);
      CHECK(wlen <= GB_COBS_MAX_ENCODED(rlen), "%s: wire longer than GB_COBS_MAX_ENCODED", name);
    }
    gb_frame p;
    CHECK(gb_frame_parse(prof, raw, rlen, &p) == GB_FRAME_OK, "%s: parse", name);
    CHECK(p.flags == f.flags && p.channel == f.channel && p.seq == f.seq && p.ack == f.ack && p.sack == f.sack &&
              p.payload_len == f.payload_len && memcmp(p.payload, payload, f.payload_len) == 0,
          "%s: parsed fields", name);
    if (prof == GB_PROFILE_UART) {
      /* Every single-bit error is caught (CRC-32C has Hamming distance >= 4 at these lengths). */
      for (size_t bit = 0; bit < rlen * 8; bit += 7) {
        raw[bit / 8] ^= (uint8_t)(1u << (bit % 8));
        gb_frame_status st = gb_frame_parse(prof, raw, rlen, &p);
        CHECK(st == GB_FRAME_ERR_CRC, "%s: bit %zu flipped gives %s", name, bit, gb_frame_status_str(st));
        raw[bit / 8] ^= (uint8_t)(1u << (bit % 8));
      }
      gb_frame_status st = gb_frame_parse(prof, raw, rlen - 1, &p);
      CHECK(st == (rlen - 1 < 17 ? GB_FRAME_ERR_SHORT : GB_FRAME_ERR_CRC), "%s: truncated: %s", name,
            gb_frame_status_str(st));
    }
    n++;
  }
  vec_close(&v);
  CHECK(n >= 10, "only %d frame vectors", n);
}

static void refusals(void) {
  uint8_t buf[64] = {0}, out[64];
  gb_frame f = {GB_FLAG_DATA, 1, 2, 3, 4, (const uint8_t *)"abc", 3}, p;
  CHECK(gb_frame_parse(GB_PROFILE_PACKET, buf, GB_PACKET_HEADER_SIZE - 1, &p) == GB_FRAME_ERR_SHORT, "packet short");
  CHECK(gb_frame_parse(GB_PROFILE_UART, buf, 16, &p) == GB_FRAME_ERR_SHORT, "uart short");
  size_t n = gb_frame_encode(GB_PROFILE_UART, &f, buf, sizeof buf);
  REQUIRE(n == 20, "uart frame of 3 bytes is %zu", n);
  /* A wrong version with a valid CRC is a version error; a wrong length with a valid CRC a length error. */
  memcpy(out, buf, n);
  out[0] = 2;
  uint32_t c = gb_crc32c(0, out, n - 4);
  for (int i = 0; i < 4; i++) out[n - 4 + (size_t)i] = (uint8_t)(c >> (8 * i));
  CHECK(gb_frame_parse(GB_PROFILE_UART, out, n, &p) == GB_FRAME_ERR_VERSION, "version");
  memcpy(out, buf, n);
  out[11] = 4;
  c = gb_crc32c(0, out, n - 4);
  for (int i = 0; i < 4; i++) out[n - 4 + (size_t)i] = (uint8_t)(c >> (8 * i));
  CHECK(gb_frame_parse(GB_PROFILE_UART, out, n, &p) == GB_FRAME_ERR_LENGTH, "length");
  for (int s = GB_FRAME_OK; s <= GB_FRAME_ERR_OVERFLOW; s++)
    CHECK(strlen(gb_frame_status_str((gb_frame_status)s)) > 0, "status string %d", s);
}

int main(void) {
  vectors();
  refusals();
  return check_result("test_frame");
}
