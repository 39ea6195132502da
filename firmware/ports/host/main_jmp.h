/* The host port's way back to main(): a reboot (hal_reset, `reboot` on the control socket) or a clean exit
 * (SIGTERM) unwinds the application's loop with longjmp, since gb_app_run never returns. */
#ifndef GB_HOST_MAIN_JMP_H
#define GB_HOST_MAIN_JMP_H

#include <setjmp.h>

enum { GB_HOST_JMP_START = 0, GB_HOST_JMP_REBOOT = 1, GB_HOST_JMP_EXIT = 2 };
extern jmp_buf gb_host_main_jmp;

#endif
