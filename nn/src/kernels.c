/* Which kernel set gbnn_open() bakes into the ops: the best this build and this CPU have, unless gbnn_set_isa()
 * chose another. The x86 and NEON sets are compiled only where nn/CMakeLists.txt defines GBNN_HAVE_SSE41 /
 * GBNN_HAVE_AVX2 / GBNN_HAVE_NEON (the firmware's builds define none); the DSP set wherever the compiler targets
 * the Arm DSP extension (__ARM_FEATURE_DSP: the Cortex-M4F firmware). */
#include <stddef.h>

#include "kernels.h"

static int g_isa = GBNN_ISA_AUTO;

const gbnn_kernels *gbnn_kernels_for(gbnn_isa isa) {
  switch (isa) {
    case GBNN_ISA_REF:
      return &gbnn_kernels_ref;
#if defined(GBNN_HAVE_SSE41) && (defined(__GNUC__) || defined(__clang__))
    case GBNN_ISA_SSE41:
      return __builtin_cpu_supports("sse4.1") ? &gbnn_kernels_sse41 : NULL;
#endif
#if defined(GBNN_HAVE_AVX2) && (defined(__GNUC__) || defined(__clang__))
    case GBNN_ISA_AVX2:
      return __builtin_cpu_supports("avx2") ? &gbnn_kernels_avx2 : NULL;
#endif
#if defined(GBNN_HAVE_NEON)
    case GBNN_ISA_NEON:
      return &gbnn_kernels_neon;
#endif
#if defined(__ARM_FEATURE_DSP)
    case GBNN_ISA_DSP:
      return &gbnn_kernels_dsp;
#endif
    default:
      return NULL;
  }
}

static gbnn_isa best(void) {
  static const gbnn_isa order[] = {GBNN_ISA_AVX2, GBNN_ISA_SSE41, GBNN_ISA_NEON, GBNN_ISA_DSP};
  for (size_t i = 0; i < sizeof order / sizeof order[0]; ++i) {
    if (gbnn_kernels_for(order[i]) != NULL) {
      return order[i];
    }
  }
  return GBNN_ISA_REF;
}

int gbnn_isa_available(gbnn_isa isa) { return gbnn_kernels_for(isa) != NULL; }

gbnn_isa gbnn_get_isa(void) { return g_isa == GBNN_ISA_AUTO ? best() : (gbnn_isa)g_isa; }

int gbnn_set_isa(gbnn_isa isa) {
  if (isa == GBNN_ISA_AUTO) {
    g_isa = GBNN_ISA_AUTO;
    return 1;
  }
  if (gbnn_kernels_for(isa) == NULL) {
    return 0;
  }
  g_isa = (int)isa;
  return 1;
}

const gbnn_kernels *gbnn_kernels_current(void) {
  const gbnn_kernels *k = gbnn_kernels_for(gbnn_get_isa());
  return k != NULL ? k : &gbnn_kernels_ref;
}

const char *gbnn_isa_name(gbnn_isa isa) {
  switch (isa) {
    case GBNN_ISA_REF:
      return "ref";
    case GBNN_ISA_SSE41:
      return "sse41";
    case GBNN_ISA_AVX2:
      return "avx2";
    case GBNN_ISA_NEON:
      return "neon";
    case GBNN_ISA_DSP:
      return "dsp";
    default:
      return "?";
  }
}
