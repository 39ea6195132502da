/* The audio frontend (gbnn/frontend.h), without Python:
 *  - its constant tables equal what the TFLite-Micro frontend's initialisation computes (the same float and double
 *    arithmetic, redone here with this host's libm), so nn/src/frontend_tables.c is never stale; with
 *    `--write-tables FILE` this program writes that file instead;
 *  - a golden figure: the FNV-1a hash of every frame of a deterministic 14 s signal (silence, noise from quiet to
 *    clipped, a loud square wave, the most negative DC, full-scale Nyquist, clicks) equals pymicro-features'
 *    (tests/nn/test_frontend.py recomputes it with pymicro-features and checks the constant below; the
 *    frame-by-frame comparison lives there);
 *  - the square root against TFLM's bitwise method; on the Cortex-M4, the DSP FFT against the plain C one;
 *  - streaming facts: frames from the third call on, reset() is a fresh stream, instances are independent;
 *  - the int8 quantizer: thresholds, lookup and argument checks (its equality with wakeword.py's numpy formula on
 *    all 65536 values is tests/nn/test_frontend.py's).
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "frontend_tables.h"
#include "gbnn/frontend.h"

/* ---- the tables, computed as the TFLite-Micro frontend initialises its state ---- */

#define FB_MAX_BINS 257

typedef struct {
  int16_t window[GBNN_FRONTEND_WINDOW_SAMPLES];
  gbnn_frontend_cpx twiddles[GBNN_FRONTEND_FFT_SIZE / 2];
  gbnn_frontend_cpx super_twiddles[GBNN_FRONTEND_FFT_SIZE / 4];
  int fb_start, fb_end;
  uint16_t fb_edges[GBNN_FE_FB_CHANNELS_PLUS_1 + 1];
  uint16_t fb_weights[FB_MAX_BINS], fb_unweights[FB_MAX_BINS];
  uint16_t nr_even, nr_odd, nr_min;
  int16_t pcan[GBNN_FE_PCAN_LUT_SIZE];
  uint16_t log_lut[GBNN_FE_LOG_LUT_SIZE];
} tables;

/* Every libm call takes its argument through a volatile: the compiler must not fold a call with a constant
 * argument at build time (GCC folds with MPFR, correctly rounded, where the frontend calls the C library at run
 * time: log1pf(7500 / 700) differs by one ulp, which moves the last filterbank bin). */
static float opaque(float x) {
  volatile float v = x;
  return v;
}

static double opaque_d(double x) {
  volatile double v = x;
  return v;
}

static float mel(float hz) { return 1127.0f * log1pf(opaque(hz / 700.0f)); }

static int16_t pcan_gain(int32_t input_bits, uint32_t x) {
  const float x_as_float = ((float)x) / (float)((uint32_t)1 << input_bits);
  const float gain = (float)((uint32_t)1 << 21) * powf(opaque(x_as_float + 80.0f), opaque(-0.95f));
  if (gain > 32767.0f) return 32767;
  return (int16_t)(gain + 0.5f);
}

