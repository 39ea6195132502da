/* The link engine's transmit side (link_tx.c), through its internal functions: the ring of message records
 * (wrap-around), gb_link_send's accounting, fragmentation, cumulative and selective acknowledgements (freeing
 * messages, fast retransmit), fragment sizing (SPEC.md 6.1) and the sender's side of rewind (SPEC.md 6.5). */
#include "link_fixture.h"

#define T0 1000u

/* The ring wraps: a record written across its end reads back whole. */
static void ring(void) {
  gb_link_config c = fx_config(GB_PROFILE_UART, 0x1111u);
  c.max_message = 256;
  c.tx_queue_bytes = 300;
  gb_link *l = fx_init(0, &c, T0);
  CHECK(l->txq_cap == 300u, "txq_cap %u", (unsigned)l->txq_cap);
  CHECK(gbl_ring_adv(l, 290, 10) == 0u && gbl_ring_adv(l, 290, 15) == 5u && gbl_ring_adv(l, 3, 4) == 7u,
        "ring_adv wraps modulo the capacity");
  uint8_t src[40], dst[40];
  for (unsigned i = 0; i < sizeof src; i++) src[i] = (uint8_t)(i * 7u + 1u);
  gbl_ring_write(l, 280, src, sizeof src);
  CHECK(memcmp(l->txq + 280, src, 20) == 0 && memcmp(l->txq, src + 20, 20) == 0, "ring_write splits at the end");
  memset(dst, 0, sizeof dst);
  gbl_ring_read(l, 280, dst, sizeof dst);
  CHECK(memcmp(dst, src, sizeof src) == 0, "ring_read joins across the end");

  /* Records: [len u16le, channel, 0] + bytes; the queue's accounting follows them. */
  uint8_t msg[200];
  for (unsigned i = 0; i < sizeof msg; i++) msg[i] = (uint8_t)(255u - i);
  CHECK(gb_link_send(l, 2, msg, 200, T0) == GB_OK, "first message");
  CHECK(gb_link_tx_free(l) == 300u - 204u && gb_link_tx_pending(l) == 1u, "free %u pending %u",
        (unsigned)gb_link_tx_free(l), (unsigned)gb_link_tx_pending(l));
  CHECK(gb_link_send(l, 1, msg, 93, T0) == GB_ERR_QUEUE_FULL, "93 + 4 bytes do not fit in 96");
  CHECK(gb_link_send(l, 1, msg, 92, T0) == GB_OK, "92 + 4 bytes fit exactly");
  CHECK(gb_link_tx_free(l) == 0u && l->txq_tail == 0u, "queue full, tail wrapped to 0");
  uint16_t len = 0;
  uint8_t ch = 0;
  gbl_record_at(l, 0, &len, &ch);
  CHECK(len == 200u && ch == 2u, "record 0: len %u channel %u", len, ch);
  gbl_record_at(l, 204, &len, &ch);
  CHECK(len == 92u && ch == 1u, "record 1: len %u channel %u", len, ch);
  CHECK(gb_link_send(l, 0, msg, 1, T0) == GB_ERR_BAD_CHANNEL && gb_link_send(l, 4, msg, 1, T0) == GB_ERR_BAD_CHANNEL,
        "channels 1..3 only");
  CHECK(gb_link_send(l, 1, msg, 257, T0) == GB_ERR_TOO_LARGE, "beyond max_message");
}

