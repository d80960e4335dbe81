// Entry points of the AVX2+FMA+F16C kernels (x86-64 only). Only the dispatch table calls
// them, and only after checking the CPU has avx2, fma and f16c.
#pragma once

#include <cstddef>
#include <cstdint>

#include "kernels/cpu/ref/quant.h"

namespace tlm::cpu::x86 {

// Bit-identical to ref::QuantizeRowQ8 (same d, rounding ties away from zero, clamp, sum).
void QuantizeRowQ8Avx2(const float* x, ref::BlockQ8* y, int64_t n);

// FMA over 4 accumulators of 8 lanes; any n >= 0.
float DotF32Fma8x4Avx2(const float* a, const float* b, int64_t n);

// dot(w, x) with x from QuantizeRowQ8 (levels in [-127, 127]); exact integer block sums, float
// scales and accumulation in a different order than the reference.
float VecDotQ8_0Q8Avx2(const void* w, const ref::BlockQ8* x, int64_t n);
float VecDotQ4_0Q8Avx2(const void* w, const ref::BlockQ8* x, int64_t n);
float VecDotQ4_1Q8Avx2(const void* w, const ref::BlockQ8* x, int64_t n);
float VecDotQ5_0Q8Avx2(const void* w, const ref::BlockQ8* x, int64_t n);
float VecDotQ4KQ8Avx2(const void* w, const ref::BlockQ8* x, int64_t n);
float VecDotQ6KQ8Avx2(const void* w, const ref::BlockQ8* x, int64_t n);

// y[o] = dot(weight row o at w + o * row_stride, x) for o < n_rows (decode GEMV). Q4_0, Q4_1,
// Q5_0: four weight rows per step share the activation loads and fold their block sums into one
// scaled FMA (same integer sums as above, float accumulation in another order); Q4_K: row by row
// with the activations' d and d * sum tabulated once per call, each superblock's 8 group sums
// folded into one vector; Q8_0: row by row (one sequential weight stream), the activations' d
// tabulated once per call and four rows' lanes reduced together; Q6_K: the single-row kernel
// above, row by row (four interleaved rows were slower with the weights streamed from memory).
void VecDotRowsQ8_0Q8Avx2(const void* w, size_t row_stride, int64_t n_rows, const ref::BlockQ8* x, int64_t n,
                          float* y);
void VecDotRowsQ4_0Q8Avx2(const void* w, size_t row_stride, int64_t n_rows, const ref::BlockQ8* x, int64_t n,
                          float* y);
void VecDotRowsQ4_1Q8Avx2(const void* w, size_t row_stride, int64_t n_rows, const ref::BlockQ8* x, int64_t n,
                          float* y);
void VecDotRowsQ5_0Q8Avx2(const void* w, size_t row_stride, int64_t n_rows, const ref::BlockQ8* x, int64_t n,
                          float* y);
void VecDotRowsQ4KQ8Avx2(const void* w, size_t row_stride, int64_t n_rows, const ref::BlockQ8* x, int64_t n,
                         float* y);
void VecDotRowsQ6KQ8Avx2(const void* w, size_t row_stride, int64_t n_rows, const ref::BlockQ8* x, int64_t n,
                         float* y);

// Bit-identical to ref::DequantizeRow for blocks with finite fp16 scales (same float
// operations in the same order; F16C and the reference convert fp16 identically except for
// NaN payloads).
void DequantizeRowQ8_0Avx2(const void* src, float* dst, int64_t n);
void DequantizeRowQ4_1Avx2(const void* src, float* dst, int64_t n);
void DequantizeRowQ5_0Avx2(const void* src, float* dst, int64_t n);
void DequantizeRowQ4KAvx2(const void* src, float* dst, int64_t n);
void DequantizeRowQ6KAvx2(const void* src, float* dst, int64_t n);

}  // namespace tlm::cpu::x86
