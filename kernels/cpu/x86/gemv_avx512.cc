// AVX-512 VNNI decode GEMVs (gemv_avx512.h): Q8_0, Q5_0, Q4_1 and Q4_K over layouts repacked
// at load (q8_0x8, q5_0x8, q4_1x8, q4_kx8), Q4_K and Q6_K over the model's rows. Each tabulates
// per call what it needs of the activations (the one-row kernels: levels in the order their loads
// give the weights; the 8-row ones: per-block factors, and the activation bytes in the order of
// the levels or broadcast from x itself), then reads the rows, or panels of 8, one after another:
// one sequential stream. The packed layouts' kernels and Q6_K's also come as q8x2 variants
// (…Q8x2…): two activation rows, the activations and their rounding residue, against each weight
// vector unpacked once. Every kernel prefetches the weights it will read next (PrefetchAhead).
// Built with -mavx512f/bw/vl/vnni on top of the AVX2 flags: only the dispatch table calls it.
#include "kernels/cpu/x86/gemv_avx512.h"

// GCC 12's 512-bit intrinsics pass _mm512_undefined_*() through, which -Wmaybe-uninitialized
// reports once inlined (GCC bug 105593, fixed in GCC 13).
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#include <immintrin.h>

#include <cstdint>
#include <cstring>

#include "kernels/cpu/ref/blocks.h"
#include "kernels/cpu/x86/avx2_kernels.h"
#include "kernels/cpu/x86/avx2_util.h"
#include "kernels/cpu/x86/x8_layouts_avx512.h"

