// Reference matrix products: loops over the reference dot products (see gemm.h).
#include "kernels/cpu/ref/gemm.h"

namespace tlm::cpu::ref {

void GemmQ8(DType type, const void* w, size_t row_stride, int64_t n_w, const BlockQ8* x, int64_t n_x, int64_t k,
            float* y, int64_t ldy) {
  const int64_t blocks = k / kQ8Block;
  const auto* base = static_cast<const uint8_t*>(w);
  for (int64_t o = 0; o < n_w; ++o) {
    for (int64_t r = 0; r < n_x; ++r) y[r * ldy + o] = VecDotQ8(type, base + o * row_stride, x + r * blocks, k);
  }
}

void GemmF32(const float* w, int64_t ldw, int64_t n_w, const float* x, int64_t ldx, int64_t n_x, int64_t k, float* y,
             int64_t ldy) {
  for (int64_t o = 0; o < n_w; ++o) {
    for (int64_t r = 0; r < n_x; ++r) y[r * ldy + o] = VecDotF32(DType::kF32, w + o * ldw, x + r * ldx, k);
  }
}

}  // namespace tlm::cpu::ref
