/* A boot counter that survives a reset (RAM that startup does not clear, or a file on the host). The link's
 * Hello carries it, so the SoC tells an MCU reboot from a link loss. */
#ifndef GB_HAL_BOOTCOUNT_H
#define GB_HAL_BOOTCOUNT_H

#include <stdint.h>

/* Increments the persistent counter and returns the new value (1 on the first boot). Called once per boot. */
uint32_t hal_bootcount_increment(void);

#endif