namespace tlm::cpu::x86 {

namespace {
// The decode kernels read each weight byte once, in order, in streams of a few hundred KiB to
// 170 MiB (Gemma 3 270M's LM head). Each step asks for the same bytes 4 KiB ahead into L1 and
// 16 KiB ahead into L2: the hardware prefetchers alone leave a core short of the memory's
// bandwidth while it computes. Gemma decode on the 2-core Intel Xeon VM (docs/performance.md):
// q8 ~103 -> ~130 t/s, q8x2 ~80 -> ~125 t/s (the L2 step adds 6-10% to q8x2, whose kernels
// compute longer per byte, and nothing measurable to q8; one step at 2, 8 or 16 KiB was no
// better than at 4). Prefetches past the end do not fault.
constexpr int64_t kPrefetchL1Ahead = 4096, kPrefetchL2Ahead = 16384;
inline void PrefetchAhead(const uint8_t* p, int64_t bytes) {
  // Addresses, not pointers into the buffer: past its end, there is nothing to point into.
  const uintptr_t l1 = reinterpret_cast<uintptr_t>(p) + kPrefetchL1Ahead;
  const uintptr_t l2 = reinterpret_cast<uintptr_t>(p) + kPrefetchL2Ahead;
  for (int64_t l = 0; l < bytes; l += 64) {
    _mm_prefetch(reinterpret_cast<const char*>(l1 + l), _MM_HINT_T0);
    _mm_prefetch(reinterpret_cast<const char*>(l2 + l), _MM_HINT_T1);
  }
}
}  // namespace

using ref::BlockQ4_1;
using ref::BlockQ4_K;
using ref::BlockQ5_0;
using ref::BlockQ6_K;
using ref::BlockQ8;
using ref::BlockQ8_0;

namespace {

uint32_t Load32(const uint8_t* p) {
  uint32_t v;
  std::memcpy(&v, p, sizeof(v));
  return v;
}

}  // namespace

// Q4_K, superblock by superblock (8 groups of 32): its 128 bytes of nibbles are two 64-byte
// loads, and each, masked or shifted, is two groups' levels (bytes 0..31 the levels of group 2j
// or 2j + 1, bytes 32..63 those of group 2j + 2 or 2j + 3); vpdpbusd against the activations
// tabulated in that order leaves each group's partial sums in 8 lanes, which convert and take
// their group's d * scale * d_x in one FMA (a permute of the superblock's 8 factors), so the
// group sums are never folded per superblock (the AVX2 kernel's 6 hadd and a vpmulld). Mins:
// one FMA of the 8 mins against d_x * sum(x) per superblock.
void VecDotRowsQ4KQ8Avx512Vnni(const void* w, size_t row_stride, int64_t n_rows, const BlockQ8* x, int64_t n,
                               float* y) {
  constexpr int64_t kMaxGroups = kQ4KAvx512MaxElems / ref::kQ8Block;
  if (n > kQ4KAvx512MaxElems) return VecDotRowsQ4KQ8Avx2(w, row_stride, n_rows, x, n, y);
  const int64_t nsb = n / ref::kQK;
  // Group j of a superblock's levels as the loads give them: 0, 2, 1, 3, 4, 6, 5, 7.
  constexpr int kLoadOrder[8] = {0, 2, 1, 3, 4, 6, 5, 7};
  alignas(64) int8_t xq[kMaxGroups * ref::kQ8Block];
  alignas(32) float dx[kMaxGroups];
  alignas(32) float xds[kMaxGroups];
  for (int64_t s = 0; s < nsb; ++s) {
    for (int j = 0; j < 8; ++j) {
      const BlockQ8& g = x[s * 8 + kLoadOrder[j]];
      std::memcpy(xq + (s * 8 + j) * ref::kQ8Block, g.qs, ref::kQ8Block);
      dx[s * 8 + j] = x[s * 8 + j].d;
      xds[s * 8 + j] = x[s * 8 + j].d * static_cast<float>(x[s * 8 + j].sum);
    }
  }
  const __m512i low4 = _mm512_set1_epi8(0x0F);
  // Lanes 0..7 take the factor of the first group of a load, 8..15 the second's.
  const __m512i pick0 = _mm512_set_epi32(2, 2, 2, 2, 2, 2, 2, 2, 0, 0, 0, 0, 0, 0, 0, 0);
  const __m512i pick1 = _mm512_set_epi32(3, 3, 3, 3, 3, 3, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1);
  const __m512i pick2 = _mm512_set_epi32(6, 6, 6, 6, 6, 6, 6, 6, 4, 4, 4, 4, 4, 4, 4, 4);
  const __m512i pick3 = _mm512_set_epi32(7, 7, 7, 7, 7, 7, 7, 7, 5, 5, 5, 5, 5, 5, 5, 5);
  const auto* base = static_cast<const uint8_t*>(w);
  for (int64_t o = 0; o < n_rows; ++o) {
    const auto* row = reinterpret_cast<const BlockQ4_K*>(base + o * static_cast<int64_t>(row_stride));
    __m512 acc0 = _mm512_setzero_ps(), acc1 = _mm512_setzero_ps();
    __m512 acc2 = _mm512_setzero_ps(), acc3 = _mm512_setzero_ps();
    __m256 min_acc = _mm256_setzero_ps();
    for (int64_t s = 0; s < nsb; ++s) {
      const BlockQ4_K& b = row[s];
      PrefetchAhead(reinterpret_cast<const uint8_t*>(&b), sizeof(BlockQ4_K));
      const __m128i scales_mins = UnpackScalesMinsK4(b.scales);
      const __m256 factors = _mm256_mul_ps(_mm256_cvtepi32_ps(_mm256_cvtepu8_epi32(scales_mins)),
                                           _mm256_mul_ps(_mm256_set1_ps(HalfToFloat(b.d)), _mm256_load_ps(dx + 8 * s)));
      const __m512 f = _mm512_castps256_ps512(factors);  // lanes 8..15 never picked
      const __m512i q0 = _mm512_loadu_si512(b.qs), q1 = _mm512_loadu_si512(b.qs + 64);
      const int8_t* xs = xq + s * 256;
      const __m512i d0 = _mm512_dpbusd_epi32(_mm512_setzero_si512(), _mm512_and_si512(q0, low4), _mm512_load_si512(xs));
      const __m512i d1 = _mm512_dpbusd_epi32(_mm512_setzero_si512(), _mm512_and_si512(_mm512_srli_epi16(q0, 4), low4),
                                             _mm512_load_si512(xs + 64));
      const __m512i d2 =
          _mm512_dpbusd_epi32(_mm512_setzero_si512(), _mm512_and_si512(q1, low4), _mm512_load_si512(xs + 128));
      const __m512i d3 = _mm512_dpbusd_epi32(_mm512_setzero_si512(), _mm512_and_si512(_mm512_srli_epi16(q1, 4), low4),
                                             _mm512_load_si512(xs + 192));
      acc0 = _mm512_fmadd_ps(_mm512_cvtepi32_ps(d0), _mm512_permutexvar_ps(pick0, f), acc0);
      acc1 = _mm512_fmadd_ps(_mm512_cvtepi32_ps(d1), _mm512_permutexvar_ps(pick1, f), acc1);
      acc2 = _mm512_fmadd_ps(_mm512_cvtepi32_ps(d2), _mm512_permutexvar_ps(pick2, f), acc2);
      acc3 = _mm512_fmadd_ps(_mm512_cvtepi32_ps(d3), _mm512_permutexvar_ps(pick3, f), acc3);
      const __m256 mins = _mm256_cvtepi32_ps(_mm256_cvtepu8_epi32(_mm_srli_si128(scales_mins, 8)));
      min_acc = _mm256_fmadd_ps(_mm256_mul_ps(mins, _mm256_set1_ps(HalfToFloat(b.dmin))), _mm256_load_ps(xds + 8 * s),
                                min_acc);
    }
    y[o] = _mm512_reduce_add_ps(_mm512_add_ps(_mm512_add_ps(acc0, acc1), _mm512_add_ps(acc2, acc3))) -
           HorizontalSum(min_acc);
  }
}

// The layouts of 8 interleaved rows: for each panel of 8 rows and each block (a superblock for
// Q4_K) in row order, put(block of row r, r, the panel block's bytes) fills the panel block's
// sizeof(Block) * 8 bytes.
namespace {
template <class Block, class Put>
void PackPanelsOf8(const void* w, size_t row_stride, int64_t n_rows, int64_t blocks, void* dst, Put put) {
  auto* out = static_cast<uint8_t*>(dst);
  for (int64_t p = 0; p < n_rows / 8; ++p) {
    for (int64_t b = 0; b < blocks; ++b, out += 8 * sizeof(Block)) {
      for (int r = 0; r < 8; ++r) {
        const auto* row = static_cast<const uint8_t*>(w) + (8 * p + r) * static_cast<int64_t>(row_stride);
        put(reinterpret_cast<const Block*>(row)[b], r, out);
      }
    }
  }
}

constexpr int64_t kX8SuperblockBytes = kQ4_KX8Rows * static_cast<int64_t>(sizeof(BlockQ4_K));  // 1152
}  // namespace

void PackRowsQ4_KX8(const void* w, size_t row_stride, int64_t n_rows, int64_t n, void* dst) {
  static_assert(kQ4_KX8Rows == 8);
  PackPanelsOf8<BlockQ4_K>(w, row_stride, n_rows, n / ref::kQK, dst, [](const BlockQ4_K& b, int r, uint8_t* out) {
    std::memcpy(out + 2 * r, &b.d, 2);
    std::memcpy(out + kQ4_KX8DminAt + 2 * r, &b.dmin, 2);
    for (int u = 0; u < 3; ++u) std::memcpy(out + kQ4_KX8ScalesAt + 32 * u + 4 * r, b.scales + 4 * u, 4);
    for (int step = 0; step < 32; ++step) std::memcpy(out + kQ4_KX8QsAt + 32 * step + 4 * r, b.qs + 4 * step, 4);
  });
}

// Eight rows at a time (q4_kx8), 256-bit: per 32-byte quarter j of a superblock, 8 loads, each
// masked (group 2j's levels) and masked high (16 times group 2j + 1's), against 4 activations
// broadcast, leave each row's two exact group sums in its own lane; vpmulld by the group's 6-bit
// scale (a byte shuffled out of the scale words), one conversion and one FMA with d_x (d_x / 16
// for the high group), and per superblock one FMA with the rows' d. The mins: per group one
// conversion and one FMA with d_x * sum(x), per superblock one with the rows' dmin. About 60% of
// the vector work per byte of the one-row kernel above, which is compute-bound on one core.
namespace {

// kX activation rows against the same weights (q8x2: the activations and their residue), each
// quarter's weights loaded and masked once for all of them; the mins' term takes the sum of
// their d * sum(x).
template <int kX>
void Q4_KX8Rows(const void* w, size_t row_stride, int64_t n_rows, const BlockQ8* const* xs, int64_t n, float* y) {
  constexpr int64_t kMaxBlocks = kQ4_KX8MaxElems / ref::kQ8Block;
  const int64_t nsb = n / ref::kQK, nb = n / ref::kQ8Block;
  alignas(32) float dx16[kX][kMaxBlocks], xds[kMaxBlocks];
  for (int64_t b = 0; b < nb; ++b) {
    xds[b] = xs[0][b].d * static_cast<float>(xs[0][b].sum);
    for (int i = 1; i < kX; ++i) xds[b] += xs[i][b].d * static_cast<float>(xs[i][b].sum);
    for (int i = 0; i < kX; ++i) dx16[i][b] = xs[i][b].d * (1.0f / 16.0f);  // exact: a power of two
  }
  const __m256i low4 = _mm256_set1_epi8(0x0F), low6 = _mm256_set1_epi8(0x3F), low2 = _mm256_set1_epi8(0x03);
  // Byte g of each 32-bit lane, zero-extended (vpshufb within 128-bit halves).
  __m256i byte[4];
  for (int g = 0; g < 4; ++g) {
    const auto m = [g](int lane) { return static_cast<int8_t>(4 * lane + g); };
    const char z = -128;
    byte[g] = _mm256_setr_epi8(m(0), z, z, z, m(1), z, z, z, m(2), z, z, z, m(3), z, z, z,  //
                               m(0), z, z, z, m(1), z, z, z, m(2), z, z, z, m(3), z, z, z);
  }
  const auto* base = static_cast<const uint8_t*>(w);
  for (int64_t p = 0; p < n_rows / kQ4_KX8Rows; ++p) {
    const uint8_t* sb = base + p * kQ4_KX8Rows * static_cast<int64_t>(row_stride);
    __m256 acc = _mm256_setzero_ps(), acc_min = _mm256_setzero_ps();
    for (int64_t s = 0; s < nsb; ++s, sb += kX8SuperblockBytes) {
      const __m256 d = _mm256_cvtph_ps(_mm_loadu_si128(reinterpret_cast<const __m128i*>(sb)));
      const __m256 dmin = _mm256_cvtph_ps(_mm_loadu_si128(reinterpret_cast<const __m128i*>(sb + kQ4_KX8DminAt)));
      const auto* words = reinterpret_cast<const __m256i*>(sb + kQ4_KX8ScalesAt);
      const __m256i u0 = _mm256_loadu_si256(words), u1 = _mm256_loadu_si256(words + 1);
      const __m256i u2 = _mm256_loadu_si256(words + 2);
      // Per lane (row): scales 0..3 and 4..7, mins 0..3 and 4..7, a byte each (UnpackScalesMinsK4).
      const __m256i scales[2] = {
          _mm256_and_si256(u0, low6),
          _mm256_or_si256(_mm256_and_si256(u2, low4),
                          _mm256_slli_epi16(_mm256_and_si256(_mm256_srli_epi16(u0, 6), low2), 4))};
      const __m256i mins[2] = {_mm256_and_si256(u1, low6),
                               _mm256_or_si256(_mm256_and_si256(_mm256_srli_epi16(u2, 4), low4),
                                               _mm256_slli_epi16(_mm256_and_si256(_mm256_srli_epi16(u1, 6), low2), 4))};
      __m256 sum = _mm256_setzero_ps(), sum_min = _mm256_setzero_ps();
      const uint8_t* q = sb + kQ4_KX8QsAt;
      for (int j = 0; j < 4; ++j) {
        // This quarter's share of the superblock's 18 lines ahead (4 or 5), not all 18 at the
        // superblock's start: a burst of 36 prefetches held the core's fill buffers while the
        // quarter's loads waited. From memory (twice the LLC, Intel Xeon VM, 2 threads) 87-90% ->
        // 92-95% of the read ceiling (q8x2: 82-84% -> 84-86%); a prefetch per load step instead
        // was no better for q8 and worse for q8x2.
        constexpr int kLines = kX8SuperblockBytes / 64;
        PrefetchAhead(sb + 64 * (kLines * j / 4), 64 * (kLines * (j + 1) / 4 - kLines * j / 4));
        const int g0 = 2 * j, g1 = 2 * j + 1;
        __m256i lo[kX], hi[kX];
        for (int i = 0; i < kX; ++i) lo[i] = hi[i] = _mm256_setzero_si256();
        for (int t = 0; t < 8; ++t) {
          const __m256i v = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(q + 32 * (8 * j + t)));
          const __m256i v_lo = _mm256_and_si256(v, low4), v_hi = _mm256_andnot_si256(low4, v);
          for (int i = 0; i < kX; ++i) {
            const auto* x0 = reinterpret_cast<const uint8_t*>(xs[i][8 * s + g0].qs);
            const auto* x1 = reinterpret_cast<const uint8_t*>(xs[i][8 * s + g1].qs);
            lo[i] = _mm256_dpbusd_epi32(lo[i], v_lo, _mm256_set1_epi32(static_cast<int32_t>(Load32(x0 + 4 * t))));
            hi[i] = _mm256_dpbusd_epi32(hi[i], v_hi, _mm256_set1_epi32(static_cast<int32_t>(Load32(x1 + 4 * t))));
          }
        }
        const int64_t b0 = 8 * s + g0, b1 = 8 * s + g1;
        const __m256i sc0 = _mm256_shuffle_epi8(scales[g0 / 4], byte[g0 % 4]);
        const __m256i sc1 = _mm256_shuffle_epi8(scales[g1 / 4], byte[g1 % 4]);
        for (int i = 0; i < kX; ++i) {
          sum = _mm256_fmadd_ps(_mm256_cvtepi32_ps(_mm256_mullo_epi32(lo[i], sc0)), _mm256_set1_ps(xs[i][b0].d), sum);
          sum = _mm256_fmadd_ps(_mm256_cvtepi32_ps(_mm256_mullo_epi32(hi[i], sc1)), _mm256_set1_ps(dx16[i][b1]), sum);
        }
        sum_min = _mm256_fmadd_ps(_mm256_cvtepi32_ps(_mm256_shuffle_epi8(mins[g0 / 4], byte[g0 % 4])),
                                  _mm256_set1_ps(xds[b0]), sum_min);
        sum_min = _mm256_fmadd_ps(_mm256_cvtepi32_ps(_mm256_shuffle_epi8(mins[g1 / 4], byte[g1 % 4])),
                                  _mm256_set1_ps(xds[b1]), sum_min);
      }
      acc = _mm256_fmadd_ps(d, sum, acc);
      acc_min = _mm256_fmadd_ps(dmin, sum_min, acc_min);
    }
    _mm256_storeu_ps(y + kQ4_KX8Rows * p, _mm256_sub_ps(acc, acc_min));
  }
}

}  // namespace

