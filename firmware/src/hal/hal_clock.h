/* Time: a millisecond counter (SysTick on the MCU ports, CLOCK_MONOTONIC on the host) and the idle sleep. */
#ifndef GB_HAL_CLOCK_H
#define GB_HAL_CLOCK_H

#include <stdint.h>

/* Milliseconds since boot; wraps after 49.7 days (compare with signed differences). */
uint32_t hal_millis(void);

/* Sleeps until `deadline` (hal_millis() time) or until an interrupt brings work (UART data, TX room), whichever
 * is first. May return early; never sleeps when received bytes are already waiting. */
void hal_sleep_until(uint32_t deadline);

#endif
