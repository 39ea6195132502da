/* See diagnose.h. */
#include "diagnose.h"

#include <stdio.h>

#include "glassbridge/pb.h"

uint32_t gb_peek_request_id(const uint8_t *data, size_t len) {
  gb_pb_reader r;
  gb_pb_field_t f;
  gb_pb_reader_init(&r, data, len);
  while (gb_pb_next(&r, &f)) {
    if (f.field != 1) continue;
    if (f.wire_type != GB_PB_VARINT || f.varint > 0xFFFFFFFFu) return 0;
    return (uint32_t)f.varint;
  }
  return 0;
}

void gb_version_mismatch_text(char *out, size_t cap, const gb_peer_info *soc, uint32_t own_min, uint32_t own_max) {
  const char *advice;
  if (soc->protocol_version < own_min) {
    advice = "The SoC is older: update glassbridge on it.";
  } else if (soc->min_protocol_version > own_max) {
    advice = "This firmware is older: update it.";
  } else {
    advice = "The versions overlap: the SoC refused this firmware's link limits.";
  }
  snprintf(out, cap, "The SoC speaks link protocol versions %lu to %lu, this firmware %lu to %lu. %s",
           (unsigned long)soc->min_protocol_version, (unsigned long)soc->protocol_version, (unsigned long)own_min,
           (unsigned long)own_max, advice);
}
