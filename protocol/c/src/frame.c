/* Frame header encode/parse for the UART and packet profiles: see include/glassbridge/frame.h. */
#include "glassbridge/frame.h"

#include <string.h>

const char *gb_frame_status_str(gb_frame_status s) {
  switch (s) {
    case GB_FRAME_OK: return "ok";
    case GB_FRAME_ERR_SHORT: return "frame shorter than its header";
    case GB_FRAME_ERR_LENGTH: return "frame length field disagrees with the bytes received";
    case GB_FRAME_ERR_CRC: return "frame CRC-32C mismatch";
    case GB_FRAME_ERR_VERSION: return "unknown frame version";
    case GB_FRAME_ERR_OVERFLOW: return "frame does not fit the output buffer";
  }
  return "unknown frame status";
}

static void put16(uint8_t *p, uint16_t v) {
  p[0] = (uint8_t)v;
  p[1] = (uint8_t)(v >> 8);
}
static void put32(uint8_t *p, uint32_t v) {
  for (int i = 0; i < 4; i++) p[i] = (uint8_t)(v >> (8 * i));
}
static uint16_t get16(const uint8_t *p) { return (uint16_t)(p[0] | (p[1] << 8)); }
static uint32_t get32(const uint8_t *p) {
  return (uint32_t)p[0] | ((uint32_t)p[1] << 8) | ((uint32_t)p[2] << 16) | ((uint32_t)p[3] << 24);
}

size_t gb_frame_overhead(gb_profile profile) {
  return profile == GB_PROFILE_UART ? GB_UART_HEADER_SIZE + GB_CRC_SIZE : GB_PACKET_HEADER_SIZE;
}

/* The ten bytes both profiles share: flags, channel, seq, ack, sack. */
static void put_common(uint8_t *p, const gb_frame *f) {
  p[0] = f->flags;
  p[1] = f->channel;
  put16(p + 2, f->seq);
  put16(p + 4, f->ack);
  put32(p + 6, f->sack);
}
static void get_common(const uint8_t *p, gb_frame *f) {
  f->flags = p[0];
  f->channel = p[1];
  f->seq = get16(p + 2);
  f->ack = get16(p + 4);
  f->sack = get32(p + 6);
}

size_t gb_frame_encode(gb_profile profile, const gb_frame *f, uint8_t *out, size_t cap) {
  size_t n = gb_frame_overhead(profile) + f->payload_len;
  if (f->payload_len > 0xFFFFu || n > cap || (f->payload_len && !f->payload)) return 0;
  if (profile == GB_PROFILE_UART) {
    out[0] = GB_FRAME_VERSION;
    put_common(out + 1, f);
    put16(out + 11, (uint16_t)f->payload_len);
    if (f->payload_len) memmove(out + GB_UART_HEADER_SIZE, f->payload, f->payload_len);
    put32(out + n - GB_CRC_SIZE, gb_crc32c(0, out, n - GB_CRC_SIZE));
  } else {
    put_common(out, f);
    if (f->payload_len) memmove(out + GB_PACKET_HEADER_SIZE, f->payload, f->payload_len);
  }
  return n;
}

gb_frame_status gb_frame_parse(gb_profile profile, const uint8_t *buf, size_t n, gb_frame *out) {
  memset(out, 0, sizeof *out);
  if (profile != GB_PROFILE_UART) {
    if (n < GB_PACKET_HEADER_SIZE) return GB_FRAME_ERR_SHORT;
    get_common(buf, out);
    out->payload = buf + GB_PACKET_HEADER_SIZE;
    out->payload_len = n - GB_PACKET_HEADER_SIZE;
    return GB_FRAME_OK;
  }
  if (n < GB_UART_HEADER_SIZE + GB_CRC_SIZE) return GB_FRAME_ERR_SHORT;
  if (gb_crc32c(0, buf, n - GB_CRC_SIZE) != get32(buf + n - GB_CRC_SIZE)) return GB_FRAME_ERR_CRC;
  if (buf[0] != GB_FRAME_VERSION) return GB_FRAME_ERR_VERSION;
  size_t len = get16(buf + 11);
  if (len != n - GB_UART_HEADER_SIZE - GB_CRC_SIZE) return GB_FRAME_ERR_LENGTH;
  get_common(buf + 1, out);
  out->payload = buf + GB_UART_HEADER_SIZE;
  out->payload_len = len;
  return GB_FRAME_OK;
}

size_t gb_frame_encode_uart_wire(const gb_frame *f, uint8_t *scratch, size_t scratch_cap, uint8_t *out, size_t cap) {
  size_t n = gb_frame_encode(GB_PROFILE_UART, f, scratch, scratch_cap);
  if (n == 0 || cap < 1) return 0;
  gb_cobs_result r = gb_cobs_encode(scratch, n, out, cap - 1);
  if (r.status != GB_COBS_OK) return 0;
  out[r.len] = 0;
  return r.len + 1;
}
