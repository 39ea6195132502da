/* The link engine: the transcripts of protocol/vectors (byte-exact behaviour), then two engines through a
 * seeded faulty wire (sim.h): 10,000 messages at a byte error rate of 1e-3 with none lost, duplicated or
 * altered; a peer restart mid-stream; a pulled cable; versions that cannot talk; the API's refusals; garbage;
 * 64 KB at a byte error rate of 1e-2 (smaller fragments and rewinds, SPEC.md 6.1 and 6.5); a peer that ignores
 * REWIND. */
#include <string.h>

#include "check.h"
#include "glassbridge/frame.h"
#include "glassbridge/link.h"
#include "sim.h"
#include "vectors.h"

/* Compile-time scale of this test. The host keeps the defaults; the firmware's MCU test build
 * (firmware/tests/protocol_tests.cmake) passes values that fit the board's RAM (the STM32F405 has 128 KB):
 * TEST_LINK_MESSAGES: messages A sends in the lossy UART run (B sends a fifth; the packet run 3/10 and 1/10).
 * TEST_LINK_TX_QUEUE: tx_queue_bytes of the engines of base_config() (an engine needs ~11 KB more than this).
 * TEST_LINK_MEM_BYTES: the memory of the engine of the single-engine tests.
 * TEST_LINK_IO_BYTES: the transcript's byte buffers (a transcript line holds at most 608 bytes). */
#ifndef TEST_LINK_MESSAGES
#define TEST_LINK_MESSAGES 10000u
#endif
#ifndef TEST_LINK_TX_QUEUE
#define TEST_LINK_TX_QUEUE 16384u
#endif
#ifndef TEST_LINK_MEM_BYTES
#define TEST_LINK_MEM_BYTES (1u << 17)
#endif
#ifndef TEST_LINK_IO_BYTES
#define TEST_LINK_IO_BYTES 8192u
#endif

/* The engine memory of transcript(), api() and garbage(): one block, as they run one after the other (each
 * engine starts with gb_link_init, which clears it). */
static uint64_t mem[TEST_LINK_MEM_BYTES / 8];

static gb_link_config base_config(gb_profile profile, uint32_t session) {
  gb_link_config c;
  memset(&c, 0, sizeof c);
  c.profile = profile;
  c.role = GB_ROLE_SOC;
  c.session = session;
  c.max_frame = 256;
  c.window = 16;
  c.max_message = 4096;
  c.tx_queue_bytes = TEST_LINK_TX_QUEUE;
  return c;
}

/* ---- transcripts ------------------------------------------------------------------------------------------ */

static const char *event_name(gb_event_type t) {
  switch (t) {
    case GB_EV_MESSAGE: return "message";
    case GB_EV_LINK_UP: return "link_up";
    case GB_EV_LINK_DOWN: return "link_down";
    case GB_EV_PEER_RESET: return "peer_reset";
    case GB_EV_VERSION_MISMATCH: return "version_mismatch";
    default: return "none";
  }
}

