/* gbnn's kernel sets: the plain C reference and the SIMD / DSP variants of the convolution, depthwise and fully
 * connected inner loops (nn/src/kernels*.c). Every variant gives exactly the reference's int32 accumulators, so
 * the choice changes speed only. The choice is read by gbnn_open(): an interpreter keeps the kernel set that was
 * current when it was opened. The default is the fastest set this build and this CPU have. Tests use
 * gbnn_set_isa() to run every set. */
#ifndef GBNN_ISA_H
#define GBNN_ISA_H

#ifdef __cplusplus
extern "C" {
#endif

typedef enum {
  GBNN_ISA_AUTO = -1, /* gbnn_set_isa: back to the default (the best available) */
  GBNN_ISA_REF = 0,   /* plain C: every target */
  GBNN_ISA_SSE41 = 1, /* x86-64 with SSE4.1 (pmaddwd on int16) */
  GBNN_ISA_AVX2 = 2,  /* x86-64 with AVX2 */
  GBNN_ISA_NEON = 3,  /* AArch64 Advanced SIMD (smlal; no sdot, so Cortex-A53 runs it) */
  GBNN_ISA_DSP = 4    /* Arm v7E-M DSP extension (Cortex-M4/M7: SXTAB16, SMLAD) */
} gbnn_isa;

#define GBNN_ISA_COUNT 5

/* 1 when this build holds the set and the CPU runs it. GBNN_ISA_REF is always available. */
int gbnn_isa_available(gbnn_isa isa);
/* The set gbnn_open() uses next. */
gbnn_isa gbnn_get_isa(void);
/* Chooses the set for later gbnn_open() calls (not thread-safe against a concurrent gbnn_open). Returns 1, or 0
 * (and changes nothing) when the set is not available. GBNN_ISA_AUTO restores the default. */
int gbnn_set_isa(gbnn_isa isa);
/* "ref", "sse41", "avx2", "neon", "dsp"; "?" for anything else. */
const char *gbnn_isa_name(gbnn_isa isa);

#ifdef __cplusplus
}
#endif

#endif