void PackRowsQ8_0X8(const void* w, size_t row_stride, int64_t n_rows, int64_t n, void* dst) {
  static_assert(kQ8_0X8Rows == 8);
  PackPanelsOf8<BlockQ8_0>(w, row_stride, n_rows, n / ref::kQ8Block, dst, [](const BlockQ8_0& b, int r, uint8_t* out) {
    std::memcpy(out + 2 * r, &b.d, 2);
    for (int i = 0; i < ref::kQ8Block; ++i)
      out[kQ8_0X8QsAt + 32 * (i / 4) + 4 * r + i % 4] = static_cast<uint8_t>(b.qs[i]) ^ 0x80;
  });
}

// q5_0x8 and q4_1x8: PackPanelsOf8 of 32-element blocks into a zeroed dst (put ORs the nibbles
// and bits in), and element e's nibble (the Q5_0 / Q4_1 block's qs order) of panel row r into
// the 128 bytes of nibbles at qs, returning its byte within its level vector u (*u).
namespace {
template <class Block, class Put>
void PackNibblePanelsOf8(const void* w, size_t row_stride, int64_t n_rows, int64_t n, void* dst, Put put) {
  const int64_t nb = n / ref::kQ8Block;
  std::memset(dst, 0, static_cast<size_t>(n_rows * nb) * sizeof(Block));
  PackPanelsOf8<Block>(w, row_stride, n_rows, nb, dst, put);
}

int PutX8Nibble(const uint8_t qs[16], int r, int e, uint8_t* out_qs, int* u) {
  const int nibble = (qs[e % 16] >> (e < 16 ? 0 : 4)) & 0x0F;
  const int t = e / 4, i = 32 * (t % 2) + 4 * r + e % 4;  // step t of vector t / 2, byte i within it
  *u = t / 2;
  out_qs[64 * (*u / 2) + i] |= static_cast<uint8_t>(nibble << (4 * (*u % 2)));
  return i;
}
}  // namespace

