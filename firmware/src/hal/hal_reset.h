/* System reset (AIRCR.SYSRESETREQ on Cortex-M; a restart of the application on the host). */
#ifndef GB_HAL_RESET_H
#define GB_HAL_RESET_H

void hal_reset(void) __attribute__((noreturn));

#endif
