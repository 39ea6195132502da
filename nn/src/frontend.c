/* The wake word's audio frontend: see gbnn/frontend.h and nn/README.md. Every stage reproduces the integer
 * arithmetic of the TFLite-Micro microfrontend as pymicro-features 2.0.2 builds it (kissfft with FIXED_POINT=16),
 * including what its int16 stores do on overflow (two's-complement wrap) and its arithmetic right shifts of
 * negative values: spelled out in portable C by the helpers below, which use GCC's documented conversion (one
 * instruction) where it exists. */
#include "gbnn/frontend.h"

#include <math.h>
#include <string.h>

#include "frontend_tables.h"

#define HALF_FFT (GBNN_FRONTEND_FFT_SIZE / 2) /* 256: the complex FFT inside the real one */
#define STEP GBNN_FRONTEND_STEP_SAMPLES
#define WINDOW GBNN_FRONTEND_WINDOW_SAMPLES
#define NR_BITS 14        /* noise reduction's coefficients are Q14 */
#define NR_SMOOTHING_BITS 10
#define PCAN_SNR_BITS 12
#define PCAN_OUTPUT_BITS 6
#define PCAN_SNR_SHIFT 6  /* gain bits 21 - input correction bits 3 - snr bits 12 */
#define LOG_SCALE_LOG2 16
#define LOG_SEGMENTS_LOG2 7
#define LOG_COEFF 45426u  /* ln(2) in Q16 */
#define LOG_SCALE_SHIFT 6
#define LOG_CORRECTION_BITS 3 /* log2(512) - 1 - filterbank bits / 2 */

_Static_assert(GBNN_FE_FB_END <= HALF_FFT, "the energy of the bins the filterbank reads fits in the scratch");

/* ---- integer helpers ---- */

/* Always inlined where the compiler allows it: at -Os (the firmware's MinSizeRel) GCC would otherwise call these
 * small helpers from the FFT's inner loop, which triples its cost. */
#if defined(__GNUC__)
#define FE_INLINE static inline __attribute__((always_inline))
#else
#define FE_INLINE static inline
#endif

/* What storing x into an int16 does (kissfft keeps all values in int16): x modulo 2^16 into -32768..32767. GCC
 * and Clang define the conversion to be exactly that (and make it one SXTH); elsewhere (or with GBNN_FE_PLAIN_C,
 * which also turns the DSP path off) it is spelled out. */
FE_INLINE int32_t wrap16(int32_t x) {
#if defined(__GNUC__) && !defined(GBNN_FE_PLAIN_C)
  return (int16_t)x;
#else
  return (int32_t)(((uint32_t)x & 0xFFFFu) ^ 0x8000u) - 0x8000;
#endif
}

/* x >> n rounding towards minus infinity, for negative x too (an arithmetic shift, spelled out). */
FE_INLINE int32_t asr32(int32_t x, int n) { return x >= 0 ? x >> n : ~(~x >> n); }

/* Bits needed to write n (0 for 0): the frontend's MostSignificantBit32 (one CLZ where the compiler has it). */
FE_INLINE int bit_length32(uint32_t n) {
#if defined(__GNUC__) && !defined(GBNN_FE_PLAIN_C)
  return n == 0u ? 0 : 32 - __builtin_clz(n);
#else
  int bits = 0;
  while (n != 0u) {
    n >>= 1;
    ++bits;
  }
  return bits;
#endif
}

/* ---- FFT: kissfft's int16 arithmetic ---- */

/* kissfft's sround: round a Q15 product back to Q0, halves up, stored as int16. */
FE_INLINE int32_t round_q15(int32_t x) { return wrap16(asr32(x + (1 << 14), 15)); }

/* One radix-4 decimation-in-time butterfly group: f[0..4m) holds four length-m transforms; combine them. Each
 * input is first divided by 4 (C_FIXDIV: times 32767 / 4 in Q15), the twiddle products rounded (C_MUL), every
 * sum stored as int16. */