void PackRowsQ5_0X8(const void* w, size_t row_stride, int64_t n_rows, int64_t n, void* dst) {
  static_assert(kQ5_0X8Rows == 8 && kQ5_0X8BlockBytes == 8 * sizeof(BlockQ5_0));
  PackNibblePanelsOf8<BlockQ5_0>(w, row_stride, n_rows, n, dst, [](const BlockQ5_0& b, int r, uint8_t* out) {
    std::memcpy(out + 2 * r, &b.d, 2);
    const uint32_t qh = Load32(b.qh);
    for (int e = 0; e < ref::kQ8Block; ++e) {
      int u = 0;
      const int i = PutX8Nibble(b.qs, r, e, out + kQ5_0X8QsAt, &u);
      if ((qh >> e) & 1u) out[kQ5_0X8HighAt + 8 * u + i / 8] |= static_cast<uint8_t>(1u << (i % 8));
    }
  });
}

void PackRowsQ4_1X8(const void* w, size_t row_stride, int64_t n_rows, int64_t n, void* dst) {
  static_assert(kQ4_1X8Rows == 8 && kQ4_1X8BlockBytes == 8 * sizeof(BlockQ4_1));
  PackNibblePanelsOf8<BlockQ4_1>(w, row_stride, n_rows, n, dst, [](const BlockQ4_1& b, int r, uint8_t* out) {
    std::memcpy(out + 2 * r, &b.d, 2);
    std::memcpy(out + kQ4_1X8MinsAt + 2 * r, &b.m, 2);
    int u = 0;
    for (int e = 0; e < ref::kQ8Block; ++e) PutX8Nibble(b.qs, r, e, out + kQ4_1X8QsAt, &u);
  });
}

