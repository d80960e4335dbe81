// AVX2 matrix products for prefill. Quantized weights against BlockQ8 activations: each weight
// block is loaded and unpacked once, then dotted against 8 activation rows (two folded groups
// of 4; then groups of 4, then 1..3 rows in separate accumulators), maddubs/madd as in
// vec_dot_avx2.cc: Q4_0 / Q5_0 with their unsigned levels and offset * sum(x) subtracted from
// the int32 sums, Q8_0 / Q6_K with signed levels through the sign trick, over tiles of
// activation rows sized to stay in L2. f32: a 4x2 register block.
// No standard-library templates here (their AVX2 copies could be the ones the linker keeps).
#include <immintrin.h>

#include <cstdint>
#include <cstring>

#include "kernels/cpu/ref/blocks.h"
#include "kernels/cpu/x86/avx2_kernels.h"
#include "kernels/cpu/x86/avx2_util.h"
#include "kernels/cpu/x86/gemm_avx2.h"
#include "kernels/cpu/x86/gemm_tiles.h"

namespace tlm::cpu::x86 {

using ref::BlockQ4_0;
using ref::BlockQ4_1;
using ref::BlockQ4_K;
using ref::BlockQ5_0;
using ref::BlockQ6_K;
using ref::BlockQ8;
using ref::BlockQ8_0;

namespace {

using gemm_tiles::DotFn;
using gemm_tiles::GemmTiles;
using gemm_tiles::kXdsFloats;

// d_w * d_x, 8 lanes.
inline __m256 ScaleOf(__m256 dw, const BlockQ8& xb) { return _mm256_mul_ps(dw, _mm256_broadcast_ss(&xb.d)); }

inline __m256 Accumulate(__m256i partial, __m256 scale, __m256 acc) {
  return _mm256_fmadd_ps(_mm256_cvtepi32_ps(partial), scale, acc);
}

// The kernels below: gemm_tiles.h's interface. For NR == 4 the 4 rows' int32 block sums are
// folded into one vector (lanes r0..r3 of each 128-bit half, three hadds) and scaled by one
// multiply and one FMA instead of four of each.

// Levels in [-8, 7], [-16, 15] or [-128, 127]: |w| unsigned against x carrying w's sign.
template <int NR>
inline void SignedBlockDots(__m256i levels, __m256 dw, const BlockQ8* x, int64_t nb, int64_t b, __m256* acc) {
  const __m256i u = _mm256_sign_epi8(levels, levels);
#pragma GCC unroll 4
  for (int i = 0; i < NR; ++i) {
    const BlockQ8& xb = x[i * nb + b];
    const __m256i p = DotU8S8(u, _mm256_sign_epi8(Load256(xb.qs), levels));
    acc[i] = Accumulate(p, ScaleOf(dw, xb), acc[i]);
  }
}

template <int NR>
inline void StoreSums(const __m256* acc, float* y, int64_t ldy) {
#pragma GCC unroll 4
  for (int i = 0; i < NR; ++i) y[i * ldy] = HorizontalSum(acc[i]);
}

// Partial sums of 4 rows (8 lanes each) to [r0, r1, r2, r3 | r0, r1, r2, r3] (halves to add).
inline __m256i FoldRows4(__m256i p0, __m256i p1, __m256i p2, __m256i p3) {
  return _mm256_hadd_epi32(_mm256_hadd_epi32(p0, p1), _mm256_hadd_epi32(p2, p3));
}

// acc += float(folded) * dw * (the 4 rows' d of this block, both halves).
inline __m256 AccumulateRows4(__m256i folded, __m256 dw, const float* dx4_block, __m256 acc) {
  const __m256 dx = _mm256_broadcast_ps(reinterpret_cast<const __m128*>(dx4_block));
  return _mm256_fmadd_ps(_mm256_cvtepi32_ps(folded), _mm256_mul_ps(dw, dx), acc);
}

// Signed levels against 4 rows, folded (see SignedBlockDots).
inline __m256 SignedBlockDots4(__m256i levels, __m256 dw, const BlockQ8* x, int64_t nb, int64_t b,
                               const float* dx4, __m256 acc) {
  const __m256i u = _mm256_sign_epi8(levels, levels);
  __m256i p[4];
  for (int i = 0; i < 4; ++i) p[i] = DotU8S8(u, _mm256_sign_epi8(Load256(x[i * nb + b].qs), levels));
  return AccumulateRows4(FoldRows4(p[0], p[1], p[2], p[3]), dw, dx4 + 4 * b, acc);
}

// Unsigned levels q (offset levels q - offset, as Q4_0 and Q5_0 store them) against 4 rows,
// folded: maddubs straight on q, no sign trick, and offset * sum(x) per row subtracted from
// the folded int32 sums (half from each 128-bit half: the halves are added at the end).
template <int kOffset>
inline __m256 OffsetBlockDots4(__m256i q, __m256 dw, const BlockQ8* x, int64_t nb, int64_t b, const float* dx4,
                               const int32_t* sum4, __m256 acc) {
  __m256i p[4];
  for (int i = 0; i < 4; ++i) p[i] = DotU8S8(q, Load256(x[i * nb + b].qs));
  const __m256i sums = _mm256_broadcastsi128_si256(Load128(sum4 + 4 * b));
  static_assert(kOffset == 8 || kOffset == 16);
  constexpr int kHalfShift = kOffset == 16 ? 3 : 2;  // offset / 2 = 1 << kHalfShift
  const __m256i folded = _mm256_sub_epi32(FoldRows4(p[0], p[1], p[2], p[3]), _mm256_slli_epi32(sums, kHalfShift));
  return AccumulateRows4(folded, dw, dx4 + 4 * b, acc);
}

// The 4 sums of a folded accumulator, each plus add[i], to y[i * ldy].
inline void StoreRows4(__m256 acc, const float* add, float* y, int64_t ldy) {
  alignas(16) float sums[4];
  _mm_store_ps(sums, _mm_add_ps(_mm256_castps256_ps128(acc), _mm256_extractf128_ps(acc, 1)));
  for (int i = 0; i < 4; ++i) y[i * ldy] = sums[i] + (add != nullptr ? add[i] : 0.0f);
}

// Signed-level kernels with 4 rows: levels_of(b) gives block b's levels, scale_of(b) its d.
template <class Levels, class Scale>
inline void SignedRows4(int64_t nb, const BlockQ8* x, const float* dx4, float* y, int64_t ldy, Levels levels_of,
                        Scale scale_of) {
  __m256 acc = _mm256_setzero_ps();
  for (int64_t b = 0; b < nb; ++b) acc = SignedBlockDots4(levels_of(b), _mm256_set1_ps(scale_of(b)), x, nb, b, dx4, acc);
  StoreRows4(acc, nullptr, y, ldy);
}

struct Q8_0Kernel {
  static constexpr bool kHasRows8 = true;
  static constexpr bool kNeedsXds = false;
  static void Dot8(const uint8_t* w_row, const BlockQ8* x, int64_t nb, const float*, const float* dx4, const int32_t*,
                   float* y, int64_t ldy) {
    const auto* w = reinterpret_cast<const BlockQ8_0*>(w_row);
    __m256 acc0 = _mm256_setzero_ps(), acc1 = _mm256_setzero_ps();
    for (int64_t b = 0; b < nb; ++b) {
      const __m256i levels = Load256(w[b].qs);
      const __m256 dw = _mm256_set1_ps(HalfToFloat(w[b].d));
      acc0 = SignedBlockDots4(levels, dw, x, nb, b, dx4, acc0);
      acc1 = SignedBlockDots4(levels, dw, x + 4 * nb, nb, b, dx4 + 4 * nb, acc1);
    }
    StoreRows4(acc0, nullptr, y, ldy);
    StoreRows4(acc1, nullptr, y + 4 * ldy, ldy);
  }
  template <int NR>
  static void Dot(const uint8_t* w_row, const BlockQ8* x, int64_t nb, const float*, const float* dx4, const int32_t*,
                  int64_t, float* y, int64_t ldy) {
    const auto* w = reinterpret_cast<const BlockQ8_0*>(w_row);
    if constexpr (NR == 4) {
      return SignedRows4(
          nb, x, dx4, y, ldy, [&](int64_t b) { return Load256(w[b].qs); }, [&](int64_t b) { return HalfToFloat(w[b].d); });
    }
    __m256 acc[NR];
    for (int i = 0; i < NR; ++i) acc[i] = _mm256_setzero_ps();
    for (int64_t b = 0; b < nb; ++b) {
      SignedBlockDots<NR>(Load256(w[b].qs), _mm256_set1_ps(HalfToFloat(w[b].d)), x, nb, b, acc);
    }
    StoreSums<NR>(acc, y, ldy);
  }
};

struct Q4_0Kernel {
  static constexpr bool kNeedsXds = false;
  static constexpr bool kHasRows8 = true;
  // 8 rows: two groups of 4 (their dx4 / sum4 tables nb * 4 apart) against each unpacked block.
  static void Dot8(const uint8_t* w_row, const BlockQ8* x, int64_t nb, const float*, const float* dx4,
                   const int32_t* sum4, float* y, int64_t ldy) {
    const auto* w = reinterpret_cast<const BlockQ4_0*>(w_row);
    __m256 acc0 = _mm256_setzero_ps(), acc1 = _mm256_setzero_ps();
    for (int64_t b = 0; b < nb; ++b) {
      const __m256i q = UnpackNibbles16(w[b].qs);
      const __m256 dw = _mm256_set1_ps(HalfToFloat(w[b].d));
      acc0 = OffsetBlockDots4<8>(q, dw, x, nb, b, dx4, sum4, acc0);
      acc1 = OffsetBlockDots4<8>(q, dw, x + 4 * nb, nb, b, dx4 + 4 * nb, sum4 + 4 * nb, acc1);
    }
    StoreRows4(acc0, nullptr, y, ldy);
    StoreRows4(acc1, nullptr, y + 4 * ldy, ldy);
  }
  template <int NR>
  static void Dot(const uint8_t* w_row, const BlockQ8* x, int64_t nb, const float*, const float* dx4,
                  const int32_t* sum4, int64_t, float* y, int64_t ldy) {
    const auto* w = reinterpret_cast<const BlockQ4_0*>(w_row);
    const __m256i eight = _mm256_set1_epi8(8);
    if constexpr (NR == 4) {
      __m256 acc = _mm256_setzero_ps();
      for (int64_t b = 0; b < nb; ++b) {
        acc = OffsetBlockDots4<8>(UnpackNibbles16(w[b].qs), _mm256_set1_ps(HalfToFloat(w[b].d)), x, nb, b, dx4, sum4,
                                  acc);
      }
      return StoreRows4(acc, nullptr, y, ldy);
    }
    __m256 acc[NR];
    for (int i = 0; i < NR; ++i) acc[i] = _mm256_setzero_ps();
    for (int64_t b = 0; b < nb; ++b) {
      const __m256i levels = _mm256_sub_epi8(UnpackNibbles16(w[b].qs), eight);
      SignedBlockDots<NR>(levels, _mm256_set1_ps(HalfToFloat(w[b].d)), x, nb, b, acc);
    }
    StoreSums<NR>(acc, y, ldy);
  }
};

struct Q5_0Kernel {
  static constexpr bool kNeedsXds = false;
  static constexpr bool kHasRows8 = true;
  static void Dot8(const uint8_t* w_row, const BlockQ8* x, int64_t nb, const float*, const float* dx4,
                   const int32_t* sum4, float* y, int64_t ldy) {
    const auto* w = reinterpret_cast<const BlockQ5_0*>(w_row);
    const __m256i fifth_bit = _mm256_set1_epi8(0x10);
    __m256 acc0 = _mm256_setzero_ps(), acc1 = _mm256_setzero_ps();
    for (int64_t b = 0; b < nb; ++b) {
      const __m256i q = _mm256_or_si256(UnpackNibbles16(w[b].qs), _mm256_and_si256(BitsToBytes32(w[b].qh), fifth_bit));
      const __m256 dw = _mm256_set1_ps(HalfToFloat(w[b].d));
      acc0 = OffsetBlockDots4<16>(q, dw, x, nb, b, dx4, sum4, acc0);
      acc1 = OffsetBlockDots4<16>(q, dw, x + 4 * nb, nb, b, dx4 + 4 * nb, sum4 + 4 * nb, acc1);
    }
    StoreRows4(acc0, nullptr, y, ldy);
    StoreRows4(acc1, nullptr, y + 4 * ldy, ldy);
  }
  template <int NR>
  static void Dot(const uint8_t* w_row, const BlockQ8* x, int64_t nb, const float*, const float* dx4,
                  const int32_t* sum4, int64_t, float* y, int64_t ldy) {
    const auto* w = reinterpret_cast<const BlockQ5_0*>(w_row);
    const __m256i fifth_bit = _mm256_set1_epi8(0x10);
    const __m256i sixteen = _mm256_set1_epi8(16);
    if constexpr (NR == 4) {
      __m256 acc = _mm256_setzero_ps();
      for (int64_t b = 0; b < nb; ++b) {
        const __m256i q =
            _mm256_or_si256(UnpackNibbles16(w[b].qs), _mm256_and_si256(BitsToBytes32(w[b].qh), fifth_bit));
        acc = OffsetBlockDots4<16>(q, _mm256_set1_ps(HalfToFloat(w[b].d)), x, nb, b, dx4, sum4, acc);
      }
      return StoreRows4(acc, nullptr, y, ldy);
    }
    __m256 acc[NR];
    for (int i = 0; i < NR; ++i) acc[i] = _mm256_setzero_ps();
    for (int64_t b = 0; b < nb; ++b) {
      const __m256i q =
          _mm256_or_si256(UnpackNibbles16(w[b].qs), _mm256_and_si256(BitsToBytes32(w[b].qh), fifth_bit));
      SignedBlockDots<NR>(_mm256_sub_epi8(q, sixteen), _mm256_set1_ps(HalfToFloat(w[b].d)), x, nb, b, acc);
    }
    StoreSums<NR>(acc, y, ldy);
  }
};

struct Q4_1Kernel {
  static constexpr bool kHasRows8 = false;
  static constexpr bool kNeedsXds = true;
  template <int NR>
  static void Dot(const uint8_t* w_row, const BlockQ8* x, int64_t nb, const float* xds, const float* dx4,
                  const int32_t*, int64_t, float* y, int64_t ldy) {
    const auto* w = reinterpret_cast<const BlockQ4_1*>(w_row);
    if constexpr (NR == 4) {
      __m256 acc = _mm256_setzero_ps();
      float min_sum[4] = {0.0f, 0.0f, 0.0f, 0.0f};
      for (int64_t b = 0; b < nb; ++b) {
        const __m256i q = UnpackNibbles16(w[b].qs);  // [0, 15]
        const float m = HalfToFloat(w[b].m);
        __m256i p[4];
        for (int i = 0; i < 4; ++i) {
          p[i] = DotU8S8(q, Load256(x[i * nb + b].qs));
          min_sum[i] += m * xds[i * nb + b];
        }
        acc = AccumulateRows4(FoldRows4(p[0], p[1], p[2], p[3]), _mm256_set1_ps(HalfToFloat(w[b].d)), dx4 + 4 * b, acc);
      }
      return StoreRows4(acc, min_sum, y, ldy);
    }
    __m256 acc[NR];
    float min_sum[NR];
    for (int i = 0; i < NR; ++i) {
      acc[i] = _mm256_setzero_ps();
      min_sum[i] = 0.0f;
    }
    for (int64_t b = 0; b < nb; ++b) {
      const __m256i q = UnpackNibbles16(w[b].qs);  // [0, 15]
      const __m256 dw = _mm256_set1_ps(HalfToFloat(w[b].d));
      const float m = HalfToFloat(w[b].m);
#pragma GCC unroll 4
      for (int i = 0; i < NR; ++i) {
        const BlockQ8& xb = x[i * nb + b];
        acc[i] = Accumulate(DotU8S8(q, Load256(xb.qs)), ScaleOf(dw, xb), acc[i]);
        min_sum[i] += m * xds[i * nb + b];
      }
    }
    for (int i = 0; i < NR; ++i) y[i * ldy] = HorizontalSum(acc[i]) + min_sum[i];
  }
};

// The 8 six-bit scales (bytes 0..7) and mins (bytes 8..15) of a Q4_K block, as
// ref::UnpackScaleMinK4 gives them group by group.
inline void UnpackScalesMinsK4(const uint8_t* packed, uint8_t out[16]) {
  constexpr uint32_t kLow6 = 0x3f3f3f3f, kLow4 = 0x0f0f0f0f, kLow2 = 0x03030303;
  uint32_t u[3];
  std::memcpy(u, packed, 12);
  const uint32_t words[4] = {
      u[0] & kLow6,                                      // scales 0..3
      (u[2] & kLow4) | (((u[0] >> 6) & kLow2) << 4),     // scales 4..7
      u[1] & kLow6,                                      // mins 0..3
      ((u[2] >> 4) & kLow4) | (((u[1] >> 6) & kLow2) << 4),  // mins 4..7
  };
  std::memcpy(out, words, 16);
}

struct Q4KKernel {
  static constexpr bool kHasRows8 = true;
  static constexpr bool kNeedsXds = true;
  static void Dot8(const uint8_t* w_row, const BlockQ8* x, int64_t nb, const float* xds, const float* dx4,
                   const int32_t*, float* y, int64_t ldy) {
    Dot<8>(w_row, x, nb, xds, dx4, nullptr, nb * ref::kQ8Block, y, ldy);
  }
  template <int NR>
  static void Dot(const uint8_t* w_row, const BlockQ8* x, int64_t nb, const float* xds, const float* dx4,
                  const int32_t*, int64_t k, float* y, int64_t ldy) {
    const auto* w = reinterpret_cast<const BlockQ4_K*>(w_row);
    const int64_t nsb = k / ref::kQK;
    const __m256i low_mask = _mm256_set1_epi8(0x0F);
    if constexpr (NR == 4 || NR == 8) {  // folded, per group of 4 rows
      constexpr int kGroups = NR / 4;
      __m256 acc[kGroups];
      for (int grp = 0; grp < kGroups; ++grp) acc[grp] = _mm256_setzero_ps();
      __m256 min_acc[NR];  // per row: sum of dmin * min * d_x * sum(x)
      for (int i = 0; i < NR; ++i) min_acc[i] = _mm256_setzero_ps();
      for (int64_t s = 0; s < nsb; ++s) {
        const BlockQ4_K& blk = w[s];
        const __m256 d = _mm256_set1_ps(HalfToFloat(blk.d));
        alignas(16) uint8_t sm[16];
        UnpackScalesMinsK4(blk.scales, sm);
        const __m256 mins = _mm256_mul_ps(_mm256_set1_ps(HalfToFloat(blk.dmin)),
                                          _mm256_cvtepi32_ps(_mm256_cvtepu8_epi32(_mm_loadl_epi64(
                                              reinterpret_cast<const __m128i*>(sm + 8)))));
        for (int i = 0; i < NR; ++i) {
          min_acc[i] = _mm256_fmadd_ps(mins, _mm256_loadu_ps(xds + i * nb + 8 * s), min_acc[i]);
        }
        for (int pair = 0; pair < 4; ++pair) {
          const __m256i bytes = Load256(blk.qs + 32 * pair);
          const __m256i groups[2] = {_mm256_and_si256(bytes, low_mask),
                                     _mm256_and_si256(_mm256_srli_epi16(bytes, 4), low_mask)};
          for (int half = 0; half < 2; ++half) {
            const int g = 2 * pair + half;
            const __m256i scale = _mm256_set1_epi16(sm[g]);
            for (int grp = 0; grp < kGroups; ++grp) {
              const BlockQ8* xg = x + grp * 4 * nb;
              __m256i p[4];
              for (int i = 0; i < 4; ++i) {
                p[i] = _mm256_madd_epi16(DotPairs16(groups[half], Load256(xg[i * nb + 8 * s + g].qs)), scale);
              }
              acc[grp] =
                  AccumulateRows4(FoldRows4(p[0], p[1], p[2], p[3]), d, dx4 + grp * 4 * nb + 4 * (8 * s + g), acc[grp]);
            }
          }
        }
      }
      float mins_total[NR];
      for (int i = 0; i < NR; ++i) mins_total[i] = -HorizontalSum(min_acc[i]);
      for (int grp = 0; grp < kGroups; ++grp) StoreRows4(acc[grp], mins_total + 4 * grp, y + grp * 4 * ldy, ldy);
      return;
    }
    __m256 acc[NR];
    for (int i = 0; i < NR; ++i) acc[i] = _mm256_setzero_ps();
    for (int64_t s = 0; s < nsb; ++s) {
      const BlockQ4_K& blk = w[s];
      const __m256 d = _mm256_set1_ps(HalfToFloat(blk.d));
      alignas(16) uint8_t sm[16];
      UnpackScalesMinsK4(blk.scales, sm);
      // dmin * min per group; sum over groups of dmin * min * d_x * sum(x) is subtracted.
      const __m256 mins = _mm256_mul_ps(_mm256_set1_ps(HalfToFloat(blk.dmin)),
                                        _mm256_cvtepi32_ps(_mm256_cvtepu8_epi32(_mm_loadl_epi64(
                                            reinterpret_cast<const __m128i*>(sm + 8)))));
#pragma GCC unroll 4
      for (int i = 0; i < NR; ++i) acc[i] = _mm256_fnmadd_ps(mins, _mm256_loadu_ps(xds + i * nb + 8 * s), acc[i]);
      for (int pair = 0; pair < 4; ++pair) {
        // 32 bytes hold group 2 * pair in the low nibbles and group 2 * pair + 1 in the high.
        const __m256i bytes = Load256(blk.qs + 32 * pair);
        const __m256i groups[2] = {_mm256_and_si256(bytes, low_mask),
                                   _mm256_and_si256(_mm256_srli_epi16(bytes, 4), low_mask)};
        for (int half = 0; half < 2; ++half) {
          const int g = 2 * pair + half;
          const __m256i scale = _mm256_set1_epi16(sm[g]);
#pragma GCC unroll 4
          for (int i = 0; i < NR; ++i) {
            const BlockQ8& xb = x[i * nb + 8 * s + g];
            const __m256i p = _mm256_madd_epi16(DotPairs16(groups[half], Load256(xb.qs)), scale);
            acc[i] = Accumulate(p, ScaleOf(d, xb), acc[i]);
          }
        }
      }
    }
    StoreSums<NR>(acc, y, ldy);
  }
};

struct Q6KKernel {
  static constexpr bool kHasRows8 = true;
  static constexpr bool kNeedsXds = false;
  // 8 rows: two groups of 4 folded (see Dot), each block unpacked once for both.
  static void Dot8(const uint8_t* w_row, const BlockQ8* x, int64_t nb, const float*, const float* dx4, const int32_t*,
                   float* y, int64_t ldy) {
    Dot<8>(w_row, x, nb, nullptr, dx4, nullptr, nb * ref::kQ8Block, y, ldy);
  }
  template <int NR>
  static void Dot(const uint8_t* w_row, const BlockQ8* x, int64_t nb, const float*, const float* dx4, const int32_t*,
                  int64_t k, float* y, int64_t ldy) {
    const auto* w = reinterpret_cast<const BlockQ6_K*>(w_row);
    const int64_t nsb = k / ref::kQK;
    const __m256i low_mask = _mm256_set1_epi8(0x0F);
    const __m256i two_bits = _mm256_set1_epi8(0x03);
    const __m256i thirty_two = _mm256_set1_epi8(32);
    constexpr bool kFolded = NR == 4 || NR == 8;
    __m256 acc[NR];
    __m256 acc4[2] = {_mm256_setzero_ps(), _mm256_setzero_ps()};  // kFolded: per group of 4 rows
    for (int i = 0; i < NR; ++i) acc[i] = _mm256_setzero_ps();
    for (int64_t s = 0; s < nsb; ++s) {
      const BlockQ6_K& blk = w[s];
      const __m256 d = _mm256_set1_ps(HalfToFloat(blk.d));
      for (int b = 0; b < 8; ++b) {
        // 32-element run b, laid out as in VecDotQ6KQ8Avx2; levels q - 32 in [-32, 31].
        const uint8_t* ql = blk.ql + 64 * (b / 4) + 32 * (b % 2);
        const uint8_t* qh = blk.qh + 32 * (b / 4);
        const __m128i low_shift = _mm_cvtsi32_si128(4 * ((b % 4) / 2));
        const __m128i high_shift = _mm_cvtsi32_si128(2 * (b % 4));
        const __m256i low = _mm256_and_si256(_mm256_srl_epi16(Load256(ql), low_shift), low_mask);
        const __m256i high = _mm256_and_si256(_mm256_srl_epi16(Load256(qh), high_shift), two_bits);
        const __m256i levels = _mm256_sub_epi8(_mm256_or_si256(low, _mm256_slli_epi16(high, 4)), thirty_two);
        const __m256i u = _mm256_sign_epi8(levels, levels);  // <= 32: pairs <= 2 * 32 * 127
        // Elements 0..15 (the low 128 bits) use scales[2b], 16..31 scales[2b + 1].
        const __m256i scales =
            _mm256_set_m128i(_mm_set1_epi16(blk.scales[2 * b + 1]), _mm_set1_epi16(blk.scales[2 * b]));
        if constexpr (kFolded) {
          for (int grp = 0; grp < NR / 4; ++grp) {
            const BlockQ8* xg = x + grp * 4 * nb;
            __m256i p[4];
            for (int i = 0; i < 4; ++i) {
              const __m256i xq = Load256(xg[i * nb + 8 * s + b].qs);
              p[i] = _mm256_madd_epi16(DotPairs16(u, _mm256_sign_epi8(xq, levels)), scales);
            }
            acc4[grp] =
                AccumulateRows4(FoldRows4(p[0], p[1], p[2], p[3]), d, dx4 + grp * 4 * nb + 4 * (8 * s + b), acc4[grp]);
          }
        } else {
#pragma GCC unroll 4
          for (int i = 0; i < NR; ++i) {
            const BlockQ8& xb = x[i * nb + 8 * s + b];
            const __m256i pairs = DotPairs16(u, _mm256_sign_epi8(Load256(xb.qs), levels));
            acc[i] = Accumulate(_mm256_madd_epi16(pairs, scales), ScaleOf(d, xb), acc[i]);
          }
        }
      }
    }
    if constexpr (kFolded) {
      for (int grp = 0; grp < NR / 4; ++grp) StoreRows4(acc4[grp], nullptr, y + grp * 4 * ldy, ldy);
    } else {
      StoreSums<NR>(acc, y, ldy);
    }
  }
};

template <class K>
void GemmQ8Checked(const void* w, size_t row_stride, int64_t n_w, const BlockQ8* x, int64_t n_x, int64_t k, float* y,
                   int64_t ldy, DotFn dot) {
  if (k / ref::kQ8Block > kXdsFloats) return gemm_tiles::GemmByVecDot<K>(dot, w, row_stride, n_w, x, n_x, k, y, ldy);
  GemmTiles<K>(w, row_stride, n_w, x, n_x, k, y, ldy);
}

// --- f32 ---

// Lanes [0, n) set, for the tail of a row.
inline __m256i TailMask(int64_t n) {
  return _mm256_cmpgt_epi32(_mm256_set1_epi32(static_cast<int>(n)), _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7));
}

template <int NR, int NW>
inline void MicroF32(const float* w, int64_t ldw, const float* x, int64_t ldx, int64_t k, float* y, int64_t ldy) {
  __m256 acc[NR][NW];
  for (int i = 0; i < NR; ++i) {
    for (int j = 0; j < NW; ++j) acc[i][j] = _mm256_setzero_ps();
  }
  int64_t e = 0;
  for (; e + 8 <= k; e += 8) {
    __m256 wv[NW];
    for (int j = 0; j < NW; ++j) wv[j] = _mm256_loadu_ps(w + j * ldw + e);
#pragma GCC unroll 4
    for (int i = 0; i < NR; ++i) {
      const __m256 xv = _mm256_loadu_ps(x + i * ldx + e);
      for (int j = 0; j < NW; ++j) acc[i][j] = _mm256_fmadd_ps(xv, wv[j], acc[i][j]);
    }
  }
  if (e < k) {
    const __m256i mask = TailMask(k - e);
    __m256 wv[NW];
    for (int j = 0; j < NW; ++j) wv[j] = _mm256_maskload_ps(w + j * ldw + e, mask);
    for (int i = 0; i < NR; ++i) {
      const __m256 xv = _mm256_maskload_ps(x + i * ldx + e, mask);
      for (int j = 0; j < NW; ++j) acc[i][j] = _mm256_fmadd_ps(xv, wv[j], acc[i][j]);
    }
  }
  for (int i = 0; i < NR; ++i) {
    for (int j = 0; j < NW; ++j) y[i * ldy + j] = HorizontalSum(acc[i][j]);
  }
}

template <int NR>
void RowsF32(const float* w, int64_t ldw, int64_t n_w, const float* x, int64_t ldx, int64_t k, float* y,
             int64_t ldy) {
  int64_t o = 0;
  for (; o + 2 <= n_w; o += 2) MicroF32<NR, 2>(w + o * ldw, ldw, x, ldx, k, y + o, ldy);
  if (o < n_w) MicroF32<NR, 1>(w + o * ldw, ldw, x, ldx, k, y + o, ldy);
}

}  // namespace

