// Builds the CPU kernel tables (reference, AVX2, AVX-512 VNNI, NEON, NEON dotprod) and picks one from the CPU's
// features and TLM_CPU_ISA. The only place that knows which ISAs exist.
#include "kernels/cpu/dispatch.h"

#include <fmt/format.h>

#include <cstdio>
#include <cstdlib>
#include <utility>

#include "kernels/cpu/ref/attention.h"
#include "kernels/cpu/ref/eltwise.h"
#include "kernels/cpu/ref/gemm.h"

#if defined(TLM_CPU_KERNELS_X86)
#include <cpuid.h>

#include "kernels/cpu/x86/attention_avx2.h"
#include "kernels/cpu/x86/avx2_kernels.h"
#include "kernels/cpu/x86/eltwise_avx2.h"
#include "kernels/cpu/x86/gemm_avx2.h"
#include "kernels/cpu/x86/gemm_avx512.h"
#include "kernels/cpu/x86/gemv_avx512.h"
#endif
#if defined(TLM_CPU_KERNELS_ARM)
#include <sys/auxv.h>

#include "kernels/cpu/arm/attention_neon.h"
#include "kernels/cpu/arm/neon_kernels.h"
#endif

namespace tlm::cpu {
namespace {

// The reference kernels take the type as an argument; the table wants one function per type.
template <DType kType>
float ReferenceVecDotQ8(const void* w, const ref::BlockQ8* x, int64_t n) {
  return ref::VecDotQ8(kType, w, x, n);
}

// A rows entry for a kernel set whose dot product has no multi-row form: one row at a time.
template <VecDotQ8Fn kDot>
void VecDotQ8RowsByDot(const void* w, size_t row_stride, int64_t n_rows, const ref::BlockQ8* x, int64_t n,
                       float* y) {
  const auto* base = static_cast<const uint8_t*>(w);
  for (int64_t o = 0; o < n_rows; ++o) y[o] = kDot(base + o * static_cast<int64_t>(row_stride), x, n);
}

template <DType kType>
void ReferenceDequantizeRow(const void* src, float* dst, int64_t n) {
  ref::DequantizeRow(kType, src, dst, n);
}

float ReferenceDotF32(const float* a, const float* b, int64_t n) { return ref::VecDotF32(DType::kF32, a, b, n); }

template <DType kType>
void ReferenceGemmQ8(const void* w, size_t row_stride, int64_t n_w, const ref::BlockQ8* x, int64_t n_x, int64_t k,
                     float* y, int64_t ldy) {
  ref::GemmQ8(kType, w, row_stride, n_w, x, n_x, k, y, ldy);
}

template <DotF32Fn kDot>
void GemmF32ByDot(const float* w, int64_t ldw, int64_t n_w, const float* x, int64_t ldx, int64_t n_x, int64_t k,
                  float* y, int64_t ldy) {
  for (int64_t o = 0; o < n_w; ++o) {
    for (int64_t r = 0; r < n_x; ++r) y[r * ldy + o] = kDot(w + o * ldw, x + r * ldx, k);
  }
}

template <DType kType>
void SetReference(CpuKernels* k) {
  k->vec_dot_q8[CpuKernels::Slot(kType)] = &ReferenceVecDotQ8<kType>;
  k->vec_dot_q8_rows[CpuKernels::Slot(kType)] = &VecDotQ8RowsByDot<&ReferenceVecDotQ8<kType>>;
  k->dequantize_row[CpuKernels::Slot(kType)] = &ReferenceDequantizeRow<kType>;
  k->gemm_q8[CpuKernels::Slot(kType)] = &ReferenceGemmQ8<kType>;
}

template <DType... kTypes>
void SetReferenceAll(CpuKernels* k) {
  (SetReference<kTypes>(k), ...);
}

CpuKernels MakeReference() {
  CpuKernels k{};
  k.isa = "ref";
  k.quantize_row_q8 = &ref::QuantizeRowQ8;
  k.dot_f32 = &ReferenceDotF32;
  k.gemm_f32 = &ref::GemmF32;
  k.exp_f32 = &ref::ExpF32;
  k.tanh_f32 = &ref::TanhF32;
  k.add_f32 = &ref::AddF32;
  k.gelu_tanh_gate_f32 = &ref::GeluTanhGateF32;
  k.silu_gate_f32 = &ref::SiluGateF32;
  k.rms_norm_f32 = &ref::RmsNormF32;
  k.attention_f32 = &ref::Attention;
  // Every engine-supported type (DTypeInfo::engine_supported).
  SetReferenceAll<DType::kF32, DType::kF16, DType::kBF16, DType::kQ4_0, DType::kQ4_1, DType::kQ5_0, DType::kQ5_1,
                  DType::kQ8_0, DType::kQ2_K, DType::kQ3_K, DType::kQ4_K, DType::kQ5_K, DType::kQ6_K>(&k);
  return k;
}

#if defined(TLM_CPU_KERNELS_X86)
bool CpuHasAvx2FmaF16c() {
  __builtin_cpu_init();
  return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma") && __builtin_cpu_supports("f16c");
}

// Starts from the reference so that a type without an AVX2 kernel keeps the reference one.
CpuKernels MakeAvx2() {
  CpuKernels k = MakeReference();
  k.isa = "avx2";
  k.quantize_row_q8 = &x86::QuantizeRowQ8Avx2;
  k.dot_f32 = &x86::DotF32Fma8x4Avx2;
  k.gemm_f32 = &x86::GemmF32Avx2;
  k.exp_f32 = &x86::ExpF32Avx2;
  k.tanh_f32 = &x86::TanhF32Avx2;
  k.add_f32 = &x86::AddF32Avx2;
  k.gelu_tanh_gate_f32 = &x86::GeluTanhGateF32Avx2;
  k.silu_gate_f32 = &x86::SiluGateF32Avx2;
  k.rms_norm_f32 = &x86::RmsNormF32Avx2;
  k.attention_f32 = &x86::AttentionAvx2;
  const std::pair<DType, VecDotQ8Fn> dots[] = {
      {DType::kQ8_0, &x86::VecDotQ8_0Q8Avx2}, {DType::kQ4_0, &x86::VecDotQ4_0Q8Avx2},
      {DType::kQ4_1, &x86::VecDotQ4_1Q8Avx2}, {DType::kQ5_0, &x86::VecDotQ5_0Q8Avx2},
      {DType::kQ4_K, &x86::VecDotQ4KQ8Avx2},  {DType::kQ6_K, &x86::VecDotQ6KQ8Avx2},
  };
  for (const auto& [type, fn] : dots) k.vec_dot_q8[CpuKernels::Slot(type)] = fn;
  const std::pair<DType, VecDotQ8RowsFn> dot_rows[] = {
      {DType::kQ8_0, &x86::VecDotRowsQ8_0Q8Avx2}, {DType::kQ4_0, &x86::VecDotRowsQ4_0Q8Avx2},
      {DType::kQ4_1, &x86::VecDotRowsQ4_1Q8Avx2}, {DType::kQ5_0, &x86::VecDotRowsQ5_0Q8Avx2},
      {DType::kQ4_K, &x86::VecDotRowsQ4KQ8Avx2},  {DType::kQ6_K, &x86::VecDotRowsQ6KQ8Avx2},
  };
  for (const auto& [type, fn] : dot_rows) k.vec_dot_q8_rows[CpuKernels::Slot(type)] = fn;
  const std::pair<DType, GemmQ8Fn> gemms[] = {
      {DType::kQ8_0, &x86::GemmQ8_0Q8Avx2}, {DType::kQ4_0, &x86::GemmQ4_0Q8Avx2},
      {DType::kQ4_1, &x86::GemmQ4_1Q8Avx2}, {DType::kQ5_0, &x86::GemmQ5_0Q8Avx2},
      {DType::kQ4_K, &x86::GemmQ4KQ8Avx2},  {DType::kQ6_K, &x86::GemmQ6KQ8Avx2},
  };
  for (const auto& [type, fn] : gemms) k.gemm_q8[CpuKernels::Slot(type)] = fn;
  const std::pair<DType, DequantizeRowFn> dequantizers[] = {
      {DType::kQ8_0, &x86::DequantizeRowQ8_0Avx2}, {DType::kQ4_1, &x86::DequantizeRowQ4_1Avx2},
      {DType::kQ5_0, &x86::DequantizeRowQ5_0Avx2}, {DType::kQ4_K, &x86::DequantizeRowQ4KAvx2},
      {DType::kQ6_K, &x86::DequantizeRowQ6KAvx2},
  };
  for (const auto& [type, fn] : dequantizers) k.dequantize_row[CpuKernels::Slot(type)] = fn;
  return k;
}

// avx512f, avx512bw, avx512vl and avx512vnni, and the OS saving the opmask and zmm state
// (XCR0 bits 1, 2, 5, 6, 7: SSE, AVX, opmask, upper halves of zmm0..15, zmm16..31).
bool CpuHasAvx512Vnni() {
  if (!CpuHasAvx2FmaF16c()) return false;
  if (!__builtin_cpu_supports("avx512f") || !__builtin_cpu_supports("avx512bw") ||
      !__builtin_cpu_supports("avx512vl") || !__builtin_cpu_supports("avx512vnni")) {
    return false;
  }
  unsigned int eax = 0, ebx = 0, ecx = 0, edx = 0;
  if (__get_cpuid(1, &eax, &ebx, &ecx, &edx) == 0 || (ecx & bit_OSXSAVE) == 0) return false;
  uint32_t xcr0_low = 0, xcr0_high = 0;
  __asm__ volatile("xgetbv" : "=a"(xcr0_low), "=d"(xcr0_high) : "c"(0));
  constexpr uint32_t kZmmState = (1u << 1) | (1u << 2) | (1u << 5) | (1u << 6) | (1u << 7);
  return (xcr0_low & kZmmState) == kZmmState;
}

// The AVX2 table with the entries that have an AVX-512 VNNI kernel replaced.
CpuKernels MakeAvx512Vnni() {
  CpuKernels k = MakeAvx2();
  k.isa = "avx512-vnni";
  const std::pair<DType, GemmQ8Fn> gemms[] = {
      {DType::kQ8_0, &x86::GemmQ8_0Q8Avx512Vnni},
      {DType::kQ5_0, &x86::GemmQ5_0Q8Avx512Vnni},
      {DType::kQ4_K, &x86::GemmQ4KQ8Avx512Vnni},
      {DType::kQ6_K, &x86::GemmQ6KQ8Avx512Vnni},
  };
  for (const auto& [type, fn] : gemms) k.gemm_q8[CpuKernels::Slot(type)] = fn;
  k.vec_dot_q8_rows[CpuKernels::Slot(DType::kQ4_K)] = &x86::VecDotRowsQ4KQ8Avx512Vnni;
  k.vec_dot_q8_rows[CpuKernels::Slot(DType::kQ6_K)] = &x86::VecDotRowsQ6KQ8Avx512Vnni;
  k.vec_dot_q8x2_rows[CpuKernels::Slot(DType::kQ6_K)] = &x86::VecDotRowsQ6KQ8x2Avx512Vnni;
  k.packed_gemv[CpuKernels::Slot(DType::kQ5_0)] = {.layout = "q5_0x8",
                                                   .max_n = x86::kQ5_0X8MaxElems,
                                                   .pack = &x86::PackRowsQ5_0X8,
                                                   .rows = &x86::VecDotRowsQ5_0X8Q8Avx512Vnni,
                                                   .rows_x2 = &x86::VecDotRowsQ5_0X8Q8x2Avx512Vnni,
                                                   .gemm = &x86::GemmQ5_0X8Q8Avx512Vnni,
                                                   .row_panel = x86::kQ5_0X8Rows};
  k.packed_gemv[CpuKernels::Slot(DType::kQ4_1)] = {.layout = "q4_1x8",
                                                   .max_n = x86::kQ4_1X8MaxElems,
                                                   .pack = &x86::PackRowsQ4_1X8,
                                                   .rows = &x86::VecDotRowsQ4_1X8Q8Avx512Vnni,
                                                   .rows_x2 = &x86::VecDotRowsQ4_1X8Q8x2Avx512Vnni,
                                                   .gemm = &x86::GemmQ4_1X8Q8Avx512Vnni,
                                                   .row_panel = x86::kQ4_1X8Rows};
  k.packed_gemv[CpuKernels::Slot(DType::kQ8_0)] = {.layout = "q8_0x8",
                                                   .max_n = x86::kQ8_0X8MaxElems,
                                                   .pack = &x86::PackRowsQ8_0X8,
                                                   .rows = &x86::VecDotRowsQ8_0X8Q8Avx512Vnni,
                                                   .rows_x2 = &x86::VecDotRowsQ8_0X8Q8x2Avx512Vnni,
                                                   .gemm = &x86::GemmQ8_0X8Q8Avx512Vnni,
                                                   .row_panel = x86::kQ8_0X8Rows};
  k.packed_gemv[CpuKernels::Slot(DType::kQ4_K)] = {.layout = "q4_kx8",
                                                   .max_n = x86::kQ4_KX8MaxElems,
                                                   .pack = &x86::PackRowsQ4_KX8,
                                                   .rows = &x86::VecDotRowsQ4_KX8Q8Avx512Vnni,
                                                   .rows_x2 = &x86::VecDotRowsQ4_KX8Q8x2Avx512Vnni,
                                                   .gemm = &x86::GemmQ4_KX8Q8Avx512Vnni,
                                                   .row_panel = x86::kQ4_KX8Rows};
  return k;
}
#endif

#if defined(TLM_CPU_KERNELS_ARM)
bool CpuHasAsimdDotprod() {
#if defined(HWCAP_ASIMDDP)
  return (getauxval(AT_HWCAP) & HWCAP_ASIMDDP) != 0;
#else
  return (getauxval(AT_HWCAP) & (1UL << 20)) != 0;  // HWCAP_ASIMDDP in the Linux arm64 ABI
#endif
}

// Starts from the reference so that a type without a NEON kernel keeps the reference one.
CpuKernels MakeNeon(bool dotprod) {
  CpuKernels k = MakeReference();
  k.isa = dotprod ? "neon-dotprod" : "neon";
  k.quantize_row_q8 = &arm::QuantizeRowQ8Neon;
  k.dot_f32 = &arm::DotF32Fma4x4Neon;
  // No NEON f32 GEMM yet: the NEON f32 dot product, one output at a time.
  k.gemm_f32 = &GemmF32ByDot<&arm::DotF32Fma4x4Neon>;
  k.attention_f32 = &arm::AttentionNeon;
  const std::pair<DType, VecDotQ8Fn> dots[] = {
      {DType::kQ8_0, dotprod ? &arm::neon_dotprod::VecDotQ8_0Q8 : &arm::neon::VecDotQ8_0Q8},
      {DType::kQ4_0, dotprod ? &arm::neon_dotprod::VecDotQ4_0Q8 : &arm::neon::VecDotQ4_0Q8},
      {DType::kQ4_1, dotprod ? &arm::neon_dotprod::VecDotQ4_1Q8 : &arm::neon::VecDotQ4_1Q8},
      {DType::kQ5_0, dotprod ? &arm::neon_dotprod::VecDotQ5_0Q8 : &arm::neon::VecDotQ5_0Q8},
      {DType::kQ4_K, dotprod ? &arm::neon_dotprod::VecDotQ4KQ8 : &arm::neon::VecDotQ4KQ8},
      {DType::kQ6_K, dotprod ? &arm::neon_dotprod::VecDotQ6KQ8 : &arm::neon::VecDotQ6KQ8},
  };
  for (const auto& [type, fn] : dots) k.vec_dot_q8[CpuKernels::Slot(type)] = fn;
  // No NEON multi-row GEMV yet: the NEON dot products, one weight row at a time.
  const std::pair<DType, VecDotQ8RowsFn> dot_rows[] = {
      {DType::kQ8_0, dotprod ? &VecDotQ8RowsByDot<&arm::neon_dotprod::VecDotQ8_0Q8>
                             : &VecDotQ8RowsByDot<&arm::neon::VecDotQ8_0Q8>},
      {DType::kQ4_0, dotprod ? &VecDotQ8RowsByDot<&arm::neon_dotprod::VecDotQ4_0Q8>
                             : &VecDotQ8RowsByDot<&arm::neon::VecDotQ4_0Q8>},
      {DType::kQ4_1, dotprod ? &VecDotQ8RowsByDot<&arm::neon_dotprod::VecDotQ4_1Q8>
                             : &VecDotQ8RowsByDot<&arm::neon::VecDotQ4_1Q8>},
      {DType::kQ5_0, dotprod ? &VecDotQ8RowsByDot<&arm::neon_dotprod::VecDotQ5_0Q8>
                             : &VecDotQ8RowsByDot<&arm::neon::VecDotQ5_0Q8>},
      {DType::kQ4_K, dotprod ? &VecDotQ8RowsByDot<&arm::neon_dotprod::VecDotQ4KQ8>
                             : &VecDotQ8RowsByDot<&arm::neon::VecDotQ4KQ8>},
      {DType::kQ6_K, dotprod ? &VecDotQ8RowsByDot<&arm::neon_dotprod::VecDotQ6KQ8>
                             : &VecDotQ8RowsByDot<&arm::neon::VecDotQ6KQ8>},
  };
  for (const auto& [type, fn] : dot_rows) k.vec_dot_q8_rows[CpuKernels::Slot(type)] = fn;
  const std::pair<DType, GemmQ8Fn> gemms[] = {
      {DType::kQ8_0, dotprod ? &arm::neon_dotprod::GemmQ8_0Q8 : &arm::neon::GemmQ8_0Q8},
      {DType::kQ4_0, dotprod ? &arm::neon_dotprod::GemmQ4_0Q8 : &arm::neon::GemmQ4_0Q8},
      {DType::kQ4_1, dotprod ? &arm::neon_dotprod::GemmQ4_1Q8 : &arm::neon::GemmQ4_1Q8},
      {DType::kQ5_0, dotprod ? &arm::neon_dotprod::GemmQ5_0Q8 : &arm::neon::GemmQ5_0Q8},
      {DType::kQ4_K, dotprod ? &arm::neon_dotprod::GemmQ4KQ8 : &arm::neon::GemmQ4KQ8},
      {DType::kQ6_K, dotprod ? &arm::neon_dotprod::GemmQ6KQ8 : &arm::neon::GemmQ6KQ8},
  };
  for (const auto& [type, fn] : gemms) k.gemm_q8[CpuKernels::Slot(type)] = fn;
  const std::pair<DType, DequantizeRowFn> dequantizers[] = {
      {DType::kF16, &arm::DequantizeRowF16Neon},   {DType::kBF16, &arm::DequantizeRowBF16Neon},
      {DType::kQ8_0, &arm::DequantizeRowQ8_0Neon}, {DType::kQ4_0, &arm::DequantizeRowQ4_0Neon},
      {DType::kQ4_1, &arm::DequantizeRowQ4_1Neon}, {DType::kQ5_0, &arm::DequantizeRowQ5_0Neon},
      {DType::kQ4_K, &arm::DequantizeRowQ4KNeon},  {DType::kQ6_K, &arm::DequantizeRowQ6KNeon},
  };
  for (const auto& [type, fn] : dequantizers) k.dequantize_row[CpuKernels::Slot(type)] = fn;
  return k;
}
#endif

}  // namespace

const CpuKernels& ReferenceCpuKernels() {
  static const CpuKernels kernels = MakeReference();
  return kernels;
}

const CpuKernels* Avx2CpuKernels() {
#if defined(TLM_CPU_KERNELS_X86)
  static const bool supported = CpuHasAvx2FmaF16c();
  if (!supported) return nullptr;
  static const CpuKernels kernels = MakeAvx2();
  return &kernels;
#else
  return nullptr;
#endif
}

const CpuKernels* Avx512VnniCpuKernels() {
#if defined(TLM_CPU_KERNELS_X86)
  static const bool supported = CpuHasAvx512Vnni();
  if (!supported) return nullptr;
  static const CpuKernels kernels = MakeAvx512Vnni();
  return &kernels;
#else
  return nullptr;
#endif
}

const CpuKernels* NeonCpuKernels() {
#if defined(TLM_CPU_KERNELS_ARM)
  static const CpuKernels kernels = MakeNeon(/*dotprod=*/false);
  return &kernels;
#else
  return nullptr;
#endif
}

const CpuKernels* NeonDotprodCpuKernels() {
#if defined(TLM_CPU_KERNELS_ARM)
  static const bool supported = CpuHasAsimdDotprod();
  if (!supported) return nullptr;
  static const CpuKernels kernels = MakeNeon(/*dotprod=*/true);
  return &kernels;
#else
  return nullptr;
#endif
}

const CpuKernels& ChooseCpuKernels(std::string_view isa) {
  if (isa == "ref") return ReferenceCpuKernels();
  // "neon" asks for the ARMv8.0 kernels even on a dotprod CPU (to compare the two).
  if (isa == "neon" && NeonCpuKernels() != nullptr) return *NeonCpuKernels();
  // "avx2" asks for the AVX2 kernels even on an AVX-512 VNNI CPU.
  if (isa == "avx2" && Avx2CpuKernels() != nullptr) return *Avx2CpuKernels();
  if (const CpuKernels* avx512 = Avx512VnniCpuKernels()) return *avx512;
  if (const CpuKernels* avx2 = Avx2CpuKernels()) return *avx2;
  if (const CpuKernels* neon_dotprod = NeonDotprodCpuKernels()) return *neon_dotprod;
  if (const CpuKernels* neon = NeonCpuKernels()) return *neon;
  return ReferenceCpuKernels();
}

const CpuKernels& SelectCpuKernels() {
  static const CpuKernels& kernels = []() -> const CpuKernels& {
    const char* env = std::getenv("TLM_CPU_ISA");
    const std::string_view isa = env != nullptr ? env : "";
    if (!isa.empty() && isa != "ref" && isa != "avx2" && isa != "avx512-vnni" && isa != "neon" &&
        isa != "neon-dotprod") {
      fmt::print(stderr,
                 "tlm: TLM_CPU_ISA='{}' is not one of ref, avx2, avx512-vnni, neon, neon-dotprod; using the best "
                 "ISA\n",
                 isa);
    }
    const CpuKernels& chosen = ChooseCpuKernels(isa);
    if (!isa.empty() && isa != chosen.isa) {
      fmt::print(stderr, "tlm: TLM_CPU_ISA='{}' is not available on this CPU or build; using {}\n", isa, chosen.isa);
    }
    return chosen;
  }();
  return kernels;
}

}  // namespace tlm::cpu