/* A message is cut into fragments of the negotiated size; acknowledgements free it. */
static void fragments_and_acks(void) {
  gb_link_config ca = fx_config(GB_PROFILE_UART, 0x2222u), cb = fx_config(GB_PROFILE_UART, 0x3333u);
  gb_link *a = fx_init(0, &ca, T0), *b = fx_init(1, &cb, T0);
  fx_handshake(a, b, T0);
  CHECK(a->payload_tx == 256u - 17u && frag_size(a) == 239u, "payload_tx %u", (unsigned)a->payload_tx);
  uint8_t msg[600];
  for (unsigned i = 0; i < sizeof msg; i++) msg[i] = (uint8_t)(i ^ 0x5Au);
  REQUIRE(gb_link_send(a, 3, msg, sizeof msg, T0) == GB_OK, "send");
  uint16_t first = a->snd_nxt;
  CHECK(gbl_can_send_new(a), "a message is waiting");
  size_t n = 0;
  for (int i = 0; i < 3; i++) {
    CHECK(gbl_poll_data(a, fx_wire, sizeof fx_wire, T0 + 1u, &n) && n > 0, "fragment %d", i);
    gb_link_receive(b, fx_wire, n, T0 + 1u);
  }
  CHECK(!gbl_can_send_new(a) && !gbl_poll_data(a, fx_wire, sizeof fx_wire, T0 + 1u, &n), "nothing more to cut");
  CHECK(inflight(a) == 3u && a->txq_unsent == 0u && a->txq_msgs == 1u, "3 in flight");
  const tx_slot *s0 = &a->tx[first % GB_MAX_WINDOW], *s2 = &a->tx[(uint16_t)(first + 2u) % GB_MAX_WINDOW];
  CHECK(s0->len == 239u && s0->off == 0u && s0->flags == (GB_FLAG_DATA | GB_FLAG_MORE) && s0->channel == 3u,
        "first fragment: len %u flags %u", s0->len, s0->flags);
  CHECK(s2->len == 122u && s2->off == 478u && s2->flags == GB_FLAG_DATA && s2->tx_count == 1u,
        "last fragment: len %u off %u flags %u", s2->len, s2->off, s2->flags);
  CHECK(a->stats.data_frames_tx == 3u && a->stats.retransmits == 0u, "stats");
  gb_event ev;
  REQUIRE(gb_link_poll_event(b, &ev) && ev.type == GB_EV_MESSAGE, "b has the message");
  CHECK(ev.channel == 3u && ev.len == sizeof msg && memcmp(ev.data, msg, sizeof msg) == 0, "message intact");

  /* A stale acknowledgement (beyond what was sent) changes nothing. */
  gb_frame stale = fx_ack((uint16_t)(first + 4u), 0);
  gbl_receive_ack(a, &stale, T0 + 5u);
  CHECK(a->snd_una == first && a->txq_msgs == 1u, "stale ack ignored");
  /* Selective acknowledgement of the third: the first two, sent before it, are holes (fast retransmit). */
  gb_frame sack = fx_ack(first, 1u << 1);
  gbl_receive_ack(a, &sack, T0 + 5u);
  CHECK(s2->sacked && !s2->resend, "third sacked");
  CHECK(s0->resend && a->tx[(uint16_t)(first + 1u) % GB_MAX_WINDOW].resend, "holes marked for retransmission");
  CHECK(a->have_rtt && a->stats.srtt_ms == 4u && a->progress_at == T0 + 5u, "RTT sample from the sacked frame");
  uint16_t seq = 0;
  CHECK(gbl_resend_pending(a, &seq) && seq == first, "oldest hole first");
  /* Cumulative acknowledgement of all three: the message leaves the queue. */
  gb_frame all = fx_ack((uint16_t)(first + 3u), 0);
  gbl_receive_ack(a, &all, T0 + 6u);
  CHECK(a->snd_una == (uint16_t)(first + 3u) && inflight(a) == 0u, "all acknowledged");
  CHECK(a->txq_msgs == 0u && gb_link_tx_free(a) == 2048u && a->txq_head == a->txq_tail, "queue empty");
  CHECK(!gbl_resend_pending(a, &seq), "nothing to resend");
}

