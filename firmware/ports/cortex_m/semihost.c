/* Semihosting calls (ARM "Semihosting for AArch32 and AArch64", operations SYS_WRITE0 0x04, SYS_EXIT 0x18,
 * SYS_EXIT_EXTENDED 0x20). */
#include "semihost.h"

static int call(int op, const void *arg) {
  register int r0 __asm__("r0") = op;
  register const void *r1 __asm__("r1") = arg;
  __asm__ volatile("bkpt 0xAB" : "+r"(r0) : "r"(r1) : "memory");
  return r0;
}

void gb_semihost_write0(const char *s) { call(0x04, s); }

void gb_semihost_exit(int code) {
  /* SYS_EXIT_EXTENDED carries the code (QEMU exits with it); plain SYS_EXIT only success/failure. */
  static unsigned block[2];
  block[0] = 0x20026u; /* ADP_Stopped_ApplicationExit */
  block[1] = (unsigned)code;
  call(0x20, block);
  call(0x18, (const void *)(code ? 0x20023u : 0x20026u));
  for (;;) {
  }
}
