/* The wake word's cost on the Cortex-M4F: a semihosting image that runs N 10 ms steps of real audio through the
 * firmware's own code, for `glassbridge bench int8` (rig/glassbridge_rig/bench/int8.py), which runs it under
 * qemu-system-arm with QEMU's instruction-counting TCG plugin, twice with two N: (I2 - I1) / (N2 - N1) is the
 * cost of one step, boot and set-up cancelled out.
 *
 *   qemu-system-arm -M mps2-an386 -nographic -monitor none -serial null \
 *     -semihosting-config enable=on,target=native,arg=wake_bench,arg=MODE,arg=N,arg=PCM_FILE \
 *     -kernel wake-bench.elf [-plugin libinsn.so,inline=on -d plugin -D LOG]
 *
 * MODE:
 *   step      gb_wake_step (firmware/src/app/wake.c) on each step: the frontend every step, the model every
 *             third, the detection window; as the firmware's main loop runs it while listening
 *   frontend  gbnn_frontend_process + gbnn_frontend_quantize_frame on each step (the features alone)
 *   invoke    gbnn_invoke alone, N times, on the features of the audio's steps 30..32 (set up before the loop)
 *   none      the set-up only (N is ignored)
 * PCM_FILE: raw little-endian PCM16 mono at 16 kHz, read whole by semihosting before the loop (at most
 * GB_BENCH_MAX_SAMPLES samples; steps past its end wrap round to its start).
 *
 * Prints one line (semihosting SYS_WRITE0): mode, steps, arena_used (gbnn_arena_used on this target), the arena
 * and state sizes, invokes, detections and their samples; exits 0, or 1 with the reason.
 * Test and bench images only: on silicon without a debugger attached the semihosting bkpt is a HardFault. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "semihost.h"
#include "wake.h"

#ifndef GB_BENCH_MAX_SAMPLES
#define GB_BENCH_MAX_SAMPLES (16000u * 60u)
#endif

enum { SYS_OPEN = 0x01, SYS_CLOSE = 0x02, SYS_READ = 0x06, SYS_FLEN = 0x0C, SYS_GET_CMDLINE = 0x15 };

static int sh_call(int op, const void *arg) {
  register int r0 __asm__("r0") = op;
  register const void *r1 __asm__("r1") = arg;
  __asm__ volatile("bkpt 0xAB" : "+r"(r0) : "r"(r1) : "memory");
  return r0;
}

static int16_t pcm[GB_BENCH_MAX_SAMPLES];
static char cmdline[512];
static char line[600];
static gb_wake wake;

static void fail(const char *why) {
  gb_semihost_write0("wake_bench: ");
  gb_semihost_write0(why);
  gb_semihost_write0("\n");
  gb_semihost_exit(1);
}

/* The whole file into pcm[]; returns the sample count. */
static uint32_t load(const char *path) {
  uintptr_t open_block[3] = {(uintptr_t)path, 1u /* "rb" */, strlen(path)};
  int h = sh_call(SYS_OPEN, open_block);
  if (h < 0) fail("cannot open the PCM file");
  uintptr_t len_block[1] = {(uintptr_t)h};
  int len = sh_call(SYS_FLEN, len_block);
  if (len < (int)(2u * GB_WAKE_STEP_SAMPLES)) fail("the PCM file is shorter than one step");
  uint32_t bytes = (uint32_t)len;
  if (bytes > sizeof pcm) bytes = sizeof pcm;
  bytes -= bytes % (2u * GB_WAKE_STEP_SAMPLES);
  uintptr_t read_block[3] = {(uintptr_t)h, (uintptr_t)pcm, bytes};
  if (sh_call(SYS_READ, read_block) != 0) fail("short read of the PCM file");
  sh_call(SYS_CLOSE, len_block);
  return bytes / 2u;
}

