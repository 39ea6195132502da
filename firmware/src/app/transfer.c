/* Bulk-transfer sink with streaming SHA-256 verification and resume: see transfer.h for the rules. */
#include "transfer.h"

#include <string.h>

void gb_transfer_init(gb_transfer *t) {
  memset(t, 0, sizeof *t);
  t->state = GB_XFER_UNKNOWN;
}

uint32_t gb_transfer_limit(uint32_t kind) {
  switch (kind) {
    case GB_XKIND_FIRMWARE: return GB_TRANSFER_MAX_FIRMWARE;
    case GB_XKIND_ASSET: return GB_TRANSFER_MAX_ASSET;
    default: return 0;
  }
}

static gb_transfer_error final_error(const gb_transfer *t) {
  return t->state == GB_XFER_FAILED ? GB_XERR_HASH_MISMATCH : GB_XERR_OK;
}

static void status_of(const gb_transfer *t, gb_transfer_error err, gb_transfer_status *out) {
  out->transfer_id = t->id;
  out->state = t->state;
  out->offset = t->offset;
  out->error = err;
  out->ack_every = GB_TRANSFER_ACK_EVERY;
}

static void unknown(uint32_t id, gb_transfer_error err, gb_transfer_status *out) {
  out->transfer_id = id;
  out->state = GB_XFER_UNKNOWN;
  out->offset = 0;
  out->error = err;
  out->ack_every = GB_TRANSFER_ACK_EVERY;
}

static void finish(gb_transfer *t) {
  uint8_t got[GB_SHA256_SIZE];
  gb_sha256 copy = t->sha; /* keep the running state intact: a repeated Begin must not re-finalise it */
  gb_sha256_final(&copy, got);
  t->state = memcmp(got, t->expected, sizeof got) == 0 ? GB_XFER_VERIFIED : GB_XFER_FAILED;
}

void gb_transfer_begin(gb_transfer *t, uint32_t id, uint32_t kind, uint32_t size, const uint8_t *sha256,
                       size_t sha256_len, uint32_t session, uint32_t now, gb_transfer_status *out) {
  uint32_t limit = gb_transfer_limit(kind);
  if (sha256_len != GB_SHA256_SIZE || id == 0 || limit == 0) {
    unknown(id, GB_XERR_BAD_REQUEST, out);
    return;
  }
  if (size > limit) {
    unknown(id, GB_XERR_TOO_LARGE, out);
    return;
  }
  bool same = t->state != GB_XFER_UNKNOWN && t->id == id && t->kind == kind && t->size == size &&
              memcmp(t->expected, sha256, GB_SHA256_SIZE) == 0;
  if (same && t->state == GB_XFER_RECEIVING) { /* the same transfer again (after a link loss): resume */
    t->chunks = 0;
    t->session = session;
    t->active_at = now;
    status_of(t, GB_XERR_OK, out);
    return;
  }
  if (same && t->state == GB_XFER_VERIFIED) { /* complete already: nothing to send */
    status_of(t, GB_XERR_OK, out);
    return;
  }
  /* Another transfer: refused while the running one is alive in the same SoC session. */
  if (!same && t->state == GB_XFER_RECEIVING && t->session == session && now - t->active_at < GB_TRANSFER_IDLE_MS) {
    unknown(id, GB_XERR_BUSY, out);
    return;
  }
  t->id = id;
  t->kind = kind;
  t->size = size;
  t->offset = 0;
  t->chunks = 0;
  t->session = session;
  t->active_at = now;
  memcpy(t->expected, sha256, GB_SHA256_SIZE);
  gb_sha256_init(&t->sha);
  t->state = GB_XFER_RECEIVING;
  if (size == 0) finish(t);
  status_of(t, final_error(t), out);
}

bool gb_transfer_chunk(gb_transfer *t, uint32_t id, uint32_t offset, const uint8_t *data, size_t len, uint32_t now,
                       gb_transfer_status *out) {
  if (t->state == GB_XFER_UNKNOWN || t->id != id) {
    unknown(id, GB_XERR_NO_SUCH_TRANSFER, out);
    return true;
  }
  if (t->state != GB_XFER_RECEIVING) { /* already complete: say how it ended */
    status_of(t, final_error(t), out);
    return true;
  }
  if (offset != t->offset) {
    status_of(t, GB_XERR_OFFSET_MISMATCH, out);
    return true;
  }
  if (len > t->size - t->offset) {
    status_of(t, GB_XERR_TOO_LARGE, out);
    return true;
  }
  gb_sha256_update(&t->sha, data, len);
  t->offset += (uint32_t)len;
  t->chunks++;
  t->active_at = now;
  if (t->offset == t->size) {
    finish(t);
    status_of(t, final_error(t), out);
    return true;
  }
  status_of(t, GB_XERR_OK, out);
  return t->chunks % GB_TRANSFER_ACK_EVERY == 0;
}

void gb_transfer_query(const gb_transfer *t, uint32_t id, gb_transfer_status *out) {
  if (t->state == GB_XFER_UNKNOWN || t->id != id) {
    unknown(id, GB_XERR_OK, out);
    return;
  }
  status_of(t, final_error(t), out);
}
