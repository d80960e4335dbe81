// The NEON dot products of quantized weight rows with BlockQ8 activations, compiled twice:
// vec_dot_neon.cc (ARMv8.0: vmull_s8 + vpadalq_s16) and vec_dot_neon_dotprod.cc (built with
// +dotprod; TLM_NEON_VEC_DOT_USE_DOTPROD selects vdotq_s32). Include only from those two files,
// after defining TLM_NEON_VEC_DOT_NAMESPACE and TLM_NEON_VEC_DOT_USE_DOTPROD (0 or 1): the
// choice is the file's, not the compiler's, so the ARMv8.0 path stays the ARMv8.0 path even in
// a build for a dotprod CPU. Integer sums are exact in both: every weight level
// and activation fits int8 and every product int16.
#include <arm_neon.h>

#include <cstdint>

#include "kernels/cpu/arm/neon_kernels.h"
#include "kernels/cpu/arm/neon_util.h"
#include "kernels/cpu/ref/blocks.h"

#if !defined(TLM_NEON_VEC_DOT_NAMESPACE) || !defined(TLM_NEON_VEC_DOT_USE_DOTPROD)
#error "define TLM_NEON_VEC_DOT_NAMESPACE and TLM_NEON_VEC_DOT_USE_DOTPROD before including vec_dot_neon_impl.h"
#endif

