// Entry points of the AVX-512 VNNI decode GEMVs (x86-64 only): Q8_0, Q5_0, Q4_1 and Q4_K over
// weights repacked at load, Q4_K (row counts the q4_kx8 panels do not divide) and Q6_K over the model's
// rows. Only
// the dispatch table calls them, and only after checking the CPU has avx512f/bw/vl/vnni (and
// avx2, fma, f16c) and the OS saves the zmm state.
#pragma once

#include <cstddef>
#include <cstdint>

#include "kernels/cpu/ref/quant.h"

namespace tlm::cpu::x86 {

// The "q5_0x4" layout of a Q5_0 row of n elements (nb = n / 32 blocks), the same byte count as
// the Q5_0 row (22 * nb): nb fp16 scales d; then per group of 4 blocks (the last group: the 1 to
// 3 left), 16 bytes of nibbles per block (byte j: element j low, j + 16 high, as Q5_0 keeps
// them), then 2 bytes per block of the fifth bits of its elements 0..15, then 2 per block of
// those of 16..31 (so a whole group's are two little-endian uint64, bits 16i.. of block i). Four
// blocks' nibbles are one 64-byte load; masked and shifted, then 16 added under each uint64
// (kmovq), they are the four blocks' levels 0..31 of elements 0..15 and 16..31, which two
// vpdpbusd sum per block into the same 4 lanes: one FMA per four blocks, as q4_1x4.
inline constexpr int64_t kQ5_0X4MaxElems = 32768;  // the kernel tabulates the activations on the stack

// Repacks n_rows Q5_0 rows (row o at w + o * row_stride) into dst, rows 22 * n / 32 bytes apart.
void PackRowsQ5_0X4(const void* w, size_t row_stride, int64_t n_rows, int64_t n, void* dst);

// y[o] = dot(packed row o, x) for o < n_rows, packed row o at w + o * row_stride; as
// ref::VecDotQ8 on the row it was packed from (exact int32 block sums, float scales);
// n <= kQ5_0X4MaxElems.
void VecDotRowsQ5_0X4Q8Avx512Vnni(const void* w, size_t row_stride, int64_t n_rows, const ref::BlockQ8* x, int64_t n,
                                  float* y);
// The same against x and its q8x2 residue in one pass over the weights (the sum of both).
void VecDotRowsQ5_0X4Q8x2Avx512Vnni(const void* w, size_t row_stride, int64_t n_rows, const ref::BlockQ8* x,
                                    const ref::BlockQ8* residue, int64_t n, float* y);

// The "q4_1x4" layout of a Q4_1 row of n elements (nb = n / 32 blocks), the same byte count as
// the Q4_1 row (20 * nb): nb fp16 scales d, then nb fp16 mins m, then the blocks' 16 bytes of
// nibbles one after another (byte j: element j low, j + 16 high, as Q4_1 keeps them). So four
// blocks' nibbles are one 64-byte load; masked and shifted, it is the four blocks' low and high
// halves, which two vpdpbusd against activations tabulated in that order sum per block in the
// same 4 lanes, converted and scaled by one FMA with a permute of the row's d * d_x; the mins go
// through one FMA per 16 blocks against the activations' d * sum.
inline constexpr int64_t kQ4_1X4MaxElems = 32768;  // the kernel tabulates the activations on the stack

// Repacks n_rows Q4_1 rows (row o at w + o * row_stride) into dst, rows 20 * n / 32 bytes apart.
void PackRowsQ4_1X4(const void* w, size_t row_stride, int64_t n_rows, int64_t n, void* dst);

// As VecDotRowsQ5_0X4Q8Avx512Vnni, over q4_1x4 rows; n <= kQ4_1X4MaxElems.
void VecDotRowsQ4_1X4Q8Avx512Vnni(const void* w, size_t row_stride, int64_t n_rows, const ref::BlockQ8* x, int64_t n,
                                  float* y);
// The same against x and its q8x2 residue in one pass over the weights (the sum of both).
void VecDotRowsQ4_1X4Q8x2Avx512Vnni(const void* w, size_t row_stride, int64_t n_rows, const ref::BlockQ8* x,
                                    const ref::BlockQ8* residue, int64_t n, float* y);

// The "q8_0x8" layout: Q8_0 rows interleaved kQ8_0X8Rows at a time, the same byte count as the
// rows (34 per block each). Panel p (rows 8p .. 8p + 7) starts at 8p * row_bytes and holds, per
// block, 272 bytes: the 8 rows' fp16 d, then for each 4-byte step t of the block the 8 rows'
// qs[4t .. 4t + 3] + 128 (unsigned, vpdpbusd's weight operand) side by side. One 32-byte load
// and one vpdpbusd against 4 activations broadcast add 4 products to each row's own lane; the
// offset of 128 comes off as 128 * sum(x) per block, and the float steps are per 8 rows.
inline constexpr int64_t kQ8_0X8Rows = 8;
inline constexpr int64_t kQ8_0X8QsAt = 16;         // byte offset of the levels within a panel block
inline constexpr int64_t kQ8_0X8MaxElems = 32768;  // the kernel tabulates 128 * sum(x) on the stack

// Repacks n_rows Q8_0 rows (row o at w + o * row_stride; n_rows a multiple of kQ8_0X8Rows) into
// dst, 34 * n / 32 bytes per row.
void PackRowsQ8_0X8(const void* w, size_t row_stride, int64_t n_rows, int64_t n, void* dst);

// y[o] = dot(row o, x) for o < n_rows over q8_0x8 panels (n_rows a multiple of kQ8_0X8Rows,
// panel p at w + 8p * row_stride), as ref::VecDotQ8 on the rows they were packed from;
// n <= kQ8_0X8MaxElems.
void VecDotRowsQ8_0X8Q8Avx512Vnni(const void* w, size_t row_stride, int64_t n_rows, const ref::BlockQ8* x, int64_t n,
                                  float* y);
// The same against x and its q8x2 residue in one pass over the weights: y[o] = dot(row o, x) +
// dot(row o, residue).
void VecDotRowsQ8_0X8Q8x2Avx512Vnni(const void* w, size_t row_stride, int64_t n_rows, const ref::BlockQ8* x,
                                    const ref::BlockQ8* residue, int64_t n, float* y);

// y[o] = dot(Q4_K row o, x) for o < n_rows (the model's own layout, no repacking), as
// ref::VecDotQ8: exact int32 group sums, float scales; rows longer than kQ4KAvx512MaxElems go to
// the AVX2 kernel.
inline constexpr int64_t kQ4KAvx512MaxElems = 32768;
void VecDotRowsQ4KQ8Avx512Vnni(const void* w, size_t row_stride, int64_t n_rows, const ref::BlockQ8* x, int64_t n,
                               float* y);

// The "q4_kx8" layout: Q4_K rows interleaved kQ4_KX8Rows at a time, the same byte count as
// the rows (144 per superblock each). Panel p (rows 8p .. 8p + 7) starts at 8p * row_bytes and
// holds, per superblock, 1152 bytes: the 8 rows' fp16 d, their 8 fp16 dmin, their 12 bytes of
// 6-bit scales and mins as three arrays of 8 uint32 (bytes 0..3, 4..7, 8..11 of each row), then
// for each 32-byte quarter j of qs and each 4-byte step t in it, the 8 rows' qs[32j + 4t ..
// 32j + 4t + 3] side by side. So one 32-byte load is 4 elements of groups 2j (low nibbles)
// and 2j + 1 (high nibbles) of all 8 rows, and vpdpbusd against 4 activations broadcast sums
// each row's group in its own lane: 8 loads give 8 rows' exact group sums, with no folding
// across lanes, and the scales, mins and the float steps are per 8 rows, not per row.
inline constexpr int64_t kQ4_KX8Rows = 8;
// Byte offsets within a panel superblock: the dmins, the scale words, the nibbles.
inline constexpr int64_t kQ4_KX8DminAt = 16, kQ4_KX8ScalesAt = 32, kQ4_KX8QsAt = 128;
inline constexpr int64_t kQ4_KX8MaxElems = 32768;  // the kernel tabulates d_x and d_x * sum(x) on the stack

// Repacks n_rows Q4_K rows (row o at w + o * row_stride; n_rows a multiple of kQ4_KX8Rows) into
// dst, 144 * n / 256 bytes per row.
void PackRowsQ4_KX8(const void* w, size_t row_stride, int64_t n_rows, int64_t n, void* dst);

// y[o] = dot(row o, x) for o < n_rows over q4_kx8 panels (n_rows a multiple of kQ4_KX8Rows,
// panel p at w + 8p * row_stride), as ref::VecDotQ8 on the rows they were packed from;
// n <= kQ4_KX8MaxElems.
void VecDotRowsQ4_KX8Q8Avx512Vnni(const void* w, size_t row_stride, int64_t n_rows, const ref::BlockQ8* x, int64_t n,
                                  float* y);
// The same against x and its q8x2 residue in one pass over the weights (the sum of both).
void VecDotRowsQ4_KX8Q8x2Avx512Vnni(const void* w, size_t row_stride, int64_t n_rows, const ref::BlockQ8* x,
                                    const ref::BlockQ8* residue, int64_t n, float* y);

// The same for Q6_K rows (rows longer than kQ6KAvx512MaxElems go to the AVX2 kernel).
inline constexpr int64_t kQ6KAvx512MaxElems = 32768;
void VecDotRowsQ6KQ8Avx512Vnni(const void* w, size_t row_stride, int64_t n_rows, const ref::BlockQ8* x, int64_t n,
                               float* y);
// The same against x and its q8x2 residue in one pass over the weights (the sum of both); rows
// longer than kQ6KAvx512MaxElems in two passes of the AVX2 kernel, a row at a time.
void VecDotRowsQ6KQ8x2Avx512Vnni(const void* w, size_t row_stride, int64_t n_rows, const ref::BlockQ8* x,
                                 const ref::BlockQ8* residue, int64_t n, float* y);

// The prefill product over q5_0x4 rows (in gemm_avx512.cc, beside the GEMMs it shares panels
// with), as ref::GemmQ8 on the rows they were packed from: 8 activation rows or more through
// the packed-panel GEMM, fewer as that many GEMVs; k <= kQ5_0X4MaxElems.
void GemmQ5_0X4Q8Avx512Vnni(const void* w, size_t row_stride, int64_t n_w, const ref::BlockQ8* x, int64_t n_x,
                            int64_t k, float* y, int64_t ldy);

// The same over q4_1x4 rows; k <= kQ4_1X4MaxElems.
void GemmQ4_1X4Q8Avx512Vnni(const void* w, size_t row_stride, int64_t n_w, const ref::BlockQ8* x, int64_t n_x,
                            int64_t k, float* y, int64_t ldy);

// The same over q4_kx8 panels (n_w a multiple of kQ4_KX8Rows); k <= kQ4_KX8MaxElems.
void GemmQ4_KX8Q8Avx512Vnni(const void* w, size_t row_stride, int64_t n_w, const ref::BlockQ8* x, int64_t n_x,
                            int64_t k, float* y, int64_t ldy);

// The same over q8_0x8 panels (n_w a multiple of kQ8_0X8Rows); k <= kQ8_0X8MaxElems.
void GemmQ8_0X8Q8Avx512Vnni(const void* w, size_t row_stride, int64_t n_w, const ref::BlockQ8* x, int64_t n_x,
                            int64_t k, float* y, int64_t ldy);

}  // namespace tlm::cpu::x86