/* Fragment sizing: halve on retransmissions beyond 2h/S, twice beyond half, back after two clean periods. */
static void fragment_sizing(void) {
  gb_link_config c = fx_config(GB_PROFILE_UART, 0x4444u);
  gb_link *l = fx_init(0, &c, T0);
  l->payload_tx = 1007; /* max_frame 1024 - 17 */
  CHECK(gbl_max_frag_level(l) == 5u, "1007 >> 5 = 31 >= 24, >> 6 = 15 is not: %u", gbl_max_frag_level(l));
  l->payload_tx = 30;
  CHECK(gbl_max_frag_level(l) == 0u, "30 cannot be halved above 24");
  l->payload_tx = 1007;
  /* h = 17 + 3 = 20; at S = 1007, 2h/S of 32 frames is 1.27: 2 retransmissions halve. */
  for (unsigned i = 0; i < ADAPT_PERIOD; i++) gbl_adapt_fragments(l, i < 1u);
  CHECK(l->frag_level == 0u && l->period_frames == 0u, "1 of 32: stays");
  for (unsigned i = 0; i < ADAPT_PERIOD; i++) gbl_adapt_fragments(l, i < 2u);
  CHECK(l->frag_level == 1u && frag_size(l) == 503u, "2 of 32: halved (level %u)", l->frag_level);
  for (unsigned i = 0; i < ADAPT_PERIOD - 1u; i++) gbl_adapt_fragments(l, true);
  CHECK(l->frag_level == 1u && l->period_frames == ADAPT_PERIOD - 1u, "decisions once per period");
  gbl_adapt_fragments(l, true);
  CHECK(l->frag_level == 3u, "all of 32: quartered (level %u)", l->frag_level);
  for (int p = 0; p < 4; p++)
    for (unsigned i = 0; i < ADAPT_PERIOD; i++) gbl_adapt_fragments(l, true);
  CHECK(l->frag_level == 5u && frag_size(l) == 31u, "never below MIN_FRAGMENT (level %u)", l->frag_level);
  for (unsigned i = 0; i < ADAPT_PERIOD; i++) gbl_adapt_fragments(l, false);
  CHECK(l->frag_level == 5u && l->clean_periods == 1u, "one clean period: stays");
  for (unsigned i = 0; i < ADAPT_PERIOD; i++) gbl_adapt_fragments(l, false);
  CHECK(l->frag_level == 4u && l->clean_periods == 0u, "two clean periods: doubled (level %u)", l->frag_level);
  /* In between (neither above 2h/S nor below h/4S): the clean count restarts. */
  for (unsigned i = 0; i < ADAPT_PERIOD; i++) gbl_adapt_fragments(l, false);
  /* S = 62: 3 retransmissions are neither above 2h/S (20.6 of 32) nor below h/4S (2.6 of 32). */
  for (unsigned i = 0; i < ADAPT_PERIOD; i++) gbl_adapt_fragments(l, i < 3u);
  CHECK(l->frag_level == 4u && l->clean_periods == 0u, "a middling period resets the clean count");
}

/* Rewind, the sender's side: a retransmission of a frame larger than today's fragments asks first. */
static void rewind_sender(void) {
  gb_link_config ca = fx_config(GB_PROFILE_UART, 0x5555u), cb = fx_config(GB_PROFILE_UART, 0x6666u);
  gb_link *a = fx_init(0, &ca, T0), *b = fx_init(1, &cb, T0);
  fx_handshake(a, b, T0);
  uint8_t msg[300];
  memset(msg, 0xA5, sizeof msg);
  REQUIRE(gb_link_send(a, 1, msg, sizeof msg, T0) == GB_OK, "send");
  size_t n = 0;
  uint16_t first = a->snd_nxt;
  REQUIRE(gbl_poll_data(a, fx_wire, sizeof fx_wire, T0, &n) && n > 0, "first fragment (lost)");
  REQUIRE(gbl_poll_data(a, fx_wire, sizeof fx_wire, T0, &n) && n > 0, "second fragment (lost)");
  tx_slot *s = &a->tx[first % GB_MAX_WINDOW];
  CHECK(s->len == 239u, "cut at 239");
  /* Lost twice; meanwhile the line got worse: fragments of 59 bytes. */
  s->resend = true;
  CHECK(gbl_poll_data(a, fx_wire, sizeof fx_wire, T0 + 300u, &n) && n > 0 && s->tx_count == 2u, "retransmission");
  CHECK(!a->rewind_pending, "the first retransmission goes as it was");
  a->frag_level = 2;
  s->resend = true;
  uint16_t nonce0 = a->rewind_nonce;
  CHECK(gbl_poll_data(a, fx_wire, sizeof fx_wire, T0 + 600u, &n) && n > 0, "a REWIND instead");
  CHECK(a->rewind_pending && a->rewind_seq == first && a->rewind_nonce == (uint16_t)(nonce0 + 1u) &&
            a->rewind_first == a->rewind_nonce && a->rewind_at == T0 + 600u + a->rto,
        "rewind requested");
  CHECK(s->tx_count == 2u && s->resend, "the frame waits for the answer");
  CHECK(!gbl_poll_data(a, fx_wire, sizeof fx_wire, T0 + 601u, &n), "no data frame while the REWIND is pending");
  /* Again at rewind_at, with a new number; an answer to the first still counts (same request). */
  CHECK(gbl_poll_data(a, fx_wire, sizeof fx_wire, a->rewind_at, &n) && a->rewind_nonce == (uint16_t)(nonce0 + 2u),
        "REWIND repeated");
  gbl_receive_rewound(a, (uint16_t)(first + 1u), a->rewind_nonce, T0 + 700u);
  CHECK(a->rewind_pending && a->rewind_seen, "an answer for another seq does not count");
  gbl_receive_rewound(a, first, (uint16_t)(nonce0 + 3u), T0 + 700u);
  CHECK(a->rewind_pending, "a number never sent does not count");
  gbl_receive_rewound(a, first, (uint16_t)(nonce0 + 1u), T0 + 700u);
  CHECK(!a->rewind_pending && a->stats.rewinds == 1u, "rewound");
  CHECK(a->snd_nxt == first && a->snd_una == first && a->txq_unsent == 1u && a->txq_next_off == 0u &&
            a->progress_at == T0 + 700u,
        "everything in flight back in the queue");
  /* Cut again at 59 bytes under the same sequence numbers. */
  CHECK(gbl_poll_data(a, fx_wire, sizeof fx_wire, T0 + 701u, &n) && n > 0, "cut again");
  CHECK(s->len == 59u && s->tx_count == 1u && a->snd_nxt == (uint16_t)(first + 1u), "first new fragment: len %u",
        s->len);
}