static void radix4_c(gbnn_frontend_cpx *f, size_t m, size_t stride) {
  const int32_t quarter = 32767 / 4;
  for (size_t k = 0; k < m; ++k) {
    gbnn_frontend_cpx *f0 = f + k, *f1 = f0 + m, *f2 = f1 + m, *f3 = f2 + m;
    const gbnn_frontend_cpx w1 = gbnn_fe_twiddles[k * stride], w2 = gbnn_fe_twiddles[2 * k * stride],
                            w3 = gbnn_fe_twiddles[3 * k * stride];
    const int32_t a0r = round_q15(f0->r * quarter), a0i = round_q15(f0->i * quarter);
    const int32_t a1r = round_q15(f1->r * quarter), a1i = round_q15(f1->i * quarter);
    const int32_t a2r = round_q15(f2->r * quarter), a2i = round_q15(f2->i * quarter);
    const int32_t a3r = round_q15(f3->r * quarter), a3i = round_q15(f3->i * quarter);
    const int32_t t1r = round_q15(a1r * w1.r - a1i * w1.i), t1i = round_q15(a1r * w1.i + a1i * w1.r);
    const int32_t t2r = round_q15(a2r * w2.r - a2i * w2.i), t2i = round_q15(a2r * w2.i + a2i * w2.r);
    const int32_t t3r = round_q15(a3r * w3.r - a3i * w3.i), t3i = round_q15(a3r * w3.i + a3i * w3.r);
    const int32_t d02r = wrap16(a0r - t2r), d02i = wrap16(a0i - t2i);
    const int32_t s02r = wrap16(a0r + t2r), s02i = wrap16(a0i + t2i);
    const int32_t s13r = wrap16(t1r + t3r), s13i = wrap16(t1i + t3i);
    const int32_t d13r = wrap16(t1r - t3r), d13i = wrap16(t1i - t3i);
    f2->r = (int16_t)wrap16(s02r - s13r);
    f2->i = (int16_t)wrap16(s02i - s13i);
    f0->r = (int16_t)wrap16(s02r + s13r);
    f0->i = (int16_t)wrap16(s02i + s13i);
    f1->r = (int16_t)wrap16(d02r + d13i);
    f1->i = (int16_t)wrap16(d02i - d13r);
    f3->r = (int16_t)wrap16(d02r - d13i);
    f3->i = (int16_t)wrap16(d02i + d13r);
  }
}

/* Base-4 digit reversal of a bin index: the input order of kissfft's recursive decimation in time (its own
 * inverse). */
FE_INLINE uint32_t digit_reverse(uint32_t n) {
  return (n >> 6) | ((n >> 2) & 0xCu) | ((n << 2) & 0x30u) | ((n & 3u) << 6);
}

/* 256-point complex FFT in place, its input in digit-reversed order: four radix-4 stages (kissfft factors 256 as
 * 4 * 4 * 4 * 4 and scales each stage by 1/4). */
void gbnn_fe_fft256_c(gbnn_frontend_cpx *data) {
  for (size_t m = 1, stride = HALF_FFT / 4; m < HALF_FFT; m *= 4, stride /= 4) {
    for (size_t g = 0; g < stride; ++g) radix4_c(data + g * 4 * m, m, stride);
  }
}

/* kissfft's real-FFT split of the packed transform into bins 0..256; the squared magnitude of each bin (as the
 * frontend's int32 sum of squares, bit for bit) into energy[]. */
FE_INLINE uint32_t magnitude2(int32_t r, int32_t i) { return (uint32_t)(r * r) + (uint32_t)(i * i); }

