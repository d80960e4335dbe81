// Helpers shared by the NEON kernel files. Internal linkage on purpose: the dotprod file is
// compiled with +dotprod, and an inline function with external linkage compiled there could be
// the copy the linker keeps for the ARMv8.0 files too. For the same reason these files call no
// inline helpers of kernels/cpu/ref/blocks.h.
#pragma once

#include <arm_neon.h>

#include <cstdint>
#include <cstring>

namespace tlm::cpu::arm {
namespace {

// fp16 bits to float with the hardware conversion: exact for every non-NaN half.
inline float HalfToFloat(uint16_t h) {
  __fp16 half;
  std::memcpy(&half, &h, sizeof(half));
  return static_cast<float>(half);
}

// 16 bytes of packed nibbles: the low nibbles (elements 0..15 of a Q4_0/Q4_1/Q5_0 block, or
// group 2p of a Q4_K pair) and the high ones (elements 16..31, or group 2p + 1).
inline uint8x16_t LowNibbles(uint8x16_t bytes) { return vandq_u8(bytes, vdupq_n_u8(0x0F)); }
inline uint8x16_t HighNibbles(uint8x16_t bytes) { return vshrq_n_u8(bytes, 4); }

// Byte j is 0xFF where bit j of the 16 little-endian bits at `bits` is set, else 0.
inline uint8x16_t BitsToBytes16(const uint8_t* bits) {
  const uint8x16_t spread = vcombine_u8(vdup_n_u8(bits[0]), vdup_n_u8(bits[1]));
  const uint8x16_t select = {1, 2, 4, 8, 16, 32, 64, 128, 1, 2, 4, 8, 16, 32, 64, 128};
  return vtstq_u8(spread, select);
}

// Scale and min of group g (0..7) of a Q4_K block (see ref::UnpackScaleMinK4).
inline void ScaleMinK4(const uint8_t* scales, int g, int32_t* scale, int32_t* min) {
  if (g < 4) {
    *scale = scales[g] & 63;
    *min = scales[g + 4] & 63;
  } else {
    *scale = (scales[g + 4] & 0xF) | ((scales[g - 4] >> 6) << 4);
    *min = (scales[g + 4] >> 4) | ((scales[g] >> 6) << 4);
  }
}

}  // namespace
}  // namespace tlm::cpu::arm
