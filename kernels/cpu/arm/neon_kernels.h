// Entry points of the aarch64 NEON kernels. Only the dispatch table calls them; the
// neon_dotprod ones only after checking that the CPU has the dotprod instructions (asimddp).
#pragma once

#include <cstddef>
#include <cstdint>

#include "kernels/cpu/ref/quant.h"

namespace tlm::cpu::arm {

// Bit-identical to ref::QuantizeRowQ8 (same d, rounding ties away from zero, clamp, sum).
void QuantizeRowQ8Neon(const float* x, ref::BlockQ8* y, int64_t n);

// Fused multiply-add over 4 accumulators of 4 lanes; any n >= 0.
float DotF32Fma4x4Neon(const float* a, const float* b, int64_t n);

// Bit-identical to ref::DequantizeRow (the same float multiplies and adds in the same order,
// never fused; fp16 NaNs go through the reference conversion to keep their payload bits).
void DequantizeRowF16Neon(const void* src, float* dst, int64_t n);
void DequantizeRowBF16Neon(const void* src, float* dst, int64_t n);
void DequantizeRowQ8_0Neon(const void* src, float* dst, int64_t n);
void DequantizeRowQ4_0Neon(const void* src, float* dst, int64_t n);
void DequantizeRowQ4_1Neon(const void* src, float* dst, int64_t n);
void DequantizeRowQ5_0Neon(const void* src, float* dst, int64_t n);
void DequantizeRowQ4KNeon(const void* src, float* dst, int64_t n);
void DequantizeRowQ6KNeon(const void* src, float* dst, int64_t n);

// dot(w, x) with x from QuantizeRowQ8 (levels in [-127, 127]): exact int32 sums per block or
// group, float scales accumulated in a different order than the reference. Two builds of the
// same source (vec_dot_neon_impl.h): neon:: with vmull_s8 + vpadalq_s16 (ARMv8.0), and
// neon_dotprod:: with vdotq_s32 (ARMv8.2-A dotprod, compiled with +dotprod).
namespace neon {
float VecDotQ8_0Q8(const void* w, const ref::BlockQ8* x, int64_t n);
float VecDotQ4_0Q8(const void* w, const ref::BlockQ8* x, int64_t n);
float VecDotQ4_1Q8(const void* w, const ref::BlockQ8* x, int64_t n);
float VecDotQ5_0Q8(const void* w, const ref::BlockQ8* x, int64_t n);
float VecDotQ4KQ8(const void* w, const ref::BlockQ8* x, int64_t n);
float VecDotQ6KQ8(const void* w, const ref::BlockQ8* x, int64_t n);
// GEMM (the GemmQ8Fn contract of kernels/cpu/dispatch.h): each weight block unpacked once for up
// to 4 activation rows.
void GemmQ8_0Q8(const void* w, size_t row_stride, int64_t n_w, const ref::BlockQ8* x, int64_t n_x, int64_t k,
                float* y, int64_t ldy);
void GemmQ4_0Q8(const void* w, size_t row_stride, int64_t n_w, const ref::BlockQ8* x, int64_t n_x, int64_t k,
                float* y, int64_t ldy);
void GemmQ4_1Q8(const void* w, size_t row_stride, int64_t n_w, const ref::BlockQ8* x, int64_t n_x, int64_t k,
                float* y, int64_t ldy);
void GemmQ5_0Q8(const void* w, size_t row_stride, int64_t n_w, const ref::BlockQ8* x, int64_t n_x, int64_t k,
                float* y, int64_t ldy);
void GemmQ4KQ8(const void* w, size_t row_stride, int64_t n_w, const ref::BlockQ8* x, int64_t n_x, int64_t k,
               float* y, int64_t ldy);
void GemmQ6KQ8(const void* w, size_t row_stride, int64_t n_w, const ref::BlockQ8* x, int64_t n_x, int64_t k,
               float* y, int64_t ldy);
}  // namespace neon

namespace neon_dotprod {
float VecDotQ8_0Q8(const void* w, const ref::BlockQ8* x, int64_t n);
float VecDotQ4_0Q8(const void* w, const ref::BlockQ8* x, int64_t n);
float VecDotQ4_1Q8(const void* w, const ref::BlockQ8* x, int64_t n);
float VecDotQ5_0Q8(const void* w, const ref::BlockQ8* x, int64_t n);
float VecDotQ4KQ8(const void* w, const ref::BlockQ8* x, int64_t n);
float VecDotQ6KQ8(const void* w, const ref::BlockQ8* x, int64_t n);
// GEMM (the GemmQ8Fn contract of kernels/cpu/dispatch.h): each weight block unpacked once for up
// to 4 activation rows.
void GemmQ8_0Q8(const void* w, size_t row_stride, int64_t n_w, const ref::BlockQ8* x, int64_t n_x, int64_t k,
                float* y, int64_t ldy);
void GemmQ4_0Q8(const void* w, size_t row_stride, int64_t n_w, const ref::BlockQ8* x, int64_t n_x, int64_t k,
                float* y, int64_t ldy);
void GemmQ4_1Q8(const void* w, size_t row_stride, int64_t n_w, const ref::BlockQ8* x, int64_t n_x, int64_t k,
                float* y, int64_t ldy);
void GemmQ5_0Q8(const void* w, size_t row_stride, int64_t n_w, const ref::BlockQ8* x, int64_t n_x, int64_t k,
                float* y, int64_t ldy);
void GemmQ4KQ8(const void* w, size_t row_stride, int64_t n_w, const ref::BlockQ8* x, int64_t n_x, int64_t k,
               float* y, int64_t ldy);
void GemmQ6KQ8(const void* w, size_t row_stride, int64_t n_w, const ref::BlockQ8* x, int64_t n_x, int64_t k,
               float* y, int64_t ldy);
}  // namespace neon_dotprod

}  // namespace tlm::cpu::arm
