// The NEON dot products for ARMv8.0 (vmull_s8 + vpadalq_s16): tlm::cpu::arm::neon.
#define TLM_NEON_VEC_DOT_NAMESPACE neon
#define TLM_NEON_VEC_DOT_USE_DOTPROD 0
#include "kernels/cpu/arm/vec_dot_neon_impl.h"
