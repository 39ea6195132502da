/* Button gestures: tap, double tap and long press from the raw (bouncing) level of one button.
 *
 * Timing (all from the debounced edges, so debouncing does not bias durations):
 *  - a level must hold GB_BUTTON_DEBOUNCE_MS to count; the edge is dated when the level first changed;
 *  - a press held GB_BUTTON_LONG_MS is a LONG_PRESS, reported at that moment (while still held);
 *  - a short press followed by another press within GB_BUTTON_DOUBLE_GAP_MS of its release, and that second
 *    press released short, is a DOUBLE_TAP, reported at the second release;
 *  - a short press with no second press within the gap is a TAP, reported when the gap expires;
 *  - a short press followed by a second press that becomes long: TAP, then LONG_PRESS (both at that moment).
 * The caller samples the level (any rate; 5 ms here) and calls update with the time; update returns the
 * actions recognised, at most GB_BUTTON_MAX_ACTIONS per call.
 */
#ifndef GB_APP_BUTTONS_H
#define GB_APP_BUTTONS_H

#include <stdbool.h>
#include <stdint.h>

#define GB_BUTTON_DEBOUNCE_MS 20u
#define GB_BUTTON_LONG_MS 800u
#define GB_BUTTON_DOUBLE_GAP_MS 300u
#define GB_BUTTON_MAX_ACTIONS 4u

/* Values are ButtonAction of glassbridge.proto. */
typedef enum { GB_BTN_NONE = 0, GB_BTN_TAP = 1, GB_BTN_DOUBLE_TAP = 2, GB_BTN_LONG_PRESS = 3 } gb_button_action;

typedef enum { GB_BTN_IDLE, GB_BTN_DOWN1, GB_BTN_GAP, GB_BTN_DOWN2, GB_BTN_HELD } gb_button_phase;

typedef struct {
  bool raw;               /* last sampled level */
  uint32_t raw_since;     /* when the raw level last changed */
  bool level;             /* debounced level */
  gb_button_phase phase;
  uint32_t edge_at;       /* time of the debounced edge that started the current phase */
} gb_button;

void gb_button_init(gb_button *b, uint32_t now);

/* Feeds one sample; writes the actions recognised to out[] and returns how many. */
unsigned gb_button_update(gb_button *b, bool pressed, uint32_t now, gb_button_action out[GB_BUTTON_MAX_ACTIONS]);

/* The latest time update must be called again to keep the timings exact (now + a large value when idle). */
uint32_t gb_button_deadline(const gb_button *b, uint32_t now);

#endif
