// Entry points of the AVX-512 VNNI decode GEMVs (x86-64 only): Q8_0, Q5_0, Q4_1 and Q4_K over
// weights repacked at load (8 rows interleaved), Q4_K (row counts the q4_kx8 panels do not divide) and Q6_K over the
// model's rows. Only the dispatch table calls them, and only after checking the CPU has avx512f/bw/vl/vnni (and avx2,
// fma, f16c) and the OS saves the zmm state.
#pragma once

#include <cstddef>
#include <cstdint>

#include "kernels/cpu/ref/quant.h"

namespace tlm::cpu::x86 {

// The "q8_0x8" layout: Q8_0 rows interleaved kQ8_0X8Rows at a time, the same byte count as the
// rows (34 per block each). Panel p (rows 8p .. 8p + 7) starts at 8p * row_bytes and holds, per
// block, 272 bytes: the 8 rows' fp16 d, then for each 4-byte step t of the block the 8 rows'
// qs[4t .. 4t + 3] + 128 (unsigned, vpdpbusd's weight operand) side by side. So one 64-byte load
// is two steps of all 8 rows, and one vpdpbusd against a vector of the matching activations (a
// per-call table) adds 4 products to each row's own lane (X8Rows in gemv_avx512.cc); the offset
// of 128 comes off as 128 * sum(x) per block, and the float steps are per 8 rows.
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

// The "q5_0x8" layout: Q5_0 rows interleaved kQ5_0X8Rows at a time, the same byte count as the
// rows (22 per block each). Panel p (rows 8p .. 8p + 7) starts at 8p * row_bytes and holds, per
// block, 176 bytes: the 8 rows' fp16 d; then the block's 256 levels (0..31, q + 16) as the
// q8_0x8 layout orders them (for each 4-element step t, the 8 rows' 4 levels side by side), split
// into 4 vectors of 64 bytes (vector u: steps 2u and 2u + 1) and stored as 128 bytes of nibbles
// (vectors 0 and 1 the low and high nibbles of the first 64 bytes, 2 and 3 of the next 64), then
// 4 little-endian uint64 of their fifth bits (bit i of word u: byte i of vector u). So a block is
// two 64-byte loads, masked and shifted, and 16 added under 4 masks (kmovq): the levels in
// vpdpbusd's weight operand, as q8_0x8 keeps its levels + 128, through the same kernel.
inline constexpr int64_t kQ5_0X8Rows = 8;
inline constexpr int64_t kQ5_0X8QsAt = 16, kQ5_0X8HighAt = 144, kQ5_0X8BlockBytes = 176;
inline constexpr int64_t kQ5_0X8MaxElems = 32768;  // the kernel tabulates 16 * sum(x) on the stack

// Repacks n_rows Q5_0 rows (row o at w + o * row_stride; n_rows a multiple of kQ5_0X8Rows) into
// dst, 22 * n / 32 bytes per row.
void PackRowsQ5_0X8(const void* w, size_t row_stride, int64_t n_rows, int64_t n, void* dst);

// As VecDotRowsQ8_0X8Q8Avx512Vnni over q5_0x8 panels (bit-identical to ref::VecDotQ8 on the rows
// they were packed from); n <= kQ5_0X8MaxElems.
void VecDotRowsQ5_0X8Q8Avx512Vnni(const void* w, size_t row_stride, int64_t n_rows, const ref::BlockQ8* x, int64_t n,
                                  float* y);
// The same against x and its q8x2 residue in one pass over the weights (the sum of both).
void VecDotRowsQ5_0X8Q8x2Avx512Vnni(const void* w, size_t row_stride, int64_t n_rows, const ref::BlockQ8* x,
                                    const ref::BlockQ8* residue, int64_t n, float* y);

// The "q4_1x8" layout: Q4_1 rows interleaved kQ4_1X8Rows at a time, the same byte count as the
// rows (20 per block each). Panel p starts at 8p * row_bytes and holds, per block, 160 bytes: the
// 8 rows' fp16 d, their 8 fp16 m, then the block's 256 levels (0..15) as 128 bytes of nibbles
// in q5_0x8's order: two 64-byte loads, masked and shifted, through the same kernel, which adds
// the mins' term m * d_x * sum(x) per block.
inline constexpr int64_t kQ4_1X8Rows = 8;
inline constexpr int64_t kQ4_1X8MinsAt = 16, kQ4_1X8QsAt = 32, kQ4_1X8BlockBytes = 160;
inline constexpr int64_t kQ4_1X8MaxElems = 32768;

// Repacks n_rows Q4_1 rows (row o at w + o * row_stride; n_rows a multiple of kQ4_1X8Rows) into
// dst, 20 * n / 32 bytes per row.
void PackRowsQ4_1X8(const void* w, size_t row_stride, int64_t n_rows, int64_t n, void* dst);

// As VecDotRowsQ8_0X8Q8Avx512Vnni over q4_1x8 panels (bit-identical to ref::VecDotQ8 on the rows
// they were packed from); n <= kQ4_1X8MaxElems.
void VecDotRowsQ4_1X8Q8Avx512Vnni(const void* w, size_t row_stride, int64_t n_rows, const ref::BlockQ8* x, int64_t n,
                                  float* y);
// The same against x and its q8x2 residue in one pass over the weights (the sum of both).
void VecDotRowsQ4_1X8Q8x2Avx512Vnni(const void* w, size_t row_stride, int64_t n_rows, const ref::BlockQ8* x,
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

// The prefill product over q5_0x8 panels (in gemm_avx512.cc, beside the GEMMs it shares panels
// with), as ref::GemmQ8 on the rows they were packed from: 8 activation rows or more through the
// packed-panel GEMM, fewer as that many GEMVs; n_w a multiple of kQ5_0X8Rows, k <= kQ5_0X8MaxElems.
void GemmQ5_0X8Q8Avx512Vnni(const void* w, size_t row_stride, int64_t n_w, const ref::BlockQ8* x, int64_t n_x,
                            int64_t k, float* y, int64_t ldy);

// The same over q4_1x8 panels (n_w a multiple of kQ4_1X8Rows); k <= kQ4_1X8MaxElems.
void GemmQ4_1X8Q8Avx512Vnni(const void* w, size_t row_stride, int64_t n_w, const ref::BlockQ8* x, int64_t n_x,
                            int64_t k, float* y, int64_t ldy);

// The same over q4_kx8 panels (n_w a multiple of kQ4_KX8Rows); k <= kQ4_KX8MaxElems.
void GemmQ4_KX8Q8Avx512Vnni(const void* w, size_t row_stride, int64_t n_w, const ref::BlockQ8* x, int64_t n_x,
                            int64_t k, float* y, int64_t ldy);

// The same over q8_0x8 panels (n_w a multiple of kQ8_0X8Rows); k <= kQ8_0X8MaxElems.
void GemmQ8_0X8Q8Avx512Vnni(const void* w, size_t row_stride, int64_t n_w, const ref::BlockQ8* x, int64_t n_x,
                            int64_t k, float* y, int64_t ldy);

}  // namespace tlm::cpu::x86