// Eight rows at a time (q8_0x8, q5_0x8, q4_1x8; their Levels in x8_layouts_avx512.h): per block the integer sums of the
// 8 rows, less kOffset * sum(x), then float(sum) * (d * d_x) (plus m * d_x * sum(x) with mins) added to each row's
// total in block order, as ref::VecDotQ8 does: bit-identical to it. For k <= kX8TableElems, 512 bits at a time: each of
// a block's 4 level vectors is two steps of 4 elements (t = 2u, 2u + 1: 8 rows each), and a per-call table holds, per
// activation row, block and u, the matching 4 activation bytes in the low 8 lanes and the next 4 in the high 8: one
// vpdpbusd does the work of two 256-bit ones, with no broadcast in the loop, and the two halves'
// sums are added. Longer rows: 256-bit, each vector's two halves against 4 activations broadcast
// (two chains). kX activation rows against the same weights (q8x2: the activations and their
// residue), each block's levels made once for all of them; their products are added per block,
// the first row's first. (Before, Q5_0 and Q4_1 went through one-row layouts, q5_0x4 and
// q4_1x4: in L2 on one thread of the Intel Xeon VM, Gemma's 2048 x 640 Q5_0 19-22 GiB/s, here
// 33-36; SmolLM2's 1536 x 576 Q4_1 17, here 30.)
namespace {

constexpr int64_t kX8TableElems = 2048;
static_assert(kQ8_0X8MaxElems == kQ5_0X8MaxElems && kQ8_0X8MaxElems == kQ4_1X8MaxElems);

template <class L, int kX>
void X8Rows(const void* w, size_t row_stride, int64_t n_rows, const BlockQ8* const* xs, int64_t n, float* y) {
  constexpr int64_t kMaxBlocks = kQ8_0X8MaxElems / ref::kQ8Block;
  constexpr int64_t kTableBlocks = kX8TableElems / ref::kQ8Block;
  const int64_t nb = n / ref::kQ8Block;
  const bool by_table = n <= kX8TableElems;
  alignas(64) int32_t table[kX][kTableBlocks][4][16];
  alignas(32) int32_t offset[kX][kMaxBlocks];
  for (int i = 0; i < kX; ++i) {
    for (int64_t b = 0; b < nb; ++b) {
      offset[i][b] = L::kOffset * xs[i][b].sum;
      if (!by_table) continue;
      int32_t v[8];
      std::memcpy(v, xs[i][b].qs, sizeof(v));
      for (int u = 0; u < 4; ++u) {
        _mm512_store_si512(table[i][b][u],
                           _mm512_inserti64x4(_mm512_set1_epi32(v[2 * u]), _mm256_set1_epi32(v[2 * u + 1]), 1));
      }
    }
  }
  const auto* base = static_cast<const uint8_t*>(w);
  for (int64_t p = 0; p < n_rows / 8; ++p) {
    const uint8_t* blk = base + p * 8 * static_cast<int64_t>(row_stride);
    __m256 acc = _mm256_setzero_ps();
    for (int64_t b = 0; b < nb; ++b, blk += L::kBlockBytes) {
      PrefetchAhead(blk, L::kBlockBytes);
      __m512i q[4];
      L::Levels(blk, q);
      __m256i sums[kX];
      if (by_table) {
        for (int i = 0; i < kX; ++i) {
          const __m512i e =
              _mm512_dpbusd_epi32(_mm512_dpbusd_epi32(_mm512_setzero_si512(), q[0], _mm512_load_si512(table[i][b][0])),
                                  q[2], _mm512_load_si512(table[i][b][2]));
          const __m512i o =
              _mm512_dpbusd_epi32(_mm512_dpbusd_epi32(_mm512_setzero_si512(), q[1], _mm512_load_si512(table[i][b][1])),
                                  q[3], _mm512_load_si512(table[i][b][3]));
          const __m512i eo = _mm512_add_epi32(e, o);
          sums[i] = _mm256_add_epi32(_mm512_castsi512_si256(eo), _mm512_extracti64x4_epi64(eo, 1));
        }
      } else {
        __m256i even[kX], odd[kX];
        for (int i = 0; i < kX; ++i) even[i] = odd[i] = _mm256_setzero_si256();
        for (int u = 0; u < 4; ++u) {
          const __m256i q0 = _mm512_castsi512_si256(q[u]), q1 = _mm512_extracti64x4_epi64(q[u], 1);
          for (int i = 0; i < kX; ++i) {
            const auto* xq = reinterpret_cast<const uint8_t*>(xs[i][b].qs);
            even[i] = _mm256_dpbusd_epi32(even[i], q0, _mm256_set1_epi32(static_cast<int32_t>(Load32(xq + 8 * u))));
            odd[i] = _mm256_dpbusd_epi32(odd[i], q1, _mm256_set1_epi32(static_cast<int32_t>(Load32(xq + 8 * u + 4))));
          }
        }
        for (int i = 0; i < kX; ++i) sums[i] = _mm256_add_epi32(even[i], odd[i]);
      }
      const __m256 dw = _mm256_cvtph_ps(_mm_loadu_si128(reinterpret_cast<const __m128i*>(blk)));
      for (int i = 0; i < kX; ++i) {
        const __m256i s = _mm256_sub_epi32(sums[i], _mm256_set1_epi32(offset[i][b]));
        const __m256 dot = _mm256_mul_ps(_mm256_cvtepi32_ps(s), _mm256_mul_ps(dw, _mm256_set1_ps(xs[i][b].d)));
        if constexpr (L::kMinsAt == 0) {
          acc = _mm256_add_ps(acc, dot);
        } else {  // + m * d_x * sum(x), added to the block's product first, as the reference does
          const __m256 mw = _mm256_cvtph_ps(_mm_loadu_si128(reinterpret_cast<const __m128i*>(blk + L::kMinsAt)));
          const float x_sum = xs[i][b].d * static_cast<float>(xs[i][b].sum);
          acc = _mm256_add_ps(acc, _mm256_add_ps(dot, _mm256_mul_ps(mw, _mm256_set1_ps(x_sum))));
        }
      }
    }
    _mm256_storeu_ps(y + 8 * p, acc);
  }
}

}  // namespace

