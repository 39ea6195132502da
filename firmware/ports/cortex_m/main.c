/* The firmware image of an MCU board. */
#include "app/app.h"
#include "hal_board.h"

int main(void) {
  hal_board_init();
  gb_app_run();
}
