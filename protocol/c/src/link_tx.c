/* The link engine's transmit side (link_internal.h): the queue of outgoing messages (a byte ring of records),
 * gb_link_send, the acknowledgements of our frames (cumulative and selective, fast retransmit), fragment sizing
 * (SPEC.md 6.1), frame output and the sender's side of rewind (SPEC.md 6.5). */
#include <string.h>

#include "link_internal.h"

#define ACK_AHEAD_MIN 256u /* UART: an owed acknowledgement goes ahead of data frames this long (SPEC.md 6.3) */

/* ---- transmit queue ring ------------------------------------------------------------------------------ */

uint32_t gbl_ring_adv(const gb_link *l, uint32_t pos, size_t n) {
  return (uint32_t)(((uint64_t)pos + n) % l->txq_cap);
}

void gbl_ring_write(gb_link *l, uint32_t at, const uint8_t *src, size_t n) {
  size_t first = l->txq_cap - at < n ? l->txq_cap - at : n;
  memcpy(l->txq + at, src, first);
  if (n > first) memcpy(l->txq, src + first, n - first);
}

void gbl_ring_read(const gb_link *l, uint32_t at, uint8_t *dst, size_t n) {
  size_t first = l->txq_cap - at < n ? l->txq_cap - at : n;
  memcpy(dst, l->txq + at, first);
  if (n > first) memcpy(dst + first, l->txq, n - first);
}

void gbl_record_at(const gb_link *l, uint32_t pos, uint16_t *len, uint8_t *channel) {
  uint8_t h[RECORD_HEADER];
  gbl_ring_read(l, pos, h, sizeof h);
  *len = (uint16_t)(h[0] | (h[1] << 8));
  *channel = h[2];
}

size_t gb_link_tx_free(const gb_link *link) { return link ? link->txq_cap - link->txq_used : 0; }
size_t gb_link_tx_pending(const gb_link *link) { return link ? link->txq_msgs : 0; }

gb_status gb_link_send(gb_link *link, uint8_t channel, const uint8_t *msg, size_t len, uint32_t now) {
  (void)now;
  if (!link || (!msg && len)) return GB_ERR_ARG;
  gb_link *l = link;
  gbl_release_delivered(l);
  if (channel < 1 || channel >= GB_CHANNELS) return GB_ERR_BAD_CHANNEL;
  if (l->state == GB_LINK_INCOMPATIBLE) return GB_ERR_INCOMPATIBLE;
  if (len > gb_link_max_message(l)) return GB_ERR_TOO_LARGE;
  if (len + RECORD_HEADER > l->txq_cap - l->txq_used) return GB_ERR_QUEUE_FULL;
  uint8_t h[RECORD_HEADER] = {(uint8_t)len, (uint8_t)(len >> 8), channel, 0};
  gbl_ring_write(l, l->txq_tail, h, sizeof h);
  if (len) gbl_ring_write(l, gbl_ring_adv(l, l->txq_tail, RECORD_HEADER), msg, len);
  l->txq_tail = gbl_ring_adv(l, l->txq_tail, RECORD_HEADER + len);
  l->txq_used += (uint32_t)(RECORD_HEADER + len);
  l->txq_msgs++;
  l->txq_unsent++;
  l->stats.messages_tx++;
  return GB_OK;
}

/* ---- acknowledgements of our frames --------------------------------------------------------------------- */

static void free_acked_message(gb_link *l) {
  uint16_t len;
  uint8_t ch;
  gbl_record_at(l, l->txq_head, &len, &ch);
  l->txq_head = gbl_ring_adv(l, l->txq_head, RECORD_HEADER + (size_t)len);
  l->txq_used -= RECORD_HEADER + (uint32_t)len;
  l->txq_msgs--;
}

