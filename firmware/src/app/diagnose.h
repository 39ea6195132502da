/* What the firmware tells about requests it cannot serve: the request_id of a Message it cannot decode (so the
 * SoC's request fails at once instead of timing out), and the sentence shown on the display when the SoC speaks
 * link protocol versions this firmware cannot. No HAL, no state: unit-tested on its own (tests/test_diagnose.c). */
#ifndef GB_APP_DIAGNOSE_H
#define GB_APP_DIAGNOSE_H

#include <stddef.h>
#include <stdint.h>

#include "glassbridge/link.h"

/* Message.request_id (field 1, varint) of a Message that may not decode as a whole: the top-level fields are
 * walked until field 1 or the first malformed one. 0 when absent, malformed or wider than 32 bits. */
uint32_t gb_peek_request_id(const uint8_t *data, size_t len);

/* "The SoC speaks link protocol versions A to B, this firmware C to D: update ...", naming the older side (or the
 * SoC's refusal when the versions overlap). Cut to `cap` (a card's text holds 191 bytes). */
void gb_version_mismatch_text(char *out, size_t cap, const gb_peer_info *soc, uint32_t own_min, uint32_t own_max);

#endif