/* A peer that never answers REWIND (an older engine) is asked REWIND_TRIES times while it talks, then left alone. */
static void rewind_unanswered(void) {
  gb_link_config ca = fx_config(GB_PROFILE_UART, 0x7777u), cb = fx_config(GB_PROFILE_UART, 0x8888u);
  gb_link *a = fx_init(0, &ca, T0), *b = fx_init(1, &cb, T0);
  fx_handshake(a, b, T0);
  uint8_t msg[239];
  memset(msg, 1, sizeof msg);
  REQUIRE(gb_link_send(a, 1, msg, sizeof msg, T0) == GB_OK, "send");
  size_t n = 0;
  uint16_t first = a->snd_nxt;
  REQUIRE(gbl_poll_data(a, fx_wire, sizeof fx_wire, T0, &n), "sent");
  tx_slot *s = &a->tx[first % GB_MAX_WINDOW];
  s->tx_count = 2;
  s->resend = true;
  a->frag_level = 1;
  uint32_t now = T0 + 10u;
  unsigned rewinds = 0;
  for (int i = 0; i < 40 && !a->rewind_off; i++) {
    if (gbl_poll_data(a, fx_wire, sizeof fx_wire, now, &n) && a->rewind_pending) rewinds++;
    a->peer_ack_at = now + 1u; /* the peer acknowledges, but never answers */
    now = a->rewind_at;
  }
  CHECK(a->rewind_off && !a->rewind_pending && rewinds == REWIND_TRIES, "left alone after %u REWINDs", rewinds);
  CHECK(s->tx_count == 3u && !s->resend, "the poll that gives up retransmits the frame as it is");
  s->resend = true;
  CHECK(gbl_poll_data(a, fx_wire, sizeof fx_wire, now + 500u, &n) && !a->rewind_pending && s->tx_count == 4u,
        "and so on, without asking");
  /* The packet profile never rewinds. */
  gb_link_config cp = fx_config(GB_PROFILE_PACKET, 0x9999u), cq = fx_config(GB_PROFILE_PACKET, 0xAAAAu);
  gb_link *p = fx_init(0, &cp, T0), *q = fx_init(1, &cq, T0);
  fx_handshake(p, q, T0);
  REQUIRE(gb_link_send(p, 1, msg, sizeof msg, T0) == GB_OK, "send");
  first = p->snd_nxt;
  REQUIRE(gbl_poll_data(p, fx_wire, sizeof fx_wire, T0, &n), "sent");
  s = &p->tx[first % GB_MAX_WINDOW];
  s->tx_count = 5;
  s->resend = true;
  p->frag_level = 3;
  CHECK(gbl_poll_data(p, fx_wire, sizeof fx_wire, T0 + 10u, &n) && !p->rewind_pending && s->tx_count == 6u,
        "packet profile: retransmitted as it is");
}