void gbl_receive_ack(gb_link *l, const gb_frame *f, uint32_t now) {
  uint16_t in_flight = seq_dist(l->snd_nxt, l->snd_una);
  uint16_t acked = seq_dist(f->ack, l->snd_una);
  if (acked > in_flight) return; /* an acknowledgement of something never sent: stale, ignore it */
  bool sample = false;
  uint32_t rtt = 0, best_order = 0;
  for (uint16_t i = 0; i < acked; i++) {
    tx_slot *s = &l->tx[(uint16_t)(l->snd_una + i) % GB_MAX_WINDOW];
    if (s->tx_count == 1 && !s->sacked && (!sample || tdiff(s->tx_order, best_order) > 0)) {
      sample = true;
      best_order = s->tx_order;
      rtt = elapsed(now, s->sent_at);
    }
    if (!(s->flags & GB_FLAG_MORE)) free_acked_message(l);
    memset(s, 0, sizeof *s);
  }
  l->snd_una = f->ack;
  in_flight = seq_dist(l->snd_nxt, l->snd_una);
  /* UART: a receiver drops the frames it holds beyond rcv_nxt when a REWIND arrives (SPEC.md 6.5), so a frame it
   * once acknowledged selectively may be missing again. The wire is FIFO, so every acknowledgement is newer than
   * the ones before it, and its bitmap shows everything the receiver holds after `ack`: a frame marked sacked that
   * it no longer shows (the frame at `ack` included) was dropped, and goes again. Without this, a REWIND whose
   * answer never came (the request given up, the link lost) would leave those frames marked for ever while the
   * receiver waits for them. The packet profile never rewinds: its receivers drop nothing. */
  if (l->cfg.profile == GB_PROFILE_UART) {
    for (uint16_t i = 0; i < in_flight; i++) {
      tx_slot *s = &l->tx[(uint16_t)(l->snd_una + i) % GB_MAX_WINDOW];
      bool shown = i > 0u && i <= 32u && (f->sack & (1u << (i - 1u)));
      if (s->sacked && !shown) {
        s->sacked = false;
        s->resend = true;
      }
    }
  }
  /* Selective acknowledgement: bit i stands for ack + 1 + i. */
  uint32_t hi_order = 0;
  bool any_sacked = false, newly_sacked = false;
  for (uint32_t i = 0; i < 32 && i + 1u < in_flight; i++) {
    if (!(f->sack & (1u << i))) continue;
    tx_slot *s = &l->tx[(uint16_t)(l->snd_una + 1u + i) % GB_MAX_WINDOW];
    if (!s->sacked && s->tx_count == 1 && (!sample || tdiff(s->tx_order, best_order) > 0)) {
      sample = true;
      best_order = s->tx_order;
      rtt = elapsed(now, s->sent_at);
    }
    if (!s->sacked) newly_sacked = true;
    s->sacked = true;
    s->resend = false;
    if (!any_sacked || tdiff(s->tx_order, hi_order) > 0) hi_order = s->tx_order;
    any_sacked = true;
  }
  /* Fast retransmit: on a FIFO link a frame sent after a hole's last transmission has arrived, so the hole
   * was lost. Each transmission of a hole is retried this way at most once (its tx_order moves on). */
  if (any_sacked) {
    for (uint16_t i = 0; i < in_flight; i++) {
      tx_slot *s = &l->tx[(uint16_t)(l->snd_una + i) % GB_MAX_WINDOW];
      if (!s->sacked && !s->resend && tdiff(s->tx_order, hi_order) < 0) s->resend = true;
    }
  }
  if (sample) gbl_rtt_sample(l, rtt);
  /* Only news counts: a repeated SACK of the same frames (answers to pings) must not hold the timer off. */
  if (acked || newly_sacked) l->progress_at = now;
}

/* ---- fragment sizing (SPEC.md 6.1) ------------------------------------------------------------------------ */

uint8_t gbl_max_frag_level(const gb_link *l) {
  uint8_t level = 0;
  while (level < 8u && (l->payload_tx >> (level + 1u)) >= MIN_FRAGMENT) level++;
  return level;
}

/* Counts one data frame transmission (a retransmission or not) and, every ADAPT_PERIOD of them, picks the
 * fragment size. A frame of n bytes on the wire is lost with probability ~ n x the byte error rate b, and the
 * goodput of fragments of S bytes with h bytes of framing, S / (S + h) x (1 - b)^(S + h), is highest where the
 * fraction of frames lost is about h / S; halving pays once more than ~2h / S are lost. So: halve when the
 * retransmissions exceed 2h / S of the transmissions (twice when more than half went again: the line is far
 * worse than this size), double again after two periods below h / 4S. With 1 KB frames this is the old rule
 * (halve at 2 in 32, restore after two clean periods); at a byte error rate of 1e-3 it settles near 128 bytes,
 * at 1e-2 near 32. Retransmissions count as much as first transmissions: on a line that loses every full-size
 * frame, only retransmissions go out (the window is full of them), and they are what tells. UART only: a
 * datagram (BLE) is lost whole, with its connection event or the link, and smaller ones would only add headers. */
