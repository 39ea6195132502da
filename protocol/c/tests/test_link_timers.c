/* The link engine's timers (link_timers.c), through its internal functions: the RTT estimator (RFC 6298 in
 * scaled integers, clamps), retransmission deadlines with backoff, the lost-retransmission probe (SPEC.md 7.2),
 * the link timeout, and gb_link_next_deadline in each state. */
#include "../src/hello.h"
#include "link_fixture.h"

#define T0 0xFFFFFF00u /* close to the wrap of the millisecond counter: every comparison must be wrap-safe */

static void rtt_estimator(void) {
  gb_link_config c = fx_config(GB_PROFILE_UART, 0x1001u);
  gb_link *l = fx_init(0, &c, T0);
  CHECK(!l->have_rtt && l->rto == 200u && l->stats.rto_ms == 200u, "initial RTO");
  gbl_rtt_sample(l, 100);
  CHECK(l->have_rtt && l->srtt8 == 800u && l->rttvar4 == 200u && l->rto == 300u && l->stats.srtt_ms == 100u,
        "first sample: SRTT = R, RTTVAR = R/2: srtt8 %u rttvar4 %u rto %u", (unsigned)l->srtt8, (unsigned)l->rttvar4,
        (unsigned)l->rto);
  gbl_rtt_sample(l, 60);
  CHECK(l->srtt8 == 760u && l->rttvar4 == 190u && l->rto == 285u && l->min_rtt == 60u,
        "second: srtt8 %u rttvar4 %u rto %u", (unsigned)l->srtt8, (unsigned)l->rttvar4, (unsigned)l->rto);
  for (int i = 0; i < 200; i++) gbl_rtt_sample(l, 1);
  CHECK(l->rto == 20u, "clamped at rto_min: %u", (unsigned)l->rto);
  CHECK(l->min_rtt == 1u, "min_rtt %u", (unsigned)l->min_rtt);
  gbl_rtt_sample(l, 0);
  CHECK(l->min_rtt == 1u, "a zero sample counts as 1 ms");
  gbl_rtt_sample(l, 4000000000u);
  CHECK(l->rto == 1000u && l->stats.srtt_ms < 60000u, "a clock jump is clamped: rto %u", (unsigned)l->rto);
  l->rto = 777;
  gbl_compute_rto(l);
  CHECK(l->rto == 1000u && l->stats.rto_ms == 1000u, "compute_rto drops a backoff");
  gbl_reset_rtt(l);
  CHECK(!l->have_rtt && l->min_rtt == 0u && l->srtt8 == 0u && l->rto == 200u, "reset");
}

static void retransmission(void) {
  gb_link_config ca = fx_config(GB_PROFILE_PACKET, 0x2002u), cb = fx_config(GB_PROFILE_PACKET, 0x3003u);
  gb_link *a = fx_init(0, &ca, T0), *b = fx_init(1, &cb, T0);
  fx_handshake(a, b, T0);
  uint32_t at = 0;
  CHECK(!gbl_rto_deadline(a, &at), "nothing in flight");
  uint8_t msg[10] = {0};
  REQUIRE(gb_link_send(a, 1, msg, sizeof msg, T0) == GB_OK && gb_link_send(a, 1, msg, sizeof msg, T0) == GB_OK,
          "send");
  REQUIRE(fx_pass(a, NULL, T0 + 10u) > 0 && fx_pass(a, NULL, T0 + 20u) > 0, "two frames lost");
  uint16_t s = a->snd_una;
  CHECK(a->progress_at == T0 + 10u, "the oldest frame's send restarts progress");
  CHECK(gbl_rto_deadline(a, &at) && at == T0 + 10u + 200u, "earliest deadline: first frame + RTO (%u)",
        (unsigned)(at - T0));
  gbl_run_timers(a, T0 + 209u);
  CHECK(!a->tx[s % GB_MAX_WINDOW].resend && a->rto == 200u, "not yet");
  gbl_run_timers(a, T0 + 210u);
  CHECK(a->tx[s % GB_MAX_WINDOW].resend && !a->tx[(uint16_t)(s + 1u) % GB_MAX_WINDOW].resend,
        "the first expired, the second not yet");
  CHECK(a->rto == 400u && a->stats.rto_ms == 400u, "backoff x2");
  CHECK(gbl_rto_deadline(a, &at) && at == T0 + 20u + 400u, "the second frame's deadline under the new RTO");
  a->last_rx = T0 + 2000u; /* the peer talks: no link timeout */
  gbl_run_timers(a, T0 + 2000u);
  CHECK(a->rto == 800u && a->tx[(uint16_t)(s + 1u) % GB_MAX_WINDOW].resend, "second expiry: x2 again");
  gbl_run_timers(a, T0 + 2000u);
  CHECK(a->rto == 800u, "frames marked already: no timer runs, no backoff");
  for (int i = 0; i < 3; i++) {
    a->tx[s % GB_MAX_WINDOW].resend = false; /* as if retransmitted and lost again */
    gbl_run_timers(a, T0 + 2000u);
  }
  CHECK(a->rto == 1000u, "backoff up to rto_max: %u", (unsigned)a->rto);

  /* Lost retransmission probe: only retransmitted holes await acknowledgement, min_rtt known. */
  a->rto = 1000;
  a->min_rtt = 15;
  a->progress_at = T0;
  for (uint16_t i = 0; i < 2; i++) {
    tx_slot *t = &a->tx[(uint16_t)(s + i) % GB_MAX_WINDOW];
    t->resend = false;
    t->sacked = false;
    t->tx_count = 2;
    t->sent_at = T0 + 100u;
  }
  CHECK(gbl_rto_deadline(a, &at) && at == T0 + 100u + 3u * 15u, "(k + 1) x min_rtt with k = 2: %u",
        (unsigned)(at - T0));
  a->tx[s % GB_MAX_WINDOW].tx_count = 4;
  a->tx[(uint16_t)(s + 1u) % GB_MAX_WINDOW].tx_count = 4;
  CHECK(gbl_rto_deadline(a, &at) && at == T0 + 100u + (3u * 15u << 2), "doubling per transmission: %u",
        (unsigned)(at - T0));
  a->tx[(uint16_t)(s + 1u) % GB_MAX_WINDOW].tx_count = 1;
  CHECK(gbl_rto_deadline(a, &at) && at == T0 + 100u + 1000u, "a frame sent once: RTO for all");
  a->tx[(uint16_t)(s + 1u) % GB_MAX_WINDOW].sacked = true;
  a->min_rtt = 2;
  CHECK(gbl_rto_deadline(a, &at) && at == T0 + 100u + 20u, "never below rto_min (k = 1): %u", (unsigned)(at - T0));
}

