// Entry points of the AVX2+FMA elementwise kernels (x86-64 only): the semantics of the
// reference kernels of the same name in kernels/cpu/ref/eltwise.h. Only the dispatch table (and
// its tests) call them, and only after checking the CPU has avx2 and fma.
#pragma once

#include <cstdint>

namespace tlm::cpu::x86 {

// Cephes-style range reduction and polynomials, 8 lanes at a time; the tail through masked loads
// and stores, so every element goes through the same code. exp: within 2 ulp of std::exp,
// subnormal results included; tanh: within 3 ulp of std::tanh. NaN in, NaN out; exp(+-inf) is
// inf / 0, tanh(+-inf) is +-1.
void ExpF32Avx2(const float* x, float* y, int64_t n);
void TanhF32Avx2(const float* x, float* y, int64_t n);
// Same float operations as the reference in the same order (no contraction): only the exp and
// tanh differ.
void AddF32Avx2(const float* a, const float* b, float* out, int64_t n);
void GeluTanhGateF32Avx2(const float* a, const float* b, float* out, int64_t n);
void SiluGateF32Avx2(const float* a, const float* b, float* out, int64_t n);
// The sum of squares in double, over 4 accumulators: scale as the reference's up to rounding of
// the double sum.
void RmsNormF32Avx2(const float* x, const float* w, float* y, int64_t n, float eps);

}  // namespace tlm::cpu::x86
