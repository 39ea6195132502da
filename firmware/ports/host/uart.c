/* The host port's UART: a unix-socket server like QEMU's `-chardev socket,server=on,wait=off` (one client at a
 * time; the next is accepted after it disconnects; with no client, transmitted bytes go nowhere, as on a UART
 * with no cable). Transmit drains the ring at the configured baud, 10 bit-times per byte (8N1), so the
 * application meets the same backpressure as on silicon. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "hal_uart.h"
#include "host.h"
#include "ring.h"

#define RING_SIZE 2048u /* as on the MCU ports: one 1 KB frame (COBS-encoded) plus room */

static uint8_t rx_buf[RING_SIZE], tx_buf[RING_SIZE];
static gb_ring rx = {0, 0, rx_buf, RING_SIZE - 1u};
static gb_ring tx = {0, 0, tx_buf, RING_SIZE - 1u};
static int listen_fd = -1, client_fd = -1;
static char sock_path[108];
static double byte_us;        /* microseconds per byte on the wire */
static double tx_clock_us;    /* when the wire finishes the bytes already sent */
static uint32_t overruns;

bool gb_host_uart_open(const char *path, uint32_t baud, char *err, size_t errlen) {
  struct sockaddr_un a;
  if (strlen(path) >= sizeof a.sun_path) {
    snprintf(err, errlen, "UART socket path too long (%zu bytes, at most %zu): %s", strlen(path),
             sizeof a.sun_path - 1, path);
    return false;
  }
  memset(&a, 0, sizeof a);
  a.sun_family = AF_UNIX;
  strcpy(a.sun_path, path);
  strcpy(sock_path, path);
  unlink(path); /* a stale socket from a previous run */
  listen_fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (listen_fd < 0 || bind(listen_fd, (struct sockaddr *)&a, sizeof a) != 0 || listen(listen_fd, 1) != 0) {
    snprintf(err, errlen, "cannot listen on UART socket %s: %s", path, strerror(errno));
    return false;
  }
  byte_us = 10.0 * 1e6 / (double)baud;
  tx_clock_us = (double)gb_host_now_us();
  return true;
}

void gb_host_uart_close(void) {
  if (client_fd >= 0) close(client_fd);
  if (listen_fd >= 0) close(listen_fd);
  client_fd = listen_fd = -1;
  if (sock_path[0]) unlink(sock_path);
}

void gb_host_uart_reset(void) {
  gb_ring_clear(&rx);
  gb_ring_clear(&tx);
  tx_clock_us = (double)gb_host_now_us();
}

bool gb_host_uart_connected(void) { return client_fd >= 0; }

int gb_host_uart_pollfds(struct pollfd *fds, int max) {
  if (max < 1) return 0;
  if (client_fd < 0) {
    fds[0] = (struct pollfd){listen_fd, POLLIN, 0};
  } else {
    /* Read only while the receive ring has room: the socket buffer then holds the rest (flow control). */
    fds[0] = (struct pollfd){client_fd, (short)(gb_ring_free(&rx) > 0 ? POLLIN : 0), 0};
  }
  return 1;
}

static void disconnect(void) {
  close(client_fd);
  client_fd = -1;
}

static void drain_tx(void) {
  double now = (double)gb_host_now_us();
  if (gb_ring_used(&tx) == 0) {
    tx_clock_us = now; /* an idle line earns no credit */
    return;
  }
  if (tx_clock_us > now) return;
  /* Bytes whose time on the wire has come: the first leaves at once when the line was idle. */
  uint32_t due = (uint32_t)((now - tx_clock_us) / byte_us) + 1u;
  uint8_t chunk[RING_SIZE];
  size_t n = gb_ring_read(&tx, chunk, due < sizeof chunk ? due : sizeof chunk);
  tx_clock_us += (double)n * byte_us;
  if (client_fd < 0) return;
  size_t off = 0;
  while (off < n) {
    ssize_t w = send(client_fd, chunk + off, n - off, MSG_NOSIGNAL);
    if (w > 0) {
      off += (size_t)w;
      continue;
    }
    if (w < 0 && errno == EINTR) continue;
    if (w < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
      /* The reader is slower than the line: block briefly rather than drop (a UART cannot lose bytes it
       * already clocked out; the peer's socket buffer is its FIFO). */
      struct pollfd p = {client_fd, POLLOUT, 0};
      if (poll(&p, 1, 100) <= 0) break;
      continue;
    }
    disconnect();
    break;
  }
}

void gb_host_uart_service(void) {
  if (client_fd < 0) {
    int fd = accept4(listen_fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
    if (fd >= 0) client_fd = fd;
  }
  if (client_fd >= 0) {
    uint8_t buf[RING_SIZE];
    size_t room = gb_ring_free(&rx);
    if (room > 0) {
      ssize_t r = recv(client_fd, buf, room, 0);
      if (r > 0) gb_ring_write(&rx, buf, (size_t)r);
      else if (r == 0 || (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR)) disconnect();
    }
  }
  drain_tx();
}

int64_t gb_host_uart_next_us(void) {
  if (gb_ring_used(&tx) == 0) return -1;
  double wait = tx_clock_us - (double)gb_host_now_us();
  return wait <= 0 ? 0 : (int64_t)wait + 1;
}

size_t hal_uart_read(uint8_t *dst, size_t cap) {
  gb_host_uart_service();
  return gb_ring_read(&rx, dst, cap);
}

int hal_uart_rx_pending(void) { return gb_ring_used(&rx) > 0; }

size_t hal_uart_tx_free(void) {
  drain_tx();
  return gb_ring_free(&tx);
}

size_t hal_uart_write(const uint8_t *src, size_t n) {
  size_t w = gb_ring_write(&tx, src, n);
  drain_tx();
  return w;
}

uint32_t hal_uart_rx_overruns(void) { return overruns; }
