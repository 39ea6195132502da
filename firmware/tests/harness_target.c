/* MCU side of the test harness (check.h): messages through semihosting, the failure count as QEMU's exit code.
 * Startup (ports/cortex_m/startup.c) calls main and hands its result to gb_startup_exit. */
#include <stdarg.h>
#include <stdio.h>

#include "check.h"
#include "semihost.h"

int gb_check_failures, gb_check_count;

void gb_check_log(const char *fmt, ...) {
  char buf[200];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(buf, sizeof buf, fmt, ap);
  va_end(ap);
  gb_semihost_write0(buf);
}

int main(void) {
  gb_tests();
  gb_check_log("%d checks, %d failed\n", gb_check_count, gb_check_failures);
  return gb_check_failures ? 1 : 0;
}

void gb_startup_exit(int code) { gb_semihost_exit(code); }
