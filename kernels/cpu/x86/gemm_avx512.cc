// AVX-512 VNNI matrix products for prefill: the tiling of gemm_avx2.cc (each weight block
// unpacked once, dotted against 8 activation rows as two folded groups of 4, then 4, then 1..3
// rows), with vpdpbusd (u8 x s8 -> s32, 256-bit through AVX512VL) in place of maddubs + madd.
// Q5_0: unsigned levels, 16 * sum(x) subtracted from the folded int32 sums; Q8_0 / Q6_K: the
// sign trick; Q4_K: unsigned levels, the mins through the d * sum table. Per-group scales go
// into the float multiplier (fp16 d times a small integer scale is exact in float).
// Built with -mavx512f/bw/vl/vnni on top of the AVX2 flags: only the dispatch table calls it.
#include <immintrin.h>

#include <cstdint>
#include <cstring>
#include <memory>

#include "kernels/cpu/ref/blocks.h"
#include "kernels/cpu/x86/avx2_kernels.h"
#include "kernels/cpu/x86/avx2_util.h"
#include "kernels/cpu/x86/gemm_avx512.h"
#include "kernels/cpu/x86/gemm_tiles.h"
#include "kernels/cpu/x86/gemv_avx512.h"
#include "kernels/cpu/x86/x8_layouts_avx512.h"