void gbnn_fe_split_energy_c(const gbnn_frontend_cpx *z, uint32_t *energy) {
  const int32_t half = 32767 / 2;
  const int32_t dcr = round_q15(z[0].r * half), dci = round_q15(z[0].i * half);
  energy[0] = magnitude2(wrap16(dcr + dci), 0); /* outside the filterbank's bins: kept for completeness */
  for (uint32_t k = 1; k <= HALF_FFT / 2; ++k) {
    const gbnn_frontend_cpx zk = z[k], zn = z[HALF_FFT - k];
    const int32_t pr = round_q15(zk.r * half), pi = round_q15(zk.i * half);
    const int32_t nr = round_q15(zn.r * half), ni = round_q15(wrap16(-zn.i) * half); /* conj, stored as int16 */
    const int32_t f1r = wrap16(pr + nr), f1i = wrap16(pi + ni);
    const int32_t f2r = wrap16(pr - nr), f2i = wrap16(pi - ni);
    const gbnn_frontend_cpx w = gbnn_fe_super_twiddles[k - 1];
    const int32_t twr = round_q15(f2r * w.r - f2i * w.i), twi = round_q15(f2r * w.i + f2i * w.r);
    energy[k] = magnitude2(wrap16(asr32(f1r + twr, 1)), wrap16(asr32(f1i + twi, 1)));
    /* bin 256 - k; at k = 128 this second store wins, as in kissfft */
    energy[HALF_FFT - k] = magnitude2(wrap16(asr32(f1r - twr, 1)), wrap16(asr32(twi - f1i, 1)));
  }
}

#if GBNN_FE_DSP
/* The same two functions with the Cortex-M4's DSP instructions: a complex value is one 32-bit word (real in the
 * low half, as the struct lies in memory). SADD16/SSUB16/SASX/SSAX add and subtract both halves modulo 2^16
 * (kissfft's int16 stores), SMLSD/SMLADX are the complex product's two sums (plus kissfft's rounding constant),
 * SHADD16/SHSUB16 the split's halving sums, SMUAD the squared magnitude. Every intermediate is the plain C
 * version's, bit for bit (nn/tests/test_frontend.c compares the two on random and extreme inputs). */
#include <arm_acle.h>

FE_INLINE int32_t load_cpx(const gbnn_frontend_cpx *p) {
  int32_t v;
  memcpy(&v, p, sizeof v);
  return v;
}

FE_INLINE void store_cpx(gbnn_frontend_cpx *p, int32_t v) { memcpy(p, &v, sizeof v); }

/* (lo, hi) halves into one word. */
FE_INLINE int32_t pack(int32_t lo, int32_t hi) {
  return (int32_t)(((uint32_t)lo & 0xFFFFu) | ((uint32_t)hi << 16));
}

/* Both halves times q15 (32767 / radix), rounded: C_FIXDIV. */
FE_INLINE int32_t divide_dsp(int32_t v, int32_t q15) {
  return pack(asr32(__smlabb(v, q15, 1 << 14), 15), asr32(__smlatb(v, q15, 1 << 14), 15));
}

/* C_MUL: (a.r w.r - a.i w.i, a.r w.i + a.i w.r), each rounded from Q15. */
FE_INLINE int32_t cmul_dsp(int32_t a, int32_t w) {
  return pack(asr32(__smlsd(a, w, 1 << 14), 15), asr32(__smladx(a, w, 1 << 14), 15));
}

static void radix4_dsp(gbnn_frontend_cpx *f, size_t m, size_t stride) {
  const int32_t quarter = 32767 / 4;
  const gbnn_frontend_cpx *w1 = gbnn_fe_twiddles, *w2 = w1, *w3 = w1;
  for (size_t k = 0; k < m; ++k) {
    gbnn_frontend_cpx *f0 = f + k, *f1 = f0 + m, *f2 = f1 + m, *f3 = f2 + m;
    const int32_t a0 = divide_dsp(load_cpx(f0), quarter);
    const int32_t t1 = cmul_dsp(divide_dsp(load_cpx(f1), quarter), load_cpx(w1));
    const int32_t t2 = cmul_dsp(divide_dsp(load_cpx(f2), quarter), load_cpx(w2));
    const int32_t t3 = cmul_dsp(divide_dsp(load_cpx(f3), quarter), load_cpx(w3));
    w1 += stride;
    w2 += 2 * stride;
    w3 += 3 * stride;
    const int32_t s02 = __sadd16(a0, t2), d02 = __ssub16(a0, t2);
    const int32_t s13 = __sadd16(t1, t3), d13 = __ssub16(t1, t3);
    store_cpx(f0, __sadd16(s02, s13));
    store_cpx(f2, __ssub16(s02, s13));
    store_cpx(f1, __ssax(d02, d13)); /* (d02.r + d13.i, d02.i - d13.r) */
    store_cpx(f3, __sasx(d02, d13)); /* (d02.r - d13.i, d02.i + d13.r) */
  }
}