static int compute_tables(tables *t) {
  memset(t, 0, sizeof *t);
  /* Hann window, in float. */
  const float arg = (float)3.14159265358979323846 * 2.0f / (float)GBNN_FRONTEND_WINDOW_SAMPLES;
  for (int i = 0; i < GBNN_FRONTEND_WINDOW_SAMPLES; ++i) {
    const float v = 0.5f - (0.5f * cosf(opaque(arg * ((float)i + 0.5f))));
    t->window[i] = (int16_t)floorf(v * (float)(1 << GBNN_FE_WINDOW_BITS) + 0.5f);
  }
  /* kissfft's twiddles, in double. */
  const double pi = 3.14159265358979323846264338327950288;
  const int nfft = GBNN_FRONTEND_FFT_SIZE / 2;
  for (int i = 0; i < nfft; ++i) {
    const double phase = -2 * pi * i / nfft;
    t->twiddles[i].r = (int16_t)floor(.5 + 32767 * cos(opaque_d(phase)));
    t->twiddles[i].i = (int16_t)floor(.5 + 32767 * sin(opaque_d(phase)));
  }
  for (int i = 0; i < nfft / 2; ++i) {
    const double phase = -pi * ((double)(i + 1) / nfft + .5);
    t->super_twiddles[i].r = (int16_t)floor(.5 + 32767 * cos(opaque_d(phase)));
    t->super_twiddles[i].i = (int16_t)floor(.5 + 32767 * sin(opaque_d(phase)));
  }
  /* Mel filterbank: 41 centres evenly spaced in mel from 125 Hz to 7500 Hz, in float. */
  const int channels = GBNN_FE_FB_CHANNELS_PLUS_1;
  float centre[GBNN_FE_FB_CHANNELS_PLUS_1];
  const float mel_low = mel(125.0f), mel_high = mel(7500.0f);
  const float spacing = (mel_high - mel_low) / (float)channels;
  for (int c = 0; c < channels; ++c) centre[c] = mel_low + (spacing * (float)(c + 1));
  const int spectrum_size = GBNN_FRONTEND_FFT_SIZE / 2 + 1;
  const float hz_per_bin = 0.5f * (float)GBNN_FRONTEND_SAMPLE_RATE / ((float)spectrum_size - 1);
  t->fb_start = (int)(1.5f + 125.0f / hz_per_bin);
  int bin = t->fb_start;
  t->fb_edges[0] = (uint16_t)bin;
  for (int c = 0; c < channels; ++c) {
    const float below = c == 0 ? mel_low : centre[c - 1];
    for (; mel((float)bin * hz_per_bin) <= centre[c]; ++bin) {
      if (bin >= FB_MAX_BINS) return 0;
      const float w = (centre[c] - mel((float)bin * hz_per_bin)) / (centre[c] - below);
      const float wq = floorf(w * (float)(1 << GBNN_FE_FILTERBANK_BITS) + 0.5f);
      const float uq = floorf((1.0f - w) * (float)(1 << GBNN_FE_FILTERBANK_BITS) + 0.5f);
      if (wq < 0.0f || uq < 0.0f) return 0; /* the C code multiplies them as unsigned */
      t->fb_weights[bin - t->fb_start] = (uint16_t)wq;
      t->fb_unweights[bin - t->fb_start] = (uint16_t)uq;
    }
    t->fb_edges[c + 1] = (uint16_t)bin;
  }
  t->fb_end = bin;
  /* Noise reduction, Q14, truncated from float. */
  t->nr_even = (uint16_t)(0.025f * (float)(1 << 14));
  t->nr_odd = (uint16_t)(0.06f * (float)(1 << 14));
  t->nr_min = (uint16_t)(0.05f * (float)(1 << 14));
  /* PCAN's gain: input bits = smoothing bits 10 - correction bits 3. */
  const int32_t input_bits = 7;
  t->pcan[0] = pcan_gain(input_bits, 0);
  t->pcan[1] = pcan_gain(input_bits, 1);
  for (int interval = 2; interval <= 32; ++interval) {
    const uint32_t x0 = (uint32_t)1 << (interval - 1);
    const uint32_t x1 = x0 + (x0 >> 1);
    const uint32_t x2 = interval == 32 ? x0 + (x0 - 1) : 2 * x0;
    const int16_t y0 = pcan_gain(input_bits, x0), y1 = pcan_gain(input_bits, x1), y2 = pcan_gain(input_bits, x2);
    const int32_t diff1 = (int32_t)y1 - y0, diff2 = (int32_t)y2 - y0;
    const int32_t a1 = 4 * diff1 - diff2, a2 = diff2 - a1;
    if (a1 < INT16_MIN || a1 > INT16_MAX || a2 < INT16_MIN || a2 > INT16_MAX) return 0;
    t->pcan[4 * interval - 6] = y0;
    t->pcan[4 * interval - 5] = (int16_t)a1;
    t->pcan[4 * interval - 4] = (int16_t)a2;
  }
  /* log2(1 + x) - x in Q16, rounded half up. */
  for (int i = 0; i < GBNN_FE_LOG_LUT_SIZE; ++i) {
    const double x = i / 128.0;
    t->log_lut[i] = (uint16_t)floor((log2(opaque_d(1.0 + x)) - x) * 65536.0 + 0.5);
  }
  return 1;
}

static void write_i16(FILE *f, const char *decl, const int16_t *v, int n) {
  fprintf(f, "%s = {", decl);
  for (int i = 0; i < n; ++i) fprintf(f, "%s%d,", i % 16 ? " " : "\n    ", v[i]);
  fprintf(f, "\n};\n\n");
}