namespace tlm::cpu::arm::TLM_NEON_VEC_DOT_NAMESPACE {

using ref::BlockQ4_0;
using ref::BlockQ4_1;
using ref::BlockQ4_K;
using ref::BlockQ5_0;
using ref::BlockQ6_K;
using ref::BlockQ8;
using ref::BlockQ8_0;

namespace {

// acc + the 16 products a[j] * b[j], summed in groups of 4 (dotprod) or of pairs then pairs
// of lanes (vpadal); either way each int32 lane is exact.
inline int32x4_t Dot16(int32x4_t acc, int8x16_t a, int8x16_t b) {
#if TLM_NEON_VEC_DOT_USE_DOTPROD
  return vdotq_s32(acc, a, b);
#else
  acc = vpadalq_s16(acc, vmull_s8(vget_low_s8(a), vget_low_s8(b)));
  return vpadalq_s16(acc, vmull_high_s8(a, b));
#endif
}

// The 32 products of one block as 4 int32 partial sums.
inline int32x4_t Dot32(int8x16_t a0, int8x16_t a1, const int8_t* x) {
  return Dot16(Dot16(vdupq_n_s32(0), a0, vld1q_s8(x)), a1, vld1q_s8(x + 16));
}

inline int8x16_t AsSigned(uint8x16_t q) { return vreinterpretq_s8_u8(q); }

// [sum(a), sum(b), sum(c), sum(d)].
inline int32x4_t LaneSums(int32x4_t a, int32x4_t b, int32x4_t c, int32x4_t d) {
  return vpaddq_s32(vpaddq_s32(a, b), vpaddq_s32(c, d));
}

// Sum over blocks of scale * (4 partial sums), two blocks per step into two accumulators so
// that consecutive multiply-adds do not wait on each other. dot_of_block(i, &scale) returns
// block i's partial sums and sets its float scale.
template <typename DotOfBlock>
inline float SumBlocks(int64_t nb, DotOfBlock dot_of_block) {
  float32x4_t acc0 = vdupq_n_f32(0.0f);
  float32x4_t acc1 = vdupq_n_f32(0.0f);
  int64_t i = 0;
  for (; i + 2 <= nb; i += 2) {
    float s0, s1;
    const int32x4_t p0 = dot_of_block(i, &s0);
    const int32x4_t p1 = dot_of_block(i + 1, &s1);
    acc0 = vfmaq_n_f32(acc0, vcvtq_f32_s32(p0), s0);
    acc1 = vfmaq_n_f32(acc1, vcvtq_f32_s32(p1), s1);
  }
  if (i < nb) {
    float s;
    const int32x4_t p = dot_of_block(i, &s);
    acc0 = vfmaq_n_f32(acc0, vcvtq_f32_s32(p), s);
  }
  return vaddvq_f32(vaddq_f32(acc0, acc1));
}

}  // namespace

float VecDotQ8_0Q8(const void* w_row, const BlockQ8* x, int64_t n) {
  const auto* w = static_cast<const BlockQ8_0*>(w_row);
  return SumBlocks(n / ref::kQ8Block, [&](int64_t i, float* scale) {
    *scale = HalfToFloat(w[i].d) * x[i].d;
    return Dot32(vld1q_s8(w[i].qs), vld1q_s8(w[i].qs + 16), x[i].qs);
  });
}

float VecDotQ4_0Q8(const void* w_row, const BlockQ8* x, int64_t n) {
  const auto* w = static_cast<const BlockQ4_0*>(w_row);
  const int8x16_t eight = vdupq_n_s8(8);
  return SumBlocks(n / ref::kQ8Block, [&](int64_t i, float* scale) {
    *scale = HalfToFloat(w[i].d) * x[i].d;
    const uint8x16_t bytes = vld1q_u8(w[i].qs);
    return Dot32(vsubq_s8(AsSigned(LowNibbles(bytes)), eight), vsubq_s8(AsSigned(HighNibbles(bytes)), eight), x[i].qs);
  });
}

float VecDotQ4_1Q8(const void* w_row, const BlockQ8* x, int64_t n) {
  const auto* w = static_cast<const BlockQ4_1*>(w_row);
  float min_sum = 0.0f;  // sum of m * (d_x * sum(x)), block by block in order
  const float scaled = SumBlocks(n / ref::kQ8Block, [&](int64_t i, float* scale) {
    *scale = HalfToFloat(w[i].d) * x[i].d;
    min_sum += HalfToFloat(w[i].m) * (x[i].d * static_cast<float>(x[i].sum));
    const uint8x16_t bytes = vld1q_u8(w[i].qs);
    return Dot32(AsSigned(LowNibbles(bytes)), AsSigned(HighNibbles(bytes)), x[i].qs);
  });
  return scaled + min_sum;
}

float VecDotQ5_0Q8(const void* w_row, const BlockQ8* x, int64_t n) {
  const auto* w = static_cast<const BlockQ5_0*>(w_row);
  const uint8x16_t fifth_bit = vdupq_n_u8(0x10);
  const int8x16_t sixteen = vdupq_n_s8(16);
  return SumBlocks(n / ref::kQ8Block, [&](int64_t i, float* scale) {
    *scale = HalfToFloat(w[i].d) * x[i].d;
    const uint8x16_t bytes = vld1q_u8(w[i].qs);
    // q in [0, 31], q - 16 in [-16, 15].
    const uint8x16_t low = vorrq_u8(LowNibbles(bytes), vandq_u8(BitsToBytes16(w[i].qh), fifth_bit));
    const uint8x16_t high = vorrq_u8(HighNibbles(bytes), vandq_u8(BitsToBytes16(w[i].qh + 2), fifth_bit));
    return Dot32(vsubq_s8(AsSigned(low), sixteen), vsubq_s8(AsSigned(high), sixteen), x[i].qs);
  });
}

float VecDotQ4KQ8(const void* w_row, const BlockQ8* x, int64_t n) {
  const auto* w = static_cast<const BlockQ4_K*>(w_row);
  const int64_t nsb = n / ref::kQK;
  float32x4_t acc = vdupq_n_f32(0.0f);
  float32x4_t min_acc = vdupq_n_f32(0.0f);
  for (int64_t i = 0; i < nsb; ++i, x += 8) {
    const float d = HalfToFloat(w[i].d);
    const float dmin = HalfToFloat(w[i].dmin);
    int32_t scales[8], mins[8];
    for (int g = 0; g < 8; ++g) ScaleMinK4(w[i].scales, g, &scales[g], &mins[g]);
    // Groups 4h .. 4h + 3 (two 32-byte runs of qs: low nibbles, then high) per step.
    for (int h = 0; h < 2; ++h) {
      int32x4_t dots[4];
      for (int p = 0; p < 2; ++p) {
        const uint8_t* qs = w[i].qs + 32 * (2 * h + p);
        const uint8x16_t b0 = vld1q_u8(qs), b1 = vld1q_u8(qs + 16);
        dots[2 * p] = Dot32(AsSigned(LowNibbles(b0)), AsSigned(LowNibbles(b1)), x[4 * h + 2 * p].qs);
        dots[2 * p + 1] = Dot32(AsSigned(HighNibbles(b0)), AsSigned(HighNibbles(b1)), x[4 * h + 2 * p + 1].qs);
      }
      const BlockQ8* xg = x + 4 * h;
      const float32x4_t xd = {xg[0].d, xg[1].d, xg[2].d, xg[3].d};
      const int32x4_t xsum = {xg[0].sum, xg[1].sum, xg[2].sum, xg[3].sum};
      // scale * sum(q * x) and min * sum(x) per group: exact int32 (at most 63 * 15 * 127 * 32).
      const int32x4_t scaled = vmulq_s32(LaneSums(dots[0], dots[1], dots[2], dots[3]), vld1q_s32(scales + 4 * h));
      const int32x4_t mins_xsum = vmulq_s32(xsum, vld1q_s32(mins + 4 * h));
      acc = vfmaq_f32(acc, vcvtq_f32_s32(scaled), vmulq_n_f32(xd, d));
      min_acc = vfmaq_f32(min_acc, vcvtq_f32_s32(mins_xsum), vmulq_n_f32(xd, dmin));
    }
  }
  return vaddvq_f32(acc) - vaddvq_f32(min_acc);
}

float VecDotQ6KQ8(const void* w_row, const BlockQ8* x, int64_t n) {
  const auto* w = static_cast<const BlockQ6_K*>(w_row);
  const int64_t nsb = n / ref::kQK;
  const uint8x16_t low_mask = vdupq_n_u8(0x0F);
  const uint8x16_t two_bits = vdupq_n_u8(0x03);
  const int8x16_t thirty_two = vdupq_n_s8(32);
  float32x4_t acc = vdupq_n_f32(0.0f);
  for (int64_t i = 0; i < nsb; ++i, x += 8) {
    const float d = HalfToFloat(w[i].d);
    // Per 128 elements (activation blocks 4c .. 4c + 3): ql bytes 0..31 and 32..63 give the
    // low nibbles of runs 0 and 1 and the high nibbles of runs 2 and 3; qh bit pair r of the
    // 32 qh bytes is the top of run r. Each run has two 16-element groups with their own scale.
    for (int c = 0; c < 2; ++c) {
      const uint8_t* ql = w[i].ql + 64 * c;
      const uint8_t* qh = w[i].qh + 32 * c;
      const BlockQ8* xc = x + 4 * c;
      int32x4_t group_dots[8];  // run r, half h at 2r + h
      for (int half = 0; half < 2; ++half) {
        const uint8x16_t l0 = vld1q_u8(ql + 16 * half);
        const uint8x16_t l1 = vld1q_u8(ql + 32 + 16 * half);
        const uint8x16_t hb = vld1q_u8(qh + 16 * half);
        const uint8x16_t lows[4] = {vandq_u8(l0, low_mask), vandq_u8(l1, low_mask), vshrq_n_u8(l0, 4),
                                    vshrq_n_u8(l1, 4)};
        const uint8x16_t highs[4] = {vandq_u8(hb, two_bits), vandq_u8(vshrq_n_u8(hb, 2), two_bits),
                                     vandq_u8(vshrq_n_u8(hb, 4), two_bits), vshrq_n_u8(hb, 6)};
        for (int r = 0; r < 4; ++r) {
          const int8x16_t q = vsubq_s8(AsSigned(vorrq_u8(lows[r], vshlq_n_u8(highs[r], 4))), thirty_two);
          group_dots[2 * r + half] = Dot16(vdupq_n_s32(0), q, vld1q_s8(xc[r].qs + 16 * half));
        }
      }
      // Group sums times their scales, then the two groups of each run added: one int32 per run.
      const int8x8_t sc8 = vld1_s8(w[i].scales + 8 * c);
      const int16x8_t sc16 = vmovl_s8(sc8);
      const int32x4_t sc_lo = vmovl_s16(vget_low_s16(sc16));  // runs 0, 1
      const int32x4_t sc_hi = vmovl_high_s16(sc16);           // runs 2, 3
      const int32x4_t s01 = vmulq_s32(LaneSums(group_dots[0], group_dots[1], group_dots[2], group_dots[3]), sc_lo);
      const int32x4_t s23 = vmulq_s32(LaneSums(group_dots[4], group_dots[5], group_dots[6], group_dots[7]), sc_hi);
      const int32x4_t runs = vpaddq_s32(s01, s23);
      const float32x4_t xd = {xc[0].d, xc[1].d, xc[2].d, xc[3].d};
      acc = vfmaq_f32(acc, vcvtq_f32_s32(runs), vmulq_n_f32(xd, d));
    }
  }
  return vaddvq_f32(acc);
}

// ---- GEMM (prefill): each weight block is unpacked once and dotted against up to kRows
// activation rows, so a weight row is read from memory once per kRows rows instead of once per
// row. Per row, blocks are summed in order into one float accumulator: the float results may
// differ from the dot products' in the last bits (the same tolerance as the x86 GEMM).
namespace {

constexpr int kRows = 4;

// Runs kernel(w_row, xs, rows, out) for every weight row and every group of up to kRows
// activation rows: xs[j] is row r0 + j's blocks, out[j] its output.
template <typename RowKernel>
inline void GemmRows(const void* w, size_t row_stride, int64_t n_w, const BlockQ8* x, int64_t n_x, int64_t k,
                     float* y, int64_t ldy, RowKernel kernel) {
  const int64_t blocks = k / ref::kQ8Block;
  const auto* base = static_cast<const uint8_t*>(w);
  for (int64_t o = 0; o < n_w; ++o) {
    const void* w_row = base + o * row_stride;
    for (int64_t r0 = 0; r0 < n_x; r0 += kRows) {
      const int rows = static_cast<int>(n_x - r0 < kRows ? n_x - r0 : kRows);
      const BlockQ8* xs[kRows];
      float out[kRows];
      for (int j = 0; j < rows; ++j) xs[j] = x + (r0 + j) * blocks;
      kernel(w_row, xs, rows, k, out);
      for (int j = 0; j < rows; ++j) y[(r0 + j) * ldy + o] = out[j];
    }
  }
}

// The 32-element block types: unpack(i, &a0, &a1, &d) gives block i's 32 levels and scale;
// min_of(i) its additive term per unit of activation sum (0 for symmetric types).
template <typename Unpack, typename MinOf>
inline void DotRows32(int64_t nb, const BlockQ8* const* xs, int rows, float* out, Unpack unpack, MinOf min_of) {
  float32x4_t acc[kRows];
  float min_sum[kRows];
  for (int j = 0; j < kRows; ++j) acc[j] = vdupq_n_f32(0.0f), min_sum[j] = 0.0f;
  for (int64_t i = 0; i < nb; ++i) {
    int8x16_t a0, a1;
    float d;
    unpack(i, &a0, &a1, &d);
    const float m = min_of(i);
    for (int j = 0; j < rows; ++j) {
      const BlockQ8& xb = xs[j][i];
      acc[j] = vfmaq_n_f32(acc[j], vcvtq_f32_s32(Dot32(a0, a1, xb.qs)), d * xb.d);
      if (m != 0.0f) min_sum[j] += m * (xb.d * static_cast<float>(xb.sum));
    }
  }
  for (int j = 0; j < rows; ++j) out[j] = vaddvq_f32(acc[j]) + min_sum[j];
}

constexpr float NoMin(int64_t) { return 0.0f; }

}  // namespace

void GemmQ8_0Q8(const void* w, size_t row_stride, int64_t n_w, const BlockQ8* x, int64_t n_x, int64_t k, float* y,
                int64_t ldy) {
  GemmRows(w, row_stride, n_w, x, n_x, k, y, ldy,
           [](const void* w_row, const BlockQ8* const* xs, int rows, int64_t k, float* out) {
             const auto* b = static_cast<const BlockQ8_0*>(w_row);
             DotRows32(
                 k / ref::kQ8Block, xs, rows, out,
                 [&](int64_t i, int8x16_t* a0, int8x16_t* a1, float* d) {
                   *a0 = vld1q_s8(b[i].qs), *a1 = vld1q_s8(b[i].qs + 16), *d = HalfToFloat(b[i].d);
                 },
                 NoMin);
           });
}

void GemmQ4_0Q8(const void* w, size_t row_stride, int64_t n_w, const BlockQ8* x, int64_t n_x, int64_t k, float* y,
                int64_t ldy) {
  GemmRows(w, row_stride, n_w, x, n_x, k, y, ldy,
           [](const void* w_row, const BlockQ8* const* xs, int rows, int64_t k, float* out) {
             const auto* b = static_cast<const BlockQ4_0*>(w_row);
             const int8x16_t eight = vdupq_n_s8(8);
             DotRows32(
                 k / ref::kQ8Block, xs, rows, out,
                 [&](int64_t i, int8x16_t* a0, int8x16_t* a1, float* d) {
                   const uint8x16_t bytes = vld1q_u8(b[i].qs);
                   *a0 = vsubq_s8(AsSigned(LowNibbles(bytes)), eight);
                   *a1 = vsubq_s8(AsSigned(HighNibbles(bytes)), eight);
                   *d = HalfToFloat(b[i].d);
                 },
                 NoMin);
           });
}

void GemmQ4_1Q8(const void* w, size_t row_stride, int64_t n_w, const BlockQ8* x, int64_t n_x, int64_t k, float* y,
                int64_t ldy) {
  GemmRows(w, row_stride, n_w, x, n_x, k, y, ldy,
           [](const void* w_row, const BlockQ8* const* xs, int rows, int64_t k, float* out) {
             const auto* b = static_cast<const BlockQ4_1*>(w_row);
             DotRows32(
                 k / ref::kQ8Block, xs, rows, out,
                 [&](int64_t i, int8x16_t* a0, int8x16_t* a1, float* d) {
                   const uint8x16_t bytes = vld1q_u8(b[i].qs);
                   *a0 = AsSigned(LowNibbles(bytes)), *a1 = AsSigned(HighNibbles(bytes));
                   *d = HalfToFloat(b[i].d);
                 },
                 [&](int64_t i) { return HalfToFloat(b[i].m); });
           });
}

void GemmQ5_0Q8(const void* w, size_t row_stride, int64_t n_w, const BlockQ8* x, int64_t n_x, int64_t k, float* y,
                int64_t ldy) {
  GemmRows(w, row_stride, n_w, x, n_x, k, y, ldy,
           [](const void* w_row, const BlockQ8* const* xs, int rows, int64_t k, float* out) {
             const auto* b = static_cast<const BlockQ5_0*>(w_row);
             const uint8x16_t fifth_bit = vdupq_n_u8(0x10);
             const int8x16_t sixteen = vdupq_n_s8(16);
             DotRows32(
                 k / ref::kQ8Block, xs, rows, out,
                 [&](int64_t i, int8x16_t* a0, int8x16_t* a1, float* d) {
                   const uint8x16_t bytes = vld1q_u8(b[i].qs);
                   const uint8x16_t low = vorrq_u8(LowNibbles(bytes), vandq_u8(BitsToBytes16(b[i].qh), fifth_bit));
                   const uint8x16_t high =
                       vorrq_u8(HighNibbles(bytes), vandq_u8(BitsToBytes16(b[i].qh + 2), fifth_bit));
                   *a0 = vsubq_s8(AsSigned(low), sixteen), *a1 = vsubq_s8(AsSigned(high), sixteen);
                   *d = HalfToFloat(b[i].d);
                 },
                 NoMin);
           });
}

void GemmQ4KQ8(const void* w, size_t row_stride, int64_t n_w, const BlockQ8* x, int64_t n_x, int64_t k, float* y,
               int64_t ldy) {
  GemmRows(w, row_stride, n_w, x, n_x, k, y, ldy,
           [](const void* w_row, const BlockQ8* const* xs, int rows, int64_t k, float* out) {
             const auto* b = static_cast<const BlockQ4_K*>(w_row);
             float32x4_t acc[kRows], min_acc[kRows];
             for (int j = 0; j < kRows; ++j) acc[j] = vdupq_n_f32(0.0f), min_acc[j] = vdupq_n_f32(0.0f);
             for (int64_t i = 0; i < k / ref::kQK; ++i) {
               const float d = HalfToFloat(b[i].d), dmin = HalfToFloat(b[i].dmin);
               int32_t scales[8], mins[8];
               for (int g = 0; g < 8; ++g) ScaleMinK4(b[i].scales, g, &scales[g], &mins[g]);
               // The 8 groups of 32 levels, unpacked once: group 2p is the low nibbles of qs run p,
               // group 2p + 1 its high nibbles.
               int8x16_t q[8][2];
               for (int p = 0; p < 4; ++p) {
                 const uint8x16_t b0 = vld1q_u8(b[i].qs + 32 * p), b1 = vld1q_u8(b[i].qs + 32 * p + 16);
                 q[2 * p][0] = AsSigned(LowNibbles(b0)), q[2 * p][1] = AsSigned(LowNibbles(b1));
                 q[2 * p + 1][0] = AsSigned(HighNibbles(b0)), q[2 * p + 1][1] = AsSigned(HighNibbles(b1));
               }
               for (int j = 0; j < rows; ++j) {
                 const BlockQ8* xg0 = xs[j] + 8 * i;
                 for (int h = 0; h < 2; ++h) {
                   const BlockQ8* xg = xg0 + 4 * h;
                   int32x4_t dots[4];
                   for (int g = 0; g < 4; ++g) dots[g] = Dot32(q[4 * h + g][0], q[4 * h + g][1], xg[g].qs);
                   const float32x4_t xd = {xg[0].d, xg[1].d, xg[2].d, xg[3].d};
                   const int32x4_t xsum = {xg[0].sum, xg[1].sum, xg[2].sum, xg[3].sum};
                   const int32x4_t scaled =
                       vmulq_s32(LaneSums(dots[0], dots[1], dots[2], dots[3]), vld1q_s32(scales + 4 * h));
                   const int32x4_t mins_xsum = vmulq_s32(xsum, vld1q_s32(mins + 4 * h));
                   acc[j] = vfmaq_f32(acc[j], vcvtq_f32_s32(scaled), vmulq_n_f32(xd, d));
                   min_acc[j] = vfmaq_f32(min_acc[j], vcvtq_f32_s32(mins_xsum), vmulq_n_f32(xd, dmin));
                 }
               }
             }
             for (int j = 0; j < rows; ++j) out[j] = vaddvq_f32(acc[j]) - vaddvq_f32(min_acc[j]);
           });
}

void GemmQ6KQ8(const void* w, size_t row_stride, int64_t n_w, const BlockQ8* x, int64_t n_x, int64_t k, float* y,
               int64_t ldy) {
  GemmRows(w, row_stride, n_w, x, n_x, k, y, ldy,
           [](const void* w_row, const BlockQ8* const* xs, int rows, int64_t k, float* out) {
             const auto* b = static_cast<const BlockQ6_K*>(w_row);
             const uint8x16_t low_mask = vdupq_n_u8(0x0F), two_bits = vdupq_n_u8(0x03);
             const int8x16_t thirty_two = vdupq_n_s8(32);
             float32x4_t acc[kRows];
             for (int j = 0; j < kRows; ++j) acc[j] = vdupq_n_f32(0.0f);
             for (int64_t i = 0; i < k / ref::kQK; ++i) {
               const float d = HalfToFloat(b[i].d);
               for (int c = 0; c < 2; ++c) {
                 const uint8_t* ql = b[i].ql + 64 * c;
                 const uint8_t* qh = b[i].qh + 32 * c;
                 int8x16_t q[4][2];  // run r, half h: 16 levels, unpacked once for every row
                 for (int half = 0; half < 2; ++half) {
                   const uint8x16_t l0 = vld1q_u8(ql + 16 * half), l1 = vld1q_u8(ql + 32 + 16 * half);
                   const uint8x16_t hb = vld1q_u8(qh + 16 * half);
                   const uint8x16_t lows[4] = {vandq_u8(l0, low_mask), vandq_u8(l1, low_mask), vshrq_n_u8(l0, 4),
                                               vshrq_n_u8(l1, 4)};
                   const uint8x16_t highs[4] = {vandq_u8(hb, two_bits), vandq_u8(vshrq_n_u8(hb, 2), two_bits),
                                                vandq_u8(vshrq_n_u8(hb, 4), two_bits), vshrq_n_u8(hb, 6)};
                   for (int r = 0; r < 4; ++r)
                     q[r][half] = vsubq_s8(AsSigned(vorrq_u8(lows[r], vshlq_n_u8(highs[r], 4))), thirty_two);
                 }
                 const int16x8_t sc16 = vmovl_s8(vld1_s8(b[i].scales + 8 * c));
                 const int32x4_t sc_lo = vmovl_s16(vget_low_s16(sc16)), sc_hi = vmovl_high_s16(sc16);
                 for (int j = 0; j < rows; ++j) {
                   const BlockQ8* xc = xs[j] + 8 * i + 4 * c;
                   int32x4_t g[8];
                   for (int r = 0; r < 4; ++r)
                     for (int half = 0; half < 2; ++half)
                       g[2 * r + half] = Dot16(vdupq_n_s32(0), q[r][half], vld1q_s8(xc[r].qs + 16 * half));
                   const int32x4_t s01 = vmulq_s32(LaneSums(g[0], g[1], g[2], g[3]), sc_lo);
                   const int32x4_t s23 = vmulq_s32(LaneSums(g[4], g[5], g[6], g[7]), sc_hi);
                   const float32x4_t xd = {xc[0].d, xc[1].d, xc[2].d, xc[3].d};
                   acc[j] = vfmaq_f32(acc[j], vcvtq_f32_s32(vpaddq_s32(s01, s23)), vmulq_n_f32(xd, d));
                 }
               }
             }
             for (int j = 0; j < rows; ++j) out[j] = vaddvq_f32(acc[j]);
           });
}

}  // namespace tlm::cpu::arm::TLM_NEON_VEC_DOT_NAMESPACE
