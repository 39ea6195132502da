/* Sine tone: phase accumulator and an odd polynomial for sin on a quarter turn (tone.h). */
#include "tone.h"

/* sin(pi/2 * x) for x in [0, 1], Taylor series of sin to x^9 (error < 4e-6 on the quarter turn). */
static float quarter_sin(float x) {
  const float h = 1.5707963267948966f;
  float y = x * h, y2 = y * y;
  return y * (1.0f - y2 / 6.0f * (1.0f - y2 / 20.0f * (1.0f - y2 / 42.0f * (1.0f - y2 / 72.0f))));
}

static float turn_sin(uint32_t phase) {
  unsigned quadrant = phase >> 30;
  float x = (float)(phase & 0x3FFFFFFFu) / 1073741824.0f; /* position inside the quadrant, 0..1 */
  switch (quadrant) {
    case 0: return quarter_sin(x);
    case 1: return quarter_sin(1.0f - x);
    case 2: return -quarter_sin(x);
    default: return -quarter_sin(1.0f - x);
  }
}

void gb_tone_init(gb_tone *t, uint32_t hz, uint32_t rate_hz, int32_t amplitude) {
  t->phase = 0;
  t->step = (uint32_t)(((uint64_t)hz << 32) / rate_hz);
  t->amplitude = amplitude;
}

void gb_tone_fill(gb_tone *t, int16_t *dst, size_t n) {
  for (size_t i = 0; i < n; i++) {
    float v = turn_sin(t->phase) * (float)t->amplitude;
    dst[i] = (int16_t)(v < 0 ? v - 0.5f : v + 0.5f);
    t->phase += t->step;
  }
}
