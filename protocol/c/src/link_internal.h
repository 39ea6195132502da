/* Private to the link engine (SPEC.md "Link layer", API in include/glassbridge/link.h): the layout of
 * `struct gb_link` and the functions the engine's parts call in each other. Included by the engine's sources and
 * by its unit tests (protocol/c/tests/test_link_*.c), never by applications.
 *
 * The engine by concern:
 *   link.c         configuration, memory layout, init, events, frame dispatch (receive, poll_tx), getters
 *   link_tx.c      the transmit queue ring, gb_link_send, acknowledgements of our frames (SACK, fast
 *                  retransmit), fragment sizing (SPEC.md 6.1), frame output, the sender's side of rewind (6.5)
 *   link_rx.c      the receive window, reassembly and delivery, delayed acknowledgements, the SACK bitmap, the
 *                  receiver's side of rewind
 *   link_timers.c  the RTT estimator (RFC 6298), retransmission and lost-retransmission probe deadlines, the
 *                  link timeout, gb_link_next_deadline
 *   link_hello.c   the handshake (Hello frames, versions, negotiated limits), sessions and sequence resets
 *   hello.c        the Hello message codec (hello.h)
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
#ifndef GLASSBRIDGE_SRC_LINK_INTERNAL_H
#define GLASSBRIDGE_SRC_LINK_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "glassbridge/frame.h"
#include "glassbridge/link.h"

#define HELLO_INTERVAL_MAX_FACTOR 10u /* unanswered hellos back off up to 10 x hello_interval_ms */
#define IDLE_DEADLINE_MS 60000u      /* next_deadline when no timer runs (incompatible peer) */
#define EVENT_QUEUE 8u
#define RECORD_HEADER 4u
#define ADAPT_PERIOD 32u      /* data frame transmissions per fragment-size decision (SPEC.md 6.1) */
#define MIN_FRAGMENT 24u      /* fragments are not cut below this many payload bytes */
#define REWIND_TRIES 12u      /* unanswered REWINDs after which a peer that never answered one is left alone */
#define PEER_LINK_TIMEOUT_DEFAULT 1000u /* a Hello without link_timeout_ms (an older peer): SPEC.md's default */
#define PING_FRACTION 4u      /* ping after peer link_timeout / 4 without sending, at the latest (SPEC.md 4.5) */
#define PEER_PING_FLOOR_MS 20u /* ...but a peer's tiny declared timeout cannot make us ping more often (4.5) */

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
  uint32_t peer_link_timeout; /* the peer's Hello.link_timeout_ms (PEER_LINK_TIMEOUT_DEFAULT when absent) */
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

/* ---- time and sequence arithmetic (wrap-safe) ------------------------------------------------------- */

static inline int32_t tdiff(uint32_t a, uint32_t b) { return (int32_t)(a - b); } /* a - b, valid within +-24 days */
static inline bool due(uint32_t now, uint32_t t) { return tdiff(now, t) >= 0; }
static inline uint16_t seq_dist(uint16_t a, uint16_t b) { return (uint16_t)(a - b); } /* a - b modulo 2^16 */
static inline uint32_t elapsed(uint32_t now, uint32_t t) { return tdiff(now, t) > 0 ? (uint32_t)tdiff(now, t) : 0u; }

/* Frames sent and not yet cumulatively acknowledged. */
static inline uint16_t inflight(const gb_link *l) { return seq_dist(l->snd_nxt, l->snd_una); }

/* How long we may send nothing before a ping (SPEC.md 4.5): our heartbeat_ms, or a quarter of the peer's link
 * timeout if that is shorter. The peer's link timer runs on what we send; its own pings' answers alone would leave
 * it at the mercy of one lost frame when our heartbeat is as long as its timeout (BLE settings against UART
 * defaults: heartbeat 1000 ms, link timeout 1000 ms). Never below PEER_PING_FLOOR_MS on the peer's account: a
 * misbehaving peer declaring 1 ms would otherwise have us fill the line with a thousand pings a second. */
static inline uint32_t gbl_heartbeat(const gb_link *l) {
  uint32_t t = l->peer_link_timeout / PING_FRACTION;
  if (t < PEER_PING_FLOOR_MS) t = PEER_PING_FLOOR_MS;
  return t < l->cfg.heartbeat_ms ? t : l->cfg.heartbeat_ms;
}

/* Fragment size (SPEC.md 6.1, UART only): payload_tx >> frag_level, never below MIN_FRAGMENT. */
static inline size_t frag_size(const gb_link *l) { return l->payload_tx >> l->frag_level; }

/* The oldest frame marked for retransmission, if any (link_tx.c sends it, gb_link_next_deadline waits for it). */
static inline bool gbl_resend_pending(const gb_link *l, uint16_t *seq) {
  for (uint16_t i = 0; i < inflight(l); i++) {
    uint16_t s = (uint16_t)(l->snd_una + i);
    if (l->tx[s % GB_MAX_WINDOW].resend) {
      *seq = s;
      return true;
    }
  }
  return false;
}

/* A new fragment may go out: a message has fragments not yet sent and the window has room. */
static inline bool gbl_can_send_new(const gb_link *l) { return l->txq_unsent > 0 && inflight(l) < l->window_tx; }

