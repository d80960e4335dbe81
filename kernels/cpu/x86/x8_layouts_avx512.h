// The layouts of 8 interleaved rows of 32-element blocks (q8_0x8, q5_0x8, q4_1x8; byte layouts in
// gemv_avx512.h) as the AVX-512 kernels read them: one definition of each block's levels for the
// decode GEMV (X8Rows, gemv_avx512.cc) and the prefill GEMM's panels (X8Packer, gemm_avx512.cc).
// AVX-512 code: include it only from the *_avx512.cc files, which share their ISA flags.
#pragma once

#include <immintrin.h>

#include <cstdint>
#include <cstring>

#include "kernels/cpu/ref/blocks.h"
#include "kernels/cpu/x86/gemv_avx512.h"

namespace tlm::cpu::x86::x8 {

// Each layout: kBlockBytes a panel block (the 8 rows' fp16 d first), kOffset what the unsigned
// levels add to the signed ones, kMinsAt where the 8 rows' fp16 mins m are (value d * q + m; 0:
// none), and Levels(blk, v) the block's 256 levels as four vectors, v[u] steps 2u and 2u + 1 of 4
// elements (8 rows' 4 levels each, 32 bytes a step: the GEMM panel's order).
struct Q8_0X8 {
  static constexpr int64_t kBlockBytes = kQ8_0X8Rows * static_cast<int64_t>(sizeof(ref::BlockQ8_0));  // 272
  static constexpr int32_t kOffset = 128;
  static constexpr int64_t kMinsAt = 0;
  static void Levels(const uint8_t* blk, __m512i v[4]) {
    for (int u = 0; u < 4; ++u) v[u] = _mm512_loadu_si512(blk + kQ8_0X8QsAt + 64 * u);
  }
};

// 128 bytes of nibbles at qs: two 64-byte loads (low nibbles: v[0] / v[2], high: v[1] / v[3]).
inline void NibbleLevels(const uint8_t* qs, __m512i v[4]) {
  const __m512i low4 = _mm512_set1_epi8(0x0F);
  for (int h = 0; h < 2; ++h) {
    const __m512i q = _mm512_loadu_si512(qs + 64 * h);
    v[2 * h] = _mm512_and_si512(q, low4);
    v[2 * h + 1] = _mm512_and_si512(_mm512_srli_epi16(q, 4), low4);
  }
}

// q5_0x8: the nibbles, and 16 added under the fifth bits (one 64-bit mask a vector).
struct Q5_0X8 {
  static constexpr int64_t kBlockBytes = kQ5_0X8BlockBytes;  // 176
  static constexpr int32_t kOffset = 16;
  static constexpr int64_t kMinsAt = 0;
  static void Levels(const uint8_t* blk, __m512i v[4]) {
    const __m512i sixteen = _mm512_set1_epi8(16);
    NibbleLevels(blk + kQ5_0X8QsAt, v);
    for (int u = 0; u < 4; ++u) {
      uint64_t high;
      std::memcpy(&high, blk + kQ5_0X8HighAt + 8 * u, 8);
      v[u] = _mm512_mask_add_epi8(v[u], _cvtu64_mask64(high), v[u], sixteen);
    }
  }
};

// q4_1x8: the nibbles are the levels; the mins after the scales.
struct Q4_1X8 {
  static constexpr int64_t kBlockBytes = kQ4_1X8BlockBytes;  // 160
  static constexpr int32_t kOffset = 0;
  static constexpr int64_t kMinsAt = kQ4_1X8MinsAt;
  static void Levels(const uint8_t* blk, __m512i v[4]) { NibbleLevels(blk + kQ4_1X8QsAt, v); }
};

}  // namespace tlm::cpu::x86::x8
