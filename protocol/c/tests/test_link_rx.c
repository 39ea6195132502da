/* The link engine's receive side (link_rx.c), through its internal functions: data frames into the receive
 * window, reassembly and delivery (a message held until the application has taken it), delayed and immediate
 * acknowledgements, the SACK bitmap, duplicates and frames beyond the window, oversize messages, and the
 * receiver's side of rewind (SPEC.md 6.5). */
#include "link_fixture.h"

#define T0 5000u

static uint8_t payload[3][239];

/* An engine up with a peer, for frames handed to it directly; the peer is engine 1 of the fixture. */
static gb_link *up_engine(uint16_t max_message) {
  gb_link_config ca = fx_config(GB_PROFILE_UART, 0x1234u), cb = fx_config(GB_PROFILE_UART, 0x4321u);
  ca.max_message = max_message;
  gb_link *a = fx_init(0, &ca, T0), *b = fx_init(1, &cb, T0);
  fx_handshake(a, b, T0);
  a->ack_now = a->ack_pending = false;
  a->unacked = 0;
  return a;
}

static void in_order(void) {
  gb_link *l = up_engine(1024);
  uint16_t s = l->rcv_nxt;
  CHECK(l->rx_base == s, "window empty");
  gb_frame f0 = fx_data(s, true, payload[0], 239), f1 = fx_data((uint16_t)(s + 1u), false, payload[1], 100);
  gbl_receive_data(l, &f0, T0 + 1u);
  CHECK(l->rcv_nxt == (uint16_t)(s + 1u) && l->rx_base == l->rcv_nxt && l->reasm_started && l->reasm_len == 239u,
        "first fragment moved into reassembly");
  CHECK(!l->ack_now && l->ack_pending && l->ack_due == T0 + 1u + l->cfg.ack_delay_ms, "acknowledgement delayed");
  gbl_receive_data(l, &f1, T0 + 2u);
  CHECK(l->ack_now, "the second in-order frame is acknowledged at once");
  CHECK(l->reasm_complete && l->reasm_len == 339u && l->stats.messages_rx == 1u, "message complete");
  CHECK(memcmp(l->reasm, payload[0], 239) == 0 && memcmp(l->reasm + 239, payload[1], 100) == 0, "bytes in order");
  CHECK(l->ev_count == 1u && l->ev[l->ev_head].type == GB_EV_MESSAGE, "message event queued");
  CHECK(gbl_sack_bits(l) == 0u, "nothing beyond rcv_nxt");

  /* The next message waits in its slot while the first is not released. */
  gb_frame f2 = fx_data((uint16_t)(s + 2u), false, payload[2], 5);
  gbl_receive_data(l, &f2, T0 + 3u);
  CHECK(l->rcv_nxt == (uint16_t)(s + 3u) && l->rx_base == (uint16_t)(s + 2u), "held in the window");
  gbl_release_delivered(l);
  CHECK(l->reasm_complete && l->rx_base == (uint16_t)(s + 2u), "not released before the application took it");
  gb_event ev;
  REQUIRE(gb_link_poll_event(l, &ev) && ev.type == GB_EV_MESSAGE && ev.len == 339u, "message handed out");
  CHECK(l->reasm_delivered, "delivered");
  gbl_release_delivered(l);
  CHECK(l->rx_base == (uint16_t)(s + 3u) && l->reasm_complete && l->reasm_len == 5u, "the next message moved up");
  CHECK(l->stats.messages_rx == 2u, "two messages");
}

