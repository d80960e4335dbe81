// Prefill matmuls through the dispatch table's GEMM kernels (see gemm_matmul.h).
#include "kernels/cpu/backend/gemm_matmul.h"

#include <algorithm>
#include <vector>

namespace tlm::cpu {

void GemmMatMulQ8(ThreadPool& pool, GemmQ8Fn gemm, const uint8_t* w, uint64_t row_bytes, int64_t n_out,
                  const ref::BlockQ8* x, int64_t rows, int64_t k, float* out, int64_t row_panel) {
  pool.ParallelFor(n_out, row_panel, [&](int64_t begin, int64_t end, int) {
    gemm(w + begin * row_bytes, row_bytes, end - begin, x, rows, k, out + begin, n_out);
  });
}

void GemmMatMulQ8x2(ThreadPool& pool, GemmQ8Fn gemm, const uint8_t* w, uint64_t row_bytes, int64_t n_out,
                    const ref::BlockQ8* x, int64_t rows, int64_t k, float* out, int64_t row_panel,
                    std::vector<std::vector<float>>& scratch) {
  pool.ParallelFor(n_out, row_panel, [&](int64_t begin, int64_t end, int worker) {
    float* both = scratch[static_cast<size_t>(worker)].data();
    for (int64_t o0 = begin; o0 < end; o0 += kResiduePiece) {
      const int64_t n = std::min(kResiduePiece, end - o0);
      gemm(w + o0 * row_bytes, row_bytes, n, x, 2 * rows, k, both, n);
      for (int64_t r = 0; r < rows; ++r) {
        float* y = out + r * n_out + o0;
        const float *a = both + r * n, *e = both + (rows + r) * n;
        for (int64_t j = 0; j < n; ++j) y[j] = a[j] + e[j];
      }
    }
  });
}

void GemmMatMulF32(ThreadPool& pool, const CpuKernels& kernels, DType type, const uint8_t* w, uint64_t row_bytes,
                   int64_t n_out, const float* x, int64_t rows, int64_t k, float* out) {
  const DequantizeRowFn dequantize = kernels.DequantizeRowFor(type);
  const GemmF32Fn gemm = kernels.gemm_f32;
  // Weight rows per chunk: about 64 KiB of f32 (L2), even, 2..16.
  const int64_t chunk = std::clamp<int64_t>((64 * 1024 / static_cast<int64_t>(sizeof(float) * std::max<int64_t>(k, 1))) & ~int64_t{1}, 2, 16);
  pool.ParallelFor(n_out, [&](int64_t begin, int64_t end, int) {
    thread_local std::vector<float> rows_f32;
    if (rows_f32.size() < static_cast<size_t>(chunk * k)) rows_f32.resize(static_cast<size_t>(chunk * k));
    for (int64_t o0 = begin; o0 < end; o0 += chunk) {
      const int64_t n = std::min(chunk, end - o0);
      for (int64_t j = 0; j < n; ++j) dequantize(w + (o0 + j) * row_bytes, rows_f32.data() + j * k, k);
      gemm(rows_f32.data(), k, n, x, k, rows, k, out + o0, n_out);
    }
  });
}

}  // namespace tlm::cpu
