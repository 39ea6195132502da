/* The link engine's Hello (channel 0): a thin adapter between the engine's gb_peer_info and the generated
 * gb_Hello codec (messages.c), so that one codec, proven against Python's protobuf, serves the engine too. */
#include "hello.h"

#include <string.h>

#include "glassbridge/messages.h"

bool gb_link_hello_encode(const gb_hello_fields *h, uint8_t *buf, size_t cap, size_t *len) {
  const gb_peer_info *i = &h->info;
  gb_Hello m;
  memset(&m, 0, sizeof m);
  m.protocol_version = i->protocol_version;
  m.min_protocol_version = i->min_protocol_version;
  m.session = i->session;
  m.peer_session = h->peer_session;
  m.boot_counter = i->boot_counter;
  m.max_frame = i->max_frame;
  m.window = i->window;
  m.capabilities = i->capabilities;
  m.role = (int32_t)i->role;
  /* Both buffers hold 31 bytes + NUL (GB_HELLO_FIRMWARE_VERSION_LIMIT); copy at most that many. */
  size_t n = 0;
  while (n < GB_HELLO_FIRMWARE_VERSION_LIMIT && n < sizeof i->firmware_version - 1 && i->firmware_version[n]) n++;
  memcpy(m.firmware_version, i->firmware_version, n);
  m.firmware_version[n] = 0;
  m.reject = h->reject;
  m.max_message = i->max_message;
  m.link_timeout_ms = h->link_timeout_ms;
  gb_pb_status err;
  return gb_Hello_encode(&m, buf, cap, len, &err);
}

bool gb_link_hello_decode(const uint8_t *buf, size_t len, gb_hello_fields *out, gb_pb_status *err) {
  memset(out, 0, sizeof *out);
  gb_Hello m;
  gb_pb_status status;
  if (!gb_Hello_decode(buf, len, &m, &status)) {
    if (err) *err = status;
    return false;
  }
  gb_peer_info *i = &out->info;
  i->protocol_version = m.protocol_version;
  i->min_protocol_version = m.min_protocol_version;
  i->session = m.session;
  out->peer_session = m.peer_session;
  i->boot_counter = m.boot_counter;
  i->max_frame = m.max_frame;
  i->window = m.window;
  i->capabilities = m.capabilities;
  /* A role this version does not know (a newer peer) reads as unspecified: roles only inform. */
  i->role = (m.role >= 0 && m.role <= (int32_t)GB_ROLE_PHONE) ? (gb_role)m.role : GB_ROLE_UNSPECIFIED;
  memcpy(i->firmware_version, m.firmware_version, sizeof i->firmware_version);
  i->firmware_version[sizeof i->firmware_version - 1] = 0;
  out->reject = m.reject;
  i->max_message = m.max_message;
  out->link_timeout_ms = m.link_timeout_ms;
  if (err) *err = GB_PB_OK;
  return true;
}