/* An unanswered REWIND goes again after max(rto_min, (k + 1) x the minimum RTT), k the frames in flight, doubling
 * with each REWIND of the request up to 16 times that, never later than RTO; before any RTT sample the start is
 * rto_initial_ms (SPEC.md 6.5). RTO itself may be backed off by the losses that called for the rewind. */
static void rewind_repeats(void) {
  static const struct {
    uint32_t min_rtt, rto, after[7];
  } cases[] = {
      {0, 1000, {200, 400, 800, 1000, 1000, 1000, 1000}}, /* no sample: from rto_initial, up to RTO */
      {10, 400, {30, 60, 120, 240, 400, 400, 400}},       /* (2 + 1) x 10, doubling, up to RTO */
      {2, 1000, {20, 40, 80, 160, 320, 320, 320}},        /* rto_min, at most 16 times that */
  };
  for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
    gb_link_config ca = fx_config(GB_PROFILE_UART, 0xB1B1u), cb = fx_config(GB_PROFILE_UART, 0xB2B2u);
    gb_link *a = fx_init(0, &ca, T0), *b = fx_init(1, &cb, T0);
    fx_handshake(a, b, T0);
    uint8_t msg[300];
    memset(msg, 0x3C, sizeof msg);
    REQUIRE(gb_link_send(a, 1, msg, sizeof msg, T0) == GB_OK, "send");
    size_t n = 0;
    uint16_t first = a->snd_nxt;
    REQUIRE(gbl_poll_data(a, fx_wire, sizeof fx_wire, T0, &n) && gbl_poll_data(a, fx_wire, sizeof fx_wire, T0, &n),
            "two fragments in flight (lost)");
    tx_slot *s = &a->tx[first % GB_MAX_WINDOW];
    s->tx_count = 2;
    s->resend = true;
    a->frag_level = 2;
    a->min_rtt = cases[c].min_rtt;
    a->rto = cases[c].rto;
    uint32_t now = T0 + 10u;
    for (int i = 0; i < 7; i++) {
      CHECK(gbl_poll_data(a, fx_wire, sizeof fx_wire, now, &n) && n > 0 && a->rewind_pending, "case %u: REWIND %d",
            (unsigned)c, i);
      CHECK(a->rewind_at - now == cases[c].after[i], "case %u: REWIND %d goes again after %u ms, not %u",
            (unsigned)c, i, (unsigned)(a->rewind_at - now), (unsigned)cases[c].after[i]);
      CHECK(!gbl_poll_data(a, fx_wire, sizeof fx_wire, a->rewind_at - 1u, &n), "case %u: nothing before",
            (unsigned)c);
      now = a->rewind_at;
    }
    CHECK(a->rewind_nonce == (uint16_t)(a->rewind_first + 6u) && !a->rewind_off, "case %u: one request, 7 REWINDs",
          (unsigned)c);
  }
}

/* A receiver drops what it holds beyond rcv_nxt when a REWIND arrives (SPEC.md 6.5). So on the UART profile the
 * SACK marks follow the latest acknowledgement (6.3): a frame it no longer shows, or the frame at `ack`, goes
 * again. The packet profile, whose receivers drop nothing, keeps its marks. */
