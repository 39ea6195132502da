/* The microphone: PCM16 mono at 16 kHz. The MCU ports synthesise a tone (QEMU has no audio input), the host
 * port reads a WAV file. */
#ifndef GB_HAL_MIC_H
#define GB_HAL_MIC_H

#include <stddef.h>
#include <stdint.h>

#define GB_MIC_RATE_HZ 16000u

/* Starts and stops capture (a real board powers the microphone and its DMA here). */
void hal_mic_enable(int on);

/* The next n samples of the stream. */
void hal_mic_read(int16_t *dst, size_t n);

#endif
