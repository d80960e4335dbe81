// The tile loop of the x86 quantized GEMMs (gemm_avx2.cc, gemm_avx512.cc): activation rows in
// tiles that stay in L2, every weight row of the caller's slice against a tile, 8 or 4 rows per
// kernel call and the last 1-3 one call. Each file's kernels are its own types, so the loop is
// compiled once per instruction set and no body is shared between them.
#pragma once

#include <cstddef>
#include <cstdint>

#include "kernels/cpu/ref/quant.h"

namespace tlm::cpu::x86::gemm_tiles {

// Activation rows per folded group (kernels with Dot8 take two groups per step).
inline constexpr int kRowsPerStep = 4;
// Bytes of BlockQ8 activation rows per tile: the tile stays in L2 while every weight row of
// the caller's slice streams past it.
inline constexpr int64_t kTileBytes = 128 * 1024;
// Floats of the per-tile d * sum table (Q4_1 and Q4_K mins), on the stack.
inline constexpr int64_t kXdsFloats = 8192;

using DotFn = float (*)(const void* w, const ref::BlockQ8* x, int64_t n);  // as VecDotQ8Fn

// A kernel K provides kNeedsXds, kHasRows8 and
//   template <int NR> static void Dot(const uint8_t* w_row, const BlockQ8* x, int64_t nb,
//                                     const float* xds, const float* dx4, const int32_t* sum4,
//                                     int64_t k, float* y, int64_t ldy);
// computing y[i * ldy] = dot(w_row, activation row i) for i < NR (1..4); activation row i is
// x + i * nb (nb = k / 32 blocks) and xds + i * nb holds its d * sum per block. For NR == 4,
// dx4 + 4 * b holds the 4 rows' d of block b and sum4 + 4 * b their sum(x) of block b. With
// kHasRows8, Dot8 (the same arguments but k) takes 8 rows, dx4 / sum4 of both groups of 4.
template <class K>
void GemmTiles(const void* w, size_t row_stride, int64_t n_w, const ref::BlockQ8* x, int64_t n_x, int64_t k, float* y,
               int64_t ldy) {
  auto min = [](int64_t a, int64_t b) { return a < b ? a : b; };
  auto max = [](int64_t a, int64_t b) { return a > b ? a : b; };
  const int64_t nb = k / ref::kQ8Block;
  const auto* base = static_cast<const uint8_t*>(w);
  int64_t tile = max(kRowsPerStep, kTileBytes / max(1, nb * static_cast<int64_t>(sizeof(ref::BlockQ8))));
  tile = min(tile, kXdsFloats / max(1, nb));
  if (tile > kRowsPerStep) tile -= tile % kRowsPerStep;
  alignas(32) float xds[K::kNeedsXds ? kXdsFloats : 1];
  // Per group of 4 rows: the 4 rows' d (and sum) of block b at 4 * b (full groups only).
  alignas(32) float dx4[kXdsFloats];
  alignas(32) int32_t sum4[kXdsFloats];
  for (int64_t r0 = 0; r0 < n_x; r0 += tile) {
    const int64_t rows = min(tile, n_x - r0);
    const ref::BlockQ8* xt = x + r0 * nb;
    if constexpr (K::kNeedsXds) {
      for (int64_t e = 0; e < rows * nb; ++e) xds[e] = xt[e].d * static_cast<float>(xt[e].sum);
    }
    for (int64_t g = 0; g + kRowsPerStep <= rows; g += kRowsPerStep) {
      for (int64_t b = 0; b < nb; ++b) {
        for (int i = 0; i < kRowsPerStep; ++i) {
          dx4[g * nb + 4 * b + i] = xt[(g + i) * nb + b].d;
          sum4[g * nb + 4 * b + i] = xt[(g + i) * nb + b].sum;
        }
      }
    }
    float* yt = y + r0 * ldy;
    for (int64_t o = 0; o < n_w; ++o) {
      const uint8_t* w_row = base + o * static_cast<int64_t>(row_stride);
      int64_t r = 0;
      if constexpr (K::kHasRows8) {
        for (; r + 2 * kRowsPerStep <= rows; r += 2 * kRowsPerStep) {
          K::Dot8(w_row, xt + r * nb, nb, xds + (K::kNeedsXds ? r * nb : 0), dx4 + r * nb, sum4 + r * nb,
                  yt + r * ldy + o, ldy);
        }
      }
      for (; r + kRowsPerStep <= rows; r += kRowsPerStep) {
        K::template Dot<4>(w_row, xt + r * nb, nb, xds + (K::kNeedsXds ? r * nb : 0), dx4 + r * nb, sum4 + r * nb, k,
                           yt + r * ldy + o, ldy);
      }
      const ref::BlockQ8* xr = xt + r * nb;
      const float* xdr = xds + (K::kNeedsXds ? r * nb : 0);
      switch (rows - r) {
        case 3:
          K::template Dot<3>(w_row, xr, nb, xdr, nullptr, nullptr, k, yt + r * ldy + o, ldy);
          break;
        case 2:
          K::template Dot<2>(w_row, xr, nb, xdr, nullptr, nullptr, k, yt + r * ldy + o, ldy);
          break;
        case 1:
          K::template Dot<1>(w_row, xr, nb, xdr, nullptr, nullptr, k, yt + r * ldy + o, ldy);
          break;
        default:
          break;
      }
    }
  }
}

// Rows too long for the d * sum table (k > 32 * kXdsFloats): one dot product at a time. K: as
// for GemmTiles, only so that each file compiles its own copy.
template <class K>
void GemmByVecDot(DotFn dot, const void* w, size_t row_stride, int64_t n_w, const ref::BlockQ8* x, int64_t n_x,
                  int64_t k, float* y, int64_t ldy) {
  const int64_t nb = k / ref::kQ8Block;
  const auto* base = static_cast<const uint8_t*>(w);
  for (int64_t o = 0; o < n_w; ++o) {
    for (int64_t r = 0; r < n_x; ++r) y[r * ldy + o] = dot(base + o * static_cast<int64_t>(row_stride), x + r * nb, k);
  }
}

}  // namespace tlm::cpu::x86::gemm_tiles
