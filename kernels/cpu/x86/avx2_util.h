// Helpers shared by the AVX2 kernel files; include only from files built with -mavx2 -mfma
// -mf16c. Everything here has internal linkage on purpose: an inline function with external
// linkage compiled with AVX2 flags could be the copy the linker keeps for portable code too.
// For the same reason these files call no inline helpers of kernels/cpu/ref/blocks.h.
#pragma once

#include <immintrin.h>

#include <cstdint>
#include <cstring>

namespace tlm::cpu::x86 {
namespace {

// fp16 bits to float with F16C: exact, as ref::F16ToF32 (NaN payloads aside).
inline float HalfToFloat(uint16_t h) { return _cvtsh_ss(h); }

inline float HorizontalSum(__m256 v) {
  __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
  s = _mm_add_ps(s, _mm_movehl_ps(s, s));
  s = _mm_add_ss(s, _mm_movehdup_ps(s));
  return _mm_cvtss_f32(s);
}

inline int32_t HorizontalSum(__m256i v) {
  __m128i s = _mm_add_epi32(_mm256_castsi256_si128(v), _mm256_extracti128_si256(v, 1));
  s = _mm_add_epi32(s, _mm_shuffle_epi32(s, _MM_SHUFFLE(1, 0, 3, 2)));
  s = _mm_add_epi32(s, _mm_shuffle_epi32(s, _MM_SHUFFLE(2, 3, 0, 1)));
  return _mm_cvtsi128_si32(s);
}

inline __m256i Load256(const void* p) { return _mm256_loadu_si256(static_cast<const __m256i*>(p)); }
inline __m128i Load128(const void* p) { return _mm_loadu_si128(static_cast<const __m128i*>(p)); }

// 16 bytes of packed nibbles to 32 bytes: the low nibbles in bytes 0..15, the high ones in
// bytes 16..31 (element order of Q4_0 / Q4_1 / Q5_0 blocks).
inline __m256i UnpackNibbles16(const uint8_t* qs) {
  // The 16 bytes in both halves (one broadcast load), the upper half shifted right by 4.
  const __m256i bytes = _mm256_broadcastsi128_si256(Load128(qs));
  return _mm256_and_si256(_mm256_srlv_epi64(bytes, _mm256_setr_epi64x(0, 0, 4, 4)), _mm256_set1_epi8(0x0F));
}

// Byte j is 0xFF where bit j of the 32 little-endian bits at `bits` is set, else 0.
inline __m256i BitsToBytes32(const uint8_t* bits) {
  uint32_t word;
  std::memcpy(&word, bits, sizeof(word));
  // Byte j takes source byte j / 8 (each 128-bit half holds the same 4 bytes).
  const __m256i spread = _mm256_shuffle_epi8(
      _mm256_set1_epi32(static_cast<int32_t>(word)),
      _mm256_setr_epi64x(0x0000000000000000, 0x0101010101010101, 0x0202020202020202, 0x0303030303030303));
  // Set every bit but bit j % 8 of byte j; the byte is all ones exactly when that bit was set.
  const __m256i others = _mm256_set1_epi64x(0x7fbfdfeff7fbfdfe);
  return _mm256_cmpeq_epi8(_mm256_or_si256(spread, others), _mm256_set1_epi64x(-1));
}

// Pairwise products of unsigned bytes u with signed bytes s, summed in pairs to int16: exact
// (no saturation) while u <= 128 and |s| <= 127, as in every caller: 2 * 128 * 127 < 32768.
inline __m256i DotPairs16(__m256i u, __m256i s) { return _mm256_maddubs_epi16(u, s); }

// Sum of the 32 products u[j] * s[j] as 8 int32 partial sums.
inline __m256i DotU8S8(__m256i u, __m256i s) { return _mm256_madd_epi16(DotPairs16(u, s), _mm256_set1_epi16(1)); }

// Scale and min of group g (0..7) of a Q4_K block (see ref::UnpackScaleMinK4).
inline void ScaleMinK4(const uint8_t* scales, int g, int* scale, int* min) {
  if (g < 4) {
    *scale = scales[g] & 63;
    *min = scales[g + 4] & 63;
  } else {
    *scale = (scales[g + 4] & 0xF) | ((scales[g - 4] >> 6) << 4);
    *min = (scales[g + 4] >> 4) | ((scales[g] >> 6) << 4);
  }
}

// The 8 six-bit scales (bytes 0..7) and mins (bytes 8..15) of a Q4_K block, as
// ref::UnpackScaleMinK4 gives them group by group.
inline __m128i UnpackScalesMinsK4(const uint8_t* packed) {
  constexpr uint32_t kLow6 = 0x3f3f3f3f, kLow4 = 0x0f0f0f0f, kLow2 = 0x03030303;
  uint32_t u[3];
  std::memcpy(u, packed, 12);
  return _mm_setr_epi32(static_cast<int32_t>(u[0] & kLow6),                                      // scales 0..3
                        static_cast<int32_t>((u[2] & kLow4) | (((u[0] >> 6) & kLow2) << 4)),     // scales 4..7
                        static_cast<int32_t>(u[1] & kLow6),                                      // mins 0..3
                        static_cast<int32_t>(((u[2] >> 4) & kLow4) | (((u[1] >> 6) & kLow2) << 4)));  // mins 4..7
}

}  // namespace
}  // namespace tlm::cpu::x86
