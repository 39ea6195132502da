/* The button state machine against timing cases computed by hand from the rules in buttons.h
 * (debounce 20 ms, long press 800 ms, double-tap gap 300 ms), sampled every 5 ms like the firmware does. */
#include "buttons.h"
#include "check.h"

typedef struct {
  uint32_t at;
  gb_button_action action;
} seen_t;

/* Runs a press script (level changes at the given times, starting released) from t=0 to `until`, sampling
 * every `period` ms, optionally with bounces (the level flips back for 2 ms right after each change). */
static int run(const uint32_t *edges, int n_edges, uint32_t until, uint32_t period, int bounce, seen_t *seen) {
  gb_button b;
  gb_button_init(&b, 0);
  int n = 0;
  for (uint32_t t = 0; t <= until; t += period) {
    int level = 0;
    for (int i = 0; i < n_edges; i++) {
      if (t >= edges[i]) level = !level;
      if (bounce && t >= edges[i] && t < edges[i] + 2) level = !level; /* contact bounce */
    }
    gb_button_action out[GB_BUTTON_MAX_ACTIONS];
    unsigned k = gb_button_update(&b, level != 0, t, out);
    for (unsigned i = 0; i < k; i++) seen[n++] = (seen_t){t, out[i]};
  }
  return n;
}

void gb_tests(void) {
  seen_t s[8];
  int n;
  /* Tap: press 100, release 180. Edge confirmed at 120 / 200; the gap runs from 180 and ends at 480. */
  const uint32_t tap[] = {100, 180};
  n = run(tap, 2, 2000, 5, 0, s);
  CHECK_EQ(n, 1);
  CHECK_EQ(s[0].action, GB_BTN_TAP);
  CHECK_EQ(s[0].at, 480);

  /* Same with contact bounce (the level flips back for 2 ms after each edge) and 1 ms sampling: still
   * exactly one tap. The release is dated at its last bounce, 182, so the gap ends at 482. */
  n = run(tap, 2, 2000, 1, 1, s);
  CHECK_EQ(n, 1);
  CHECK_EQ(s[0].action, GB_BTN_TAP);
  CHECK_EQ(s[0].at, 482);

  /* Double tap: 100-180, 300-380: the second press starts 120 ms into the gap; reported at the second
   * release's debounced edge, 380 + 20 = 400. */
  const uint32_t dbl[] = {100, 180, 300, 380};
  n = run(dbl, 4, 2000, 5, 0, s);
  CHECK_EQ(n, 1);
  CHECK_EQ(s[0].action, GB_BTN_DOUBLE_TAP);
  CHECK_EQ(s[0].at, 400);

  /* Long press: press at 100 held to 1500: long at 100 + 800 = 900, nothing at the release. */
  const uint32_t lng[] = {100, 1500};
  n = run(lng, 2, 3000, 5, 0, s);
  CHECK_EQ(n, 1);
  CHECK_EQ(s[0].action, GB_BTN_LONG_PRESS);
  CHECK_EQ(s[0].at, 900);

  /* Two presses too far apart: two taps. 100-180 (tap at 480), 600-680 (tap at 980). */
  const uint32_t two[] = {100, 180, 600, 680};
  n = run(two, 4, 3000, 5, 0, s);
  CHECK_EQ(n, 2);
  CHECK_EQ(s[0].action, GB_BTN_TAP);
  CHECK_EQ(s[0].at, 480);
  CHECK_EQ(s[1].action, GB_BTN_TAP);
  CHECK_EQ(s[1].at, 980);

  /* Tap then a second press held: TAP and LONG_PRESS together at 300 + 800 = 1100. */
  const uint32_t tl[] = {100, 180, 300, 2000};
  n = run(tl, 4, 3000, 5, 0, s);
  CHECK_EQ(n, 2);
  CHECK_EQ(s[0].action, GB_BTN_TAP);
  CHECK_EQ(s[1].action, GB_BTN_LONG_PRESS);
  CHECK_EQ(s[1].at, 1100);

  /* A 10 ms glitch is shorter than the debounce: nothing. */
  const uint32_t glitch[] = {100, 110};
  n = run(glitch, 2, 2000, 1, 0, s);
  CHECK_EQ(n, 0);

  /* A second press that begins 10 ms before the gap ends (gap 180..480, press at 470) is confirmed only at
   * 490, after the gap: it still counts as the second tap. Released at 550 -> DOUBLE_TAP at 570. */
  const uint32_t late[] = {100, 180, 470, 550};
  n = run(late, 4, 2000, 5, 0, s);
  CHECK_EQ(n, 1);
  CHECK_EQ(s[0].action, GB_BTN_DOUBLE_TAP);
  CHECK_EQ(s[0].at, 570);

  /* The deadline never lies in the past and says when the long press falls due. */
  gb_button b;
  gb_button_init(&b, 0);
  gb_button_action out[GB_BUTTON_MAX_ACTIONS];
  gb_button_update(&b, true, 10, out);
  CHECK_EQ(gb_button_deadline(&b, 10), 30);   /* debounce */
  gb_button_update(&b, true, 30, out);
  CHECK_EQ(gb_button_deadline(&b, 30), 810);  /* long press: 10 + 800 */
}