static void transcript(const char *file) {
  vec_file v;
  REQUIRE(vec_open(&v, file), "vectors");
  static uint8_t bytes[TEST_LINK_IO_BYTES], out[TEST_LINK_IO_BYTES];
  static char fw[32];
  gb_link *l = NULL;
  int steps = 0;
  while (vec_next(&v)) {
    if (strcmp(v.first, "config") == 0) {
      gb_link_config c;
      memset(&c, 0, sizeof c);
      c.profile = strcmp(vec_get(&v, "profile"), "uart") == 0 ? GB_PROFILE_UART : GB_PROFILE_PACKET;
      c.session = (uint32_t)vec_u64(&v, "session");
      c.role = (gb_role)vec_u64(&v, "role");
      c.max_frame = (uint16_t)vec_u64(&v, "max_frame");
      c.window = (uint8_t)vec_u64(&v, "window");
      c.max_message = (uint16_t)vec_u64(&v, "max_message");
      c.tx_queue_bytes = (uint32_t)vec_u64(&v, "tx_queue_bytes");
      snprintf(fw, sizeof fw, "%s", vec_get(&v, "firmware_version"));
      c.firmware_version = fw;
      REQUIRE(gb_link_mem_size(&c) <= sizeof mem, "memory");
      gb_status st;
      l = gb_link_init(&c, mem, sizeof mem, 0, &st);
      REQUIRE(l, "init %s", gb_status_str(st));
      continue;
    }
    REQUIRE(l && strcmp(v.key[0], "t") == 0, "%s:%d: expected config, then t=", file, v.line_no);
    uint32_t t = (uint32_t)strtoul(v.val[0], NULL, 10);
    if (vec_has(&v, "in")) {
      size_t n = vec_hex(&v, "in", bytes, sizeof bytes);
      gb_link_receive(l, bytes, n, t);
    } else if (vec_has(&v, "out")) {
      size_t want = vec_hex(&v, "out", bytes, sizeof bytes);
      size_t n = gb_link_poll_tx(l, out, sizeof out, t);
      CHECK(n == want && memcmp(out, bytes, n) == 0, "%s:%d: frame differs (%zu bytes, want %zu)", file,
            v.line_no, n, want);
    } else if (vec_has(&v, "quiet")) {
      size_t n = gb_link_poll_tx(l, out, sizeof out, t);
      CHECK(n == 0, "%s:%d: wrote %zu bytes, expected nothing", file, v.line_no, n);
    } else if (vec_has(&v, "send")) {
      size_t n = vec_hex(&v, "data", bytes, sizeof bytes);
      gb_status st = gb_link_send(l, (uint8_t)vec_u64(&v, "send"), bytes, n, t);
      CHECK(st == GB_OK, "%s:%d: send: %s", file, v.line_no, gb_status_str(st));
    } else if (vec_has(&v, "event")) {
      gb_event ev;
      bool got = gb_link_poll_event(l, &ev);
      const char *want = vec_get(&v, "event");
      CHECK(got && strcmp(event_name(ev.type), want) == 0, "%s:%d: event %s, want %s", file, v.line_no,
            got ? event_name(ev.type) : "(none)", want);
      if (got && ev.type == GB_EV_MESSAGE) {
        size_t n = vec_hex(&v, "data", bytes, sizeof bytes);
        CHECK(ev.channel == vec_u64(&v, "channel") && ev.len == n && memcmp(ev.data, bytes, n) == 0,
              "%s:%d: message content", file, v.line_no);
      }
      if (got && vec_has(&v, "peer_session"))
        CHECK(ev.peer.session == vec_u64(&v, "peer_session"), "%s:%d: peer session", file, v.line_no);
      if (got && vec_has(&v, "dropped"))
        CHECK(ev.dropped == vec_u64(&v, "dropped"), "%s:%d: dropped %u", file, v.line_no, ev.dropped);
    }
    if (vec_has(&v, "pending"))
      CHECK(gb_link_tx_pending(l) == vec_u64(&v, "pending"), "%s:%d: pending %zu", file, v.line_no,
            gb_link_tx_pending(l));
    steps++;
  }
  vec_close(&v);
  gb_event ev;
  CHECK(l && !gb_link_poll_event(l, &ev), "%s: an event left over: %s", file, event_name(ev.type));
  CHECK(steps > 30, "%s: only %d steps", file, steps);
}

/* ---- two engines through the faulty wire -------------------------------------------------------------------- */

static void setup(sim *s, gb_profile profile, uint64_t seed, uint32_t start) {
  memset(s, 0, sizeof *s);
  s->rng.state = seed;
  s->now = start;
  s->rate_bytes_per_ms = 1000;
  s->latency_ms = 1;
  gb_link_config a = base_config(profile, 0x0A0A0001u ^ (uint32_t)seed);
  gb_link_config b = base_config(profile, 0x0B0B0001u ^ (uint32_t)(seed >> 7));
  b.role = GB_ROLE_MCU;
  b.max_frame = 300; /* different limits on purpose: the smaller one must win */
  b.window = 12;
  sim_init_side(s, 0, &a);
  sim_init_side(s, 1, &b);
  s->side[0].check_content = s->side[1].check_content = true;
}

static void run_until_done(sim *s, uint32_t max_ms) {
  uint32_t start = s->now;
  while (!sim_done(s) && s->now - start < max_ms) sim_step(s);
}