// Q6_K, in its two halves of 128 elements: 64 bytes of low nibbles are, masked, elements 0..63
// and, shifted, 64..127 in order; the 32 bytes of high bits, broadcast to both halves of a
// vector and shifted per half (vpsllvw / vpsrlvw) so that each element's two bits land on bits
// 4..5, complete the unsigned levels q + 32. vpdpbusd against the activations (contiguous,
// tabulated once per call) leaves 4 lanes per 16 elements, the span of one 8-bit scale: each
// lane's factor d * scale * d_x is a permute of the superblock's 16, and the + 32 comes off
// through 32 * the activations' 16-element sums times the same factors, one FMA per superblock. The AVX2 kernel spends
// twice the instructions on the unpacking and the folding.
// kX activation rows (q8x2: the activations and their residue) against each weight row: the
// levels unpacked once, one vpdpbusd per row; kX = 1 is the q8 kernel.
namespace {

template <int kX>
void Q6KRows(const void* w, size_t row_stride, int64_t n_rows, const BlockQ8* const* xs, int64_t n, float* y) {
  constexpr int64_t kMaxSpans = kQ6KAvx512MaxElems / 16;
  const int64_t nsb = n / ref::kQK, nb = n / ref::kQ8Block;
  alignas(64) int8_t xq[kX][kQ6KAvx512MaxElems];
  alignas(64) float dx16[kX][kMaxSpans];   // per 16 elements: d of its activation block
  alignas(64) float off16[kX][kMaxSpans];  // per 16 elements: 32 * the sum of their levels
  for (int i = 0; i < kX; ++i) {
    const BlockQ8* x = xs[i];
    for (int64_t b = 0; b < nb; ++b) {
      std::memcpy(xq[i] + b * ref::kQ8Block, x[b].qs, ref::kQ8Block);
      int32_t first = 0;  // the second half's sum is the block's (BlockQ8::sum) less this
      for (int j = 0; j < 16; ++j) first += x[b].qs[j];
      dx16[i][2 * b] = dx16[i][2 * b + 1] = x[b].d;
      off16[i][2 * b] = 32.0f * static_cast<float>(first);
      off16[i][2 * b + 1] = 32.0f * static_cast<float>(x[b].sum - first);
    }
  }
  const __m512i low4 = _mm512_set1_epi8(0x0F);
  const __m512i bits45 = _mm512_set1_epi8(0x30);
  // High bits of elements 0..31 | 32..63 (bits 0..1 | 2..3) up to bits 4..5; of 64..95 | 96..127
  // (bits 4..5 | 6..7) right.
  const __m512i up =
      _mm512_set_epi16(2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4);
  const __m512i down =
      _mm512_set_epi16(2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0);
  // Vector m of a superblock (elements 64m .. 64m + 63) takes factors 4m .. 4m + 3, 4 lanes each.
  __m512i pick[4];
  for (int m = 0; m < 4; ++m) {
    pick[m] = _mm512_set_epi32(4 * m + 3, 4 * m + 3, 4 * m + 3, 4 * m + 3, 4 * m + 2, 4 * m + 2, 4 * m + 2, 4 * m + 2,
                               4 * m + 1, 4 * m + 1, 4 * m + 1, 4 * m + 1, 4 * m, 4 * m, 4 * m, 4 * m);
  }
  const auto* base = static_cast<const uint8_t*>(w);
  for (int64_t o = 0; o < n_rows; ++o) {
    const auto* row = reinterpret_cast<const BlockQ6_K*>(base + o * static_cast<int64_t>(row_stride));
    __m512 acc[4] = {_mm512_setzero_ps(), _mm512_setzero_ps(), _mm512_setzero_ps(), _mm512_setzero_ps()};
    __m512 offset = _mm512_setzero_ps();
    for (int64_t s = 0; s < nsb; ++s) {
      const BlockQ6_K& b = row[s];
      PrefetchAhead(reinterpret_cast<const uint8_t*>(&b), sizeof(BlockQ6_K));
      const __m512 scales =
          _mm512_cvtepi32_ps(_mm512_cvtepi8_epi32(_mm_loadu_si128(reinterpret_cast<const __m128i*>(b.scales))));
      const __m512 d = _mm512_set1_ps(HalfToFloat(b.d));
      __m512 factors[kX];
      for (int i = 0; i < kX; ++i) {
        // scale * (d * d_x), in this order: the q8 kernel's results as before, bit for bit.
        factors[i] = _mm512_mul_ps(scales, _mm512_mul_ps(d, _mm512_load_ps(dx16[i] + 16 * s)));
        offset = _mm512_fmadd_ps(factors[i], _mm512_load_ps(off16[i] + 16 * s), offset);
      }
      for (int half = 0; half < 2; ++half) {
        const __m512i ql = _mm512_loadu_si512(b.ql + 64 * half);
        const __m512i qh =
            _mm512_broadcast_i64x4(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(b.qh + 32 * half)));
        const __m512i u0 =
            _mm512_or_si512(_mm512_and_si512(ql, low4), _mm512_and_si512(_mm512_sllv_epi16(qh, up), bits45));
        const __m512i u1 = _mm512_or_si512(_mm512_and_si512(_mm512_srli_epi16(ql, 4), low4),
                                           _mm512_and_si512(_mm512_srlv_epi16(qh, down), bits45));
        for (int i = 0; i < kX; ++i) {
          const int8_t* x = xq[i] + s * ref::kQK + 128 * half;
          const __m512i d0 = _mm512_dpbusd_epi32(_mm512_setzero_si512(), u0, _mm512_load_si512(x));
          const __m512i d1 = _mm512_dpbusd_epi32(_mm512_setzero_si512(), u1, _mm512_load_si512(x + 64));
          acc[2 * half] =
              _mm512_fmadd_ps(_mm512_cvtepi32_ps(d0), _mm512_permutexvar_ps(pick[2 * half], factors[i]), acc[2 * half]);
          acc[2 * half + 1] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(d1),
                                              _mm512_permutexvar_ps(pick[2 * half + 1], factors[i]), acc[2 * half + 1]);
        }
      }
    }
    y[o] = _mm512_reduce_add_ps(
        _mm512_sub_ps(_mm512_add_ps(_mm512_add_ps(acc[0], acc[1]), _mm512_add_ps(acc[2], acc[3])), offset));
  }
}

}  // namespace

