// Entry points of the AVX2+FMA+F16C matrix-product kernels for prefill (x86-64 only). Only the
// dispatch table calls them, and only after checking the CPU has avx2, fma and f16c.
#pragma once

#include <cstddef>
#include <cstdint>

#include "kernels/cpu/ref/quant.h"

namespace tlm::cpu::x86 {

// y[r * ldy + o] = dot(weight row o, activation row r), as ref::GemmQ8: each weight block is
// unpacked once and dotted against 8 activation rows at a time (Q4_1: 4; exact int32 block
// sums, float scales), over tiles of activation rows that stay in L2.
void GemmQ8_0Q8Avx2(const void* w, size_t row_stride, int64_t n_w, const ref::BlockQ8* x, int64_t n_x, int64_t k,
                    float* y, int64_t ldy);
void GemmQ4_0Q8Avx2(const void* w, size_t row_stride, int64_t n_w, const ref::BlockQ8* x, int64_t n_x, int64_t k,
                    float* y, int64_t ldy);
void GemmQ4_1Q8Avx2(const void* w, size_t row_stride, int64_t n_w, const ref::BlockQ8* x, int64_t n_x, int64_t k,
                    float* y, int64_t ldy);
void GemmQ5_0Q8Avx2(const void* w, size_t row_stride, int64_t n_w, const ref::BlockQ8* x, int64_t n_x, int64_t k,
                    float* y, int64_t ldy);
void GemmQ4KQ8Avx2(const void* w, size_t row_stride, int64_t n_w, const ref::BlockQ8* x, int64_t n_x, int64_t k,
                   float* y, int64_t ldy);
void GemmQ6KQ8Avx2(const void* w, size_t row_stride, int64_t n_w, const ref::BlockQ8* x, int64_t n_x, int64_t k,
                   float* y, int64_t ldy);

// y[r * ldy + o] = dot(w + o * ldw, x + r * ldx) over k floats, as ref::GemmF32: a 4x2
// register-blocked FMA kernel (one 8-lane accumulator per output); any k >= 0.
void GemmF32Avx2(const float* w, int64_t ldw, int64_t n_w, const float* x, int64_t ldx, int64_t n_x, int64_t k,
                 float* y, int64_t ldy);

}  // namespace tlm::cpu::x86
