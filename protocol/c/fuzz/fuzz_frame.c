/* libFuzzer entry for the frame decoders and the link engine: arbitrary bytes must never make them read or
 * write out of bounds, hang, or deliver something they should not.
 *
 * The first input byte picks a mode (the rest is the data):
 *   0  raw UART byte stream into an engine that is already up (frames found by 0x00, CRC-checked)
 *   1  packet-profile datagrams ([len u8][bytes] ...) into an engine that is already up
 *   2  structured UART: [len u8][frame without CRC] ...: the harness appends a valid CRC-32C and COBS, so the
 *      fuzzer reaches the link logic (sequence numbers, SACK, hellos) instead of dying at the CRC
 *   3  the COBS stream decoder, gb_cobs_decode and gb_frame_parse on their own, plus an encode round trip
 * Between chunks the harness advances the clock, polls events and frames, and checks the engine's promises.
 *
 * Build and run: see protocol/c/fuzz/README.md.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "../src/hello.h"
#include "glassbridge/frame.h"
#include "glassbridge/link.h"

#define PEER_SESSION 0x5EED0001u
#define OWN_SESSION 0x1234ABCDu

static _Alignas(8) uint8_t mem[1 << 18];
static uint8_t out[GB_COBS_MAX_ENCODED(GB_MAX_FRAME)];
static uint8_t scratch[GB_MAX_FRAME + 64];

static void fail(const char *why) {
  (void)why;
  abort(); /* libFuzzer reports the input; the message is in the stack trace */
}

/* Pumps the engine as an application would, and checks what comes out. */
static void pump(gb_link *l, const gb_link_config *cfg, uint32_t now) {
  gb_event ev;
  int guard = 0;
  while (gb_link_poll_event(l, &ev)) {
    if (ev.type == GB_EV_MESSAGE && (ev.len > cfg->max_message || ev.channel < 1 || ev.channel >= GB_CHANNELS))
      fail("message beyond the limits");
    if (++guard > 1000) fail("endless events");
  }
  size_t max = gb_link_max_wire_size(cfg);
  for (guard = 0; guard < 200; guard++) {
    size_t n = gb_link_poll_tx(l, out, sizeof out, now);
    if (n == 0) break;
    if (n > max) fail("frame longer than max_wire_size");
  }
  if (gb_link_tx_free(l) > cfg->tx_queue_bytes) fail("tx_free beyond the queue");
  (void)gb_link_next_deadline(l, now);
}

/* An engine that has completed a handshake with PEER_SESSION, with a few messages queued. */
static gb_link *engine_up(gb_profile profile, gb_link_config *cfg) {
  memset(cfg, 0, sizeof *cfg);
  cfg->profile = profile;
  cfg->role = GB_ROLE_SOC;
  cfg->session = OWN_SESSION;
  cfg->max_frame = 256;
  cfg->window = 8;
  cfg->max_message = 2048;
  cfg->tx_queue_bytes = 8192;
  gb_link *l = gb_link_init(cfg, mem, sizeof mem, 0, NULL);
  if (!l) fail("init");
  gb_hello_fields h;
  memset(&h, 0, sizeof h);
  h.info.protocol_version = h.info.min_protocol_version = 1;
  h.info.session = PEER_SESSION;
  h.info.max_frame = 256;
  h.info.window = 8;
  h.info.max_message = 2048;
  h.info.role = GB_ROLE_MCU;
  h.peer_session = OWN_SESSION;
  uint8_t payload[GB_HELLO_MAX_SIZE];
  size_t plen;
  if (!gb_link_hello_encode(&h, payload, sizeof payload, &plen)) fail("hello");
  gb_frame f = {GB_FLAG_HELLO | GB_FLAG_PING, 0, 0, 0, 0, payload, plen};
  size_t n = profile == GB_PROFILE_UART ? gb_frame_encode_uart_wire(&f, scratch, sizeof scratch, out, sizeof out)
                                        : gb_frame_encode(profile, &f, out, sizeof out);
  gb_link_receive(l, out, n, 1);
  if (gb_link_get_state(l) != GB_LINK_UP) fail("handshake");
  static const uint8_t msg[600] = {1, 2, 3};
  gb_link_send(l, 1, msg, 5, 1);
  gb_link_send(l, 3, msg, sizeof msg, 1);
  pump(l, cfg, 1);
  return l;
}

