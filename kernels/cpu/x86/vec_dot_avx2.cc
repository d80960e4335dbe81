// AVX2 dot products of quantized weight rows with BlockQ8 activations: exact int32 sums per
// 32-element block (maddubs with unsigned weight levels, offsets folded in through the
// activation sums), then per-block float scales accumulated in 8 float lanes.
#include <immintrin.h>

#include <cstddef>
#include <cstdint>
#include <cstring>

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

namespace {

// Activation blocks whose d and d * sum one Q4_K dot product tabulates on the stack.
constexpr int64_t kQ4KTableBlocks = 512;

// One Q4_K row against x, with dx[b] = d of activation block b and xds[b] = its d * sum(x).
// The 8 groups' exact int32 sums are folded into one vector (lane g: group g), scaled by
// their 6-bit scales in int32, then by d * dx in one FMA per superblock; the mins by one more.
float DotQ4KTables(const BlockQ4_K* w, const BlockQ8* x, const float* dx, const float* xds, int64_t nsb) {
  const __m256i low_mask = _mm256_set1_epi8(0x0F);
  const __m256i ones = _mm256_set1_epi16(1);
  __m256 acc = _mm256_setzero_ps();
  __m256 min_acc = _mm256_setzero_ps();
  for (int64_t i = 0; i < nsb; ++i, x += 8) {
    const __m128i scales_mins = UnpackScalesMinsK4(w[i].scales);
    __m256i p[8];
    for (int pair = 0; pair < 4; ++pair) {
      // 32 bytes hold group 2 * pair in the low nibbles and group 2 * pair + 1 in the high.
      const __m256i bytes = Load256(w[i].qs + 32 * pair);
      p[2 * pair] = _mm256_madd_epi16(DotPairs16(_mm256_and_si256(bytes, low_mask), Load256(x[2 * pair].qs)), ones);
      p[2 * pair + 1] = _mm256_madd_epi16(
          DotPairs16(_mm256_and_si256(_mm256_srli_epi16(bytes, 4), low_mask), Load256(x[2 * pair + 1].qs)), ones);
    }
    // Lanes g of each 128-bit half of h0123 / h4567 hold halves of groups g / g + 4.
    const __m256i h0123 = _mm256_hadd_epi32(_mm256_hadd_epi32(p[0], p[1]), _mm256_hadd_epi32(p[2], p[3]));
    const __m256i h4567 = _mm256_hadd_epi32(_mm256_hadd_epi32(p[4], p[5]), _mm256_hadd_epi32(p[6], p[7]));
    const __m256i sums = _mm256_add_epi32(_mm256_permute2x128_si256(h0123, h4567, 0x20),
                                          _mm256_permute2x128_si256(h0123, h4567, 0x31));
    const __m256i scaled = _mm256_mullo_epi32(sums, _mm256_cvtepu8_epi32(scales_mins));
    const __m256 d = _mm256_set1_ps(HalfToFloat(w[i].d));
    acc = _mm256_fmadd_ps(_mm256_cvtepi32_ps(scaled), _mm256_mul_ps(d, _mm256_loadu_ps(dx + 8 * i)), acc);
    const __m256 mins = _mm256_cvtepi32_ps(_mm256_cvtepu8_epi32(_mm_srli_si128(scales_mins, 8)));
    min_acc = _mm256_fmadd_ps(_mm256_mul_ps(mins, _mm256_set1_ps(HalfToFloat(w[i].dmin))),
                              _mm256_loadu_ps(xds + 8 * i), min_acc);
  }
  return HorizontalSum(_mm256_sub_ps(acc, min_acc));
}

// dx and xds of nb activation blocks (nb <= kQ4KTableBlocks).
void TabulateQ8(const BlockQ8* x, int64_t nb, float* dx, float* xds) {
  for (int64_t b = 0; b < nb; ++b) {
    dx[b] = x[b].d;
    xds[b] = x[b].d * static_cast<float>(x[b].sum);
  }
}

// Group by group: the scale and min of each group applied on its own.
float DotQ4KGroups(const BlockQ4_K* w, const BlockQ8* x, int64_t nsb) {
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

}  // namespace

// One row: group by group (tabulating the activations first would cost as much as the row).
float VecDotQ4KQ8Avx2(const void* w_row, const BlockQ8* x, int64_t n) {
  return DotQ4KGroups(static_cast<const BlockQ4_K*>(w_row), x, n / ref::kQK);
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


// --- several weight rows against one activation row (decode GEMV) ---
//
// Q4_0, Q4_1, Q5_0: four weight rows per step share each activation block's loads and scales;
// their four int32 block sums are folded into one vector (lanes r0..r3 of each 128-bit half,
// three hadds) and scaled by one multiply and one FMA with [d_w0..d_w3] * d_x, instead of four
// of each; rows left over (n_rows % 4) go through the single-row kernels. Q8_0, Q6_K: one row
// at a time. Measured with the weights streamed from memory (bench_cpu_kernels Gemv/), four
// interleaved rows lost there even with software prefetch: Q8_0 (memory-bound one row at a
// time) fell to half its bandwidth, Q4_K and Q6_K were 10-30% slower; Q5_0 gained ~10%, Q4_1
// ~25%. Q4_K: one row at a time, but the activations' d and d * sum tabulated once per call so
// that each superblock's 8 group sums fold into one vector (DotQ4KTables): about 1.5x to 2x.

namespace {

// Partial sums of 4 rows (8 lanes each) to [r0, r1, r2, r3 | r0, r1, r2, r3] (halves to add).
inline __m256i FoldRows4(__m256i p0, __m256i p1, __m256i p2, __m256i p3) {
  return _mm256_hadd_epi32(_mm256_hadd_epi32(p0, p1), _mm256_hadd_epi32(p2, p3));
}

// Four fp16 scales to [s0, s1, s2, s3 | s0, s1, s2, s3].
inline __m256 HalvesToFloat4x2(uint16_t h0, uint16_t h1, uint16_t h2, uint16_t h3) {
  const __m128 s = _mm_cvtph_ps(_mm_setr_epi16(static_cast<int16_t>(h0), static_cast<int16_t>(h1),
                                               static_cast<int16_t>(h2), static_cast<int16_t>(h3), 0, 0, 0, 0));
  return _mm256_set_m128(s, s);
}

// Prefetches the same place in the next 4 rows (`ahead` = 4 row strides on). Four interleaved
// row streams defeat the hardware prefetcher when the weights come from memory (2.5x slower
// than one row at a time without this).
inline void PrefetchRows4(const void* w0, const void* w1, const void* w2, const void* w3, size_t ahead) {
  _mm_prefetch(static_cast<const char*>(w0) + ahead, _MM_HINT_T0);
  _mm_prefetch(static_cast<const char*>(w1) + ahead, _MM_HINT_T0);
  _mm_prefetch(static_cast<const char*>(w2) + ahead, _MM_HINT_T0);
  _mm_prefetch(static_cast<const char*>(w3) + ahead, _MM_HINT_T0);
}

// The two halves of a folded accumulator added, plus add (4 floats), to y[0..3].
inline void StoreRows4(__m256 acc, __m128 add, float* y) {
  _mm_storeu_ps(y, _mm_add_ps(_mm_add_ps(_mm256_castps256_ps128(acc), _mm256_extractf128_ps(acc, 1)), add));
}

// Blocks of 32 elements. Kernel K provides Block, Dot(block, x levels) (the int32 partial sums
// of q * x with q unsigned), kOffset (the levels are q - kOffset) and kHasMin (Q4_1's m).
template <class K>
void Rows4Blocks32(const uint8_t* w, size_t stride, const BlockQ8* x, int64_t nb, float* y) {
  using Block = typename K::Block;
  const auto* w0 = reinterpret_cast<const Block*>(w);
  const auto* w1 = reinterpret_cast<const Block*>(w + stride);
  const auto* w2 = reinterpret_cast<const Block*>(w + 2 * stride);
  const auto* w3 = reinterpret_cast<const Block*>(w + 3 * stride);
  __m256 acc0 = _mm256_setzero_ps();
  __m256 acc1 = _mm256_setzero_ps();
  __m128 min_acc = _mm_setzero_ps();
  for (int64_t b = 0; b < nb; ++b) {
    PrefetchRows4(&w0[b], &w1[b], &w2[b], &w3[b], 4 * stride);
    const BlockQ8& xb = x[b];
    const __m256i xq = Load256(xb.qs);
    __m256i folded = FoldRows4(K::Dot(w0[b], xq), K::Dot(w1[b], xq), K::Dot(w2[b], xq), K::Dot(w3[b], xq));
    // sum((q - offset) * x) = sum(q * x) - offset * sum(x), split over the two halves.
    if constexpr (K::kOffset != 0) folded = _mm256_sub_epi32(folded, _mm256_set1_epi32(K::kOffset / 2 * xb.sum));
    const __m256 scale = _mm256_mul_ps(HalvesToFloat4x2(w0[b].d, w1[b].d, w2[b].d, w3[b].d), _mm256_set1_ps(xb.d));
    if (b % 2 == 0) {
      acc0 = _mm256_fmadd_ps(_mm256_cvtepi32_ps(folded), scale, acc0);
    } else {
      acc1 = _mm256_fmadd_ps(_mm256_cvtepi32_ps(folded), scale, acc1);
    }
    if constexpr (K::kHasMin) {
      const __m128 m = _mm256_castps256_ps128(HalvesToFloat4x2(w0[b].m, w1[b].m, w2[b].m, w3[b].m));
      min_acc = _mm_fmadd_ps(m, _mm_set1_ps(xb.d * static_cast<float>(xb.sum)), min_acc);
    }
  }
  StoreRows4(_mm256_add_ps(acc0, acc1), min_acc, y);
}

struct Q4_0Rows {
  using Block = BlockQ4_0;
  static constexpr int kOffset = 8;
  static constexpr bool kHasMin = false;
  static __m256i Dot(const Block& b, __m256i xq) { return DotU8S8(UnpackNibbles16(b.qs), xq); }
};

struct Q4_1Rows {
  using Block = BlockQ4_1;
  static constexpr int kOffset = 0;
  static constexpr bool kHasMin = true;
  static __m256i Dot(const Block& b, __m256i xq) { return DotU8S8(UnpackNibbles16(b.qs), xq); }
};

struct Q5_0Rows {
  using Block = BlockQ5_0;
  static constexpr int kOffset = 16;
  static constexpr bool kHasMin = false;
  static __m256i Dot(const Block& b, __m256i xq) {
    const __m256i q =
        _mm256_or_si256(UnpackNibbles16(b.qs), _mm256_and_si256(BitsToBytes32(b.qh), _mm256_set1_epi8(0x10)));
    return DotU8S8(q, xq);
  }
};

using Rows4Fn = void (*)(const uint8_t* w, size_t stride, const BlockQ8* x, int64_t nb, float* y);
using DotFn = float (*)(const void* w, const BlockQ8* x, int64_t n);

template <Rows4Fn kRows4>
void RowsBy4(const void* w, size_t row_stride, int64_t n_rows, const BlockQ8* x, int64_t n, float* y, DotFn dot) {
  const auto* base = static_cast<const uint8_t*>(w);
  const auto stride = static_cast<int64_t>(row_stride);
  int64_t o = 0;
  for (; o + 4 <= n_rows; o += 4) kRows4(base + o * stride, row_stride, x, n / ref::kQ8Block, y + o);
  for (; o < n_rows; ++o) y[o] = dot(base + o * stride, x, n);
}

void RowsByOne(const void* w, size_t row_stride, int64_t n_rows, const BlockQ8* x, int64_t n, float* y, DotFn dot) {
  const auto* base = static_cast<const uint8_t*>(w);
  for (int64_t o = 0; o < n_rows; ++o) y[o] = dot(base + o * static_cast<int64_t>(row_stride), x, n);
}

}  // namespace

#define TLM_VEC_DOT_ROWS_AVX2(name, rows4, single)                                                       \
  void name(const void* w, size_t row_stride, int64_t n_rows, const BlockQ8* x, int64_t n, float* y) { \
    RowsBy4<rows4>(w, row_stride, n_rows, x, n, y, &single);                                            \
  }
TLM_VEC_DOT_ROWS_AVX2(VecDotRowsQ4_0Q8Avx2, &Rows4Blocks32<Q4_0Rows>, VecDotQ4_0Q8Avx2)
TLM_VEC_DOT_ROWS_AVX2(VecDotRowsQ4_1Q8Avx2, &Rows4Blocks32<Q4_1Rows>, VecDotQ4_1Q8Avx2)
TLM_VEC_DOT_ROWS_AVX2(VecDotRowsQ5_0Q8Avx2, &Rows4Blocks32<Q5_0Rows>, VecDotQ5_0Q8Avx2)
#define TLM_VEC_DOT_ROWS_BY_ROW_AVX2(name, single)                                                        \
  void name(const void* w, size_t row_stride, int64_t n_rows, const BlockQ8* x, int64_t n, float* y) { \
    RowsByOne(w, row_stride, n_rows, x, n, y, &single);                                                 \
  }
TLM_VEC_DOT_ROWS_BY_ROW_AVX2(VecDotRowsQ6KQ8Avx2, VecDotQ6KQ8Avx2)
#undef TLM_VEC_DOT_ROWS_BY_ROW_AVX2

namespace {

// One Q8_0 row against x with the activations' d tabulated (dx): 8 float lanes, two
// accumulators (even and odd blocks).
inline __m256 DotQ8_0Lanes(const BlockQ8_0* w, const BlockQ8* x, const float* dx, int64_t nb) {
  const __m256i ones = _mm256_set1_epi16(1);
  __m256 acc0 = _mm256_setzero_ps();
  __m256 acc1 = _mm256_setzero_ps();
  auto block = [&](int64_t b) {
    const __m256i wq = Load256(w[b].qs);
    const __m256i xq = Load256(x[b].qs);
    const __m256i dot =
        _mm256_madd_epi16(_mm256_maddubs_epi16(_mm256_sign_epi8(wq, wq), _mm256_sign_epi8(xq, wq)), ones);
    return _mm256_mul_ps(_mm256_cvtepi32_ps(dot), _mm256_set1_ps(HalfToFloat(w[b].d) * dx[b]));
  };
  int64_t b = 0;
  for (; b + 2 <= nb; b += 2) {
    acc0 = _mm256_add_ps(acc0, block(b));
    acc1 = _mm256_add_ps(acc1, block(b + 1));
  }
  if (b < nb) acc0 = _mm256_add_ps(acc0, block(b));
  return _mm256_add_ps(acc0, acc1);
}

}  // namespace

// Q8_0 (the tied LM head streams ~180 MB per token through here): rows one after another so the
// weights are read as one sequential stream (software prefetch 1-8 KiB ahead, into L1 or L2, was
// slower in bench_cpu_kernels Gemv/q8_0); the activations' d tabulated once; four rows' lanes
// folded and stored together (one horizontal reduction per four rows).
void VecDotRowsQ8_0Q8Avx2(const void* w, size_t row_stride, int64_t n_rows, const BlockQ8* x, int64_t n, float* y) {
  const auto* base = static_cast<const uint8_t*>(w);
  const auto stride = static_cast<int64_t>(row_stride);
  const int64_t nb = n / ref::kQ8Block;
  if (nb > kQ4KTableBlocks) return RowsByOne(w, row_stride, n_rows, x, n, y, &VecDotQ8_0Q8Avx2);
  alignas(32) float dx[kQ4KTableBlocks];
  for (int64_t b = 0; b < nb; ++b) dx[b] = x[b].d;
  auto row = [&](int64_t o) { return DotQ8_0Lanes(reinterpret_cast<const BlockQ8_0*>(base + o * stride), x, dx, nb); };
  int64_t o = 0;
  for (; o + 4 <= n_rows; o += 4) {
    const __m256 a0 = row(o), a1 = row(o + 1), a2 = row(o + 2), a3 = row(o + 3);
    const __m256 folded = _mm256_hadd_ps(_mm256_hadd_ps(a0, a1), _mm256_hadd_ps(a2, a3));
    _mm_storeu_ps(y + o, _mm_add_ps(_mm256_castps256_ps128(folded), _mm256_extractf128_ps(folded, 1)));
  }
  for (; o < n_rows; ++o) y[o] = HorizontalSum(row(o));
}

// The activation tables once per call, shared by every row.
void VecDotRowsQ4KQ8Avx2(const void* w, size_t row_stride, int64_t n_rows, const BlockQ8* x, int64_t n, float* y) {
  const auto* base = static_cast<const uint8_t*>(w);
  const auto stride = static_cast<int64_t>(row_stride);
  const int64_t nb = n / ref::kQ8Block;
  if (nb > kQ4KTableBlocks) return RowsByOne(w, row_stride, n_rows, x, n, y, &VecDotQ4KQ8Avx2);
  alignas(32) float dx[kQ4KTableBlocks], xds[kQ4KTableBlocks];
  TabulateQ8(x, nb, dx, xds);
  for (int64_t o = 0; o < n_rows; ++o) {
    y[o] = DotQ4KTables(reinterpret_cast<const BlockQ4_K*>(base + o * stride), x, dx, xds, n / ref::kQK);
  }
}
#undef TLM_VEC_DOT_ROWS_AVX2

}  // namespace tlm::cpu::x86
