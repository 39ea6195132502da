/* libFuzzer entry for the packet profile (BLE) of the link engine, with oracles for what it delivers and sends.
 *
 * The harness plays the peer. The fuzzer picks what the peer does and when, as a sequence of operations: send
 * one of the peer's data fragments (any sequence number near the window: new, duplicate, ahead, beyond), send an
 * acknowledgement or a ping, send a datagram of fuzzer bytes, let time pass (up to link timeouts, across the
 * 32-bit clock wrap), make the engine's application send a message, lose the engine's next frames, restart the
 * peer (new session), or say Hello again (link back up after a loss).
 *
 * Oracles (SPEC.md 6, 7, 8), checked after every operation:
 *   - inbound: the content of the peer's fragment k (k = seq - ISN) is a fixed function of k (length, MORE,
 *     channel, bytes), so the messages the engine must deliver are known: each MESSAGE event must be the next
 *     of them (exactly once, in order, intact), skipping only messages longer than max_message (rx_oversize);
 *   - outbound: the harness reassembles the engine's data frames as a receiver would and checks each message
 *     against what the application sent (in order, exactly once, intact); no data frame is sent beyond the
 *     window past what the peer acknowledged; a retransmission repeats flags, channel and payload exactly;
 *   - a peer restart reports PEER_RESET with dropped = the messages that were pending, then LINK_UP;
 *   - every frame out is a valid packet-profile frame no longer than gb_link_max_wire_size; tx_free never
 *     exceeds tx_queue_bytes; events and frames run dry.
 * The peer's acknowledgements are truthful (the harness acknowledges only what it received), so the outbound
 * oracle holds; the fuzzer's raw datagrams get truthful ack/sack fields written over theirs, and their DATA and
 * HELLO flags cleared (they test header validation, not the oracles). The mode bit 0x80 of the first byte turns
 * that off: raw datagrams go in unchanged (lies included) and only the invariants that survive lies are checked.
 *
 * Uses only the public API (glassbridge/link.h, glassbridge/frame.h); the peer's Hello is encoded here from
 * glassbridge.proto's field numbers. Build and run: see protocol/c/fuzz/README.md.
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "glassbridge/frame.h"
#include "glassbridge/link.h"

#define OWN_SESSION 0x1234ABCDu
#define HDR 10u
#define F_DATA 0x01u
#define F_MORE 0x02u
#define F_HELLO 0x04u
#define F_PING 0x08u
#define MODEL_WINDOW 64u /* the harness's receive window: larger than any engine window (32) */
#define MAX_SENT 4096u   /* messages the application sends per run, at most */

#ifdef FUZZ_PACKET_STATS /* a build that counts what the oracles checked, to see that they bite */
#include <stdio.h>
static unsigned long n_in, n_out, n_restart, n_oversize, n_up;
static void report(void) {
  fprintf(stderr, "checked: %lu inbound messages, %lu outbound, %lu restarts, %lu oversize, %lu ups\n", n_in, n_out,
          n_restart, n_oversize, n_up);
}
#define COUNT(x) (x++)
#else
#define COUNT(x) ((void)0)
#endif

static void fail(const char *why) {
  (void)why;
  abort(); /* libFuzzer reports the input; the reason is in the stack trace */
}

static _Alignas(8) uint8_t mem[1 << 20];
static uint8_t out[8192];

static uint32_t mix(uint32_t x) {
  x ^= x >> 16;
  x *= 0x7feb352du;
  x ^= x >> 15;
  x *= 0x846ca68bu;
  x ^= x >> 16;
  return x;
}

/* ---- the run's state ----------------------------------------------------------------------------------- */

typedef struct {
  bool have;
  uint8_t flags, channel;
  uint16_t len;
  uint8_t payload[4096];
} model_frame;

