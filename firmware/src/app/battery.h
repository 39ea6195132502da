/* Battery telemetry: percent from the cell voltage, a level class (OK / LOW / CRITICAL) with hysteresis, and
 * an event when the class or the charging state changes.
 *
 * Percent: piecewise-linear single-cell LiPo discharge curve at light load (GB_BATTERY_CURVE in battery.c).
 * Classes: LOW at or below 15 %, CRITICAL at or below 5 % (glassbridge.proto BatteryLevel); leaving a class
 * upward needs GB_BATTERY_HYSTERESIS_PCT more, so a voltage wobbling at the boundary (load steps, ADC noise)
 * does not flood the link with events.
 */
#ifndef GB_APP_BATTERY_H
#define GB_APP_BATTERY_H

#include <stdbool.h>
#include <stdint.h>

#define GB_BATTERY_LOW_PCT 15u
#define GB_BATTERY_CRITICAL_PCT 5u
#define GB_BATTERY_HYSTERESIS_PCT 3u
#define GB_BATTERY_PERIOD_MS 1000u  /* how often the app samples the gauge */

/* Values are BatteryLevel of glassbridge.proto. */
typedef enum { GB_BAT_UNSPECIFIED = 0, GB_BAT_OK = 1, GB_BAT_LOW = 2, GB_BAT_CRITICAL = 3 } gb_battery_level;

typedef struct {
  uint32_t percent;
  uint32_t millivolts;
  bool charging;
  gb_battery_level level;
} gb_battery_reading;

typedef struct {
  gb_battery_reading now;
  bool have;  /* false before the first sample */
} gb_battery_monitor;

uint32_t gb_battery_percent(uint32_t millivolts);
/* The inverse (lowest voltage showing `percent`): the host port turns `battery PCT` into a voltage with it. */
uint32_t gb_battery_millivolts_for(uint32_t percent);

void gb_battery_init(gb_battery_monitor *m);
/* A new sample. Returns true when it deserves a BatteryEvent (first sample, class change, charging change). */
bool gb_battery_update(gb_battery_monitor *m, uint32_t millivolts, bool charging);

#endif
