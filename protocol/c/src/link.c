/* The glassbridge link engine: SPEC.md "Link layer", API in include/glassbridge/link.h.
 *
 * Memory: one caller block holds `struct gb_link` followed by the transmit queue (a byte ring of message
 * records), the receive slots (window x frame payload), the reassembly buffer (max_message), the COBS receive
 * buffer and a scratch frame. Nothing is allocated afterwards.
 *
 * Sending: messages wait in the ring as records [len u16le, channel u8, 0] + bytes. A fragment gets its
 * sequence number when it is first sent; the frame is rebuilt from the ring for every (re)transmission, so
 * the ring is the only copy of outgoing data. A record is freed when the cumulative acknowledgement passes
 * its last fragment.
 *
 * Receiving: data frames inside the window are stored in slots; fragments that are next in order move into
 * the reassembly buffer; a complete message waits there for gb_link_poll_event and is released at the next
 * call into the engine, which lets the following fragments move up (delivery frees slots: flow control).
 */
#include "glassbridge/link.h"

#include <string.h>

#include "glassbridge/frame.h"
#include "hello.h"

#define HELLO_INTERVAL_MAX_FACTOR 10u /* unanswered hellos back off up to 10 x hello_interval_ms */
#define IDLE_DEADLINE_MS 60000u      /* next_deadline when no timer runs (incompatible peer) */
#define EVENT_QUEUE 8u
#define RECORD_HEADER 4u
#define ADAPT_PERIOD 32u      /* data frame transmissions per fragment-size decision (SPEC.md 6.1) */
#define MIN_FRAGMENT 24u      /* fragments are not cut below this many payload bytes */
#define REWIND_TRIES 12u      /* unanswered REWINDs after which a peer that never answered one is left alone */

/* ---- time and sequence arithmetic (wrap-safe) ------------------------------------------------------- */

static int32_t tdiff(uint32_t a, uint32_t b) { return (int32_t)(a - b); } /* a - b, valid within +-24 days */
static bool due(uint32_t now, uint32_t t) { return tdiff(now, t) >= 0; }
static uint16_t seq_dist(uint16_t a, uint16_t b) { return (uint16_t)(a - b); } /* a - b modulo 2^16 */
static uint32_t elapsed(uint32_t now, uint32_t t) { return tdiff(now, t) > 0 ? (uint32_t)tdiff(now, t) : 0u; }

typedef struct {
  uint32_t msg_at;  /* ring index of the message record */
  uint16_t off;     /* fragment offset in the message */
  uint16_t len;     /* fragment length */
  uint8_t channel;
  uint8_t flags;    /* GB_FLAG_DATA, plus GB_FLAG_MORE unless last */
  uint8_t tx_count; /* transmissions (saturating): Karn's rule takes RTT samples only when 1 */
  bool sacked;
  bool resend;      /* marked for retransmission (RTO, fast retransmit, link back up) */
  uint32_t sent_at;
  uint32_t tx_order; /* value of the transmission counter at the last send: detects holes on FIFO links */
} tx_slot;

typedef struct {
  bool present;
  uint8_t flags;
  uint8_t channel;
  uint16_t len;
} rx_slot;

typedef struct {
  gb_event_type type;
  uint32_t dropped;
  gb_peer_info peer;
} ev_entry;

struct gb_link {
  gb_link_config cfg;
  char fw[32];
  gb_link_state state;
  size_t overhead;     /* header (+ CRC) bytes per frame */
  size_t payload_own;  /* largest payload we accept: max_frame - overhead */
  gb_link_stats stats;

  /* peer and negotiated limits */
  bool peer_known;
  gb_peer_info peer;
  size_t payload_tx;   /* largest fragment: min(both max_frame) - overhead */
  /* Fragment size adaptation (SPEC.md 6.1): per period of ADAPT_PERIOD data frame transmissions (first ones and
   * retransmissions alike), how many were retransmissions; fragments are payload_tx >> frag_level. */
  uint16_t period_frames, period_retx;
  uint8_t clean_periods;
  uint8_t frag_level;
  uint8_t window_tx;   /* frames in flight: min(both windows) */
  /* Rewind (SPEC.md 6.5, UART): the frames from rewind_seq on are cut again once the peer confirms it holds
   * nothing from there; meanwhile no data frame goes out. Each REWIND carries a new number; only an answer to a
   * REWIND of the current request (numbers rewind_first..rewind_nonce) counts. */
  bool rewind_pending;
  bool rewind_seen;    /* the peer has answered a REWIND in this peer session */
  bool rewind_off;     /* it never answered REWIND_TRIES of them (an older engine): no more in this peer session */
  uint8_t rewind_unanswered;
  uint16_t rewind_seq;
  uint16_t rewind_nonce, rewind_first;
  uint32_t rewind_at;  /* when the next REWIND goes out */
  uint32_t rewind_sent_at, peer_ack_at; /* the last REWIND; the last acknowledgement or data frame from the peer */
  bool rewind_reply;   /* receiver: answer a REWIND (REWOUND echoing its seq and number) at the next poll_tx */
  uint16_t rewind_reply_seq, rewind_reply_nonce;

