// Prefill matmuls (more than one activation row) through the GEMM kernels of the dispatch
// table, split over the pool by blocks of output columns (weight rows): each worker reads its
// own weights once per tile of activation rows, and the activations stay in cache.
#pragma once

#include <cstdint>
#include <vector>

#include "engine/tensor/dtype.h"
#include "kernels/cpu/backend/thread_pool.h"
#include "kernels/cpu/dispatch.h"
#include "kernels/cpu/ref/quant.h"

namespace tlm::cpu {

// out[r * n_out + o] = dot(weight row o, activation row r) for r < rows, o < n_out through
// `gemm` (the table's gemm_q8 for the weight type, or a packed_gemv's over repacked rows): weight
// row o at w + o * row_bytes, activations quantized (rows of k / 32 BlockQ8). Each call of
// `gemm` takes a multiple of row_panel weight rows (a packed layout's panel; n_out a multiple).
void GemmMatMulQ8(ThreadPool& pool, GemmQ8Fn gemm, const uint8_t* w, uint64_t row_bytes, int64_t n_out,
                  const ref::BlockQ8* x, int64_t rows, int64_t k, float* out, int64_t row_panel = 1);

// The same for q8x2 activations: x holds 2 * rows rows, the activations' then their residue's
// (what the 8-bit rounding left, quantized the same way); out = W x_rows + W x_residue. Each
// worker runs its weight rows in pieces of kResiduePiece, one GEMM over all 2 * rows per piece
// (the weights unpacked once for both) into its scratch (at least 2 * rows * kResiduePiece
// floats), then adds the pairs.
inline constexpr int64_t kResiduePiece = 64;
void GemmMatMulQ8x2(ThreadPool& pool, GemmQ8Fn gemm, const uint8_t* w, uint64_t row_bytes, int64_t n_out,
                    const ref::BlockQ8* x, int64_t rows, int64_t k, float* out, int64_t row_panel,
                    std::vector<std::vector<float>>& scratch);

// The same with f32 activations (rows of k floats): each worker dequantizes a few of its weight
// rows at a time into a small f32 buffer and runs gemm_f32 over every activation row. Allocates
// that per-thread buffer on its first call with a longer k (prefill only, never in decode).
void GemmMatMulF32(ThreadPool& pool, const CpuKernels& kernels, DType type, const uint8_t* w, uint64_t row_bytes,
                   int64_t n_out, const float* x, int64_t rows, int64_t k, float* out);

}  // namespace tlm::cpu