void gbnn_fe_fft256_dsp(gbnn_frontend_cpx *data) {
  for (size_t m = 1, stride = HALF_FFT / 4; m < HALF_FFT; m *= 4, stride /= 4) {
    for (size_t g = 0; g < stride; ++g) radix4_dsp(data + g * 4 * m, m, stride);
  }
}

void gbnn_fe_split_energy_dsp(const gbnn_frontend_cpx *z, uint32_t *energy) {
  const int32_t half = 32767 / 2;
  const int32_t dcr = round_q15(z[0].r * half), dci = round_q15(z[0].i * half);
  energy[0] = magnitude2(wrap16(dcr + dci), 0);
  for (uint32_t k = 1; k <= HALF_FFT / 2; ++k) {
    const int32_t zn = load_cpx(z + HALF_FFT - k);
    const int32_t conj = pack(zn, asr32(__ssub16(0, zn), 16)); /* (zn.r, -zn.i), the negation as int16 */
    const int32_t fpk = divide_dsp(load_cpx(z + k), half), fpnk = divide_dsp(conj, half);
    const int32_t f1 = __sadd16(fpk, fpnk), f2 = __ssub16(fpk, fpnk);
    const int32_t tw = cmul_dsp(f2, load_cpx(gbnn_fe_super_twiddles + k - 1));
    /* ((f1.r + tw.r) >> 1, (f1.i + tw.i) >> 1) and ((f1.r - tw.r) >> 1, (tw.i - f1.i) >> 1) */
    const int32_t lo = __shadd16(f1, tw);
    const int32_t hi = __shsub16(pack(f1, asr32(tw, 16)), pack(tw, asr32(f1, 16)));
    energy[k] = (uint32_t)__smuad(lo, lo);
    energy[HALF_FFT - k] = (uint32_t)__smuad(hi, hi);
  }
}
#endif

#if GBNN_FE_DSP
#define fft256 gbnn_fe_fft256_dsp
#define split_energy gbnn_fe_split_energy_dsp
#else
#define fft256 gbnn_fe_fft256_c
#define split_energy gbnn_fe_split_energy_c
#endif

/* ---- filterbank ---- */

/* floor(sqrt(n)), exactly: a float estimate (within a few units below 2^48; the FPU's VSQRT is far cheaper than
 * 32 rounds of the bitwise method) corrected with exact 64-bit squares. */
static uint32_t isqrt64(uint64_t n) {
  const uint32_t hi = (uint32_t)(n >> 32);
  float f = (float)(uint32_t)n;
  if (hi != 0u) f += (float)hi * 4294967296.0f;
  const float e = sqrtf(f);
  uint32_t r = e < 4294967296.0f ? (uint32_t)e : 0xFFFFFFFFu;
  while ((uint64_t)r * r > n) --r;
  while (r != 0xFFFFFFFFu && (uint64_t)(r + 1u) * (r + 1u) <= n) ++r;
  return r;
}

/* The integer square root rounded to nearest (up when the remainder exceeds the root) of the frontend's Sqrt64,
 * which takes its 32-bit path, capped at 0xFFFF, whenever the upper word is zero. */
uint32_t gbnn_fe_sqrt_rounded64(uint64_t n) {
  const uint32_t cap = (n >> 32) == 0u ? 0xFFFFu : 0xFFFFFFFFu;
  const uint32_t r = isqrt64(n);
  return (n - (uint64_t)r * r > r && r != cap) ? r + 1u : r;
}

