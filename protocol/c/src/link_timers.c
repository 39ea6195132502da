/* The link engine's timers (link_internal.h): the RTT estimator (RFC 6298 in scaled integers), the
 * retransmission deadlines of frames in flight (with the lost-retransmission probe, SPEC.md 7.2), the link
 * timeout, and gb_link_next_deadline (also the hello, delayed-acknowledgement, rewind and heartbeat timers). */
#include "link_internal.h"

/* ---- RTT estimator --------------------------------------------------------------------------------------- */

void gbl_reset_rtt(gb_link *l) {
  l->have_rtt = false;
  l->srtt8 = l->rttvar4 = 0;
  l->min_rtt = 0;
  l->rto = l->cfg.rto_initial_ms;
}

void gbl_compute_rto(gb_link *l) {
  uint32_t rto = (l->srtt8 >> 3) + (l->rttvar4 > 1u ? l->rttvar4 : 1u);
  if (rto < l->cfg.rto_min_ms) rto = l->cfg.rto_min_ms;
  if (rto > l->cfg.rto_max_ms) rto = l->cfg.rto_max_ms;
  l->rto = rto;
  l->stats.rto_ms = rto;
}

void gbl_rtt_sample(gb_link *l, uint32_t r) {
  /* Jacobson/Karels in scaled integers (RFC 6298 with alpha 1/8, beta 1/4, clock granularity 1 ms). A sample
   * beyond a minute (a clock that jumped) is clamped so the scaled state cannot overflow. */
  if (r > 60000u) r = 60000u;
  if (!l->min_rtt || r < l->min_rtt) l->min_rtt = r ? r : 1u;
  if (!l->have_rtt) {
    l->have_rtt = true;
    l->srtt8 = r * 8u;
    l->rttvar4 = r * 2u;
  } else {
    int32_t err = (int32_t)r - (int32_t)(l->srtt8 >> 3);
    uint32_t aerr = (uint32_t)(err < 0 ? -err : err);
    l->srtt8 = (uint32_t)((int32_t)l->srtt8 + err);
    l->rttvar4 = l->rttvar4 + aerr - (l->rttvar4 >> 2);
  }
  l->stats.srtt_ms = l->srtt8 >> 3;
  gbl_compute_rto(l);
}

/* ---- retransmission deadlines ------------------------------------------------------------------------------ */

/* Frames in flight still waiting for an acknowledgement (neither acknowledged selectively nor marked to go
 * again), and whether every one of them has already been retransmitted. */
static uint16_t unacked_in_flight(const gb_link *l, bool *all_retransmitted) {
  uint16_t n = 0;
  *all_retransmitted = true;
  for (uint16_t i = 0; i < inflight(l); i++) {
    const tx_slot *s = &l->tx[(uint16_t)(l->snd_una + i) % GB_MAX_WINDOW];
    if (s->sacked || s->resend) continue;
    n++;
    if (s->tx_count < 2) *all_retransmitted = false;
  }
  return n;
}

/* A frame's retransmission deadline: RTO after the later of its last transmission and the last progress.
 * Lost retransmission probe (SPEC.md 7.2): when the only frames awaiting acknowledgement are retransmitted
 * holes, everything sent after them has been acknowledged and the line carries nothing else, so their answer is
 * due within about one unloaded round trip each; RTO, inflated by the queueing of the full window, would leave
 * the window stalled for hundreds of milliseconds. Such a frame goes again after (k + 1) x the minimum RTT
 * (k = frames awaiting acknowledgement), doubling with each further transmission, never later than RTO. */
static uint32_t slot_deadline(const gb_link *l, const tx_slot *s, uint16_t k, bool all_retransmitted) {
  uint32_t start = tdiff(s->sent_at, l->progress_at) > 0 ? s->sent_at : l->progress_at;
  uint32_t timeout = l->rto;
  if (l->min_rtt && all_retransmitted && s->tx_count >= 2) {
    uint32_t shift = s->tx_count - 2u > 4u ? 4u : s->tx_count - 2u;
    uint32_t probe = ((uint32_t)k + 1u) * l->min_rtt << shift;
    if (probe < l->cfg.rto_min_ms) probe = l->cfg.rto_min_ms;
    if (probe < timeout) timeout = probe;
  }
  return start + timeout;
}

bool gbl_rto_deadline(const gb_link *l, uint32_t *at) {
  bool any = false, all_retransmitted;
  uint16_t k = unacked_in_flight(l, &all_retransmitted);
  for (uint16_t i = 0; i < inflight(l); i++) {
    const tx_slot *s = &l->tx[(uint16_t)(l->snd_una + i) % GB_MAX_WINDOW];
    if (s->sacked || s->resend) continue;
    uint32_t t = slot_deadline(l, s, k, all_retransmitted);
    if (!any || tdiff(t, *at) < 0) *at = t;
    any = true;
  }
  return any;
}

/* ---- running the timers ------------------------------------------------------------------------------------ */

void gbl_run_timers(gb_link *l, uint32_t now) {
  if (l->state != GB_LINK_UP) return;
  if (tdiff(now, l->last_rx) >= (int32_t)l->cfg.link_timeout_ms) {
    l->state = GB_LINK_DOWN;
    l->stats.link_downs++;
    l->hello_interval = l->cfg.hello_interval_ms;
    l->hello_at = now;
    l->ack_now = l->ack_pending = false;
    l->rewind_pending = l->rewind_reply = false; /* asked again, if still wanted, once the link is back */
    gbl_push_event(l, GB_EV_LINK_DOWN, 0);
    return;
  }
  uint32_t at = 0;
  if (gbl_rto_deadline(l, &at) && due(now, at)) {
    bool all_retransmitted;
    uint16_t k = unacked_in_flight(l, &all_retransmitted);
    for (uint16_t i = 0; i < inflight(l); i++) {
      tx_slot *s = &l->tx[(uint16_t)(l->snd_una + i) % GB_MAX_WINDOW];
      if (!s->sacked && !s->resend && due(now, slot_deadline(l, s, k, all_retransmitted))) s->resend = true;
    }
    /* Exponential backoff, once per expiry; the next valid RTT sample recomputes the timeout. */
    l->rto = l->rto * 2u > l->cfg.rto_max_ms ? l->cfg.rto_max_ms : l->rto * 2u;
    l->stats.rto_ms = l->rto;
  }
}

static void earliest(uint32_t now, uint32_t *best, uint32_t t) {
  if (tdiff(t, now) < 0) t = now;
  if (tdiff(t, *best) < 0) *best = t;
}

uint32_t gb_link_next_deadline(const gb_link *link, uint32_t now) {
  if (!link) return now + IDLE_DEADLINE_MS;
  const gb_link *l = link;
  uint32_t best = now + IDLE_DEADLINE_MS;
  if (l->hello_reply) return now;
  if (l->state == GB_LINK_INCOMPATIBLE) return best;
  if (l->state != GB_LINK_UP) {
    earliest(now, &best, l->hello_at);
    return best;
  }
  uint16_t seq;
  if (l->ack_now || l->rewind_reply) return now;
  if (!l->rewind_pending && (gbl_resend_pending(l, &seq) || gbl_can_send_new(l))) return now;
  if (l->rewind_pending) earliest(now, &best, l->rewind_at);
  if (l->ack_pending) earliest(now, &best, l->ack_due);
  uint32_t at = 0;
  if (gbl_rto_deadline(l, &at)) earliest(now, &best, at);
  earliest(now, &best, l->last_tx + gbl_heartbeat(l));
  earliest(now, &best, l->last_rx + l->cfg.link_timeout_ms);
  return best;
}
