/* The link engine's handshake (link_internal.h, SPEC.md section 4.4, "Handshake rules"): Hello frames on channel 0, protocol
 * versions, the negotiated frame size and window, peer sessions (a restarted peer resets the sequences) and the
 * hello timer. The Hello message itself is encoded and decoded by hello.c. */
#include <string.h>

#include "hello.h"
#include "link_internal.h"

/* Initial sequence number of both directions (SPEC.md "Sequence numbers"): derived from both sessions, so
 * that frames of an earlier session pair are unlikely to fall into the new window. */
static uint16_t isn(uint32_t a, uint32_t b) {
  uint32_t x = a ^ b;
  return (uint16_t)(x ^ (x >> 16));
}

/* A new peer. The first one: messages queued before the handshake wait for it (nothing was sent yet). A
 * restarted one: every message of the previous peer is forgotten. Returns the number of messages dropped. */
uint32_t gbl_reset_sequences(gb_link *l, bool drop_queue) {
  uint32_t dropped = 0;
  if (drop_queue) {
    dropped = l->txq_msgs;
    l->txq_head = l->txq_tail = l->txq_next = 0;
    l->txq_used = l->txq_next_off = 0;
    l->txq_msgs = l->txq_unsent = 0;
  }
  memset(l->tx, 0, sizeof l->tx);
  memset(l->rx, 0, sizeof l->rx);
  uint16_t s = isn(l->cfg.session, l->peer.session);
  l->snd_una = l->snd_nxt = s;
  l->rx_base = l->rcv_nxt = s;
  l->rx_base_idx = 0;
  /* A complete message still waiting for the application was received before the reset: keep it. */
  if (!l->reasm_complete) {
    l->reasm_len = 0;
    l->reasm_started = false;
  }
  l->reasm_discard = false;
  l->ack_now = l->ack_pending = false;
  l->unacked = 0;
  l->period_frames = l->period_retx = 0;
  l->clean_periods = 0;
  l->frag_level = 0;
  l->rewind_pending = l->rewind_seen = l->rewind_off = l->rewind_reply = false;
  l->rewind_unanswered = 0;
  gbl_reset_rtt(l);
  return dropped;
}

static bool versions_compatible(const gb_link *l, const gb_peer_info *p) {
  return p->min_protocol_version <= l->cfg.protocol_version && p->protocol_version >= l->cfg.min_protocol_version &&
         p->max_frame >= GB_MIN_FRAME && p->window >= 1 && p->max_message >= 1;
}

static void negotiate(gb_link *l) {
  size_t mf = l->peer.max_frame < l->cfg.max_frame ? l->peer.max_frame : l->cfg.max_frame;
  if (mf < GB_MIN_FRAME) mf = GB_MIN_FRAME; /* such a peer is incompatible; never underflow meanwhile */
  l->payload_tx = mf - l->overhead;
  uint32_t w = l->peer.window < l->cfg.window ? l->peer.window : l->cfg.window;
  l->window_tx = (uint8_t)(w > GB_MAX_WINDOW ? GB_MAX_WINDOW : w);
}

static void link_up(gb_link *l, uint32_t now) {
  bool again = l->stats.link_downs > 0 && l->state == GB_LINK_DOWN;
  l->state = GB_LINK_UP;
  l->last_rx = l->peer_ack_at = now;
  l->progress_at = now;
  l->hello_interval = l->cfg.hello_interval_ms;
  if (again) {
    /* The same peer after a link loss: everything unacknowledged goes again, and our acknowledgement tells
     * the peer at once what we hold. */
    for (uint16_t i = 0; i < seq_dist(l->snd_nxt, l->snd_una); i++) {
      tx_slot *s = &l->tx[(uint16_t)(l->snd_una + i) % GB_MAX_WINDOW];
      if (!s->sacked) s->resend = true;
    }
    l->ack_now = true;
    if (l->have_rtt) gbl_compute_rto(l); /* drops the backoff accumulated while down */
    else l->rto = l->cfg.rto_initial_ms;
  }
  gbl_push_event(l, GB_EV_LINK_UP, 0);
}

