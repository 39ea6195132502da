/* The control socket: a line protocol for tests and the demo (documented in firmware/README.md). Each command
 * is one line; each answer is one line, "ok ..." or "error <what went wrong and what to do>". */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "app/app.h"
#include "app/app_internal.h"
#include "hal_uart.h"
#include "host.h"

#define CLIENTS 4
#define LINE_MAX_LEN 512

static int listen_fd = -1;
static struct { int fd; char line[LINE_MAX_LEN]; size_t len; } clients[CLIENTS];
static char sock_path[108];

bool gb_host_ctl_open(const char *path, char *err, size_t errlen) {
  struct sockaddr_un a;
  for (int i = 0; i < CLIENTS; i++) clients[i].fd = -1;
  if (strlen(path) >= sizeof a.sun_path) {
    snprintf(err, errlen, "control socket path too long (at most %zu bytes): %s", sizeof a.sun_path - 1, path);
    return false;
  }
  memset(&a, 0, sizeof a);
  a.sun_family = AF_UNIX;
  strcpy(a.sun_path, path);
  strcpy(sock_path, path);
  unlink(path);
  listen_fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (listen_fd < 0 || bind(listen_fd, (struct sockaddr *)&a, sizeof a) != 0 || listen(listen_fd, 4) != 0) {
    snprintf(err, errlen, "cannot listen on control socket %s: %s", path, strerror(errno));
    return false;
  }
  return true;
}

void gb_host_ctl_close(void) {
  for (int i = 0; i < CLIENTS; i++)
    if (clients[i].fd >= 0) close(clients[i].fd), clients[i].fd = -1;
  if (listen_fd >= 0) close(listen_fd), listen_fd = -1;
  if (sock_path[0]) unlink(sock_path);
}

int gb_host_ctl_pollfds(struct pollfd *fds, int max) {
  int n = 0;
  if (listen_fd < 0) return 0;
  if (n < max) fds[n++] = (struct pollfd){listen_fd, POLLIN, 0};
  for (int i = 0; i < CLIENTS && n < max; i++)
    if (clients[i].fd >= 0) fds[n++] = (struct pollfd){clients[i].fd, POLLIN, 0};
  return n;
}

static void say(int fd, const char *s) {
  size_t len = strlen(s), off = 0;
  while (off < len) {
    ssize_t w = send(fd, s + off, len - off, MSG_NOSIGNAL);
    if (w <= 0) {
      if (w < 0 && (errno == EINTR || errno == EAGAIN)) continue;
      return;
    }
    off += (size_t)w;
  }
}

static const char *link_state_name(gb_link_state s) {
  switch (s) {
    case GB_LINK_HANDSHAKE: return "handshake";
    case GB_LINK_UP: return "up";
    case GB_LINK_DOWN: return "down";
    case GB_LINK_INCOMPATIBLE: return "incompatible";
  }
  return "?";
}