static void out_of_order_and_duplicates(void) {
  gb_link *l = up_engine(1024);
  uint16_t s = l->rcv_nxt;
  gb_frame f2 = fx_data((uint16_t)(s + 2u), false, payload[2], 10);
  gbl_receive_data(l, &f2, T0 + 1u);
  CHECK(l->stats.out_of_order == 1u && l->ack_now, "a hole: acknowledged at once");
  CHECK(l->rcv_nxt == s && gbl_sack_bits(l) == 2u, "sack %#x", (unsigned)gbl_sack_bits(l));
  gb_frame f4 = fx_data((uint16_t)(s + 4u), false, payload[2], 10);
  gbl_receive_data(l, &f4, T0 + 1u);
  CHECK(gbl_sack_bits(l) == 0xAu, "sack %#x", (unsigned)gbl_sack_bits(l));
  gbl_receive_data(l, &f2, T0 + 1u);
  CHECK(l->stats.duplicates == 1u, "a frame held already is a duplicate");
  /* Beyond the window (8 frames from rx_base): dropped, not acknowledged selectively. */
  gb_frame far = fx_data((uint16_t)(s + 8u), false, payload[2], 10);
  gbl_receive_data(l, &far, T0 + 1u);
  CHECK(l->stats.out_of_window == 1u && gbl_sack_bits(l) == 0xAu, "out of window");
  gb_frame f7 = fx_data((uint16_t)(s + 7u), false, payload[2], 10);
  gbl_receive_data(l, &f7, T0 + 1u);
  CHECK(gbl_sack_bits(l) == 0x4Au, "the last slot of the window: sack %#x", (unsigned)gbl_sack_bits(l));
  /* The hole filled: everything up to the next hole moves on. */
  gb_frame f0 = fx_data(s, false, payload[0], 1), f1 = fx_data((uint16_t)(s + 1u), false, payload[1], 1);
  gbl_receive_data(l, &f0, T0 + 2u);
  CHECK(l->rcv_nxt == (uint16_t)(s + 1u), "rcv_nxt +1");
  gbl_receive_data(l, &f1, T0 + 2u);
  CHECK(l->rcv_nxt == (uint16_t)(s + 3u) && gbl_sack_bits(l) == 0x9u, "rcv_nxt +3, sack %#x",
        (unsigned)gbl_sack_bits(l));
  /* Three messages complete, one taken at a time. */
  unsigned got = 0;
  gb_event ev;
  while (gb_link_poll_event(l, &ev))
    if (ev.type == GB_EV_MESSAGE) got++;
  CHECK(got == 3u, "3 messages, got %u", got);
  /* Behind rx_base: already delivered, our acknowledgement was lost: again at once. */
  l->ack_now = false;
  gbl_receive_data(l, &f0, T0 + 3u);
  CHECK(l->stats.duplicates == 2u && l->ack_now, "old frame: duplicate, acknowledged again");
}

/* A peer that ignores our max_message: the whole message is dropped, the next one arrives. */
static void oversize(void) {
  gb_link *l = up_engine(300);
  uint16_t s = l->rcv_nxt;
  gb_frame f0 = fx_data(s, true, payload[0], 239), f1 = fx_data((uint16_t)(s + 1u), true, payload[1], 239),
           f2 = fx_data((uint16_t)(s + 2u), false, payload[2], 10), g = fx_data((uint16_t)(s + 3u), false, payload[2], 7);
  gbl_receive_data(l, &f0, T0);
  gbl_receive_data(l, &f1, T0);
  CHECK(l->stats.rx_oversize == 1u && l->reasm_discard, "discarding");
  gbl_receive_data(l, &f2, T0);
  CHECK(!l->reasm_discard && !l->reasm_complete && l->reasm_len == 0u && l->stats.messages_rx == 0u, "dropped");
  gbl_receive_data(l, &g, T0);
  CHECK(l->reasm_complete && l->reasm_len == 7u && l->stats.messages_rx == 1u, "the next message");
}

/* Rewind, the receiver's side: a REWIND of rcv_nxt drops what is held beyond it; any REWIND is answered. */
static void rewind_receiver(void) {
  gb_link *l = up_engine(1024);
  uint16_t s = l->rcv_nxt;
  gb_frame f1 = fx_data((uint16_t)(s + 1u), true, payload[1], 239), f3 = fx_data((uint16_t)(s + 3u), true, payload[1], 239);
  gbl_receive_data(l, &f1, T0);
  gbl_receive_data(l, &f3, T0);
  CHECK(gbl_sack_bits(l) == 5u, "held beyond a hole");
  gbl_receive_rewind(l, (uint16_t)(s + 1u), 0x1234u);
  CHECK(gbl_sack_bits(l) == 5u && l->rewind_reply && l->rewind_reply_seq == (uint16_t)(s + 1u) &&
            l->rewind_reply_nonce == 0x1234u,
        "a REWIND of another frame: nothing dropped, answered");
  gbl_receive_rewind(l, s, 0xBEEFu);
  CHECK(gbl_sack_bits(l) == 0u && l->rcv_nxt == s && l->rewind_reply_seq == s && l->rewind_reply_nonce == 0xBEEFu,
        "a REWIND of rcv_nxt: everything after it dropped");
  /* The REWOUND goes out at the next poll_tx, with our ack and no SACK. */
  size_t n = gb_link_poll_tx(l, fx_wire, sizeof fx_wire, T0 + 1u);
  REQUIRE(n > 2 && fx_wire[n - 1] == 0, "a frame");
  uint8_t raw[64];
  gb_cobs_result r = gb_cobs_decode(fx_wire, n - 1, raw, sizeof raw);
  gb_frame f;
  REQUIRE(r.status == GB_COBS_OK && gb_frame_parse(GB_PROFILE_UART, raw, r.len, &f) == GB_FRAME_OK, "parses");
  CHECK(f.flags == GB_FLAG_REWOUND && f.seq == s && f.ack == s && f.sack == 0u && f.payload_len == 2u &&
            f.payload[0] == 0xEFu && f.payload[1] == 0xBEu,
        "REWOUND: flags %#x seq %u ack %u", f.flags, f.seq, f.ack);
  CHECK(!l->rewind_reply, "answered once");
}