  /* handshake */
  uint32_t hello_at;
  uint32_t hello_interval;
  bool hello_reply;    /* answer a Hello at the next poll_tx */

  /* transmit queue: positions are ring indices in [0, txq_cap) */
  uint8_t *txq;
  uint32_t txq_cap;
  uint32_t txq_used;   /* bytes of records held */
  uint32_t txq_head;   /* oldest message not fully acknowledged */
  uint32_t txq_tail;   /* where the next message goes */
  uint32_t txq_next;   /* the message whose fragments are being sent */
  uint32_t txq_next_off;
  uint32_t txq_msgs;   /* messages held (queued or in flight) */
  uint32_t txq_unsent; /* messages whose last fragment has not been sent yet */
  tx_slot tx[GB_MAX_WINDOW]; /* index seq % 32: at most 32 in flight and 32 divides 2^16 */
  uint16_t snd_una, snd_nxt;
  uint32_t tx_order;

  /* retransmission timer (SPEC.md "Retransmission"): srtt8 = 8 x SRTT, rttvar4 = 4 x RTTVAR */
  bool have_rtt;
  uint32_t srtt8, rttvar4;
  uint32_t rto;
  /* When the peer last acknowledged something new (cumulatively or selectively). A frame's timer runs from the
   * later of its own transmission and this moment (RFC 6298 5.3: restart the timer on new acknowledgements):
   * frames queued behind others in a UART driver or a pty are not declared lost while the line is draining. */
  uint32_t progress_at;
  /* The smallest RTT sample of this session: a round trip through an empty line (queues drained). */
  uint32_t min_rtt;

  /* receive window */
  uint8_t *rx_data;
  rx_slot rx[GB_MAX_WINDOW];
  uint16_t rx_base;    /* oldest sequence number not yet moved to reassembly */
  uint16_t rcv_nxt;    /* first sequence number not received: the cumulative acknowledgement */
  uint8_t rx_base_idx; /* slot of rx_base; slot of seq s = (rx_base_idx + s - rx_base) % window */
  uint8_t *reasm;
  size_t reasm_len;
  uint8_t reasm_channel;
  bool reasm_started, reasm_complete, reasm_delivered, reasm_discard;

  /* acknowledgements and liveness */
  bool ack_now, ack_pending;
  uint32_t ack_due;
  uint8_t unacked;
  uint32_t last_rx, last_tx;

  /* UART receive and frame building */
  gb_cobs_stream stream;
  uint8_t *scratch;

  ev_entry ev[EVENT_QUEUE];
  uint8_t ev_head, ev_count;
};

/* ---- configuration and memory ----------------------------------------------------------------------- */

const char *gb_status_str(gb_status s) {
  switch (s) {
    case GB_OK: return "ok";
    case GB_ERR_ARG: return "invalid argument or configuration value";
    case GB_ERR_NO_MEMORY: return "memory block smaller than gb_link_mem_size()";
    case GB_ERR_QUEUE_FULL: return "transmit queue full: retry once the peer has acknowledged more";
    case GB_ERR_TOO_LARGE: return "message larger than the negotiated max_message";
    case GB_ERR_BAD_CHANNEL: return "channel must be 1 (control), 2 (audio) or 3 (bulk)";
    case GB_ERR_INCOMPATIBLE: return "the peer speaks an incompatible protocol version";
  }
  return "unknown status";
}

static void dflt16(uint16_t *v, uint16_t d) {
  if (*v == 0) *v = d;
}

/* Fills the defaults, then returns the first rule the configuration breaks (NULL: none). */
static const char *normalize(gb_link_config *cfg) {
  if (!cfg) return "no configuration given";
  if (cfg->profile != GB_PROFILE_UART && cfg->profile != GB_PROFILE_PACKET) return "profile must be uart or packet";
  if ((unsigned)cfg->role > (unsigned)GB_ROLE_PHONE) return "role must be 0..3 (glassbridge.proto Role)";
  if (cfg->session == 0) return "session must be non-zero (random, new at every start)";
  dflt16(&cfg->max_frame, 1024);
  if (cfg->window == 0) cfg->window = 16;
  dflt16(&cfg->max_message, 4096);
  if (cfg->tx_queue_bytes == 0) cfg->tx_queue_bytes = 65536;
  dflt16(&cfg->hello_interval_ms, 100);
  dflt16(&cfg->heartbeat_ms, 250);
  dflt16(&cfg->link_timeout_ms, 1000);
  dflt16(&cfg->ack_delay_ms, 2);
  dflt16(&cfg->rto_initial_ms, 200);
  dflt16(&cfg->rto_min_ms, 20);
  dflt16(&cfg->rto_max_ms, 1000);
  if (cfg->protocol_version == 0) cfg->protocol_version = GB_LINK_PROTOCOL_VERSION;
  if (cfg->min_protocol_version == 0) cfg->min_protocol_version = GB_LINK_MIN_PROTOCOL_VERSION;
  if (cfg->max_frame < GB_MIN_FRAME || cfg->max_frame > GB_MAX_FRAME) return "max_frame must be 128..4096";
  if (cfg->window > GB_MAX_WINDOW) return "window must be 1..32 (the SACK bitmap has 32 bits)";
  if (cfg->tx_queue_bytes < (uint32_t)cfg->max_message + RECORD_HEADER)
    return "tx_queue_bytes must be at least max_message + 4 (room for one largest message)";
  if (cfg->rto_min_ms > cfg->rto_initial_ms || cfg->rto_initial_ms > cfg->rto_max_ms)
    return "the timers need rto_min_ms <= rto_initial_ms <= rto_max_ms";
  if (cfg->min_protocol_version > cfg->protocol_version) return "min_protocol_version exceeds protocol_version";
  if (cfg->firmware_version) {
    size_t n = 0;
    while (cfg->firmware_version[n] && n < 32) n++;
    if (n > 31) return "firmware_version must be at most 31 bytes";
  }
  return NULL;
}

