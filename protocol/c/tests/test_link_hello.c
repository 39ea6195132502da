/* The link engine's handshake (link_hello.c), through its internal functions: our Hello (fields, PING), the hello
 * timer's backoff, negotiation of frame size and window, the initial sequence numbers, our own Hello echoed,
 * version mismatch both ways, a restarted peer (PEER_RESET, queue dropped) and gbl_reset_sequences. */
#include "../src/hello.h"
#include "link_fixture.h"

#define T0 777u

/* Decodes the Hello in fx_wire[0..n) (UART profile). */
static bool parse_hello(size_t n, gb_frame *f, gb_hello_fields *h) {
  static uint8_t raw[GB_MAX_FRAME];
  if (n < 2 || fx_wire[n - 1] != 0) return false;
  gb_cobs_result r = gb_cobs_decode(fx_wire, n - 1, raw, sizeof raw);
  if (r.status != GB_COBS_OK || gb_frame_parse(GB_PROFILE_UART, raw, r.len, f) != GB_FRAME_OK) return false;
  return gb_link_hello_decode(f->payload, f->payload_len, h, NULL);
}

static void our_hello(void) {
  gb_link_config c = fx_config(GB_PROFILE_UART, 0xC0FFEEu);
  c.boot_counter = 7;
  c.capabilities = 5;
  c.role = GB_ROLE_MCU;
  c.firmware_version = "fw-1.2";
  gb_link *l = fx_init(0, &c, T0);
  gb_frame f;
  gb_hello_fields h;
  size_t n = gbl_poll_handshake(l, fx_wire, sizeof fx_wire, T0);
  REQUIRE(parse_hello(n, &f, &h), "a Hello");
  CHECK(f.flags == (GB_FLAG_HELLO | GB_FLAG_PING) && f.channel == 0u && f.seq == 0u && f.ack == 0u, "asks");
  CHECK(h.info.session == 0xC0FFEEu && h.info.boot_counter == 7u && h.info.capabilities == 5u &&
            h.info.role == GB_ROLE_MCU && h.info.max_frame == 256u && h.info.window == 8u &&
            h.info.max_message == 1024u && h.info.protocol_version == GB_LINK_PROTOCOL_VERSION &&
            strcmp(h.info.firmware_version, "fw-1.2") == 0 && h.peer_session == 0u && !h.reject &&
            h.link_timeout_ms == 1000u,
        "fields (link_timeout_ms %u)", (unsigned)h.link_timeout_ms);
  /* Unanswered: 100, 200, 400, 800, then 1000 (10 x hello_interval) apart. */
  uint32_t at = T0, gaps[6] = {100, 200, 400, 800, 1000, 1000};
  for (int i = 0; i < 6; i++) {
    CHECK(gbl_poll_handshake(l, fx_wire, sizeof fx_wire, at + gaps[i] - 1u) == 0u, "not before %u", gaps[i]);
    CHECK(gbl_poll_handshake(l, fx_wire, sizeof fx_wire, at + gaps[i]) > 0u, "after %u", gaps[i]);
    at += gaps[i];
  }
  /* Our own Hello, echoed back by a loopback wire, is ignored. */
  n = gbl_emit_hello(l, true, fx_wire, sizeof fx_wire, at);
  REQUIRE(parse_hello(n, &f, &h), "a Hello");
  gbl_receive_hello(l, &f, at);
  CHECK(!l->peer_known && !l->hello_reply && l->stats.frames_rx == 0u, "echo ignored");

  /* The configured link timeout goes into the Hello (SPEC.md 4.5: the peer pings after a quarter of it). */
  c.link_timeout_ms = 3000;
  l = fx_init(0, &c, T0);
  REQUIRE(parse_hello(gbl_poll_handshake(l, fx_wire, sizeof fx_wire, T0), &f, &h), "a Hello");
  CHECK(h.link_timeout_ms == 3000u, "link_timeout_ms %u", (unsigned)h.link_timeout_ms);

  /* A new peer (HANDSHAKE entered, rule 2) while the interval had grown: the interval starts again and exactly one
   * Hello goes at once (rule 5's answer, with PING), the next hello_interval_ms later (SPEC.md 4.4). */
  for (uint32_t t = T0 + 100u; t < T0 + 2000u; t += 100u) gbl_poll_handshake(l, fx_wire, sizeof fx_wire, t);
  CHECK(l->hello_interval == 1000u, "interval grown: %u", (unsigned)l->hello_interval);
  gb_hello_fields p;
  memset(&p, 0, sizeof p);
  p.info.protocol_version = p.info.min_protocol_version = 1;
  p.info.session = 0xABCDu;
  p.info.max_frame = 256;
  p.info.window = 8;
  p.info.max_message = 1024;
  static uint8_t payload[GB_HELLO_MAX_SIZE];
  size_t plen = 0;
  REQUIRE(gb_link_hello_encode(&p, payload, sizeof payload, &plen), "encode");
  gb_frame pf = {GB_FLAG_HELLO, 0, 0, 0, 0, payload, plen}; /* without PING: rule 5 answers it all the same */
  uint32_t t1 = T0 + 2050u;
  gbl_receive_hello(l, &pf, t1);
  CHECK(l->state == GB_LINK_HANDSHAKE && l->hello_interval == 100u && l->hello_at == t1, "reset: at %d",
        (int)(l->hello_at - t1));
  REQUIRE(parse_hello(gbl_poll_handshake(l, fx_wire, sizeof fx_wire, t1), &f, &h), "one Hello at once");
  CHECK(f.flags == (GB_FLAG_HELLO | GB_FLAG_PING) && h.peer_session == 0xABCDu, "it asks and names the peer");
  CHECK(gbl_poll_handshake(l, fx_wire, sizeof fx_wire, t1) == 0u, "not two");
  CHECK(gbl_poll_handshake(l, fx_wire, sizeof fx_wire, t1 + 99u) == 0u &&
            gbl_poll_handshake(l, fx_wire, sizeof fx_wire, t1 + 100u) > 0u,
        "the next after hello_interval_ms, an answer counting as a Hello with PING sent");
}

