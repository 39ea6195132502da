/* CRC-32C against protocol/vectors/crc32c.txt (computed bit by bit in Python from the polynomial) and the
 * chaining contract (feeding pieces gives the CRC of the whole). */
#include <string.h>

#include "check.h"
#include "glassbridge/frame.h"
#include "vectors.h"

int main(void) {
  static const char check[] = "123456789";
  CHECK(gb_crc32c(0, check, 9) == GB_CRC32C_CHECK, "check value %08x", (unsigned)gb_crc32c(0, check, 9));

  vec_file v;
  REQUIRE(vec_open(&v, "crc32c.txt"), "vectors");
  static uint8_t data[4096];
  int n = 0;
  while (vec_next(&v)) {
    size_t len = vec_hex(&v, "data", data, sizeof data);
    uint32_t want = (uint32_t)strtoul(vec_get(&v, "crc"), NULL, 16);
    CHECK(gb_crc32c(0, data, len) == want, "%s: got %08x want %08x", vec_get(&v, "name"),
          (unsigned)gb_crc32c(0, data, len), (unsigned)want);
    /* Any split point gives the same CRC. */
    for (size_t cut = 0; cut <= len; cut += (len / 7) + 1) {
      uint32_t c = gb_crc32c(gb_crc32c(0, data, cut), data + cut, len - cut);
      CHECK(c == want, "%s: split at %zu gives %08x", vec_get(&v, "name"), cut, (unsigned)c);
    }
    n++;
  }
  vec_close(&v);
  CHECK(n >= 5, "only %d CRC vectors", n);
  return check_result("test_crc32c");
}
