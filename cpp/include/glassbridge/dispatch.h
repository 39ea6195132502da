// Run-time choice of the SIMD path (simdjson / libyuv style). Detection happens once; GLASSBRIDGE_ISA=ref|sse41|
// avx2|neon in the environment forces a path (an unavailable one is an error at first use, not a silent fallback);
// set_isa() does the same from code, for tests and benchmarks that compare paths in one process.
#pragma once

#include <string>
#include <vector>

namespace glassbridge {

enum class Isa : int { Ref = 0, Sse41, Avx2, Neon };

const char* isa_name(Isa isa);
Isa isa_from_name(const std::string& name);  // throws std::invalid_argument on an unknown name
std::vector<Isa> available_isas();             // compiled in AND supported by this CPU, best last
Isa best_isa();
Isa active_isa();
void set_isa(Isa isa);                         // throws std::invalid_argument if not available

}  // namespace glassbridge
