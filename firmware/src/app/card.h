/* Text cards on the 256x128 display (DisplayCard of glassbridge.proto). The layout, which
 * tests/firmware/card_reference.py reimplements from this description alone:
 *
 *  - Text is UTF-8; each character outside printable ASCII (a multi-byte sequence counts once, as does a
 *    control character other than '\n') is drawn as '?'.
 *  - Header: the icon (if not ICON_NONE) at (2, 2); the title at x = 22 with an icon, 2 without, y = 3.
 *    Scale 2 (12 px per character) when the whole title fits in the width left (256 - x - 2); otherwise
 *    scale 1 (6 px), cut to the characters that fit, the last three of them replaced by "..." when cut.
 *  - A rule across the whole width at y = 20.
 *  - Body from y = 24, x = 2, scale 1: 42 characters per line, 9 px per line, 11 lines. Greedy word wrap:
 *    words are separated by spaces; '\n' ends a line; a word longer than a line is split at the line end;
 *    spaces at the start of a wrapped line are dropped. If the text needs more than 11 lines, the 11th line
 *    keeps its whole words that fit before an appended "..." (cut at a word boundary; if no whole word fits,
 *    cut the characters), and the rest is not shown.
 *  - CARD_KIND_PAIRING with a body of at most 14 characters (the six-digit code): the body is drawn once at
 *    scale 3 (18 px per character), centred horizontally, at y = 52.
 */
#ifndef GB_APP_CARD_H
#define GB_APP_CARD_H

#include <stdint.h>

#include "framebuffer.h"

#define GB_CARD_BODY_X 2
#define GB_CARD_BODY_Y 24
#define GB_CARD_LINE_H 9
#define GB_CARD_COLS 42u
#define GB_CARD_LINES 11u
#define GB_CARD_KIND_PAIRING 7u  /* CardKind value */

/* Clears fb and draws the card. */
void gb_card_render(gb_framebuffer *fb, uint32_t kind, uint32_t icon, const char *title, const char *text);

#endif