static void lossy(gb_profile profile, uint32_t n_ab, uint32_t n_ba) {
  static sim s; /* megabytes: not on the stack */
  /* The clock starts 4 s before it wraps: every timer crosses 2^32 during the run. */
  setup(&s, profile, profile == GB_PROFILE_UART ? 0x1234 : 0x5678, 0xFFFFF000u);
  if (profile == GB_PROFILE_UART) {
    s.byte_error_rate = 1e-3;
    s.truncate_rate = 2e-3;
  } else {
    s.drop_rate = 0.02;
    s.dup_rate = 0.01;
    s.reorder_rate = 0.05;
  }
  s.side[0].to_send = n_ab;
  s.side[1].to_send = n_ba;
  run_until_done(&s, 120000);
  const char *name = profile == GB_PROFILE_UART ? "uart" : "packet";
  CHECK(sim_done(&s), "%s: not done after %u ms: B got %u/%u, A got %u/%u", name, s.now - 0xFFFFF000u,
        s.side[1].received, n_ab, s.side[0].received, n_ba);
  CHECK(s.errors == 0, "%s: %d wrong deliveries or engine errors", name, s.errors);
  CHECK(s.side[1].received_total == n_ab && s.side[0].received_total == n_ba, "%s: %u and %u delivered", name,
        s.side[1].received_total, s.side[0].received_total);
  CHECK(s.side[0].peer_resets == 0 && s.side[1].peer_resets == 0, "%s: spurious peer reset", name);
  gb_link_stats st[2];
  gb_link_get_stats(s.side[0].link, &st[0]);
  gb_link_get_stats(s.side[1].link, &st[1]);
  if (profile == GB_PROFILE_UART)
    CHECK(st[1].crc_errors + st[1].framing_errors > 50, "uart: faults were injected (%u crc, %u framing)",
          st[1].crc_errors, st[1].framing_errors);
  else
    CHECK(st[1].duplicates > 0 && st[1].out_of_order > 0, "packet: duplicates %u, out of order %u",
          st[1].duplicates, st[1].out_of_order);
  CHECK(st[0].retransmits > 0, "%s: losses caused retransmissions", name);
  CHECK(st[0].messages_tx == n_ab && st[1].messages_rx == n_ab, "%s: message counters", name);
  printf("%s: %u+%u messages in %u simulated ms; A: %u data frames, %u retransmits, srtt %u ms, rto %u ms; "
         "B: %u crc, %u framing errors, %u duplicates, %u out of order\n",
         name, n_ab, n_ba, s.now - 0xFFFFF000u, st[0].data_frames_tx, st[0].retransmits, st[0].srtt_ms,
         st[0].rto_ms, st[1].crc_errors, st[1].framing_errors, st[1].duplicates, st[1].out_of_order);
  sim_free(&s);
}

static void peer_reset(void) {
  static sim s; /* megabytes: not on the stack */
  setup(&s, GB_PROFILE_UART, 42, 1000);
  s.byte_error_rate = 1e-4;
  s.side[0].to_send = 400;
  s.side[1].to_send = 100;
  while (s.side[1].received < 150) sim_step(&s);
  uint32_t sent_before = s.side[0].sent, delivered_before = s.side[1].received;
  /* B reboots: new engine, new session; its application starts over as well. */
  sim_side *b = &s.side[1];
  gb_link_config cfg = b->cfg;
  cfg.session ^= 0x00FF0000u;
  cfg.boot_counter++;
  uint32_t b_epoch = b->epoch + 1, a_epoch = s.side[0].epoch + 1;
  sim_init_side(&s, 1, &cfg);
  b->epoch = b_epoch;
  b->sent = 0;
  b->rx_epoch = a_epoch;
  b->received = 0;
  run_until_done(&s, 60000);
  CHECK(sim_done(&s), "peer reset: not done (A sent %u, B got %u)", s.side[0].sent, s.side[1].received);
  CHECK(s.errors == 0, "peer reset: %d wrong deliveries", s.errors);
  CHECK(s.side[0].peer_resets == 1, "A saw %d peer resets", s.side[0].peer_resets);
  CHECK(s.side[1].peer_resets == 0, "the new B saw %d peer resets", s.side[1].peer_resets);
  /* Every message A sent before the reset was delivered to the old B or counted as dropped. */
  CHECK(delivered_before + s.side[0].dropped >= sent_before, "delivered %u + dropped %u < sent %u",
        delivered_before, s.side[0].dropped, sent_before);
  gb_peer_info p;
  CHECK(gb_link_get_peer(s.side[0].link, &p) && p.session == cfg.session && p.boot_counter == cfg.boot_counter,
        "A knows the new B");
  sim_free(&s);
}

static void cable_pulled(gb_profile profile) {
  static sim s; /* megabytes: not on the stack */
  setup(&s, profile, 7, 0);
  s.side[0].to_send = 600;
  s.side[1].to_send = 200;
  while (s.side[1].received < 100) sim_step(&s);
  s.pipe[0].cut = s.pipe[1].cut = true;
  s.pipe[0].n = s.pipe[1].n = 0; /* what was on the wire is lost too */
  for (int i = 0; i < 3000; i++) sim_step(&s);
  CHECK(s.side[0].link_downs == 1 && s.side[1].link_downs == 1, "link down seen: %d %d", s.side[0].link_downs,
        s.side[1].link_downs);
  CHECK(gb_link_get_state(s.side[0].link) == GB_LINK_DOWN, "A is down");
  CHECK(gb_link_tx_pending(s.side[0].link) > 0, "A keeps its queue while down");
  s.pipe[0].cut = s.pipe[1].cut = false;
  run_until_done(&s, 60000);
  CHECK(sim_done(&s), "cable: not done");
  CHECK(s.side[0].link_ups == 2 && s.side[1].link_ups == 2, "link up twice: %d %d", s.side[0].link_ups,
        s.side[1].link_ups);
  CHECK(s.side[0].peer_resets == 0 && s.side[1].peer_resets == 0, "no peer reset for a pulled cable");
  CHECK(s.errors == 0 && s.side[1].received_total == 600, "cable: %d errors, B got %u of 600", s.errors,
        s.side[1].received_total);
  sim_free(&s);
}