static struct {
  gb_link *l;
  gb_link_config cfg;
  size_t max_wire;
  uint32_t now;
  bool lying; /* raw datagrams unfiltered: content oracles off */
  /* The peer. */
  uint32_t peer_session, epoch;
  uint16_t isn;
  uint32_t payload_max; /* the largest fragment payload: min(max_frames) - 10 */
  /* Inbound oracle: the next message expected starts at fragment next_k. */
  uint32_t next_k;
  uint32_t oversize_skipped;
  /* Outbound oracle: the peer's receive state for the engine's frames. */
  uint16_t m_rcv_nxt;
  model_frame m_win[MODEL_WINDOW];     /* by seq % MODEL_WINDOW, for m_rcv_nxt <= seq < m_rcv_nxt + 64 */
  uint8_t m_buf[65536 + 4096];
  size_t m_len;
  bool m_active;
  uint8_t m_channel;
  /* Retransmission check: what each recent seq carried (by seq % 64, tagged with the seq). */
  uint16_t seen_seq[64];
  bool seen_have[64];
  uint32_t seen_hash[64];
  /* What the application sent (current peer only). */
  uint32_t sent_base_id, sent_count, delivered; /* ids sent_base_id .. +sent_count; delivered of them */
  uint8_t sent_channel[MAX_SENT];
  uint16_t sent_len[MAX_SENT];
  uint32_t lose; /* the engine's next frames the wire loses */
  bool up_seen;
} S;

/* Message id's byte i (what the application sends). */
static uint8_t msg_byte(uint32_t id, size_t i) { return (uint8_t)(id * 31u + i * 7u + (i >> 8)); }

/* The peer's fragment k (relative to the ISN) in this epoch. */
static uint32_t frag_len(uint32_t k) {
  uint32_t h = mix(k * 2654435761u + S.epoch * 97u);
  if (h % 9u == 0) return 0;
  return h % (S.payload_max + 1u);
}
static bool frag_more(uint32_t k) { return mix(k ^ 0xABCDu ^ (S.epoch << 20)) % 2u != 0; }
static uint8_t frag_channel(uint32_t k) { return (uint8_t)(1u + mix(k + 0x55u + S.epoch) % 3u); }
static uint8_t frag_byte(uint32_t k, uint32_t i) { return (uint8_t)(k * 13u + i * 5u + S.epoch); }

/* ---- the peer's frames --------------------------------------------------------------------------------- */

static size_t put_varint(uint8_t *p, uint32_t v) {
  size_t n = 0;
  do {
    uint8_t b = v & 0x7Fu;
    v >>= 7;
    p[n++] = (uint8_t)(b | (v ? 0x80u : 0u));
  } while (v);
  return n;
}
static size_t put_fixed32(uint8_t *p, uint32_t v) {
  for (int i = 0; i < 4; i++) p[i] = (uint8_t)(v >> (8 * i));
  return 4;
}

static void header(uint8_t *f, uint8_t flags, uint8_t channel, uint16_t seq, uint16_t ack, uint32_t sack) {
  f[0] = flags;
  f[1] = channel;
  f[2] = (uint8_t)seq;
  f[3] = (uint8_t)(seq >> 8);
  f[4] = (uint8_t)ack;
  f[5] = (uint8_t)(ack >> 8);
  put_fixed32(f + 6, sack);
}

/* The peer's current acknowledgement of the engine's frames: what it really holds. */
static uint32_t model_sack(void) {
  uint32_t sack = 0;
  for (uint32_t i = 0; i < 32; i++) {
    uint16_t seq = (uint16_t)(S.m_rcv_nxt + 1u + i);
    model_frame *m = &S.m_win[seq % MODEL_WINDOW];
    if (m->have && i + 1u < MODEL_WINDOW) sack |= 1u << i;
  }
  return sack;
}

static void feed(const uint8_t *f, size_t n) { gb_link_receive(S.l, f, n, S.now); }

/* glassbridge.v1.Hello: 1 protocol_version, 2 min, 3 session (fixed32), 4 peer_session (fixed32),
 * 6 max_frame, 7 window, 9 role, 12 max_message. */
static void send_hello(uint32_t peer_session, bool ping) {
  uint8_t f[128];
  size_t n = HDR;
  header(f, (uint8_t)(F_HELLO | (ping ? F_PING : 0u)), 0, 0, 0, 0);
  f[n++] = 0x08;
  n += put_varint(f + n, 1);
  f[n++] = 0x10;
  n += put_varint(f + n, 1);
  f[n++] = 0x1D;
  n += put_fixed32(f + n, S.peer_session);
  if (peer_session) {
    f[n++] = 0x25;
    n += put_fixed32(f + n, peer_session);
  }
  f[n++] = 0x30;
  n += put_varint(f + n, S.cfg.max_frame);
  f[n++] = 0x38;
  n += put_varint(f + n, S.cfg.window);
  f[n++] = 0x48;
  n += put_varint(f + n, GB_ROLE_PHONE);
  f[n++] = 0x60;
  n += put_varint(f + n, 65535);
  feed(f, n);
}