namespace tlm::cpu::x86 {

using ref::BlockQ4_K;
using ref::BlockQ5_0;
using ref::BlockQ6_K;
using ref::BlockQ8;
using ref::BlockQ8_0;

namespace {

using gemm_tiles::DotFn;
using gemm_tiles::GemmTiles;
using gemm_tiles::kXdsFloats;

inline int64_t Min(int64_t a, int64_t b) { return a < b ? a : b; }
inline int64_t Max(int64_t a, int64_t b) { return a > b ? a : b; }

// sum of u[j] * s[j] over each 4 bytes, 8 int32 lanes (lanes 0..3: bytes 0..15).
inline __m256i DotVnni(__m256i u, __m256i s) { return _mm256_dpbusd_epi32(_mm256_setzero_si256(), u, s); }

// The 32 levels (0..31) of a Q5_0 block from its 16 nibble bytes and 4 fifth-bit bytes: 16 added
// where the fifth bit is set.
inline __m256i Q5_0Levels(const uint8_t* qs, const uint8_t* qh) {
  uint32_t high_bits;
  std::memcpy(&high_bits, qh, sizeof(high_bits));
  const __m256i nibbles = UnpackNibbles16(qs);
  return _mm256_mask_add_epi8(nibbles, static_cast<__mmask32>(high_bits), nibbles, _mm256_set1_epi8(16));
}

inline __m256i FoldRows4(__m256i p0, __m256i p1, __m256i p2, __m256i p3) {
  return _mm256_hadd_epi32(_mm256_hadd_epi32(p0, p1), _mm256_hadd_epi32(p2, p3));
}

// acc += float(folded) * dw * (the 4 rows' d of this block, both halves). dw may differ
// between the halves (elements 0..15 and 16..31 of the block).
inline __m256 AccumulateRows4(__m256i folded, __m256 dw, const float* dx4_block, __m256 acc) {
  const __m256 dx = _mm256_broadcast_ps(reinterpret_cast<const __m128*>(dx4_block));
  return _mm256_fmadd_ps(_mm256_cvtepi32_ps(folded), _mm256_mul_ps(dw, dx), acc);
}

inline void StoreRows4(__m256 acc, const float* add, float* y, int64_t ldy) {
  alignas(16) float sums[4];
  _mm_store_ps(sums, _mm_add_ps(_mm256_castps256_ps128(acc), _mm256_extractf128_ps(acc, 1)));
  for (int i = 0; i < 4; ++i) y[i * ldy] = sums[i] + (add != nullptr ? add[i] : 0.0f);
}

template <int NR>
inline void StoreSums(const __m256* acc, float* y, int64_t ldy) {
#pragma GCC unroll 4
  for (int i = 0; i < NR; ++i) y[i * ldy] = HorizontalSum(acc[i]);
}

// Block jb of the NR activation rows at x (row i at x + i * nb) against one weight block.
// kSigned: `levels` are signed (|levels| <= 127), the sign trick; else unsigned (<= 255) and
// used as they are. NR 4 / 8: folded per group of 4 (dx4: the groups' d tables, 4 * nb apart);
// NR 1..3: one accumulator per row.
template <int NR, bool kSigned>
inline void BlockDots(__m256i levels, __m256 dw, const BlockQ8* x, int64_t nb, int64_t jb, const float* dx4,
                      __m256* acc) {
  const __m256i u = kSigned ? _mm256_abs_epi8(levels) : levels;
  if constexpr (NR == 4 || NR == 8) {
    for (int grp = 0; grp < NR / 4; ++grp) {
      const BlockQ8* xg = x + grp * 4 * nb;
      __m256i p[4];
      for (int i = 0; i < 4; ++i) {
        const __m256i xq = Load256(xg[i * nb + jb].qs);
        p[i] = DotVnni(u, kSigned ? _mm256_sign_epi8(xq, levels) : xq);
      }
      acc[grp] = AccumulateRows4(FoldRows4(p[0], p[1], p[2], p[3]), dw, dx4 + grp * 4 * nb + 4 * jb, acc[grp]);
    }
  } else {
#pragma GCC unroll 4
    for (int i = 0; i < NR; ++i) {
      const BlockQ8& xb = x[i * nb + jb];
      const __m256i xq = Load256(xb.qs);
      const __m256i p = DotVnni(u, kSigned ? _mm256_sign_epi8(xq, levels) : xq);
      acc[i] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(p), _mm256_mul_ps(dw, _mm256_broadcast_ss(&xb.d)), acc[i]);
    }
  }
}

template <int NR>
inline void StoreAll(const __m256* acc, const float* add, float* y, int64_t ldy) {
  if constexpr (NR == 4 || NR == 8) {
    for (int grp = 0; grp < NR / 4; ++grp) {
      StoreRows4(acc[grp], add != nullptr ? add + 4 * grp : nullptr, y + grp * 4 * ldy, ldy);
    }
  } else {
    for (int i = 0; i < NR; ++i) y[i * ldy] = HorizontalSum(acc[i]) + (add != nullptr ? add[i] : 0.0f);
  }
}

// The kernels below: gemm_tiles.h's interface, Dot<NR> for NR up to 8 (AVX-512's 32 vector
// registers hold 8 rows' accumulators), so Dot8 is Dot<8>.
template <class K>
struct EightRowsByDot {
  static constexpr bool kHasRows8 = true;
  static void Dot8(const uint8_t* w_row, const BlockQ8* x, int64_t nb, const float* xds, const float* dx4,
                   const int32_t* sum4, float* y, int64_t ldy) {
    K::template Dot<8>(w_row, x, nb, xds, dx4, sum4, 0, y, ldy);
  }
};

struct Q8_0Kernel : EightRowsByDot<Q8_0Kernel> {
  static constexpr bool kNeedsXds = false;
  template <int NR>
  static void Dot(const uint8_t* w_row, const BlockQ8* x, int64_t nb, const float*, const float* dx4, const int32_t*,
                  int64_t, float* y, int64_t ldy) {
    const auto* w = reinterpret_cast<const BlockQ8_0*>(w_row);
    __m256 acc[NR];
    for (int i = 0; i < NR; ++i) acc[i] = _mm256_setzero_ps();
    for (int64_t b = 0; b < nb; ++b) {
      BlockDots<NR, true>(Load256(w[b].qs), _mm256_set1_ps(HalfToFloat(w[b].d)), x, nb, b, dx4, acc);
    }
    StoreAll<NR>(acc, nullptr, y, ldy);
  }
};

struct Q5_0Kernel : EightRowsByDot<Q5_0Kernel> {
  static constexpr bool kNeedsXds = false;
  template <int NR>
  static void Dot(const uint8_t* w_row, const BlockQ8* x, int64_t nb, const float*, const float* dx4,
                  const int32_t* sum4, int64_t, float* y, int64_t ldy) {
    const auto* w = reinterpret_cast<const BlockQ5_0*>(w_row);
    const __m256i sixteen = _mm256_set1_epi8(16);
    __m256 acc[NR];
    for (int i = 0; i < NR; ++i) acc[i] = _mm256_setzero_ps();
    for (int64_t b = 0; b < nb; ++b) {
      const __m256i q = Q5_0Levels(w[b].qs, w[b].qh);  // levels in [0, 31]
      const __m256 dw = _mm256_set1_ps(HalfToFloat(w[b].d));
      if constexpr (NR == 4 || NR == 8) {
        // q * x, less 16 * sum(x) per row: 8 * sum from each 128-bit half of the folded sums.
        for (int grp = 0; grp < NR / 4; ++grp) {
          const BlockQ8* xg = x + grp * 4 * nb;
          __m256i p[4];
          for (int i = 0; i < 4; ++i) p[i] = DotVnni(q, Load256(xg[i * nb + b].qs));
          const __m256i sums = _mm256_broadcastsi128_si256(Load128(sum4 + grp * 4 * nb + 4 * b));
          const __m256i folded = _mm256_sub_epi32(FoldRows4(p[0], p[1], p[2], p[3]), _mm256_slli_epi32(sums, 3));
          acc[grp] = AccumulateRows4(folded, dw, dx4 + grp * 4 * nb + 4 * b, acc[grp]);
        }
      } else {
        BlockDots<NR, true>(_mm256_sub_epi8(q, sixteen), dw, x, nb, b, dx4, acc);
      }
    }
    StoreAll<NR>(acc, nullptr, y, ldy);
  }
};

// The 8 six-bit scales (bytes 0..7) and mins (bytes 8..15) of a Q4_K block.
inline void UnpackScalesMinsK4(const uint8_t* packed, uint8_t out[16]) {
  constexpr uint32_t kLow6 = 0x3f3f3f3f, kLow4 = 0x0f0f0f0f, kLow2 = 0x03030303;
  uint32_t u[3];
  std::memcpy(u, packed, 12);
  const uint32_t words[4] = {
      u[0] & kLow6,
      (u[2] & kLow4) | (((u[0] >> 6) & kLow2) << 4),
      u[1] & kLow6,
      ((u[2] >> 4) & kLow4) | (((u[1] >> 6) & kLow2) << 4),
  };
  std::memcpy(out, words, 16);
}

struct Q4KKernel : EightRowsByDot<Q4KKernel> {
  static constexpr bool kNeedsXds = true;
  template <int NR>
  static void Dot(const uint8_t* w_row, const BlockQ8* x, int64_t nb, const float* xds, const float* dx4,
                  const int32_t*, int64_t, float* y, int64_t ldy) {
    const auto* w = reinterpret_cast<const BlockQ4_K*>(w_row);
    const int64_t nsb = nb / 8;
    const __m256i low_mask = _mm256_set1_epi8(0x0F);
    constexpr int kAcc = (NR == 4 || NR == 8) ? NR / 4 : NR;
    __m256 acc[kAcc];
    for (int i = 0; i < kAcc; ++i) acc[i] = _mm256_setzero_ps();
    __m256 min_acc[NR];  // per row: sum of dmin * min * d_x * sum(x)
    for (int i = 0; i < NR; ++i) min_acc[i] = _mm256_setzero_ps();
    for (int64_t s = 0; s < nsb; ++s) {
      const BlockQ4_K& blk = w[s];
      const float d = HalfToFloat(blk.d);
      alignas(16) uint8_t sm[16];
      UnpackScalesMinsK4(blk.scales, sm);
      const __m256 mins = _mm256_mul_ps(
          _mm256_set1_ps(HalfToFloat(blk.dmin)),
          _mm256_cvtepi32_ps(_mm256_cvtepu8_epi32(_mm_loadl_epi64(reinterpret_cast<const __m128i*>(sm + 8)))));
      for (int i = 0; i < NR; ++i) {
        min_acc[i] = _mm256_fmadd_ps(mins, _mm256_loadu_ps(xds + i * nb + 8 * s), min_acc[i]);
      }
      for (int pair = 0; pair < 4; ++pair) {
        // 32 bytes hold group 2 * pair in the low nibbles and group 2 * pair + 1 in the high.
        const __m256i bytes = Load256(blk.qs + 32 * pair);
        const __m256i groups[2] = {_mm256_and_si256(bytes, low_mask),
                                   _mm256_and_si256(_mm256_srli_epi16(bytes, 4), low_mask)};
        for (int half = 0; half < 2; ++half) {
          const int g = 2 * pair + half;
          // d * scale: an fp16 value times a 6-bit integer, exact in float.
          const __m256 dw = _mm256_set1_ps(d * static_cast<float>(sm[g]));
          BlockDots<NR, false>(groups[half], dw, x, nb, 8 * s + g, dx4, acc);
        }
      }
    }
    float mins_total[NR];
    for (int i = 0; i < NR; ++i) mins_total[i] = -HorizontalSum(min_acc[i]);
    StoreAll<NR>(acc, mins_total, y, ldy);
  }
};

struct Q6KKernel : EightRowsByDot<Q6KKernel> {
  static constexpr bool kNeedsXds = false;
  template <int NR>
  static void Dot(const uint8_t* w_row, const BlockQ8* x, int64_t nb, const float*, const float* dx4, const int32_t*,
                  int64_t, float* y, int64_t ldy) {
    const auto* w = reinterpret_cast<const BlockQ6_K*>(w_row);
    const int64_t nsb = nb / 8;
    const __m256i low_mask = _mm256_set1_epi8(0x0F);
    const __m256i two_bits = _mm256_set1_epi8(0x03);
    const __m256i thirty_two = _mm256_set1_epi8(32);
    constexpr int kAcc = (NR == 4 || NR == 8) ? NR / 4 : NR;
    __m256 acc[kAcc];
    for (int i = 0; i < kAcc; ++i) acc[i] = _mm256_setzero_ps();
    for (int64_t s = 0; s < nsb; ++s) {
      const BlockQ6_K& blk = w[s];
      // d * scale per 16 elements (fp16 times an int8: exact in float), 16 values.
      const __m128i scales = _mm_loadu_si128(reinterpret_cast<const __m128i*>(blk.scales));
      const __m256 d = _mm256_set1_ps(HalfToFloat(blk.d));
      alignas(32) float ds[16];
      _mm256_store_ps(ds, _mm256_mul_ps(d, _mm256_cvtepi32_ps(_mm256_cvtepi8_epi32(scales))));
      _mm256_store_ps(ds + 8, _mm256_mul_ps(d, _mm256_cvtepi32_ps(_mm256_cvtepi8_epi32(_mm_srli_si128(scales, 8)))));
      for (int b = 0; b < 8; ++b) {
        // 32-element run b, laid out as in VecDotQ6KQ8Avx2; levels q - 32 in [-32, 31].
        const uint8_t* ql = blk.ql + 64 * (b / 4) + 32 * (b % 2);
        const uint8_t* qh = blk.qh + 32 * (b / 4);
        const __m128i low_shift = _mm_cvtsi32_si128(4 * ((b % 4) / 2));
        const __m128i high_shift = _mm_cvtsi32_si128(2 * (b % 4));
        const __m256i low = _mm256_and_si256(_mm256_srl_epi16(Load256(ql), low_shift), low_mask);
        const __m256i high = _mm256_and_si256(_mm256_srl_epi16(Load256(qh), high_shift), two_bits);
        const __m256i levels = _mm256_sub_epi8(_mm256_or_si256(low, _mm256_slli_epi16(high, 4)), thirty_two);
        // Elements 0..15 (int32 lanes 0..3) take scales[2b], 16..31 (lanes 4..7) scales[2b + 1].
        const __m256 dw = _mm256_set_m128(_mm_set1_ps(ds[2 * b + 1]), _mm_set1_ps(ds[2 * b]));
        BlockDots<NR, true>(levels, dw, x, nb, 8 * s + b, dx4, acc);
      }
    }
    StoreAll<NR>(acc, nullptr, y, ldy);
  }
};

// --- packed panels: 8 weight rows interleaved, no horizontal sums ---
//
// A panel holds 8 weight rows unpacked to unsigned levels, 4 elements of each row in turn:
// byte 4 * row + e of the 32 at q + 256 * b + 32 * j is element 4 * j + e of block b of that
// row. One vpdpbusd of such 32 bytes against 4 activation bytes broadcast (signed) adds
// 4 products to each of 8 int32 lanes, lane = weight row: the 8 outputs of an activation row
// need no horizontal sums. The offset of the unsigned levels (offset * sum(x) per block or per
// half block) starts each int32 sum; scales (per weight row, block and half) multiply in float.
// Each panel is packed once per tile of activation rows and used by all of them. Two panels side
// by side (Panel16, 512-bit registers) take 16 weight rows at a time: each broadcast and each
// block's float epilogue then serves 16 outputs, not 8 (q5_0 GEMM at k = 2048, one thread:
// 213 -> 292 G ops/s); a last group of 8 rows or fewer takes the 256-bit kernel.

constexpr int kPanelRows = 8;
constexpr int64_t kPanelMaxBlocks = 256;  // k <= 8192; longer rows take the folded kernels
// Bytes of activation rows per tile: larger than the folded kernels' tile (a panel is packed
// once per tile, so fewer tiles pack less), still well inside a 1 MiB L2.
// (Gemma 3 270M pp512: 384 KiB ~3% faster than 128 KiB, 768 KiB no faster.)
constexpr int64_t kPanelTileBytes = 384 * 1024;
constexpr int64_t kPanelTableEntries = 65536;  // per-tile offset sums (and d * sum): 2 per block

// kRows weight rows: 8 (Panel, what the packers write), or 16 (Panel16: two of them side by
// side, per block and step of 4 elements panel a's 8 rows' 4 levels, then panel b's).
template <int kRows>
struct PanelOf {
  alignas(64) uint8_t q[kPanelMaxBlocks * 32 * kRows];   // [b][step of 4 elements][row][4]
  alignas(64) float scale[kPanelMaxBlocks * 2 * kRows];  // [b][half][row]
  alignas(64) float min[kPanelMaxBlocks * kRows];        // [b][row], kHasMins only
};
using Panel = PanelOf<kPanelRows>;
using Panel16 = PanelOf<2 * kPanelRows>;

// Block levels (32 bytes) of panel row `row` into the panel's layout.
inline void PutLevels(Panel* p, int64_t b, int row, const uint8_t levels[32]) {
  uint8_t* dst = p->q + 256 * b + 4 * row;
  for (int j = 0; j < 8; ++j) std::memcpy(dst + 32 * j, levels + 4 * j, 4);
}

// One block's 32 levels (a vector) and its scale into panel row `row`.
inline void PutBlock(Panel* p, int64_t b, int row, __m256i levels, float scale) {
  alignas(32) uint8_t bytes[32];
  _mm256_store_si256(reinterpret_cast<__m256i*>(bytes), levels);
  PutLevels(p, b, row, bytes);
  p->scale[(b * 2) * kPanelRows + row] = scale;
}

// A packer P provides kOffset (levels = signed level + kOffset), kHalves (1, or 2 for a scale
// per 16 elements), kHasMins (a float min * d_x * sum(x) subtracted per block), and
// static void Pack(const uint8_t* w_row, int64_t nb, int row, Panel* p), or, for a layout of
// whole panels (X8Packer, Q4_KX8Packer), static void PackPanel(const uint8_t* w_panel, int64_t nb, Panel* p).

struct Q8_0Packer {
  static constexpr int kOffset = 128;
  static constexpr int kHalves = 1;
  static constexpr bool kHasMins = false;
  static void Pack(const uint8_t* w_row, int64_t nb, int row, Panel* p) {
    const auto* w = reinterpret_cast<const BlockQ8_0*>(w_row);
    for (int64_t b = 0; b < nb; ++b) {
      PutBlock(p, b, row, _mm256_xor_si256(Load256(w[b].qs), _mm256_set1_epi8(static_cast<char>(0x80))),
               HalfToFloat(w[b].d));
    }
  }
};

struct Q5_0Packer {
  static constexpr int kOffset = 16;
  static constexpr int kHalves = 1;
  static constexpr bool kHasMins = false;
  static void Pack(const uint8_t* w_row, int64_t nb, int row, Panel* p) {
    const auto* w = reinterpret_cast<const BlockQ5_0*>(w_row);
    for (int64_t b = 0; b < nb; ++b) PutBlock(p, b, row, Q5_0Levels(w[b].qs, w[b].qh), HalfToFloat(w[b].d));
  }
};

struct Q4KPacker {
  static constexpr int kOffset = 0;
  static constexpr int kHalves = 1;
  static constexpr bool kHasMins = true;
  static void Pack(const uint8_t* w_row, int64_t nb, int row, Panel* p) {
    const auto* w = reinterpret_cast<const BlockQ4_K*>(w_row);
    const __m256i low_mask = _mm256_set1_epi8(0x0F);
    for (int64_t s = 0; s < nb / 8; ++s) {
      const BlockQ4_K& blk = w[s];
      const float d = HalfToFloat(blk.d), dmin = HalfToFloat(blk.dmin);
      alignas(16) uint8_t sm[16];
      UnpackScalesMinsK4(blk.scales, sm);
      for (int pair = 0; pair < 4; ++pair) {
        const __m256i bytes = Load256(blk.qs + 32 * pair);
        alignas(32) uint8_t levels[2][32];
        _mm256_store_si256(reinterpret_cast<__m256i*>(levels[0]), _mm256_and_si256(bytes, low_mask));
        _mm256_store_si256(reinterpret_cast<__m256i*>(levels[1]),
                           _mm256_and_si256(_mm256_srli_epi16(bytes, 4), low_mask));
        for (int half = 0; half < 2; ++half) {
          const int g = 2 * pair + half;
          const int64_t b = 8 * s + g;
          PutLevels(p, b, row, levels[half]);
          p->scale[(b * 2) * kPanelRows + row] = d * static_cast<float>(sm[g]);
          p->min[b * kPanelRows + row] = dmin * static_cast<float>(sm[8 + g]);
        }
      }
    }
  }
};

// q8_0x8, q5_0x8 and q4_1x8 panels (x8_layouts_avx512.h): each block's levels, as the decode
// GEMV makes them, are the panel's 256 levels in its order; the rows' d (and -m) its scales (and
// mins).
template <class L>
struct X8Packer {
  static_assert(kQ8_0X8Rows == kPanelRows && kQ5_0X8Rows == kPanelRows && kQ4_1X8Rows == kPanelRows);
  static constexpr int kOffset = L::kOffset;
  static constexpr int kHalves = 1;
  static constexpr bool kHasMins = L::kMinsAt != 0;
  static void PackPanel(const uint8_t* w_panel, int64_t nb, Panel* p) {
    const uint8_t* blk = w_panel;
    for (int64_t b = 0; b < nb; ++b, blk += L::kBlockBytes) {
      _mm256_store_ps(p->scale + (b * 2) * kPanelRows, _mm256_cvtph_ps(Load128(blk)));
      if constexpr (kHasMins)  // value d * q + m: the panel subtracts min * d_x * sum(x)
        _mm256_store_ps(p->min + b * kPanelRows,
                        _mm256_xor_ps(_mm256_cvtph_ps(Load128(blk + L::kMinsAt)), _mm256_set1_ps(-0.0f)));
      __m512i v[4];
      L::Levels(blk, v);
      for (int u = 0; u < 4; ++u) _mm512_store_si512(p->q + 256 * b + 64 * u, v[u]);
    }
  }
};

// q4_kx8 panels (gemv_avx512.h), 8 rows as the panel has them: each 32-byte step of nibbles,
// masked and shifted, is already 4 levels of each row of two blocks, in the panel's order.
struct Q4_KX8Packer {
  static_assert(kQ4_KX8Rows == kPanelRows);
  static constexpr int kOffset = 0;
  static constexpr int kHalves = 1;
  static constexpr bool kHasMins = true;
  static void PackPanel(const uint8_t* w_panel, int64_t nb, Panel* p) {
    const __m256i low4 = _mm256_set1_epi8(0x0F);
    const uint8_t* sb = w_panel;
    for (int64_t s = 0; s < nb / 8; ++s, sb += kPanelRows * static_cast<int64_t>(sizeof(BlockQ4_K))) {
      for (int row = 0; row < kPanelRows; ++row) {
        uint16_t d, dmin;
        std::memcpy(&d, sb + 2 * row, 2);
        std::memcpy(&dmin, sb + kQ4_KX8DminAt + 2 * row, 2);
        uint8_t packed[12];
        for (int u = 0; u < 3; ++u) std::memcpy(packed + 4 * u, sb + kQ4_KX8ScalesAt + 32 * u + 4 * row, 4);
        alignas(16) uint8_t sm[16];
        UnpackScalesMinsK4(packed, sm);
        const float df = HalfToFloat(d), dminf = HalfToFloat(dmin);
        for (int g = 0; g < 8; ++g) {
          p->scale[((8 * s + g) * 2) * kPanelRows + row] = df * static_cast<float>(sm[g]);
          p->min[(8 * s + g) * kPanelRows + row] = dminf * static_cast<float>(sm[8 + g]);
        }
      }
      for (int j = 0; j < 4; ++j) {
        for (int t = 0; t < 8; ++t) {
          const __m256i v = Load256(sb + kQ4_KX8QsAt + 32 * (8 * j + t));
          _mm256_store_si256(reinterpret_cast<__m256i*>(p->q + 256 * (8 * s + 2 * j) + 32 * t),
                             _mm256_and_si256(v, low4));
          _mm256_store_si256(reinterpret_cast<__m256i*>(p->q + 256 * (8 * s + 2 * j + 1) + 32 * t),
                             _mm256_and_si256(_mm256_srli_epi16(v, 4), low4));
        }
      }
    }
  }
};

struct Q6KPacker {
  static constexpr int kOffset = 32;
  static constexpr int kHalves = 2;
  static constexpr bool kHasMins = false;
  static void Pack(const uint8_t* w_row, int64_t nb, int row, Panel* p) {
    const auto* w = reinterpret_cast<const BlockQ6_K*>(w_row);
    const __m256i low_mask = _mm256_set1_epi8(0x0F);
    const __m256i two_bits = _mm256_set1_epi8(0x03);
    for (int64_t s = 0; s < nb / 8; ++s) {
      const BlockQ6_K& blk = w[s];
      const float d = HalfToFloat(blk.d);
      for (int b = 0; b < 8; ++b) {
        const uint8_t* ql = blk.ql + 64 * (b / 4) + 32 * (b % 2);
        const uint8_t* qh = blk.qh + 32 * (b / 4);
        const __m128i low_shift = _mm_cvtsi32_si128(4 * ((b % 4) / 2));
        const __m128i high_shift = _mm_cvtsi32_si128(2 * (b % 4));
        const __m256i low = _mm256_and_si256(_mm256_srl_epi16(Load256(ql), low_shift), low_mask);
        const __m256i high = _mm256_and_si256(_mm256_srl_epi16(Load256(qh), high_shift), two_bits);
        alignas(32) uint8_t levels[32];  // q in [0, 63]
        _mm256_store_si256(reinterpret_cast<__m256i*>(levels), _mm256_or_si256(low, _mm256_slli_epi16(high, 4)));
        const int64_t jb = 8 * s + b;
        PutLevels(p, jb, row, levels);
        p->scale[(jb * 2) * kPanelRows + row] = d * static_cast<float>(blk.scales[2 * b]);
        p->scale[(jb * 2 + 1) * kPanelRows + row] = d * static_cast<float>(blk.scales[2 * b + 1]);
      }
    }
  }
};

// The vector width of a panel kernel: V::kRows weight rows (one int32 / float lane each) in one
// register, 256-bit for 8-row panels, 512-bit for 16.
struct Vec256 {
  static constexpr int kRows = 8;
  using I = __m256i;
  using F = __m256;
  static I Set1(int32_t v) { return _mm256_set1_epi32(v); }
  static I Load(const uint8_t* p) { return _mm256_load_si256(reinterpret_cast<const __m256i*>(p)); }
  static I Dot(I acc, I w, I x) { return _mm256_dpbusd_epi32(acc, w, x); }
  static F Zero() { return _mm256_setzero_ps(); }
  static F Set1(float v) { return _mm256_set1_ps(v); }
  static F Load(const float* p) { return _mm256_load_ps(p); }
  static F Cvt(I v) { return _mm256_cvtepi32_ps(v); }
  static F Mul(F a, F b) { return _mm256_mul_ps(a, b); }
  static F Fmadd(F a, F b, F c) { return _mm256_fmadd_ps(a, b, c); }
  static F Fnmadd(F a, F b, F c) { return _mm256_fnmadd_ps(a, b, c); }
  static void Store(float* y, int n, F v) {
    if (n == kRows) {
      _mm256_storeu_ps(y, v);
    } else {
      _mm256_mask_storeu_ps(y, static_cast<__mmask8>((1u << n) - 1), v);
    }
  }
};

struct Vec512 {
  static constexpr int kRows = 16;
  using I = __m512i;
  using F = __m512;
  static I Set1(int32_t v) { return _mm512_set1_epi32(v); }
  static I Load(const uint8_t* p) { return _mm512_load_si512(p); }
  static I Dot(I acc, I w, I x) { return _mm512_dpbusd_epi32(acc, w, x); }
  static F Zero() { return _mm512_setzero_ps(); }
  static F Set1(float v) { return _mm512_set1_ps(v); }
  static F Load(const float* p) { return _mm512_load_ps(p); }
  // maskz with all lanes: GCC 12's _mm512_cvtepi32_ps starts from an undefined vector and warns
  // (-Wmaybe-uninitialized); the result is the same.
  static F Cvt(I v) { return _mm512_maskz_cvtepi32_ps(0xFFFF, v); }
  static F Mul(F a, F b) { return _mm512_mul_ps(a, b); }
  static F Fmadd(F a, F b, F c) { return _mm512_fmadd_ps(a, b, c); }
  static F Fnmadd(F a, F b, F c) { return _mm512_fnmadd_ps(a, b, c); }
  static void Store(float* y, int n, F v) { _mm512_mask_storeu_ps(y, static_cast<__mmask16>((1u << n) - 1), v); }
};

// NR activation rows (row i at x + i * nb) against one panel of V::kRows weight rows: V::kRows
// outputs per row, lanes < n_out stored to y[i * ldy + lane]. corr + (i * nb + b) * kHalves:
// -kOffset * sum(x) of block b (per half); xds + i * nb + b: d_x * sum(x) (kHasMins). Each
// broadcast of 4 activation bytes and each block's float epilogue serve V::kRows outputs.
template <class P, int NR, class V>
inline void PanelRows(const PanelOf<V::kRows>& p, const BlockQ8* x, int64_t nb, const int32_t* corr, const float* xds,
                      int n_out, float* y, int64_t ldy) {
  constexpr int H = P::kHalves, R = V::kRows;
  typename V::F acc[NR];
  for (int i = 0; i < NR; ++i) acc[i] = V::Zero();
  for (int64_t b = 0; b < nb; ++b) {
    typename V::I isum[NR][H];
#pragma GCC unroll 8
    for (int i = 0; i < NR; ++i) {
      for (int h = 0; h < H; ++h) isum[i][h] = V::Set1(corr[(i * nb + b) * H + h]);
    }
    const uint8_t* q = p.q + 32 * R * b;
#pragma GCC unroll 8
    for (int j = 0; j < 8; ++j) {
      const typename V::I wq = V::Load(q + 4 * R * j);
      const int h = H == 2 ? j / 4 : 0;
#pragma GCC unroll 8
      for (int i = 0; i < NR; ++i) {
        int32_t xw;
        std::memcpy(&xw, x[i * nb + b].qs + 4 * j, sizeof(xw));
        isum[i][h] = V::Dot(isum[i][h], wq, V::Set1(xw));
      }
    }
#pragma GCC unroll 8
    for (int i = 0; i < NR; ++i) {
      const typename V::F dx = V::Set1(x[i * nb + b].d);
      for (int h = 0; h < H; ++h) {
        const typename V::F scale = V::Load(p.scale + (b * 2 + h) * R);
        acc[i] = V::Fmadd(V::Cvt(isum[i][h]), V::Mul(scale, dx), acc[i]);
      }
      if constexpr (P::kHasMins) acc[i] = V::Fnmadd(V::Load(p.min + b * R), V::Set1(xds[i * nb + b]), acc[i]);
    }
  }
  for (int i = 0; i < NR; ++i) V::Store(y + i * ldy, n_out, acc[i]);
}

// Two 8-row panels side by side (Panel16), for the 512-bit kernel.
template <class P>
inline void MergePanels(const Panel& a, const Panel& b, int64_t nb, Panel16* p) {
  for (int64_t blk = 0; blk < nb; ++blk) {
    for (int j = 0; j < 8; ++j) {
      std::memcpy(p->q + 512 * blk + 64 * j, a.q + 256 * blk + 32 * j, 32);
      std::memcpy(p->q + 512 * blk + 64 * j + 32, b.q + 256 * blk + 32 * j, 32);
    }
    for (int h = 0; h < P::kHalves; ++h) {
      const int64_t at = (blk * 2 + h) * kPanelRows;
      std::memcpy(p->scale + 2 * at, a.scale + at, sizeof(float) * kPanelRows);
      std::memcpy(p->scale + 2 * at + kPanelRows, b.scale + at, sizeof(float) * kPanelRows);
    }
    if constexpr (P::kHasMins) {
      const int64_t at = blk * kPanelRows;
      std::memcpy(p->min + 2 * at, a.min + at, sizeof(float) * kPanelRows);
      std::memcpy(p->min + 2 * at + kPanelRows, b.min + at, sizeof(float) * kPanelRows);
    }
  }
}

// Per-thread scratch of the panel GEMMs, one for every layout (736 KiB), made on a thread's first
// panel GEMM: static TLS of that size would be carved out of every thread's stack, GEMM or not.
struct PanelScratch {
  Panel panel, panel_b;
  Panel16 panel16;
  alignas(64) int32_t corr[kPanelTableEntries];
  alignas(64) float xds[kPanelTableEntries / 2];  // kHasMins layouts only
};

PanelScratch& ThreadPanelScratch() {
  thread_local std::unique_ptr<PanelScratch> scratch;
  if (scratch == nullptr) scratch = std::make_unique<PanelScratch>();
  return *scratch;
}

template <class P>
void GemmPanels(const void* w, size_t row_stride, int64_t n_w, const BlockQ8* x, int64_t n_x, int64_t k, float* y,
                int64_t ldy) {
  constexpr int H = P::kHalves;
  constexpr int kStep = H == 2 ? 4 : 8;  // activation rows per step (registers: NR * H int32 sums)
  const int64_t nb = k / ref::kQ8Block;
  const auto* base = static_cast<const uint8_t*>(w);
  int64_t tile = Max(kStep, kPanelTileBytes / Max(1, nb * static_cast<int64_t>(sizeof(BlockQ8))));
  tile = Min(tile, kPanelTableEntries / (2 * Max(1, nb)));
  PanelScratch& scratch = ThreadPanelScratch();
  Panel &panel = scratch.panel, &panel_b = scratch.panel_b;
  Panel16& panel16 = scratch.panel16;
  int32_t* corr = scratch.corr;
  float* xds = scratch.xds;
  for (int64_t r0 = 0; r0 < n_x; r0 += tile) {
    const int64_t rows = Min(tile, n_x - r0);
    const BlockQ8* xt = x + r0 * nb;
    for (int64_t e = 0; e < rows * nb; ++e) {
      if constexpr (H == 2) {
        int32_t low = 0;
        for (int l = 0; l < 16; ++l) low += xt[e].qs[l];
        corr[2 * e] = -P::kOffset * low;
        corr[2 * e + 1] = -P::kOffset * (xt[e].sum - low);
      } else {
        corr[e] = -P::kOffset * xt[e].sum;
      }
      if constexpr (P::kHasMins) xds[e] = xt[e].d * static_cast<float>(xt[e].sum);
    }
    float* yt = y + r0 * ldy;
    // Weight rows o .. o + n - 1 (n <= 8) into panel q.
    const auto pack = [&](int64_t o, int n, Panel* q) {
      if constexpr (requires { &P::PackPanel; }) {  // a layout of whole panels: n_w a multiple of kPanelRows
        P::PackPanel(base + o * static_cast<int64_t>(row_stride), nb, q);
      } else {
        // Rows past n_w repeat the last one (their lanes are not stored).
        for (int row = 0; row < kPanelRows; ++row) {
          P::Pack(base + (o + Min(row, n - 1)) * static_cast<int64_t>(row_stride), nb, row, q);
        }
      }
    };
    // Every tile row against panel q: steps of kStep rows, then one at a time.
    const auto run_rows = [&]<class V>(const PanelOf<V::kRows>& q, int64_t o0, int n_out) {
      const int64_t xc = P::kHasMins ? 1 : 0;
      int64_t r = 0;
      for (; r + kStep <= rows; r += kStep) {
        PanelRows<P, kStep, V>(q, xt + r * nb, nb, corr + r * nb * H, xds + xc * r * nb, n_out, yt + r * ldy + o0, ldy);
      }
      for (; r < rows; ++r) {
        PanelRows<P, 1, V>(q, xt + r * nb, nb, corr + r * nb * H, xds + xc * r * nb, n_out, yt + r * ldy + o0, ldy);
      }
    };
    for (int64_t o0 = 0; o0 < n_w;) {
      const int n_out = static_cast<int>(Min(2 * kPanelRows, n_w - o0));
      if (n_out > kPanelRows) {
        pack(o0, kPanelRows, &panel);
        pack(o0 + kPanelRows, n_out - kPanelRows, &panel_b);
        MergePanels<P>(panel, panel_b, nb, &panel16);
        run_rows.template operator()<Vec512>(panel16, o0, n_out);
      } else {
        pack(o0, n_out, &panel);
        run_rows.template operator()<Vec256>(panel, o0, n_out);
      }
      o0 += n_out;
    }
  }
}

// Panels for prefill-sized products (packing a panel pays off over >= 8 activation rows), the
// folded kernels for fewer rows or rows longer than a panel holds.
template <class K, class P>
void GemmQ8Checked(const void* w, size_t row_stride, int64_t n_w, const BlockQ8* x, int64_t n_x, int64_t k, float* y,
                   int64_t ldy, DotFn dot) {
  if (k / ref::kQ8Block > kXdsFloats) return gemm_tiles::GemmByVecDot<K>(dot, w, row_stride, n_w, x, n_x, k, y, ldy);
  if (n_x >= 8 && k / ref::kQ8Block <= kPanelMaxBlocks) return GemmPanels<P>(w, row_stride, n_w, x, n_x, k, y, ldy);
  GemmTiles<K>(w, row_stride, n_w, x, n_x, k, y, ldy);
}

}  // namespace