#define TLM_GEMM_Q8_AVX2(name, kernel, vec_dot)                                                                \
  void name(const void* w, size_t row_stride, int64_t n_w, const BlockQ8* x, int64_t n_x, int64_t k, float* y, \
            int64_t ldy) {                                                                                     \
    GemmQ8Checked<kernel>(w, row_stride, n_w, x, n_x, k, y, ldy, &vec_dot);                                    \
  }
TLM_GEMM_Q8_AVX2(GemmQ8_0Q8Avx2, Q8_0Kernel, VecDotQ8_0Q8Avx2)
TLM_GEMM_Q8_AVX2(GemmQ4_0Q8Avx2, Q4_0Kernel, VecDotQ4_0Q8Avx2)
TLM_GEMM_Q8_AVX2(GemmQ4_1Q8Avx2, Q4_1Kernel, VecDotQ4_1Q8Avx2)
TLM_GEMM_Q8_AVX2(GemmQ5_0Q8Avx2, Q5_0Kernel, VecDotQ5_0Q8Avx2)
TLM_GEMM_Q8_AVX2(GemmQ4KQ8Avx2, Q4KKernel, VecDotQ4KQ8Avx2)
TLM_GEMM_Q8_AVX2(GemmQ6KQ8Avx2, Q6KKernel, VecDotQ6KQ8Avx2)
#undef TLM_GEMM_Q8_AVX2

void GemmF32Avx2(const float* w, int64_t ldw, int64_t n_w, const float* x, int64_t ldx, int64_t n_x, int64_t k,
                 float* y, int64_t ldy) {
  int64_t r = 0;
  for (; r + 4 <= n_x; r += 4) RowsF32<4>(w, ldw, n_w, x + r * ldx, ldx, k, y + r * ldy, ldy);
  switch (n_x - r) {
    case 3:
      RowsF32<3>(w, ldw, n_w, x + r * ldx, ldx, k, y + r * ldy, ldy);
      break;
    case 2:
      RowsF32<2>(w, ldw, n_w, x + r * ldx, ldx, k, y + r * ldy, ldy);
      break;
    case 1:
      RowsF32<1>(w, ldw, n_w, x + r * ldx, ldx, k, y + r * ldy, ldy);
      break;
    default:
      break;
  }
}

}  // namespace tlm::cpu::x86
