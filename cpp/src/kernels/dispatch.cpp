// Run-time ISA selection: detect once, let GLASSBRIDGE_ISA or set_isa() force a path.
#include "glassbridge/dispatch.h"

#include <atomic>
#include <cstdlib>
#include <stdexcept>

namespace glassbridge {
namespace {

bool cpu_supports(Isa isa) {
  switch (isa) {
    case Isa::Ref:
      return true;
#if defined(GLASSBRIDGE_X86) && (defined(__GNUC__) || defined(__clang__))
    case Isa::Sse41:
      return __builtin_cpu_supports("sse4.1");
    case Isa::Avx2:
      // The AVX2 files are also compiled with FMA and BMI2; require all three.
      return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma") && __builtin_cpu_supports("bmi2");
#endif
#if defined(GLASSBRIDGE_ARM64)
    case Isa::Neon:
      return true;  // Advanced SIMD is mandatory in AArch64
#endif
    default:
      return false;
  }
}

Isa initial_isa() {
  const char* forced = std::getenv("GLASSBRIDGE_ISA");
  if (forced != nullptr && *forced != '\0') {
    const Isa isa = isa_from_name(forced);
    if (!cpu_supports(isa)) {
      throw std::invalid_argument(std::string("GLASSBRIDGE_ISA=") + forced +
                                  " is not available on this build or CPU");
    }
    return isa;
  }
  return best_isa();
}

std::atomic<int>& active_slot() {
  static std::atomic<int> slot{static_cast<int>(initial_isa())};
  return slot;
}

}  // namespace

const char* isa_name(Isa isa) {
  switch (isa) {
    case Isa::Ref: return "ref";
    case Isa::Sse41: return "sse41";
    case Isa::Avx2: return "avx2";
    case Isa::Neon: return "neon";
  }
  return "unknown";
}

Isa isa_from_name(const std::string& name) {
  for (Isa isa : {Isa::Ref, Isa::Sse41, Isa::Avx2, Isa::Neon}) {
    if (name == isa_name(isa)) return isa;
  }
  throw std::invalid_argument("unknown ISA '" + name + "': expected one of ref, sse41, avx2, neon");
}

std::vector<Isa> available_isas() {
  std::vector<Isa> out;
  for (Isa isa : {Isa::Ref, Isa::Sse41, Isa::Avx2, Isa::Neon}) {
    if (cpu_supports(isa)) out.push_back(isa);
  }
  return out;
}

Isa best_isa() { return available_isas().back(); }

Isa active_isa() { return static_cast<Isa>(active_slot().load(std::memory_order_relaxed)); }

void set_isa(Isa isa) {
  if (!cpu_supports(isa)) {
    throw std::invalid_argument(std::string("ISA '") + isa_name(isa) + "' is not available on this build or CPU");
  }
  active_slot().store(static_cast<int>(isa), std::memory_order_relaxed);
}

}  // namespace glassbridge