/* Ends with different timers (SPEC.md 4.5): A with the BLE settings (heartbeat 1000 ms, link timeout 6000 ms), B
 * with the defaults (heartbeat 250 ms, link timeout 1000 ms), both idle, on a wire that delays half the datagrams by
 * 1..6 ms. B's link timer runs on what A sends. First 20 s on a working wire; then 5 s in which everything B sends is
 * lost, so that B's own pings go unanswered and only A's pings feed B's timer: A must ping after a quarter of the
 * link timeout B declared in its Hello (250 ms), not after its own 1000 ms, which a few ms of jitter turn into a
 * silence longer than B's timeout (LINK_DOWN). */
static void mixed_timers(void) {
  static sim s; /* megabytes: not on the stack */
  setup(&s, GB_PROFILE_PACKET, 0x71, 0);
  gb_link_config a = s.side[0].cfg;
  a.heartbeat_ms = 1000;
  a.link_timeout_ms = 6000;
  sim_init_side(&s, 0, &a);
  s.reorder_rate = 0.5;
  for (int i = 0; i < 200; i++) sim_step(&s);
  REQUIRE(gb_link_get_state(s.side[0].link) == GB_LINK_UP && gb_link_get_state(s.side[1].link) == GB_LINK_UP,
          "mixed timers: handshake");
  for (int i = 0; i < 20000; i++) sim_step(&s);
  CHECK(s.side[0].link_downs == 0 && s.side[1].link_downs == 0, "mixed timers, 20 s idle: link downs %d %d",
        s.side[0].link_downs, s.side[1].link_downs);
  gb_link_stats before, after;
  gb_link_get_stats(s.side[0].link, &before);
  s.pipe[1].cut = true;
  s.pipe[1].n = 0;
  for (int i = 0; i < 5000; i++) sim_step(&s);
  gb_link_get_stats(s.side[0].link, &after);
  CHECK(s.side[1].link_downs == 0 && gb_link_get_state(s.side[1].link) == GB_LINK_UP,
        "mixed timers, B unheard for 5 s: B lost the link %d times", s.side[1].link_downs);
  CHECK(gb_link_get_state(s.side[0].link) == GB_LINK_UP, "A's own timeout is 6 s");
  CHECK(after.acks_tx - before.acks_tx >= 19u && after.acks_tx - before.acks_tx <= 21u,
        "A pinged every 250 ms: %u pings in 5 s", after.acks_tx - before.acks_tx);
  CHECK(s.errors == 0, "mixed timers: %d engine errors", s.errors);
  sim_free(&s);
}

static void version_mismatch(void) {
  static sim s; /* megabytes: not on the stack */
  setup(&s, GB_PROFILE_UART, 3, 0);
  gb_link_config a = s.side[0].cfg;
  a.protocol_version = 3;
  a.min_protocol_version = 2; /* cannot speak 1 */
  sim_init_side(&s, 0, &a);
  for (int i = 0; i < 2000; i++) sim_step(&s);
  for (int i = 0; i < 2; i++) {
    CHECK(s.side[i].mismatches == 1, "side %d: %d mismatch events", i, s.side[i].mismatches);
    CHECK(s.side[i].link_ups == 0, "side %d came up", i);
    CHECK(gb_link_get_state(s.side[i].link) == GB_LINK_INCOMPATIBLE, "side %d state", i);
    CHECK(gb_link_send(s.side[i].link, 1, (const uint8_t *)"x", 1, s.now) == GB_ERR_INCOMPATIBLE, "send %d", i);
  }
  gb_peer_info p;
  CHECK(gb_link_get_peer(s.side[1].link, &p) && p.protocol_version == 3 && p.min_protocol_version == 2,
        "B sees A's versions");
  /* A newer engine that still speaks 1 talks to a version-1 engine. */
  a.protocol_version = 2;
  a.min_protocol_version = 1;
  a.session ^= 0x100;
  sim_init_side(&s, 0, &a);
  s.side[0].mismatches = s.side[1].mismatches = 0;
  for (int i = 0; i < 2000; i++) sim_step(&s);
  CHECK(gb_link_get_state(s.side[0].link) == GB_LINK_UP && gb_link_get_state(s.side[1].link) == GB_LINK_UP,
        "v2 (min 1) and v1 talk");
  sim_free(&s);
}

/* ---- the API's refusals ---------------------------------------------------------------------------------------- */

