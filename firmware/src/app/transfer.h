/* The bulk-transfer sink: the path a firmware update takes (SPEC.md section 10, the MCU's rules in 10.1). The SoC
 * announces a transfer (id, kind, size, SHA-256), sends chunks in order, and the MCU hashes them as they come and
 * verifies the digest at the end. Nothing is stored here (this issue verifies, it does not flash), so a transfer
 * costs one SHA-256 state of RAM whatever its size; the size limits are those of what a real board stores.
 *
 * TransferBegin, in this order (the first rule that applies answers):
 *  1. transfer_id 0 or a sha256 that is not 32 bytes: UNKNOWN + BAD_REQUEST;
 *  2. a kind other than FIRMWARE or ASSET (UNSPECIFIED, the phone link's PHOTO / AUDIO / AUDIO_OPUS, numbers
 *     this firmware does not know): UNKNOWN + BAD_REQUEST;
 *  3. a size over the kind's limit (GB_TRANSFER_MAX_FIRMWARE, GB_TRANSFER_MAX_ASSET): UNKNOWN + TOO_LARGE;
 *  4. the transfer held (same transfer_id, kind, size and sha256): RECEIVING -> RECEIVING at the kept offset
 *     (resume; the Begin's SoC session now owns it); VERIFIED -> VERIFIED with offset = size (nothing to send);
 *     FAILED -> begins again at offset 0;
 *  5. another transfer while one is RECEIVING, begun or moved on by the same SoC link session within the last
 *     GB_TRANSFER_IDLE_MS: UNKNOWN + BUSY (the running one is untouched);
 *  6. otherwise a new transfer replaces whatever was held: RECEIVING at offset 0 (a size of 0 is checked at
 *     once: VERIFIED, or FAILED + HASH_MISMATCH). A dead sender blocks the MCU for GB_TRANSFER_IDLE_MS at most,
 *     and a restarted SoC (a new link session) not at all.
 * TransferChunk: for an id not held, UNKNOWN + NO_SUCH_TRANSFER; for a finished transfer, its final state again;
 * not at the kept offset, RECEIVING + OFFSET_MISMATCH; more data than the size has left, RECEIVING + TOO_LARGE
 * (a refused chunk changes nothing: the state stays RECEIVING at the kept offset). An accepted chunk is answered
 * when it is the ack_every-th since the Begin, and when it is the last (VERIFIED, or FAILED + HASH_MISMATCH).
 * TransferQuery: the state held for that id (FAILED with HASH_MISMATCH), or UNKNOWN with no error.
 *
 * Resume: the state (offset, hash so far) lives in RAM across link losses. After a reconnect the SoC sends
 * TransferQuery, or TransferBegin again with the same id and digest, and learns the confirmed offset to resume
 * from. After an MCU reboot the RAM is gone: the answer is state UNKNOWN and the SoC starts again.
 */
#ifndef GB_APP_TRANSFER_H
#define GB_APP_TRANSFER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "sha256.h"

/* Per-kind size limits: a FIRMWARE image fits the image slot of the smallest board (netduinoplus2, STM32F405 with
 * 1 MiB of flash); an ASSET (font, icons, a sound) fits its share of the asset area. */
#define GB_TRANSFER_MAX_FIRMWARE (1024u * 1024u)
#define GB_TRANSFER_MAX_ASSET (256u * 1024u)
#define GB_TRANSFER_ACK_EVERY 8u  /* chunks between two TransferStatus answers while receiving */
/* A RECEIVING transfer that made no progress (Begin, resume or accepted chunk) for this long no longer blocks a
 * Begin of another transfer by its own SoC session. */
#define GB_TRANSFER_IDLE_MS 30000u

/* Values are TransferState, ErrorCode and TransferKind of glassbridge.proto (dispatch.c checks they match). */
typedef enum {
  GB_XFER_UNSPECIFIED = 0, GB_XFER_RECEIVING = 1, GB_XFER_VERIFIED = 2, GB_XFER_FAILED = 3, GB_XFER_UNKNOWN = 4
} gb_transfer_state;

typedef enum {
  GB_XERR_OK = 0, GB_XERR_BAD_REQUEST = 2, GB_XERR_BUSY = 3, GB_XERR_NO_SUCH_TRANSFER = 4,
  GB_XERR_OFFSET_MISMATCH = 5, GB_XERR_HASH_MISMATCH = 6, GB_XERR_TOO_LARGE = 7
} gb_transfer_error;

typedef enum { GB_XKIND_FIRMWARE = 1, GB_XKIND_ASSET = 2 } gb_transfer_kind;

/* What to answer: a TransferStatus with these fields. */
typedef struct {
  uint32_t transfer_id;
  gb_transfer_state state;
  uint32_t offset;
  gb_transfer_error error;
  uint32_t ack_every;
} gb_transfer_status;

typedef struct {
  uint32_t id;
  gb_transfer_state state;  /* UNKNOWN = holds nothing */
  uint32_t kind;
  uint32_t size;
  uint32_t offset;
  uint32_t chunks;          /* since Begin, to pace the answers */
  uint32_t session;         /* the SoC link session that began (or resumed) it */
  uint32_t active_at;       /* when it last made progress: Begin, resume, accepted chunk (ms) */
  uint8_t expected[GB_SHA256_SIZE];
  gb_sha256 sha;
} gb_transfer;

void gb_transfer_init(gb_transfer *t);

/* The largest size of a kind, 0 for a kind the MCU does not take. */
uint32_t gb_transfer_limit(uint32_t kind);

/* TransferBegin from SoC link session `session` at time `now` (ms). Always answered. */
void gb_transfer_begin(gb_transfer *t, uint32_t id, uint32_t kind, uint32_t size, const uint8_t *sha256,
                       size_t sha256_len, uint32_t session, uint32_t now, gb_transfer_status *out);

/* TransferChunk at time `now`. Returns true when it must be answered with *out (errors, every ack_every-th chunk,
 * the end). */
bool gb_transfer_chunk(gb_transfer *t, uint32_t id, uint32_t offset, const uint8_t *data, size_t len, uint32_t now,
                       gb_transfer_status *out);

/* TransferQuery. Always answered. */
void gb_transfer_query(const gb_transfer *t, uint32_t id, gb_transfer_status *out);

#endif
