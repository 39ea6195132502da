/* Time, sleep, board description, boot counter, reset and entropy of the host port. hal_sleep_until is the
 * port's event loop: it waits on the UART and control sockets with poll() until the application's deadline,
 * the next byte the modelled UART can send, or a socket event. */
#include <errno.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>
#include <unistd.h>

#include "hal_board.h"
#include "hal_bootcount.h"
#include "hal_clock.h"
#include "hal_reset.h"
#include "host.h"
#include "main_jmp.h"

volatile int gb_host_stop;
static uint64_t boot_us;
static int reboot_requested;
static uint32_t boot_counter_mem;

uint64_t gb_host_now_us(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

void gb_host_clock_restart(void) { boot_us = gb_host_now_us(); }

uint32_t hal_millis(void) { return (uint32_t)((gb_host_now_us() - boot_us) / 1000u); }

void gb_host_request_reboot(void) { reboot_requested = 1; }

void hal_sleep_until(uint32_t deadline) {
  if (gb_host_stop) longjmp(gb_host_main_jmp, GB_HOST_JMP_EXIT);
  if (reboot_requested) {
    reboot_requested = 0;
    longjmp(gb_host_main_jmp, GB_HOST_JMP_REBOOT);
  }
  int32_t wait_ms = (int32_t)(deadline - hal_millis());
  if (wait_ms < 0) wait_ms = 0;
  int64_t timeout_us = (int64_t)wait_ms * 1000;
  int64_t tx_us = gb_host_uart_next_us();
  if (tx_us >= 0 && tx_us < timeout_us) timeout_us = tx_us;
  struct pollfd fds[16];
  int n = gb_host_uart_pollfds(fds, 16);
  n += gb_host_ctl_pollfds(fds + n, 16 - n);
  struct timespec ts = {(time_t)(timeout_us / 1000000), (long)(timeout_us % 1000000) * 1000};
  if (ppoll(fds, (nfds_t)n, &ts, NULL) < 0 && errno != EINTR) perror("glassbridge-fw-host: ppoll");
  gb_host_uart_service();
  gb_host_ctl_service();
}

static const gb_board_info BOARD = {
    .name = "host",
    .capabilities = 0xFFu, /* every device is simulated */
    .uart_baud = 921600u,
    .display_width = 256,
    .display_height = 128,
};

void hal_board_init(void) {}

const gb_board_info *hal_board_info(void) { return &BOARD; }

uint32_t hal_board_entropy(void) {
  uint32_t v = 0;
  if (getrandom(&v, sizeof v, 0) != (ssize_t)sizeof v) v = (uint32_t)gb_host_now_us() ^ (uint32_t)getpid() << 16;
  return v;
}

uint32_t hal_bootcount_increment(void) {
  const char *path = gb_host_opt.state_path;
  if (!path) return ++boot_counter_mem;
  unsigned long v = 0;
  FILE *f = fopen(path, "r");
  if (f) {
    if (fscanf(f, "%lu", &v) != 1) v = 0;
    fclose(f);
  }
  v++;
  /* Write-then-rename so a crash mid-write never loses the count. */
  char tmp[4096];
  snprintf(tmp, sizeof tmp, "%s.tmp", path);
  f = fopen(tmp, "w");
  if (!f || fprintf(f, "%lu\n", v) < 0 || fclose(f) != 0 || rename(tmp, path) != 0)
    fprintf(stderr, "glassbridge-fw-host: cannot write the boot counter to %s: %s\n", path, strerror(errno));
  return (uint32_t)v;
}

void hal_reset(void) { longjmp(gb_host_main_jmp, GB_HOST_JMP_REBOOT); }
