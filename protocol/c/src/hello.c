/* Hello encode/decode for the link engine: see hello.h. Field numbers are glassbridge.proto's. */
#include "hello.h"

#include <string.h>

enum {
  F_PROTOCOL_VERSION = 1,
  F_MIN_PROTOCOL_VERSION = 2,
  F_SESSION = 3,
  F_PEER_SESSION = 4,
  F_BOOT_COUNTER = 5,
  F_MAX_FRAME = 6,
  F_WINDOW = 7,
  F_CAPABILITIES = 8,
  F_ROLE = 9,
  F_FIRMWARE_VERSION = 10,
  F_REJECT = 11,
  F_MAX_MESSAGE = 12,
};

bool gb_link_hello_encode(const gb_hello_fields *h, uint8_t *buf, size_t cap, size_t *len) {
  gb_pb_writer w;
  gb_pb_writer_init(&w, buf, cap);
  const gb_peer_info *i = &h->info;
  gb_pb_field_uint(&w, F_PROTOCOL_VERSION, i->protocol_version);
  gb_pb_field_uint(&w, F_MIN_PROTOCOL_VERSION, i->min_protocol_version);
  gb_pb_field_fixed32(&w, F_SESSION, i->session);
  gb_pb_field_fixed32(&w, F_PEER_SESSION, h->peer_session);
  gb_pb_field_uint(&w, F_BOOT_COUNTER, i->boot_counter);
  gb_pb_field_uint(&w, F_MAX_FRAME, i->max_frame);
  gb_pb_field_uint(&w, F_WINDOW, i->window);
  gb_pb_field_uint(&w, F_CAPABILITIES, i->capabilities);
  gb_pb_field_int(&w, F_ROLE, (int64_t)i->role);
  size_t fw_len = 0; /* strnlen is POSIX, not C11 */
  while (fw_len < sizeof i->firmware_version - 1 && i->firmware_version[fw_len]) fw_len++;
  gb_pb_field_bytes(&w, F_FIRMWARE_VERSION, i->firmware_version, fw_len);
  gb_pb_field_bool(&w, F_REJECT, h->reject);
  gb_pb_field_uint(&w, F_MAX_MESSAGE, i->max_message);
  *len = w.len;
  return w.status == GB_PB_OK;
}

bool gb_link_hello_decode(const uint8_t *buf, size_t len, gb_hello_fields *out, gb_pb_status *err) {
  memset(out, 0, sizeof *out);
  gb_pb_reader r;
  gb_pb_reader_init(&r, buf, len);
  gb_pb_field_t f;
  gb_peer_info *i = &out->info;
  while (gb_pb_next(&r, &f)) {
    switch (f.field) {
      case F_PROTOCOL_VERSION: i->protocol_version = gb_pb_as_u32(&r, &f); break;
      case F_MIN_PROTOCOL_VERSION: i->min_protocol_version = gb_pb_as_u32(&r, &f); break;
      case F_SESSION: i->session = gb_pb_as_fixed32(&r, &f); break;
      case F_PEER_SESSION: out->peer_session = gb_pb_as_fixed32(&r, &f); break;
      case F_BOOT_COUNTER: i->boot_counter = gb_pb_as_u32(&r, &f); break;
      case F_MAX_FRAME: i->max_frame = gb_pb_as_u32(&r, &f); break;
      case F_WINDOW: i->window = gb_pb_as_u32(&r, &f); break;
      case F_CAPABILITIES: i->capabilities = gb_pb_as_u32(&r, &f); break;
      case F_ROLE: {
        /* A role this version does not know (a newer peer) reads as unspecified: roles only inform. */
        int32_t role = gb_pb_as_i32(&r, &f);
        i->role = (role >= 0 && role <= (int32_t)GB_ROLE_PHONE) ? (gb_role)role : GB_ROLE_UNSPECIFIED;
        break;
      }
      case F_FIRMWARE_VERSION: gb_pb_as_string(&r, &f, i->firmware_version, sizeof i->firmware_version); break;
      case F_REJECT: out->reject = gb_pb_as_bool(&r, &f); break;
      case F_MAX_MESSAGE: i->max_message = gb_pb_as_u32(&r, &f); break;
      default: break; /* a field from a newer version: skipped, as protobuf does */
    }
    if (r.status != GB_PB_OK) break;
  }
  if (err) *err = r.status;
  return r.status == GB_PB_OK;
}
