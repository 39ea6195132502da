/* Battery: the curve at its own points (read off the LiPo table, not computed), the inverse, the classes with
 * hysteresis over a scripted discharge and recharge, and which samples raise events. */
#include "battery.h"
#include "check.h"

void gb_tests(void) {
  CHECK_EQ(gb_battery_percent(3000), 0);
  CHECK_EQ(gb_battery_percent(3300), 0);
  CHECK_EQ(gb_battery_percent(3500), 5);
  CHECK_EQ(gb_battery_percent(3680), 15);
  CHECK_EQ(gb_battery_percent(3950), 70);
  CHECK_EQ(gb_battery_percent(4200), 100);
  CHECK_EQ(gb_battery_percent(4300), 100);
  CHECK_EQ(gb_battery_percent(3400), 2);   /* halfway 3300..3500 = 2.5 %, rounded down */
  /* The inverse lands on a voltage that shows the asked percent, for every percent. */
  for (uint32_t p = 0; p <= 100; p++) {
    uint32_t mv = gb_battery_millivolts_for(p);
    CHECK_EQ(gb_battery_percent(mv), p);
    if (mv > 3300) CHECK(gb_battery_percent(mv - 1) < p); /* and is the lowest such voltage */
  }

  gb_battery_monitor m;
  gb_battery_init(&m);
  /* percent script and the expected (level, event) after each sample */
  static const struct { uint32_t pct; int charging; gb_battery_level level; int event; } S[] = {
      {70, 0, GB_BAT_OK, 1},       /* first sample: always an event */
      {40, 0, GB_BAT_OK, 0},
      {16, 0, GB_BAT_OK, 0},
      {15, 0, GB_BAT_LOW, 1},      /* <= 15 */
      {16, 0, GB_BAT_LOW, 0},      /* wobble: stays LOW (needs > 18) */
      {18, 0, GB_BAT_LOW, 0},
      {15, 0, GB_BAT_LOW, 0},
      {5, 0, GB_BAT_CRITICAL, 1},  /* <= 5 */
      {8, 0, GB_BAT_CRITICAL, 0},  /* needs > 8 */
      {8, 1, GB_BAT_CRITICAL, 1},  /* charging starts: event */
      {9, 1, GB_BAT_LOW, 1},
      {18, 1, GB_BAT_LOW, 0},
      {19, 1, GB_BAT_OK, 1},
      {19, 0, GB_BAT_OK, 1},       /* charging stops */
      {3, 0, GB_BAT_CRITICAL, 1},  /* OK straight to CRITICAL */
      {25, 0, GB_BAT_OK, 1},       /* CRITICAL straight to OK when clear of both margins */
  };
  for (unsigned i = 0; i < sizeof S / sizeof S[0]; i++) {
    bool ev = gb_battery_update(&m, gb_battery_millivolts_for(S[i].pct), S[i].charging != 0);
    CHECK_EQ(m.now.percent, S[i].pct);
    CHECK_EQ(m.now.level, S[i].level);
    CHECK_EQ(ev, S[i].event);
  }
}
