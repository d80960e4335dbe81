// NEON attention: kernels/cpu/attention_tiles.h on 4-float vectors (see attention_neon.h), the
// algorithm of the AVX2 kernel.
#include "kernels/cpu/arm/attention_neon.h"

#include <arm_neon.h>

#include <algorithm>
#include <cmath>

#include "kernels/cpu/attention_tiles.h"

namespace tlm::cpu::arm {
namespace {

// exp(x) for x <= 0 (Cephes' expf: range reduction by ln 2 in two parts, degree-5 polynomial,
// 2^n through the exponent bits); about 1 ulp. Below -87 (and for -inf) it returns 0.
inline float32x4_t ExpNonPositive(float32x4_t x) {
  const uint32x4_t valid = vcgeq_f32(x, vdupq_n_f32(-87.f));
  x = vmaxq_f32(x, vdupq_n_f32(-87.f));
  const float32x4_t n = vrndnq_f32(vmulq_f32(x, vdupq_n_f32(1.44269504088896341f)));
  float32x4_t r = vfmsq_f32(x, n, vdupq_n_f32(0.693359375f));
  r = vfmsq_f32(r, n, vdupq_n_f32(-2.12194440e-4f));
  float32x4_t p = vdupq_n_f32(1.9875691500e-4f);
  p = vfmaq_f32(vdupq_n_f32(1.3981999507e-3f), p, r);
  p = vfmaq_f32(vdupq_n_f32(8.3334519073e-3f), p, r);
  p = vfmaq_f32(vdupq_n_f32(4.1665795894e-2f), p, r);
  p = vfmaq_f32(vdupq_n_f32(1.6666665459e-1f), p, r);
  p = vfmaq_f32(vdupq_n_f32(5.0000001201e-1f), p, r);
  const float32x4_t r2 = vmulq_f32(r, r);
  p = vfmaq_f32(vaddq_f32(r, vdupq_n_f32(1.f)), p, r2);
  const int32x4_t bits = vshlq_n_s32(vaddq_s32(vcvtq_s32_f32(n), vdupq_n_s32(127)), 23);
  const float32x4_t scaled = vmulq_f32(p, vreinterpretq_f32_s32(bits));
  return vreinterpretq_f32_u32(vandq_u32(vreinterpretq_u32_f32(scaled), valid));
}

struct NeonVec {
  using V = float32x4_t;
  static constexpr int64_t kWidth = 4;
  static V Load(const float* p) { return vld1q_f32(p); }
  static void Store(float* p, V v) { vst1q_f32(p, v); }
  static V Set1(float x) { return vdupq_n_f32(x); }
  static V Zero() { return vdupq_n_f32(0.f); }
  static V Add(V a, V b) { return vaddq_f32(a, b); }
  static V Sub(V a, V b) { return vsubq_f32(a, b); }
  static V Mul(V a, V b) { return vmulq_f32(a, b); }
  static V Fma(V a, V b, V c) { return vfmaq_f32(c, a, b); }
  static float Sum(V v) { return vaddvq_f32(v); }
  static V ExpNonPositive(V x) { return arm::ExpNonPositive(x); }
};

}  // namespace

void AttentionNeon(const ref::AttentionArgs& args, const ref::AttentionWork& work, const ref::AttentionPartial* partial,
                   float* scratch) {
  attention_tiles::Attention<NeonVec>(args, work, partial, scratch);
}

}  // namespace tlm::cpu::arm