void gbl_adapt_fragments(gb_link *l, bool retransmission) {
  l->period_frames++;
  if (retransmission) l->period_retx++;
  if (l->period_frames < ADAPT_PERIOD) return;
  uint32_t r = l->period_retx, n = l->period_frames, size = (uint32_t)frag_size(l);
  uint32_t h = (uint32_t)l->overhead + 3u; /* header and CRC, COBS code byte(s), delimiter */
  uint8_t top = gbl_max_frag_level(l);
  if (r * size > 2u * h * n && l->frag_level < top) {
    l->frag_level++;
    if (2u * r >= n && l->frag_level < top) l->frag_level++;
    l->clean_periods = 0;
  } else if (l->frag_level > 0 && 4u * r * size < h * n) {
    if (++l->clean_periods >= 2u) {
      l->frag_level--;
      l->clean_periods = 0;
    }
  } else {
    l->clean_periods = 0;
  }
  l->period_frames = l->period_retx = 0;
}

/* ---- frame output ---------------------------------------------------------------------------------------- */

size_t gbl_emit(gb_link *l, gb_frame *f, uint8_t *out, size_t cap, uint32_t now) {
  size_t n;
  if (l->cfg.profile == GB_PROFILE_UART) {
    n = gb_frame_encode_uart_wire(f, l->scratch, l->cfg.max_frame, out, cap);
  } else {
    n = gb_frame_encode(GB_PROFILE_PACKET, f, out, cap);
  }
  if (n == 0) return 0;
  l->stats.frames_tx++;
  l->stats.bytes_tx += n;
  l->last_tx = now;
  return n;
}

/* Payload pointer for a frame built from the ring: copied into the scratch tail so that a fragment that wraps
 * around the end of the ring is contiguous. */
static size_t emit_data(gb_link *l, uint16_t seq, uint8_t *out, size_t cap, uint32_t now) {
  tx_slot *s = &l->tx[seq % GB_MAX_WINDOW];
  if (seq == l->snd_una) l->progress_at = now; /* the oldest frame in flight: its timer starts now at the latest */
  /* The fragment is staged at the end of `out` (it is at most max_frame - overhead bytes and `out` holds the
   * COBS-encoded frame, which is longer), then framed into scratch and encoded into `out`. */
  uint8_t *stage = out + cap - s->len;
  gbl_ring_read(l, gbl_ring_adv(l, s->msg_at, RECORD_HEADER + (size_t)s->off), stage, s->len);
  gb_frame f = {s->flags, s->channel, seq, l->rcv_nxt, gbl_sack_bits(l), stage, s->len};
  size_t n = gbl_emit(l, &f, out, cap, now);
  if (n == 0) return 0;
  l->ack_now = l->ack_pending = false;
  l->unacked = 0;
  l->stats.data_frames_tx++;
  if (s->tx_count) l->stats.retransmits++;
  if (l->cfg.profile == GB_PROFILE_UART) gbl_adapt_fragments(l, s->tx_count > 0);
  if (s->tx_count < 255) s->tx_count++;
  s->resend = false;
  s->sent_at = now;
  s->tx_order = ++l->tx_order;
  return n;
}

/* An acknowledgement (flags 0) or a ping: `seq` is our next sequence number (informational). A REWIND (seq = the
 * first frame to cut again) or a REWOUND (seq and number echoed) carries its 2-byte number as payload. */
static size_t emit_control_payload(gb_link *l, uint8_t flags, uint16_t seq, const uint8_t *payload, size_t len,
                                   uint8_t *out, size_t cap, uint32_t now) {
  gb_frame f = {flags, 0, seq, l->rcv_nxt, gbl_sack_bits(l), payload, len};
  size_t n = gbl_emit(l, &f, out, cap, now);
  if (n) {
    l->ack_now = l->ack_pending = false;
    l->unacked = 0;
    l->stats.acks_tx++;
  }
  return n;
}

size_t gbl_emit_control(gb_link *l, uint8_t flags, uint16_t seq, uint8_t *out, size_t cap, uint32_t now) {
  return emit_control_payload(l, flags, seq, NULL, 0, out, cap, now);
}

size_t gbl_emit_rewind(gb_link *l, uint8_t flag, uint16_t seq, uint16_t nonce, uint8_t *out, size_t cap,
                       uint32_t now) {
  uint8_t payload[2] = {(uint8_t)nonce, (uint8_t)(nonce >> 8)};
  return emit_control_payload(l, flag, seq, payload, sizeof payload, out, cap, now);
}

