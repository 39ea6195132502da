/* The bulk-transfer sink: a complete transfer verified, a corrupted one failed, resume after a (simulated)
 * link loss from the confirmed offset, chunks at the wrong offset refused, and UNKNOWN after a "reboot"
 * (fresh state). Expected digests come from the FIPS "abc" vector and from gb_sha256 checked in test_sha256. */
#include <string.h>

#include "check.h"
#include "transfer.h"

static uint8_t data[5000];

static void digest(const uint8_t *p, size_t n, uint8_t out[32]) {
  gb_sha256 s;
  gb_sha256_init(&s);
  gb_sha256_update(&s, p, n);
  gb_sha256_final(&s, out);
}

void gb_tests(void) {
  for (size_t i = 0; i < sizeof data; i++) data[i] = (uint8_t)(i * 7u + (i >> 8));
  uint8_t sha[32];
  digest(data, sizeof data, sha);
  static gb_transfer t;
  gb_transfer_status st;
  gb_transfer_init(&t);

  /* Query before anything: UNKNOWN. */
  gb_transfer_query(&t, 5, &st);
  CHECK_EQ(st.state, GB_XFER_UNKNOWN);

  /* Bad requests. */
  gb_transfer_begin(&t, 5, 1, sizeof data, sha, 31, &st);
  CHECK_EQ(st.error, GB_XERR_BAD_REQUEST);
  gb_transfer_begin(&t, 5, 1, GB_TRANSFER_MAX_SIZE + 1u, sha, 32, &st);
  CHECK_EQ(st.error, GB_XERR_TOO_LARGE);

  gb_transfer_begin(&t, 5, 1, sizeof data, sha, 32, &st);
  CHECK_EQ(st.state, GB_XFER_RECEIVING);
  CHECK_EQ(st.offset, 0);
  CHECK_EQ(st.ack_every, GB_TRANSFER_ACK_EVERY);

  /* 10 chunks of 100: answered at the 8th only. */
  int answers = 0;
  for (uint32_t off = 0; off < 1000; off += 100)
    if (gb_transfer_chunk(&t, 5, off, data + off, 100, &st)) {
      answers++;
      CHECK_EQ(st.offset, 800);
    }
  CHECK_EQ(answers, 1);

  /* Wrong offset (a chunk lost): refused with the confirmed offset. */
  CHECK(gb_transfer_chunk(&t, 5, 1100, data + 1100, 100, &st));
  CHECK_EQ(st.error, GB_XERR_OFFSET_MISMATCH);
  CHECK_EQ(st.offset, 1000);
  /* Unknown id. */
  CHECK(gb_transfer_chunk(&t, 6, 1000, data, 100, &st));
  CHECK_EQ(st.error, GB_XERR_NO_SUCH_TRANSFER);
  CHECK_EQ(st.state, GB_XFER_UNKNOWN);

  /* Link loss: the SoC asks again with the same Begin: resume at 1000; a Query says the same. */
  gb_transfer_begin(&t, 5, 1, sizeof data, sha, 32, &st);
  CHECK_EQ(st.state, GB_XFER_RECEIVING);
  CHECK_EQ(st.offset, 1000);
  gb_transfer_query(&t, 5, &st);
  CHECK_EQ(st.offset, 1000);

  /* The rest in uneven chunks; the last is answered VERIFIED. */
  uint32_t off = 1000;
  bool last = false;
  while (off < sizeof data) {
    uint32_t n = sizeof data - off < 333u ? (uint32_t)(sizeof data - off) : 333u;
    last = gb_transfer_chunk(&t, 5, off, data + off, n, &st);
    off += n;
  }
  CHECK(last);
  CHECK_EQ(st.state, GB_XFER_VERIFIED);
  CHECK_EQ(st.offset, sizeof data);
  /* A chunk past the end: TOO_LARGE on a fresh transfer; on a finished one, its final state again. */
  CHECK(gb_transfer_chunk(&t, 5, off, data, 1, &st));
  CHECK_EQ(st.state, GB_XFER_VERIFIED);
  /* Begin again after completion: VERIFIED, nothing to send. */
  gb_transfer_begin(&t, 5, 1, sizeof data, sha, 32, &st);
  CHECK_EQ(st.state, GB_XFER_VERIFIED);

  /* A corrupted transfer fails with HASH_MISMATCH. */
  gb_transfer_begin(&t, 7, 1, 300, sha, 32, &st);
  CHECK_EQ(st.offset, 0);
  CHECK(gb_transfer_chunk(&t, 7, 0, data, 300, &st));
  CHECK_EQ(st.state, GB_XFER_FAILED);
  CHECK_EQ(st.error, GB_XERR_HASH_MISMATCH);

  /* Too much data for the announced size. */
  gb_transfer_begin(&t, 8, 1, 100, sha, 32, &st);
  CHECK(gb_transfer_chunk(&t, 8, 0, data, 101, &st));
  CHECK_EQ(st.error, GB_XERR_TOO_LARGE);
  CHECK_EQ(st.offset, 0);

  /* FIPS "abc" in three one-byte chunks, and the empty transfer (verified at Begin). */
  static const uint8_t ABC[32] = {0xba, 0x78, 0x16, 0xbf, 0x8f, 0x01, 0xcf, 0xea, 0x41, 0x41, 0x40,
                                  0xde, 0x5d, 0xae, 0x22, 0x23, 0xb0, 0x03, 0x61, 0xa3, 0x96, 0x17,
                                  0x7a, 0x9c, 0xb4, 0x10, 0xff, 0x61, 0xf2, 0x00, 0x15, 0xad};
  gb_transfer_begin(&t, 9, 2, 3, ABC, 32, &st);
  gb_transfer_chunk(&t, 9, 0, (const uint8_t *)"a", 1, &st);
  gb_transfer_chunk(&t, 9, 1, (const uint8_t *)"b", 1, &st);
  CHECK(gb_transfer_chunk(&t, 9, 2, (const uint8_t *)"c", 1, &st));
  CHECK_EQ(st.state, GB_XFER_VERIFIED);
  static const uint8_t EMPTY[32] = {0xe3, 0xb0, 0xc4, 0x42, 0x98, 0xfc, 0x1c, 0x14, 0x9a, 0xfb, 0xf4,
                                    0xc8, 0x99, 0x6f, 0xb9, 0x24, 0x27, 0xae, 0x41, 0xe4, 0x64, 0x9b,
                                    0x93, 0x4c, 0xa4, 0x95, 0x99, 0x1b, 0x78, 0x52, 0xb8, 0x55};
  gb_transfer_begin(&t, 10, 2, 0, EMPTY, 32, &st);
  CHECK_EQ(st.state, GB_XFER_VERIFIED);

  /* Reboot: RAM state gone. */
  gb_transfer_init(&t);
  gb_transfer_query(&t, 10, &st);
  CHECK_EQ(st.state, GB_XFER_UNKNOWN);
  CHECK_EQ(st.offset, 0);
}