static void api(void) {
  gb_link_config c = base_config(GB_PROFILE_UART, 1);
  gb_link_config bad = c;
  bad.session = 0;
  CHECK(gb_link_config_normalize(&bad) == GB_ERR_ARG, "session 0");
  bad = c;
  bad.max_frame = GB_MIN_FRAME - 1;
  CHECK(gb_link_config_normalize(&bad) == GB_ERR_ARG, "max_frame too small");
  bad = c;
  bad.window = GB_MAX_WINDOW + 1;
  CHECK(gb_link_config_normalize(&bad) == GB_ERR_ARG, "window too large");
  bad = c;
  bad.tx_queue_bytes = c.max_message; /* cannot hold one largest message with its record */
  CHECK(gb_link_config_normalize(&bad) == GB_ERR_ARG, "queue smaller than a message");
  bad = c;
  bad.rto_min_ms = 500;
  bad.rto_initial_ms = 100;
  CHECK(gb_link_config_normalize(&bad) == GB_ERR_ARG, "rto_min > rto_initial");
  bad = c;
  bad.firmware_version = "0123456789012345678901234567890123";
  CHECK(gb_link_config_normalize(&bad) == GB_ERR_ARG, "firmware_version too long");
  /* The sentence names the field and its range; the same one a binding gets for a value too wide for the struct. */
  bad = c;
  bad.window = GB_MAX_WINDOW + 1;
  CHECK(strstr(gb_link_config_problem(&bad), "window must be 1..32") != NULL, "window's rule");
  CHECK(gb_link_config_value_problem("window", 33) == gb_link_config_problem(&bad), "one sentence per rule");
  CHECK(gb_link_config_value_problem("window", 0) == NULL && gb_link_config_value_problem("window", 32) == NULL,
        "window 0 (default) and 32");
  CHECK(strstr(gb_link_config_value_problem("max_frame", 127), "max_frame must be 128..4096") != NULL, "127");
  CHECK(gb_link_config_value_problem("max_frame", 0) == NULL, "max_frame 0 is the default");
  CHECK(gb_link_config_value_problem("max_message", 65536) != NULL, "max_message wider than 16 bits");
  CHECK(gb_link_config_value_problem("heartbeat_ms", -1) != NULL, "negative timer");
  CHECK(gb_link_config_value_problem("session", 0) != NULL && gb_link_config_value_problem("session", 1) == NULL,
        "session 0 refused, 1 taken");
  CHECK(gb_link_config_value_problem("session", (int64_t)UINT32_MAX + 1) != NULL, "session wider than 32 bits");
  CHECK(gb_link_config_value_problem("role", 4) != NULL && gb_link_config_value_problem("profile", 2) != NULL,
        "enums out of range");
  CHECK(gb_link_config_value_problem("hello_ms", 5) != NULL && gb_link_config_value_problem(NULL, 5) != NULL,
        "unknown field");
  CHECK(gb_link_config_problem(&c) == NULL, "the base config is valid");
  gb_link_config d;
  memset(&d, 0, sizeof d);
  d.session = 9;
  CHECK(gb_link_config_normalize(&d) == GB_OK && d.max_frame == 1024 && d.window == 16 && d.max_message == 4096 &&
            d.heartbeat_ms == 250 && d.link_timeout_ms == 1000 && d.rto_initial_ms == 200,
        "defaults");

  gb_status st;
  size_t need = gb_link_mem_size(&c);
  CHECK(need > 0 && need <= sizeof mem, "mem size %zu", need);
  CHECK(gb_link_init(&c, mem, need - 1, 0, &st) == NULL && st == GB_ERR_NO_MEMORY, "too little memory");
  CHECK(gb_link_init(&c, (uint8_t *)mem + 1, need, 0, &st) == NULL && st == GB_ERR_ARG, "misaligned memory");

  /* Queue full and oversize, before any handshake. */
  c.max_message = 500;
  c.tx_queue_bytes = 600;
  gb_link *l = gb_link_init(&c, mem, sizeof mem, 0, &st);
  REQUIRE(l, "init");
  static uint8_t msg[600];
  CHECK(gb_link_send(l, 1, msg, 501, 0) == GB_ERR_TOO_LARGE, "too large");
  CHECK(gb_link_send(l, 0, msg, 1, 0) == GB_ERR_BAD_CHANNEL, "channel 0");
  CHECK(gb_link_send(l, GB_CHANNELS, msg, 1, 0) == GB_ERR_BAD_CHANNEL, "channel 4");
  CHECK(gb_link_send(l, 1, NULL, 3, 0) == GB_ERR_ARG, "NULL message");
  CHECK(gb_link_send(l, 1, msg, 500, 0) == GB_OK, "500 fits");
  CHECK(gb_link_tx_free(l) == 600 - 504, "free %zu", gb_link_tx_free(l));
  CHECK(gb_link_send(l, 2, msg, 93, 0) == GB_ERR_QUEUE_FULL, "93 + 4 > 96 free");
  CHECK(gb_link_send(l, 2, msg, 92, 0) == GB_OK, "92 + 4 fits exactly");
  CHECK(gb_link_tx_free(l) == 0 && gb_link_tx_pending(l) == 2, "queue full");
  CHECK(gb_link_send(l, 3, msg, 0, 0) == GB_ERR_QUEUE_FULL, "even an empty message needs 4 bytes");
  for (int s = GB_OK; s <= GB_ERR_INCOMPATIBLE; s++) CHECK(strlen(gb_status_str((gb_status)s)) > 1, "status %d", s);
  CHECK(gb_link_max_wire_size(&c) == GB_COBS_MAX_ENCODED(256u), "wire size");
  uint8_t small[64];
  CHECK(gb_link_poll_tx(l, small, sizeof small, 0) == 0, "poll_tx refuses a buffer below max_wire_size");

  /* After the handshake, the smaller max_message of the two applies. */
  static sim s; /* megabytes: not on the stack */
  setup(&s, GB_PROFILE_PACKET, 11, 0);
  gb_link_config b = s.side[1].cfg;
  b.max_message = 1000;
  sim_init_side(&s, 1, &b);
  for (int i = 0; i < 50; i++) sim_step(&s);
  CHECK(gb_link_max_message(s.side[0].link) == 1000, "negotiated max_message %zu", gb_link_max_message(s.side[0].link));
  CHECK(gb_link_send(s.side[0].link, 1, msg, 600, s.now) == GB_OK, "600 <= 1000");
  static uint8_t big[3000];
  CHECK(gb_link_send(s.side[0].link, 1, big, 1001, s.now) == GB_ERR_TOO_LARGE, "1001 > peer's 1000");
  sim_free(&s);

  /* A message queued before the handshake, larger than what the peer turns out to accept: the peer discards
   * it whole, counts it, and the next message still arrives. */
  setup(&s, GB_PROFILE_PACKET, 12, 0); /* b above is a packet-profile config */
  s.side[0].check_content = s.side[1].check_content = false;
  sim_init_side(&s, 1, &b);
  CHECK(gb_link_send(s.side[0].link, 2, big, sizeof big, s.now) == GB_OK, "3000 <= own 4096 before the handshake");
  CHECK(gb_link_send(s.side[0].link, 1, msg, 10, s.now) == GB_OK, "small one");
  for (int i = 0; i < 200; i++) sim_step(&s);
  gb_link_stats st_b;
  gb_link_get_stats(s.side[1].link, &st_b);
  CHECK(st_b.rx_oversize == 1 && s.side[1].received_total == 1 && gb_link_tx_pending(s.side[0].link) == 0,
        "oversize discarded: %u, delivered %u", st_b.rx_oversize, s.side[1].received_total);
  sim_free(&s);
}