/* SPEC.md 6.3: with a negotiated window of 1 every in-order data frame is acknowledged at once (the peer cannot
 * send anything until it is): either end's window of 1 makes the negotiated one 1. With a wider window the first
 * in-order frame still waits ack_delay_ms (in_order above). Before the rule a stop-and-wait sender waited
 * ack_delay_ms for every frame. */
static void window_of_one_acknowledges_at_once(void) {
  for (int own = 0; own < 2; own++) {
    gb_link_config ca = fx_config(GB_PROFILE_UART, 0x1234u), cb = fx_config(GB_PROFILE_UART, 0x4321u);
    if (own) ca.window = 1;
    else cb.window = 1;
    gb_link *a = fx_init(0, &ca, T0), *b = fx_init(1, &cb, T0);
    fx_handshake(a, b, T0);
    a->ack_now = a->ack_pending = false;
    a->unacked = 0;
    REQUIRE(a->window_tx == 1u, "negotiated window %u", (unsigned)a->window_tx);
    uint16_t s = a->rcv_nxt;
    gb_frame f0 = fx_data(s, false, payload[0], 10);
    gbl_receive_data(a, &f0, T0 + 1u);
    CHECK(a->ack_now, "%s window of 1: the first in-order frame is acknowledged at once", own ? "own" : "peer's");
    /* And it goes out now, not ack_delay_ms later: an acknowledgement carrying the new rcv_nxt. */
    size_t n = gb_link_poll_tx(a, fx_wire, sizeof fx_wire, T0 + 1u);
    REQUIRE(n > 2 && fx_wire[n - 1] == 0, "a frame at once");
    uint8_t raw[64];
    gb_cobs_result r = gb_cobs_decode(fx_wire, n - 1, raw, sizeof raw);
    gb_frame f;
    REQUIRE(r.status == GB_COBS_OK && gb_frame_parse(GB_PROFILE_UART, raw, r.len, &f) == GB_FRAME_OK, "parses");
    CHECK(f.flags == 0u && f.ack == (uint16_t)(s + 1u), "an acknowledgement of the frame: flags %#x ack %u",
          f.flags, f.ack);
  }
  /* Packet profile too (the rule is about the window, not the wire). */
  gb_link_config ca = fx_config(GB_PROFILE_PACKET, 0x1234u), cb = fx_config(GB_PROFILE_PACKET, 0x4321u);
  ca.window = 1;
  gb_link *a = fx_init(0, &ca, T0), *b = fx_init(1, &cb, T0);
  fx_handshake(a, b, T0);
  a->ack_now = a->ack_pending = false;
  a->unacked = 0;
  gb_frame f0 = fx_data(a->rcv_nxt, false, payload[0], 10);
  gbl_receive_data(a, &f0, T0 + 1u);
  CHECK(a->ack_now, "packet profile, window of 1: acknowledged at once");
}

int main(void) {
  for (unsigned k = 0; k < 3; k++)
    for (unsigned i = 0; i < sizeof payload[k]; i++) payload[k][i] = (uint8_t)(i * (k + 3u) + k);
  in_order();
  out_of_order_and_duplicates();
  oversize();
  rewind_receiver();
  window_of_one_acknowledges_at_once();
  return check_result("test_link_rx");
}