void gbl_receive_hello(gb_link *l, const gb_frame *f, uint32_t now) {
  gb_hello_fields h;
  if (!gb_link_hello_decode(f->payload, f->payload_len, &h, NULL) || h.info.session == 0) {
    l->stats.framing_errors++;
    return;
  }
  if (h.info.session == l->cfg.session) return; /* our own Hello echoed back (a loopback wire) */
  if (h.reject && h.peer_session != l->cfg.session) return; /* a rejection meant for an earlier us */
  if (!l->peer_known || h.info.session != l->peer.session) {
    if (l->peer_known) {
      /* The peer restarted: its new engine knows nothing of our messages in flight. */
      l->peer = h.info;
      uint32_t dropped = gbl_reset_sequences(l, true);
      l->stats.peer_resets++;
      gbl_push_event(l, GB_EV_PEER_RESET, dropped);
    } else {
      l->peer = h.info;
      gbl_reset_sequences(l, false);
    }
    l->peer_known = true;
    l->peer_link_timeout = h.link_timeout_ms ? h.link_timeout_ms : PEER_LINK_TIMEOUT_DEFAULT;
    l->state = GB_LINK_HANDSHAKE;
    /* As on entering DOWN: the interval starts again and a Hello is due at once (it is also rule 5's answer, which
     * a new peer's Hello always asks for: one Hello, not two). */
    l->hello_interval = l->cfg.hello_interval_ms;
    l->hello_at = now;
    negotiate(l);
  }
  l->stats.frames_rx++;
  if (h.reject || !versions_compatible(l, &h.info)) {
    if (l->state != GB_LINK_INCOMPATIBLE) {
      l->state = GB_LINK_INCOMPATIBLE;
      gbl_push_event(l, GB_EV_VERSION_MISMATCH, 0);
    }
    if (!h.reject) l->hello_reply = true; /* tell the peer, so that it reports the mismatch too */
    return;
  }
  if (l->state == GB_LINK_INCOMPATIBLE) return; /* same session, same versions: still incompatible */
  if (h.peer_session == l->cfg.session) {
    if (l->state != GB_LINK_UP) link_up(l, now);
    l->last_rx = now;
  }
  if ((f->flags & GB_FLAG_PING) || h.peer_session != l->cfg.session) l->hello_reply = true;
}

size_t gbl_emit_hello(gb_link *l, bool ping, uint8_t *out, size_t cap, uint32_t now) {
  gb_hello_fields h;
  memset(&h, 0, sizeof h);
  h.info.protocol_version = l->cfg.protocol_version;
  h.info.min_protocol_version = l->cfg.min_protocol_version;
  h.info.session = l->cfg.session;
  h.info.boot_counter = l->cfg.boot_counter;
  h.info.max_frame = l->cfg.max_frame;
  h.info.window = l->cfg.window;
  h.info.max_message = l->cfg.max_message;
  h.link_timeout_ms = l->cfg.link_timeout_ms;
  h.info.capabilities = l->cfg.capabilities;
  h.info.role = l->cfg.role;
  memcpy(h.info.firmware_version, l->fw, sizeof l->fw);
  h.peer_session = l->peer_known ? l->peer.session : 0;
  h.reject = l->state == GB_LINK_INCOMPATIBLE;
  uint8_t payload[GB_HELLO_MAX_SIZE];
  size_t plen = 0;
  if (!gb_link_hello_encode(&h, payload, sizeof payload, &plen)) return 0;
  gb_frame f = {(uint8_t)(GB_FLAG_HELLO | (ping ? GB_FLAG_PING : 0u)), 0, 0, 0, 0, payload, plen};
  return gbl_emit(l, &f, out, cap, now);
}

size_t gbl_poll_handshake(gb_link *l, uint8_t *out, size_t cap, uint32_t now) {
  /* Not up: Hellos with PING (answer me), the next one hello_interval after the last, the interval doubling
   * while unanswered. Incompatible: only answers, with reject set. */
  bool asking = l->state != GB_LINK_INCOMPATIBLE;
  if (l->hello_reply || (asking && due(now, l->hello_at))) {
    l->hello_reply = false;
    if (asking) {
      l->hello_at = now + l->hello_interval;
      uint32_t max = (uint32_t)l->cfg.hello_interval_ms * HELLO_INTERVAL_MAX_FACTOR;
      l->hello_interval = l->hello_interval * 2u > max ? max : l->hello_interval * 2u;
    }
    return gbl_emit_hello(l, asking, out, cap, now);
  }
  return 0;
}