gb_status gb_link_config_normalize(gb_link_config *cfg) { return normalize(cfg) ? GB_ERR_ARG : GB_OK; }

const char *gb_link_config_problem(const gb_link_config *cfg) {
  if (!cfg) return "no configuration given";
  gb_link_config c = *cfg;
  return normalize(&c);
}

static size_t align8(size_t n) { return (n + 7u) & ~(size_t)7u; }

typedef struct {
  size_t link, txq, rx, reasm, stream, scratch, total;
} layout;

static layout plan(const gb_link_config *c) {
  layout l;
  size_t payload = c->max_frame - gb_frame_overhead(c->profile);
  l.link = 0;
  l.txq = align8(sizeof(struct gb_link));
  l.rx = l.txq + align8(c->tx_queue_bytes);
  l.reasm = l.rx + align8((size_t)c->window * payload);
  l.stream = l.reasm + align8(c->max_message);
  l.scratch = l.stream + align8(GB_COBS_ENCODE_BOUND((size_t)c->max_frame));
  l.total = l.scratch + align8(c->max_frame);
  return l;
}

size_t gb_link_mem_size(const gb_link_config *cfg) {
  if (!cfg) return 0;
  gb_link_config c = *cfg;
  if (gb_link_config_normalize(&c) != GB_OK) return 0;
  return plan(&c).total;
}

size_t gb_link_max_wire_size(const gb_link_config *cfg) {
  if (!cfg) return 0;
  size_t f = cfg->max_frame ? cfg->max_frame : 1024u;
  return cfg->profile == GB_PROFILE_UART ? GB_COBS_MAX_ENCODED(f) : f;
}

/* ---- events ------------------------------------------------------------------------------------------ */

static void push_event(gb_link *l, gb_event_type type, uint32_t dropped) {
  /* The last entry stays free for a message, so a link event flood never blocks delivery. */
  bool is_msg = type == GB_EV_MESSAGE;
  if (l->ev_count >= (is_msg ? EVENT_QUEUE : EVENT_QUEUE - 1u)) {
    l->stats.events_dropped++;
    return;
  }
  ev_entry *e = &l->ev[(l->ev_head + l->ev_count) % EVENT_QUEUE];
  l->ev_count++;
  memset(e, 0, sizeof *e);
  e->type = type;
  e->dropped = dropped;
  if (!is_msg) e->peer = l->peer;
}

/* ---- transmit queue ring ------------------------------------------------------------------------------ */

static uint32_t ring_adv(const gb_link *l, uint32_t pos, size_t n) {
  return (uint32_t)(((uint64_t)pos + n) % l->txq_cap);
}

static void ring_write(gb_link *l, uint32_t at, const uint8_t *src, size_t n) {
  size_t first = l->txq_cap - at < n ? l->txq_cap - at : n;
  memcpy(l->txq + at, src, first);
  if (n > first) memcpy(l->txq, src + first, n - first);
}

static void ring_read(const gb_link *l, uint32_t at, uint8_t *dst, size_t n) {
  size_t first = l->txq_cap - at < n ? l->txq_cap - at : n;
  memcpy(dst, l->txq + at, first);
  if (n > first) memcpy(dst + first, l->txq, n - first);
}

static void record_at(const gb_link *l, uint32_t pos, uint16_t *len, uint8_t *channel) {
  uint8_t h[RECORD_HEADER];
  ring_read(l, pos, h, sizeof h);
  *len = (uint16_t)(h[0] | (h[1] << 8));
  *channel = h[2];
}

size_t gb_link_tx_free(const gb_link *link) { return link ? link->txq_cap - link->txq_used : 0; }
size_t gb_link_tx_pending(const gb_link *link) { return link ? link->txq_msgs : 0; }

/* ---- sequence state ------------------------------------------------------------------------------------ */

/* Initial sequence number of both directions (SPEC.md "Sequence numbers"): derived from both sessions, so
 * that frames of an earlier session pair are unlikely to fall into the new window. */
static uint16_t isn(uint32_t a, uint32_t b) {
  uint32_t x = a ^ b;
  return (uint16_t)(x ^ (x >> 16));
}