static void sack_follows_the_latest_ack(void) {
  for (int packet = 0; packet < 2; packet++) {
    gb_profile profile = packet ? GB_PROFILE_PACKET : GB_PROFILE_UART;
    gb_link_config ca = fx_config(profile, 0xC1C1u), cb = fx_config(profile, 0xC2C2u);
    gb_link *a = fx_init(0, &ca, T0), *b = fx_init(1, &cb, T0);
    fx_handshake(a, b, T0);
    uint8_t msg[700];
    memset(msg, 0x77, sizeof msg);
    REQUIRE(gb_link_send(a, 1, msg, sizeof msg, T0) == GB_OK, "send");
    size_t n = 0;
    uint16_t first = a->snd_nxt;
    for (int i = 0; i < 3; i++) REQUIRE(gbl_poll_data(a, fx_wire, sizeof fx_wire, T0, &n), "fragment %d", i);
    tx_slot *s0 = &a->tx[first % GB_MAX_WINDOW], *s1 = &a->tx[(uint16_t)(first + 1u) % GB_MAX_WINDOW],
            *s2 = &a->tx[(uint16_t)(first + 2u) % GB_MAX_WINDOW];
    gb_frame held = fx_ack(first, 3u); /* the peer holds first + 1 and first + 2 */
    gbl_receive_ack(a, &held, T0 + 5u);
    CHECK(s1->sacked && s2->sacked && !s1->resend && !s2->resend && s0->resend, "profile %d: both sacked", packet);
    gb_frame dropped = fx_ack(first, 2u); /* it no longer holds first + 1 */
    gbl_receive_ack(a, &dropped, T0 + 6u);
    if (packet)
      CHECK(s1->sacked && !s1->resend && s2->sacked, "packet: the marks stay");
    else
      CHECK(!s1->sacked && s1->resend && s2->sacked && !s2->resend, "uart: first + 1 goes again, first + 2 stays");
    gb_frame next = fx_ack((uint16_t)(first + 1u), 0u); /* first arrived: ack passes it, nothing held beyond */
    gbl_receive_ack(a, &next, T0 + 7u);
    CHECK(a->snd_una == (uint16_t)(first + 1u), "profile %d: first acknowledged", packet);
    if (packet)
      CHECK(s1->sacked && s2->sacked && !s2->resend, "packet: the marks stay");
    else
      CHECK(!s2->sacked && s2->resend && s1->resend, "uart: nothing is shown held: both go again");
  }
}

/* The stall this rule ends (tests/unit/test_link.py, a junk byte before one frame in two): the receiver took a
 * REWIND and dropped the frames it held, every answer was lost, and the sender, once it had given up asking,
 * resent only the frames it did not think held and then waited for ever. */
static void abandoned_rewind_loses_nothing(void) {
  gb_link_config ca = fx_config(GB_PROFILE_UART, 0xD1D1u), cb = fx_config(GB_PROFILE_UART, 0xD2D2u);
  gb_link *a = fx_init(0, &ca, T0), *b = fx_init(1, &cb, T0);
  fx_handshake(a, b, T0);
  uint8_t msg[600];
  for (unsigned i = 0; i < sizeof msg; i++) msg[i] = (uint8_t)(i * 13u + 5u);
  REQUIRE(gb_link_send(a, 2, msg, sizeof msg, T0) == GB_OK, "send");
  size_t n = 0;
  uint16_t first = a->snd_nxt;
  uint32_t now = T0;
  /* The first fragment is lost; the other two arrive, and b's acknowledgement marks them held. */
  REQUIRE(gbl_poll_data(a, fx_wire, sizeof fx_wire, now, &n), "fragment 0 (lost)");
  for (int i = 1; i < 3; i++) {
    REQUIRE(gbl_poll_data(a, fx_wire, sizeof fx_wire, now, &n), "fragment %d", i);
    gb_link_receive(b, fx_wire, n, now);
  }
  now++;
  REQUIRE(fx_pass(b, a, now) > 0, "b acknowledges");
  tx_slot *s0 = &a->tx[first % GB_MAX_WINDOW], *s1 = &a->tx[(uint16_t)(first + 1u) % GB_MAX_WINDOW],
          *s2 = &a->tx[(uint16_t)(first + 2u) % GB_MAX_WINDOW];
  CHECK(s1->sacked && s2->sacked && s0->resend, "b holds fragments 1 and 2");
  /* Fragment 0 goes again and is lost again; meanwhile the line got worse, so its timer calls for a rewind. */
  REQUIRE(gbl_poll_data(a, fx_wire, sizeof fx_wire, now, &n) && s0->tx_count == 2u, "retransmission (lost)");
  a->frag_level = 2;
  s0->resend = true;
  REQUIRE(gbl_poll_data(a, fx_wire, sizeof fx_wire, now, &n) && a->rewind_pending, "a REWIND");
  gb_link_receive(b, fx_wire, n, now);
  CHECK(gbl_sack_bits(b) == 0u && b->rewind_reply, "b dropped what it held and answers");
  REQUIRE(fx_pass(b, NULL, now) > 0, "the REWOUND (lost)");
  /* Every further answer is lost too, and a gives up asking (rewind_unanswered shows how). */
  a->rewind_pending = false;
  a->rewind_off = true;
  gb_event ev;
  bool delivered = false;
  for (uint32_t t = 0; t < 3000u && !delivered; t++) {
    now++;
    for (int k = 0; k < 4; k++) {
      fx_pass(a, b, now);
      fx_pass(b, a, now);
    }
    while (gb_link_poll_event(b, &ev))
      if (ev.type == GB_EV_MESSAGE) {
        CHECK(ev.channel == 2u && ev.len == sizeof msg && memcmp(ev.data, msg, sizeof msg) == 0, "message intact");
        delivered = true;
      }
  }
  CHECK(delivered, "the message arrives (a: %u in flight, snd_una %u; b: rcv_nxt %u)", (unsigned)inflight(a),
        (unsigned)a->snd_una, (unsigned)b->rcv_nxt);
  fx_pass(b, a, now);
  CHECK(a->txq_msgs == 0u && inflight(a) == 0u, "and leaves a's queue");
  CHECK(a->stats.retransmits >= 3u, "fragments 1 and 2 went again (%u retransmissions)",
        (unsigned)a->stats.retransmits);
}

