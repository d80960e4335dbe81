// The kernel tables the CPU tests compare with the reference: every ISA this build has, by name.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "kernels/cpu/dispatch.h"

namespace tlm::cpu {

// The ISA names of this build's tables, the reference first.
inline std::vector<std::string> IsasOfThisBuild() {
#if defined(__aarch64__)
  return {"ref", "neon", "neon-dotprod"};
#else
  return {"ref", "avx2", "avx512-vnni"};
#endif
}

// The table of that name; nullptr when this CPU cannot run it (the tests say so, loudly).
inline const CpuKernels* TableNamed(std::string_view isa) {
  if (isa == "ref") return &ReferenceCpuKernels();
  if (isa == "avx2") return Avx2CpuKernels();
  if (isa == "avx512-vnni") return Avx512VnniCpuKernels();
  if (isa == "neon") return NeonCpuKernels();
  if (isa == "neon-dotprod") return NeonDotprodCpuKernels();
  return nullptr;
}

}  // namespace tlm::cpu