static void send_fragment(uint32_t k) {
  static uint8_t f[4096 + HDR];
  uint32_t len = frag_len(k);
  header(f, (uint8_t)(F_DATA | (frag_more(k) ? F_MORE : 0u)), frag_channel(k), (uint16_t)(S.isn + k), S.m_rcv_nxt,
         model_sack());
  for (uint32_t i = 0; i < len; i++) f[HDR + i] = frag_byte(k, i);
  feed(f, HDR + len);
}

/* ---- checks on what the engine does -------------------------------------------------------------------- */

static void check_inbound(const gb_event *ev) {
  if (ev->len > S.cfg.max_message || ev->channel < 1 || ev->channel > 3) fail("message beyond the limits");
  if (S.lying) return;
  for (int guard = 0;; guard++) {
    if (guard > 70000) fail("no message boundary in the model");
    /* The expected message starting at next_k. */
    uint32_t k = S.next_k, total = 0, start = S.next_k;
    while (1) {
      total += frag_len(k);
      if (!frag_more(k)) break;
      if (++k - start > 70000u) fail("model message endless");
    }
    S.next_k = k + 1;
    if (total > S.cfg.max_message) {
      S.oversize_skipped++; /* the engine must drop it whole */
      COUNT(n_oversize);
      continue;
    }
    if (ev->len != total || ev->channel != frag_channel(start)) fail("inbound message: wrong length or channel");
    size_t at = 0;
    for (uint32_t j = start; j <= k; j++)
      for (uint32_t i = 0; i < frag_len(j); i++)
        if (ev->data[at++] != frag_byte(j, i)) fail("inbound message: wrong bytes");
    COUNT(n_in);
    return;
  }
}

static void outbound_message_done(void) {
  if (S.lying) return;
  if (S.delivered >= S.sent_count) fail("outbound: a message the application never sent (or sent twice)");
  uint32_t idx = S.delivered, id = S.sent_base_id + idx;
  if (S.m_len != S.sent_len[idx] || S.m_channel != S.sent_channel[idx]) fail("outbound: wrong length or channel");
  for (size_t i = 0; i < S.m_len; i++)
    if (S.m_buf[i] != msg_byte(id, i)) fail("outbound: wrong bytes");
  S.delivered++;
  COUNT(n_out);
}

static void check_frame_out(const uint8_t *f, size_t n) {
  if (n < HDR || n > S.max_wire) fail("frame size");
  uint8_t flags = f[0], channel = f[1];
  if (flags & 0xF0u) fail("reserved flag bits sent");
  bool data = flags & F_DATA, hello = flags & F_HELLO;
  if (hello && (data || channel != 0)) fail("invalid hello frame");
  if (data && (channel < 1 || channel > 3)) fail("data on a bad channel");
  if (!data && !hello && (channel != 0 || n != HDR)) fail("ack or ping with channel or payload");
  if (!data) return;
  if (n > S.cfg.max_frame) fail("data frame over max_frame");
  uint16_t seq = (uint16_t)(f[2] | (f[3] << 8));
  /* Retransmissions repeat flags, channel and payload exactly. */
  uint32_t h = 2166136261u;
  for (size_t i = 0; i < n; i++)
    if (i < 2 || i >= HDR) h = (h ^ f[i]) * 16777619u;
  h ^= (uint32_t)n;
  unsigned slot = seq % 64u;
  if (S.seen_have[slot] && S.seen_seq[slot] == seq && S.seen_hash[slot] != h && !S.lying)
    fail("retransmission differs from the first transmission");
  S.seen_have[slot] = true;
  S.seen_seq[slot] = seq;
  S.seen_hash[slot] = h;
  if (S.lose) {
    S.lose--;
    return;
  }
  if (S.lying) return;
  uint16_t d = (uint16_t)(seq - S.m_rcv_nxt);
  if (d >= 0x8000u) return; /* already received: a duplicate */
  if (d >= S.cfg.window) fail("data frame beyond the window of what the peer acknowledged");
  model_frame *m = &S.m_win[seq % MODEL_WINDOW];
  if (!m->have) {
    m->have = true;
    m->flags = flags;
    m->channel = channel;
    m->len = (uint16_t)(n - HDR);
    memcpy(m->payload, f + HDR, n - HDR);
  }
  /* Deliver in order, as a receiver does. */
  while (S.m_win[S.m_rcv_nxt % MODEL_WINDOW].have) {
    model_frame *c = &S.m_win[S.m_rcv_nxt % MODEL_WINDOW];
    if (!S.m_active) {
      S.m_active = true;
      S.m_channel = c->channel;
      S.m_len = 0;
    }
    if (S.m_len + c->len > sizeof S.m_buf) fail("outbound message too long");
    memcpy(S.m_buf + S.m_len, c->payload, c->len);
    S.m_len += c->len;
    if (!(c->flags & F_MORE)) {
      outbound_message_done();
      S.m_active = false;
    }
    c->have = false;
    S.m_rcv_nxt++;
  }
}