static void reset_rtt(gb_link *l) {
  l->have_rtt = false;
  l->srtt8 = l->rttvar4 = 0;
  l->min_rtt = 0;
  l->rto = l->cfg.rto_initial_ms;
}

/* A new peer. The first one: messages queued before the handshake wait for it (nothing was sent yet). A
 * restarted one: every message of the previous peer is forgotten. Returns the number of messages dropped. */
static uint32_t reset_sequences(gb_link *l, bool drop_queue) {
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
  reset_rtt(l);
  return dropped;
}

/* ---- init ------------------------------------------------------------------------------------------------ */

gb_link *gb_link_init(const gb_link_config *cfg, void *mem, size_t mem_size, uint32_t now, gb_status *status) {
  gb_status dummy;
  if (!status) status = &dummy;
  if (!cfg || !mem || ((uintptr_t)mem & 7u)) {
    *status = GB_ERR_ARG;
    return NULL;
  }
  gb_link_config c = *cfg;
  if ((*status = gb_link_config_normalize(&c)) != GB_OK) return NULL;
  layout lay = plan(&c);
  if (mem_size < lay.total) {
    *status = GB_ERR_NO_MEMORY;
    return NULL;
  }
  uint8_t *base = (uint8_t *)mem;
  memset(base, 0, lay.total);
  gb_link *l = (gb_link *)mem;
  l->cfg = c;
  if (c.firmware_version) {
    size_t n = 0;
    while (c.firmware_version[n] && n < sizeof l->fw - 1) n++;
    memcpy(l->fw, c.firmware_version, n);
  }
  l->cfg.firmware_version = l->fw;
  l->overhead = gb_frame_overhead(c.profile);
  l->payload_own = c.max_frame - l->overhead;
  l->txq = base + lay.txq;
  l->txq_cap = c.tx_queue_bytes;
  l->rx_data = base + lay.rx;
  l->reasm = base + lay.reasm;
  l->scratch = base + lay.scratch;
  gb_cobs_stream_init(&l->stream, base + lay.stream, GB_COBS_ENCODE_BOUND((size_t)c.max_frame));
  l->state = GB_LINK_HANDSHAKE;
  l->hello_interval = c.hello_interval_ms;
  l->hello_at = now; /* first Hello at the first poll_tx */
  l->last_rx = l->last_tx = l->peer_ack_at = now;
  reset_rtt(l);
  l->stats.rto_ms = l->rto;
  *status = GB_OK;
  return l;
}

/* ---- receive side ---------------------------------------------------------------------------------------- */

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
        push_event(l, GB_EV_MESSAGE, 0);
      }
    }
  }
}

/* "Until the next call into the engine": the message handed out by poll_event is released here. */
static void release_delivered(gb_link *l) {
  if (!l->reasm_delivered) return;
  l->reasm_delivered = false;
  l->reasm_complete = false;
  l->reasm_len = 0;
  drain(l);
}

static void schedule_ack(gb_link *l, uint32_t now, bool immediate) {
  if (immediate) {
    l->ack_now = true;
    return;
  }
  /* Delayed acknowledgement: every second in-order frame at once, else within ack_delay_ms. */
  if (++l->unacked >= 2) {
    l->ack_now = true;
  } else if (!l->ack_pending) {
    l->ack_pending = true;
    l->ack_due = now + l->cfg.ack_delay_ms;
  }
}

static void receive_data(gb_link *l, const gb_frame *f, uint32_t now) {
  uint16_t d = seq_dist(f->seq, l->rx_base);
  if ((int16_t)d < 0) { /* already delivered: our acknowledgement was lost, repeat it */
    l->stats.duplicates++;
    schedule_ack(l, now, true);
    return;
  }
  if (d >= l->cfg.window) { /* no room (the application has not taken its messages, or a stale frame) */
    l->stats.out_of_window++;
    schedule_ack(l, now, true);
    return;
  }
  uint8_t idx = slot_of(l, f->seq);
  rx_slot *s = &l->rx[idx];
  if (s->present || seq_dist(f->seq, l->rx_base) < seq_dist(l->rcv_nxt, l->rx_base)) {
    l->stats.duplicates++;
    schedule_ack(l, now, true);
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
    schedule_ack(l, now, false);
  } else {
    l->stats.out_of_order++;
    schedule_ack(l, now, true); /* tells the sender about the hole at once: fast retransmit */
  }
  drain(l);
}

static uint32_t sack_bits(const gb_link *l) {
  uint32_t bits = 0;
  for (uint32_t i = 0; i < 32; i++) {
    uint16_t seq = (uint16_t)(l->rcv_nxt + 1u + i);
    if (seq_dist(seq, l->rx_base) >= l->cfg.window) break;
    if (l->rx[slot_of(l, seq)].present) bits |= 1u << i;
  }
  return bits;
}

/* RTO = SRTT + max(G, 4 x RTTVAR), clamped to [rto_min, rto_max]; also drops any backoff. */
static void compute_rto(gb_link *l) {
  uint32_t rto = (l->srtt8 >> 3) + (l->rttvar4 > 1u ? l->rttvar4 : 1u);
  if (rto < l->cfg.rto_min_ms) rto = l->cfg.rto_min_ms;
  if (rto > l->cfg.rto_max_ms) rto = l->cfg.rto_max_ms;
  l->rto = rto;
  l->stats.rto_ms = rto;
}

