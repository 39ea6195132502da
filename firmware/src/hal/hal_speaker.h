/* The speaker: PCM16 mono at 16 kHz from the SoC. A real board feeds an I2S DAC; the ports here count and
 * checksum what they would play so tests can see it arrived. */
#ifndef GB_HAL_SPEAKER_H
#define GB_HAL_SPEAKER_H

#include <stddef.h>
#include <stdint.h>

void hal_speaker_play(const int16_t *pcm, size_t n);

#endif
