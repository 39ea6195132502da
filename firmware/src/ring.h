/* A lock-free single-producer single-consumer byte ring between an interrupt handler and the main loop.
 *
 * One side only ever writes `head`, the other only `tail`, so neither needs to mask interrupts: on a
 * single-core Cortex-M an aligned 32-bit store is atomic, and the compiler barriers order the data access
 * before the index update (the ISR and the main loop run on the same core, so no hardware fence is needed).
 * The indices run freely and wrap at 2^32; the capacity is a power of two so `index & (cap-1)` stays right
 * across the wrap. Used for the UART: RX (ISR produces, main consumes) and TX (main produces, ISR consumes).
 */
#ifndef GB_FW_RING_H
#define GB_FW_RING_H

#include <stddef.h>
#include <stdint.h>

typedef struct {
  volatile uint32_t head; /* written by the producer only */
  volatile uint32_t tail; /* written by the consumer only */
  uint8_t *buf;
  uint32_t mask;          /* capacity - 1, capacity a power of two */
} gb_ring;

#define GB_RING_BARRIER() __asm__ volatile("" ::: "memory")

/* `cap` must be a power of two (checked by the caller's static assertion). */
static inline void gb_ring_init(gb_ring *r, uint8_t *buf, uint32_t cap) {
  r->head = 0;
  r->tail = 0;
  r->buf = buf;
  r->mask = cap - 1u;
}

static inline uint32_t gb_ring_used(const gb_ring *r) { return r->head - r->tail; }
static inline uint32_t gb_ring_free(const gb_ring *r) { return r->mask + 1u - (r->head - r->tail); }

/* Producer: one byte; 0 when full (the caller counts the overrun). */
static inline int gb_ring_put(gb_ring *r, uint8_t b) {
  uint32_t h = r->head;
  if (h - r->tail > r->mask) return 0;
  r->buf[h & r->mask] = b;
  GB_RING_BARRIER();
  r->head = h + 1u;
  return 1;
}

/* Producer: as many of n bytes as fit; returns how many. */
static inline size_t gb_ring_write(gb_ring *r, const uint8_t *src, size_t n) {
  uint32_t h = r->head;
  uint32_t room = r->mask + 1u - (h - r->tail);
  if (n > room) n = room;
  for (size_t i = 0; i < n; i++) r->buf[(h + (uint32_t)i) & r->mask] = src[i];
  GB_RING_BARRIER();
  r->head = h + (uint32_t)n;
  return n;
}

/* Consumer: one byte into *b; 0 when empty. */
static inline int gb_ring_get(gb_ring *r, uint8_t *b) {
  uint32_t t = r->tail;
  if (t == r->head) return 0;
  GB_RING_BARRIER();
  *b = r->buf[t & r->mask];
  GB_RING_BARRIER();
  r->tail = t + 1u;
  return 1;
}

/* Consumer: up to cap bytes; returns how many. */
static inline size_t gb_ring_read(gb_ring *r, uint8_t *dst, size_t cap) {
  uint32_t t = r->tail;
  uint32_t used = r->head - t;
  size_t n = used < cap ? used : cap;
  GB_RING_BARRIER();
  for (size_t i = 0; i < n; i++) dst[i] = r->buf[(t + (uint32_t)i) & r->mask];
  GB_RING_BARRIER();
  r->tail = t + (uint32_t)n;
  return n;
}

/* Consumer: drops everything (a reset of the port). Only safe when the producer is quiet. */
static inline void gb_ring_clear(gb_ring *r) { r->tail = r->head; }

#endif
