/* SHA-256 (FIPS 180-4), streaming: the bulk-transfer sink hashes each chunk as it arrives, so a firmware image
 * never has to fit in RAM to be verified. */
#ifndef GB_APP_SHA256_H
#define GB_APP_SHA256_H

#include <stddef.h>
#include <stdint.h>

#define GB_SHA256_SIZE 32u

typedef struct {
  uint32_t h[8];
  uint64_t length;     /* bytes hashed so far */
  uint8_t block[64];
  uint32_t fill;       /* bytes waiting in block */
} gb_sha256;

void gb_sha256_init(gb_sha256 *s);
void gb_sha256_update(gb_sha256 *s, const void *data, size_t n);
void gb_sha256_final(gb_sha256 *s, uint8_t digest[GB_SHA256_SIZE]);

#endif