static void link_timeout_and_deadlines(void) {
  gb_link_config ca = fx_config(GB_PROFILE_UART, 0x4004u), cb = fx_config(GB_PROFILE_UART, 0x5005u);
  ca.heartbeat_ms = 300;
  cb.link_timeout_ms = 2000; /* a quarter of it is more than 300: a's own heartbeat applies (SPEC.md 4.5) */
  gb_link *a = fx_init(0, &ca, T0), *b = fx_init(1, &cb, T0);
  CHECK(gb_link_next_deadline(a, T0) == T0, "first Hello at once");
  CHECK(fx_pass(a, NULL, T0) > 0 && gb_link_next_deadline(a, T0 + 1u) == T0 + 100u, "next Hello after 100 ms");
  CHECK(gb_link_next_deadline(a, T0 + 150u) == T0 + 150u, "overdue: now");
  fx_handshake(a, b, T0 + 200u);
  uint32_t up = T0 + 200u;
  CHECK(gb_link_next_deadline(a, up) == a->last_tx + 300u, "heartbeat: %d", (int)(gb_link_next_deadline(a, up) - up));
  a->last_tx = up + 900u;
  CHECK(gb_link_next_deadline(a, up) == up + 1000u, "link timeout first");
  a->ack_pending = true;
  a->ack_due = up + 2u;
  CHECK(gb_link_next_deadline(a, up) == up + 2u, "delayed acknowledgement");
  a->ack_now = true;
  CHECK(gb_link_next_deadline(a, up) == up, "acknowledgement now");
  a->ack_now = a->ack_pending = false;
  a->rewind_pending = true;
  a->rewind_at = up + 7u;
  a->rewind_reply = true;
  CHECK(gb_link_next_deadline(a, up) == up, "a REWOUND to send");
  a->rewind_reply = false;
  CHECK(gb_link_next_deadline(a, up) == up + 7u, "the next REWIND");
  a->rewind_pending = true;
  a->rewind_seq = 0;
  /* Link timeout: link_timeout_ms (1000) after the last frame from the peer. */
  gbl_run_timers(a, a->last_rx + 999u);
  CHECK(a->state == GB_LINK_UP, "still up");
  gbl_run_timers(a, a->last_rx + 1000u);
  CHECK(a->state == GB_LINK_DOWN && a->stats.link_downs == 1u && !a->rewind_pending && !a->rewind_reply,
        "down after link_timeout_ms");
  CHECK(fx_drain_events(a, GB_EV_LINK_DOWN) == 1u, "one LINK_DOWN event");
  CHECK(a->hello_at == up + 1000u && a->hello_interval == 100u, "hellos resume");
  CHECK(gb_link_next_deadline(a, up + 1000u) == up + 1000u, "a Hello at once");
  a->state = GB_LINK_INCOMPATIBLE;
  CHECK(gb_link_next_deadline(a, up) == up + IDLE_DEADLINE_MS, "incompatible: idle");
  a->hello_reply = true;
  CHECK(gb_link_next_deadline(a, up) == up, "a Hello to answer");
}

