/* A simulated wire between two link engines for the tests and the fuzzer's sanity runs: a seeded, lossy,
 * rate-limited, delayed channel in each direction, stepped one millisecond at a time.
 *
 * UART profile: the byte stream suffers bit flips, dropped and duplicated bytes (each with probability
 * `byte_error_rate` per byte, split 50/25/25) and truncated frames (the tail of a frame lost), and is handed to
 * the receiver in slices of random size. Packet profile: whole datagrams are dropped, duplicated or delayed
 * past later ones (reordering); never corrupted, because the packet profile relies on the transport's
 * integrity check (BLE's CRC-24 and MIC).
 *
 * Each application sends numbered messages whose length and bytes follow from (direction, epoch, index), so
 * the receiving side can check every delivery exactly: in order, nothing lost, nothing twice, nothing altered. */
#ifndef GB_TESTS_SIM_H
#define GB_TESTS_SIM_H

#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "glassbridge/frame.h"
#include "glassbridge/link.h"

/* Sizes of the wire's queues and of the message buffers. The firmware's MCU test build
 * (firmware/tests/protocol_tests.cmake) passes smaller ones that still fit every frame and message of test_link.c
 * (frames of at most 300 bytes, messages of at most 4096), and SIM_SHARED_QUEUES: the boards' RAM holds the
 * queues of one sim, not one per test (the tests use their sims one after the other; setup() clears each). */
#ifndef SIM_PKT_MAX
#define SIM_PKT_MAX (GB_COBS_MAX_ENCODED(GB_MAX_FRAME) + 16)
#endif
#ifndef SIM_QUEUE
#define SIM_QUEUE 512
#endif
#ifndef SIM_MESSAGE_MAX
#define SIM_MESSAGE_MAX 70000
#endif

typedef struct {
  uint32_t at;
  uint16_t len;
  uint8_t data[SIM_PKT_MAX];
} sim_pkt;

typedef struct {
#ifdef SIM_SHARED_QUEUES
  sim_pkt *q; /* one of sim_put's two shared queues, attached at the first packet */
#else
  sim_pkt q[SIM_QUEUE];
#endif
  int n;
  uint64_t busy_us;    /* the wire is busy sending until then, in microseconds of sim.elapsed_us (rate limit) */
  bool cut;            /* cable pulled: everything is lost */
  uint8_t drop_flags;  /* UART: frames with any of these flags are lost (a receiver that does not know them) */
  uint32_t dropped_flagged;
} sim_pipe;

typedef struct {
  uint64_t state;
} sim_rng;

static inline uint32_t sim_rand(sim_rng *r) { /* splitmix64: good enough and reproducible everywhere */
  uint64_t z = (r->state += 0x9E3779B97F4A7C15ull);
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  return (uint32_t)((z ^ (z >> 31)) >> 32);
}
static inline double sim_unit(sim_rng *r) { return sim_rand(r) / 4294967296.0; }

/* The message number i of a direction and epoch: length and content from a private generator. */
static inline size_t sim_message(int dir, uint32_t epoch, uint32_t i, size_t max_len, uint8_t *buf) {
  sim_rng g = {((uint64_t)dir << 48) ^ ((uint64_t)epoch << 32) ^ i ^ 0xA5A5u};
  uint32_t r = sim_rand(&g) % 100;
  size_t len = r < 78 ? sim_rand(&g) % 129 : r < 95 ? 128 + sim_rand(&g) % 897 : 1024 + sim_rand(&g) % 2000;
  if (len > max_len) len = max_len;
  for (size_t k = 0; k < len; k++) buf[k] = (uint8_t)sim_rand(&g);
  return len;
}

typedef struct {
  gb_link *link;
  void *mem;
  gb_link_config cfg;
  /* application: sending */
  uint32_t epoch;       /* bumps at every PEER_RESET the side sees: the other side starts from message 0 */
  uint32_t sent;        /* messages accepted by gb_link_send in this epoch */
  uint32_t to_send;     /* how many to send in total (per epoch) */
  /* application: receiving */
  uint32_t rx_epoch;
  uint32_t received;    /* messages delivered in this epoch of the peer */
  uint32_t received_total;
  int link_ups, link_downs, peer_resets, mismatches;
  uint32_t dropped;     /* from PEER_RESET events */
  bool check_content;
} sim_side;

