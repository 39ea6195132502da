/* System reset through the SCB: AIRCR.SYSRESETREQ with the write key 0x05FA. */
#include "cortex_m.h"
#include "hal_reset.h"

void hal_reset(void) {
  __asm__ volatile("dsb" ::: "memory");
  SCB_AIRCR = (0x05FAu << 16) | (1u << 2);
  __asm__ volatile("dsb" ::: "memory");
  for (;;) {
  }
}
