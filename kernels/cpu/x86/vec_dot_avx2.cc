// AVX2 dot products of quantized weight rows with BlockQ8 activations: exact int32 sums per
// 32-element block (maddubs with unsigned weight levels, offsets folded in through the
// activation sums), then per-block float scales accumulated in 8 float lanes.
#include <immintrin.h>

#include <cstdint>

#include "kernels/cpu/ref/blocks.h"
#include "kernels/cpu/x86/avx2_kernels.h"
#include "kernels/cpu/x86/avx2_util.h"

namespace tlm::cpu::x86 {

using ref::BlockQ4_0;
using ref::BlockQ4_1;
using ref::BlockQ4_K;
using ref::BlockQ5_0;
using ref::BlockQ6_K;
using ref::BlockQ8;
using ref::BlockQ8_0;

namespace {

// Adds scale * (8 int32 partial sums) to the float accumulator.
inline __m256 AccumulateScaled(__m256i partial, float scale, __m256 acc) {
  return _mm256_fmadd_ps(_mm256_cvtepi32_ps(partial), _mm256_set1_ps(scale), acc);
}

// One 32-element block's exact integer partial sums and its float scale.
struct BlockDot {
  __m256i partial;
  float scale;
};

// Sum over blocks of scale * partial, two blocks per step into two accumulators so that
// consecutive FMAs do not wait on each other.
template <typename DotOfBlock>
inline float SumBlocks(int64_t nb, DotOfBlock dot_of_block) {
  __m256 acc0 = _mm256_setzero_ps();
  __m256 acc1 = _mm256_setzero_ps();
  int64_t i = 0;
  for (; i + 2 <= nb; i += 2) {
    const BlockDot b0 = dot_of_block(i);
    const BlockDot b1 = dot_of_block(i + 1);
    acc0 = AccumulateScaled(b0.partial, b0.scale, acc0);
    acc1 = AccumulateScaled(b1.partial, b1.scale, acc1);
  }
  if (i < nb) {
    const BlockDot b = dot_of_block(i);
    acc0 = AccumulateScaled(b.partial, b.scale, acc0);
  }
  return HorizontalSum(_mm256_add_ps(acc0, acc1));
}

// Subtracts offset from the first of 8 partial sums.
inline __m256i SubtractFromFirst(__m256i partial, int32_t offset) {
  return _mm256_sub_epi32(partial, _mm256_setr_epi32(offset, 0, 0, 0, 0, 0, 0, 0));
}

}  // namespace

float VecDotQ8_0Q8Avx2(const void* w_row, const BlockQ8* x, int64_t n) {
  const auto* w = static_cast<const BlockQ8_0*>(w_row);
  return SumBlocks(n / ref::kQ8Block, [&](int64_t i) {
    const __m256i wq = Load256(w[i].qs);
    const __m256i xq = Load256(x[i].qs);
    // |w| (128 for -128, read as unsigned) times x carrying w's sign.
    return BlockDot{DotU8S8(_mm256_sign_epi8(wq, wq), _mm256_sign_epi8(xq, wq)), HalfToFloat(w[i].d) * x[i].d};
  });
}

float VecDotQ4_0Q8Avx2(const void* w_row, const BlockQ8* x, int64_t n) {
  const auto* w = static_cast<const BlockQ4_0*>(w_row);
  return SumBlocks(n / ref::kQ8Block, [&](int64_t i) {
    // sum((q - 8) * x) = sum(q * x) - 8 * sum(x), q in [0, 15].
    const __m256i dot = DotU8S8(UnpackNibbles16(w[i].qs), Load256(x[i].qs));
    return BlockDot{SubtractFromFirst(dot, 8 * x[i].sum), HalfToFloat(w[i].d) * x[i].d};
  });
}

float VecDotQ4_1Q8Avx2(const void* w_row, const BlockQ8* x, int64_t n) {
  const auto* w = static_cast<const BlockQ4_1*>(w_row);
  float min_sum = 0.0f;  // sum of m * (d_x * sum(x)), block by block in order
  const float scaled = SumBlocks(n / ref::kQ8Block, [&](int64_t i) {
    min_sum += HalfToFloat(w[i].m) * (x[i].d * static_cast<float>(x[i].sum));
    return BlockDot{DotU8S8(UnpackNibbles16(w[i].qs), Load256(x[i].qs)), HalfToFloat(w[i].d) * x[i].d};
  });
  return scaled + min_sum;
}

float VecDotQ5_0Q8Avx2(const void* w_row, const BlockQ8* x, int64_t n) {
  const auto* w = static_cast<const BlockQ5_0*>(w_row);
  const __m256i fifth_bit = _mm256_set1_epi8(0x10);
  return SumBlocks(n / ref::kQ8Block, [&](int64_t i) {
    // q in [0, 31]; sum((q - 16) * x) = sum(q * x) - 16 * sum(x).
    const __m256i q = _mm256_or_si256(UnpackNibbles16(w[i].qs), _mm256_and_si256(BitsToBytes32(w[i].qh), fifth_bit));
    const __m256i dot = DotU8S8(q, Load256(x[i].qs));
    return BlockDot{SubtractFromFirst(dot, 16 * x[i].sum), HalfToFloat(w[i].d) * x[i].d};
  });
}

float VecDotQ4KQ8Avx2(const void* w_row, const BlockQ8* x, int64_t n) {
  const auto* w = static_cast<const BlockQ4_K*>(w_row);
  const int64_t nsb = n / ref::kQK;
  const __m256i low_mask = _mm256_set1_epi8(0x0F);
  __m256 acc = _mm256_setzero_ps();
  float min_sum = 0.0f;
  for (int64_t i = 0; i < nsb; ++i, x += 8) {
    const float d = HalfToFloat(w[i].d);
    const float dmin = HalfToFloat(w[i].dmin);
    int32_t mins_xd[8];
    for (int pair = 0; pair < 4; ++pair) {
      // 32 bytes hold group 2 * pair in the low nibbles and group 2 * pair + 1 in the high.
      const __m256i bytes = Load256(w[i].qs + 32 * pair);
      const __m256i groups[2] = {_mm256_and_si256(bytes, low_mask),
                                 _mm256_and_si256(_mm256_srli_epi16(bytes, 4), low_mask)};
      for (int half = 0; half < 2; ++half) {
        const int g = 2 * pair + half;
        int scale, min;
        ScaleMinK4(w[i].scales, g, &scale, &min);
        // scale * sum(q * x) with the scale applied in the int16 -> int32 widening step.
        const __m256i dot = _mm256_madd_epi16(DotPairs16(groups[half], Load256(x[g].qs)),
                                              _mm256_set1_epi16(static_cast<int16_t>(scale)));
        acc = AccumulateScaled(dot, d * x[g].d, acc);
        mins_xd[g] = min * x[g].sum;
      }
    }
    for (int g = 0; g < 8; ++g) min_sum += x[g].d * (dmin * static_cast<float>(mins_xd[g]));
  }
  return HorizontalSum(acc) - min_sum;
}

float VecDotQ6KQ8Avx2(const void* w_row, const BlockQ8* x, int64_t n) {
  const auto* w = static_cast<const BlockQ6_K*>(w_row);
  const int64_t nsb = n / ref::kQK;
  const __m256i low_mask = _mm256_set1_epi8(0x0F);
  const __m256i two_bits = _mm256_set1_epi8(0x03);
  const __m256i thirty_two = _mm256_set1_epi8(32);
  __m256 acc = _mm256_setzero_ps();
  for (int64_t i = 0; i < nsb; ++i, x += 8) {
    const float d = HalfToFloat(w[i].d);
    for (int b = 0; b < 8; ++b) {
      // Activation block b: low nibbles (b % 4 < 2) or high nibbles of 32 ql bytes, and bit
      // pair b % 4 of 32 qh bytes; see ref DotQ6_K.
      const uint8_t* ql = w[i].ql + 64 * (b / 4) + 32 * (b % 2);
      const uint8_t* qh = w[i].qh + 32 * (b / 4);
      const __m128i low_shift = _mm_cvtsi32_si128(4 * ((b % 4) / 2));
      const __m128i high_shift = _mm_cvtsi32_si128(2 * (b % 4));
      const __m256i low = _mm256_and_si256(_mm256_srl_epi16(Load256(ql), low_shift), low_mask);
      const __m256i high = _mm256_and_si256(_mm256_srl_epi16(Load256(qh), high_shift), two_bits);
      const __m256i q = _mm256_or_si256(low, _mm256_slli_epi16(high, 4));  // [0, 63]
      const __m256i xq = Load256(x[b].qs);
      // (q - 32) * x in int16 pairs: |sum| <= 2 * 32 * 127.
      const __m256i pairs = _mm256_sub_epi16(DotPairs16(q, xq), DotPairs16(thirty_two, xq));
      // Elements 0..15 (the low 128 bits) use scales[2b], 16..31 scales[2b + 1].
      const __m256i scales =
          _mm256_set_m128i(_mm_set1_epi16(w[i].scales[2 * b + 1]), _mm_set1_epi16(w[i].scales[2 * b]));
      acc = AccumulateScaled(_mm256_madd_epi16(pairs, scales), d * x[b].d, acc);
    }
  }
  return HorizontalSum(acc);
}

}  // namespace tlm::cpu::x86
