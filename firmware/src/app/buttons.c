/* Tap / double tap / long press recognition: see buttons.h for the timing rules. */
#include "buttons.h"

static bool reached(uint32_t now, uint32_t t) { return (int32_t)(now - t) >= 0; }

void gb_button_init(gb_button *b, uint32_t now) {
  b->raw = false;
  b->raw_since = now;
  b->level = false;
  b->phase = GB_BTN_IDLE;
  b->edge_at = now;
}

/* A debounced edge at time `at`. */
static unsigned on_edge(gb_button *b, bool down, uint32_t at, gb_button_action *out) {
  unsigned n = 0;
  switch (b->phase) {
    case GB_BTN_IDLE:
      if (down) { b->phase = GB_BTN_DOWN1; b->edge_at = at; }
      break;
    case GB_BTN_DOWN1:
      if (!down) { b->phase = GB_BTN_GAP; b->edge_at = at; }
      break;
    case GB_BTN_GAP:
      if (down) { b->phase = GB_BTN_DOWN2; b->edge_at = at; }
      break;
    case GB_BTN_DOWN2:
      if (!down) { out[n++] = GB_BTN_DOUBLE_TAP; b->phase = GB_BTN_IDLE; b->edge_at = at; }
      break;
    case GB_BTN_HELD:
      if (!down) { b->phase = GB_BTN_IDLE; b->edge_at = at; }
      break;
  }
  return n;
}

/* Timeouts of the current phase, checked at `now`. */
static unsigned on_time(gb_button *b, uint32_t now, gb_button_action *out) {
  unsigned n = 0;
  switch (b->phase) {
    case GB_BTN_DOWN1:
      if (reached(now, b->edge_at + GB_BUTTON_LONG_MS)) { out[n++] = GB_BTN_LONG_PRESS; b->phase = GB_BTN_HELD; }
      break;
    case GB_BTN_GAP:
      if (reached(now, b->edge_at + GB_BUTTON_DOUBLE_GAP_MS)) { out[n++] = GB_BTN_TAP; b->phase = GB_BTN_IDLE; }
      break;
    case GB_BTN_DOWN2:
      if (reached(now, b->edge_at + GB_BUTTON_LONG_MS)) {
        out[n++] = GB_BTN_TAP;  /* the first, short press stands on its own */
        out[n++] = GB_BTN_LONG_PRESS;
        b->phase = GB_BTN_HELD;
      }
      break;
    default: break;
  }
  return n;
}

unsigned gb_button_update(gb_button *b, bool pressed, uint32_t now, gb_button_action out[GB_BUTTON_MAX_ACTIONS]) {
  unsigned n = 0;
  if (pressed != b->raw) {
    b->raw = pressed;
    b->raw_since = now;
  }
  if (b->raw != b->level && reached(now, b->raw_since + GB_BUTTON_DEBOUNCE_MS)) {
    /* The edge happened at raw_since: timers that expired before it come first (a gap that ran out before the
     * second press began makes a TAP, not a DOUBLE_TAP, however late the sample arrives). */
    n += on_time(b, b->raw_since, out + n);
    b->level = b->raw;
    n += on_edge(b, b->level, b->raw_since, out + n);
  }
  /* While a change waits for its debounce, time stops at that change: a press that began inside the double-tap
   * gap must not lose to the gap expiring during its own debounce. */
  n += on_time(b, b->raw != b->level ? b->raw_since : now, out + n);
  return n;
}

uint32_t gb_button_deadline(const gb_button *b, uint32_t now) {
  uint32_t d = now + 60000u;
  if (b->raw != b->level) d = b->raw_since + GB_BUTTON_DEBOUNCE_MS;
  uint32_t t = d;
  switch (b->phase) {
    case GB_BTN_DOWN1:
    case GB_BTN_DOWN2: t = b->edge_at + GB_BUTTON_LONG_MS; break;
    case GB_BTN_GAP: t = b->edge_at + GB_BUTTON_DOUBLE_GAP_MS; break;
    default: break;
  }
  return (int32_t)(t - d) < 0 ? t : d;
}