static void rtt_sample(gb_link *l, uint32_t r) {
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
  compute_rto(l);
}

static void free_acked_message(gb_link *l) {
  uint16_t len;
  uint8_t ch;
  record_at(l, l->txq_head, &len, &ch);
  l->txq_head = ring_adv(l, l->txq_head, RECORD_HEADER + (size_t)len);
  l->txq_used -= RECORD_HEADER + (uint32_t)len;
  l->txq_msgs--;
}

static void receive_ack(gb_link *l, const gb_frame *f, uint32_t now) {
  uint16_t inflight = seq_dist(l->snd_nxt, l->snd_una);
  uint16_t acked = seq_dist(f->ack, l->snd_una);
  if (acked > inflight) return; /* an acknowledgement of something never sent: stale, ignore it */
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
  inflight = seq_dist(l->snd_nxt, l->snd_una);
  /* Selective acknowledgement: bit i stands for ack + 1 + i. */
  uint32_t hi_order = 0;
  bool any_sacked = false, newly_sacked = false;
  for (uint32_t i = 0; i < 32 && i + 1u < inflight; i++) {
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
    for (uint16_t i = 0; i < inflight; i++) {
      tx_slot *s = &l->tx[(uint16_t)(l->snd_una + i) % GB_MAX_WINDOW];
      if (!s->sacked && !s->resend && tdiff(s->tx_order, hi_order) < 0) s->resend = true;
    }
  }
  if (sample) rtt_sample(l, rtt);
  /* Only news counts: a repeated SACK of the same frames (answers to pings) must not hold the timer off. */
  if (acked || newly_sacked) l->progress_at = now;
}

/* ---- rewind (SPEC.md 6.5) ----------------------------------------------------------------------------------- */

static uint16_t inflight(const gb_link *l);

/* The peer wants to cut its frames from `seq` on again. If `seq` is the first frame we have not received, every
 * frame we hold after it is dropped (the peer sends that data again, cut differently, under the same sequence
 * numbers); the peer sent nothing after its REWIND, and the wire is FIFO, so nothing of the old cut is still
 * coming. Either way the answer, a REWOUND echoing `seq`, carries what we hold: `ack` == seq means "go ahead". */
static void receive_rewind(gb_link *l, uint16_t seq, uint16_t nonce) {
  if (seq == l->rcv_nxt) {
    for (uint16_t s = l->rcv_nxt; seq_dist(s, l->rx_base) < l->cfg.window; s++) l->rx[slot_of(l, s)].present = false;
  }
  l->rewind_reply = true;
  l->rewind_reply_seq = seq;
  l->rewind_reply_nonce = nonce;
}

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
  if (l->have_rtt) compute_rto(l); /* drops the backoff the lost frames caused */
  else l->rto = l->cfg.rto_initial_ms;
  l->stats.rewinds++;
}

static void receive_rewound(gb_link *l, uint16_t seq, uint16_t nonce, uint32_t now) {
  l->rewind_seen = true;
  /* Only an answer to a REWIND sent since data last went out describes what the peer holds now: an earlier one
   * may predate frames that were still on their way. */
  bool current = seq_dist(nonce, l->rewind_first) <= seq_dist(l->rewind_nonce, l->rewind_first);
  if (!l->rewind_pending || seq != l->rewind_seq || !current) return;
  l->rewind_pending = false;
  /* receive_ack has taken its ack: beyond seq, the peer had the frame after all (our acknowledgement of it was
   * lost) and nothing is cut; at seq, it holds nothing from there on. */
  if (l->snd_una == seq && inflight(l) > 0) rewind_to(l, now);
}

/* ---- handshake --------------------------------------------------------------------------------------------- */

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
    if (l->have_rtt) compute_rto(l); /* drops the backoff accumulated while down */
    else l->rto = l->cfg.rto_initial_ms;
  }
  push_event(l, GB_EV_LINK_UP, 0);
}