/* The frame in fx_wire (n bytes on the wire), parsed (UART profile). */
static gb_frame parsed(size_t n, uint8_t *raw, size_t cap) {
  gb_frame f;
  memset(&f, 0, sizeof f);
  REQUIRE(n > 2 && fx_wire[n - 1] == 0, "a frame");
  gb_cobs_result r = gb_cobs_decode(fx_wire, n - 1, raw, cap);
  REQUIRE(r.status == GB_COBS_OK && gb_frame_parse(GB_PROFILE_UART, raw, r.len, &f) == GB_FRAME_OK, "parses");
  return f;
}

/* SPEC.md 6.3, UART: an acknowledgement owed (here the delayed one of a first in-order frame, still within
 * ack_delay_ms) goes on its own ahead of a data frame of 256 payload bytes or more, new or retransmitted; a
 * shorter data frame carries it, and so does every data frame when nothing is owed. Before the rule the
 * acknowledgement rode on the long frame and reached the peer only with its last byte. */
static void owed_ack_goes_ahead_of_a_long_frame(void) {
  gb_link_config ca = fx_config(GB_PROFILE_UART, 0x4444u), cb = fx_config(GB_PROFILE_UART, 0x5555u);
  ca.max_frame = cb.max_frame = 1024;
  ca.tx_queue_bytes = cb.tx_queue_bytes = 4096;
  gb_link *a = fx_init(0, &ca, T0), *b = fx_init(1, &cb, T0);
  fx_handshake(a, b, T0);
  static uint8_t big[1000], small[255], raw[1100];
  memset(big, 0xA5, sizeof big);
  memset(small, 0x5A, sizeof small);
  uint8_t one = 7;
  uint32_t now = T0 + 10u;

  /* The peer's reply arrives; a has a long message to send: the acknowledgement first, alone. */
  gb_frame reply = fx_data(a->rcv_nxt, false, &one, 1);
  gbl_receive_data(a, &reply, now);
  REQUIRE(a->ack_pending && !a->ack_now, "a delayed acknowledgement is owed");
  REQUIRE(gb_link_send(a, 3, big, sizeof big, now) == GB_OK, "send");
  uint16_t data_seq = a->snd_nxt;
  size_t n = gb_link_poll_tx(a, fx_wire, sizeof fx_wire, now);
  gb_frame f = parsed(n, raw, sizeof raw);
  CHECK(f.flags == 0u && f.payload_len == 0u && f.ack == a->rcv_nxt && n < 24u,
        "an acknowledgement alone (%u bytes, flags %#x)", (unsigned)n, f.flags);
  CHECK(!a->ack_pending && !a->ack_now && a->snd_nxt == data_seq,
        "it cleared what was owed; no data frame sent yet");
  n = gb_link_poll_tx(a, fx_wire, sizeof fx_wire, now);
  f = parsed(n, raw, sizeof raw);
  CHECK((f.flags & GB_FLAG_DATA) && f.seq == data_seq && f.payload_len == sizeof big, "then the data frame");

  /* Its retransmission: the same rule (an acknowledgement owed goes first). */
  gb_frame reply2 = fx_data(a->rcv_nxt, false, &one, 1);
  gbl_receive_data(a, &reply2, now);
  a->tx[data_seq % GB_MAX_WINDOW].resend = true;
  n = gb_link_poll_tx(a, fx_wire, sizeof fx_wire, now);
  f = parsed(n, raw, sizeof raw);
  CHECK(f.flags == 0u && f.ack == a->rcv_nxt, "ahead of a retransmission too: flags %#x", f.flags);
  n = gb_link_poll_tx(a, fx_wire, sizeof fx_wire, now);
  f = parsed(n, raw, sizeof raw);
  CHECK((f.flags & GB_FLAG_DATA) && f.seq == data_seq, "then the retransmission");

  /* A short data frame (255 bytes) carries the acknowledgement itself: one frame. */
  gb_frame reply3 = fx_data(a->rcv_nxt, false, &one, 1);
  gbl_receive_data(a, &reply3, now);
  REQUIRE(gb_link_send(a, 1, small, sizeof small, now) == GB_OK, "send");
  n = gb_link_poll_tx(a, fx_wire, sizeof fx_wire, now);
  f = parsed(n, raw, sizeof raw);
  CHECK((f.flags & GB_FLAG_DATA) && f.payload_len == sizeof small && f.ack == a->rcv_nxt && !a->ack_pending,
        "a short frame carries the acknowledgement: flags %#x len %u", f.flags, (unsigned)f.payload_len);

  /* Nothing owed: a long data frame goes at once. */
  REQUIRE(gb_link_send(a, 3, big, sizeof big, now) == GB_OK, "send");
  n = gb_link_poll_tx(a, fx_wire, sizeof fx_wire, now);
  f = parsed(n, raw, sizeof raw);
  CHECK((f.flags & GB_FLAG_DATA) && f.payload_len == sizeof big, "nothing owed: the data frame");

  /* A Hello (ack 0) does not clear an owed acknowledgement (SPEC.md 6.3). */
  gb_frame reply4 = fx_data(a->rcv_nxt, false, &one, 1);
  gbl_receive_data(a, &reply4, now);
  REQUIRE(a->ack_pending, "owed");
  n = gbl_emit_hello(a, false, fx_wire, sizeof fx_wire, now);
  CHECK(n > 0 && a->ack_pending, "still owed after a Hello");
}

