/* The battery gauge: raw cell voltage from the ADC and the charger's status pin. Percent is the app's job
 * (src/app/battery.c) so every board reports the same curve. */
#ifndef GB_HAL_BATTERY_H
#define GB_HAL_BATTERY_H

#include <stdbool.h>
#include <stdint.h>

uint32_t hal_battery_millivolts(void);
bool hal_battery_charging(void);

#endif
