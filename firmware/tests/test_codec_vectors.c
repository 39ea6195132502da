/* The message codec compiled for this target against protocol/vectors/messages.txt (bytes from Python's
 * protobuf): every valid Message decodes and re-encodes to protobuf's exact bytes; every invalid one is
 * refused with the expected reason. */
#include <string.h>

#include "check.h"
#include "glassbridge/messages.h"
#include "message_vectors.h"

void gb_tests(void) {
  static gb_Message m;
  static uint8_t buf[GB_MESSAGE_MAX_SIZE + 16];
  int checked = 0;
  for (size_t i = 0; i < sizeof MESSAGE_VECTORS / sizeof MESSAGE_VECTORS[0]; i++) {
    gb_pb_status err = GB_PB_OK;
    bool ok = gb_Message_decode(MESSAGE_VECTORS[i].in, MESSAGE_VECTORS[i].in_len, &m, &err);
    if (MESSAGE_VECTORS[i].err != GB_PB_OK) {
      CHECK(!ok);
      CHECK_EQ(err, MESSAGE_VECTORS[i].err);
      if (ok || err != MESSAGE_VECTORS[i].err) gb_check_log("  vector %s\n", MESSAGE_VECTORS[i].name);
      checked++;
      continue;
    }
    CHECK(ok);
    size_t len = 0;
    CHECK(gb_Message_encode(&m, buf, sizeof buf, &len, &err));
    CHECK_EQ(len, MESSAGE_VECTORS[i].out_len);
    bool same = len == MESSAGE_VECTORS[i].out_len && memcmp(buf, MESSAGE_VECTORS[i].out, len) == 0;
    CHECK(same);
    if (!ok || !same) gb_check_log("  vector %s\n", MESSAGE_VECTORS[i].name);
    checked++;
  }
  CHECK(checked >= 60); /* the vector file has 66 Message vectors: none silently lost */
}
