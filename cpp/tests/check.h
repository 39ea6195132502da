// The few checks the C++ tests need, with no test framework to install: each failed check prints file, line and
// what was expected, counts, and lets the test go on; main() ends with `return gb_test::finish("name")`, whose
// exit code ctest reads.
#pragma once

#include <cmath>
#include <cstdio>
#include <stdexcept>
#include <string>

namespace gb_test {

inline int& failures() {
  static int count = 0;
  return count;
}

// Runs f and expects std::invalid_argument whose message contains `needle` (errors must say what is wrong).
template <typename F>
void check_throws(F&& f, const char* needle, const char* file, int line) {
  try {
    f();
  } catch (const std::invalid_argument& e) {
    if (std::string(e.what()).find(needle) == std::string::npos) {
      std::fprintf(stderr, "%s:%d: message '%s' does not mention '%s'\n", file, line, e.what(), needle);
      ++failures();
    }
    return;
  }
  std::fprintf(stderr, "%s:%d: expected std::invalid_argument mentioning '%s', got none\n", file, line, needle);
  ++failures();
}

inline int finish(const char* name) {
  if (failures() != 0) {
    std::fprintf(stderr, "%s: %d check(s) failed\n", name, failures());
    return 1;
  }
  std::printf("%s: all checks passed\n", name);
  return 0;
}

}  // namespace gb_test

#define CHECK(cond)                                                                   \
  do {                                                                                \
    if (!(cond)) {                                                                    \
      std::fprintf(stderr, "%s:%d: CHECK failed: %s\n", __FILE__, __LINE__, #cond); \
      ++gb_test::failures();                                                          \
    }                                                                                 \
  } while (0)

#define CHECK_NEAR(a, b, tol)                                                                                 \
  do {                                                                                                        \
    const double va_ = (a), vb_ = (b);                                                                        \
    if (!(std::fabs(va_ - vb_) <= (tol))) {                                                                   \
      std::fprintf(stderr, "%s:%d: %s = %.9g, expected %.9g (tol %g)\n", __FILE__, __LINE__, #a, va_, vb_,    \
                   static_cast<double>(tol));                                                                 \
      ++gb_test::failures();                                                                                  \
    }                                                                                                         \
  } while (0)

#define CHECK_THROWS(expr, needle) gb_test::check_throws([&] { expr; }, needle, __FILE__, __LINE__)
