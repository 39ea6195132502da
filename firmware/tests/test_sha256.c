/* SHA-256 against FIPS 180-4's published examples and against Python's hashlib (gen_sha256_vectors.py),
 * fed in one piece and in awkward slices. */
#include <string.h>

#include "check.h"
#include "sha256.h"
#include "sha256_vectors.h"

static int hex_eq(const uint8_t d[32], const char *hex) {
  for (int i = 0; i < 32; i++) {
    unsigned v = 0;
    for (int k = 0; k < 2; k++) {
      char c = hex[2 * i + k];
      v = v * 16u + (unsigned)(c <= '9' ? c - '0' : c - 'a' + 10);
    }
    if (d[i] != v) return 0;
  }
  return 1;
}

static void digest_of(const void *msg, size_t n, uint8_t out[32]) {
  gb_sha256 s;
  gb_sha256_init(&s);
  gb_sha256_update(&s, msg, n);
  gb_sha256_final(&s, out);
}

static void lcg(uint8_t *dst, uint32_t n, uint32_t seed) {
  uint32_t x = seed;
  for (uint32_t i = 0; i < n; i++) {
    x = x * 1664525u + 1013904223u;
    dst[i] = (uint8_t)(x >> 24);
  }
}

void gb_tests(void) {
  uint8_t d[32];
  /* FIPS 180-4 example values (NIST CSRC "SHA256.pdf" / "SHA2_Additional.pdf"). */
  digest_of("abc", 3, d);
  CHECK(hex_eq(d, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"));
  digest_of("", 0, d);
  CHECK(hex_eq(d, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"));
  const char *two = "abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq";
  digest_of(two, strlen(two), d);
  CHECK(hex_eq(d, "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1"));
  /* one million 'a', fed 1000 at a time */
  static uint8_t buf[10007];
  memset(buf, 'a', 1000);
  gb_sha256 s;
  gb_sha256_init(&s);
  for (int i = 0; i < 1000; i++) gb_sha256_update(&s, buf, 1000);
  gb_sha256_final(&s, d);
  CHECK(hex_eq(d, "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0"));

  /* hashlib vectors, whole and in slices of 1, 7, 63 and 64 bytes (every buffering path). */
  for (size_t v = 0; v < sizeof SHA256_HASHLIB / sizeof SHA256_HASHLIB[0]; v++) {
    uint32_t n = SHA256_HASHLIB[v].len;
    lcg(buf, n, SHA256_HASHLIB[v].seed);
    digest_of(buf, n, d);
    CHECK(memcmp(d, SHA256_HASHLIB[v].digest, 32) == 0);
    static const size_t SLICES[] = {1, 7, 63, 64};
    for (size_t k = 0; k < 4; k++) {
      gb_sha256_init(&s);
      for (size_t off = 0; off < n; off += SLICES[k])
        gb_sha256_update(&s, buf + off, n - off < SLICES[k] ? n - off : SLICES[k]);
      gb_sha256_final(&s, d);
      CHECK(memcmp(d, SHA256_HASHLIB[v].digest, 32) == 0);
    }
  }
}
