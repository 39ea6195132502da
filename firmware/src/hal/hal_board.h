/* Board description and bring-up: what this board is and what it can do. Every port implements this file's
 * functions; the application reads the description once at start (Status.board, Hello.capabilities).
 *
 * Porting guide (firmware/README.md): a new board implements every hal_*.h in one folder under ports/, plus
 * its startup and linker script, and lists its sources in firmware/CMakeLists.txt.
 */
#ifndef GB_HAL_BOARD_H
#define GB_HAL_BOARD_H

#include <stdint.h>

typedef struct {
  const char *name;          /* Status.board, e.g. "mps2-an386" (up to 23 bytes) */
  uint32_t capabilities;     /* Capability bits of glassbridge.proto this board has hardware for */
  uint32_t uart_baud;        /* the UART's configured rate (informative: QEMU ignores it) */
  uint16_t display_width;    /* pixels; 0 = no display */
  uint16_t display_height;
} gb_board_info;

/* Clocks, pins, UART, timers, interrupts. Called once before anything else. */
void hal_board_init(void);

const gb_board_info *hal_board_info(void);

/* A value that differs at every boot (for the link's session id): the port mixes what entropy it has. */
uint32_t hal_board_entropy(void);

#endif