#define TLM_GEMM_Q8_AVX512(name, kernel, packer, vec_dot)                                                      \
  void name(const void* w, size_t row_stride, int64_t n_w, const BlockQ8* x, int64_t n_x, int64_t k, float* y, \
            int64_t ldy) {                                                                                     \
    GemmQ8Checked<kernel, packer>(w, row_stride, n_w, x, n_x, k, y, ldy, &vec_dot);                            \
  }
TLM_GEMM_Q8_AVX512(GemmQ8_0Q8Avx512Vnni, Q8_0Kernel, Q8_0Packer, VecDotQ8_0Q8Avx2)
TLM_GEMM_Q8_AVX512(GemmQ5_0Q8Avx512Vnni, Q5_0Kernel, Q5_0Packer, VecDotQ5_0Q8Avx2)
TLM_GEMM_Q8_AVX512(GemmQ4KQ8Avx512Vnni, Q4KKernel, Q4KPacker, VecDotQ4KQ8Avx2)
TLM_GEMM_Q8_AVX512(GemmQ6KQ8Avx512Vnni, Q6KKernel, Q6KPacker, VecDotQ6KQ8Avx2)
#undef TLM_GEMM_Q8_AVX512

namespace {

// The prefill product over rows repacked at load (gemv_avx512.h): 8 activation rows or more
// through the packed-panel GEMM (P unpacks the layout into panels), fewer as that many GEMVs.
using RowsFn = void (*)(const void* w, size_t row_stride, int64_t n_rows, const BlockQ8* x, int64_t n, float* y);

template <class P>
void GemmPackedRows(RowsFn rows, const void* w, size_t row_stride, int64_t n_w, const BlockQ8* x, int64_t n_x,
                    int64_t k, float* y, int64_t ldy) {
  const int64_t nb = k / ref::kQ8Block;
  if (n_x >= 8 && nb <= kPanelMaxBlocks && nb <= kXdsFloats)
    return GemmPanels<P>(w, row_stride, n_w, x, n_x, k, y, ldy);
  for (int64_t r = 0; r < n_x; ++r) rows(w, row_stride, n_w, x + r * nb, k, y + r * ldy);
}

}  // namespace