static void write_u16(FILE *f, const char *decl, const uint16_t *v, int n) {
  fprintf(f, "%s = {", decl);
  for (int i = 0; i < n; ++i) fprintf(f, "%s%u,", i % 16 ? " " : "\n    ", (unsigned)v[i]);
  fprintf(f, "\n};\n\n");
}

static void write_cpx(FILE *f, const char *decl, const gbnn_frontend_cpx *v, int n) {
  fprintf(f, "%s = {", decl);
  for (int i = 0; i < n; ++i) fprintf(f, "%s{%d, %d},", i % 8 ? " " : "\n    ", v[i].r, v[i].i);
  fprintf(f, "\n};\n\n");
}

static int write_tables(const char *path, const tables *t) {
  if (t->fb_start != GBNN_FE_FB_START || t->fb_end != GBNN_FE_FB_END) {
    fprintf(stderr, "set GBNN_FE_FB_START %d and GBNN_FE_FB_END %d in nn/src/frontend_tables.h\n", t->fb_start,
            t->fb_end);
    return 1;
  }
  FILE *f = fopen(path, "w");
  if (f == NULL) {
    perror(path);
    return 1;
  }
  fprintf(f, "/* Generated by nn/tests/test_frontend.c (nn_test_frontend --write-tables FILE): the constants of the\n"
             " * TFLite-Micro audio frontend as pymicro-features configures it, computed with the float arithmetic\n"
             " * of its initialisation. Do not edit; see frontend_tables.h. */\n"
             "#include \"frontend_tables.h\"\n\n");
  write_i16(f, "const int16_t gbnn_fe_window[GBNN_FRONTEND_WINDOW_SAMPLES]", t->window, GBNN_FRONTEND_WINDOW_SAMPLES);
  write_cpx(f, "const gbnn_frontend_cpx gbnn_fe_twiddles[GBNN_FRONTEND_FFT_SIZE / 2]", t->twiddles,
            GBNN_FRONTEND_FFT_SIZE / 2);
  write_cpx(f, "const gbnn_frontend_cpx gbnn_fe_super_twiddles[GBNN_FRONTEND_FFT_SIZE / 4]", t->super_twiddles,
            GBNN_FRONTEND_FFT_SIZE / 4);
  write_u16(f, "const uint16_t gbnn_fe_fb_edges[GBNN_FE_FB_CHANNELS_PLUS_1 + 1]", t->fb_edges,
            GBNN_FE_FB_CHANNELS_PLUS_1 + 1);
  write_u16(f, "const uint16_t gbnn_fe_fb_weights[GBNN_FE_FB_BINS]", t->fb_weights, GBNN_FE_FB_BINS);
  write_u16(f, "const uint16_t gbnn_fe_fb_unweights[GBNN_FE_FB_BINS]", t->fb_unweights, GBNN_FE_FB_BINS);
  fprintf(f, "const uint16_t gbnn_fe_nr_even = %u, gbnn_fe_nr_odd = %u, gbnn_fe_nr_min_remaining = %u;\n\n",
          (unsigned)t->nr_even, (unsigned)t->nr_odd, (unsigned)t->nr_min);
  write_i16(f, "const int16_t gbnn_fe_pcan_lut[GBNN_FE_PCAN_LUT_SIZE]", t->pcan, GBNN_FE_PCAN_LUT_SIZE);
  write_u16(f, "const uint16_t gbnn_fe_log_lut[GBNN_FE_LOG_LUT_SIZE]", t->log_lut, GBNN_FE_LOG_LUT_SIZE);
  return fclose(f) == 0 ? 0 : 1;
}

#ifndef GBNN_FE_TABLES_ONLY /* bootstrapping: the generator alone, before frontend_tables.c exists */