/* Garbage in every state: counted, never delivered, never a crash; a working link keeps working. */
static void garbage(void) {
  static sim s; /* megabytes: not on the stack */
  setup(&s, GB_PROFILE_UART, 99, 0);
  s.side[0].to_send = 50;
  s.side[1].to_send = 50;
  static uint8_t junk[4096];
  sim_rng g = {77};
  for (int round = 0; round < 400; round++) {
    size_t n = sim_rand(&g) % sizeof junk;
    uint32_t zero_odds = 1 + sim_rand(&g) % 64;
    for (size_t i = 0; i < n; i++) junk[i] = (sim_rand(&g) % zero_odds == 0) ? 0 : (uint8_t)sim_rand(&g);
    gb_link_receive(s.side[round % 2].link, junk, n, s.now);
    sim_step(&s);
  }
  run_until_done(&s, 30000);
  CHECK(sim_done(&s) && s.errors == 0, "messages through garbage: %d errors", s.errors);
  gb_link_stats st;
  gb_link_get_stats(s.side[1].link, &st);
  CHECK(st.crc_errors + st.framing_errors > 100, "garbage counted: %u crc, %u framing", st.crc_errors,
        st.framing_errors);
  /* Packet profile: every datagram length, random contents. */
  gb_link_config p = base_config(GB_PROFILE_PACKET, 5);
  gb_link *l = gb_link_init(&p, mem, sizeof mem, 0, NULL);
  REQUIRE(l, "init");
  for (size_t n = 0; n < 400; n++) {
    for (size_t i = 0; i < n; i++) junk[i] = (uint8_t)sim_rand(&g);
    gb_link_receive(l, junk, n, (uint32_t)n);
    gb_event ev;
    while (gb_link_poll_event(l, &ev)) CHECK(ev.type != GB_EV_MESSAGE, "garbage delivered a message");
    uint8_t out[512];
    while (gb_link_poll_tx(l, out, sizeof out, (uint32_t)n) > 0) {
    }
  }
  gb_link_receive(NULL, junk, 10, 0); /* NULL engine: ignored */
  CHECK(gb_link_poll_tx(NULL, junk, sizeof junk, 0) == 0, "NULL engine");
  sim_free(&s);
}


/* ---- a line that loses most full-size frames ------------------------------------------------------------------ */

