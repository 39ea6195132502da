/* The display framebuffer: 256x128 pixels, 1 bit each (4 KB), in the layout hal_display_flush takes (rows top
 * to bottom, MSB = leftmost pixel). Drawing clips at the edges, so callers may draw partly off-screen. */
#ifndef GB_APP_FRAMEBUFFER_H
#define GB_APP_FRAMEBUFFER_H

#include <stdbool.h>
#include <stdint.h>

#define GB_FB_W 256u
#define GB_FB_H 128u
#define GB_FB_STRIDE (GB_FB_W / 8u)

typedef struct {
  uint8_t px[GB_FB_STRIDE * GB_FB_H];
} gb_framebuffer;

void gb_fb_clear(gb_framebuffer *fb);
void gb_fb_set(gb_framebuffer *fb, int x, int y, bool on);
bool gb_fb_get(const gb_framebuffer *fb, int x, int y);
void gb_fb_hline(gb_framebuffer *fb, int x, int y, int w);
/* One character of the font at (x, y) = its top-left corner, each font pixel drawn as scale x scale. */
void gb_fb_char(gb_framebuffer *fb, int x, int y, char c, unsigned scale);
/* n characters from s, advancing one cell each. */
void gb_fb_text(gb_framebuffer *fb, int x, int y, const char *s, unsigned n, unsigned scale);
void gb_fb_icon(gb_framebuffer *fb, int x, int y, uint32_t icon);

#endif