static void mode_raw_uart(const uint8_t *d, size_t n) {
  gb_link_config cfg;
  gb_link *l = engine_up(GB_PROFILE_UART, &cfg);
  uint32_t now = 2;
  size_t at = 0;
  while (at < n) {
    size_t piece = 1 + (d[at] % 64u); /* split points depend on the data too */
    if (piece > n - at) piece = n - at;
    gb_link_receive(l, d + at, piece, now);
    at += piece;
    now += 3;
    pump(l, &cfg, now);
  }
  pump(l, &cfg, now + 5000); /* every timer fires: link down */
}

static void mode_packet(const uint8_t *d, size_t n) {
  gb_link_config cfg;
  gb_link *l = engine_up(GB_PROFILE_PACKET, &cfg);
  uint32_t now = 2;
  size_t at = 0;
  while (at < n) {
    size_t len = d[at++];
    if (len > n - at) len = n - at;
    gb_link_receive(l, d + at, len, now);
    at += len;
    now += 2;
    pump(l, &cfg, now);
  }
  pump(l, &cfg, now + 5000);
}

static void mode_structured_uart(const uint8_t *d, size_t n) {
  gb_link_config cfg;
  gb_link *l = engine_up(GB_PROFILE_UART, &cfg);
  uint32_t now = 2;
  size_t at = 0;
  while (at < n) {
    size_t len = d[at++];
    if (len > n - at) len = n - at;
    /* The chunk is the frame without its CRC: append a correct one, then COBS and the delimiter. */
    uint8_t raw[300];
    if (len + GB_CRC_SIZE > sizeof raw) len = sizeof raw - GB_CRC_SIZE;
    memcpy(raw, d + at, len);
    at += len;
    uint32_t c = gb_crc32c(0, raw, len);
    for (int i = 0; i < 4; i++) raw[len + (size_t)i] = (uint8_t)(c >> (8 * i));
    gb_cobs_result r = gb_cobs_encode(raw, len + GB_CRC_SIZE, out, sizeof out - 1);
    if (r.status != GB_COBS_OK) fail("encode");
    out[r.len] = 0;
    gb_link_receive(l, out, r.len + 1, now);
    now += 1 + (uint32_t)(len % 7u) * 40u; /* sometimes long gaps: RTO, heartbeat */
    pump(l, &cfg, now);
  }
  pump(l, &cfg, now + 5000);
}

static void mode_decoders(const uint8_t *d, size_t n) {
  static uint8_t buf[GB_COBS_ENCODE_BOUND(1024u)], dec[4096], enc[GB_COBS_ENCODE_BOUND(4096u)];
  gb_cobs_stream s;
  gb_cobs_stream_init(&s, buf, sizeof buf);
  size_t at = 0;
  while (at < n) {
    gb_cobs_stream_result r = gb_cobs_stream_feed(&s, d + at, n - at);
    if (r.consumed == 0 || r.consumed > n - at) fail("stream consumed");
    at += r.consumed;
    if (r.kind == GB_COBS_STREAM_FRAME) {
      gb_frame f;
      (void)gb_frame_parse(GB_PROFILE_UART, r.frame, r.len, &f);
      (void)gb_frame_parse(GB_PROFILE_PACKET, r.frame, r.len, &f);
    }
  }
  size_t len = n < sizeof dec ? n : sizeof dec;
  gb_cobs_result r = gb_cobs_decode(d, len, dec, sizeof dec);
  if (r.status == GB_COBS_OK && r.len > len) fail("decode grew");
  /* Encoding anything and decoding it again gives it back. */
  r = gb_cobs_encode(d, len, enc, sizeof enc);
  if (r.status != GB_COBS_OK || r.len > GB_COBS_ENCODE_BOUND(len) || memchr(enc, 0, r.len)) fail("encode");
  gb_cobs_result back = gb_cobs_decode(enc, r.len, dec, sizeof dec);
  if (back.status != GB_COBS_OK || back.len != len || (len && memcmp(dec, d, len) != 0)) fail("round trip");
  gb_hello_fields h;
  (void)gb_link_hello_decode(d, len, &h, NULL);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (size < 1) return 0;
  const uint8_t *d = data + 1;
  size_t n = size - 1;
  switch (data[0] % 4u) {
    case 0: mode_raw_uart(d, n); break;
    case 1: mode_packet(d, n); break;
    case 2: mode_structured_uart(d, n); break;
    default: mode_decoders(d, n); break;
  }
  return 0;
}
