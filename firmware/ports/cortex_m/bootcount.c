/* A boot counter in RAM that neither startup nor QEMU's reset clears: 16 bytes at the top of RAM, above the
 * stack, outside every ELF segment (so QEMU's loader does not re-zero it on system_reset as it does .bss).
 * A magic word and a check word tell a kept counter from power-on garbage. */
#include <stdint.h>

#include "hal_bootcount.h"

#define MAGIC 0x47426331u /* "GBc1" */

typedef struct {
  uint32_t magic, count, check, seed;
} persist_t;

extern uint32_t __noinit_start[];

uint32_t hal_bootcount_increment(void) {
  volatile persist_t *p = (volatile persist_t *)__noinit_start;
  if (p->magic != MAGIC || p->check != (p->count ^ ~MAGIC)) {
    p->count = 0;
    p->seed = 0;
  }
  p->count++;
  p->magic = MAGIC;
  p->check = p->count ^ ~MAGIC;
  return p->count;
}

/* Whatever the RAM held (random at power-on on silicon), advanced each boot: part of the session entropy. */
uint32_t gb_bootcount_seed(void) {
  volatile persist_t *p = (volatile persist_t *)__noinit_start;
  p->seed = p->seed * 1664525u + 1013904223u;
  return p->seed;
}
