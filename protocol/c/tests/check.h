/* Minimal test harness for the protocol C tests: CHECK keeps going and counts, the test's main returns
 * check_result(). Messages name the file, line and the values involved. */
#ifndef GB_TESTS_CHECK_H
#define GB_TESTS_CHECK_H

#include <stdio.h>
#include <stdlib.h>

static int check_failures = 0;

#define CHECK(cond, ...)                                          \
  do {                                                            \
    if (!(cond)) {                                                \
      check_failures++;                                           \
      fprintf(stderr, "%s:%d: CHECK(%s) failed: ", __FILE__, __LINE__, #cond); \
      fprintf(stderr, __VA_ARGS__);                               \
      fputc('\n', stderr);                                        \
    }                                                             \
  } while (0)

/* Stops the test: for failures after which the rest would only crash or mislead. */
#define REQUIRE(cond, ...)           \
  do {                               \
    if (!(cond)) {                   \
      CHECK(cond, __VA_ARGS__);      \
      exit(1);                       \
    }                                \
  } while (0)

static inline int check_result(const char *name) {
  if (check_failures) {
    fprintf(stderr, "%s: %d check(s) failed\n", name, check_failures);
    return 1;
  }
  printf("%s: ok\n", name);
  return 0;
}

#endif