/* weight * energy as the frontend computes it: the energy is an int32 widened to uint64 (sign-extended: only
 * a bin of exactly (-32768, -32768) reaches 2^31), modulo 2^64. */
static inline uint64_t weigh(uint32_t weight, uint32_t energy) {
  uint64_t p = (uint64_t)weight * energy;
  if (energy & 0x80000000u) p -= (uint64_t)weight << 32;
  return p;
}

static void filterbank(const uint32_t *energy, int shift, uint32_t *out) {
  uint64_t weighted = 0, unweighted = 0;
  for (int c = 0; c < GBNN_FE_FB_CHANNELS_PLUS_1; ++c) {
    for (uint32_t b = gbnn_fe_fb_edges[c]; b < gbnn_fe_fb_edges[c + 1]; ++b) {
      weighted += weigh(gbnn_fe_fb_weights[b - GBNN_FE_FB_START], energy[b]);
      unweighted += weigh(gbnn_fe_fb_unweights[b - GBNN_FE_FB_START], energy[b]);
    }
    if (c > 0) out[c - 1] = gbnn_fe_sqrt_rounded64(weighted) >> shift;
    weighted = unweighted;
    unweighted = 0;
  }
}

/* ---- noise reduction, PCAN gain control, log scale ---- */

static void noise_reduction(uint32_t *noise, uint32_t *signal) {
  for (int c = 0; c < GBNN_FRONTEND_CHANNELS; ++c) {
    const uint32_t smoothing = (c & 1) ? gbnn_fe_nr_odd : gbnn_fe_nr_even;
    const uint32_t keep = (1u << NR_BITS) - smoothing;
    const uint32_t scaled = signal[c] << NR_SMOOTHING_BITS;
    uint32_t estimate = (uint32_t)(((uint64_t)scaled * smoothing + (uint64_t)noise[c] * keep) >> NR_BITS);
    noise[c] = estimate;
    if (estimate > scaled) estimate = scaled;
    const uint32_t floor_value = (uint32_t)(((uint64_t)signal[c] * gbnn_fe_nr_min_remaining) >> NR_BITS);
    const uint32_t subtracted = (scaled - estimate) >> NR_SMOOTHING_BITS;
    signal[c] = subtracted > floor_value ? subtracted : floor_value;
  }
}

/* The gain for a noise estimate x: a piecewise quadratic in x's octave (the frontend's WideDynamicFunction). */
static uint32_t pcan_gain(uint32_t x) {
  if (x <= 2u) return (uint32_t)(int32_t)gbnn_fe_pcan_lut[x];
  const int interval = bit_length32(x);
  const int16_t *lut = gbnn_fe_pcan_lut + 4 * interval - 6;
  const int32_t frac = (int32_t)((interval < 11 ? x << (11 - interval) : x >> (interval - 11)) & 0x3FFu);
  int32_t result = asr32((int32_t)lut[2] * frac, 5);
  result += (int32_t)lut[1] * 32;
  result *= frac;
  result = asr32(result + (1 << 14), 15);
  result += lut[0];
  return (uint32_t)wrap16(result);
}

static uint32_t pcan_shrink(uint32_t x) {
  if (x < (2u << PCAN_SNR_BITS)) return (x * x) >> (2 + 2 * PCAN_SNR_BITS - PCAN_OUTPUT_BITS);
  return (x >> (PCAN_SNR_BITS - PCAN_OUTPUT_BITS)) - (1u << PCAN_OUTPUT_BITS);
}

static void pcan(const uint32_t *noise, uint32_t *signal) {
  for (int c = 0; c < GBNN_FRONTEND_CHANNELS; ++c) {
    const uint32_t gain = pcan_gain(noise[c]);
    const uint32_t snr = (uint32_t)(((uint64_t)signal[c] * gain) >> PCAN_SNR_SHIFT);
    signal[c] = pcan_shrink(snr);
  }
}

