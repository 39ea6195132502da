/* The bulk-transfer sink (transfer.h's rules): a complete transfer verified, a corrupted one failed, resume after a
 * (simulated) link loss from the confirmed offset, chunks at the wrong offset refused (state kept), kinds and
 * per-kind size limits, BUSY for another transfer of the same SoC session until GB_TRANSFER_IDLE_MS without
 * progress (never for a new session), and UNKNOWN after a "reboot" (fresh state). Expected digests come from the
 * FIPS "abc" vector and from gb_sha256 checked in test_sha256. */
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
  uint32_t now = 1000;
  gb_transfer_init(&t);

  /* Query before anything: UNKNOWN. */
  gb_transfer_query(&t, 5, &st);
  CHECK_EQ(st.state, GB_XFER_UNKNOWN);

  /* Bad requests. */
  gb_transfer_begin(&t, 5, 1, sizeof data, sha, 31, 1, now, &st);
  CHECK_EQ(st.error, GB_XERR_BAD_REQUEST);
  gb_transfer_begin(&t, 5, 1, GB_TRANSFER_MAX_FIRMWARE + 1u, sha, 32, 1, now, &st);
  CHECK_EQ(st.error, GB_XERR_TOO_LARGE);
  CHECK_EQ(st.state, GB_XFER_UNKNOWN);
  gb_transfer_begin(&t, 5, 2, GB_TRANSFER_MAX_ASSET + 1u, sha, 32, 1, now, &st);
  CHECK_EQ(st.error, GB_XERR_TOO_LARGE);
  gb_transfer_begin(&t, 0, 1, sizeof data, sha, 32, 1, now, &st);
  CHECK_EQ(st.error, GB_XERR_BAD_REQUEST);
  /* Kinds: FIRMWARE and ASSET only (0, PHOTO, AUDIO, AUDIO_OPUS and unknown numbers refused). */
  static const uint32_t BAD_KINDS[] = {0, 3, 4, 5, 6, 999, 0xFFFFFFFFu};
  for (size_t i = 0; i < sizeof BAD_KINDS / sizeof BAD_KINDS[0]; i++) {
    gb_transfer_begin(&t, 5, BAD_KINDS[i], 10, sha, 32, 1, now, &st);
    CHECK_EQ(st.state, GB_XFER_UNKNOWN);
    CHECK_EQ(st.error, GB_XERR_BAD_REQUEST);
  }
  CHECK_EQ(gb_transfer_limit(1), 1048576);
  CHECK_EQ(gb_transfer_limit(2), 262144);
  /* Exactly at the limits: accepted. */
  gb_transfer_begin(&t, 4, 1, GB_TRANSFER_MAX_FIRMWARE, sha, 32, 1, now, &st);
  CHECK_EQ(st.state, GB_XFER_RECEIVING);
  gb_transfer_init(&t);
  gb_transfer_begin(&t, 4, 2, GB_TRANSFER_MAX_ASSET, sha, 32, 1, now, &st);
  CHECK_EQ(st.state, GB_XFER_RECEIVING);
  gb_transfer_init(&t);

  gb_transfer_begin(&t, 5, 1, sizeof data, sha, 32, 1, now, &st);
  CHECK_EQ(st.state, GB_XFER_RECEIVING);
  CHECK_EQ(st.offset, 0);
  CHECK_EQ(st.ack_every, GB_TRANSFER_ACK_EVERY);

  /* 10 chunks of 100: answered at the 8th only. */
  int answers = 0;
  for (uint32_t off = 0; off < 1000; off += 100)
    if (gb_transfer_chunk(&t, 5, off, data + off, 100, now, &st)) {
      answers++;
      CHECK_EQ(st.offset, 800);
    }
  CHECK_EQ(answers, 1);

  /* Wrong offset (a chunk lost): refused with the confirmed offset. */
  CHECK(gb_transfer_chunk(&t, 5, 1100, data + 1100, 100, now, &st));
  CHECK_EQ(st.error, GB_XERR_OFFSET_MISMATCH);
  CHECK_EQ(st.offset, 1000);
  CHECK_EQ(st.state, GB_XFER_RECEIVING);
  /* Too much for what is left: refused, state kept. */
  CHECK(gb_transfer_chunk(&t, 5, 1000, data, sizeof data, now, &st));
  CHECK_EQ(st.error, GB_XERR_TOO_LARGE);
  CHECK_EQ(st.state, GB_XFER_RECEIVING);
  CHECK_EQ(st.offset, 1000);
  /* Unknown id. */
  CHECK(gb_transfer_chunk(&t, 6, 1000, data, 100, now, &st));
  CHECK_EQ(st.error, GB_XERR_NO_SUCH_TRANSFER);
  CHECK_EQ(st.state, GB_XFER_UNKNOWN);

  /* Link loss: the SoC asks again with the same Begin: resume at 1000; a Query says the same. */
  gb_transfer_begin(&t, 5, 1, sizeof data, sha, 32, 1, now, &st);
  CHECK_EQ(st.state, GB_XFER_RECEIVING);
  CHECK_EQ(st.offset, 1000);
  gb_transfer_query(&t, 5, &st);
  CHECK_EQ(st.offset, 1000);

  /* Another transfer while 5 is RECEIVING: BUSY for the same SoC session within the idle time, 5 untouched;
   * the same id with another digest is another transfer too. */
  gb_transfer_begin(&t, 6, 1, 100, sha, 32, 1, now + GB_TRANSFER_IDLE_MS - 1u, &st);
  CHECK_EQ(st.state, GB_XFER_UNKNOWN);
  CHECK_EQ(st.error, GB_XERR_BUSY);
  CHECK_EQ(st.transfer_id, 6);
  uint8_t other[32];
  memcpy(other, sha, 32);
  other[0] ^= 1u;
  gb_transfer_begin(&t, 5, 1, sizeof data, other, 32, 1, now, &st);
  CHECK_EQ(st.error, GB_XERR_BUSY);
  gb_transfer_query(&t, 5, &st);
  CHECK_EQ(st.state, GB_XFER_RECEIVING);
  CHECK_EQ(st.offset, 1000);
  /* An accepted chunk is progress: 29.999 s after it (49.999 s after the resume), still BUSY. */
  now += 20000u;
  CHECK(!gb_transfer_chunk(&t, 5, 1000, data + 1000, 100, now, &st));

  gb_transfer_begin(&t, 6, 1, 100, sha, 32, 1, now + GB_TRANSFER_IDLE_MS - 1u, &st);
  CHECK_EQ(st.error, GB_XERR_BUSY);
  /* A resume by a new SoC session (glassbridge restarted) takes the transfer over. */
  gb_transfer_begin(&t, 5, 1, sizeof data, sha, 32, 2, now, &st);
  CHECK_EQ(st.state, GB_XFER_RECEIVING);
  CHECK_EQ(st.offset, 1100);
  gb_transfer_begin(&t, 6, 1, 100, sha, 32, 2, now, &st); /* and it is BUSY for the new session's Begins */
  CHECK_EQ(st.error, GB_XERR_BUSY);

  /* The rest in uneven chunks; the last is answered VERIFIED. */
  uint32_t off = 1100;
  bool last = false;
  while (off < sizeof data) {
    uint32_t n = sizeof data - off < 333u ? (uint32_t)(sizeof data - off) : 333u;
    last = gb_transfer_chunk(&t, 5, off, data + off, n, now, &st);
    off += n;
  }
  CHECK(last);
  CHECK_EQ(st.state, GB_XFER_VERIFIED);
  CHECK_EQ(st.offset, sizeof data);
  /* A chunk past the end: TOO_LARGE on a fresh transfer; on a finished one, its final state again. */
  CHECK(gb_transfer_chunk(&t, 5, off, data, 1, now, &st));
  CHECK_EQ(st.state, GB_XFER_VERIFIED);
  /* Begin again after completion: VERIFIED with offset = size, nothing to send. */
  gb_transfer_begin(&t, 5, 1, sizeof data, sha, 32, 1, now, &st);
  CHECK_EQ(st.state, GB_XFER_VERIFIED);
  CHECK_EQ(st.offset, sizeof data);
  CHECK_EQ(st.error, GB_XERR_OK);

  /* A corrupted transfer fails with HASH_MISMATCH. */
  gb_transfer_begin(&t, 7, 1, 300, sha, 32, 1, now, &st);
  CHECK_EQ(st.offset, 0);
  CHECK(gb_transfer_chunk(&t, 7, 0, data, 300, now, &st));
  CHECK_EQ(st.state, GB_XFER_FAILED);
  CHECK_EQ(st.error, GB_XERR_HASH_MISMATCH);
  /* A Begin of the failed transfer starts it again at 0. */
  gb_transfer_begin(&t, 7, 1, 300, sha, 32, 1, now, &st);
  CHECK_EQ(st.state, GB_XFER_RECEIVING);
  CHECK_EQ(st.offset, 0);
  CHECK_EQ(st.error, GB_XERR_OK);

  /* A dead sender: another id replaces 7 after GB_TRANSFER_IDLE_MS without progress, in the same session;
   * a Begin from a new session replaces it at once. */
  gb_transfer_begin(&t, 11, 1, 100, sha, 32, 1, now + GB_TRANSFER_IDLE_MS - 1u, &st);
  CHECK_EQ(st.error, GB_XERR_BUSY);
  /* A refused chunk is no progress: the idle time still counts from the restart. */
  CHECK(gb_transfer_chunk(&t, 7, 100, data, 100, now + GB_TRANSFER_IDLE_MS - 1u, &st));
  CHECK_EQ(st.error, GB_XERR_OFFSET_MISMATCH);
  gb_transfer_begin(&t, 11, 1, 100, sha, 32, 1, now + GB_TRANSFER_IDLE_MS, &st);
  CHECK_EQ(st.state, GB_XFER_RECEIVING);
  CHECK_EQ(st.transfer_id, 11);
  gb_transfer_query(&t, 7, &st);
  CHECK_EQ(st.state, GB_XFER_UNKNOWN);
  gb_transfer_begin(&t, 12, 1, 100, sha, 32, 3, now + GB_TRANSFER_IDLE_MS, &st);
  CHECK_EQ(st.state, GB_XFER_RECEIVING);
  CHECK_EQ(st.transfer_id, 12);
  now += 2u * GB_TRANSFER_IDLE_MS; /* 12 idle: the next ones are not refused */
  /* The clock wraps (uint32 ms, 49.7 days): the idle time is a difference, still right. */
  gb_transfer_init(&t);
  gb_transfer_begin(&t, 13, 1, 100, sha, 32, 1, 0xFFFFFF00u, &st);
  gb_transfer_begin(&t, 14, 1, 100, sha, 32, 1, 0x100u, &st);
  CHECK_EQ(st.error, GB_XERR_BUSY);
  gb_transfer_init(&t);

  /* Too much data for the announced size. */
  gb_transfer_begin(&t, 8, 1, 100, sha, 32, 1, now, &st);
  CHECK(gb_transfer_chunk(&t, 8, 0, data, 101, now, &st));
  CHECK_EQ(st.error, GB_XERR_TOO_LARGE);
  CHECK_EQ(st.offset, 0);

  gb_transfer_init(&t);
  /* FIPS "abc" in three one-byte chunks, and the empty transfer (verified at Begin). */
  static const uint8_t ABC[32] = {0xba, 0x78, 0x16, 0xbf, 0x8f, 0x01, 0xcf, 0xea, 0x41, 0x41, 0x40,
                                  0xde, 0x5d, 0xae, 0x22, 0x23, 0xb0, 0x03, 0x61, 0xa3, 0x96, 0x17,
                                  0x7a, 0x9c, 0xb4, 0x10, 0xff, 0x61, 0xf2, 0x00, 0x15, 0xad};
  gb_transfer_begin(&t, 9, 2, 3, ABC, 32, 1, now, &st);
  gb_transfer_chunk(&t, 9, 0, (const uint8_t *)"a", 1, now, &st);
  gb_transfer_chunk(&t, 9, 1, (const uint8_t *)"b", 1, now, &st);
  CHECK(gb_transfer_chunk(&t, 9, 2, (const uint8_t *)"c", 1, now, &st));
  CHECK_EQ(st.state, GB_XFER_VERIFIED);
  static const uint8_t EMPTY[32] = {0xe3, 0xb0, 0xc4, 0x42, 0x98, 0xfc, 0x1c, 0x14, 0x9a, 0xfb, 0xf4,
                                    0xc8, 0x99, 0x6f, 0xb9, 0x24, 0x27, 0xae, 0x41, 0xe4, 0x64, 0x9b,
                                    0x93, 0x4c, 0xa4, 0x95, 0x99, 0x1b, 0x78, 0x52, 0xb8, 0x55};
  gb_transfer_begin(&t, 10, 2, 0, EMPTY, 32, 1, now, &st);
  CHECK_EQ(st.state, GB_XFER_VERIFIED);

  /* Reboot: RAM state gone. */
  gb_transfer_init(&t);
  gb_transfer_query(&t, 10, &st);
  CHECK_EQ(st.state, GB_XFER_UNKNOWN);
  CHECK_EQ(st.offset, 0);
}
