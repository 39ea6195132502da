/* MCU side of the link engine's own tests (protocol/c/tests/test_*.c) and of the gbnn engine's (nn/tests/test_*.c,
 * tests/nn_tests.cmake), unchanged C11 programs with a main, stdio, malloc and exit: newlib's system calls over ARM
 * semihosting, so that under qemu-system-arm (-semihosting-config enable=on,target=native)
 *   - printf/fprintf reach QEMU's stdout/stderr (the console, ":tt"),
 *   - fopen/fgets read protocol/vectors/<name>.txt from the host file system (the same files the host tests read,
 *     at the absolute path GB_VECTORS_DIR),
 *   - malloc gets a heap between the end of .bss and a stack reserve of GB_TEST_STACK_BYTES,
 *   - exit(code) or main's return value becomes QEMU's exit code (SYS_EXIT_EXTENDED).
 * main is wrapped (-Wl,--wrap=main) to paint the stack reserve first; at exit the peak heap and stack use are
 * printed, and a stack that grew past its reserve (into the heap: the Cortex-M has no guard page) fails the
 * test even if every check passed.
 * Test images only: on silicon without a debugger attached the semihosting bkpt is a HardFault. */
#include <errno.h>
#include <fcntl.h>
#include <malloc.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "semihost.h"

#ifndef GB_TEST_STACK_BYTES
#define GB_TEST_STACK_BYTES (16u * 1024u)
#endif

/* Semihosting operations (ARM "Semihosting for AArch32 and AArch64"). */
enum { SYS_OPEN = 0x01, SYS_CLOSE = 0x02, SYS_WRITE = 0x05, SYS_READ = 0x06, SYS_ISTTY = 0x09, SYS_SEEK = 0x0A,
       SYS_FLEN = 0x0C };

static int sh_call(int op, const void *arg) {
  register int r0 __asm__("r0") = op;
  register const void *r1 __asm__("r1") = arg;
  __asm__ volatile("bkpt 0xAB" : "+r"(r0) : "r"(r1) : "memory");
  return r0;
}

/* ---- file descriptors: newlib's fd -> a semihosting handle ------------------------------------------------- */

#define MAX_FDS 8
typedef struct {
  int handle; /* -1: closed */
  int tty;
  long pos;   /* for SEEK_CUR */
} sh_fd;
static sh_fd fds[MAX_FDS];
static int fds_ready;

static int sh_open(const char *path, int mode) {
  uintptr_t block[3] = {(uintptr_t)path, (uintptr_t)mode, strlen(path)};
  return sh_call(SYS_OPEN, block);
}

/* fd 0, 1, 2 are the console: ":tt" opened for reading (mode 0), writing (4, stdout) and appending (8, stderr). */
static void fds_init(void) {
  if (fds_ready) return;
  fds_ready = 1;
  for (int i = 0; i < MAX_FDS; i++) fds[i] = (sh_fd){-1, 0, 0};
  static const int console_mode[3] = {0, 4, 8};
  for (int i = 0; i < 3; i++) fds[i] = (sh_fd){sh_open(":tt", console_mode[i]), 1, 0};
}

static sh_fd *fd_get(int fd) {
  fds_init();
  if (fd < 0 || fd >= MAX_FDS || fds[fd].handle < 0) {
    errno = EBADF;
    return NULL;
  }
  return &fds[fd];
}

int _open(const char *path, int flags, ...) {
  fds_init();
  int acc = flags & O_ACCMODE, mode;
  /* fopen's modes: r=0 (binary 1), r+=2, w=4, w+=6, a=8, a+=10; always binary (+1): no newline translation. */
  if (acc == O_RDONLY) mode = 0;
  else if (flags & O_APPEND) mode = acc == O_RDWR ? 10 : 8;
  else if (flags & O_TRUNC) mode = acc == O_RDWR ? 6 : 4;
  else mode = 2;
  for (int i = 3; i < MAX_FDS; i++) {
    if (fds[i].handle >= 0) continue;
    int h = sh_open(path, mode + 1);
    if (h < 0) {
      errno = ENOENT;
      return -1;
    }
    fds[i] = (sh_fd){h, 0, 0};
    return i;
  }
  errno = EMFILE;
  return -1;
}

int _close(int fd) {
  sh_fd *f = fd_get(fd);
  if (!f) return -1;
  if (fd >= 3) {
    uintptr_t block[1] = {(uintptr_t)f->handle};
    sh_call(SYS_CLOSE, block);
    f->handle = -1;
  }
  return 0;
}

int _read(int fd, char *buf, int len) {
  sh_fd *f = fd_get(fd);
  if (!f) return -1;
  uintptr_t block[3] = {(uintptr_t)f->handle, (uintptr_t)buf, (uintptr_t)len};
  int not_read = sh_call(SYS_READ, block); /* returns the count NOT read */
  if (not_read < 0 || not_read > len) {
    errno = EIO;
    return -1;
  }
  f->pos += len - not_read;
  return len - not_read;
}

int _write(int fd, const char *buf, int len) {
  sh_fd *f = fd_get(fd);
  if (!f) return -1;
  uintptr_t block[3] = {(uintptr_t)f->handle, (uintptr_t)buf, (uintptr_t)len};
  int not_written = sh_call(SYS_WRITE, block);
  if (not_written < 0 || not_written > len) {
    errno = EIO;
    return -1;
  }
  f->pos += len - not_written;
  return len - not_written;
}

