/* 16x16 monochrome icons for display cards (Icon of glassbridge.proto). */
#ifndef GB_APP_ICONS_H
#define GB_APP_ICONS_H

#include <stdint.h>

#define GB_ICON_SIZE 16u
#define GB_ICON_COUNT 11u  /* ICON_NONE .. ICON_BLUETOOTH */

/* Row r of icon i (bit 15 = leftmost pixel); all zero for ICON_NONE and unknown values. */
uint16_t gb_icon_row(uint32_t icon, unsigned r);

#endif