static void negotiation(void) {
  gb_link_config ca = fx_config(GB_PROFILE_UART, 0x11112222u), cb = fx_config(GB_PROFILE_UART, 0x33334444u);
  cb.max_frame = 512;
  cb.window = 4;
  cb.max_message = 600;
  gb_link *a = fx_init(0, &ca, T0), *b = fx_init(1, &cb, T0);
  fx_pass(a, b, T0); /* b learns a: answers with a Hello naming a */
  CHECK(b->peer_known && b->state == GB_LINK_HANDSHAKE && b->hello_reply, "b knows a, answers");
  CHECK(b->payload_tx == 256u - 17u && b->window_tx == 4u, "b: payload %u window %u", (unsigned)b->payload_tx,
        b->window_tx);
  fx_pass(b, a, T0); /* a sees its session in b's Hello: up */
  CHECK(a->state == GB_LINK_UP && a->payload_tx == 239u && a->window_tx == 4u, "a up, same limits");
  CHECK(gb_link_max_message(a) == 600u && gb_link_max_message(b) == 600u, "max_message: the smaller");
  fx_pass(a, b, T0);
  CHECK(b->state == GB_LINK_UP, "b up");
  uint16_t isn = (uint16_t)((0x11112222u ^ 0x33334444u) ^ ((0x11112222u ^ 0x33334444u) >> 16));
  CHECK(a->snd_nxt == isn && a->rcv_nxt == isn && b->snd_nxt == isn && b->rcv_nxt == isn, "sequence numbers agreed");
  CHECK(fx_drain_events(a, GB_EV_LINK_UP) == 1u && fx_drain_events(b, GB_EV_LINK_UP) == 1u, "LINK_UP each");
}

