/* The link engine's configuration on the MCU (limits in app.h), apart from app.c so that a test can check the
 * engine accepts it and that its memory fits the static arena, without the rest of the application. */
#include <string.h>

#include "app.h"

void gb_app_link_config(gb_link_config *cfg, uint32_t session, uint32_t boot_counter, uint32_t capabilities) {
  memset(cfg, 0, sizeof *cfg);
  cfg->profile = GB_PROFILE_UART;
  cfg->role = GB_ROLE_MCU;
  cfg->session = session;
  cfg->boot_counter = boot_counter;
  cfg->capabilities = capabilities;
  cfg->firmware_version = GB_FIRMWARE_VERSION;
  cfg->max_frame = GB_APP_MAX_FRAME;
  cfg->window = GB_APP_WINDOW;
  cfg->max_message = GB_APP_MAX_MESSAGE;
  cfg->tx_queue_bytes = GB_APP_TX_QUEUE;
}