/* ---- what goes next ---------------------------------------------------------------------------------------- */

/* Rewind (SPEC.md 6.5): the oldest frame in flight must go again, it has already been sent at least twice, and
 * it is larger than the fragments the line now gets: resending it as it is would most likely fail again (on a
 * line at a byte error rate of 1e-2 a 1 KB frame never arrives), so ask the peer whether everything from it on
 * may be cut again. */
static bool rewind_wanted(const gb_link *l, uint16_t seq) {
  const tx_slot *s = &l->tx[seq % GB_MAX_WINDOW];
  return l->cfg.profile == GB_PROFILE_UART && !l->rewind_off && seq == l->snd_una && s->tx_count >= 2u &&
         s->len > frag_size(l);
}

/* When the REWIND just sent goes again if still unanswered (SPEC.md 6.5). The receiver answers a REWIND at once,
 * and only the k frames in flight, all sent before it, can be ahead of it on the line; so, as for a lost
 * retransmission (7.2), the answer is due within about (k + 1) unloaded round trips: max(rto_min, (k + 1) x the
 * minimum RTT), doubling with each REWIND of the request (up to 16 times), never later than RTO. Waiting a whole
 * RTO each time (backed off to rto_max by the losses that called for the rewind) stalled the sender for seconds
 * on a line that loses one frame in two: no data goes while a REWIND waits, and a REWIND and its answer both
 * arrive only one time in four. Before any RTT sample the start is rto_initial_ms, RTO without its backoff. */
static uint32_t rewind_interval(const gb_link *l) {
  uint32_t repeats = seq_dist(l->rewind_nonce, l->rewind_first); /* REWINDs of this request before this one */
  uint32_t t = l->min_rtt ? ((uint32_t)inflight(l) + 1u) * l->min_rtt : l->cfg.rto_initial_ms;
  if (t < l->cfg.rto_min_ms) t = l->cfg.rto_min_ms;
  t <<= repeats > 4u ? 4u : repeats;
  return t < l->rto ? t : l->rto;
}

/* The next fragment of the message at txq_next gets the next sequence number. */
static size_t send_new_fragment(gb_link *l, uint8_t *out, size_t cap, uint32_t now) {
  uint16_t len;
  uint8_t ch;
  gbl_record_at(l, l->txq_next, &len, &ch);
  uint32_t left = len - l->txq_next_off;
  size_t most = frag_size(l);
  uint16_t frag = (uint16_t)(left < most ? left : most);
  bool last = frag == left;
  uint16_t seq = l->snd_nxt++;
  tx_slot *s = &l->tx[seq % GB_MAX_WINDOW];
  memset(s, 0, sizeof *s);
  s->msg_at = l->txq_next;
  s->off = (uint16_t)l->txq_next_off;
  s->len = frag;
  s->channel = ch;
  s->flags = (uint8_t)(GB_FLAG_DATA | (last ? 0u : GB_FLAG_MORE));
  if (last) {
    l->txq_next = gbl_ring_adv(l, l->txq_next, RECORD_HEADER + (size_t)len);
    l->txq_next_off = 0;
    l->txq_unsent--;
  } else {
    l->txq_next_off += frag;
  }
  return emit_data(l, seq, out, cap, now);
}

/* UART (SPEC.md 6.3): an acknowledgement we owe goes on its own, ahead of a data frame of ACK_AHEAD_MIN payload
 * bytes or more. Riding on the data frame it would reach the peer only with the frame's last byte (a 1 KB frame
 * is 11 ms at 921600 baud, half of rto_min_ms) and the peer, waiting for it, might send its frame again; alone it
 * costs about 17 bytes. Below ACK_AHEAD_MIN the data frame delays it by little (under 2.8 ms at 921600 baud), and
 * a short reply keeps carrying the acknowledgement of its request in one frame. A datagram (BLE) arrives whole:
 * nothing to gain there. */
static bool ack_goes_ahead(const gb_link *l, size_t payload) {
  return l->cfg.profile == GB_PROFILE_UART && (l->ack_now || l->ack_pending) && payload >= ACK_AHEAD_MIN;
}

/* The payload length of the next new fragment (send_new_fragment). */
static size_t next_fragment_len(const gb_link *l) {
  uint16_t len;
  uint8_t ch;
  gbl_record_at(l, l->txq_next, &len, &ch);
  size_t left = len - l->txq_next_off, most = frag_size(l);
  return left < most ? left : most;
}

