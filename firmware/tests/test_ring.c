/* The SPSC ring: capacity, order, wrap of the free-running indices at 2^32. */
#include <string.h>

#include "check.h"
#include "ring.h"

void gb_tests(void) {
  static uint8_t mem[16];
  gb_ring r;
  gb_ring_init(&r, mem, 16);
  CHECK_EQ(gb_ring_free(&r), 16);
  uint8_t b = 0;
  CHECK_EQ(gb_ring_get(&r, &b), 0);
  for (int i = 0; i < 16; i++) CHECK_EQ(gb_ring_put(&r, (uint8_t)i), 1);
  CHECK_EQ(gb_ring_put(&r, 99), 0); /* full */
  CHECK_EQ(gb_ring_used(&r), 16);
  for (int i = 0; i < 16; i++) {
    CHECK_EQ(gb_ring_get(&r, &b), 1);
    CHECK_EQ(b, i);
  }
  /* Indices about to wrap: order and counts must survive the wrap. */
  r.head = r.tail = 0xFFFFFFF8u;
  uint8_t src[12], dst[12];
  for (int i = 0; i < 12; i++) src[i] = (uint8_t)(100 + i);
  CHECK_EQ(gb_ring_write(&r, src, 12), 12);
  CHECK_EQ(gb_ring_used(&r), 12);
  CHECK_EQ(gb_ring_free(&r), 4);
  CHECK_EQ(gb_ring_write(&r, src, 12), 4); /* only what fits */
  CHECK_EQ(gb_ring_read(&r, dst, 12), 12);
  CHECK(memcmp(dst, src, 12) == 0);
  CHECK_EQ(gb_ring_read(&r, dst, 12), 4);
  CHECK(memcmp(dst, src, 4) == 0);
  CHECK_EQ(gb_ring_used(&r), 0);
}
