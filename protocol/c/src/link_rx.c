/* The link engine's receive side (link_internal.h): the receive window of data frames, reassembly and delivery
 * of messages, the acknowledgements we send (delayed or immediate, with the SACK bitmap) and the receiver's side
 * of rewind (SPEC.md 6.5). */
#include <string.h>

#include "link_internal.h"

static uint8_t slot_of(const gb_link *l, uint16_t seq) {
  return (uint8_t)((l->rx_base_idx + seq_dist(seq, l->rx_base)) % l->cfg.window);
}

/* Moves in-order fragments into the reassembly buffer until a message is complete (it then waits for the
 * application) or the next fragment has not arrived. */
static void drain(gb_link *l) {
  while (!l->reasm_complete && l->rx_base != l->rcv_nxt) {
    uint8_t idx = l->rx_base_idx;
    rx_slot *s = &l->rx[idx];
    if (!l->reasm_started) {
      l->reasm_started = true;
      l->reasm_channel = s->channel;
      l->reasm_len = 0;
      l->reasm_discard = false;
    }
    if (!l->reasm_discard) {
      if (s->len > l->cfg.max_message - l->reasm_len) {
        l->reasm_discard = true; /* the peer ignored our max_message: drop the whole message */
        l->stats.rx_oversize++;
      } else {
        memcpy(l->reasm + l->reasm_len, l->rx_data + (size_t)idx * l->payload_own, s->len);
        l->reasm_len += s->len;
      }
    }
    bool last = !(s->flags & GB_FLAG_MORE);
    s->present = false;
    l->rx_base++;
    l->rx_base_idx = (uint8_t)((idx + 1u) % l->cfg.window);
    if (last) {
      l->reasm_started = false;
      if (l->reasm_discard) {
        l->reasm_discard = false;
        l->reasm_len = 0;
      } else {
        l->reasm_complete = true;
        l->stats.messages_rx++;
        gbl_push_event(l, GB_EV_MESSAGE, 0);
      }
    }
  }
}

void gbl_release_delivered(gb_link *l) {
  if (!l->reasm_delivered) return;
  l->reasm_delivered = false;
  l->reasm_complete = false;
  l->reasm_len = 0;
  drain(l);
}

void gbl_schedule_ack(gb_link *l, uint32_t now, bool immediate) {
  if (immediate) {
    l->ack_now = true;
    return;
  }
  /* Delayed acknowledgement: every second in-order frame at once, else within ack_delay_ms. With a negotiated
   * window of 1 every frame at once (SPEC.md 6.3): the peer cannot send anything else until this one is
   * acknowledged, so a delay would only stall it, ack_delay_ms per frame. */
  if (++l->unacked >= 2 || l->window_tx == 1u) {
    l->ack_now = true;
  } else if (!l->ack_pending) {
    l->ack_pending = true;
    l->ack_due = now + l->cfg.ack_delay_ms;
  }
}

void gbl_receive_data(gb_link *l, const gb_frame *f, uint32_t now) {
  uint16_t d = seq_dist(f->seq, l->rx_base);
  if ((int16_t)d < 0) { /* already delivered: our acknowledgement was lost, repeat it */
    l->stats.duplicates++;
    gbl_schedule_ack(l, now, true);
    return;
  }
  if (d >= l->cfg.window) { /* no room (the application has not taken its messages, or a stale frame) */
    l->stats.out_of_window++;
    gbl_schedule_ack(l, now, true);
    return;
  }
  uint8_t idx = slot_of(l, f->seq);
  rx_slot *s = &l->rx[idx];
  if (s->present || seq_dist(f->seq, l->rx_base) < seq_dist(l->rcv_nxt, l->rx_base)) {
    l->stats.duplicates++;
    gbl_schedule_ack(l, now, true);
    return;
  }
  s->present = true;
  s->flags = f->flags;
  s->channel = f->channel;
  s->len = (uint16_t)f->payload_len;
  if (f->payload_len) memcpy(l->rx_data + (size_t)idx * l->payload_own, f->payload, f->payload_len);
  bool in_order = f->seq == l->rcv_nxt;
  if (in_order) {
    while (seq_dist(l->rcv_nxt, l->rx_base) < l->cfg.window && l->rx[slot_of(l, l->rcv_nxt)].present) l->rcv_nxt++;
    gbl_schedule_ack(l, now, false);
  } else {
    l->stats.out_of_order++;
    gbl_schedule_ack(l, now, true); /* tells the sender about the hole at once: fast retransmit */
  }
  drain(l);
}

uint32_t gbl_sack_bits(const gb_link *l) {
  uint32_t bits = 0;
  for (uint32_t i = 0; i < 32; i++) {
    uint16_t seq = (uint16_t)(l->rcv_nxt + 1u + i);
    if (seq_dist(seq, l->rx_base) >= l->cfg.window) break;
    if (l->rx[slot_of(l, seq)].present) bits |= 1u << i;
  }
  return bits;
}

/* The peer wants to cut its frames from `seq` on again. If `seq` is the first frame we have not received, every
 * frame we hold after it is dropped (the peer sends that data again, cut differently, under the same sequence
 * numbers); the peer sent nothing after its REWIND, and the wire is FIFO, so nothing of the old cut is still
 * coming. Either way the answer, a REWOUND echoing `seq`, carries what we hold: `ack` == seq means "go ahead". */
void gbl_receive_rewind(gb_link *l, uint16_t seq, uint16_t nonce) {
  if (seq == l->rcv_nxt) {
    for (uint16_t s = l->rcv_nxt; seq_dist(s, l->rx_base) < l->cfg.window; s++) l->rx[slot_of(l, s)].present = false;
  }
  l->rewind_reply = true;
  l->rewind_reply_seq = seq;
  l->rewind_reply_nonce = nonce;
}
