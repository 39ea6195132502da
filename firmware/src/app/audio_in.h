/* The microphone as the MCU hears it while the wake word listens: 10 ms steps captured on the MCU's clock into
 * a history ring, numbered from the capture's start. The wake detector reads each step as it is captured; a
 * microphone stream that a detection starts reads the same ring from lookback_ms before the detection, so the
 * phrase reaches the SoC whole.
 *
 * Step k (samples [160 k, 160 k + 160)) is captured once the clock passes started_at + 10 (k + 1) ms. A loop that
 * fell behind by more than the history skips the oldest steps (counted in late_steps): the ring never hands out
 * samples it has overwritten.
 */
#ifndef GB_APP_AUDIO_IN_H
#define GB_APP_AUDIO_IN_H

#include <stdbool.h>
#include <stdint.h>

#define GB_AUDIO_STEP_MS 10u
#define GB_AUDIO_STEP_SAMPLES 160u                     /* 10 ms at 16 kHz */
#define GB_AUDIO_HISTORY_MS 2000u
#define GB_AUDIO_HISTORY_SAMPLES (GB_AUDIO_HISTORY_MS * 16u) /* 64 KB of PCM16 */

typedef struct {
  bool running;
  uint32_t started_at;  /* ms */
  uint64_t captured;    /* samples captured since the start (always whole steps) */
  uint32_t late_steps;  /* steps skipped because the loop fell behind by more than the history */
  int16_t ring[GB_AUDIO_HISTORY_SAMPLES];
} gb_audio_in;

void gb_audio_in_start(gb_audio_in *a, uint32_t now);
void gb_audio_in_stop(gb_audio_in *a);

/* The next step due by `now`: reads it from the microphone (hal_mic_read) into the ring and returns a pointer to
 * its 160 samples (valid until the next call), with its first sample's index; NULL when no step is due. */
const int16_t *gb_audio_in_next(gb_audio_in *a, uint32_t now, uint64_t *first_sample);

/* Copies samples [first, first + n) out of the ring; false when they are not all captured yet or already
 * overwritten. */
bool gb_audio_in_copy(const gb_audio_in *a, uint64_t first, uint32_t n, int16_t *dst);

/* The oldest sample still in the ring. */
uint64_t gb_audio_in_oldest(const gb_audio_in *a);

/* When the next step is due (now + 60 s when not running). */
uint32_t gb_audio_in_deadline(const gb_audio_in *a, uint32_t now);

#endif