/* log2 in Q16 from the top bit and a 128-segment linear correction table, to ln, scaled by 2^6 / 2^16. */
static uint32_t log_scaled(uint32_t x) {
  const uint32_t integer = (uint32_t)bit_length32(x) - 1u;
  int32_t frac = (int32_t)(x - (1u << integer)); /* < 2^31 */
  if (integer < LOG_SCALE_LOG2) {
    frac = (int32_t)((uint32_t)frac << (LOG_SCALE_LOG2 - integer));
  } else {
    frac >>= integer - LOG_SCALE_LOG2;
  }
  const uint32_t seg = (uint32_t)frac >> (LOG_SCALE_LOG2 - LOG_SEGMENTS_LOG2);
  const int32_t c0 = gbnn_fe_log_lut[seg];
  const int32_t c1 = gbnn_fe_log_lut[seg + 1];
  const int32_t seg_base = (int32_t)(seg << (LOG_SCALE_LOG2 - LOG_SEGMENTS_LOG2));
  const int32_t rel = asr32((c1 - c0) * (frac - seg_base), LOG_SCALE_LOG2);
  const uint32_t fraction = (uint32_t)(frac + c0 + rel);
  const uint32_t log2 = (integer << LOG_SCALE_LOG2) + fraction;
  const uint32_t round = 1u << (LOG_SCALE_LOG2 - 1);
  const uint32_t loge = (uint32_t)(((uint64_t)LOG_COEFF * log2 + round) >> LOG_SCALE_LOG2);
  return ((loge << LOG_SCALE_SHIFT) + round) >> LOG_SCALE_LOG2;
}

static void log_scale(const uint32_t *signal, uint16_t *out) {
  for (int c = 0; c < GBNN_FRONTEND_CHANNELS; ++c) {
    uint32_t value = signal[c] << LOG_CORRECTION_BITS;
    value = value > 1u ? log_scaled(value) : 0u;
    out[c] = (uint16_t)(value < 0xFFFFu ? value : 0xFFFFu);
  }
}

/* ---- the stream ---- */

void gbnn_frontend_reset(gbnn_frontend *fe) { memset(fe, 0, sizeof *fe); }

void gbnn_frontend_init(gbnn_frontend *fe) { gbnn_frontend_reset(fe); }

int gbnn_frontend_process(gbnn_frontend *fe, const int16_t samples[GBNN_FRONTEND_STEP_SAMPLES],
                          uint16_t out[GBNN_FRONTEND_CHANNELS]) {
  /* `filled` is 0, 160 or 320 between calls; anything else (a state never initialised, or overwritten) would send
   * the copy out of bounds: start afresh instead. */
  if (fe->filled > WINDOW - STEP || fe->filled % STEP != 0u) gbnn_frontend_reset(fe);
  memcpy(fe->history + fe->filled, samples, sizeof(int16_t) * STEP);
  fe->filled += STEP;
  if (fe->filled < WINDOW) return 0;

  /* Window (Q12) and its largest magnitude (an output of -32768 does not count: the frontend's int16 negation
   * leaves it negative). */
  int16_t *x = fe->work.samples;
  int32_t max_abs = 0;
  for (int i = 0; i < WINDOW; ++i) {
    const int32_t v = asr32((int32_t)fe->history[i] * gbnn_fe_window[i], GBNN_FE_WINDOW_BITS);
    x[i] = (int16_t)v; /* within int16: the coefficients are at most 4096 */
    const int32_t a = v < 0 ? -v : v;
    if (a <= 32767 && a > max_abs) max_abs = a;
  }
  memmove(fe->history, fe->history + STEP, sizeof(int16_t) * (WINDOW - STEP));
  fe->filled -= STEP;

  /* Scale up as far as the largest value allows (the same shift scales the filterbank back down): shifted as
   * uint16 and stored into int16, as the frontend does; zero-padded to 512; paired up (even sample real, odd
   * imaginary) straight into the FFT's digit-reversed input order. */
  const int shift = 15 - bit_length32((uint32_t)max_abs);
  gbnn_frontend_cpx *spectrum = fe->spectrum;
  for (uint32_t p = 0; p < WINDOW / 2; ++p) {
    gbnn_frontend_cpx *dst = spectrum + digit_reverse(p);
    dst->r = (int16_t)wrap16((int32_t)(((uint32_t)(uint16_t)x[2 * p] << shift) & 0xFFFFu));
    dst->i = (int16_t)wrap16((int32_t)(((uint32_t)(uint16_t)x[2 * p + 1] << shift) & 0xFFFFu));
  }
  for (uint32_t p = WINDOW / 2; p < HALF_FFT; ++p) {
    gbnn_frontend_cpx *dst = spectrum + digit_reverse(p);
    dst->r = 0;
    dst->i = 0;
  }
  fft256(spectrum);

  /* The input is dead: its memory holds the energy. */
  split_energy(fe->spectrum, fe->work.energy);

  uint32_t signal[GBNN_FRONTEND_CHANNELS];
  filterbank(fe->work.energy, shift, signal);
  noise_reduction(fe->noise, signal);
  pcan(fe->noise, signal);
  log_scale(signal, out);
  return 1;
}

