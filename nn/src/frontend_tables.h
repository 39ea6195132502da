/* The frontend's internals shared with its test. The constant tables are in frontend_tables.c, generated:
 * `nn_test_frontend --write-tables nn/src/frontend_tables.c` computes them with the float arithmetic of the
 * TFLite-Micro frontend's initialisation, and the test checks the committed file against that computation on every
 * run. Also the FFT's two versions and the square root, for the test. Not a public header. */
#ifndef GBNN_FRONTEND_TABLES_H
#define GBNN_FRONTEND_TABLES_H

#include <stdint.h>

#include "gbnn/frontend.h"

#define GBNN_FE_WINDOW_BITS 12      /* window coefficients are Q12 */
#define GBNN_FE_FILTERBANK_BITS 12  /* filterbank weights are Q12 */
#define GBNN_FE_FB_CHANNELS_PLUS_1 (GBNN_FRONTEND_CHANNELS + 1)
#define GBNN_FE_FB_START 5          /* first FFT bin the filterbank reads (DC and below 125 Hz excluded) */
#define GBNN_FE_FB_END 241          /* one past the last */
#define GBNN_FE_FB_BINS (GBNN_FE_FB_END - GBNN_FE_FB_START)
#define GBNN_FE_PCAN_LUT_SIZE 125   /* 4 * 32 - 3 */
#define GBNN_FE_LOG_LUT_SIZE 129    /* 128 segments + 1 */

/* Hann window, Q12 (floor(x * 4096 + 0.5) of 0.5 - 0.5 cos(2 pi (i + 0.5) / 480), in float). */
extern const int16_t gbnn_fe_window[GBNN_FRONTEND_WINDOW_SAMPLES];
/* kissfft's twiddles for the 256-point complex FFT (forward) and the real FFT's 128 "super twiddles":
 * floor(0.5 + 32767 * cos/sin(phase)), in double. */
extern const gbnn_frontend_cpx gbnn_fe_twiddles[GBNN_FRONTEND_FFT_SIZE / 2];
extern const gbnn_frontend_cpx gbnn_fe_super_twiddles[GBNN_FRONTEND_FFT_SIZE / 4];
/* Channel c (0..40, the 41st only feeds the 40th's unweights) covers the bins [edges[c], edges[c + 1]). */
extern const uint16_t gbnn_fe_fb_edges[GBNN_FE_FB_CHANNELS_PLUS_1 + 1];
/* Per bin from GBNN_FE_FB_START: its channel's weight and the next channel's (1 - weight), Q12. */
extern const uint16_t gbnn_fe_fb_weights[GBNN_FE_FB_BINS];
extern const uint16_t gbnn_fe_fb_unweights[GBNN_FE_FB_BINS];
/* Noise reduction's smoothing (even, odd channels) and minimum signal remaining, Q14. */
extern const uint16_t gbnn_fe_nr_even, gbnn_fe_nr_odd, gbnn_fe_nr_min_remaining;
/* PCAN's gain table: [0], [1] for x = 0, 1, then for each interval 2..32 of x's top bit three coefficients
 * (y0, a1, a2) at 4 * interval - 6 (the fourth of each group unused). */
extern const int16_t gbnn_fe_pcan_lut[GBNN_FE_PCAN_LUT_SIZE];
/* log2(1 + x) - x at x = i / 128, Q16. */
extern const uint16_t gbnn_fe_log_lut[GBNN_FE_LOG_LUT_SIZE];

/* The FFT and the real split, in plain C (every target) and with the Cortex-M4's DSP instructions (where the
 * compiler offers them, unless GBNN_FE_PLAIN_C is defined): identical results; the frontend uses the latter when
 * present. Internal, for the tests. */
#if defined(__ARM_FEATURE_DSP) && defined(__ARM_FEATURE_SIMD32) && !defined(GBNN_FE_PLAIN_C)
#define GBNN_FE_DSP 1
#else
#define GBNN_FE_DSP 0
#endif
/* The filterbank's rounded integer square root (TFLM's Sqrt64 and Sqrt32). */
uint32_t gbnn_fe_sqrt_rounded64(uint64_t n);
void gbnn_fe_fft256_c(gbnn_frontend_cpx *data); /* in place, input in base-4 digit-reversed order */
void gbnn_fe_split_energy_c(const gbnn_frontend_cpx *z, uint32_t *energy);
#if GBNN_FE_DSP
void gbnn_fe_fft256_dsp(gbnn_frontend_cpx *data);
void gbnn_fe_split_energy_dsp(const gbnn_frontend_cpx *z, uint32_t *energy);
#endif

#endif /* GBNN_FRONTEND_TABLES_H */
