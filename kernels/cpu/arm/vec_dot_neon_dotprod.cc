// The NEON dot products with the ARMv8.2-A dotprod instructions (vdotq_s32):
// tlm::cpu::arm::neon_dotprod. kernels.cmake compiles only this file with
// -march=armv8.2-a+dotprod; the dispatch table calls it only on a CPU with asimddp.
#if !defined(__ARM_FEATURE_DOTPROD)
#error "vec_dot_neon_dotprod.cc must be compiled with +dotprod (see kernels/cpu/kernels.cmake)"
#endif
#define TLM_NEON_VEC_DOT_NAMESPACE neon_dotprod
#define TLM_NEON_VEC_DOT_USE_DOTPROD 1
#include "kernels/cpu/arm/vec_dot_neon_impl.h"
