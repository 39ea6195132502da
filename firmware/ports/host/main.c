/* glassbridge-fw-host: the firmware application on a POSIX host. The UART is a unix-socket server, devices
 * are simulated and driven from a control socket (firmware/README.md). */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "app/app.h"
#include "hal_board.h"
#include "hal_clock.h"
#include "host.h"
#include "main_jmp.h"

gb_host_options gb_host_opt = {.baud = 921600};
jmp_buf gb_host_main_jmp;

static void on_signal(int sig) {
  (void)sig;
  gb_host_stop = 1;
}

static void usage(FILE *f) {
  fprintf(f,
          "usage: glassbridge-fw-host --uart [unix:]PATH [--ctl PATH] [--state PATH] [--baud N] [--mic-wav PATH]\n"
          "                           [--failsafe-ms MS]\n"
          "  --uart     unix-socket server for the UART (one client at a time, like QEMU's chardev socket)\n"
          "  --ctl      control socket: inject buttons, gestures, battery; dump the display (see README)\n"
          "  --state    file keeping the boot counter across runs and reboots\n"
          "  --baud     line rate whose drain time the UART models, 10 bit-times per byte (default 921600)\n"
          "  --mic-wav  PCM16 mono 16 kHz WAV the microphone plays in a loop (default: a 440 Hz tone;\n"
          "             the control socket's `mic play|loop PATH`, `mic tone`, `mic silence` change it)\n"
          "  --failsafe-ms  link loss after which a powered camera and a microphone stream are switched off\n"
          "             (default 10000; 0 = never)\n");
}

static int parse(int argc, char **argv) {
  for (int i = 1; i < argc; i++) {
    const char *a = argv[i];
    const char *v = i + 1 < argc ? argv[i + 1] : NULL;
    if (strcmp(a, "-h") == 0 || strcmp(a, "--help") == 0) {
      usage(stdout);
      exit(0);
    }
    if (!v) {
      fprintf(stderr, "glassbridge-fw-host: %s needs a value\n", a);
      return -1;
    }
    if (strcmp(a, "--uart") == 0) gb_host_opt.uart_path = strncmp(v, "unix:", 5) == 0 ? v + 5 : v;
    else if (strcmp(a, "--ctl") == 0) gb_host_opt.ctl_path = v;
    else if (strcmp(a, "--state") == 0) gb_host_opt.state_path = v;
    else if (strcmp(a, "--mic-wav") == 0) gb_host_opt.mic_wav = v;
    else if (strcmp(a, "--baud") == 0) {
      char *end;
      unsigned long b = strtoul(v, &end, 10);
      if (*end || b < 1200 || b > 20000000) {
        fprintf(stderr, "glassbridge-fw-host: --baud %s: give a rate in bit/s between 1200 and 20000000\n", v);
        return -1;
      }
      gb_host_opt.baud = (uint32_t)b;
    } else if (strcmp(a, "--failsafe-ms") == 0) {
      char *end;
      unsigned long ms = strtoul(v, &end, 10);
      if (*end || !*v || v[0] == '-' || ms > 3600000ul) {
        fprintf(stderr, "glassbridge-fw-host: --failsafe-ms %s: give milliseconds between 0 (never) and 3600000\n", v);
        return -1;
      }
      gb_app_failsafe_ms = (uint32_t)ms;
    } else {
      fprintf(stderr, "glassbridge-fw-host: unknown option %s\n", a);
      usage(stderr);
      return -1;
    }
    i++;
  }
  if (!gb_host_opt.uart_path) {
    fprintf(stderr, "glassbridge-fw-host: --uart PATH is required\n");
    usage(stderr);
    return -1;
  }
  return 0;
}

int main(int argc, char **argv) {
  if (parse(argc, argv) != 0) return 2;
  char err[512];
  if (!gb_host_devices_init(gb_host_opt.mic_wav, err, sizeof err) ||
      !gb_host_uart_open(gb_host_opt.uart_path, gb_host_opt.baud, err, sizeof err) ||
      (gb_host_opt.ctl_path && !gb_host_ctl_open(gb_host_opt.ctl_path, err, sizeof err))) {
    fprintf(stderr, "glassbridge-fw-host: %s\n", err);
    gb_host_uart_close();
    gb_host_devices_close();
    return 1;
  }
  struct sigaction sa;
  memset(&sa, 0, sizeof sa);
  sa.sa_handler = on_signal;
  sigaction(SIGTERM, &sa, NULL);
  sigaction(SIGINT, &sa, NULL);
  signal(SIGPIPE, SIG_IGN);

  int why = setjmp(gb_host_main_jmp);
  if (why == GB_HOST_JMP_EXIT) {
    gb_host_ctl_close();
    gb_host_uart_close();
    gb_host_devices_close();
    fprintf(stderr, "glassbridge-fw-host: stopped\n");
    return 0;
  }
  if (why == GB_HOST_JMP_REBOOT) {
    gb_host_uart_reset();
    gb_host_devices_reset();
  }
  gb_host_clock_restart();
  hal_board_init();
  if (!gb_app_init()) {
    fprintf(stderr, "glassbridge-fw-host: the link engine refused the firmware's configuration (a build bug)\n");
    gb_host_ctl_close();
    gb_host_uart_close();
    gb_host_devices_close();
    return 1;
  }
  gb_Status s;
  gb_app_status(&s);
  const char *wake_why, *wake = gb_app_wake_word(&wake_why);
  if (!wake) fprintf(stderr, "glassbridge-fw-host: no wake word on the MCU: %s\n", wake_why);
  printf("glassbridge-fw-host ready: uart=unix:%s ctl=%s boot_counter=%lu baud=%lu wake_word=%s\n",
         gb_host_opt.uart_path, gb_host_opt.ctl_path ? gb_host_opt.ctl_path : "-", (unsigned long)s.boot_counter,
         (unsigned long)gb_host_opt.baud, wake ? wake : "none");
  fflush(stdout);
  for (;;) {
    gb_app_step();
    hal_sleep_until(gb_app_next_deadline());
  }
}