static void status(char *out, size_t cap) {
  gb_Status s;
  gb_link_stats ls;
  char dev[768];
  gb_app_status(&s);
  gb_app_link_stats(&ls);
  gb_host_devices_status(dev, sizeof dev);
  snprintf(out, cap,
           "ok {\"board\":\"%s\",\"firmware_version\":\"%s\",\"boot_counter\":%lu,\"uptime_ms\":%lu,"
           "\"link\":\"%s\",\"uart_connected\":%s,\"battery_percent\":%lu,\"battery_level\":%d,\"charging\":%s,"
           "\"buttons_down\":%lu,\"camera_powered\":%s,\"mic_streaming\":%s,\"card_id\":%lu,"
           "\"uart_rx_overruns\":%lu,\"frames_tx\":%lu,\"frames_rx\":%lu,\"retransmits\":%lu,\"crc_errors\":%lu,"
           "\"framing_errors\":%lu,\"out_of_window\":%lu,\"rx_oversize\":%lu,\"duplicates\":%lu,"
           "\"link_downs\":%lu,\"rewinds\":%lu,\"frag_size\":%lu,\"failsafe_trips\":%lu,\"failsafe_ms\":%lu,"
           "\"messages_tx\":%lu,\"messages_rx\":%lu,\"peer_resets\":%lu,\"mic_frames_sent\":%lu,"
           "\"mic_frames_dropped\":%lu,\"speaker_frames\":%lu,\"speaker_gaps\":%lu,\"transfer_id\":%lu,"
           "\"transfer_state\":%d,\"transfer_offset\":%lu,\"events_dropped\":%lu,\"wake_listening\":%s,"
           "\"wake_detections\":%lu,\"wake_invokes\":%lu,\"wake_late_steps\":%lu,%s}\n",
           s.board, s.firmware_version, (unsigned long)s.boot_counter, (unsigned long)s.uptime_ms,
           link_state_name(gb_app_link_state()), gb_host_uart_connected() ? "true" : "false",
           (unsigned long)s.battery.percent, (int)s.battery.level, s.battery.charging ? "true" : "false",
           (unsigned long)s.buttons_down, s.camera_powered ? "true" : "false", s.mic_streaming ? "true" : "false",
           (unsigned long)s.card_id, (unsigned long)s.uart_rx_overruns, (unsigned long)ls.frames_tx,
           (unsigned long)ls.frames_rx, (unsigned long)ls.retransmits, (unsigned long)ls.crc_errors,
           (unsigned long)ls.framing_errors, (unsigned long)ls.out_of_window, (unsigned long)ls.rx_oversize,
           (unsigned long)ls.duplicates, (unsigned long)ls.link_downs, (unsigned long)ls.rewinds,
           (unsigned long)ls.frag_size, (unsigned long)gb_app_failsafe_trips(), (unsigned long)gb_app_failsafe_ms,
           (unsigned long)ls.messages_tx, (unsigned long)ls.messages_rx, (unsigned long)ls.peer_resets,
           (unsigned long)gb_app.mic.frames_sent, (unsigned long)gb_app.mic.frames_dropped,
           (unsigned long)gb_app.speaker_frames, (unsigned long)gb_app.speaker_gaps,
           (unsigned long)gb_app.transfer.id, (int)gb_app.transfer.state, (unsigned long)gb_app.transfer.offset,
           (unsigned long)gb_app.events_dropped, s.wake_listening ? "true" : "false", (unsigned long)s.wake_detections,
           (unsigned long)s.wake_invokes, (unsigned long)s.wake_late_steps, dev);
}

static int button_index(const char *name) {
  if (strcmp(name, "main") == 0) return 0;
  if (strcmp(name, "capture") == 0) return 1;
  return -1;
}

static const char HELP[] =
    "ok commands: button main|capture tap|double|long|press|release; gesture nod|shake; "
    "imu AX AY AZ GX GY GZ (mg, mdps); battery PCT [charging]; mic play|loop PATH; mic tone|silence; "
    "display dump PATH; status; reboot; help\n";

static bool blank(char c) { return c == ' ' || c == '\t' || c == '\r'; }

/* `mic play|loop PATH`, `mic tone`, `mic silence`. PATH is the rest of the line (trailing blanks cut), so a
 * path with spaces works, which strtok's words would split. */
static void mic_command(char *args, char *out, size_t cap) {
  size_t len = strlen(args);
  while (len > 0 && blank(args[len - 1])) args[--len] = 0;
  while (blank(*args)) args++;
  char *name = args, *path = NULL;
  while (*args && !blank(*args)) args++;
  if (*args) {
    *args++ = 0;
    while (blank(*args)) args++;
    if (*args) path = args;
  }
  if (!*name) {
    snprintf(out, cap, "error usage: mic play PATH (a WAV once, then silence) | mic loop PATH | mic tone | "
                       "mic silence\n");
    return;
  }
  char err[LINE_MAX_LEN + 256];
  size_t samples = 0;
  if (!gb_host_mic_set(name, path, &samples, err, sizeof err)) snprintf(out, cap, "error %s\n", err);
  else snprintf(out, cap, "ok mic %s samples=%zu\n", name, samples);
}