int _lseek(int fd, int off, int whence) {
  sh_fd *f = fd_get(fd);
  if (!f) return -1;
  if (f->tty) {
    errno = ESPIPE;
    return -1;
  }
  long to = off;
  if (whence == SEEK_CUR) {
    to += f->pos;
  } else if (whence == SEEK_END) {
    uintptr_t block[1] = {(uintptr_t)f->handle};
    to += sh_call(SYS_FLEN, block);
  }
  uintptr_t block[2] = {(uintptr_t)f->handle, (uintptr_t)to};
  if (to < 0 || sh_call(SYS_SEEK, block) != 0) {
    errno = EINVAL;
    return -1;
  }
  f->pos = to;
  return (int)to;
}

int _fstat(int fd, struct stat *st) {
  sh_fd *f = fd_get(fd);
  if (!f) return -1;
  memset(st, 0, sizeof *st);
  st->st_mode = f->tty ? S_IFCHR : S_IFREG;
  return 0;
}

int _isatty(int fd) {
  sh_fd *f = fd_get(fd);
  return f ? f->tty : 0;
}

/* ---- the heap: from the end of .bss up to the stack reserve ------------------------------------------------ */

extern char end;     /* common.ld: the end of .bss */
extern char _estack; /* common.ld: the initial stack pointer */
static char *brk_now = &end, *brk_peak = &end;

/* Through an integer: the linker symbols are not C objects to index. */
static char *heap_limit(void) { return (char *)((uintptr_t)&_estack - GB_TEST_STACK_BYTES); }

void *_sbrk(ptrdiff_t incr) {
  if (brk_now + incr > heap_limit() || brk_now + incr < &end) {
    /* malloc will return NULL: say why here, where the sizes are known. */
    static char msg[240];
    snprintf(msg, sizeof msg, "heap exhausted: %d more bytes asked, %u of %u in use: the test's memory does not "
             "fit this board (sizes in firmware/tests/protocol_tests.cmake)\n", (int)incr,
             (unsigned)(brk_now - &end), (unsigned)(heap_limit() - &end));
    fds_init();
    uintptr_t block[3] = {(uintptr_t)fds[2].handle, (uintptr_t)msg, strlen(msg)};
    sh_call(SYS_WRITE, block);
    errno = ENOMEM;
    return (void *)-1;
  }
  char *old = brk_now;
  brk_now += incr;
  if (brk_now > brk_peak) brk_peak = brk_now;
  return old;
}

/* newlib's aligned_alloc (nn/tests/test_core.c) calls posix_memalign, which this newlib build lacks: memalign. */
int posix_memalign(void **out, size_t align, size_t size) {
  void *p = memalign(align, size);
  if (!p) return ENOMEM;
  *out = p;
  return 0;
}

/* ---- the stack reserve: painted at start, measured at exit ------------------------------------------------- */

#define PAINT 0xC5C5C5C5u

#ifdef GB_TEST_MAIN_WITH_ARGS
/* A test whose main takes (argc, argv) (nn/tests/test_frontend.c): called as a program run without arguments. */
int __real_main(int argc, char **argv);
static char test_name[] = "test";
static char *test_argv[] = {test_name, NULL};
#define GB_CALL_REAL_MAIN() __real_main(1, test_argv)
#else
int __real_main(void);
#define GB_CALL_REAL_MAIN() __real_main()
#endif
int __wrap_main(void);

int __wrap_main(void) {
  if (heap_limit() < &end) {
    static const char msg[] = "FAIL: .data + .bss leave less than GB_TEST_STACK_BYTES of RAM for the stack: lower it "
                              "(firmware/tests/protocol_tests.cmake) or shrink the test's buffers\n";
    fds_init();
    uintptr_t block[3] = {(uintptr_t)fds[2].handle, (uintptr_t)msg, sizeof msg - 1};
    sh_call(SYS_WRITE, block);
    gb_semihost_exit(2);
  }
  /* Paint from the bottom of the reserve up to just below this frame. */
  volatile uint32_t *p = (volatile uint32_t *)(void *)heap_limit();
  volatile uint32_t *top = (volatile uint32_t *)__builtin_frame_address(0) - 64;
  while (p < top) *p++ = PAINT;
  return GB_CALL_REAL_MAIN();
}

static void report(char *buf, size_t cap, int *code) {
  const uint32_t *p = (const uint32_t *)(const void *)heap_limit();
  const uint32_t *stop = (const uint32_t *)(const void *)&_estack;
  while (p < stop && *p == PAINT) p++;
  size_t stack_used = (size_t)((const char *)stop - (const char *)p);
  size_t heap_used = (size_t)(brk_peak - &end);
  /* The lowest word of the reserve overwritten: the stack may have run on into the heap. */
  int overflow = p == (const uint32_t *)(const void *)heap_limit();
  snprintf(buf, cap, "memory: heap peak %u of %u bytes, stack peak %s%u of %u bytes (GB_TEST_STACK_BYTES)\n",
           (unsigned)heap_used, (unsigned)(heap_limit() - &end), overflow ? "at least " : "", (unsigned)stack_used,
           (unsigned)GB_TEST_STACK_BYTES);
  if (overflow) {
    size_t n = strlen(buf);
    snprintf(buf + n, cap - n, "FAIL: the stack used its whole reserve: raise GB_TEST_STACK_BYTES for this board "
             "(firmware/tests/protocol_tests.cmake)\n");
    if (*code == 0) *code = 3;
  }
}

/* exit(): newlib has run the atexit handlers and flushed stdio; report, then end QEMU with the code. */
void _exit(int code) {
  static char msg[300];
  report(msg, sizeof msg, &code);
  fds_init();
  uintptr_t block[3] = {(uintptr_t)fds[1].handle, (uintptr_t)msg, strlen(msg)};
  sh_call(SYS_WRITE, block);
  gb_semihost_exit(code);
}

/* main returned (ports/cortex_m/startup.c): the same path as exit(). */
void gb_startup_exit(int code) { exit(code); }
