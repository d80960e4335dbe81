// One table of CPU kernels (activation quantization, dot products, dequantization) chosen once
// at run time from the CPU's features; the scalar reference (kernels/cpu/ref) is the fallback.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string_view>

#include "engine/tensor/dtype.h"
#include "kernels/cpu/ref/attention.h"
#include "kernels/cpu/ref/quant.h"

namespace tlm::cpu {

// Slots per DType-indexed entry: index static_cast<uint32_t>(type); every GGUF id is below 32.
inline constexpr uint32_t kCpuKernelTypeSlots = 32;

using QuantizeRowQ8Fn = void (*)(const float* x, ref::BlockQ8* y, int64_t n);
// dot(w, x) for n elements of one weight type; n a multiple of max(32, block size).
using VecDotQ8Fn = float (*)(const void* w, const ref::BlockQ8* x, int64_t n);
// y[o] = dot(weight row o, x) for o < n_rows, weight row o at w + o * row_stride bytes: the
// decode matrix-vector product (one activation row), n as for VecDotQ8Fn.
using VecDotQ8RowsFn = void (*)(const void* w, size_t row_stride, int64_t n_rows, const ref::BlockQ8* x, int64_t n,
                                float* y);
// y[o] = dot(row o, x) + dot(row o, residue): q8x2 activations (their 8-bit blocks, and those of
// what that rounding left) against the same rows.
using VecDotQ8x2RowsFn = void (*)(const void* w, size_t row_stride, int64_t n_rows, const ref::BlockQ8* x,
                                  const ref::BlockQ8* residue, int64_t n, float* y);
using DotF32Fn = float (*)(const float* a, const float* b, int64_t n);
// n a multiple of the type's block size.
using DequantizeRowFn = void (*)(const void* src, float* dst, int64_t n);
// Matrix products for prefill (ref::GemmQ8 / ref::GemmF32 in kernels/cpu/ref/gemm.h):
// y[r * ldy + o] = dot(weight row o, activation row r) for o < n_w, r < n_x. Weight row o at
// w + o * row_stride bytes; activation rows of k / 32 BlockQ8, one after another.
using GemmQ8Fn = void (*)(const void* w, size_t row_stride, int64_t n_w, const ref::BlockQ8* x, int64_t n_x,
                          int64_t k, float* y, int64_t ldy);
// f32 rows: weight row o at w + o * ldw, activation row r at x + r * ldx, k floats (any k >= 0).
using GemmF32Fn = void (*)(const float* w, int64_t ldw, int64_t n_w, const float* x, int64_t ldx, int64_t n_x,
                           int64_t k, float* y, int64_t ldy);
// Elementwise kernels (kernels/cpu/ref/eltwise.h): y[i] = f(x[i]); out[i] = f(a[i], b[i]);
// RMS normalization of one group of n floats (w null: no weight). n >= 0 (RMS norm: n >= 1);
// outputs may alias inputs.
using UnaryF32Fn = void (*)(const float* x, float* y, int64_t n);
using BinaryF32Fn = void (*)(const float* a, const float* b, float* out, int64_t n);
using RmsNormF32Fn = void (*)(const float* x, const float* w, float* y, int64_t n, float eps);

// Matmuls over weights repacked once at load into a kernel's own layout: pack copies n_rows rows
// of n elements (row o at w + o * row_stride) to dst, one after another, each the byte count of
// the type's row (ElemsToBytes); rows (decode) and gemm (prefill) then read the packed rows.
using PackRowsFn = void (*)(const void* w, size_t row_stride, int64_t n_rows, int64_t n, void* dst);
struct PackedGemv {
  const char* layout = nullptr;  // e.g. "q5_0x8"; null: no packed layout for this type
  int64_t max_n = 0;             // the longest row (elements) the kernel takes
  PackRowsFn pack = nullptr;
  VecDotQ8RowsFn rows = nullptr;
  // q8x2 decode: rows against the activations and their residue in one pass over the weights;
  // null: the backend runs `rows` twice over each piece of rows (the second time from cache).
  VecDotQ8x2RowsFn rows_x2 = nullptr;
  GemmQ8Fn gemm = nullptr;  // the prefill product over the packed rows (GemmQ8Fn), same k limit; every layout has one
  // Rows the layout interleaves (a panel): the backend packs only matrices whose row count is a
  // multiple, and calls pack, rows and gemm on row ranges that start and end on panels. 1: each
  // row on its own.
  int64_t row_panel = 1;
};

// Causal attention over a KV ring with sliding windows and grouped query heads, a piece of the
// work at a time (ref::AttentionFn in kernels/cpu/ref/attention.h).
using AttentionFn = ref::AttentionFn;

// Semantics of every entry are those of the reference kernel of the same name in
// kernels/cpu/ref/quant.h (attention: kernels/cpu/ref/attention.h). Integer parts are exact in
// every implementation; float accumulation order may differ from the reference (see the
// conformance tests for the tolerances).
// In a table returned below, an entry is null only for a type the engine does not support:
// an ISA without its own kernel for a type carries the reference kernel in that slot. The
// optional entries are the exception: vec_dot_q8x2_rows and packed_gemv, null where the ISA has
// no such kernel for the type.
struct CpuKernels {
  const char* isa;  // "ref", "avx2", "avx512-vnni", "neon" or "neon-dotprod"
  QuantizeRowQ8Fn quantize_row_q8;
  VecDotQ8Fn vec_dot_q8[kCpuKernelTypeSlots];
  VecDotQ8RowsFn vec_dot_q8_rows[kCpuKernelTypeSlots];  // same slots as vec_dot_q8
  // q8x2 decode in one pass over rows kept as they are (no packed layout); null: the backend
  // runs vec_dot_q8_rows twice over each piece of rows.
  VecDotQ8x2RowsFn vec_dot_q8x2_rows[kCpuKernelTypeSlots];
  DotF32Fn dot_f32;  // f32 x f32, any n >= 0
  DequantizeRowFn dequantize_row[kCpuKernelTypeSlots];
  GemmQ8Fn gemm_q8[kCpuKernelTypeSlots];  // same slots as vec_dot_q8
  GemmF32Fn gemm_f32;
  // Elementwise (kernels/cpu/ref/eltwise.h); the activations' exp and tanh within a few ulp.
  UnaryF32Fn exp_f32;
  UnaryF32Fn tanh_f32;
  BinaryF32Fn add_f32;
  BinaryF32Fn gelu_tanh_gate_f32;
  BinaryF32Fn silu_gate_f32;
  RmsNormF32Fn rms_norm_f32;
  AttentionFn attention_f32;  // f32 queries, keys and values
  // Matmuls over repacked weights, per type (same slots as vec_dot_q8); the backend packs a
  // matrix only when the entry has a layout and its rows are at most max_n long.
  PackedGemv packed_gemv[kCpuKernelTypeSlots];

