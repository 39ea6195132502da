/* Private to the link engine: the Hello message of channel 0 (glassbridge.proto `message Hello`), carried in the
 * engine's own gb_peer_info and encoded/decoded by the generated codec (gb_Hello of messages.h). */
#ifndef GLASSBRIDGE_SRC_HELLO_H
#define GLASSBRIDGE_SRC_HELLO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "glassbridge/link.h"
#include "glassbridge/pb.h"

typedef struct {
  gb_peer_info info;     /* protocol versions, session, boot counter, limits, capabilities, role, firmware */
  uint32_t peer_session; /* field 4 */
  bool reject;           /* field 11 */
  uint32_t link_timeout_ms; /* field 13: the sender's link timeout, 0 from an older sender (SPEC.md 4.5) */
} gb_hello_fields;

/* GB_HELLO_MAX_SIZE (messages.h): the largest Hello, every field at its widest. */
#include "glassbridge/messages.h"

/* Field by field in field-number order, proto3 style (zero values omitted), so the bytes equal what Python's
 * protobuf produces for the same message. */
bool gb_link_hello_encode(const gb_hello_fields *h, uint8_t *buf, size_t cap, size_t *len);
/* Zeroes *out first; unknown fields are skipped (a newer peer may add some); a wrong wire type, a truncated
 * field or a firmware_version longer than 31 bytes fails. */
bool gb_link_hello_decode(const uint8_t *buf, size_t len, gb_hello_fields *out, gb_pb_status *err);

#endif
