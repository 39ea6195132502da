/* CRC-32C (Castagnoli), the CRC of iSCSI and ext4: see include/glassbridge/frame.h.
 *
 * Why CRC-32C and not the zlib CRC-32: its polynomial has a larger Hamming distance at our frame sizes (HD 6 up
 * to 5,243 bits vs HD 4 for CRC-32, Koopman 2002), so more multi-bit line errors are caught, and ARMv8 and
 * SSE4.2 compute it in hardware should the SoC side ever need the speed. A 256-entry table (1 KB of flash)
 * is built at compile time so the MCU pays no start-up cost and no RAM.
 */
#include "glassbridge/frame.h"

#define P 0x82F63B78u
/* One table entry: 8 steps of the bitwise algorithm on byte value b, written as macros so the table is a
 * constant expression (C11 has no constexpr functions). */
#define S1(c) (((c) >> 1) ^ (((c) & 1u) ? P : 0u))
#define S8(c) S1(S1(S1(S1(S1(S1(S1(S1(c))))))))
#define R4(b) S8((uint32_t)(b)), S8((uint32_t)(b) + 1u), S8((uint32_t)(b) + 2u), S8((uint32_t)(b) + 3u)
#define R16(b) R4(b), R4((b) + 4u), R4((b) + 8u), R4((b) + 12u)
#define R64(b) R16(b), R16((b) + 16u), R16((b) + 32u), R16((b) + 48u)

static const uint32_t crc_table[256] = {R64(0u), R64(64u), R64(128u), R64(192u)};

uint32_t gb_crc32c(uint32_t crc, const void *data, size_t n) {
  const uint8_t *p = (const uint8_t *)data;
  uint32_t c = ~crc;
  while (n--) c = crc_table[(c ^ *p++) & 0xFFu] ^ (c >> 8);
  return ~c;
}
