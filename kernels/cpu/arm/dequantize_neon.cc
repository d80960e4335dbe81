// NEON dequantization, bit-identical to the reference: the same float multiplies and adds in
// the same order, never fused (vmulq then vaddq/vsubq, no vfmaq/vmlaq).
#include <arm_neon.h>

#include <cstdint>

#include "kernels/cpu/arm/neon_kernels.h"
#include "kernels/cpu/arm/neon_util.h"
#include "kernels/cpu/ref/blocks.h"
#include "kernels/cpu/ref/quant.h"

namespace tlm::cpu::arm {

using ref::BlockQ4_0;
using ref::BlockQ4_1;
using ref::BlockQ4_K;
using ref::BlockQ5_0;
using ref::BlockQ6_K;
using ref::BlockQ8_0;

namespace {

// The 16 signed levels as 4 vectors of exact floats.
struct Levels16 {
  float32x4_t v[4];
};

inline Levels16 ToFloat(int8x16_t q) {
  const int16x8_t low = vmovl_s8(vget_low_s8(q));
  const int16x8_t high = vmovl_high_s8(q);
  return {{vcvtq_f32_s32(vmovl_s16(vget_low_s16(low))), vcvtq_f32_s32(vmovl_high_s16(low)),
           vcvtq_f32_s32(vmovl_s16(vget_low_s16(high))), vcvtq_f32_s32(vmovl_high_s16(high))}};
}

// y[j] = float(level[j]) * scale.
inline void StoreScaled16(int8x16_t q, float scale, float* y) {
  const Levels16 f = ToFloat(q);
  for (int k = 0; k < 4; ++k) vst1q_f32(y + 4 * k, vmulq_n_f32(f.v[k], scale));
}

// y[j] = scale * float(level[j]) - offset: multiply, then subtract, as the reference.
inline void StoreScaledMinus16(int8x16_t q, float scale, float offset, float* y) {
  const Levels16 f = ToFloat(q);
  const float32x4_t o = vdupq_n_f32(offset);
  for (int k = 0; k < 4; ++k) vst1q_f32(y + 4 * k, vsubq_f32(vmulq_n_f32(f.v[k], scale), o));
}

inline int8x16_t AsSigned(uint8x16_t q) { return vreinterpretq_s8_u8(q); }

}  // namespace

void DequantizeRowF16Neon(const void* src, float* y, int64_t n) {
  const auto* h = static_cast<const uint16_t*>(src);
  int64_t i = 0;
  for (; i + 8 <= n; i += 8) {
    const uint16x8_t bits = vld1q_u16(h + i);
    // The hardware quiets signalling NaNs; the reference keeps every payload bit as it is.
    if (vmaxvq_u16(vandq_u16(bits, vdupq_n_u16(0x7fff))) > 0x7c00) {
      for (int k = 0; k < 8; ++k) y[i + k] = ref::F16ToF32(h[i + k]);
      continue;
    }
    const float16x8_t halves = vreinterpretq_f16_u16(bits);
    vst1q_f32(y + i, vcvt_f32_f16(vget_low_f16(halves)));
    vst1q_f32(y + i + 4, vcvt_high_f32_f16(halves));
  }
  for (; i < n; ++i) y[i] = ref::F16ToF32(h[i]);
}

void DequantizeRowBF16Neon(const void* src, float* y, int64_t n) {
  const auto* h = static_cast<const uint16_t*>(src);
  int64_t i = 0;
  for (; i + 8 <= n; i += 8) {
    const uint16x8_t bits = vld1q_u16(h + i);
    vst1q_f32(y + i, vreinterpretq_f32_u32(vshll_n_u16(vget_low_u16(bits), 16)));
    vst1q_f32(y + i + 4, vreinterpretq_f32_u32(vshll_high_n_u16(bits, 16)));
  }
  for (; i < n; ++i) y[i] = ref::BF16ToF32(h[i]);
}

void DequantizeRowQ8_0Neon(const void* src, float* y, int64_t n) {
  const auto* x = static_cast<const BlockQ8_0*>(src);
  const int64_t nb = n / 32;
  for (int64_t i = 0; i < nb; ++i, y += 32) {
    const float d = HalfToFloat(x[i].d);
    StoreScaled16(vld1q_s8(x[i].qs), d, y);
    StoreScaled16(vld1q_s8(x[i].qs + 16), d, y + 16);
  }
}

void DequantizeRowQ4_0Neon(const void* src, float* y, int64_t n) {
  const auto* x = static_cast<const BlockQ4_0*>(src);
  const int64_t nb = n / 32;
  const int8x16_t eight = vdupq_n_s8(8);
  for (int64_t i = 0; i < nb; ++i, y += 32) {
    const float d = HalfToFloat(x[i].d);
    const uint8x16_t bytes = vld1q_u8(x[i].qs);
    StoreScaled16(vsubq_s8(AsSigned(LowNibbles(bytes)), eight), d, y);
    StoreScaled16(vsubq_s8(AsSigned(HighNibbles(bytes)), eight), d, y + 16);
  }
}

void DequantizeRowQ4_1Neon(const void* src, float* y, int64_t n) {
  const auto* x = static_cast<const BlockQ4_1*>(src);
  const int64_t nb = n / 32;
  for (int64_t i = 0; i < nb; ++i, y += 32) {
    const float d = HalfToFloat(x[i].d);
    const float32x4_t m = vdupq_n_f32(HalfToFloat(x[i].m));
    const uint8x16_t bytes = vld1q_u8(x[i].qs);
    const int8x16_t halves[2] = {AsSigned(LowNibbles(bytes)), AsSigned(HighNibbles(bytes))};
    for (int half = 0; half < 2; ++half) {
      const Levels16 f = ToFloat(halves[half]);
      for (int k = 0; k < 4; ++k) vst1q_f32(y + 16 * half + 4 * k, vaddq_f32(vmulq_n_f32(f.v[k], d), m));
    }
  }
}

void DequantizeRowQ5_0Neon(const void* src, float* y, int64_t n) {
  const auto* x = static_cast<const BlockQ5_0*>(src);
  const int64_t nb = n / 32;
  const uint8x16_t fifth_bit = vdupq_n_u8(0x10);
  const int8x16_t sixteen = vdupq_n_s8(16);
  for (int64_t i = 0; i < nb; ++i, y += 32) {
    const float d = HalfToFloat(x[i].d);
    const uint8x16_t bytes = vld1q_u8(x[i].qs);
    const uint8x16_t low = vorrq_u8(LowNibbles(bytes), vandq_u8(BitsToBytes16(x[i].qh), fifth_bit));
    const uint8x16_t high = vorrq_u8(HighNibbles(bytes), vandq_u8(BitsToBytes16(x[i].qh + 2), fifth_bit));
    StoreScaled16(vsubq_s8(AsSigned(low), sixteen), d, y);
    StoreScaled16(vsubq_s8(AsSigned(high), sixteen), d, y + 16);
  }
}

void DequantizeRowQ4KNeon(const void* src, float* y, int64_t n) {
  const auto* x = static_cast<const BlockQ4_K*>(src);
  const int64_t nb = n / ref::kQK;
  for (int64_t i = 0; i < nb; ++i) {
    const float d = HalfToFloat(x[i].d);
    const float dmin = HalfToFloat(x[i].dmin);
    for (int pair = 0; pair < 4; ++pair) {
      const uint8x16_t bytes[2] = {vld1q_u8(x[i].qs + 32 * pair), vld1q_u8(x[i].qs + 32 * pair + 16)};
      for (int half = 0; half < 2; ++half, y += 32) {
        int32_t scale, min;
        ScaleMinK4(x[i].scales, 2 * pair + half, &scale, &min);
        const float dl = d * static_cast<float>(scale);
        const float ml = dmin * static_cast<float>(min);
        for (int k = 0; k < 2; ++k) {
          const uint8x16_t q = half == 0 ? LowNibbles(bytes[k]) : HighNibbles(bytes[k]);
          StoreScaledMinus16(AsSigned(q), dl, ml, y + 16 * k);
        }
      }
    }
  }
}

void DequantizeRowQ6KNeon(const void* src, float* y, int64_t n) {
  const auto* x = static_cast<const BlockQ6_K*>(src);
  const int64_t nb = n / ref::kQK;
  const uint8x16_t low_mask = vdupq_n_u8(0x0F);
  const uint8x16_t two_bits = vdupq_n_u8(0x03);
  const int8x16_t thirty_two = vdupq_n_s8(32);
  for (int64_t i = 0; i < nb; ++i) {
    const float d = HalfToFloat(x[i].d);
    for (int b = 0; b < 8; ++b) {
      // 32-element run b: see ref DequantizeQ6_K and VecDotQ6KQ8 in vec_dot_neon_impl.h.
      const uint8_t* ql = x[i].ql + 64 * (b / 4) + 32 * (b % 2);
      const uint8_t* qh = x[i].qh + 32 * (b / 4);
      const bool high_nibble = (b % 4) >= 2;
      const int high_shift = 2 * (b % 4);
      for (int half = 0; half < 2; ++half, y += 16) {
        const uint8x16_t l = vld1q_u8(ql + 16 * half);
        const uint8x16_t low = high_nibble ? vshrq_n_u8(l, 4) : vandq_u8(l, low_mask);
        const uint8x16_t hbits =
            vandq_u8(vshlq_u8(vld1q_u8(qh + 16 * half), vdupq_n_s8(static_cast<int8_t>(-high_shift))), two_bits);
        const int8x16_t q = vsubq_s8(AsSigned(vorrq_u8(low, vshlq_n_u8(hbits, 4))), thirty_two);
        // The reference computes (d * scale) * level, rounding d * scale first.
        StoreScaled16(q, d * static_cast<float>(x[i].scales[2 * b + half]), y);
      }
    }
  }
}

}  // namespace tlm::cpu::arm