/* Scale of noisy(): bytes A sends at a byte error rate of 1e-2. */
#ifndef TEST_LINK_NOISY_BYTES
#define TEST_LINK_NOISY_BYTES 65536u
#endif

/* A byte error rate of 1e-2 (bit flips, dropped and doubled bytes): a frame of n bytes arrives intact with
 * probability 0.99^n, so a full 1 KB frame practically never (3e-5), a 256-byte one 7 % of the time, a 64-byte
 * one half of the time. The first window goes out at full size before the engine knows the line; it must notice
 * (retransmissions count towards the fragment size) and cut what it still owes into fragments that get through,
 * those already in flight included (SPEC.md 6.1, REWIND), instead of resending them for ever. Every message
 * arrives, once, in order, intact, at the speed the line allows. */
static void noisy(uint16_t max_frame, uint32_t budget_ms) {
  static sim s; /* megabytes: not on the stack */
  setup(&s, GB_PROFILE_UART, 0xE2E2u + max_frame, 5000);
  gb_link_config a = s.side[0].cfg, b = s.side[1].cfg;
  a.max_frame = b.max_frame = max_frame;
  a.window = b.window = 16;
  sim_init_side(&s, 0, &a);
  sim_init_side(&s, 1, &b);
  s.rate_bytes_per_ms = 92; /* 921600 baud, 8N1 */
  s.byte_error_rate = 1e-2;
  /* Messages of the sim's mix (most short, some up to 3 KB) until TEST_LINK_NOISY_BYTES; B answers a few. */
  static uint8_t buf[SIM_MESSAGE_MAX];
  uint32_t n = 0;
  for (size_t total = 0; total < TEST_LINK_NOISY_BYTES; n++) total += sim_message(0, 0, n, 4096, buf);
  s.side[0].to_send = n;
  s.side[1].to_send = n / 20;
  uint32_t start = s.now;
  run_until_done(&s, budget_ms);
  gb_link_stats st[2];
  gb_link_get_stats(s.side[0].link, &st[0]);
  gb_link_get_stats(s.side[1].link, &st[1]);
  CHECK(sim_done(&s), "frames of %u at 1e-2: not done after %u ms: B got %u/%u, A got %u/%u (A: %u data frames, "
        "%u retransmits, %u rewinds, fragments of %u)", max_frame, s.now - start, s.side[1].received, n,
        s.side[0].received, n / 20, st[0].data_frames_tx, st[0].retransmits, st[0].rewinds, st[0].frag_size);
  CHECK(s.errors == 0, "frames of %u at 1e-2: %d wrong deliveries or engine errors", max_frame, s.errors);
  CHECK(s.side[0].peer_resets == 0 && s.side[1].peer_resets == 0, "frames of %u at 1e-2: spurious peer reset",
        max_frame);
  CHECK(st[0].rewinds >= 1, "frames of %u at 1e-2: the full-size frames in flight were cut again (%u rewinds)",
        max_frame, st[0].rewinds);
  CHECK(st[0].frag_size < max_frame / 4u, "frames of %u at 1e-2: fragments of %u bytes", max_frame, st[0].frag_size);
  printf("noisy: %u messages (%u bytes) at a byte error rate of 1e-2, frames of %u: %u simulated ms; A: %u data "
         "frames, %u retransmits, %u rewinds, fragments of %u bytes; B: %u crc, %u framing errors\n",
         n, TEST_LINK_NOISY_BYTES, max_frame, s.now - start, st[0].data_frames_tx, st[0].retransmits, st[0].rewinds,
         st[0].frag_size, st[1].crc_errors, st[1].framing_errors);
  sim_free(&s);
}

/* REWIND is new in this engine (SPEC.md 6.5): an engine from before ignores it (its validity rules discard an
 * acknowledgement with a payload), which the wire models by losing every REWIND. After REWIND_TRIES unanswered ones
 * the sender goes back to plain retransmissions of its full-size frames, so the link still completes on a line
 * where such frames get through now and then. */
static void rewind_ignored(void) {
  static sim s; /* megabytes: not on the stack */
  setup(&s, GB_PROFILE_UART, 0x0DD, 5000);
  s.rate_bytes_per_ms = 92;
  s.byte_error_rate = 4e-3; /* a 256-byte frame arrives one time in three */
  s.pipe[0].drop_flags = GB_FLAG_REWIND;
  s.side[0].to_send = 150;
  s.side[1].to_send = 10;
  uint32_t start = s.now;
  run_until_done(&s, 120000);
  gb_link_stats st;
  gb_link_get_stats(s.side[0].link, &st);
  CHECK(sim_done(&s) && s.errors == 0, "REWIND ignored: not done after %u ms (B got %u/150, %d errors)",
        s.now - start, s.side[1].received, s.errors);
  CHECK(st.rewinds == 0 && s.pipe[0].dropped_flagged >= 12u, "REWIND ignored: %u rewinds, %u REWINDs sent",
        st.rewinds, s.pipe[0].dropped_flagged);
  printf("rewind ignored: 150 messages at 4e-3 in %u simulated ms; A: %u REWINDs unanswered, %u data frames, %u "
         "retransmits, fragments of %u\n", s.now - start, s.pipe[0].dropped_flagged, st.data_frames_tx, st.retransmits,
         st.frag_size);
  sim_free(&s);
}

