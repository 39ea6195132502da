/* The firmware's link configuration: the engine accepts it, its memory fits the static arena, a frame fits
 * the UART transmit ring (2 KB on every port), and the largest Message fits in a reassembled message. */
#include "app.h"
#include "check.h"

void gb_tests(void) {
  gb_link_config cfg;
  gb_app_link_config(&cfg, 0x12345678u, 1, 0xFF);
  CHECK_EQ(gb_link_config_normalize(&cfg), GB_OK);
  size_t need = gb_link_mem_size(&cfg);
  gb_check_log("link engine memory: %u bytes of %u\n", (unsigned)need, (unsigned)GB_APP_LINK_ARENA);
  CHECK(need > 0);
  CHECK(need <= GB_APP_LINK_ARENA);
  CHECK(gb_link_max_wire_size(&cfg) <= 2048u);
  CHECK(GB_MESSAGE_MAX_SIZE <= GB_APP_MAX_MESSAGE);
  /* Engine init in a static arena of the same size succeeds. */
  static uint64_t arena[GB_APP_LINK_ARENA / 8u];
  gb_status st = GB_ERR_ARG;
  CHECK(gb_link_init(&cfg, arena, sizeof arena, 0, &st) != NULL);
  CHECK_EQ(st, GB_OK);
}