// The prefill entries over the repacked layouts: a packer for the panels, the layout's GEMV
// for fewer activation rows.
#define TLM_GEMM_PACKED_AVX512(name, packer, rows)                                                             \
  void name(const void* w, size_t row_stride, int64_t n_w, const BlockQ8* x, int64_t n_x, int64_t k, float* y, \
            int64_t ldy) {                                                                                     \
    GemmPackedRows<packer>(&rows, w, row_stride, n_w, x, n_x, k, y, ldy);                                      \
  }
TLM_GEMM_PACKED_AVX512(GemmQ4_1X8Q8Avx512Vnni, X8Packer<x8::Q4_1X8>, VecDotRowsQ4_1X8Q8Avx512Vnni)
TLM_GEMM_PACKED_AVX512(GemmQ5_0X8Q8Avx512Vnni, X8Packer<x8::Q5_0X8>, VecDotRowsQ5_0X8Q8Avx512Vnni)
TLM_GEMM_PACKED_AVX512(GemmQ8_0X8Q8Avx512Vnni, X8Packer<x8::Q8_0X8>, VecDotRowsQ8_0X8Q8Avx512Vnni)
TLM_GEMM_PACKED_AVX512(GemmQ4_KX8Q8Avx512Vnni, Q4_KX8Packer, VecDotRowsQ4_KX8Q8Avx512Vnni)
#undef TLM_GEMM_PACKED_AVX512

}  // namespace tlm::cpu::x86
