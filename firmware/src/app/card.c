/* Card layout: header with icon and title, word-wrapped body with an ellipsis: see card.h for the rules. */
#include "card.h"

#include <string.h>

#include "font.h"

#define TEXT_MAX 256u

/* UTF-8 to drawable ASCII: one '?' per character outside printable ASCII, '\n' kept. */
static unsigned to_ascii(const char *s, char *out, unsigned cap) {
  unsigned n = 0;
  for (const unsigned char *p = (const unsigned char *)s; *p && n + 1 < cap; p++) {
    if (*p >= 0x80 && (*p & 0xC0u) == 0x80u) continue; /* continuation byte: already counted */
    if (*p == '\n') out[n++] = '\n';
    else if (*p < 0x20 || *p > 0x7E) out[n++] = '?';
    else out[n++] = (char)*p;
  }
  out[n] = 0;
  return n;
}

static void draw_title(gb_framebuffer *fb, int x, const char *title) {
  unsigned n = (unsigned)strlen(title);
  unsigned room = (GB_FB_W - (unsigned)x - 2u);
  if (n * GB_FONT_CELL_W * 2u <= room) {
    gb_fb_text(fb, x, 3, title, n, 2);
    return;
  }
  unsigned fit = room / GB_FONT_CELL_W;
  if (n <= fit) {
    gb_fb_text(fb, x, 3, title, n, 1);
    return;
  }
  gb_fb_text(fb, x, 3, title, fit - 3u, 1);
  gb_fb_text(fb, x + (int)((fit - 3u) * GB_FONT_CELL_W), 3, "...", 3, 1);
}

typedef struct {
  unsigned start, len; /* a slice of the text */
} line_t;

/* Greedy wrap into at most max lines; returns the number of lines and sets *more when text was left over. */
static unsigned wrap(const char *t, unsigned n, line_t *lines, unsigned max, int *more) {
  unsigned count = 0, i = 0;
  *more = 0;
  while (i < n) {
    if (count == max) { *more = 1; break; }
    unsigned start = i, len = 0, last_break = 0; /* last_break: length up to the last space in the line */
    int has_break = 0;
    while (i < n && t[i] != '\n') {
      if (len == GB_CARD_COLS) break;
      if (t[i] == ' ') { last_break = len; has_break = 1; }
      len++;
      i++;
    }
    if (i < n && t[i] != '\n' && len == GB_CARD_COLS) {
      /* The line is full: if the next character starts a word in progress, move back to the last space. */
      if (t[i] != ' ' && has_break && last_break > 0) {
        i = start + last_break;
        len = last_break;
      }
    }
    lines[count].start = start;
    lines[count].len = len;
    count++;
    if (i < n && t[i] == '\n') i++;
    else while (i < n && t[i] == ' ') i++; /* spaces at the start of a wrapped line are dropped */
  }
  return count;
}

static void draw_body(gb_framebuffer *fb, const char *t, unsigned n) {
  line_t lines[GB_CARD_LINES];
  int more;
  unsigned count = wrap(t, n, lines, GB_CARD_LINES, &more);
  for (unsigned l = 0; l < count; l++) {
    int y = GB_CARD_BODY_Y + (int)l * GB_CARD_LINE_H;
    unsigned len = lines[l].len;
    const char *s = t + lines[l].start;
    if (more && l == count - 1) {
      /* Cut at a word boundary so that "..." fits after it. */
      unsigned keep = len;
      if (keep > GB_CARD_COLS - 3u) {
        keep = GB_CARD_COLS - 3u;
        unsigned b = keep;
        while (b > 0 && s[b] != ' ') b--;
        if (b > 0) keep = b;
      }
      while (keep > 0 && s[keep - 1] == ' ') keep--;
      gb_fb_text(fb, GB_CARD_BODY_X, y, s, keep, 1);
      gb_fb_text(fb, GB_CARD_BODY_X + (int)(keep * GB_FONT_CELL_W), y, "...", 3, 1);
    } else {
      gb_fb_text(fb, GB_CARD_BODY_X, y, s, len, 1);
    }
  }
}

void gb_card_render(gb_framebuffer *fb, uint32_t kind, uint32_t icon, const char *title, const char *text) {
  static char buf[TEXT_MAX];
  gb_fb_clear(fb);
  int x = 2;
  if (icon != 0) {
    gb_fb_icon(fb, 2, 2, icon);
    x = 22;
  }
  to_ascii(title, buf, sizeof buf);
  draw_title(fb, x, buf);
  gb_fb_hline(fb, 0, 20, (int)GB_FB_W);
  unsigned n = to_ascii(text, buf, sizeof buf);
  if (kind == GB_CARD_KIND_PAIRING && n <= 14u && !memchr(buf, '\n', n)) {
    int w = (int)(n * GB_FONT_CELL_W * 3u);
    gb_fb_text(fb, ((int)GB_FB_W - w) / 2, 52, buf, n, 3);
    return;
  }
  draw_body(fb, buf, n);
}
