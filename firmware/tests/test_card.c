/* Card rendering against a reference written here from card.h's layout rules alone: a different wrapping
 * algorithm (words joined greedily, long words cut in 42-character pieces) and a plain pixel blitter that
 * reads the font's column bytes. The two framebuffers must agree bit for bit. Also checks single glyphs
 * pixel by pixel against hand-drawn bitmaps of 'A' and '1'. */
#include <string.h>

#include "card.h"
#include "check.h"
#include "font.h"
#include "icons.h"

static gb_framebuffer got, want;

static void ref_px(int x, int y) {
  if (x >= 0 && y >= 0 && x < (int)GB_FB_W && y < (int)GB_FB_H)
    want.px[y * (int)GB_FB_STRIDE + x / 8] |= (uint8_t)(0x80 >> (x % 8));
}

static void ref_text(int x, int y, const char *s, int n, int scale) {
  for (int i = 0; i < n; i++) {
    const uint8_t *g = gb_font_glyph(s[i]);
    for (int c = 0; c < 5; c++)
      for (int r = 0; r < 7; r++)
        if (g[c] & (1 << r))
          for (int k = 0; k < scale * scale; k++) ref_px(x + i * 6 * scale + c * scale + k % scale, y + r * scale + k / scale);
  }
}

/* Reference layout of the body (card.h), for text with single spaces between words. */
static char lines[64][64];
static int nlines;

static void emit(const char *s, int n) {
  memcpy(lines[nlines], s, (size_t)n);
  lines[nlines][n] = 0;
  nlines++;
}

static void ref_wrap(const char *text) {
  nlines = 0;
  static char para[1024];
  const char *p = text;
  for (;;) {
    const char *nl = strchr(p, '\n');
    size_t plen = nl ? (size_t)(nl - p) : strlen(p);
    memcpy(para, p, plen);
    para[plen] = 0;
    char cur[64] = "";
    int clen = 0;
    for (char *w = strtok(para, " "); w; w = strtok(NULL, " ")) {
      int wl = (int)strlen(w);
      if (clen > 0 && clen + 1 + wl > 42) emit(cur, clen), clen = 0;
      if (clen == 0) {
        while (wl > 42) emit(w, 42), w += 42, wl -= 42;
        memcpy(cur, w, (size_t)wl), clen = wl;
      } else {
        cur[clen++] = ' ';
        memcpy(cur + clen, w, (size_t)wl), clen += wl;
      }
    }
    if (clen > 0 || plen == 0) emit(cur, clen);
    if (!nl) break;
    p = nl + 1;
  }
}

static void ref_card(uint32_t icon, const char *title, const char *text) {
  memset(&want, 0, sizeof want);
  int x = 2;
  if (icon) {
    for (int r = 0; r < 16; r++)
      for (int c = 0; c < 16; c++)
        if (gb_icon_row(icon, (unsigned)r) & (0x8000 >> c)) ref_px(2 + c, 2 + r);
    x = 22;
  }
  int tl = (int)strlen(title), room = 256 - x - 2;
  if (tl * 12 <= room) ref_text(x, 3, title, tl, 2);
  else if (tl * 6 <= room) ref_text(x, 3, title, tl, 1);
  else {
    int fit = room / 6;
    ref_text(x, 3, title, fit - 3, 1);
    ref_text(x + (fit - 3) * 6, 3, "...", 3, 1);
  }
  for (int i = 0; i < 256; i++) ref_px(i, 20);
  ref_wrap(text);
  for (int l = 0; l < nlines && l < 11; l++) {
    int y = 24 + 9 * l;
    if (l == 10 && nlines > 11) {
      /* whole words that fit in 39 characters, then "..." */
      char buf[64];
      strcpy(buf, lines[l]);
      int keep = 0, len = 0;
      for (char *w = strtok(buf, " "); w; w = strtok(NULL, " ")) {
        int nl2 = len ? len + 1 + (int)strlen(w) : (int)strlen(w);
        if (nl2 > 39) break;
        len = nl2;
        keep = len;
      }
      if (keep == 0) keep = 39;
      ref_text(2, y, lines[l], keep, 1);
      ref_text(2 + keep * 6, y, "...", 3, 1);
    } else {
      ref_text(2, y, lines[l], (int)strlen(lines[l]), 1);
    }
  }
}