/* ---- link.c: events ------------------------------------------------------------------------------------ */

/* Queues an event; the last entry stays free for a message, so a link event flood never blocks delivery. */
void gbl_push_event(gb_link *l, gb_event_type type, uint32_t dropped);

/* ---- link_tx.c: transmit queue, acknowledgements of our frames, fragment sizing, frame output, rewind ---- */

uint32_t gbl_ring_adv(const gb_link *l, uint32_t pos, size_t n);
void gbl_ring_write(gb_link *l, uint32_t at, const uint8_t *src, size_t n);
void gbl_ring_read(const gb_link *l, uint32_t at, uint8_t *dst, size_t n);
/* The header of the message record at ring index `pos`. */
void gbl_record_at(const gb_link *l, uint32_t pos, uint16_t *len, uint8_t *channel);
/* The cumulative acknowledgement and SACK bitmap of a frame from the peer: frees acknowledged messages, takes an
 * RTT sample (Karn's rule), marks holes for fast retransmission. */
void gbl_receive_ack(gb_link *l, const gb_frame *f, uint32_t now);
/* The largest fragment level the negotiated payload allows (fragments of at least MIN_FRAGMENT bytes). */
uint8_t gbl_max_frag_level(const gb_link *l);
/* Counts one data frame transmission; every ADAPT_PERIOD of them picks the fragment size (SPEC.md 6.1). */
void gbl_adapt_fragments(gb_link *l, bool retransmission);
/* Encodes a frame for the profile into `out` and counts it; 0 if it does not fit. */
size_t gbl_emit(gb_link *l, gb_frame *f, uint8_t *out, size_t cap, uint32_t now);
/* An acknowledgement (flags 0) or a ping carrying our ack and SACK. */
size_t gbl_emit_control(gb_link *l, uint8_t flags, uint16_t seq, uint8_t *out, size_t cap, uint32_t now);
/* A REWIND or REWOUND (flag) of `seq` with its 2-byte number. */
size_t gbl_emit_rewind(gb_link *l, uint8_t flag, uint16_t seq, uint16_t nonce, uint8_t *out, size_t cap,
                       uint32_t now);
/* The data part of poll_tx, link up: a REWIND due, a retransmission, or the next new fragment. True when it took
 * the turn (*n: the bytes written, as emitted); false when no data frame is to go now. */
bool gbl_poll_data(gb_link *l, uint8_t *out, size_t cap, uint32_t now, size_t *n);
/* The peer's REWOUND of `seq` with number `nonce`: cuts everything in flight again if it answers the current
 * REWIND and the peer holds nothing from `seq` on. */
void gbl_receive_rewound(gb_link *l, uint16_t seq, uint16_t nonce, uint32_t now);

/* ---- link_rx.c: receive window, reassembly, acknowledgements we send -------------------------------------- */

/* "Until the next call into the engine": the message handed out by poll_event is released here, and the
 * following in-order fragments move into reassembly. */
void gbl_release_delivered(gb_link *l);
/* An acknowledgement now (immediate) or delayed (every second in-order frame at once, else within ack_delay). */
void gbl_schedule_ack(gb_link *l, uint32_t now, bool immediate);
/* A valid data frame while up. */
void gbl_receive_data(gb_link *l, const gb_frame *f, uint32_t now);
/* Bit i: frame rcv_nxt + 1 + i is held. */
uint32_t gbl_sack_bits(const gb_link *l);
/* The peer's REWIND of `seq` with number `nonce`: drops what we hold from `seq` on if it is rcv_nxt, and
 * schedules the REWOUND. */
void gbl_receive_rewind(gb_link *l, uint16_t seq, uint16_t nonce);

/* ---- link_timers.c: RTT estimator, retransmission, link timeout ---------------------------------------- */

void gbl_reset_rtt(gb_link *l);
/* RTO = SRTT + max(G, 4 x RTTVAR), clamped to [rto_min, rto_max]; also drops any backoff. */
void gbl_compute_rto(gb_link *l);
/* One RTT sample of r ms (Jacobson/Karels, RFC 6298). */
void gbl_rtt_sample(gb_link *l, uint32_t r);
/* The earliest retransmission deadline of a frame in flight, if any. */
bool gbl_rto_deadline(const gb_link *l, uint32_t *at);
/* Link up: the link timeout (-> down) and retransmission timeouts (frames marked, RTO backed off). */
void gbl_run_timers(gb_link *l, uint32_t now);

/* ---- link_hello.c: handshake and sessions -------------------------------------------------------------- */

/* A new peer (l->peer holds its Hello): sequence numbers from both sessions, window, reassembly, fragment size,
 * rewind and RTT state reset; drop_queue forgets every queued message. Returns the number dropped. */
uint32_t gbl_reset_sequences(gb_link *l, bool drop_queue);
/* A valid Hello frame. */
void gbl_receive_hello(gb_link *l, const gb_frame *f, uint32_t now);
/* Our Hello, with PING when `ping`. */
size_t gbl_emit_hello(gb_link *l, bool ping, uint8_t *out, size_t cap, uint32_t now);
/* poll_tx while not up: a Hello when one is due (the interval doubling while unanswered) or asked for. */
size_t gbl_poll_handshake(gb_link *l, uint8_t *out, size_t cap, uint32_t now);

#endif
