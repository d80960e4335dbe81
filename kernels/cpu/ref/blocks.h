// Byte layouts of ggml's quantized blocks, as stored in GGUF files; shared by every CPU kernel.
#pragma once

#include <cstddef>
#include <cstdint>

namespace tlm::cpu::ref {

// Elements per K-quant superblock.
inline constexpr int kQK = 256;
// Packed 6-bit scales and mins of Q4_K / Q5_K.
inline constexpr int kKScaleBytes = 12;

// Half-precision fields are raw IEEE binary16 bits; convert with F16ToF32 (quant.h). The
// structs need 2-byte alignment: GGUF tensor data is 32-byte aligned and every size is even.

// x = d * (q - 8), q in [0, 15]; element j in the low nibble of qs[j], j + 16 in the high one.
struct BlockQ4_0 {
  uint16_t d;
  uint8_t qs[16];
};

// x = d * q + m, q in [0, 15]; nibble order as Q4_0.
struct BlockQ4_1 {
  uint16_t d;
  uint16_t m;
  uint8_t qs[16];
};

// x = d * (q - 16), q in [0, 31]: nibbles as Q4_0, fifth bit of element j is bit j of qh (LE).
struct BlockQ5_0 {
  uint16_t d;
  uint8_t qh[4];
  uint8_t qs[16];
};

// x = d * q + m, q in [0, 31]; bits as Q5_0.
struct BlockQ5_1 {
  uint16_t d;
  uint16_t m;
  uint8_t qh[4];
  uint8_t qs[16];
};

// x = d * q, q in [-128, 127].
struct BlockQ8_0 {
  uint16_t d;
  int8_t qs[32];
};

// 16 groups of 16: x = d * (scales[g] & 15) * q - dmin * (scales[g] >> 4), q in [0, 3].
// Within each 128 elements, 32-element run r (0..3) takes bits 2r..2r+1 of qs[0..31].
struct BlockQ2_K {
  uint8_t scales[16];
  uint8_t qs[64];
  uint16_t d;
  uint16_t dmin;
};

// 16 groups of 16: x = d * (s[g] - 32) * (q - 4 * !high), low 2 bits as Q2_K, high bit of
// 32-element run r (0..7) is bit r of hmask[0..31]; the 6-bit s[g] are packed in scales[12].
struct BlockQ3_K {
  uint8_t hmask[32];
  uint8_t qs[64];
  uint8_t scales[12];
  uint16_t d;
};

// 8 groups of 32: x = d * sc[g] * q - dmin * m[g], q in [0, 15]; within each 64 elements the
// first 32 are the low nibbles of 32 bytes of qs and the next 32 the high nibbles.
struct BlockQ4_K {
  uint16_t d;
  uint16_t dmin;
  uint8_t scales[kKScaleBytes];
  uint8_t qs[128];
};

// As Q4_K with q in [0, 31]; the fifth bit of group g is bit g of qh[0..31].
struct BlockQ5_K {
  uint16_t d;
  uint16_t dmin;
  uint8_t scales[kKScaleBytes];
  uint8_t qh[32];
  uint8_t qs[128];
};

// 16 groups of 16: x = d * scales[g] * (q - 32), q in [0, 63]. Per 128 elements: ql holds the
// low nibbles (bytes 0..31 low: elements 0..31, 32..63 low: 32..63, 0..31 high: 64..95,
// 32..63 high: 96..127), qh[l] the high 2 bits of elements l, l+32, l+64, l+96.
struct BlockQ6_K {
  uint8_t ql[128];
  uint8_t qh[64];
  int8_t scales[16];
  uint16_t d;
};

static_assert(sizeof(BlockQ4_0) == 18);
static_assert(sizeof(BlockQ4_1) == 20);
static_assert(sizeof(BlockQ5_0) == 22);
static_assert(sizeof(BlockQ5_1) == 24);
static_assert(sizeof(BlockQ8_0) == 34);
static_assert(sizeof(BlockQ2_K) == 84);
static_assert(sizeof(BlockQ3_K) == 110);
static_assert(sizeof(BlockQ4_K) == 144);
static_assert(sizeof(BlockQ5_K) == 176);
static_assert(sizeof(BlockQ6_K) == 210);
static_assert(offsetof(BlockQ2_K, d) == 80 && offsetof(BlockQ3_K, d) == 108 &&
              offsetof(BlockQ6_K, d) == 208);

// The 32 fifth bits of a Q5_0 / Q5_1 block (little endian, bit j for element j).
inline uint32_t LoadQh(const uint8_t* qh) {
  return static_cast<uint32_t>(qh[0]) | (static_cast<uint32_t>(qh[1]) << 8) |
         (static_cast<uint32_t>(qh[2]) << 16) | (static_cast<uint32_t>(qh[3]) << 24);
}

// Scale and min of group g (0..7) of a Q4_K / Q5_K block, both 6-bit.
inline void UnpackScaleMinK4(const uint8_t* scales, int g, uint8_t* scale, uint8_t* min) {
  if (g < 4) {
    *scale = scales[g] & 63;
    *min = scales[g + 4] & 63;
  } else {
    *scale = static_cast<uint8_t>((scales[g + 4] & 0xF) | ((scales[g - 4] >> 6) << 4));
    *min = static_cast<uint8_t>((scales[g + 4] >> 4) | ((scales[g] >> 6) << 4));
  }
}

// Signed scale of group g (0..15) of a Q3_K block, in [-32, 31].
inline int UnpackScaleQ3K(const uint8_t* scales, int g) {
  const int low = g < 8 ? (scales[g] & 0xF) : (scales[g - 8] >> 4);
  const int high = (scales[8 + g % 4] >> (2 * (g / 4))) & 3;
  return (low | (high << 4)) - 32;
}

}  // namespace tlm::cpu::ref