bool gbl_poll_data(gb_link *l, uint8_t *out, size_t cap, uint32_t now, size_t *n) {
  if (l->rewind_pending && due(now, l->rewind_at)) {
    /* Unanswered counts only when the peer was talking meanwhile (not a Hello: a peer that is not up ignores
     * everything else, and the handshake on a bad line can take seconds). */
    if (!l->rewind_seen && tdiff(l->peer_ack_at, l->rewind_sent_at) > 0) l->rewind_unanswered++;
    if (!l->rewind_seen && l->rewind_unanswered >= REWIND_TRIES) {
      /* Never answered: an engine from before REWIND, which ignores it. Plain retransmissions from now on (an
       * answer to the requests sent so far is ignored: their numbers belong to no request any more). */
      l->rewind_pending = false;
      l->rewind_off = true;
    } else {
      l->rewind_sent_at = now;
      *n = gbl_emit_rewind(l, GB_FLAG_REWIND, l->rewind_seq, ++l->rewind_nonce, out, cap, now);
      l->rewind_at = now + rewind_interval(l);
      return true;
    }
  }
  uint16_t seq;
  if (!l->rewind_pending && gbl_resend_pending(l, &seq)) {
    if (!rewind_wanted(l, seq)) {
      *n = ack_goes_ahead(l, l->tx[seq % GB_MAX_WINDOW].len) ? gbl_emit_control(l, 0, l->snd_nxt, out, cap, now)
                                                             : emit_data(l, seq, out, cap, now);
      return true;
    }
    l->rewind_pending = true;
    l->rewind_seq = seq;
    l->rewind_first = (uint16_t)(l->rewind_nonce + 1u);
    l->rewind_sent_at = now;
    *n = gbl_emit_rewind(l, GB_FLAG_REWIND, seq, ++l->rewind_nonce, out, cap, now);
    l->rewind_at = now + rewind_interval(l);
    return true;
  }
  if (!l->rewind_pending && gbl_can_send_new(l)) {
    *n = ack_goes_ahead(l, next_fragment_len(l)) ? gbl_emit_control(l, 0, l->snd_nxt, out, cap, now)
                                                 : send_new_fragment(l, out, cap, now);
    return true;
  }
  return false;
}

/* ---- rewind, the sender's side (SPEC.md 6.5) ---------------------------------------------------------------- */

/* Everything in flight, from snd_una on, goes back to the queue to be cut into fragments of the current size
 * under the same sequence numbers. The frame at snd_una belongs to the oldest message held (txq_head): frames
 * before it are acknowledged, and a message leaves the queue when its last fragment is. So every message held
 * still has its last fragment to send. */
static void rewind_to(gb_link *l, uint32_t now) {
  const tx_slot *first = &l->tx[l->snd_una % GB_MAX_WINDOW];
  uint32_t msg_at = first->msg_at;
  uint16_t off = first->off;
  for (uint16_t i = 0; i < inflight(l); i++) memset(&l->tx[(uint16_t)(l->snd_una + i) % GB_MAX_WINDOW], 0, sizeof(tx_slot));
  l->snd_nxt = l->snd_una;
  l->txq_next = msg_at;
  l->txq_next_off = off;
  l->txq_unsent = l->txq_msgs;
  l->progress_at = now;
  if (l->have_rtt) gbl_compute_rto(l); /* drops the backoff the lost frames caused */
  else l->rto = l->cfg.rto_initial_ms;
  l->stats.rewinds++;
}

void gbl_receive_rewound(gb_link *l, uint16_t seq, uint16_t nonce, uint32_t now) {
  l->rewind_seen = true;
  /* Only an answer to a REWIND sent since data last went out describes what the peer holds now: an earlier one
   * may predate frames that were still on their way. */
  bool current = seq_dist(nonce, l->rewind_first) <= seq_dist(l->rewind_nonce, l->rewind_first);
  if (!l->rewind_pending || seq != l->rewind_seq || !current) return;
  l->rewind_pending = false;
  /* gbl_receive_ack has taken its ack: beyond seq, the peer had the frame after all (our acknowledgement of it
   * was lost) and nothing is cut; at seq, it holds nothing from there on. */
  if (l->snd_una == seq && inflight(l) > 0) rewind_to(l, now);
}
