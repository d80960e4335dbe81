// Activation quantization (BlockQ8) and the scalar dot products of every supported weight type
// against it: int32 sums within a block or sub-block, then float scales, as ggml's *_generic.
#include <cassert>
#include <cmath>
#include <limits>

#include "kernels/cpu/ref/blocks.h"
#include "kernels/cpu/ref/quant.h"

namespace tlm::cpu::ref {
namespace {

// Sum over l < count of weight_at(l) * x[l], in int32 (no overflow for 4..8-bit levels).
template <typename WeightAt>
int32_t DotInt(const int8_t* x, int count, WeightAt weight_at) {
  int32_t sum = 0;
  for (int l = 0; l < count; ++l) sum += weight_at(l) * static_cast<int32_t>(x[l]);
  return sum;
}

int32_t SumInt8(const int8_t* x, int count) {
  int32_t sum = 0;
  for (int l = 0; l < count; ++l) sum += x[l];
  return sum;
}

// --- 32-element blocks: one weight block per activation block, as ggml's x_q8_0 / x_q8_1 ---

float DotQ4_0(const BlockQ4_0* w, const BlockQ8* x, int64_t nb) {
  float sum = 0.0f;
  for (int64_t i = 0; i < nb; ++i) {
    const int32_t low = DotInt(x[i].qs, 16, [&](int l) { return (w[i].qs[l] & 0xF) - 8; });
    const int32_t high = DotInt(x[i].qs + 16, 16, [&](int l) { return (w[i].qs[l] >> 4) - 8; });
    sum += static_cast<float>(low + high) * F16ToF32(w[i].d) * x[i].d;
  }
  return sum;
}

float DotQ4_1(const BlockQ4_1* w, const BlockQ8* x, int64_t nb) {
  float sum = 0.0f;
  for (int64_t i = 0; i < nb; ++i) {
    const int32_t low = DotInt(x[i].qs, 16, [&](int l) { return w[i].qs[l] & 0xF; });
    const int32_t high = DotInt(x[i].qs + 16, 16, [&](int l) { return w[i].qs[l] >> 4; });
    // ggml's q8_1 carries s = d * sum(qs); ours carries the integer sum.
    const float x_sum = x[i].d * static_cast<float>(x[i].sum);
    sum += (F16ToF32(w[i].d) * x[i].d) * static_cast<float>(low + high) + F16ToF32(w[i].m) * x_sum;
  }
  return sum;
}

float DotQ5_0(const BlockQ5_0* w, const BlockQ8* x, int64_t nb) {
  float sum = 0.0f;
  for (int64_t i = 0; i < nb; ++i) {
    const uint32_t qh = LoadQh(w[i].qh);
    const int32_t low = DotInt(x[i].qs, 16, [&](int l) {
      return ((w[i].qs[l] & 0xF) | static_cast<int>(((qh >> l) & 1u) << 4)) - 16;
    });
    const int32_t high = DotInt(x[i].qs + 16, 16, [&](int l) {
      return ((w[i].qs[l] >> 4) | static_cast<int>(((qh >> (l + 16)) & 1u) << 4)) - 16;
    });
    sum += (F16ToF32(w[i].d) * x[i].d) * static_cast<float>(low + high);
  }
  return sum;
}

float DotQ5_1(const BlockQ5_1* w, const BlockQ8* x, int64_t nb) {
  float sum = 0.0f;
  for (int64_t i = 0; i < nb; ++i) {
    const uint32_t qh = LoadQh(w[i].qh);
    const int32_t low = DotInt(x[i].qs, 16, [&](int l) {
      return (w[i].qs[l] & 0xF) | static_cast<int>(((qh >> l) & 1u) << 4);
    });
    const int32_t high = DotInt(x[i].qs + 16, 16, [&](int l) {
      return (w[i].qs[l] >> 4) | static_cast<int>(((qh >> (l + 16)) & 1u) << 4);
    });
    const float x_sum = x[i].d * static_cast<float>(x[i].sum);
    sum += (F16ToF32(w[i].d) * x[i].d) * static_cast<float>(low + high) + F16ToF32(w[i].m) * x_sum;
  }
  return sum;
}

float DotQ8_0(const BlockQ8_0* w, const BlockQ8* x, int64_t nb) {
  float sum = 0.0f;
  for (int64_t i = 0; i < nb; ++i) {
    const int32_t dot =
        DotInt(x[i].qs, 32, [&](int l) { return static_cast<int32_t>(w[i].qs[l]); });
    sum += static_cast<float>(dot) * (F16ToF32(w[i].d) * x[i].d);
  }
  return sum;
}

// --- K-quants: a superblock of 256 meets 8 activation blocks; block b covers elements
// 32b..32b+31, which is one 32-element group (Q4_K, Q5_K) or two 16-element groups (Q2_K,
// Q3_K, Q6_K). Integer sums per group, one float step per activation block. ---

float DotQ2_K(const BlockQ2_K* w, const BlockQ8* x, int64_t nsb) {
  float sum = 0.0f;
  for (int64_t i = 0; i < nsb; ++i) {
    const float d = F16ToF32(w[i].d);
    const float dmin = F16ToF32(w[i].dmin);
    for (int b = 0; b < 8; ++b) {
      const BlockQ8& xb = x[8 * i + b];
      const uint8_t* q = w[i].qs + 32 * (b / 4);
      const int shift = 2 * (b % 4);
      int32_t scaled = 0;  // sum over both groups of scale * dot
      int32_t mins = 0;    // sum over both groups of min * sum(x)
      for (int half = 0; half < 2; ++half) {
        const uint8_t sc = w[i].scales[2 * b + half];
        const int8_t* xq = xb.qs + 16 * half;
        const int32_t dot = DotInt(xq, 16, [&](int l) { return (q[16 * half + l] >> shift) & 3; });
        scaled += (sc & 0xF) * dot;
        mins += (sc >> 4) * SumInt8(xq, 16);
      }
      sum += xb.d * (d * static_cast<float>(scaled) - dmin * static_cast<float>(mins));
    }
  }
  return sum;
}

float DotQ3_K(const BlockQ3_K* w, const BlockQ8* x, int64_t nsb) {
  float sum = 0.0f;
  for (int64_t i = 0; i < nsb; ++i) {
    const float d = F16ToF32(w[i].d);
    for (int b = 0; b < 8; ++b) {
      const BlockQ8& xb = x[8 * i + b];
      const uint8_t* q = w[i].qs + 32 * (b / 4);
      const int shift = 2 * (b % 4);
      const int high_bit = 1 << b;
      int32_t scaled = 0;
      for (int half = 0; half < 2; ++half) {
        const int scale = UnpackScaleQ3K(w[i].scales, 2 * b + half);
        const int offset = 16 * half;
        const int32_t dot = DotInt(xb.qs + offset, 16, [&](int l) {
          return ((q[offset + l] >> shift) & 3) - ((w[i].hmask[offset + l] & high_bit) ? 0 : 4);
        });
        scaled += scale * dot;
      }
      sum += (d * xb.d) * static_cast<float>(scaled);
    }
  }
  return sum;
}

float DotQ4_K(const BlockQ4_K* w, const BlockQ8* x, int64_t nsb) {
  float sum = 0.0f;
  for (int64_t i = 0; i < nsb; ++i) {
    const float d = F16ToF32(w[i].d);
    const float dmin = F16ToF32(w[i].dmin);
    for (int g = 0; g < 8; ++g) {
      const BlockQ8& xb = x[8 * i + g];
      uint8_t sc, m;
      UnpackScaleMinK4(w[i].scales, g, &sc, &m);
      const uint8_t* q = w[i].qs + 32 * (g / 2);
      const int shift = 4 * (g % 2);
      const int32_t dot = DotInt(xb.qs, 32, [&](int l) { return (q[l] >> shift) & 0xF; });
      sum += xb.d * (d * static_cast<float>(sc * dot) - dmin * static_cast<float>(m * xb.sum));
    }
  }
  return sum;
}

float DotQ5_K(const BlockQ5_K* w, const BlockQ8* x, int64_t nsb) {
  float sum = 0.0f;
  for (int64_t i = 0; i < nsb; ++i) {
    const float d = F16ToF32(w[i].d);
    const float dmin = F16ToF32(w[i].dmin);
    for (int g = 0; g < 8; ++g) {
      const BlockQ8& xb = x[8 * i + g];
      uint8_t sc, m;
      UnpackScaleMinK4(w[i].scales, g, &sc, &m);
      const uint8_t* q = w[i].qs + 32 * (g / 2);
      const int shift = 4 * (g % 2);
      const int32_t dot = DotInt(xb.qs, 32, [&](int l) {
        return ((q[l] >> shift) & 0xF) | (((w[i].qh[l] >> g) & 1) << 4);
      });
      sum += xb.d * (d * static_cast<float>(sc * dot) - dmin * static_cast<float>(m * xb.sum));
    }
  }
  return sum;
}

float DotQ6_K(const BlockQ6_K* w, const BlockQ8* x, int64_t nsb) {
  float sum = 0.0f;
  for (int64_t i = 0; i < nsb; ++i) {
    const float d = F16ToF32(w[i].d);
    for (int b = 0; b < 8; ++b) {
      const BlockQ8& xb = x[8 * i + b];
      // Block b sits in 128-chunk b/4 at quarter b%4: the low nibbles of ql bytes
      // (b%2)*32.. for quarters 0,1 and the high nibbles for 2,3; qh bits 2*(b%4).
      const uint8_t* ql = w[i].ql + 64 * (b / 4) + 32 * (b % 2);
      const uint8_t* qh = w[i].qh + 32 * (b / 4);
      const int low_shift = 4 * ((b % 4) / 2);
      const int high_shift = 2 * (b % 4);
      int32_t scaled = 0;
      for (int half = 0; half < 2; ++half) {
        const int offset = 16 * half;
        const int32_t dot = DotInt(xb.qs + offset, 16, [&](int l) {
          return (((ql[offset + l] >> low_shift) & 0xF) |
                  (((qh[offset + l] >> high_shift) & 3) << 4)) -
                 32;
        });
        scaled += w[i].scales[2 * b + half] * dot;
      }
      sum += (d * xb.d) * static_cast<float>(scaled);
    }
  }
  return sum;
}

// --- plain float weights against BlockQ8 ---

template <typename Load>
float DotFloatWeights(const BlockQ8* x, int64_t nb, Load load) {
  float sum = 0.0f;
  for (int64_t i = 0; i < nb; ++i) {
    float block = 0.0f;
    for (int l = 0; l < 32; ++l) block += load(32 * i + l) * static_cast<float>(x[i].qs[l]);
    sum += block * x[i].d;
  }
  return sum;
}

}  // namespace

void QuantizeRowQ8(const float* x, BlockQ8* y, int64_t n) {
  assert(n % kQ8Block == 0);
  const int64_t nb = n / kQ8Block;
  for (int64_t i = 0; i < nb; ++i, x += kQ8Block) {
    float amax = 0.0f;
    for (int l = 0; l < kQ8Block; ++l) amax = std::fmax(amax, std::fabs(x[l]));
    const float d = amax / 127.0f;
    const float id = d != 0.0f ? 1.0f / d : 0.0f;
    y[i].d = d;
    int32_t sum = 0;
    for (int l = 0; l < kQ8Block; ++l) {
      // roundf (ties away from zero) as ggml's q8_0; the clamp keeps Inf/NaN input defined.
      const float v = std::round(x[l] * id);
      const int8_t q = v >= 127.0f    ? int8_t{127}
                       : v <= -127.0f ? int8_t{-127}
                       : v == v       ? static_cast<int8_t>(v)
                                      : int8_t{0};
      y[i].qs[l] = q;
      sum += q;
    }
    y[i].sum = sum;
  }
}

float VecDotQ8(DType type, const void* w, const BlockQ8* x, int64_t n) {
  const DTypeInfo& info = Info(type);
  assert(info.engine_supported && n % kQ8Block == 0 && n % info.block_elems == 0);
  const int64_t nb = n / kQ8Block;           // activation blocks
  const int64_t nsb = n / info.block_elems;  // weight blocks
  switch (type) {
    case DType::kF32: {
      const auto* f = static_cast<const float*>(w);
      return DotFloatWeights(x, nb, [f](int64_t k) { return f[k]; });
    }
    case DType::kF16: {
      const auto* h = static_cast<const uint16_t*>(w);
      return DotFloatWeights(x, nb, [h](int64_t k) { return F16ToF32(h[k]); });
    }
    case DType::kBF16: {
      const auto* h = static_cast<const uint16_t*>(w);
      return DotFloatWeights(x, nb, [h](int64_t k) { return BF16ToF32(h[k]); });
    }
    case DType::kQ4_0:
      return DotQ4_0(static_cast<const BlockQ4_0*>(w), x, nsb);
    case DType::kQ4_1:
      return DotQ4_1(static_cast<const BlockQ4_1*>(w), x, nsb);
    case DType::kQ5_0:
      return DotQ5_0(static_cast<const BlockQ5_0*>(w), x, nsb);
    case DType::kQ5_1:
      return DotQ5_1(static_cast<const BlockQ5_1*>(w), x, nsb);
    case DType::kQ8_0:
      return DotQ8_0(static_cast<const BlockQ8_0*>(w), x, nsb);
    case DType::kQ2_K:
      return DotQ2_K(static_cast<const BlockQ2_K*>(w), x, nsb);
    case DType::kQ3_K:
      return DotQ3_K(static_cast<const BlockQ3_K*>(w), x, nsb);
    case DType::kQ4_K:
      return DotQ4_K(static_cast<const BlockQ4_K*>(w), x, nsb);
    case DType::kQ5_K:
      return DotQ5_K(static_cast<const BlockQ5_K*>(w), x, nsb);
    case DType::kQ6_K:
      return DotQ6_K(static_cast<const BlockQ6_K*>(w), x, nsb);
    default:
      return std::numeric_limits<float>::quiet_NaN();
  }
}

float VecDotF32(DType type, const void* w, const float* x, int64_t n) {
  // Accumulates in double, as ggml's scalar f32/f16 dot does, so this is a tight reference.
  double sum = 0.0;
  switch (type) {
    case DType::kF32: {
      const auto* f = static_cast<const float*>(w);
      for (int64_t i = 0; i < n; ++i) sum += static_cast<double>(f[i]) * x[i];
      return static_cast<float>(sum);
    }
    case DType::kF16: {
      const auto* h = static_cast<const uint16_t*>(w);
      for (int64_t i = 0; i < n; ++i) sum += static_cast<double>(F16ToF32(h[i])) * x[i];
      return static_cast<float>(sum);
    }
    case DType::kBF16: {
      const auto* h = static_cast<const uint16_t*>(w);
      for (int64_t i = 0; i < n; ++i) sum += static_cast<double>(BF16ToF32(h[i])) * x[i];
      return static_cast<float>(sum);
    }
    default:
      break;
  }
  // Any other supported type: dequantize one block at a time.
  const DTypeInfo& info = Info(type);
  if (!info.engine_supported || n % info.block_elems != 0) {
    assert(false && "VecDotF32: unsupported type or length");
    return std::numeric_limits<float>::quiet_NaN();
  }
  const auto* bytes = static_cast<const uint8_t*>(w);
  float block[kQK];
  for (int64_t start = 0; start < n; start += info.block_elems) {
    DequantizeRow(type, bytes, block, info.block_elems);
    for (int64_t l = 0; l < info.block_elems; ++l) {
      sum += static_cast<double>(block[l]) * x[start + l];
    }
    bytes += info.block_bytes;
  }
  return static_cast<float>(sum);
}

}  // namespace tlm::cpu::ref
