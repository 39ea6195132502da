/* The display: the app renders into its own framebuffer (src/app/framebuffer.h) and hands it over whole.
 * 1 bit per pixel, rows top to bottom, MSB = leftmost pixel, width/8 bytes per row. */
#ifndef GB_HAL_DISPLAY_H
#define GB_HAL_DISPLAY_H

#include <stdint.h>

void hal_display_flush(const uint8_t *pixels, uint16_t width, uint16_t height);

#endif
