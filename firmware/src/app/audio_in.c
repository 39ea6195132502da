/* The wake word's microphone history: see audio_in.h. */
#include "audio_in.h"

#include <string.h>

#include "hal_mic.h"

_Static_assert(GB_AUDIO_HISTORY_SAMPLES % GB_AUDIO_STEP_SAMPLES == 0, "whole steps in the ring");

void gb_audio_in_start(gb_audio_in *a, uint32_t now) {
  a->running = true;
  a->started_at = now;
  a->captured = 0;
  a->late_steps = 0;
}

void gb_audio_in_stop(gb_audio_in *a) { a->running = false; }

static uint64_t steps_due(const gb_audio_in *a, uint32_t now) {
  return (uint64_t)(uint32_t)(now - a->started_at) / GB_AUDIO_STEP_MS;
}

const int16_t *gb_audio_in_next(gb_audio_in *a, uint32_t now, uint64_t *first_sample) {
  if (!a->running) return NULL;
  uint64_t done = a->captured / GB_AUDIO_STEP_SAMPLES, due = steps_due(a, now);
  if (done >= due) return NULL;
  const uint64_t ring_steps = GB_AUDIO_HISTORY_SAMPLES / GB_AUDIO_STEP_SAMPLES;
  if (due - done > ring_steps) { /* stalled for longer than the history: those steps are gone */
    uint64_t skip = due - done - ring_steps;
    a->late_steps += (uint32_t)skip;
    a->captured += skip * GB_AUDIO_STEP_SAMPLES;
  }
  int16_t *step = &a->ring[a->captured % GB_AUDIO_HISTORY_SAMPLES];
  hal_mic_read(step, GB_AUDIO_STEP_SAMPLES);
  *first_sample = a->captured;
  a->captured += GB_AUDIO_STEP_SAMPLES;
  return step;
}

uint64_t gb_audio_in_oldest(const gb_audio_in *a) {
  return a->captured > GB_AUDIO_HISTORY_SAMPLES ? a->captured - GB_AUDIO_HISTORY_SAMPLES : 0u;
}

bool gb_audio_in_copy(const gb_audio_in *a, uint64_t first, uint32_t n, int16_t *dst) {
  if (first < gb_audio_in_oldest(a) || first + n > a->captured) return false;
  for (uint32_t i = 0; i < n;) { /* at most two pieces: up to the ring's end, then from its start */
    uint32_t at = (uint32_t)((first + i) % GB_AUDIO_HISTORY_SAMPLES);
    uint32_t piece = GB_AUDIO_HISTORY_SAMPLES - at;
    if (piece > n - i) piece = n - i;
    memcpy(dst + i, &a->ring[at], piece * sizeof *dst);
    i += piece;
  }
  return true;
}

uint32_t gb_audio_in_deadline(const gb_audio_in *a, uint32_t now) {
  if (!a->running) return now + 60000u;
  uint64_t next = a->captured / GB_AUDIO_STEP_SAMPLES + 1u;
  return a->started_at + (uint32_t)(next * GB_AUDIO_STEP_MS);
}
