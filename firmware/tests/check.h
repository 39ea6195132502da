/* A minimal test harness that runs the same on the host and on an emulated MCU (semihosting): each
 * tests/test_*.c defines gb_tests(); CHECK macros count failures; the harness's main returns the count, which
 * becomes the process exit code (on QEMU through SYS_EXIT_EXTENDED). */
#ifndef GB_FW_CHECK_H
#define GB_FW_CHECK_H

#include <stdint.h>

extern int gb_check_failures;
extern int gb_check_count;
void gb_check_log(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void gb_tests(void);

#define CHECK(cond)                                                                   \
  do {                                                                                \
    gb_check_count++;                                                                 \
    if (!(cond)) {                                                                    \
      gb_check_failures++;                                                            \
      gb_check_log("FAIL %s:%d: %s\n", __FILE__, __LINE__, #cond);                    \
    }                                                                                 \
  } while (0)

#define CHECK_EQ(a, b)                                                                \
  do {                                                                                \
    long long va_ = (long long)(a), vb_ = (long long)(b);                             \
    gb_check_count++;                                                                 \
    if (va_ != vb_) {                                                                 \
      gb_check_failures++;                                                            \
      /* %ld: newlib-nano's printf has no %lld (values past 32 bits print truncated on the MCU) */ \
      gb_check_log("FAIL %s:%d: %s == %s (%ld != %ld)\n", __FILE__, __LINE__, #a, #b, (long)va_, (long)vb_); \
    }                                                                                 \
  } while (0)

#endif
