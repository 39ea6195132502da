/* Battery percent, level classes with hysteresis, and change events: see battery.h. */
#include "battery.h"

/* (millivolts, percent) points of a typical LiPo cell at light load, ascending. */
static const struct { uint16_t mv; uint8_t pct; } GB_BATTERY_CURVE[] = {
    {3300, 0}, {3500, 5}, {3600, 10}, {3680, 15}, {3740, 25}, {3800, 40},
    {3870, 55}, {3950, 70}, {4050, 85}, {4150, 97}, {4200, 100},
};
#define CURVE_N (sizeof GB_BATTERY_CURVE / sizeof GB_BATTERY_CURVE[0])

uint32_t gb_battery_percent(uint32_t mv) {
  if (mv <= GB_BATTERY_CURVE[0].mv) return 0;
  for (unsigned i = 1; i < CURVE_N; i++) {
    if (mv <= GB_BATTERY_CURVE[i].mv) {
      uint32_t v0 = GB_BATTERY_CURVE[i - 1].mv, v1 = GB_BATTERY_CURVE[i].mv;
      uint32_t p0 = GB_BATTERY_CURVE[i - 1].pct, p1 = GB_BATTERY_CURVE[i].pct;
      return p0 + ((mv - v0) * (p1 - p0)) / (v1 - v0); /* rounds down: never report more than there is */
    }
  }
  return 100;
}

uint32_t gb_battery_millivolts_for(uint32_t percent) {
  if (percent == 0) return GB_BATTERY_CURVE[0].mv;
  if (percent >= 100) return GB_BATTERY_CURVE[CURVE_N - 1].mv;
  for (unsigned i = 1; i < CURVE_N; i++) {
    if (percent <= GB_BATTERY_CURVE[i].pct) {
      uint32_t v0 = GB_BATTERY_CURVE[i - 1].mv, v1 = GB_BATTERY_CURVE[i].mv;
      uint32_t p0 = GB_BATTERY_CURVE[i - 1].pct, p1 = GB_BATTERY_CURVE[i].pct;
      /* smallest mv with percent(mv) >= percent: ceil of the inverse line */
      return v0 + ((percent - p0) * (v1 - v0) + (p1 - p0) - 1) / (p1 - p0);
    }
  }
  return GB_BATTERY_CURVE[CURVE_N - 1].mv;
}

void gb_battery_init(gb_battery_monitor *m) {
  m->have = false;
  m->now.percent = 0;
  m->now.millivolts = 0;
  m->now.charging = false;
  m->now.level = GB_BAT_UNSPECIFIED;
}

static gb_battery_level classify(gb_battery_level prev, uint32_t pct) {
  gb_battery_level raw = pct <= GB_BATTERY_CRITICAL_PCT ? GB_BAT_CRITICAL
                         : pct <= GB_BATTERY_LOW_PCT    ? GB_BAT_LOW
                                                        : GB_BAT_OK;
  if (prev == GB_BAT_UNSPECIFIED || raw >= prev) return raw; /* getting worse (or first sample): at once */
  /* Getting better: only once clear of the boundary by the hysteresis. */
  if (prev == GB_BAT_CRITICAL) {
    if (pct <= GB_BATTERY_CRITICAL_PCT + GB_BATTERY_HYSTERESIS_PCT) return GB_BAT_CRITICAL;
    return pct <= GB_BATTERY_LOW_PCT + GB_BATTERY_HYSTERESIS_PCT ? GB_BAT_LOW : GB_BAT_OK;
  }
  /* prev == LOW */
  return pct <= GB_BATTERY_LOW_PCT + GB_BATTERY_HYSTERESIS_PCT ? GB_BAT_LOW : GB_BAT_OK;
}

bool gb_battery_update(gb_battery_monitor *m, uint32_t millivolts, bool charging) {
  uint32_t pct = gb_battery_percent(millivolts);
  gb_battery_level level = classify(m->have ? m->now.level : GB_BAT_UNSPECIFIED, pct);
  bool event = !m->have || level != m->now.level || charging != m->now.charging;
  m->now.percent = pct;
  m->now.millivolts = millivolts;
  m->now.charging = charging;
  m->now.level = level;
  m->have = true;
  return event;
}
