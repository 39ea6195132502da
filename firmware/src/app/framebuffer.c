/* Pixel, text and icon drawing into the 1-bit framebuffer: see framebuffer.h. */
#include "framebuffer.h"

#include <string.h>

#include "font.h"
#include "icons.h"

void gb_fb_clear(gb_framebuffer *fb) { memset(fb->px, 0, sizeof fb->px); }

void gb_fb_set(gb_framebuffer *fb, int x, int y, bool on) {
  if (x < 0 || y < 0 || x >= (int)GB_FB_W || y >= (int)GB_FB_H) return;
  uint8_t bit = (uint8_t)(0x80u >> (x & 7));
  uint8_t *p = &fb->px[(unsigned)y * GB_FB_STRIDE + (unsigned)x / 8u];
  *p = on ? (uint8_t)(*p | bit) : (uint8_t)(*p & ~bit);
}

bool gb_fb_get(const gb_framebuffer *fb, int x, int y) {
  if (x < 0 || y < 0 || x >= (int)GB_FB_W || y >= (int)GB_FB_H) return false;
  return (fb->px[(unsigned)y * GB_FB_STRIDE + (unsigned)x / 8u] >> (7 - (x & 7))) & 1u;
}

void gb_fb_hline(gb_framebuffer *fb, int x, int y, int w) {
  for (int i = 0; i < w; i++) gb_fb_set(fb, x + i, y, true);
}

void gb_fb_char(gb_framebuffer *fb, int x, int y, char c, unsigned scale) {
  const uint8_t *g = gb_font_glyph(c);
  int s = (int)scale;
  for (int col = 0; col < (int)GB_FONT_W; col++)
    for (int row = 0; row < (int)GB_FONT_H; row++)
      if ((g[col] >> row) & 1u)
        for (int dy = 0; dy < s; dy++)
          for (int dx = 0; dx < s; dx++) gb_fb_set(fb, x + col * s + dx, y + row * s + dy, true);
}

void gb_fb_text(gb_framebuffer *fb, int x, int y, const char *s, unsigned n, unsigned scale) {
  for (unsigned i = 0; i < n && s[i]; i++) gb_fb_char(fb, x + (int)(i * GB_FONT_CELL_W * scale), y, s[i], scale);
}

void gb_fb_icon(gb_framebuffer *fb, int x, int y, uint32_t icon) {
  for (unsigned r = 0; r < GB_ICON_SIZE; r++) {
    uint16_t bits = gb_icon_row(icon, r);
    for (unsigned c = 0; c < GB_ICON_SIZE; c++)
      if (bits & (0x8000u >> c)) gb_fb_set(fb, x + (int)c, y + (int)r, true);
  }
}