void VecDotRowsQ6KQ8Avx512Vnni(const void* w, size_t row_stride, int64_t n_rows, const BlockQ8* x, int64_t n,
                               float* y) {
  if (n > kQ6KAvx512MaxElems) return VecDotRowsQ6KQ8Avx2(w, row_stride, n_rows, x, n, y);
  const BlockQ8* xs[1] = {x};
  Q6KRows<1>(w, row_stride, n_rows, xs, n, y);
}

void VecDotRowsQ6KQ8x2Avx512Vnni(const void* w, size_t row_stride, int64_t n_rows, const BlockQ8* x,
                                 const BlockQ8* residue, int64_t n, float* y) {
  if (n > kQ6KAvx512MaxElems) {  // the AVX2 dot product, twice per row (as the q8 entry's fallback)
    const auto* base = static_cast<const uint8_t*>(w);
    for (int64_t o = 0; o < n_rows; ++o) {
      const uint8_t* row = base + o * static_cast<int64_t>(row_stride);
      y[o] = VecDotQ6KQ8Avx2(row, x, n) + VecDotQ6KQ8Avx2(row, residue, n);
    }
    return;
  }
  const BlockQ8* xs[2] = {x, residue};
  Q6KRows<2>(w, row_stride, n_rows, xs, n, y);
}