/* Drains events and frames, checking each; the peer acknowledges nothing here (that is an operation). */
static void pump(void) {
  gb_event ev;
  int guard = 0;
  while (gb_link_poll_event(S.l, &ev)) {
    if (++guard > 2000) fail("endless events");
    switch (ev.type) {
      case GB_EV_MESSAGE: check_inbound(&ev); break;
      case GB_EV_LINK_UP:
        S.up_seen = true;
        COUNT(n_up);
        break;
      case GB_EV_PEER_RESET:
      case GB_EV_VERSION_MISMATCH:
        if (!S.lying) fail("unexpected peer reset or version mismatch");
        break;
      default: break;
    }
  }
  for (guard = 0;; guard++) {
    if (guard > 2000) fail("endless frames");
    size_t n = gb_link_poll_tx(S.l, out, sizeof out, S.now);
    if (n == 0) break;
    check_frame_out(out, n);
  }
  if (gb_link_tx_free(S.l) > S.cfg.tx_queue_bytes) fail("tx_free beyond the queue");
  if (!S.lying && gb_link_tx_pending(S.l) > S.sent_count) fail("more pending than sent");
  uint32_t dl = gb_link_next_deadline(S.l, S.now);
  (void)dl;
  if (!S.lying) {
    gb_link_stats st;
    gb_link_get_stats(S.l, &st);
    if (st.rx_oversize < S.oversize_skipped) fail("an oversize message was not counted");
  }
}

/* ---- the peer's life ----------------------------------------------------------------------------------- */

static void new_peer(uint32_t session) {
  S.peer_session = session;
  S.epoch++;
  uint32_t x = OWN_SESSION ^ session;
  S.isn = (uint16_t)(x ^ (x >> 16));
  S.next_k = 0;
  S.oversize_skipped = 0;
  S.m_rcv_nxt = S.isn;
  memset(S.m_win, 0, sizeof S.m_win);
  memset(S.seen_have, 0, sizeof S.seen_have);
  S.m_active = false;
  S.m_len = 0;
}

static void restart_peer(void) {
  pump();
  size_t pending = gb_link_tx_pending(S.l);
  new_peer(mix(S.peer_session + 0x9E3779B9u) | 1u);
  send_hello(0, true); /* the restarted peer does not know us yet */
  gb_event ev;
  bool reset = false;
  while (gb_link_poll_event(S.l, &ev)) {
    if (ev.type == GB_EV_PEER_RESET) {
      if (ev.dropped != pending) fail("PEER_RESET dropped count");
      if (ev.peer.session != S.peer_session) fail("PEER_RESET peer");
      reset = true;
    } else if (ev.type == GB_EV_MESSAGE) {
      check_inbound(&ev);
    }
  }
  if (!reset && !S.lying) fail("no PEER_RESET");
  COUNT(n_restart);
  /* Everything the application sent before is gone: the new peer's stream starts here. */
  S.sent_base_id += S.sent_count;
  S.sent_count = S.delivered = 0;
  if (gb_link_tx_pending(S.l) != 0 && !S.lying) fail("queue kept after a peer restart");
  send_hello(OWN_SESSION, false);
  S.up_seen = false;
  pump();
  if (!S.lying && (gb_link_get_state(S.l) != GB_LINK_UP || !S.up_seen))
    fail("no LINK_UP after the restarted peer's hello");
}