typedef struct {
  sim_side side[2];
  sim_pipe pipe[2]; /* pipe[i] carries side i's output to side 1 - i */
  sim_rng rng;
  uint32_t now;           /* the engines' clock (may wrap) */
  uint64_t elapsed_us;    /* since the start, for the wire's rate limit */
  double byte_error_rate;   /* UART */
  double truncate_rate;     /* UART, per frame */
  double drop_rate, dup_rate, reorder_rate; /* packet profile, per datagram */
  uint32_t rate_bytes_per_ms;
  uint32_t latency_ms;
  int errors;
} sim;

static inline void sim_init_side(sim *s, int i, const gb_link_config *cfg) {
  sim_side *d = &s->side[i];
  if (d->mem) free(d->mem);
  d->cfg = *cfg;
  size_t need = gb_link_mem_size(cfg);
  REQUIRE(need > 0, "config %d invalid", i);
  d->mem = malloc(need); /* the test allocates; the engine never does */
  gb_status st;
  d->link = gb_link_init(cfg, d->mem, need, s->now, &st);
  REQUIRE(d->link != NULL, "init: %s", gb_status_str(st));
}

static inline void sim_free(sim *s) {
  for (int i = 0; i < 2; i++) free(s->side[i].mem);
}

static inline void sim_put(sim *s, int dir, const uint8_t *data, size_t len, uint32_t at) {
  sim_pipe *p = &s->pipe[dir];
  if (p->cut) return;
#ifdef SIM_SHARED_QUEUES
  static sim_pkt shared[2][SIM_QUEUE];
  if (!p->q) p->q = shared[dir];
#endif
  REQUIRE(p->n < SIM_QUEUE, "pipe overflow (SIM_QUEUE %d)", SIM_QUEUE);
  REQUIRE(len <= SIM_PKT_MAX, "packet of %zu", len);
  sim_pkt *k = &p->q[p->n++];
  k->at = at;
  k->len = (uint16_t)len;
  memcpy(k->data, data, len);
}

/* One frame written by side `dir`: faults, rate limit and latency applied. */
static inline void sim_transmit(sim *s, int dir, const uint8_t *frame, size_t len) {
  sim_pipe *p = &s->pipe[dir];
  uint64_t start = p->busy_us > s->elapsed_us ? p->busy_us : s->elapsed_us;
  p->busy_us = start + (uint64_t)len * 1000u / s->rate_bytes_per_ms;
  uint32_t at = s->now + (uint32_t)((p->busy_us - s->elapsed_us + 999u) / 1000u) + s->latency_ms;
  if (s->side[dir].cfg.profile == GB_PROFILE_PACKET) {
    if (sim_unit(&s->rng) < s->drop_rate) return;
    uint32_t extra = sim_unit(&s->rng) < s->reorder_rate ? 1 + sim_rand(&s->rng) % 6 : 0;
    sim_put(s, dir, frame, len, at + extra);
    if (sim_unit(&s->rng) < s->dup_rate) sim_put(s, dir, frame, len, at + sim_rand(&s->rng) % 4);
    return;
  }
  if (p->drop_flags && len > 1) {
    static uint8_t raw[SIM_PKT_MAX];
    gb_cobs_result r = gb_cobs_decode(frame, len - 1, raw, sizeof raw); /* without the 0x00 delimiter */
    if (r.status == GB_COBS_OK && r.len > 1 && (raw[1] & p->drop_flags)) {
      p->dropped_flagged++;
      return;
    }
  }
  static uint8_t noisy[2 * SIM_PKT_MAX];
  size_t n = 0;
  size_t cut_at = sim_unit(&s->rng) < s->truncate_rate ? sim_rand(&s->rng) % len : len;
  for (size_t i = 0; i < len; i++) {
    uint8_t b = frame[i];
    if (i >= cut_at && i + 1 < len) continue; /* truncated: the tail is lost, the delimiter survives */
    if (sim_unit(&s->rng) < s->byte_error_rate) {
      uint32_t kind = sim_rand(&s->rng) % 4;
      if (kind <= 1) {
        noisy[n++] = (uint8_t)(b ^ (1u << (sim_rand(&s->rng) % 8)));
      } else if (kind == 2) {
        /* dropped */
      } else {
        noisy[n++] = b;
        noisy[n++] = b;
      }
    } else {
      noisy[n++] = b;
    }
  }
  sim_put(s, dir, noisy, n, at);
}