static void receive_hello(gb_link *l, const gb_frame *f, uint32_t now) {
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
      uint32_t dropped = reset_sequences(l, true);
      l->stats.peer_resets++;
      push_event(l, GB_EV_PEER_RESET, dropped);
    } else {
      l->peer = h.info;
      reset_sequences(l, false);
    }
    l->peer_known = true;
    l->state = GB_LINK_HANDSHAKE;
    l->hello_interval = l->cfg.hello_interval_ms;
    negotiate(l);
  }
  l->stats.frames_rx++;
  if (h.reject || !versions_compatible(l, &h.info)) {
    if (l->state != GB_LINK_INCOMPATIBLE) {
      l->state = GB_LINK_INCOMPATIBLE;
      push_event(l, GB_EV_VERSION_MISMATCH, 0);
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

/* ---- frame dispatch ---------------------------------------------------------------------------------------- */

static void receive_frame(gb_link *l, const uint8_t *buf, size_t n, uint32_t now) {
  if (n > l->cfg.max_frame) {
    l->stats.framing_errors++;
    return;
  }
  gb_frame f;
  gb_frame_status st = gb_frame_parse(l->cfg.profile, buf, n, &f);
  if (st != GB_FRAME_OK) {
    if (st == GB_FRAME_ERR_CRC) l->stats.crc_errors++;
    else l->stats.framing_errors++;
    return;
  }
  bool hello = f.flags & GB_FLAG_HELLO, data = f.flags & GB_FLAG_DATA;
  /* UART: a REWIND or REWOUND acknowledgement carries its 2-byte number (SPEC.md 6.5). */
  bool rewind = l->cfg.profile == GB_PROFILE_UART && (f.flags & (GB_FLAG_REWIND | GB_FLAG_REWOUND));
  bool valid = hello   ? (!data && f.channel == 0)
               : data ? (f.channel >= 1 && f.channel < GB_CHANNELS)
                      : (f.channel == 0 && f.payload_len == (rewind ? 2u : 0u));
  if (!valid) {
    l->stats.framing_errors++;
    return;
  }
  if (hello) {
    receive_hello(l, &f, now);
    return;
  }
  l->stats.frames_rx++;
  if (l->state != GB_LINK_UP) return; /* not before the handshake: the sequence state is not agreed yet */
  l->last_rx = now;
  l->peer_ack_at = now;
  receive_ack(l, &f, now);
  if (data) {
    receive_data(l, &f, now);
    return;
  }
  if (f.flags & GB_FLAG_PING) schedule_ack(l, now, true);
  if (l->cfg.profile == GB_PROFILE_UART) { /* the packet profile keeps bits 4-7 reserved (SPEC.md 2.1) */
    uint16_t nonce = (uint16_t)(rewind ? (f.payload[0] | (f.payload[1] << 8)) : 0);
    if (f.flags & GB_FLAG_REWIND) receive_rewind(l, f.seq, nonce);
    if (f.flags & GB_FLAG_REWOUND) receive_rewound(l, f.seq, nonce, now);
  }
}

void gb_link_receive(gb_link *link, const uint8_t *data, size_t len, uint32_t now) {
  if (!link || (!data && len)) return;
  gb_link *l = link;
  release_delivered(l);
  l->stats.bytes_rx += len;
  if (l->cfg.profile == GB_PROFILE_PACKET) {
    receive_frame(l, data, len, now);
    return;
  }
  while (len > 0) {
    gb_cobs_stream_result r = gb_cobs_stream_feed(&l->stream, data, len);
    data += r.consumed;
    len -= r.consumed;
    if (r.kind == GB_COBS_STREAM_FRAME) receive_frame(l, r.frame, r.len, now);
    else if (r.kind == GB_COBS_STREAM_ERROR) l->stats.framing_errors++;
  }
}

/* ---- send -------------------------------------------------------------------------------------------------- */

size_t gb_link_max_message(const gb_link *link) {
  if (!link) return 0;
  size_t own = link->cfg.max_message;
  return link->peer_known && link->peer.max_message < own ? link->peer.max_message : own;
}

gb_status gb_link_send(gb_link *link, uint8_t channel, const uint8_t *msg, size_t len, uint32_t now) {
  (void)now;
  if (!link || (!msg && len)) return GB_ERR_ARG;
  gb_link *l = link;
  release_delivered(l);
  if (channel < 1 || channel >= GB_CHANNELS) return GB_ERR_BAD_CHANNEL;
  if (l->state == GB_LINK_INCOMPATIBLE) return GB_ERR_INCOMPATIBLE;
  if (len > gb_link_max_message(l)) return GB_ERR_TOO_LARGE;
  if (len + RECORD_HEADER > l->txq_cap - l->txq_used) return GB_ERR_QUEUE_FULL;
  uint8_t h[RECORD_HEADER] = {(uint8_t)len, (uint8_t)(len >> 8), channel, 0};
  ring_write(l, l->txq_tail, h, sizeof h);
  if (len) ring_write(l, ring_adv(l, l->txq_tail, RECORD_HEADER), msg, len);
  l->txq_tail = ring_adv(l, l->txq_tail, RECORD_HEADER + len);
  l->txq_used += (uint32_t)(RECORD_HEADER + len);
  l->txq_msgs++;
  l->txq_unsent++;
  l->stats.messages_tx++;
  return GB_OK;
}

/* ---- transmit side --------------------------------------------------------------------------------------------- */

/* Fragment size (SPEC.md 6.1, UART only): payload_tx >> frag_level, never below MIN_FRAGMENT. */
static size_t frag_size(const gb_link *l) { return l->payload_tx >> l->frag_level; }

static uint8_t max_frag_level(const gb_link *l) {
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
static void adapt_fragments(gb_link *l, bool retransmission) {
  l->period_frames++;
  if (retransmission) l->period_retx++;
  if (l->period_frames < ADAPT_PERIOD) return;
  uint32_t r = l->period_retx, n = l->period_frames, size = (uint32_t)frag_size(l);
  uint32_t h = (uint32_t)l->overhead + 3u; /* header and CRC, COBS code byte(s), delimiter */
  uint8_t top = max_frag_level(l);
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

static size_t emit(gb_link *l, gb_frame *f, uint8_t *out, size_t cap, uint32_t now) {
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
  ring_read(l, ring_adv(l, s->msg_at, RECORD_HEADER + (size_t)s->off), stage, s->len);
  gb_frame f = {s->flags, s->channel, seq, l->rcv_nxt, sack_bits(l), stage, s->len};
  size_t n = emit(l, &f, out, cap, now);
  if (n == 0) return 0;
  l->ack_now = l->ack_pending = false;
  l->unacked = 0;
  l->stats.data_frames_tx++;
  if (s->tx_count) l->stats.retransmits++;
  if (l->cfg.profile == GB_PROFILE_UART) adapt_fragments(l, s->tx_count > 0);
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
  gb_frame f = {flags, 0, seq, l->rcv_nxt, sack_bits(l), payload, len};
  size_t n = emit(l, &f, out, cap, now);
  if (n) {
    l->ack_now = l->ack_pending = false;
    l->unacked = 0;
    l->stats.acks_tx++;
  }
  return n;
}

static size_t emit_control(gb_link *l, uint8_t flags, uint16_t seq, uint8_t *out, size_t cap, uint32_t now) {
  return emit_control_payload(l, flags, seq, NULL, 0, out, cap, now);
}

static size_t emit_rewind(gb_link *l, uint8_t flag, uint16_t seq, uint16_t nonce, uint8_t *out, size_t cap,
                          uint32_t now) {
  uint8_t payload[2] = {(uint8_t)nonce, (uint8_t)(nonce >> 8)};
  return emit_control_payload(l, flag, seq, payload, sizeof payload, out, cap, now);
}

static size_t emit_hello(gb_link *l, bool ping, uint8_t *out, size_t cap, uint32_t now) {
  gb_hello_fields h;
  memset(&h, 0, sizeof h);
  h.info.protocol_version = l->cfg.protocol_version;
  h.info.min_protocol_version = l->cfg.min_protocol_version;
  h.info.session = l->cfg.session;
  h.info.boot_counter = l->cfg.boot_counter;
  h.info.max_frame = l->cfg.max_frame;
  h.info.window = l->cfg.window;
  h.info.max_message = l->cfg.max_message;
  h.info.capabilities = l->cfg.capabilities;
  h.info.role = l->cfg.role;
  memcpy(h.info.firmware_version, l->fw, sizeof l->fw);
  h.peer_session = l->peer_known ? l->peer.session : 0;
  h.reject = l->state == GB_LINK_INCOMPATIBLE;
  uint8_t payload[GB_HELLO_MAX_SIZE];
  size_t plen = 0;
  if (!gb_link_hello_encode(&h, payload, sizeof payload, &plen)) return 0;
  gb_frame f = {(uint8_t)(GB_FLAG_HELLO | (ping ? GB_FLAG_PING : 0u)), 0, 0, 0, 0, payload, plen};
  return emit(l, &f, out, cap, now);
}

static uint16_t inflight(const gb_link *l) { return seq_dist(l->snd_nxt, l->snd_una); }

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

/* The earliest retransmission deadline of a frame in flight, if any. */
static bool rto_deadline(const gb_link *l, uint32_t *at) {
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

static bool resend_pending(const gb_link *l, uint16_t *seq) {
  for (uint16_t i = 0; i < inflight(l); i++) {
    uint16_t s = (uint16_t)(l->snd_una + i);
    if (l->tx[s % GB_MAX_WINDOW].resend) {
      *seq = s;
      return true;
    }
  }
  return false;
}

static bool can_send_new(const gb_link *l) { return l->txq_unsent > 0 && inflight(l) < l->window_tx; }

/* Rewind (SPEC.md 6.5): the oldest frame in flight must go again, it has already been sent at least twice, and
 * it is larger than the fragments the line now gets: resending it as it is would most likely fail again (on a
 * line at a byte error rate of 1e-2 a 1 KB frame never arrives), so ask the peer whether everything from it on
 * may be cut again. */
static bool rewind_wanted(const gb_link *l, uint16_t seq) {
  const tx_slot *s = &l->tx[seq % GB_MAX_WINDOW];
  return l->cfg.profile == GB_PROFILE_UART && !l->rewind_off && seq == l->snd_una && s->tx_count >= 2u &&
         s->len > frag_size(l);
}

static void run_timers(gb_link *l, uint32_t now) {
  if (l->state != GB_LINK_UP) return;
  if (tdiff(now, l->last_rx) >= (int32_t)l->cfg.link_timeout_ms) {
    l->state = GB_LINK_DOWN;
    l->stats.link_downs++;
    l->hello_interval = l->cfg.hello_interval_ms;
    l->hello_at = now;
    l->ack_now = l->ack_pending = false;
    l->rewind_pending = l->rewind_reply = false; /* asked again, if still wanted, once the link is back */
    push_event(l, GB_EV_LINK_DOWN, 0);
    return;
  }
  uint32_t at = 0;
  if (rto_deadline(l, &at) && due(now, at)) {
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

size_t gb_link_poll_tx(gb_link *link, uint8_t *out, size_t cap, uint32_t now) {
  if (!link || !out) return 0;
  gb_link *l = link;
  release_delivered(l);
  if (cap < gb_link_max_wire_size(&l->cfg)) return 0;
  run_timers(l, now);
  if (l->state != GB_LINK_UP) {
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
      return emit_hello(l, asking, out, cap, now);
    }
    return 0;
  }
  if (l->hello_reply) {
    l->hello_reply = false;
    return emit_hello(l, false, out, cap, now);
  }
  if (l->rewind_reply) {
    l->rewind_reply = false;
    return emit_rewind(l, GB_FLAG_REWOUND, l->rewind_reply_seq, l->rewind_reply_nonce, out, cap, now);
  }
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
      l->rewind_at = now + l->rto;
      l->rewind_sent_at = now;
      return emit_rewind(l, GB_FLAG_REWIND, l->rewind_seq, ++l->rewind_nonce, out, cap, now);
    }
  }
  uint16_t seq;
  if (!l->rewind_pending && resend_pending(l, &seq)) {
    if (!rewind_wanted(l, seq)) return emit_data(l, seq, out, cap, now);
    l->rewind_pending = true;
    l->rewind_seq = seq;
    l->rewind_first = (uint16_t)(l->rewind_nonce + 1u);
    l->rewind_at = now + l->rto;
    l->rewind_sent_at = now;
    return emit_rewind(l, GB_FLAG_REWIND, seq, ++l->rewind_nonce, out, cap, now);
  }
  if (!l->rewind_pending && can_send_new(l)) {
    uint16_t len;
    uint8_t ch;
    record_at(l, l->txq_next, &len, &ch);
    uint32_t left = len - l->txq_next_off;
    size_t most = frag_size(l);
    uint16_t frag = (uint16_t)(left < most ? left : most);
    bool last = frag == left;
    seq = l->snd_nxt++;
    tx_slot *s = &l->tx[seq % GB_MAX_WINDOW];
    memset(s, 0, sizeof *s);
    s->msg_at = l->txq_next;
    s->off = (uint16_t)l->txq_next_off;
    s->len = frag;
    s->channel = ch;
    s->flags = (uint8_t)(GB_FLAG_DATA | (last ? 0u : GB_FLAG_MORE));
    if (last) {
      l->txq_next = ring_adv(l, l->txq_next, RECORD_HEADER + (size_t)len);
      l->txq_next_off = 0;
      l->txq_unsent--;
    } else {
      l->txq_next_off += frag;
    }
    return emit_data(l, seq, out, cap, now);
  }
  if (l->ack_now || (l->ack_pending && due(now, l->ack_due))) return emit_control(l, 0, l->snd_nxt, out, cap, now);
  if (tdiff(now, l->last_tx) >= (int32_t)l->cfg.heartbeat_ms)
    return emit_control(l, GB_FLAG_PING, l->snd_nxt, out, cap, now);
  return 0;
}

/* ---- events, deadline, getters ------------------------------------------------------------------------------- */

bool gb_link_poll_event(gb_link *link, gb_event *ev) {
  if (!link || !ev) return false;
  gb_link *l = link;
  release_delivered(l);
  memset(ev, 0, sizeof *ev);
  if (l->ev_count == 0) return false;
  ev_entry *e = &l->ev[l->ev_head];
  l->ev_head = (uint8_t)((l->ev_head + 1u) % EVENT_QUEUE);
  l->ev_count--;
  ev->type = e->type;
  ev->dropped = e->dropped;
  ev->peer = e->peer;
  if (e->type == GB_EV_MESSAGE) {
    ev->channel = l->reasm_channel;
    ev->data = l->reasm;
    ev->len = l->reasm_len;
    l->reasm_delivered = true;
  }
  return true;
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
  if (!l->rewind_pending && (resend_pending(l, &seq) || can_send_new(l))) return now;
  if (l->rewind_pending) earliest(now, &best, l->rewind_at);
  if (l->ack_pending) earliest(now, &best, l->ack_due);
  uint32_t at = 0;
  if (rto_deadline(l, &at)) earliest(now, &best, at);
  earliest(now, &best, l->last_tx + l->cfg.heartbeat_ms);
  earliest(now, &best, l->last_rx + l->cfg.link_timeout_ms);
  return best;
}

gb_link_state gb_link_get_state(const gb_link *link) { return link ? link->state : GB_LINK_HANDSHAKE; }

void gb_link_get_stats(const gb_link *link, gb_link_stats *out) {
  if (!link || !out) return;
  *out = link->stats;
  out->rto_ms = link->rto;
  out->frag_size = link->peer_known ? (uint32_t)frag_size(link) : 0u;
}

bool gb_link_get_peer(const gb_link *link, gb_peer_info *out) {
  if (!link || !out || !link->peer_known) return false;
  *out = link->peer;
  return true;
}