/* One command line; writes the answer into out. */
static void command(char *line, char *out, size_t cap) {
  if (strncmp(line, "mic", 3) == 0 && (line[3] == 0 || blank(line[3]))) {
    mic_command(line + 3, out, cap);
    return;
  }
  char *argv[8];
  int argc = 0;
  for (char *tok = strtok(line, " \t\r"); tok && argc < 8; tok = strtok(NULL, " \t\r")) argv[argc++] = tok;
  char err[256] = "";
  if (argc == 0) {
    snprintf(out, cap, "error empty command: try `help`\n");
  } else if (strcmp(argv[0], "help") == 0) {
    snprintf(out, cap, "%s", HELP);
  } else if (strcmp(argv[0], "status") == 0) {
    status(out, cap);
  } else if (strcmp(argv[0], "button") == 0) {
    int b = argc == 3 ? button_index(argv[1]) : -1;
    if (b < 0) snprintf(out, cap, "error usage: button main|capture tap|double|long|press|release\n");
    else if (!gb_host_button_script((unsigned)b, argv[2], err, sizeof err)) snprintf(out, cap, "error %s\n", err);
    else snprintf(out, cap, "ok\n");
  } else if (strcmp(argv[0], "gesture") == 0) {
    if (argc != 2) snprintf(out, cap, "error usage: gesture nod|shake\n");
    else if (!gb_host_gesture_script(argv[1], err, sizeof err)) snprintf(out, cap, "error %s\n", err);
    else snprintf(out, cap, "ok\n");
  } else if (strcmp(argv[0], "imu") == 0) {
    gb_imu_sample s;
    char *end = NULL;
    int ok = argc == 7;
    for (int i = 0; ok && i < 6; i++) {
      long v = strtol(argv[1 + i], &end, 10);
      ok = *end == 0;
      if (i < 3) s.accel_mg[i] = (int32_t)v;
      else s.gyro_mdps[i - 3] = (int32_t)v;
    }
    if (!ok) snprintf(out, cap, "error usage: imu AX AY AZ GX GY GZ (integers: milli-g, milli-degrees/s)\n");
    else gb_host_imu_set(&s), snprintf(out, cap, "ok\n");
  } else if (strcmp(argv[0], "battery") == 0) {
    char *end = NULL;
    long pct = argc >= 2 ? strtol(argv[1], &end, 10) : -1;
    bool charging = argc == 3 && strcmp(argv[2], "charging") == 0;
    if (argc < 2 || argc > 3 || *end != 0 || pct < 0 || pct > 100 || (argc == 3 && !charging))
      snprintf(out, cap, "error usage: battery PCT [charging] with PCT 0..100\n");
    else gb_host_battery_set((uint32_t)pct, charging), snprintf(out, cap, "ok\n");
  } else if (strcmp(argv[0], "display") == 0) {
    if (argc != 3 || strcmp(argv[1], "dump") != 0) snprintf(out, cap, "error usage: display dump PATH\n");
    else if (!gb_host_display_dump(argv[2], err, sizeof err)) snprintf(out, cap, "error %s\n", err);
    else snprintf(out, cap, "ok pgm %u %u card_id=%lu\n", 256u, 128u, (unsigned long)gb_app.card_id);
  } else if (strcmp(argv[0], "reboot") == 0) {
    gb_host_request_reboot();
    snprintf(out, cap, "ok rebooting\n");
  } else {
    snprintf(out, cap, "error unknown command '%s': try `help`\n", argv[0]);
  }
}

void gb_host_ctl_service(void) {
  if (listen_fd < 0) return;
  int fd;
  while ((fd = accept4(listen_fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC)) >= 0) {
    int slot = -1;
    for (int i = 0; i < CLIENTS; i++)
      if (clients[i].fd < 0) { slot = i; break; }
    if (slot < 0) {
      say(fd, "error too many control clients (4): close one\n");
      close(fd);
      continue;
    }
    clients[slot].fd = fd;
    clients[slot].len = 0;
  }
  for (int i = 0; i < CLIENTS; i++) {
    if (clients[i].fd < 0) continue;
    char buf[256];
    ssize_t r = recv(clients[i].fd, buf, sizeof buf, 0);
    if (r == 0 || (r < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR)) {
      close(clients[i].fd);
      clients[i].fd = -1;
      continue;
    }
    for (ssize_t k = 0; k < r; k++) {
      if (buf[k] == '\n') {
        static char answer[2048];
        clients[i].line[clients[i].len] = 0;
        command(clients[i].line, answer, sizeof answer);
        say(clients[i].fd, answer);
        clients[i].len = 0;
      } else if (clients[i].len < LINE_MAX_LEN - 1) {
        clients[i].line[clients[i].len++] = buf[k];
      }
    }
  }
}