static void version_mismatch(void) {
  gb_link_config ca = fx_config(GB_PROFILE_UART, 0x5151u), cb = fx_config(GB_PROFILE_UART, 0x6161u);
  cb.protocol_version = 3;
  cb.min_protocol_version = 2;
  gb_link *a = fx_init(0, &ca, T0), *b = fx_init(1, &cb, T0);
  for (int i = 0; i < 6; i++) {
    fx_pass(a, b, T0 + (uint32_t)i);
    fx_pass(b, a, T0 + (uint32_t)i);
  }
  CHECK(a->state == GB_LINK_INCOMPATIBLE && b->state == GB_LINK_INCOMPATIBLE, "both incompatible: %d %d",
        (int)a->state, (int)b->state);
  CHECK(fx_drain_events(a, GB_EV_VERSION_MISMATCH) == 1u && fx_drain_events(b, GB_EV_VERSION_MISMATCH) == 1u,
        "one mismatch event each");
  CHECK(gb_link_send(a, 1, (const uint8_t *)"x", 1, T0) == GB_ERR_INCOMPATIBLE, "send refused");
  /* Incompatible: no more asking, only answers (with reject). */
  CHECK(gbl_poll_handshake(a, fx_wire, sizeof fx_wire, T0 + 5000u) == 0u, "no Hello unasked");
  a->hello_reply = true;
  gb_frame f;
  gb_hello_fields h;
  REQUIRE(parse_hello(gbl_poll_handshake(a, fx_wire, sizeof fx_wire, T0 + 5000u), &f, &h), "an answer");
  CHECK(h.reject && f.flags == GB_FLAG_HELLO && h.peer_session == 0x6161u, "rejecting, without PING");
}

static void peer_reset(void) {
  gb_link_config ca = fx_config(GB_PROFILE_UART, 0x7171u), cb = fx_config(GB_PROFILE_UART, 0x8181u);
  gb_link *a = fx_init(0, &ca, T0), *b = fx_init(1, &cb, T0);
  fx_handshake(a, b, T0);
  uint8_t msg[300];
  memset(msg, 3, sizeof msg);
  REQUIRE(gb_link_send(a, 1, msg, sizeof msg, T0) == GB_OK && gb_link_send(a, 2, msg, 10, T0) == GB_OK, "queued");
  fx_pass(a, NULL, T0 + 1u); /* one fragment in flight, lost */
  CHECK(inflight(a) == 1u && a->txq_msgs == 2u, "in flight");
  /* b restarts with a new session. */
  cb.session = 0x9191u;
  b = fx_init(1, &cb, T0 + 50u);
  for (int i = 0; i < 6; i++) {
    fx_pass(b, a, T0 + 50u);
    fx_pass(a, b, T0 + 50u);
  }
  CHECK(a->state == GB_LINK_UP && b->state == GB_LINK_UP && a->peer.session == 0x9191u, "up with the new peer");
  gb_event ev;
  bool reset = false;
  while (gb_link_poll_event(a, &ev))
    if (ev.type == GB_EV_PEER_RESET) reset = ev.dropped == 2u && ev.peer.session == 0x9191u;
  CHECK(reset && a->stats.peer_resets == 1u, "PEER_RESET with 2 messages dropped");
  CHECK(a->txq_msgs == 0u && gb_link_tx_free(a) == 2048u && inflight(a) == 0u, "queue empty");
  uint16_t isn = (uint16_t)((0x7171u ^ 0x9191u) ^ ((0x7171u ^ 0x9191u) >> 16));
  CHECK(a->snd_una == isn && a->rcv_nxt == isn, "new sequence numbers");

  /* gbl_reset_sequences directly: without drop_queue, a queued message survives; fragment, rewind and RTT state
   * are reset. */
  REQUIRE(gb_link_send(a, 1, msg, 20, T0) == GB_OK, "queued");
  a->frag_level = 3;
  a->rewind_off = true;
  a->have_rtt = true;
  a->rto = 900;
  CHECK(gbl_reset_sequences(a, false) == 0u && a->txq_msgs == 1u, "kept");
  CHECK(a->frag_level == 0u && !a->rewind_off && !a->have_rtt && a->rto == 200u, "state reset");
  CHECK(gbl_reset_sequences(a, true) == 1u && a->txq_msgs == 0u && a->txq_unsent == 0u, "dropped");
}

int main(void) {
  our_hello();
  negotiation();
  version_mismatch();
  peer_reset();
  return check_result("test_link_hello");
}