/* ---- the model's int8 input ---- */

/* numpy's clip(rint(float32(value * 5/128) / scale + zero_point), -128, 127), all in float32. */
static int32_t quantize_float(uint32_t value, float scale, float zero) {
  float f = (float)value * GBNN_FRONTEND_FEATURE_SCALE; /* exact: value < 2^16 */
  f = f / scale;
  f = f + zero;
  f = nearbyintf(f); /* round half to even, as numpy's rint in the default rounding mode */
  if (!(f > -128.0f)) return -128;
  if (f > 127.0f) return 127;
  return (int32_t)f;
}

int gbnn_frontend_quantizer_init(gbnn_frontend_quantizer *q, float scale, int32_t zero_point) {
  if (q == NULL || !(scale > 0.0f) || !isfinite(scale) || zero_point < -128 || zero_point > 127) return 0;
  const float zero = (float)zero_point;
  /* The mapping is monotonic (every float step is), so each level's first value is a binary search. */
  for (int32_t j = 0; j < 255; ++j) {
    const int32_t level = -127 + j;
    uint32_t lo = 0, hi = 65536; /* the answer is in [lo, hi]; hi = 65536 means "never" */
    while (lo < hi) {
      const uint32_t mid = (lo + hi) / 2;
      if (quantize_float(mid, scale, zero) >= level) {
        hi = mid;
      } else {
        lo = mid + 1;
      }
    }
    q->thresholds[j] = lo;
  }
  return 1;
}

/* How many of the 255 sorted thresholds are <= value (0..255): a binary search unrolled into 8 comparisons. */
FE_INLINE int8_t quantize_one(const uint32_t *t, uint32_t value) {
  uint32_t count = 0;
  count += value >= t[count + 127] ? 128u : 0u;
  count += value >= t[count + 63] ? 64u : 0u;
  count += value >= t[count + 31] ? 32u : 0u;
  count += value >= t[count + 15] ? 16u : 0u;
  count += value >= t[count + 7] ? 8u : 0u;
  count += value >= t[count + 3] ? 4u : 0u;
  count += value >= t[count + 1] ? 2u : 0u;
  count += value >= t[count] ? 1u : 0u;
  return (int8_t)((int32_t)count - 128);
}

int8_t gbnn_frontend_quantize(const gbnn_frontend_quantizer *q, uint16_t value) {
  return quantize_one(q->thresholds, value);
}

void gbnn_frontend_quantize_frame(const gbnn_frontend_quantizer *q, const uint16_t *values, int8_t *out, size_t n) {
  for (size_t i = 0; i < n; ++i) out[i] = quantize_one(q->thresholds, values[i]);
}
