/* The host (POSIX) port's internals, shared by its files. The application sees only the HAL. */
#ifndef GB_HOST_H
#define GB_HOST_H

#include <poll.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "hal_imu.h"

/* Command line (main.c). */
typedef struct {
  const char *uart_path;
  const char *ctl_path;    /* may be NULL */
  const char *state_path;  /* may be NULL: boot counter kept in memory only */
  const char *mic_wav;     /* may be NULL: a 440 Hz tone (`mic ...` on the control socket changes it) */
  uint32_t baud;
} gb_host_options;

extern gb_host_options gb_host_opt;

/* Monotonic time (clock.c). */
uint64_t gb_host_now_us(void);
void gb_host_clock_restart(void);  /* uptime starts again at 0 (reboot) */
extern volatile int gb_host_stop;  /* SIGTERM / SIGINT seen */
void gb_host_request_reboot(void); /* the next hal_sleep_until longjmps to main */

/* UART over a unix-socket server (uart.c). */
bool gb_host_uart_open(const char *path, uint32_t baud, char *err, size_t errlen);
void gb_host_uart_close(void);
void gb_host_uart_reset(void);                      /* drop both rings (MCU reset; the cable stays) */
int gb_host_uart_pollfds(struct pollfd *fds, int max); /* fds to wait on */
void gb_host_uart_service(void);                    /* accept, read, drain at the baud rate */
int64_t gb_host_uart_next_us(void);                 /* when the next byte leaves the ring, -1 if none */
bool gb_host_uart_connected(void);

/* Control socket (ctl.c). */
bool gb_host_ctl_open(const char *path, char *err, size_t errlen);
void gb_host_ctl_close(void);
int gb_host_ctl_pollfds(struct pollfd *fds, int max);
void gb_host_ctl_service(void);

/* Simulated devices (devices.c). */
bool gb_host_devices_init(const char *mic_wav, char *err, size_t errlen);
void gb_host_devices_close(void);                    /* frees the microphone's WAV (clean exit) */
void gb_host_devices_reset(void);                    /* outputs off after a reboot; the world stays */
bool gb_host_button_script(unsigned button, const char *action, char *err, size_t errlen);
bool gb_host_gesture_script(const char *gesture, char *err, size_t errlen);
void gb_host_imu_set(const gb_imu_sample *s);
void gb_host_battery_set(uint32_t percent, bool charging);
bool gb_host_display_dump(const char *path, char *err, size_t errlen);
void gb_host_devices_status(char *buf, size_t cap);  /* JSON members (no braces) */
/* The microphone's source: "play" PATH (once, then silence), "loop" PATH, "tone" or "silence" (path NULL).
 * Takes effect at the next frame; *samples = the WAV's length (0 without one). On error nothing changes. */
bool gb_host_mic_set(const char *source, const char *path, size_t *samples, char *err, size_t errlen);

#endif
