/* The firmware's bitmap font: printable ASCII (0x20-0x7E), 5x7 pixels in a 6x8 cell (one column and one row of
 * spacing). Designed here for a 256x128 monochrome display: 42 characters per line at scale 1. */
#ifndef GB_APP_FONT_H
#define GB_APP_FONT_H

#include <stdint.h>

#define GB_FONT_W 5u       /* glyph columns */
#define GB_FONT_H 7u       /* glyph rows */
#define GB_FONT_CELL_W 6u  /* advance */
#define GB_FONT_CELL_H 8u
#define GB_FONT_FIRST 0x20
#define GB_FONT_LAST 0x7E

/* The glyph of c: GB_FONT_W column bytes, bit 0 = top row. Characters outside the range draw as '?'. */
const uint8_t *gb_font_glyph(char c);

#endif
