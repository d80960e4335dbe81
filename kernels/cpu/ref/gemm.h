// Reference (scalar) matrix products for prefill: every activation row against every weight
// row, one dot product at a time. The oracle of the GEMM kernels of the dispatch table.
#pragma once

#include <cstddef>
#include <cstdint>

#include "engine/tensor/dtype.h"
#include "kernels/cpu/ref/quant.h"

namespace tlm::cpu::ref {

// y[r * ldy + o] = VecDotQ8(type, w + o * row_stride, x + r * (k / 32), k) for o < n_w, r < n_x:
// weight row o at w + o * row_stride bytes, activation row r as k / 32 BlockQ8 right after row
// r - 1. k a multiple of max(32, block size).
void GemmQ8(DType type, const void* w, size_t row_stride, int64_t n_w, const BlockQ8* x, int64_t n_x, int64_t k,
            float* y, int64_t ldy);

// y[r * ldy + o] = dot(w + o * ldw, x + r * ldx) over k floats (VecDotF32: double accumulation),
// for o < n_w, r < n_x; any k >= 0.
void GemmF32(const float* w, int64_t ldw, int64_t n_w, const float* x, int64_t ldx, int64_t n_x, int64_t k, float* y,
             int64_t ldy);

}  // namespace tlm::cpu::ref
