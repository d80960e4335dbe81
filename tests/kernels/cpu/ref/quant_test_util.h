// Helpers shared by the reference quantization tests: the engine-supported types, random
// weight rows (raw block bytes with sane scales, or quantized from floats), and activations.
#pragma once

#include <cmath>
#include <cstdint>
#include <random>
#include <vector>

#include "engine/tensor/dtype.h"
#include "kernels/cpu/ref/blocks.h"
#include "kernels/cpu/ref/quant.h"

namespace tlm::cpu::ref::testing {

inline constexpr DType kSupportedTypes[] = {
    DType::kF32,  DType::kF16,  DType::kBF16, DType::kQ4_0, DType::kQ4_1,
    DType::kQ5_0, DType::kQ5_1, DType::kQ8_0, DType::kQ2_K, DType::kQ3_K,
    DType::kQ4_K, DType::kQ5_K, DType::kQ6_K,
};

inline size_t RowBytes(DType type, int64_t n) {
  uint64_t bytes = 0;
  ElemsToBytes(type, static_cast<uint64_t>(n), &bytes);
  return static_cast<size_t>(bytes);
}

// Gaussian values whose scale varies per 32-element block over a few decades, with
// occasional outliers, as real weights and activations look.
inline std::vector<float> RandomFloats(std::mt19937& rng, int64_t n, float scale = 1.0f) {
  std::normal_distribution<float> normal(0.0f, 1.0f);
  std::uniform_real_distribution<float> decade(-1.5f, 1.0f);
  std::uniform_int_distribution<int> one_in(0, 63);
  std::vector<float> x(static_cast<size_t>(n));
  float block_scale = 1.0f;
  for (int64_t i = 0; i < n; ++i) {
    if (i % 32 == 0) block_scale = scale * std::pow(10.0f, decade(rng));
    x[static_cast<size_t>(i)] = normal(rng) * block_scale * (one_in(rng) == 0 ? 8.0f : 1.0f);
  }
  return x;
}

inline uint16_t RandomScale(std::mt19937& rng, bool positive) {
  std::uniform_real_distribution<float> exponent(-4.0f, 0.5f);
  std::bernoulli_distribution negative(0.5);
  float v = std::pow(10.0f, exponent(rng));
  if (!positive && negative(rng)) v = -v;
  return F32ToF16(v);
}

// Uniformly random quant bits with sane fp16 scales: covers every bit pattern of the levels.
inline std::vector<uint8_t> RandomBlocks(std::mt19937& rng, DType type, int64_t n) {
  std::vector<uint8_t> bytes(RowBytes(type, n));
  std::uniform_int_distribution<int> byte(0, 255);
  for (auto& b : bytes) b = static_cast<uint8_t>(byte(rng));
  const DTypeInfo& info = Info(type);
  const int64_t nb = n / info.block_elems;
  for (int64_t i = 0; i < nb; ++i) {
    uint8_t* block = bytes.data() + i * info.block_bytes;
    const uint16_t d = RandomScale(rng, false);
    const uint16_t d_pos = RandomScale(rng, true);
    const uint16_t dmin = RandomScale(rng, true);
    switch (type) {
      case DType::kQ4_0:
        reinterpret_cast<BlockQ4_0*>(block)->d = d;
        break;
      case DType::kQ5_0:
        reinterpret_cast<BlockQ5_0*>(block)->d = d;
        break;
      case DType::kQ8_0:
        reinterpret_cast<BlockQ8_0*>(block)->d = d;
        break;
      case DType::kQ4_1:
        reinterpret_cast<BlockQ4_1*>(block)->d = d_pos;
        reinterpret_cast<BlockQ4_1*>(block)->m = d;
        break;
      case DType::kQ5_1:
        reinterpret_cast<BlockQ5_1*>(block)->d = d_pos;
        reinterpret_cast<BlockQ5_1*>(block)->m = d;
        break;
      case DType::kQ2_K:
        reinterpret_cast<BlockQ2_K*>(block)->d = d_pos;
        reinterpret_cast<BlockQ2_K*>(block)->dmin = dmin;
        break;
      case DType::kQ3_K:
        reinterpret_cast<BlockQ3_K*>(block)->d = d;
        break;
      case DType::kQ4_K:
        reinterpret_cast<BlockQ4_K*>(block)->d = d_pos;
        reinterpret_cast<BlockQ4_K*>(block)->dmin = dmin;
        break;
      case DType::kQ5_K:
        reinterpret_cast<BlockQ5_K*>(block)->d = d_pos;
        reinterpret_cast<BlockQ5_K*>(block)->dmin = dmin;
        break;
      case DType::kQ6_K:
        reinterpret_cast<BlockQ6_K*>(block)->d = d;
        break;
      default:  // plain types are rewritten below
        break;
    }
  }
  if (type == DType::kF32 || type == DType::kF16 || type == DType::kBF16) {
    // Random bits would include NaN and Inf; use finite values instead.
    const std::vector<float> x = RandomFloats(rng, n);
    std::vector<uint8_t> out(RowBytes(type, n));
    (void)QuantizeRow(type, x.data(), out.data(), n);
    return out;
  }
  return bytes;
}

inline std::vector<uint8_t> QuantizedRow(DType type, const std::vector<float>& x) {
  std::vector<uint8_t> out(RowBytes(type, static_cast<int64_t>(x.size())));
  const Status status = QuantizeRow(type, x.data(), out.data(), static_cast<int64_t>(x.size()));
  if (!status.ok()) out.clear();
  return out;
}

inline std::vector<float> Dequantized(DType type, const void* src, int64_t n) {
  std::vector<float> out(static_cast<size_t>(n));
  DequantizeRow(type, src, out.data(), n);
  return out;
}

}  // namespace tlm::cpu::ref::testing