/* A Hello from session `session` declaring link timeout `timeout_ms` (0: the field absent, an older peer), fed to l. */
static void hello_from(gb_link *l, uint32_t session, uint32_t timeout_ms, uint32_t now) {
  gb_hello_fields h;
  memset(&h, 0, sizeof h);
  h.info.protocol_version = h.info.min_protocol_version = 1;
  h.info.session = session;
  h.info.max_frame = 256;
  h.info.window = 8;
  h.info.max_message = 1024;
  h.link_timeout_ms = timeout_ms;
  static uint8_t payload[GB_HELLO_MAX_SIZE];
  size_t len = 0;
  REQUIRE(gb_link_hello_encode(&h, payload, sizeof payload, &len), "hello encode");
  gb_frame f = {(uint8_t)(GB_FLAG_HELLO | GB_FLAG_PING), 0, 0, 0, 0, payload, len};
  gbl_receive_hello(l, &f, now);
}

/* SPEC.md 4.5: an end pings after min(heartbeat_ms, the peer's link_timeout_ms / 4) without sending; the peer's
 * link timeout comes from its Hello (absent: 1000 ms). */
static void heartbeat_follows_peer(void) {
  gb_link_config ca = fx_config(GB_PROFILE_PACKET, 0x6006u), cb = fx_config(GB_PROFILE_PACKET, 0x7007u);
  ca.heartbeat_ms = 1000; /* the BLE settings against the defaults (heartbeat 250, link timeout 1000) */
  ca.link_timeout_ms = 6000;
  gb_link *a = fx_init(0, &ca, T0), *b = fx_init(1, &cb, T0);
  fx_handshake(a, b, T0);
  CHECK(a->peer_link_timeout == 1000u && b->peer_link_timeout == 6000u, "declared timeouts: %u %u",
        (unsigned)a->peer_link_timeout, (unsigned)b->peer_link_timeout);
  CHECK(gbl_heartbeat(a) == 250u && gbl_heartbeat(b) == 250u, "heartbeats %u %u", (unsigned)gbl_heartbeat(a),
        (unsigned)gbl_heartbeat(b));
  uint32_t last = a->last_tx;
  CHECK(gb_link_next_deadline(a, last) == last + 250u, "deadline: a quarter of B's link timeout");
  CHECK(gb_link_poll_tx(a, fx_wire, sizeof fx_wire, last + 249u) == 0u, "no ping before 250 ms");
  size_t n = gb_link_poll_tx(a, fx_wire, sizeof fx_wire, last + 250u);
  CHECK(n == GB_PACKET_HEADER_SIZE && fx_wire[0] == GB_FLAG_PING && fx_wire[1] == 0u, "a ping at 250 ms");
  CHECK(gb_link_next_deadline(a, last + 250u) == last + 500u, "the next one 250 ms later");

  /* Both with the BLE settings: each end's own heartbeat (1000 < 6000 / 4). */
  cb.heartbeat_ms = 1000;
  cb.link_timeout_ms = 6000;
  a = fx_init(0, &ca, T0);
  b = fx_init(1, &cb, T0);
  fx_handshake(a, b, T0);
  CHECK(gbl_heartbeat(a) == 1000u && gbl_heartbeat(b) == 1000u, "BLE both: %u %u", (unsigned)gbl_heartbeat(a),
        (unsigned)gbl_heartbeat(b));

  /* A peer whose Hello lacks the field (older): 1000 ms assumed. A tiny declared timeout: never below 20 ms. */
  hello_from(a, 0x8008u, 0, T0 + 5u);
  CHECK(a->peer.session == 0x8008u && a->peer_link_timeout == 1000u && gbl_heartbeat(a) == 250u,
        "older peer: %u", (unsigned)a->peer_link_timeout);
  hello_from(a, 0x9009u, 2, T0 + 6u);
  CHECK(a->peer_link_timeout == 2u && gbl_heartbeat(a) == 20u, "2 ms peer: heartbeat %u", (unsigned)gbl_heartbeat(a));
  hello_from(a, 0xA00Au, 0xFFFFFFFFu, T0 + 7u);
  CHECK(gbl_heartbeat(a) == 1000u, "a huge declared timeout: own heartbeat");
}

int main(void) {
  rtt_estimator();
  retransmission();
  link_timeout_and_deadlines();
  heartbeat_follows_peer();
  return check_result("test_link_timers");
}