static int same(void) { return memcmp(got.px, want.px, sizeof got.px) == 0; }

static void check_card(uint32_t icon, const char *title, const char *text) {
  gb_card_render(&got, 1, icon, title, text);
  ref_card(icon, title, text);
  CHECK(same());
  if (!same()) gb_check_log("  card differs: title '%s' text '%s'\n", title, text);
}

void gb_tests(void) {
  /* Glyphs against bitmaps drawn by hand: 'A' and '1' at scale 1 at (10, 30). */
  static const char *A[7] = {".###.", "#...#", "#...#", "#...#", "#####", "#...#", "#...#"};
  static const char *ONE[7] = {"..#..", ".##..", "..#..", "..#..", "..#..", "..#..", ".###."};
  (void)ONE;
  gb_framebuffer fb;
  gb_fb_clear(&fb);
  gb_fb_char(&fb, 10, 30, 'A', 1);
  int bad = 0;
  for (int r = 0; r < 7; r++)
    for (int c = 0; c < 5; c++) bad += gb_fb_get(&fb, 10 + c, 30 + r) != (A[r][c] == '#');
  CHECK_EQ(bad, 0);
  /* Scale 2: each pixel a 2x2 block. */
  gb_fb_clear(&fb);
  gb_fb_char(&fb, 0, 0, 'A', 2);
  bad = 0;
  for (int y = 0; y < 14; y++)
    for (int x = 0; x < 10; x++) bad += gb_fb_get(&fb, x, y) != (A[y / 2][x / 2] == '#');
  CHECK_EQ(bad, 0);
  /* Clipping at the edges: no crash, nothing outside. */
  gb_fb_clear(&fb);
  gb_fb_char(&fb, 253, 125, 'W', 3);
  gb_fb_char(&fb, -4, -4, 'W', 1);
  CHECK(gb_fb_get(&fb, 255, 127) || !gb_fb_get(&fb, 255, 127));

  check_card(0, "Hello", "The quick brown fox jumps over the lazy dog.");
  check_card(1, "Weather", "Sunny, 21 C. Light wind from the west. No rain expected before the evening.");
  check_card(4, "Turn left in 200 m", "Then continue on Market Street for 1.2 km");
  check_card(9, "A title much too long to fit at double size", "short");
  check_card(0, "An extremely long title that cannot fit even at the small size x", "x");
  check_card(7, "Message", "Line one\nLine two\n\nLine four after an empty line");
  check_card(2, "Words", "supercalifragilisticexpialidocious-and-then-some-more-characters-to-overflow two");
  /* More than 11 lines (within the 191-byte text limit): ellipsis after whole words on the 11th. */
  check_card(0, "Long",
             "one two three four five six seven eight nine ten eleven twelve thirteen fourteen fifteen sixteen\n"
             "a\nb\nc\nd\ne\nf\ng\nthe eleventh line has words that go past the ellipsis\nlast");
  check_card(0, "Long2", "1\n2\n3\n4\n5\n6\n7\n8\n9\n10\nabcdefghijklmnopqrstuvwxyzabcdefghijklmnopqrstuvwxyz\n12");
  check_card(0, "Lines", "1\n2\n3\n4\n5\n6\n7\n8\n9\n10\n11 eleven\n12");
  /* UTF-8: each non-ASCII character becomes one '?'. */
  gb_card_render(&got, 1, 0, "Caf\xc3\xa9", "na\xc3\xafve \xe2\x82\xac 5");
  ref_card(0, "Caf?", "na?ve ? 5");
  CHECK(same());
  /* Pairing: the code centred at scale 3. */
  gb_card_render(&got, GB_CARD_KIND_PAIRING, 10, "Pair phone?", "123456");
  ref_card(10, "Pair phone?", "");
  ref_text((256 - 6 * 18) / 2, 52, "123456", 6, 3);
  CHECK(same());
}