// Each layout's exported GEMVs, from its kernel template over kX activation rows: the q8 one
// (one row) and the q8x2 one (the activations and their residue). The arguments after the
// kernel's name are the template arguments before kX.
#define TLM_GEMV_AVX512(layout, kernel, ...)                                                                           \
  void VecDotRows##layout##Q8Avx512Vnni(const void* w, size_t row_stride, int64_t n_rows, const BlockQ8* x, int64_t n, \
                                        float* y) {                                                                    \
    kernel<__VA_ARGS__ 1>(w, row_stride, n_rows, &x, n, y);                                                            \
  }                                                                                                                    \
  void VecDotRows##layout##Q8x2Avx512Vnni(const void* w, size_t row_stride, int64_t n_rows, const BlockQ8* x,          \
                                          const BlockQ8* residue, int64_t n, float* y) {                               \
    const BlockQ8* xs[2] = {x, residue};                                                                               \
    kernel<__VA_ARGS__ 2>(w, row_stride, n_rows, xs, n, y);                                                            \
  }
TLM_GEMV_AVX512(Q4_KX8, Q4_KX8Rows)
TLM_GEMV_AVX512(Q8_0X8, X8Rows, x8::Q8_0X8, )
TLM_GEMV_AVX512(Q5_0X8, X8Rows, x8::Q5_0X8, )
TLM_GEMV_AVX512(Q4_1X8, X8Rows, x8::Q4_1X8, )
#undef TLM_GEMV_AVX512

}  // namespace tlm::cpu::x86