  VecDotQ8Fn VecDotQ8For(DType type) const { return vec_dot_q8[Slot(type)]; }
  VecDotQ8RowsFn VecDotQ8RowsFor(DType type) const { return vec_dot_q8_rows[Slot(type)]; }
  VecDotQ8x2RowsFn VecDotQ8x2RowsFor(DType type) const { return vec_dot_q8x2_rows[Slot(type)]; }
  DequantizeRowFn DequantizeRowFor(DType type) const { return dequantize_row[Slot(type)]; }
  GemmQ8Fn GemmQ8For(DType type) const { return gemm_q8[Slot(type)]; }
  const PackedGemv& PackedGemvFor(DType type) const { return packed_gemv[Slot(type)]; }
  static uint32_t Slot(DType type) { return static_cast<uint32_t>(type) % kCpuKernelTypeSlots; }
};

// The scalar reference kernels, portable and always available.
const CpuKernels& ReferenceCpuKernels();

// The AVX2+FMA+F16C kernels, or nullptr when they are not built in (not x86-64) or this CPU
// lacks one of avx2, fma, f16c.
const CpuKernels* Avx2CpuKernels();

// The AVX2 table with AVX-512 VNNI kernels where it has them (the prefill GEMMs of Q8_0, Q5_0,
// Q4_K, Q6_K; the decode GEMVs of Q4_K, Q6_K, and of Q8_0, Q5_0, Q4_1 and Q4_K over their
// repacked q8_0x8, q5_0x8, q4_1x8 and q4_kx8 layouts, with prefill GEMMs over those), or
// nullptr when not built in (not x86-64), the CPU lacks one of avx2, fma, f16c, avx512f,
// avx512bw, avx512vl, avx512vnni, or the OS does not save the zmm state (XCR0).
const CpuKernels* Avx512VnniCpuKernels();

// The NEON kernels for ARMv8.0 (aarch64 only; nullptr elsewhere). Every aarch64 CPU has NEON.
const CpuKernels* NeonCpuKernels();

// The NEON kernels with the ARMv8.2-A dot product instructions (vdotq_s32), or nullptr when
// they are not built in (not aarch64) or this CPU lacks asimddp (getauxval(AT_HWCAP)).
const CpuKernels* NeonDotprodCpuKernels();

// The table `isa` names: "ref", "avx2", "avx512-vnni", "neon", "neon-dotprod" (each the best this CPU supports
// where that one is unavailable), or "" for the best this CPU supports. Any other name also
// means the best (SelectCpuKernels warns).
const CpuKernels& ChooseCpuKernels(std::string_view isa);

// ChooseCpuKernels(getenv("TLM_CPU_ISA")), decided on the first call and cached.
// TLM_CPU_ISA=ref forces the reference kernels, e.g. to compare against them.
const CpuKernels& SelectCpuKernels();

}  // namespace tlm::cpu
