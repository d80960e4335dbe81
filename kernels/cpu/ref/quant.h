// Reference (scalar, portable) quantization kernels: dequantize, quantize, and dot products
// against 8-bit activations for every weight type the engine supports. The fast kernels are
// tested against these.
#pragma once

#include <cstdint>

#include "engine/common/status.h"
#include "engine/tensor/dtype.h"

namespace tlm::cpu::ref {

// Activations quantized on the fly, 32 per block: x[i] ~= d * qs[i]. `sum` is the sum of qs,
// used by weight types with an offset (min) term.
struct BlockQ8 {
  float d;
  int32_t sum;
  int8_t qs[32];
};
inline constexpr int64_t kQ8Block = 32;

// n must be a multiple of 32.
void QuantizeRowQ8(const float* x, BlockQ8* y, int64_t n);

// Dequantizes n elements (a multiple of the type's block size) of `type` at src into dst,
// bit-identical to ggml's dequantize_row_*. An unsupported type (a caller bug) yields NaNs.
void DequantizeRow(DType type, const void* src, float* dst, int64_t n);

// dot(w, x) where w is n elements of `type` and x holds n activations as BlockQ8.
// Valid for every engine-supported type; n must be a multiple of max(32, block size).
// Integer sums within each 32-element block (K-quants: within each sub-block, 8 BlockQ8 per
// superblock), then float scales and a float running sum, as ggml's *_generic vec_dot.
float VecDotQ8(DType type, const void* w, const BlockQ8* x, int64_t n);

// dot(w, x) with float activations, for F32, F16 and BF16 weights (and, slowly, any other
// engine-supported type, dequantized block by block). Accumulates in double.
float VecDotF32(DType type, const void* w, const float* x, int64_t n);

// Quantizes n floats into `type` (used by make-model and tests). Supported: every
// engine-supported type (F32, F16, BF16, Q4_0, Q4_1, Q5_0, Q5_1, Q8_0, Q2_K..Q6_K); others
// return kUnimplemented. n not a multiple of the block size, or (for quantized types) an input
// that is not finite or beyond the fp16 range (|x| > 65504), returns kInvalidArgument. Follows
// ggml's reference quantizers (quantize_row_*_ref, no importance matrix) and produced identical
// bytes to them in a cross-check; the 32-element formats are pinned to gguf-py by fixtures.
Status QuantizeRow(DType type, const float* src, void* dst, int64_t n);

// Half and bfloat16 conversion.
float F16ToF32(uint16_t h);
uint16_t F32ToF16(float f);
float BF16ToF32(uint16_t h);
uint16_t F32ToBF16(float f);

}  // namespace tlm::cpu::ref