static void app_send(uint8_t channel, size_t len) {
  static uint8_t msg[65536];
  uint32_t id = S.sent_base_id + S.sent_count;
  if (len > sizeof msg) len = sizeof msg;
  for (size_t i = 0; i < len; i++) msg[i] = msg_byte(id, i);
  gb_status st = gb_link_send(S.l, channel, msg, len, S.now);
  bool valid = channel >= 1 && channel <= 3;
  if (!S.lying && !valid && st != GB_ERR_BAD_CHANNEL) fail("bad channel accepted");
  if (!S.lying && valid && len > S.cfg.max_message && st != GB_ERR_TOO_LARGE) fail("too large accepted");
  if (st == GB_OK) {
    if (S.sent_count >= MAX_SENT) fail("harness: too many sends");
    S.sent_channel[S.sent_count] = channel;
    S.sent_len[S.sent_count] = (uint16_t)len;
    S.sent_count++;
  }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (size < 4) return 0;
#ifdef FUZZ_PACKET_STATS
  static bool registered;
  if (!registered) registered = !atexit(report);
#endif
  memset(&S, 0, sizeof S);
  S.lying = data[0] & 0x80u;
  /* Configuration from the first bytes: windows, frames and messages of every size. */
  gb_link_config *cfg = &S.cfg;
  cfg->profile = GB_PROFILE_PACKET;
  cfg->role = GB_ROLE_SOC;
  cfg->session = OWN_SESSION;
  cfg->window = (uint8_t)(1u + data[1] % 32u);
  cfg->max_frame = (uint16_t)(128u + (data[2] % 8u) * 56u);
  cfg->max_message = (uint16_t)(32u + (data[3] % 64u) * 32u);
  cfg->tx_queue_bytes = cfg->max_message + 4u + (data[0] % 16u) * 256u;
  cfg->link_timeout_ms = 1000;
  if (gb_link_config_normalize(cfg) != GB_OK) fail("config");
  if (gb_link_mem_size(cfg) > sizeof mem) fail("harness memory");
  S.max_wire = gb_link_max_wire_size(cfg);
  S.payload_max = cfg->max_frame - HDR;
  /* Half of the runs start just before the 32-bit clock wraps. */
  S.now = (data[0] & 0x40u) ? 0xFFFFF000u : 1u;
  S.l = gb_link_init(cfg, mem, sizeof mem, S.now, NULL);
  if (!S.l) fail("init");
  new_peer(0x5EED0001u);
  pump();
  send_hello(OWN_SESSION, true);
  pump();
  if (gb_link_get_state(S.l) != GB_LINK_UP) fail("handshake");

  static const uint32_t steps[8] = {0, 1, 2, 5, 20, 100, 700, 3000};
  size_t at = 4;
  while (at < size) {
    uint8_t op = data[at++];
    uint8_t arg = at < size ? data[at] : 0;
    switch (op % 9u) {
      case 0: /* one of the peer's fragments, near its next expected message */
        at++;
        send_fragment(S.next_k + (uint32_t)(arg % 48u) - 4u);
        break;
      case 1: { /* a run of the peer's fragments in order from its next expected message, one maybe missing */
        at++;
        uint32_t n = 1u + arg % 16u, hole = arg >> 4;
        for (uint32_t j = 0; j < n; j++)
          if (j != hole) send_fragment(S.next_k + j);
        break;
      }
      case 2: { /* a datagram of fuzzer bytes */
        at++;
        size_t len = arg;
        if (len > size - at) len = size - at;
        uint8_t f[300];
        memcpy(f, data + at, len);
        at += len;
        if (!S.lying && len >= HDR) {
          f[0] &= (uint8_t) ~(F_DATA | F_HELLO);
          header(f, f[0], f[1], (uint16_t)(f[2] | (f[3] << 8)), S.m_rcv_nxt, model_sack());
        }
        feed(f, len);
        break;
      }
      case 3: /* time passes */
        at++;
        S.now += steps[arg % 8u] + (arg >> 3);
        break;
      case 4: { /* the application sends */
        at++;
        uint8_t len2 = at < size ? data[at++] : 0;
        app_send((uint8_t)(arg % 5u == 4 ? 1 : arg % 5u), (size_t)len2 * (1u + arg / 40u));
        break;
      }
      case 5: { /* the peer acknowledges what it holds, or pings */
        at++;
        uint8_t f[HDR];
        header(f, (arg & 1u) ? F_PING : 0, 0, 0, S.m_rcv_nxt, model_sack());
        feed(f, sizeof f);
        break;
      }
      case 6: /* the wire loses the engine's next frames */
        at++;
        S.lose = arg % 5u;
        break;
      case 7: /* the peer restarts */
        if (arg % 4u == 0) restart_peer();
        at++;
        break;
      default: /* the same peer says Hello again (after a link loss, or asking for an answer) */
        at++;
        send_hello((arg & 1u) ? OWN_SESSION : 0u, arg & 2u);
        break;
    }
    pump();
  }
  /* Let every timer fire. */
  S.now += 5000;
  pump();
  return 0;
}
