/* Fixture of the link engine's unit tests (test_link_tx.c, test_link_rx.c, test_link_timers.c,
 * test_link_hello.c): engines in static memory, a direct wire between two of them (every frame arrives), and the
 * engine's private header, so that a test drives one part of the engine through its internal functions and reads
 * the state it leaves. test_link.c tests the engine as a whole through link.h. */
#ifndef GB_TESTS_LINK_FIXTURE_H
#define GB_TESTS_LINK_FIXTURE_H

#include <string.h>

#include "../src/link_internal.h"
#include "check.h"
#include "glassbridge/link.h"

/* Room for an engine of max_frame 1024, window 8, max_message 1024 and a 2 KB transmit queue (~14 KB). */
#define FX_MEM_BYTES 20480u
#define FX_WIRE_MAX GB_COBS_MAX_ENCODED(GB_MAX_FRAME)

static uint64_t fx_mem[2][FX_MEM_BYTES / 8];
static uint8_t fx_wire[FX_WIRE_MAX];

/* The fixture's configuration: small frames, window and queue; every timer at its default. */
static inline gb_link_config fx_config(gb_profile profile, uint32_t session) {
  gb_link_config c;
  memset(&c, 0, sizeof c);
  c.profile = profile;
  c.role = GB_ROLE_SOC;
  c.session = session;
  c.max_frame = 256;
  c.window = 8;
  c.max_message = 1024;
  c.tx_queue_bytes = 2048;
  return c;
}

/* Engine i (0 or 1) in fixture memory. */
static inline gb_link *fx_init(int i, const gb_link_config *c, uint32_t now) {
  gb_status st = GB_ERR_ARG;
  REQUIRE(gb_link_mem_size(c) <= FX_MEM_BYTES, "fixture memory too small: %u", (unsigned)gb_link_mem_size(c));
  gb_link *l = gb_link_init(c, fx_mem[i], sizeof fx_mem[i], now, &st);
  REQUIRE(l != NULL && st == GB_OK, "gb_link_init: %s", gb_status_str(st));
  return l;
}

/* One frame from `from` to `to` (if `from` has one now); returns its length on the wire. */
static inline size_t fx_pass(gb_link *from, gb_link *to, uint32_t now) {
  size_t n = gb_link_poll_tx(from, fx_wire, sizeof fx_wire, now);
  if (n && to) gb_link_receive(to, fx_wire, n, now);
  return n;
}

/* Drops every event of an engine; returns how many there were of `type`. */
static inline unsigned fx_drain_events(gb_link *l, gb_event_type type) {
  gb_event ev;
  unsigned n = 0;
  while (gb_link_poll_event(l, &ev))
    if (ev.type == type) n++;
  return n;
}

/* The handshake between two fresh engines over a perfect wire at time `now`: both up afterwards, events taken. */
static inline void fx_handshake(gb_link *a, gb_link *b, uint32_t now) {
  for (int round = 0; round < 8; round++) {
    fx_pass(a, b, now);
    fx_pass(b, a, now);
  }
  REQUIRE(gb_link_get_state(a) == GB_LINK_UP && gb_link_get_state(b) == GB_LINK_UP, "handshake: states %d %d",
          (int)gb_link_get_state(a), (int)gb_link_get_state(b));
  fx_drain_events(a, GB_EV_NONE);
  fx_drain_events(b, GB_EV_NONE);
}

/* A data frame as the peer would send it, for gbl_receive_data. */
static inline gb_frame fx_data(uint16_t seq, bool more, const uint8_t *payload, size_t len) {
  gb_frame f;
  memset(&f, 0, sizeof f);
  f.flags = (uint8_t)(GB_FLAG_DATA | (more ? GB_FLAG_MORE : 0u));
  f.channel = 1;
  f.seq = seq;
  f.payload = payload;
  f.payload_len = len;
  return f;
}

/* An acknowledgement as the peer would send it, for gbl_receive_ack. */
static inline gb_frame fx_ack(uint16_t ack, uint32_t sack) {
  gb_frame f;
  memset(&f, 0, sizeof f);
  f.ack = ack;
  f.sack = sack;
  return f;
}

#endif
