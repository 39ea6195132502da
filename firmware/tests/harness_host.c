/* Host side of the test harness (check.h): messages to stderr, failures counted into the exit code. */
#include <stdarg.h>
#include <stdio.h>

#include "check.h"

int gb_check_failures, gb_check_count;

void gb_check_log(const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  vfprintf(stderr, fmt, ap);
  va_end(ap);
}

int main(void) {
  gb_tests();
  fprintf(stderr, "%d checks, %d failed\n", gb_check_count, gb_check_failures);
  return gb_check_failures ? 1 : 0;
}
