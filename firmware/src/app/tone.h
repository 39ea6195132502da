/* A sine tone generator for microphones that have no real input (QEMU boards, the host port without a WAV):
 * PCM16 at 16 kHz, phase kept across calls so consecutive frames join without a click. No libm: a polynomial
 * sine, accurate to about 1e-4 (far below one PCM16 step at the amplitudes used). */
#ifndef GB_APP_TONE_H
#define GB_APP_TONE_H

#include <stddef.h>
#include <stdint.h>

typedef struct {
  uint32_t phase;  /* fraction of a turn, 2^32 = one turn */
  uint32_t step;   /* phase increment per sample */
  int32_t amplitude;
} gb_tone;

void gb_tone_init(gb_tone *t, uint32_t hz, uint32_t rate_hz, int32_t amplitude);
void gb_tone_fill(gb_tone *t, int16_t *dst, size_t n);

#endif
