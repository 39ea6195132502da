/* The bulk-transfer sink: the path a firmware update takes. The SoC announces a transfer (id, size, SHA-256),
 * sends chunks in order, and the MCU hashes them as they come and verifies the digest at the end. Nothing is
 * stored here (this issue verifies, it does not flash), so a transfer of any size up to GB_TRANSFER_MAX_SIZE
 * costs one SHA-256 state of RAM.
 *
 * Resume: the state (offset, hash so far) lives in RAM across link losses. After a reconnect the SoC sends
 * TransferQuery, or TransferBegin again with the same id and digest, and learns the confirmed offset to resume
 * from. After an MCU reboot the RAM is gone: the answer is state UNKNOWN and the SoC starts again.
 * One transfer at a time: a Begin with another id replaces the current one (the SoC is the only sender).
 */
#ifndef GB_APP_TRANSFER_H
#define GB_APP_TRANSFER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "sha256.h"

#define GB_TRANSFER_MAX_SIZE (16u * 1024u * 1024u)
#define GB_TRANSFER_ACK_EVERY 8u  /* chunks between two TransferStatus answers while receiving */

/* Values are TransferState and ErrorCode of glassbridge.proto (dispatch.c checks they match). */
typedef enum {
  GB_XFER_UNSPECIFIED = 0, GB_XFER_RECEIVING = 1, GB_XFER_VERIFIED = 2, GB_XFER_FAILED = 3, GB_XFER_UNKNOWN = 4
} gb_transfer_state;

typedef enum {
  GB_XERR_OK = 0, GB_XERR_BAD_REQUEST = 2, GB_XERR_NO_SUCH_TRANSFER = 4, GB_XERR_OFFSET_MISMATCH = 5,
  GB_XERR_HASH_MISMATCH = 6, GB_XERR_TOO_LARGE = 7
} gb_transfer_error;

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
  uint8_t expected[GB_SHA256_SIZE];
  gb_sha256 sha;
} gb_transfer;

void gb_transfer_init(gb_transfer *t);

/* TransferBegin. Always answered. */
void gb_transfer_begin(gb_transfer *t, uint32_t id, uint32_t kind, uint32_t size, const uint8_t *sha256,
                       size_t sha256_len, gb_transfer_status *out);

/* TransferChunk. Returns true when it must be answered with *out (errors, every ack_every-th chunk, the end). */
bool gb_transfer_chunk(gb_transfer *t, uint32_t id, uint32_t offset, const uint8_t *data, size_t len,
                       gb_transfer_status *out);

/* TransferQuery. Always answered. */
void gb_transfer_query(const gb_transfer *t, uint32_t id, gb_transfer_status *out);

#endif
