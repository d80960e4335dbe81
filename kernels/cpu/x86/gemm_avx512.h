// Entry points of the AVX-512 VNNI matrix-product kernels for prefill (x86-64 only). Only the
// dispatch table calls them, and only after checking the CPU has avx512f/bw/vl/vnni (and avx2,
// fma, f16c) and the OS saves the zmm state.
#pragma once

#include <cstddef>
#include <cstdint>

#include "kernels/cpu/ref/quant.h"

namespace tlm::cpu::x86 {

// y[r * ldy + o] = dot(weight row o, activation row r), as ref::GemmQ8 and the AVX2 GEMMs
// (gemm_avx2.h): each weight block unpacked once and dotted against 8 activation rows, with
// vpdpbusd (u8 x s8 -> s32) on 256-bit vectors instead of maddubs + madd; exact int32 block
// sums, float scales.
void GemmQ8_0Q8Avx512Vnni(const void* w, size_t row_stride, int64_t n_w, const ref::BlockQ8* x, int64_t n_x,
                          int64_t k, float* y, int64_t ldy);
void GemmQ5_0Q8Avx512Vnni(const void* w, size_t row_stride, int64_t n_w, const ref::BlockQ8* x, int64_t n_x,
                          int64_t k, float* y, int64_t ldy);
void GemmQ4KQ8Avx512Vnni(const void* w, size_t row_stride, int64_t n_w, const ref::BlockQ8* x, int64_t n_x,
                         int64_t k, float* y, int64_t ldy);
void GemmQ6KQ8Avx512Vnni(const void* w, size_t row_stride, int64_t n_w, const ref::BlockQ8* x, int64_t n_x,
                         int64_t k, float* y, int64_t ldy);

}  // namespace tlm::cpu::x86
