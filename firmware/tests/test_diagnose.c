/* diagnose.c: the request_id of a Message the codec refuses (bytes written by hand from the protobuf encoding
 * rules, https://protobuf.dev/programming-guides/encoding/), and the version-mismatch sentence (the expected
 * sentences are written out here in full). */
#include <string.h>

#include "check.h"
#include "diagnose.h"
#include "glassbridge/messages.h"

static uint32_t peek(const uint8_t *b, size_t n) { return gb_peek_request_id(b, n); }

static void request_ids(void) {
  /* request_id 42 (08 2a), then a DisplayCard (field 13, 6a) whose title (field 4, 22) is 60 bytes: over the
   * codec's limit of 47, so the Message does not decode, but its request_id does. */
  uint8_t card[2 + 2 + 2 + 60] = {0x08, 0x2a, 0x6a, 62, 0x22, 60};
  memset(card + 6, 'x', 60);
  gb_Message m;
  gb_pb_status err;
  CHECK(!gb_Message_decode(card, sizeof card, &m, &err));
  CHECK_EQ(err, GB_PB_ERR_TOO_LARGE);
  CHECK_EQ(peek(card, sizeof card), 42);
  /* The body first, the request_id after it (any field order is valid protobuf): 300 = ac 02. */
  const uint8_t late[] = {0x6a, 0x00, 0x08, 0xac, 0x02};
  CHECK_EQ(peek(late, sizeof late), 300);
  /* The largest request_id, ff ff ff ff 0f; one more bit is no uint32 request_id. */
  const uint8_t max[] = {0x08, 0xff, 0xff, 0xff, 0xff, 0x0f};
  CHECK_EQ(peek(max, sizeof max), 0xFFFFFFFFu);
  const uint8_t wide[] = {0x08, 0x80, 0x80, 0x80, 0x80, 0x10};
  CHECK_EQ(peek(wide, sizeof wide), 0);
  /* Malformed before field 1 (a length running past the end): nothing to trust. */
  const uint8_t cut[] = {0x6a, 0x09, 0x22, 0x01, 0x08, 0x07};
  CHECK_EQ(peek(cut, sizeof cut), 0);
  /* Field 1 with the wrong wire type (length-delimited), no field 1, empty input. */
  const uint8_t typed[] = {0x0a, 0x01, 0x07};
  CHECK_EQ(peek(typed, sizeof typed), 0);
  const uint8_t none[] = {0x1a, 0x00};
  CHECK_EQ(peek(none, sizeof none), 0);
  CHECK_EQ(peek(NULL, 0), 0);
}

static void version_texts(void) {
  char text[GB_DISPLAY_CARD_TEXT_LIMIT + 1];
  gb_peer_info soc;
  memset(&soc, 0, sizeof soc);
  soc.min_protocol_version = 9;
  soc.protocol_version = 9;
  gb_version_mismatch_text(text, sizeof text, &soc, 1, 1);
  CHECK(strcmp(text, "The SoC speaks link protocol versions 9 to 9, this firmware 1 to 1. This firmware is older: "
                     "update it.") == 0);
  soc.min_protocol_version = 1;
  soc.protocol_version = 2;
  gb_version_mismatch_text(text, sizeof text, &soc, 3, 4);
  CHECK(strcmp(text, "The SoC speaks link protocol versions 1 to 2, this firmware 3 to 4. The SoC is older: update "
                     "glassbridge on it.") == 0);
  soc.protocol_version = 3;
  gb_version_mismatch_text(text, sizeof text, &soc, 3, 4);
  CHECK(strcmp(text, "The SoC speaks link protocol versions 1 to 3, this firmware 3 to 4. The versions overlap: the "
                     "SoC refused this firmware's link limits.") == 0);
  CHECK(strlen(text) <= GB_DISPLAY_CARD_TEXT_LIMIT);
}

void gb_tests(void) {
  request_ids();
  version_texts();
}
