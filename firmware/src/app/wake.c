/* The wake word on the MCU: see wake.h. */
#include "wake.h"

#include <stdio.h>
#include <string.h>

#include "wake_model.h"

_Static_assert(GB_WAKE_STEP_SAMPLES == GBNN_FRONTEND_STEP_SAMPLES, "one frontend call per 10 ms step");

static _Alignas(16) uint8_t arena[GB_WAKE_ARENA];

bool gb_wake_init(gb_wake *w, char *err, size_t errlen) {
  memset(w, 0, sizeof *w);
  gbnn_error e;
  w->model = gbnn_open(gb_wake_model, gb_wake_model_len, arena, sizeof arena, 0u, &e);
  if (!w->model) {
    snprintf(err, errlen, "wake word %s: %s", gb_wake_model_id, e.message);
    return false;
  }
  w->input = gbnn_input(w->model, 0);
  w->output = gbnn_output(w->model, 0);
  /* The model's contract as microWakeWord makes it: int8 [1, frames, 40] in, one uint8 or int8 probability out. */
  if (!w->input || !w->output || w->input->type != GBNN_INT8 || w->input->rank != 3 ||
      w->input->dims[2] != GBNN_FRONTEND_CHANNELS || w->input->dims[1] < 1 ||
      (w->output->type != GBNN_UINT8 && w->output->type != GBNN_INT8) || w->output->bytes < 1 ||
      !gbnn_frontend_quantizer_init(&w->quantizer, w->input->scale, w->input->zero_point)) {
    snprintf(err, errlen, "wake word %s: not an int8 [1, n, %d] -> probability model", gb_wake_model_id,
             GBNN_FRONTEND_CHANNELS);
    w->model = NULL;
    return false;
  }
  w->frames_per_invoke = (uint32_t)w->input->dims[1];
  gbnn_frontend_init(&w->frontend);
  w->ready = true;
  return true;
}

bool gb_wake_settings_from(gb_wake_settings *s, uint32_t cutoff_permille, uint32_t window, uint32_t refractory_ms,
                           uint32_t lookback_ms, uint32_t frame_ms, uint32_t max_lookback_ms, char *err,
                           size_t errlen) {
  s->cutoff_permille = cutoff_permille ? cutoff_permille : gb_wake_default_cutoff_permille;
  s->window = window ? window : gb_wake_default_window;
  s->refractory_ms = refractory_ms ? refractory_ms : GB_WAKE_DEFAULT_REFRACTORY_MS;
  s->lookback_ms = lookback_ms ? lookback_ms : GB_WAKE_DEFAULT_LOOKBACK_MS;
  s->frame_ms = frame_ms;
  if (s->cutoff_permille >= 1000u) {
    snprintf(err, errlen, "cutoff_permille must be 1..999");
    return false;
  }
  if (s->window > GB_WAKE_MAX_WINDOW) {
    snprintf(err, errlen, "window must be 1..%u steps", (unsigned)GB_WAKE_MAX_WINDOW);
    return false;
  }
  if (s->lookback_ms > max_lookback_ms) {
    snprintf(err, errlen, "lookback_ms must be at most %u", (unsigned)max_lookback_ms);
    return false;
  }
  if (s->refractory_ms > 60000u) {
    snprintf(err, errlen, "refractory_ms must be at most 60000");
    return false;
  }
  return true;
}

void gb_wake_start(gb_wake *w, const gb_wake_settings *s) {
  w->settings = *s;
  /* 850 / 1000.0 is the double nearest 0.85, as the SoC's float from the manifest is. */
  w->cutoff = (double)s->cutoff_permille / 1000.0;
  gbnn_frontend_reset(&w->frontend);
  if (w->model) gbnn_reset(w->model);
  w->frames = 0;
  w->n_recent = 0;
  w->head = 0;
  w->samples = 0;
  w->quiet_until = 0;
  w->last_probability = 0.0;
}

static double probability(const gb_wake *w) {
  int32_t q = w->output->type == GBNN_UINT8 ? (int32_t)((const uint8_t *)w->output->data)[0]
                                            : (int32_t)((const int8_t *)w->output->data)[0];
  return (double)w->output->scale * ((double)q - (double)w->output->zero_point);
}

bool gb_wake_step(gb_wake *w, const int16_t *pcm, gb_wake_detection *d) {
  if (!w->ready) return false;
  uint16_t features[GBNN_FRONTEND_CHANNELS];
  w->samples += GB_WAKE_STEP_SAMPLES;
  if (!gbnn_frontend_process(&w->frontend, pcm, features)) return false; /* the first 30 ms window fills */
  int8_t *in = (int8_t *)w->input->data + (size_t)w->frames * GBNN_FRONTEND_CHANNELS;
  gbnn_frontend_quantize_frame(&w->quantizer, features, in, GBNN_FRONTEND_CHANNELS);
  if (++w->frames < w->frames_per_invoke) return false;
  w->frames = 0;
  if (gbnn_invoke(w->model, NULL) != GBNN_OK) {
    w->errors++;
    return false;
  }
  w->invokes++;
  double p = probability(w);
  w->last_probability = p;
  if (w->samples < w->quiet_until) return false; /* refractory: the model still runs to follow the audio */
  w->recent[w->head] = p;
  w->head = (w->head + 1u) % w->settings.window;
  if (w->n_recent < w->settings.window) w->n_recent++;
  if (w->n_recent < w->settings.window) return false;
  double sum = 0.0; /* oldest first, as Python's sum() over the SoC's deque */
  for (uint32_t i = 0; i < w->settings.window; i++) sum += w->recent[(w->head + i) % w->settings.window];
  double mean = sum / (double)w->settings.window;
  if (!(mean > w->cutoff)) return false;
  w->n_recent = 0;
  w->head = 0;
  w->quiet_until = w->samples + (uint64_t)w->settings.refractory_ms * 16u;
  w->detections++;
  d->sample = w->samples;
  d->mean = mean;
  return true;
}