int main(void) {
  uintptr_t cmd_block[2] = {(uintptr_t)cmdline, sizeof cmdline - 1u};
  if (sh_call(SYS_GET_CMDLINE, cmd_block) != 0) fail("no command line (semihosting-config arg=...)");
  char *argv[5] = {0};
  int argc = 0;
  for (char *p = strtok(cmdline, " "); p && argc < 5; p = strtok(NULL, " ")) argv[argc++] = p;
  if (argc != 4) fail("usage: wake_bench MODE N PCM_FILE");
  const char *mode = argv[1];
  uint32_t steps = (uint32_t)strtoul(argv[2], NULL, 10);
  uint32_t samples = load(argv[3]);
  uint32_t n_steps_audio = samples / GB_WAKE_STEP_SAMPLES;

  char err[160];
  if (!gb_wake_init(&wake, err, sizeof err)) fail(err);
  gb_wake_settings settings;
  if (!gb_wake_settings_from(&settings, 0, 0, 0, 0, 0, 2000u, err, sizeof err)) fail(err);
  gb_wake_start(&wake, &settings);

  uint32_t detections = 0, invokes = 0;
  char found[200] = "";
  size_t found_len = 0;
  if (strcmp(mode, "step") == 0) {
    for (uint32_t k = 0; k < steps; k++) {
      gb_wake_detection d;
      if (gb_wake_step(&wake, pcm + (size_t)(k % n_steps_audio) * GB_WAKE_STEP_SAMPLES, &d)) {
        detections++;
        if (found_len + 16u < sizeof found)
          found_len += (size_t)snprintf(found + found_len, sizeof found - found_len, "%s%lu", detections > 1 ? "," : "",
                                        (unsigned long)d.sample);
      }
    }
    invokes = wake.invokes;
  } else if (strcmp(mode, "frontend") == 0) {
    uint16_t features[GBNN_FRONTEND_CHANNELS];
    int8_t frame[GBNN_FRONTEND_CHANNELS];
    for (uint32_t k = 0; k < steps; k++) {
      if (gbnn_frontend_process(&wake.frontend, pcm + (size_t)(k % n_steps_audio) * GB_WAKE_STEP_SAMPLES, features))
        gbnn_frontend_quantize_frame(&wake.quantizer, features, frame, GBNN_FRONTEND_CHANNELS);
    }
  } else if (strcmp(mode, "invoke") == 0) {
    /* The input: the features of steps 30..32 (or the audio's last three), computed once before the loop. */
    uint16_t features[GBNN_FRONTEND_CHANNELS];
    uint32_t last = n_steps_audio < 33u ? n_steps_audio : 33u, frames = 0;
    int8_t *in = (int8_t *)wake.input->data;
    for (uint32_t k = 0; k < last; k++) {
      if (!gbnn_frontend_process(&wake.frontend, pcm + (size_t)k * GB_WAKE_STEP_SAMPLES, features)) continue;
      gbnn_frontend_quantize_frame(&wake.quantizer, features, in + (size_t)(frames % wake.frames_per_invoke) *
                                   GBNN_FRONTEND_CHANNELS, GBNN_FRONTEND_CHANNELS);
      frames++;
    }
    for (uint32_t k = 0; k < steps; k++) {
      gbnn_error e;
      if (gbnn_invoke(wake.model, &e) != GBNN_OK) fail(e.message);
      invokes++;
    }
  } else if (strcmp(mode, "none") != 0) {
    fail("MODE must be step, frontend, invoke or none");
  }
  if (wake.errors) fail("an invoke failed");
  snprintf(line, sizeof line,
           "wake_bench mode=%s steps=%lu audio_steps=%lu arena_used=%lu arena_static=%lu wake_state=%lu "
           "frontend_state=%lu quantizer=%lu frames_per_invoke=%lu invokes=%lu detections=%lu detected_samples=%s\n",
           mode, (unsigned long)steps, (unsigned long)n_steps_audio, (unsigned long)gbnn_arena_used(wake.model),
           (unsigned long)GB_WAKE_ARENA, (unsigned long)sizeof wake, (unsigned long)sizeof wake.frontend,
           (unsigned long)sizeof wake.quantizer, (unsigned long)wake.frames_per_invoke, (unsigned long)invokes,
           (unsigned long)detections, found_len ? found : "-");
  gb_semihost_write0(line);
  return 0;
}

void gb_startup_exit(int code) { gb_semihost_exit(code); }
