// NEON activation quantization to BlockQ8 (bit-identical to the reference) and the f32 dot.
#include <arm_neon.h>

#include <cstdint>

#include "kernels/cpu/arm/neon_kernels.h"
#include "kernels/cpu/arm/neon_util.h"

namespace tlm::cpu::arm {

void QuantizeRowQ8Neon(const float* x, ref::BlockQ8* y, int64_t n) {
  const int64_t nb = n / ref::kQ8Block;
  for (int64_t i = 0; i < nb; ++i, x += ref::kQ8Block) {
    float32x4_t v[8];
    // maxNum returns the number when the other operand is a quiet NaN: NaNs are skipped, as fmax.
    float32x4_t amax4 = vdupq_n_f32(0.0f);
    for (int k = 0; k < 8; ++k) {
      v[k] = vld1q_f32(x + 4 * k);
      amax4 = vmaxnmq_f32(amax4, vabsq_f32(v[k]));
    }
    const float amax = vmaxnmvq_f32(amax4);
    const float d = amax / 127.0f;
    const float id = d != 0.0f ? 1.0f / d : 0.0f;
    y[i].d = d;
    int32x4_t sum = vdupq_n_s32(0);
    int16x8_t q16[4];
    for (int k = 0; k < 8; k += 2) {
      // FCVTAS rounds ties away from zero as round(), turns NaN into 0 and saturates, so the
      // integer clamp afterwards gives the reference's float clamp.
      int32x4_t q0 = vcvtaq_s32_f32(vmulq_n_f32(v[k], id));
      int32x4_t q1 = vcvtaq_s32_f32(vmulq_n_f32(v[k + 1], id));
      q0 = vmaxq_s32(vminq_s32(q0, vdupq_n_s32(127)), vdupq_n_s32(-127));
      q1 = vmaxq_s32(vminq_s32(q1, vdupq_n_s32(127)), vdupq_n_s32(-127));
      sum = vaddq_s32(sum, vaddq_s32(q0, q1));
      q16[k / 2] = vcombine_s16(vmovn_s32(q0), vmovn_s32(q1));
    }
    y[i].sum = vaddvq_s32(sum);
    vst1q_s8(y[i].qs, vcombine_s8(vmovn_s16(q16[0]), vmovn_s16(q16[1])));
    vst1q_s8(y[i].qs + 16, vcombine_s8(vmovn_s16(q16[2]), vmovn_s16(q16[3])));
  }
}

float DotF32Fma4x4Neon(const float* a, const float* b, int64_t n) {
  float32x4_t acc[4] = {vdupq_n_f32(0.0f), vdupq_n_f32(0.0f), vdupq_n_f32(0.0f), vdupq_n_f32(0.0f)};
  int64_t i = 0;
  for (; i + 16 <= n; i += 16) {
    for (int k = 0; k < 4; ++k) acc[k] = vfmaq_f32(acc[k], vld1q_f32(a + i + 4 * k), vld1q_f32(b + i + 4 * k));
  }
  for (; i + 4 <= n; i += 4) acc[0] = vfmaq_f32(acc[0], vld1q_f32(a + i), vld1q_f32(b + i));
  float sum = vaddvq_f32(vaddq_f32(vaddq_f32(acc[0], acc[1]), vaddq_f32(acc[2], acc[3])));
  for (; i < n; ++i) sum += a[i] * b[i];
  return sum;
}

}  // namespace tlm::cpu::arm
