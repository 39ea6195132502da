/* The wake word on the MCU: okay_nabu (microWakeWord, int8, streaming) on the microphone's 10 ms steps, through
 * the gbnn frontend (nn/include/gbnn/frontend.h) and the gbnn engine (nn/include/gbnn/engine.h), deciding exactly
 * as glassbridge.audio.wakeword.WakeWord does on the SoC:
 *
 *   every 10 ms step -> 40 features (from the third step on) -> int8; every 3 frames -> one invoke -> probability
 *   p = scale * (q - zero_point); while not in the refractory time p joins a window of the last `window` steps;
 *   when the window is full and its mean (summed oldest first, in double) exceeds the cut-off: a detection at
 *   the step's last sample; the window empties and steps are not counted for refractory_ms.
 *
 * Same model, same integer features, same arithmetic: the same audio gives the same detections at the same
 * samples on both (tests/firmware/test_wake_mcu.py). Memory: one static arena for the model (GB_WAKE_ARENA),
 * the frontend's state (gbnn_frontend), the quantiser's table; no allocation.
 */
#ifndef GB_APP_WAKE_H
#define GB_APP_WAKE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "gbnn/engine.h"
#include "gbnn/frontend.h"

#define GB_WAKE_MAX_WINDOW 32u
#define GB_WAKE_DEFAULT_REFRACTORY_MS 1000u
#define GB_WAKE_DEFAULT_LOOKBACK_MS 1500u
#define GB_WAKE_ARENA (32u * 1024u) /* checked at init (gbnn_open says what it needs): okay_nabu takes 25,712 B on
                                    * the M4F, 30,512 B on a 64-bit host */

typedef struct {
  uint32_t cutoff_permille; /* the detection threshold on the window's mean, x 1000 */
  uint32_t window;          /* steps of 30 ms averaged */
  uint32_t refractory_ms;
  uint32_t lookback_ms;
  uint32_t frame_ms;        /* the stream's frames (0 = the stream's default) */
} gb_wake_settings;

typedef struct {
  uint64_t sample;          /* samples consumed since the reset when the deciding step ended */
  double mean;              /* the windowed mean that crossed the cut-off */
} gb_wake_detection;

typedef struct {
  bool ready;               /* the model opened */
  gb_wake_settings settings;
  double cutoff;
  gbnn_interpreter *model;
  gbnn_tensor *input, *output;
  gbnn_frontend frontend;
  gbnn_frontend_quantizer quantizer;
  uint32_t frames;          /* feature frames in the input tensor so far */
  uint32_t frames_per_invoke;
  double recent[GB_WAKE_MAX_WINDOW];
  uint32_t n_recent, head;  /* the window: n_recent values ending before recent[head] */
  uint64_t samples;
  uint64_t quiet_until;
  double last_probability;
  uint32_t invokes, detections, errors;
} gb_wake;

/* Opens the built-in model; false (with why in err) if the engine refuses it or the arena is too small. */
bool gb_wake_init(gb_wake *w, char *err, size_t errlen);

/* Settings with the model's defaults for zeros; false (with why) when a value is out of range. */
bool gb_wake_settings_from(gb_wake_settings *s, uint32_t cutoff_permille, uint32_t window, uint32_t refractory_ms,
                           uint32_t lookback_ms, uint32_t frame_ms, uint32_t max_lookback_ms, char *err,
                           size_t errlen);

/* Starts listening afresh with these settings: the frontend, the model's streaming state and the window are
 * reset; samples count from 0. */
void gb_wake_start(gb_wake *w, const gb_wake_settings *s);

/* One 10 ms step (GB_WAKE_STEP_SAMPLES samples); true with *d filled on a detection. */
#define GB_WAKE_STEP_SAMPLES 160u
bool gb_wake_step(gb_wake *w, const int16_t *pcm, gb_wake_detection *d);

#endif