static int failures = 0;
#define CHECK(cond, ...)                                               \
  do {                                                                 \
    if (!(cond)) {                                                     \
      ++failures;                                                      \
      fprintf(stderr, "%s:%d: FAILED %s: ", __FILE__, __LINE__, #cond); \
      fprintf(stderr, __VA_ARGS__);                                    \
      fprintf(stderr, "\n");                                           \
    }                                                                  \
  } while (0)

static void tables_are_current(void) {
  static tables t;
  CHECK(compute_tables(&t), "the tables could not be computed");
  CHECK(t.fb_start == GBNN_FE_FB_START && t.fb_end == GBNN_FE_FB_END, "filterbank bins %d..%d", t.fb_start,
        t.fb_end);
  CHECK(memcmp(t.window, gbnn_fe_window, sizeof t.window) == 0, "window");
  CHECK(memcmp(t.twiddles, gbnn_fe_twiddles, sizeof t.twiddles) == 0, "twiddles");
  CHECK(memcmp(t.super_twiddles, gbnn_fe_super_twiddles, sizeof t.super_twiddles) == 0, "super twiddles");
  CHECK(memcmp(t.fb_edges, gbnn_fe_fb_edges, sizeof t.fb_edges) == 0, "filterbank edges");
  CHECK(memcmp(t.fb_weights, gbnn_fe_fb_weights, sizeof gbnn_fe_fb_weights) == 0, "filterbank weights");
  CHECK(memcmp(t.fb_unweights, gbnn_fe_fb_unweights, sizeof gbnn_fe_fb_unweights) == 0, "filterbank unweights");
  CHECK(t.nr_even == gbnn_fe_nr_even && t.nr_odd == gbnn_fe_nr_odd && t.nr_min == gbnn_fe_nr_min_remaining,
        "noise reduction %u %u %u", t.nr_even, t.nr_odd, t.nr_min);
  CHECK(memcmp(t.pcan, gbnn_fe_pcan_lut, sizeof t.pcan) == 0, "PCAN gain table");
  CHECK(memcmp(t.log_lut, gbnn_fe_log_lut, sizeof t.log_lut) == 0, "log table");
  /* Facts the C relies on. */
  for (int i = 0; i < GBNN_FRONTEND_WINDOW_SAMPLES; ++i) {
    CHECK(gbnn_fe_window[i] >= 0 && gbnn_fe_window[i] <= 4096, "window[%d] = %d", i, gbnn_fe_window[i]);
  }
  for (int i = 0; i < GBNN_FE_FB_BINS; ++i) {
    CHECK(gbnn_fe_fb_weights[i] <= 4096 && gbnn_fe_fb_unweights[i] <= 4096, "weights of bin %d", i);
  }
  /* PCAN's interpolation stays within int32 for every interval and fraction. */
  for (int interval = 3; interval <= 32; ++interval) {
    const int16_t *lut = gbnn_fe_pcan_lut + 4 * interval - 6;
    for (int64_t frac = 0; frac < 1024; ++frac) {
      const int64_t r = ((((int64_t)lut[2] * frac) >> 5) + (int64_t)lut[1] * 32) * frac;
      CHECK(r + (1 << 14) <= INT32_MAX && r >= INT32_MIN, "PCAN interval %d, frac %d", interval, (int)frac);
    }
  }
}

/* ---- the golden signal (tests/nn/test_frontend.py builds the same one with numpy) ---- */

#define GOLDEN_SECONDS 14
#define GOLDEN_STEPS (GOLDEN_SECONDS * 100)
/* pymicro-features 2.0.2's frames for golden_signal(): FNV-1a 64 over the little-endian uint16 values of all
 * 1398 frames. Written by tests/nn/test_frontend.py::test_c_golden_constant_is_pymicro_features (it checks it). */
#define GOLDEN_FNV 0x941053e5e698ce0dull

/* Second s: 0 silence; 1..8 uniform noise of amplitude 2^(2s-2) (1 .. 16384); 9 full-scale noise; 10 full-scale
 * noise doubled and clipped; 11 a 200 Hz square wave at +-30000; 12 half a second of -32768 (the window's one
 * output its int16 magnitude misses), then -32768/32767 alternating (Nyquist); 13 a -32768 click every 97 samples.
 * A 32-bit LCG gives the noise. */
static void golden_signal(int16_t *pcm) {
  uint32_t state = 2024u;
  for (int s = 0; s < GOLDEN_SECONDS; ++s) {
    for (int i = 0; i < GBNN_FRONTEND_SAMPLE_RATE; ++i) {
      state = state * 1664525u + 1013904223u;
      const int32_t r = (int32_t)(state >> 16) - 32768; /* -32768..32767 */
      int32_t v;
      if (s == 0) {
        v = 0;
      } else if (s <= 8) {
        v = (r * (1 << (2 * s - 2))) / 32768;
      } else if (s == 9) {
        v = r;
      } else if (s == 10) {
        v = 2 * r;
        v = v > 32767 ? 32767 : v < -32768 ? -32768 : v;
      } else if (s == 11) {
        v = (i / 40) % 2 ? 30000 : -30000;
      } else if (s == 12) {
        v = i < GBNN_FRONTEND_SAMPLE_RATE / 2 ? -32768 : i % 2 ? 32767 : -32768;
      } else {
        v = i % 97 == 0 ? -32768 : 0;
      }
      pcm[s * GBNN_FRONTEND_SAMPLE_RATE + i] = (int16_t)v;
    }
  }
}

static uint64_t fnv1a(uint64_t h, const uint16_t *v, int n) {
  for (int i = 0; i < n; ++i) {
    h = (h ^ (v[i] & 0xFFu)) * 0x100000001b3ull;
    h = (h ^ (uint32_t)(v[i] >> 8)) * 0x100000001b3ull;
  }
  return h;
}

static int16_t pcm[GOLDEN_SECONDS * GBNN_FRONTEND_SAMPLE_RATE];

static uint64_t run(gbnn_frontend *fe, const int16_t *samples, int steps, int *frames) {
  uint64_t h = 0xcbf29ce484222325ull;
  uint16_t out[GBNN_FRONTEND_CHANNELS];
  *frames = 0;
  for (int k = 0; k < steps; ++k) {
    if (gbnn_frontend_process(fe, samples + k * GBNN_FRONTEND_STEP_SAMPLES, out)) {
      h = fnv1a(h, out, GBNN_FRONTEND_CHANNELS);
      ++*frames;
    }
  }
  return h;
}

static void golden(void) {
  static gbnn_frontend fe, other;
  golden_signal(pcm);
  gbnn_frontend_init(&fe);
  int frames = 0;
  const uint64_t h = run(&fe, pcm, GOLDEN_STEPS, &frames);
  CHECK(frames == GOLDEN_STEPS - 2, "%d frames", frames);
  CHECK(h == GOLDEN_FNV, "golden hash %016llx, expected %016llx", (unsigned long long)h,
        (unsigned long long)GOLDEN_FNV);
  printf("golden: %d frames, FNV-1a %016llx\n", frames, (unsigned long long)h);

  /* reset() is a fresh stream; an independent instance is unaffected by another's use. */
  gbnn_frontend_reset(&fe);
  gbnn_frontend_init(&other);
  int f1 = 0, f2 = 0;
  const uint64_t h1 = run(&fe, pcm + 5 * GBNN_FRONTEND_SAMPLE_RATE, 300, &f1);
  const uint64_t h2 = run(&other, pcm + 5 * GBNN_FRONTEND_SAMPLE_RATE, 300, &f2);
  CHECK(h1 == h2 && f1 == 298 && f2 == 298, "reset stream differs");

  /* The first two steps fill the window: no frame, output untouched. */
  gbnn_frontend_reset(&fe);
  uint16_t out[GBNN_FRONTEND_CHANNELS];
  memset(out, 0xAB, sizeof out);
  CHECK(gbnn_frontend_process(&fe, pcm, out) == 0, "step 1");
  CHECK(gbnn_frontend_process(&fe, pcm, out) == 0, "step 2");
  CHECK(out[0] == 0xABAB && out[39] == 0xABAB, "out written early");
  CHECK(gbnn_frontend_process(&fe, pcm, out) == 1, "step 3");

  /* A state whose fill count is impossible (never initialised, overwritten) starts afresh instead of writing out of
   * bounds (ASan would see it). */
  fe.filled = 1234567u;
  CHECK(gbnn_frontend_process(&fe, pcm, out) == 0 && fe.filled == GBNN_FRONTEND_STEP_SAMPLES, "bad fill count");
  fe.filled = 7u;
  CHECK(gbnn_frontend_process(&fe, pcm, out) == 0 && fe.filled == GBNN_FRONTEND_STEP_SAMPLES, "odd fill count");
}

/* ---- the square root against the bitwise method of TFLM's Sqrt32 / Sqrt64 ---- */

static uint32_t sqrt_bitwise(uint64_t n) {
  const int wide = (n >> 32) != 0u;
  uint64_t root = 0, bit = wide ? (uint64_t)1 << 62 : (uint64_t)1 << 30;
  while (bit > n) bit >>= 2;
  for (; bit != 0u; bit >>= 2) {
    if (n >= root + bit) {
      n -= root + bit;
      root = (root >> 1) + bit;
    } else {
      root >>= 1;
    }
  }
  if (n > root && root != (wide ? 0xFFFFFFFFu : 0xFFFFu)) ++root;
  return (uint32_t)root;
}

static uint64_t rnd64(void);

static void square_root(void) {
  int bad = 0;
#define SQRT_CASE(value)                                                                                \
  do {                                                                                                  \
    const uint64_t n_ = (value);                                                                        \
    if (gbnn_fe_sqrt_rounded64(n_) != sqrt_bitwise(n_) && bad++ < 5) {                                 \
      CHECK(0, "sqrt(%llu): %u, want %u", (unsigned long long)n_, (unsigned)gbnn_fe_sqrt_rounded64(n_), \
            (unsigned)sqrt_bitwise(n_));                                                                \
    }                                                                                                   \
  } while (0)
  for (uint64_t n = 0; n < (1u << 18); ++n) SQRT_CASE(n);
  for (int i = 0; i < 20000; ++i) {
    const uint64_t r = rnd64();
    SQRT_CASE(r >> (r & 63u)); /* every magnitude */
    const uint64_t k = (r >> 32) >> ((r >> 8) & 31u); /* squares and their neighbours: every rounding case */
    const uint64_t k2 = k * k;
    SQRT_CASE(k2);
    SQRT_CASE(k2 - 1u);
    SQRT_CASE(k2 + 1u);
    SQRT_CASE(k2 + k);
    SQRT_CASE(k2 + k + 1u);
  }
  const uint64_t edges[] = {0xFFFFFFFFull, 0x100000000ull, 0xFFFE0001ull, 0xFFFF0000ull, 0xFFFF0001ull,
                            0xFFFFFFFE00000001ull, 0xFFFFFFFF00000000ull, 0xFFFFFFFFFFFFFFFFull,
                            0xFFFFFFFE00000000ull, 0x8000000000000000ull, 0x0000FFFFFFFFFFFFull};
  for (size_t i = 0; i < sizeof edges / sizeof edges[0]; ++i) SQRT_CASE(edges[i]);
#undef SQRT_CASE
}

/* ---- the DSP FFT against the plain C one (on the Cortex-M4; elsewhere there is only the plain C) ---- */

static uint32_t rng_state = 99u;
static uint32_t rnd(void) { /* xorshift32 */
  rng_state ^= rng_state << 13;
  rng_state ^= rng_state >> 17;
  rng_state ^= rng_state << 5;
  return rng_state;
}

static uint64_t rnd64(void) { return ((uint64_t)rnd() << 32) | rnd(); }

#if GBNN_FE_DSP
/* Random int16, a quarter of them from the extremes (-32768, -32767, 32767, 0, +-1). */
static int16_t rnd16(int bits) {
  static const int16_t extremes[] = {-32768, -32767, 32767, 0, 1, -1};
  const uint32_t r = rnd();
  if ((r & 3u) == 0u) return extremes[(r >> 2) % 6u];
  return (int16_t)((int32_t)(r >> 16) >> (16 - bits));
}
#endif

static void dsp_matches_plain_c(void) {
#if GBNN_FE_DSP
  static gbnn_frontend_cpx a[GBNN_FRONTEND_FFT_SIZE / 2], b[GBNN_FRONTEND_FFT_SIZE / 2];
  static uint32_t ea[GBNN_FRONTEND_FFT_SIZE / 2], eb[GBNN_FRONTEND_FFT_SIZE / 2];
  int bad = 0;
  for (int trial = 0; trial < 300; ++trial) {
    const int bits = 1 + trial % 16;
    for (int i = 0; i < GBNN_FRONTEND_FFT_SIZE / 2; ++i) {
      a[i].r = rnd16(bits);
      a[i].i = rnd16(bits);
    }
    memcpy(b, a, sizeof a);
    gbnn_fe_fft256_c(a);
    gbnn_fe_fft256_dsp(b);
    if (memcmp(a, b, sizeof a) != 0 && bad++ < 3) CHECK(0, "FFT trial %d differs", trial);
    /* The split on the FFT's output and on arbitrary spectra (extremes included). */
    for (int pass = 0; pass < 2; ++pass) {
      if (pass == 1) {
        for (int i = 0; i < GBNN_FRONTEND_FFT_SIZE / 2; ++i) {
          a[i].r = rnd16(bits);
          a[i].i = rnd16(bits);
        }
      }
      gbnn_fe_split_energy_c(a, ea);
      gbnn_fe_split_energy_dsp(a, eb);
      if (memcmp(ea, eb, sizeof ea) != 0 && bad++ < 3) CHECK(0, "split trial %d pass %d differs", trial, pass);
    }
  }
  printf("DSP FFT and split identical to plain C on 300 random inputs\n");
#else
  printf("no DSP instructions on this target: the plain C FFT is the only one\n");
#endif
}

/* ---- the int8 quantizer ---- */

static int32_t float_formula(uint32_t v, float scale, int32_t zero) {
  float f = (float)v * 0.0390625f / scale + (float)zero;
  f = nearbyintf(f);
  return f < -128.0f ? -128 : f > 127.0f ? 127 : (int32_t)f;
}

static void quantizer(void) {
  static gbnn_frontend_quantizer q;
  const float scales[] = {0.10196078568696976f, 0.05f, 0.0390625f, 1.0f, 3.7e-3f, 250.0f};
  const int32_t zeros[] = {-128, -128, 0, 5, -128, 127};
  for (size_t s = 0; s < sizeof scales / sizeof scales[0]; ++s) {
    CHECK(gbnn_frontend_quantizer_init(&q, scales[s], zeros[s]) == 1, "init %g", (double)scales[s]);
    int bad = 0;
    for (uint32_t v = 0; v < 65536; ++v) {
      const int32_t want = float_formula(v, scales[s], zeros[s]);
      if (gbnn_frontend_quantize(&q, (uint16_t)v) != want && bad++ < 3) {
        CHECK(0, "scale %g zero %d value %u: %d, want %d", (double)scales[s], (int)zeros[s], (unsigned)v,
              gbnn_frontend_quantize(&q, (uint16_t)v), (int)want);
      }
    }
    for (int j = 1; j < 255; ++j) CHECK(q.thresholds[j - 1] <= q.thresholds[j], "thresholds sorted");
  }
  uint16_t values[3] = {0, 100, 65535};
  int8_t out[3];
  CHECK(gbnn_frontend_quantizer_init(&q, 0.10196078568696976f, -128), "init");
  gbnn_frontend_quantize_frame(&q, values, out, 3);
  CHECK(out[0] == -128 && out[1] == -90 && out[2] == 127, "frame %d %d %d", out[0], out[1], out[2]);
  /* Refused: the quantizer is left as it was. */
  const gbnn_frontend_quantizer before = q;
  CHECK(gbnn_frontend_quantizer_init(&q, 0.0f, 0) == 0, "scale 0");
  CHECK(gbnn_frontend_quantizer_init(&q, -1.0f, 0) == 0, "negative scale");
  CHECK(gbnn_frontend_quantizer_init(&q, (float)INFINITY, 0) == 0, "infinite scale");
  CHECK(gbnn_frontend_quantizer_init(&q, (float)NAN, 0) == 0, "NaN scale");
  CHECK(gbnn_frontend_quantizer_init(&q, 1.0f, 128) == 0, "zero point 128");
  CHECK(gbnn_frontend_quantizer_init(&q, 1.0f, -129) == 0, "zero point -129");
  CHECK(gbnn_frontend_quantizer_init(NULL, 1.0f, 0) == 0, "NULL");
  CHECK(memcmp(&before, &q, sizeof q) == 0, "a refused init changed the quantizer");
}

#endif /* GBNN_FE_TABLES_ONLY */

int main(int argc, char **argv) {
  if (argc == 3 && strcmp(argv[1], "--write-tables") == 0) {
    static tables t;
    if (!compute_tables(&t)) {
      fprintf(stderr, "the tables could not be computed\n");
      return 1;
    }
    return write_tables(argv[2], &t);
  }
#ifdef GBNN_FE_TABLES_ONLY
  fprintf(stderr, "usage: %s --write-tables FILE\n", argv[0]);
  return 2;
#else
  (void)argv;
  if (argc != 1) {
    fprintf(stderr, "usage: %s [--write-tables FILE]\n", argv[0]);
    return 2;
  }
  tables_are_current();
  golden();
  square_root();
  dsp_matches_plain_c();
  quantizer();
  if (failures) {
    fprintf(stderr, "test_frontend: %d failure(s)\n", failures);
    return 1;
  }
  printf("test_frontend: ok\n");
  return 0;
#endif
}
