// AVX2 dequantization of the weight types of the target models, bit-identical to the
// reference: the same float multiplies and adds in the same order (never fused).
#include <immintrin.h>

#include <cstdint>

#include "kernels/cpu/ref/blocks.h"
#include "kernels/cpu/x86/avx2_kernels.h"
#include "kernels/cpu/x86/avx2_util.h"

namespace tlm::cpu::x86 {

using ref::BlockQ4_1;
using ref::BlockQ4_K;
using ref::BlockQ5_0;
using ref::BlockQ6_K;
using ref::BlockQ8_0;

namespace {

// Bytes k*8 .. k*8+7 of 32 signed levels as 8 floats (exact).
inline __m256 LevelsToFloat(__m256i levels, int k) {
  const __m128i half = k < 2 ? _mm256_castsi256_si128(levels) : _mm256_extracti128_si256(levels, 1);
  const __m128i part = (k % 2 == 0) ? half : _mm_srli_si128(half, 8);
  return _mm256_cvtepi32_ps(_mm256_cvtepi8_epi32(part));
}

// y[j] = float(level[j]) * scale for 32 signed byte levels.
inline void StoreScaled32(__m256i levels, float scale, float* y) {
  const __m256 s = _mm256_set1_ps(scale);
  for (int k = 0; k < 4; ++k) _mm256_storeu_ps(y + 8 * k, _mm256_mul_ps(LevelsToFloat(levels, k), s));
}

// y[j] = float(level[j]) * scale - offset, multiply then subtract as the reference.
inline void StoreScaledMinus32(__m256i levels, float scale, float offset, float* y) {
  const __m256 s = _mm256_set1_ps(scale);
  const __m256 o = _mm256_set1_ps(offset);
  for (int k = 0; k < 4; ++k) {
    _mm256_storeu_ps(y + 8 * k, _mm256_sub_ps(_mm256_mul_ps(s, LevelsToFloat(levels, k)), o));
  }
}

}  // namespace

void DequantizeRowQ8_0Avx2(const void* src, float* y, int64_t n) {
  const auto* x = static_cast<const BlockQ8_0*>(src);
  const int64_t nb = n / 32;
  for (int64_t i = 0; i < nb; ++i, y += 32) StoreScaled32(Load256(x[i].qs), HalfToFloat(x[i].d), y);
}

void DequantizeRowQ4_1Avx2(const void* src, float* y, int64_t n) {
  const auto* x = static_cast<const BlockQ4_1*>(src);
  const int64_t nb = n / 32;
  for (int64_t i = 0; i < nb; ++i, y += 32) {
    const __m256i q = UnpackNibbles16(x[i].qs);
    const __m256 d = _mm256_set1_ps(HalfToFloat(x[i].d));
    const __m256 m = _mm256_set1_ps(HalfToFloat(x[i].m));
    for (int k = 0; k < 4; ++k) {
      _mm256_storeu_ps(y + 8 * k, _mm256_add_ps(_mm256_mul_ps(LevelsToFloat(q, k), d), m));
    }
  }
}

void DequantizeRowQ5_0Avx2(const void* src, float* y, int64_t n) {
  const auto* x = static_cast<const BlockQ5_0*>(src);
  const int64_t nb = n / 32;
  for (int64_t i = 0; i < nb; ++i, y += 32) {
    const __m256i q =
        _mm256_or_si256(UnpackNibbles16(x[i].qs), _mm256_and_si256(BitsToBytes32(x[i].qh), _mm256_set1_epi8(0x10)));
    StoreScaled32(_mm256_sub_epi8(q, _mm256_set1_epi8(16)), HalfToFloat(x[i].d), y);
  }
}

void DequantizeRowQ4KAvx2(const void* src, float* y, int64_t n) {
  const auto* x = static_cast<const BlockQ4_K*>(src);
  const int64_t nb = n / ref::kQK;
  const __m256i low_mask = _mm256_set1_epi8(0x0F);
  for (int64_t i = 0; i < nb; ++i) {
    const float d = HalfToFloat(x[i].d);
    const float dmin = HalfToFloat(x[i].dmin);
    for (int pair = 0; pair < 4; ++pair) {
      const __m256i bytes = Load256(x[i].qs + 32 * pair);
      const __m256i groups[2] = {_mm256_and_si256(bytes, low_mask),
                                 _mm256_and_si256(_mm256_srli_epi16(bytes, 4), low_mask)};
      for (int half = 0; half < 2; ++half, y += 32) {
        int scale, min;
        ScaleMinK4(x[i].scales, 2 * pair + half, &scale, &min);
        StoreScaledMinus32(groups[half], d * static_cast<float>(scale), dmin * static_cast<float>(min), y);
      }
    }
  }
}

void DequantizeRowQ6KAvx2(const void* src, float* y, int64_t n) {
  const auto* x = static_cast<const BlockQ6_K*>(src);
  const int64_t nb = n / ref::kQK;
  const __m256i low_mask = _mm256_set1_epi8(0x0F);
  const __m256i two_bits = _mm256_set1_epi8(0x03);
  for (int64_t i = 0; i < nb; ++i) {
    const float d = HalfToFloat(x[i].d);
    for (int b = 0; b < 8; ++b, y += 32) {
      // 32-element run b, laid out as in VecDotQ6KQ8Avx2.
      const uint8_t* ql = x[i].ql + 64 * (b / 4) + 32 * (b % 2);
      const uint8_t* qh = x[i].qh + 32 * (b / 4);
      const __m128i low_shift = _mm_cvtsi32_si128(4 * ((b % 4) / 2));
      const __m128i high_shift = _mm_cvtsi32_si128(2 * (b % 4));
      const __m256i low = _mm256_and_si256(_mm256_srl_epi16(Load256(ql), low_shift), low_mask);
      const __m256i high = _mm256_and_si256(_mm256_srl_epi16(Load256(qh), high_shift), two_bits);
      const __m256i q = _mm256_sub_epi8(_mm256_or_si256(low, _mm256_slli_epi16(high, 4)), _mm256_set1_epi8(32));
      // The reference computes (d * scale) * level, rounding d * scale first.
      const __m256 s0 = _mm256_set1_ps(d * static_cast<float>(x[i].scales[2 * b]));
      const __m256 s1 = _mm256_set1_ps(d * static_cast<float>(x[i].scales[2 * b + 1]));
      for (int k = 0; k < 4; ++k) {
        _mm256_storeu_ps(y + 8 * k, _mm256_mul_ps(k < 2 ? s0 : s1, LevelsToFloat(q, k)));
      }
    }
  }
}

}  // namespace tlm::cpu::x86