/* ---- a hole lost twice while later frames are acknowledged ------------------------------------------------ */

/* Regression: the first data frame is lost, and so is its fast retransmission, while the frames after it arrive
 * and are selectively acknowledged again and again (every frame B sends carries the same SACK: B streams small
 * messages, as the MCU streams audio). Those repeated acknowledgements carry no news and must not keep pushing
 * the hole's retransmission timer away: the hole must go again within RTO and everything must be delivered.
 * (A timer restarted on every SACK stalled a transfer for good.) */
static void hole_lost_twice(void) {
  gb_link_config ca = base_config(GB_PROFILE_UART, 0xA1A1A1A1u), cb = base_config(GB_PROFILE_UART, 0xB2B2B2B2u);
  size_t size = gb_link_mem_size(&ca);
  void *ma = calloc(1, size), *mb = calloc(1, gb_link_mem_size(&cb));
  gb_status st;
  gb_link *a = gb_link_init(&ca, ma, size, 0, &st), *b = gb_link_init(&cb, mb, gb_link_mem_size(&cb), 0, &st);
  REQUIRE(a && b, "init");
  static uint8_t wire[GB_COBS_MAX_ENCODED(GB_MAX_FRAME)];
  uint8_t msg[200];
  uint32_t delivered = 0, data_frames = 0, now = 0;
  gb_event ev;
  bool queued = false;
  for (; now < 10000 && delivered < 4; now++) {
    if (!queued && gb_link_get_state(a) == GB_LINK_UP) {
      for (uint8_t i = 0; i < 4; i++) {
        memset(msg, i, sizeof msg);
        CHECK(gb_link_send(a, 1, msg, sizeof msg, now) == GB_OK, "send %u", i);
      }
      queued = true;
    }
    if (queued && now % 5 == 0) {
      uint8_t small[8] = {0};
      (void)gb_link_send(b, 2, small, sizeof small, now); /* QUEUE_FULL at times is fine: only the acks matter */
    }
    size_t n;
    while ((n = gb_link_poll_tx(a, wire, sizeof wire, now)) > 0) {
      bool data = n > 150; /* a 200-byte message frame; acknowledgements and pings are short */
      if (data) data_frames++;
      if (data && (data_frames == 1 || data_frames == 5)) continue; /* the hole, then its fast retransmission */
      gb_link_receive(b, wire, n, now);
    }
    while ((n = gb_link_poll_tx(b, wire, sizeof wire, now)) > 0) gb_link_receive(a, wire, n, now);
    while (gb_link_poll_event(b, &ev))
      if (ev.type == GB_EV_MESSAGE) {
        CHECK(ev.len == sizeof msg && ev.data[0] == delivered, "message %u in order", delivered);
        delivered++;
      }
    while (gb_link_poll_event(a, &ev)) {
    }
  }
  CHECK(delivered == 4, "all 4 messages delivered (got %u by t=%u ms)", delivered, now);
  CHECK(data_frames >= 6, "the hole was sent a third time (%u data frames)", data_frames);
  CHECK(now < 3000, "recovered within a few RTOs (took %u ms)", now);
  free(ma);
  free(mb);
}

int main(void) {
  transcript("transcript_uart.txt");
  transcript("transcript_packet.txt");
  api();
  if (TEST_LINK_MESSAGES != 10000u || TEST_LINK_TX_QUEUE != 16384u)
    printf("scaled for this board: lossy UART run of %u messages (host 10000), engine tx_queue_bytes %u (host "
           "16384)\n", TEST_LINK_MESSAGES, TEST_LINK_TX_QUEUE);
  lossy(GB_PROFILE_UART, TEST_LINK_MESSAGES, TEST_LINK_MESSAGES / 5);
  lossy(GB_PROFILE_PACKET, TEST_LINK_MESSAGES * 3 / 10, TEST_LINK_MESSAGES / 10);
  peer_reset();
  cable_pulled(GB_PROFILE_UART);
  cable_pulled(GB_PROFILE_PACKET);
  version_mismatch();
  mixed_timers();
  garbage();
  hole_lost_twice();
  noisy(256, 120000);
  rewind_ignored();
#if SIM_PKT_MAX >= GB_COBS_MAX_ENCODED(1024u) + 16u
  noisy(1024, 120000); /* the MCU link's frames (the MCU test builds' wire holds frames of 320 bytes at most) */
#endif
  return check_result("test_link");
}
