// AVX2 activation quantization to BlockQ8 (bit-identical to the reference) and the FMA f32 dot.
#include <immintrin.h>

#include <cstdint>

#include "kernels/cpu/x86/avx2_kernels.h"
#include "kernels/cpu/x86/avx2_util.h"

namespace tlm::cpu::x86 {
namespace {

// round() semantics (ties away from zero) for any float: the integer part t = trunc(v) is
// exact, so is v - t, and |v - t| >= 0.5 decides whether to step one away from zero.
__m256 RoundHalfAwayFromZero(__m256 v) {
  const __m256 sign_bit = _mm256_set1_ps(-0.0f);
  const __m256 t = _mm256_round_ps(v, _MM_FROUND_TO_ZERO | _MM_FROUND_NO_EXC);
  const __m256 frac = _mm256_andnot_ps(sign_bit, _mm256_sub_ps(v, t));
  const __m256 step = _mm256_and_ps(_mm256_cmp_ps(frac, _mm256_set1_ps(0.5f), _CMP_GE_OQ),
                                    _mm256_or_ps(_mm256_set1_ps(1.0f), _mm256_and_ps(v, sign_bit)));
  return _mm256_add_ps(t, step);
}

// Levels as the reference: round, NaN -> 0, clamp to [-127, 127], as exact int32.
__m256i Levels(__m256 x, __m256 id) {
  __m256 v = RoundHalfAwayFromZero(_mm256_mul_ps(x, id));
  v = _mm256_and_ps(v, _mm256_cmp_ps(v, v, _CMP_ORD_Q));  // NaN -> +0
  v = _mm256_min_ps(_mm256_max_ps(v, _mm256_set1_ps(-127.0f)), _mm256_set1_ps(127.0f));
  return _mm256_cvtps_epi32(v);
}

}  // namespace

void QuantizeRowQ8Avx2(const float* x, ref::BlockQ8* y, int64_t n) {
  const int64_t nb = n / ref::kQ8Block;
  const __m256 sign_bit = _mm256_set1_ps(-0.0f);
  for (int64_t i = 0; i < nb; ++i, x += ref::kQ8Block) {
    __m256 v[4];
    // max_ps returns its second operand when either is NaN: NaN inputs are skipped, as fmax.
    __m256 amax8 = _mm256_setzero_ps();
    for (int k = 0; k < 4; ++k) {
      v[k] = _mm256_loadu_ps(x + 8 * k);
      amax8 = _mm256_max_ps(_mm256_andnot_ps(sign_bit, v[k]), amax8);
    }
    __m128 m = _mm_max_ps(_mm256_castps256_ps128(amax8), _mm256_extractf128_ps(amax8, 1));
    m = _mm_max_ps(m, _mm_movehl_ps(m, m));
    m = _mm_max_ss(m, _mm_movehdup_ps(m));
    const float amax = _mm_cvtss_f32(m);
    const float d = amax / 127.0f;
    const float id = d != 0.0f ? 1.0f / d : 0.0f;
    y[i].d = d;
    const __m256 id8 = _mm256_set1_ps(id);
    const __m256i q0 = Levels(v[0], id8), q1 = Levels(v[1], id8);
    const __m256i q2 = Levels(v[2], id8), q3 = Levels(v[3], id8);
    y[i].sum = HorizontalSum(_mm256_add_epi32(_mm256_add_epi32(q0, q1), _mm256_add_epi32(q2, q3)));
    // The packs interleave 128-bit halves; the permute puts elements back in order.
    const __m256i q16a = _mm256_packs_epi32(q0, q1);
    const __m256i q16b = _mm256_packs_epi32(q2, q3);
    const __m256i q8 =
        _mm256_permutevar8x32_epi32(_mm256_packs_epi16(q16a, q16b), _mm256_setr_epi32(0, 4, 1, 5, 2, 6, 3, 7));
    _mm256_storeu_si256(reinterpret_cast<__m256i*>(y[i].qs), q8);
  }
}

float DotF32Fma8x4Avx2(const float* a, const float* b, int64_t n) {
  __m256 acc[4] = {_mm256_setzero_ps(), _mm256_setzero_ps(), _mm256_setzero_ps(), _mm256_setzero_ps()};
  int64_t i = 0;
  for (; i + 32 <= n; i += 32) {
    for (int k = 0; k < 4; ++k) {
      acc[k] = _mm256_fmadd_ps(_mm256_loadu_ps(a + i + 8 * k), _mm256_loadu_ps(b + i + 8 * k), acc[k]);
    }
  }
  for (; i + 8 <= n; i += 8) {
    acc[0] = _mm256_fmadd_ps(_mm256_loadu_ps(a + i), _mm256_loadu_ps(b + i), acc[0]);
  }
  float sum = HorizontalSum(_mm256_add_ps(_mm256_add_ps(acc[0], acc[1]), _mm256_add_ps(acc[2], acc[3])));
  for (; i < n; ++i) sum += a[i] * b[i];
  return sum;
}

}  // namespace tlm::cpu::x86
