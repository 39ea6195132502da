/* The wake word's audio frontend (gbnn_frontend): the TFLite-Micro "microfrontend" exactly as pymicro-features
 * 2.0.2 configures it for microWakeWord, in fixed-point portable C11, bit-identical to pymicro-features' output.
 *
 * 16 kHz mono PCM16 in, one frame of 40 uint16 log-mel values out per 10 ms step (160 samples) once the first
 * 30 ms window (480 samples) is full: Hann window (Q12), 512-point real FFT (kissfft's int16 arithmetic: every
 * stage divided by its radix with kissfft's rounding), energy, 40-channel mel filterbank (125..7500 Hz, Q12 weights),
 * integer square root, noise reduction (smoothing 0.025 even / 0.06 odd channels, 10 smoothing bits, 5% of the
 * signal kept), PCAN gain control (strength 0.95, offset 80, 21 gain bits), log scale (scale shift 6).
 * pymicro-features returns each value times GBNN_FRONTEND_FEATURE_SCALE (5/128) as a float, exactly.
 *
 * No allocation, no stdio: the caller owns a gbnn_frontend (3,172 bytes on every target: the window's 480 samples,
 * the 40 noise estimates and 2 KB of per-step scratch), the constant tables are 4,038 bytes of read-only data.
 * One step costs about 51,000 instructions on the Cortex-M4F (the FFT with its DSP instructions; 77,000 in plain C),
 * 8 us on an x86-64 core. Not thread-safe per instance; instances are independent. See nn/README.md.
 *
 * gbnn_frontend_quantizer maps the uint16 values to the int8 the wake-word model takes, exactly as
 * glassbridge.audio.wakeword does in float (q = clip(rint(value * 5/128 / scale + zero_point), -128, 127), in
 * float32), with integers only per value. */
#ifndef GBNN_FRONTEND_H
#define GBNN_FRONTEND_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define GBNN_FRONTEND_SAMPLE_RATE 16000
#define GBNN_FRONTEND_STEP_SAMPLES 160   /* 10 ms: exactly what each gbnn_frontend_process call consumes */
#define GBNN_FRONTEND_WINDOW_SAMPLES 480 /* 30 ms */
#define GBNN_FRONTEND_FFT_SIZE 512
#define GBNN_FRONTEND_CHANNELS 40
#define GBNN_FRONTEND_FEATURE_SCALE 0.0390625f /* pymicro-features' float feature = uint16 value * this (exact) */

typedef struct {
  int16_t r, i;
} gbnn_frontend_cpx;

typedef struct gbnn_frontend {
  /* The stream's state. */
  int16_t history[GBNN_FRONTEND_WINDOW_SAMPLES]; /* the window's samples, oldest first; `filled` of them valid */
  uint32_t filled;
  uint32_t noise[GBNN_FRONTEND_CHANNELS]; /* noise reduction's estimate per channel (PCAN reads it too) */
  /* Scratch for one step (its contents do not matter between calls). */
  union {
    int16_t samples[GBNN_FRONTEND_FFT_SIZE];      /* the windowed samples (480 of them) */
    uint32_t energy[GBNN_FRONTEND_FFT_SIZE / 2];  /* then each bin's squared magnitude */
  } work;
  gbnn_frontend_cpx spectrum[GBNN_FRONTEND_FFT_SIZE / 2]; /* the 256-point complex FFT */
} gbnn_frontend;

/* A fresh stream (same as gbnn_frontend_reset). */
void gbnn_frontend_init(gbnn_frontend *fe);

/* Forget the stream: empty window, zero noise estimates (pymicro-features' MicroFrontend.reset()). */
void gbnn_frontend_reset(gbnn_frontend *fe);

/* Consumes exactly GBNN_FRONTEND_STEP_SAMPLES samples. Returns 1 with GBNN_FRONTEND_CHANNELS values written to
 * `out` when a frame is ready (every call from the third on), 0 while the first window is still filling (`out`
 * untouched). */
int gbnn_frontend_process(gbnn_frontend *fe, const int16_t samples[GBNN_FRONTEND_STEP_SAMPLES],
                          uint16_t out[GBNN_FRONTEND_CHANNELS]);

/* uint16 frontend value -> the model's int8 input. thresholds[j] is the smallest value that maps to at least
 * -127 + j (65536 when no value does), so a value maps to -128 + (number of thresholds <= value). */
typedef struct {
  uint32_t thresholds[255];
} gbnn_frontend_quantizer;

/* Builds the mapping for the input tensor's `scale` (> 0, finite) and `zero_point` (-128..127): the float formula
 * is evaluated once per threshold (a binary search over the 65536 values, 255 * 17 float evaluations, in float32
 * as numpy does it). Returns 0 on a bad argument (the quantizer is then untouched), 1 on success. */
int gbnn_frontend_quantizer_init(gbnn_frontend_quantizer *q, float scale, int32_t zero_point);

/* Integer only: 8 comparisons per value. */
int8_t gbnn_frontend_quantize(const gbnn_frontend_quantizer *q, uint16_t value);
void gbnn_frontend_quantize_frame(const gbnn_frontend_quantizer *q, const uint16_t *values, int8_t *out, size_t n);

#ifdef __cplusplus
}
#endif

#endif /* GBNN_FRONTEND_H */