/* Delivers what is due to the other side, in random slices (UART) or one datagram per call (packet). */
static inline void sim_deliver(sim *s, int dir) {
  sim_pipe *p = &s->pipe[dir];
  gb_link *to = s->side[1 - dir].link;
  for (;;) {
    int best = -1;
    for (int i = 0; i < p->n; i++)
      if ((int32_t)(s->now - p->q[i].at) >= 0 && (best < 0 || (int32_t)(p->q[i].at - p->q[best].at) < 0)) best = i;
    if (best < 0) return;
    sim_pkt *k = &p->q[best];
    if (s->side[dir].cfg.profile == GB_PROFILE_PACKET) {
      gb_link_receive(to, k->data, k->len, s->now);
    } else {
      size_t at = 0;
      while (at < k->len) {
        size_t piece = 1 + sim_rand(&s->rng) % (k->len - at);
        gb_link_receive(to, k->data + at, piece, s->now);
        at += piece;
      }
    }
    memmove(k, k + 1, (size_t)(p->n - best - 1) * sizeof *k);
    p->n--;
  }
}

static inline void sim_events(sim *s, int i) {
  sim_side *d = &s->side[i];
  gb_event ev;
  static uint8_t want[SIM_MESSAGE_MAX];
  while (gb_link_poll_event(d->link, &ev)) {
    switch (ev.type) {
      case GB_EV_MESSAGE: {
        d->received_total++;
        if (d->check_content) {
          size_t len = sim_message(1 - i, d->rx_epoch, d->received, sizeof want, want);
          bool ok = ev.len == len && memcmp(ev.data, want, len) == 0 && ev.channel >= 1 && ev.channel <= 3;
          if (!ok) {
            s->errors++;
            if (s->errors < 5)
              fprintf(stderr, "side %d: message %u of epoch %u wrong (len %zu, want %zu)\n", i, d->received,
                      d->rx_epoch, ev.len, len);
          }
        }
        d->received++;
        break;
      }
      case GB_EV_LINK_UP: d->link_ups++; break;
      case GB_EV_LINK_DOWN: d->link_downs++; break;
      case GB_EV_PEER_RESET:
        d->peer_resets++;
        d->dropped += ev.dropped;
        d->epoch++; /* our unacknowledged messages are gone: start a new numbering */
        d->sent = 0;
        d->rx_epoch++;
        d->received = 0;
        break;
      case GB_EV_VERSION_MISMATCH: d->mismatches++; break;
      default: s->errors++; break;
    }
  }
}

static inline void sim_app_send(sim *s, int i) {
  sim_side *d = &s->side[i];
  static uint8_t buf[SIM_MESSAGE_MAX];
  while (d->sent < d->to_send) {
    size_t max = gb_link_max_message(d->link);
    size_t len = sim_message(i, d->epoch, d->sent, max, buf);
    gb_status st = gb_link_send(d->link, (uint8_t)(1 + d->sent % 3), buf, len, s->now);
    if (st == GB_ERR_QUEUE_FULL) return;
    if (st != GB_OK) {
      s->errors++;
      return;
    }
    d->sent++;
  }
}

/* One millisecond: deliveries, events, sends, transmissions (while the wire has room for ~2 ms). */
static inline void sim_step(sim *s) {
  static uint8_t out[SIM_PKT_MAX];
  for (int i = 0; i < 2; i++) sim_deliver(s, i);
  for (int i = 0; i < 2; i++) {
    sim_events(s, i);
    sim_app_send(s, i);
  }
  for (int i = 0; i < 2; i++) {
    gb_link *l = s->side[i].link;
    for (;;) {
      if (s->pipe[i].busy_us > s->elapsed_us + 2000u) break; /* the UART ring is full: wait */
      uint32_t deadline = gb_link_next_deadline(l, s->now);
      size_t n = gb_link_poll_tx(l, out, sizeof out, s->now);
      /* next_deadline promises there is nothing to do before it. */
      if ((int32_t)(deadline - s->now) > 0 && n > 0) {
        s->errors++;
        fprintf(stderr, "side %d wrote a frame at %u before its deadline %u\n", i, s->now, deadline);
      }
      if (n == 0) break;
      sim_transmit(s, i, out, n);
    }
  }
  s->now++;
  s->elapsed_us += 1000u;
}

static inline bool sim_done(const sim *s) {
  for (int i = 0; i < 2; i++) {
    const sim_side *d = &s->side[i], *o = &s->side[1 - i];
    if (d->sent < d->to_send || gb_link_tx_pending(d->link) || o->received < d->to_send) return false;
  }
  return true;
}

#endif