/* The packet profile (a datagram arrives whole) keeps the acknowledgement on the data frame. */
static void packet_profile_acks_ride_on_data(void) {
  gb_link_config ca = fx_config(GB_PROFILE_PACKET, 0x6666u), cb = fx_config(GB_PROFILE_PACKET, 0x7777u);
  ca.max_frame = cb.max_frame = 1024;
  ca.tx_queue_bytes = cb.tx_queue_bytes = 4096;
  gb_link *a = fx_init(0, &ca, T0), *b = fx_init(1, &cb, T0);
  fx_handshake(a, b, T0);
  static uint8_t big[1000];
  uint8_t one = 7;
  gb_frame reply = fx_data(a->rcv_nxt, false, &one, 1);
  gbl_receive_data(a, &reply, T0 + 10u);
  REQUIRE(gb_link_send(a, 3, big, sizeof big, T0 + 10u) == GB_OK, "send");
  size_t n = gb_link_poll_tx(a, fx_wire, sizeof fx_wire, T0 + 10u);
  gb_frame f;
  REQUIRE(gb_frame_parse(GB_PROFILE_PACKET, fx_wire, n, &f) == GB_FRAME_OK, "parses");
  CHECK((f.flags & GB_FLAG_DATA) && f.ack == a->rcv_nxt && !a->ack_pending, "the data frame carries it");
}

int main(void) {
  ring();
  fragments_and_acks();
  fragment_sizing();
  rewind_sender();
  rewind_unanswered();
  rewind_repeats();
  sack_follows_the_latest_ack();
  abandoned_rewind_loses_nothing();
  owed_ack_goes_ahead_of_a_long_frame();
  packet_profile_acks_ride_on_data();
  return check_result("test_link_tx");
}
