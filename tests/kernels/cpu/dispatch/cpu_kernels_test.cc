// Tests of the CPU kernel dispatch table: which ISA it picks (and TLM_CPU_ISA=ref), and the
// conformance of every table's kernels with the scalar reference on random rows.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <limits>
#include <random>
#include <string>
#include <string_view>
#include <vector>

#if defined(__aarch64__)
#include <sys/auxv.h>
#endif

#include "engine/tensor/dtype.h"
#include "kernels/cpu/dispatch.h"
#include "kernels/cpu/ref/gemm.h"
#include "kernels/cpu/ref/quant.h"
#include "tests/kernels/cpu/dispatch/isa_tables.h"
#include "tests/kernels/cpu/ref/quant_test_util.h"

namespace tlm::cpu {
namespace {

using ref::BlockQ8;
using ref::kQ8Block;
using ref::testing::kSupportedTypes;
using ref::testing::QuantizedRow;
using ref::testing::RandomBlocks;
using ref::testing::RandomFloats;

bool CpuHasAvx2() {
#if defined(__x86_64__) || defined(_M_X64)
  __builtin_cpu_init();
  return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma") && __builtin_cpu_supports("f16c");
#else
  return false;
#endif
}

// avx512f/bw/vl/vnni (the OS saving the zmm state is checked by the dispatcher alone).
bool CpuHasAvx512Vnni() {
#if defined(__x86_64__) || defined(_M_X64)
  return CpuHasAvx2() && __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
         __builtin_cpu_supports("avx512vl") && __builtin_cpu_supports("avx512vnni");
#else
  return false;
#endif
}

#if defined(__aarch64__)
bool CpuHasAsimdDotprod() { return (getauxval(AT_HWCAP) & (1UL << 20)) != 0; }  // HWCAP_ASIMDDP
#endif

// The table ChooseCpuKernels("") must pick on this CPU.
std::string ExpectedBestIsa() {
#if defined(__aarch64__)
  return CpuHasAsimdDotprod() ? "neon-dotprod" : "neon";
#else
  if (CpuHasAvx512Vnni()) return "avx512-vnni";
  return CpuHasAvx2() ? "avx2" : "ref";
#endif
}

// TLM_CPU_ISA as set for this process ("" when unset).
std::string ForcedIsa() {
  const char* env = std::getenv("TLM_CPU_ISA");
  return env != nullptr ? env : "";
}

bool ReferenceForced() {
  const char* env = std::getenv("TLM_CPU_ISA");
  return env != nullptr && std::string_view(env) == "ref";
}

// --- dispatch ---

TEST(CpuDispatch, SelectsBestIsaUnlessReferenceForced) {
  const CpuKernels& selected = SelectCpuKernels();
  std::printf("dispatch: %s\n", selected.isa);  // which kernel set this run exercises
  EXPECT_EQ(&selected, &SelectCpuKernels()) << "the choice is cached";
  // scripts/test-aarch64 states what each emulated CPU must get, so that a wrong CPU model
  // (or a broken feature check) fails instead of quietly testing the other path.
  const char* expected = std::getenv("TLM_EXPECT_CPU_ISA");
  if (expected != nullptr && ForcedIsa().empty()) {
    EXPECT_STREQ(selected.isa, expected) << "TLM_EXPECT_CPU_ISA";
  }
  if (ReferenceForced()) {
    EXPECT_STREQ(selected.isa, "ref");
    EXPECT_EQ(&selected, &ReferenceCpuKernels());
    return;
  }
#if defined(__aarch64__)
  if (ForcedIsa() == "neon") {
    EXPECT_STREQ(selected.isa, "neon");
    EXPECT_EQ(&selected, NeonCpuKernels());
    return;
  }
  EXPECT_EQ(std::string(selected.isa), ExpectedBestIsa());
  EXPECT_EQ(&selected, CpuHasAsimdDotprod() ? NeonDotprodCpuKernels() : NeonCpuKernels());
#else
  if (!CpuHasAvx2()) {
    ADD_FAILURE() << "*** this CPU lacks avx2/fma/f16c (or is not x86-64): ONLY THE REFERENCE "
                     "KERNELS ARE TESTED HERE ***";
    EXPECT_STREQ(selected.isa, "ref");
    return;
  }
  if (ForcedIsa() == "avx2") {
    EXPECT_STREQ(selected.isa, "avx2");
    EXPECT_EQ(&selected, Avx2CpuKernels());
    return;
  }
  if (!CpuHasAvx512Vnni()) {
    std::printf("*** this CPU lacks avx512f/bw/vl/vnni: the avx512-vnni kernels are NOT tested here ***\n");
  }
  EXPECT_EQ(std::string(selected.isa), ExpectedBestIsa());
  EXPECT_EQ(&selected, CpuHasAvx512Vnni() ? Avx512VnniCpuKernels() : Avx2CpuKernels());
#endif
}

TEST(CpuDispatch, ChooseByName) {
  EXPECT_EQ(&ChooseCpuKernels("ref"), &ReferenceCpuKernels());
  EXPECT_STREQ(ReferenceCpuKernels().isa, "ref");
  const CpuKernels& best = ChooseCpuKernels("");
  EXPECT_EQ(&ChooseCpuKernels("avx2"), Avx2CpuKernels() != nullptr ? Avx2CpuKernels() : &best)
      << "avx2: the AVX2 kernels even on an AVX-512 VNNI CPU";
  EXPECT_EQ(&ChooseCpuKernels("avx512-vnni"), &best);
  EXPECT_EQ(&ChooseCpuKernels("neon-dotprod"), &best);
  EXPECT_EQ(std::string(best.isa), ExpectedBestIsa());
  EXPECT_EQ(Avx2CpuKernels() != nullptr, CpuHasAvx2());
  EXPECT_EQ(Avx512VnniCpuKernels() != nullptr, CpuHasAvx512Vnni());
  if (Avx512VnniCpuKernels() != nullptr) {
    EXPECT_STREQ(Avx512VnniCpuKernels()->isa, "avx512-vnni");
  }
#if defined(__aarch64__)
  ASSERT_NE(NeonCpuKernels(), nullptr) << "every aarch64 CPU has NEON";
  EXPECT_EQ(&ChooseCpuKernels("neon"), NeonCpuKernels()) << "neon: the ARMv8.0 kernels even on a dotprod CPU";
  EXPECT_STREQ(NeonCpuKernels()->isa, "neon");
  EXPECT_EQ(NeonDotprodCpuKernels() != nullptr, CpuHasAsimdDotprod());
  if (NeonDotprodCpuKernels() != nullptr) {
    EXPECT_STREQ(NeonDotprodCpuKernels()->isa, "neon-dotprod");
  }
#else
  EXPECT_EQ(NeonCpuKernels(), nullptr);
  EXPECT_EQ(NeonDotprodCpuKernels(), nullptr);
  EXPECT_EQ(&ChooseCpuKernels("neon"), &best);
#endif
}

TEST(CpuDispatch, EverySupportedTypeHasKernelsInEveryTable) {
  std::vector<const CpuKernels*> tables;
  for (const std::string& isa : IsasOfThisBuild()) {
    if (TableNamed(isa) != nullptr) tables.push_back(TableNamed(isa));
  }
  for (const CpuKernels* k : tables) {
    SCOPED_TRACE(k->isa);
    EXPECT_NE(k->quantize_row_q8, nullptr);
    EXPECT_NE(k->dot_f32, nullptr);
    for (DType type : kSupportedTypes) {
      EXPECT_NE(k->VecDotQ8For(type), nullptr) << DTypeName(type);
      EXPECT_NE(k->DequantizeRowFor(type), nullptr) << DTypeName(type);
    }
    EXPECT_EQ(k->VecDotQ8For(DType::kI8), nullptr);
    EXPECT_EQ(k->DequantizeRowFor(DType::kQ8_K), nullptr);
  }
}

// --- conformance: each table against the reference functions ---

class CpuKernelsTest : public ::testing::TestWithParam<std::string> {
 protected:
  void SetUp() override {
    kernels_ = TableNamed(GetParam());
    if (kernels_ == nullptr) {
      // scripts/test-aarch64 runs these tests on emulated CPUs with and without dotprod (and
      // checks each picks the table it should), so every table is tested in one of the runs.
      GTEST_SKIP() << "*** THIS CPU LACKS " << GetParam() << ": its kernels were NOT tested in this run ***";
    }
  }
  const CpuKernels* kernels_ = nullptr;
};

std::vector<float> QuantizeInputs(const std::vector<float>& x, std::vector<BlockQ8>* xq) {
  xq->resize(x.size() / kQ8Block);
  ref::QuantizeRowQ8(x.data(), xq->data(), static_cast<int64_t>(x.size()));
  std::vector<float> values;
  for (const BlockQ8& b : *xq) {
    for (int l = 0; l < kQ8Block; ++l) values.push_back(b.d * static_cast<float>(b.qs[l]));
  }
  return values;
}

void ExpectSameBlocks(const std::vector<BlockQ8>& want, const std::vector<BlockQ8>& got, const std::string& what) {
  ASSERT_EQ(want.size(), got.size());
  for (size_t i = 0; i < want.size(); ++i) {
    ASSERT_EQ(std::memcmp(&want[i].d, &got[i].d, sizeof(float)), 0)
        << what << " block " << i << ": d " << want[i].d << " vs " << got[i].d;
    ASSERT_EQ(want[i].sum, got[i].sum) << what << " block " << i;
    for (int l = 0; l < kQ8Block; ++l) {
      ASSERT_EQ(want[i].qs[l], got[i].qs[l]) << what << " block " << i << " element " << l;
    }
  }
}

TEST_P(CpuKernelsTest, QuantizeRowQ8IsBitIdentical) {
  for (int64_t blocks : {1, 2, 3, 7, 20, 33, 64}) {
    const int64_t n = blocks * kQ8Block;
    for (uint32_t seed = 0; seed < 8; ++seed) {
      std::mt19937 rng(seed * 131 + static_cast<uint32_t>(n));
      const std::vector<float> x = RandomFloats(rng, n, seed % 2 ? 1e-3f : 5.0f);
      std::vector<BlockQ8> want(static_cast<size_t>(blocks)), got(static_cast<size_t>(blocks));
      ref::QuantizeRowQ8(x.data(), want.data(), n);
      kernels_->quantize_row_q8(x.data(), got.data(), n);
      ExpectSameBlocks(want, got, "n=" + std::to_string(n) + " seed=" + std::to_string(seed));
    }
  }
}

TEST_P(CpuKernelsTest, QuantizeRowQ8EdgeCases) {
  const float inf = std::numeric_limits<float>::infinity();
  const float nan = std::numeric_limits<float>::quiet_NaN();
  std::vector<float> x;
  // Exact ties: with amax 127 the levels are the inputs, so k + 0.5 rounds away from zero.
  for (int l = 0; l < 32; ++l) x.push_back(l == 0 ? 127.0f : (l % 2 ? 1 : -1) * (0.5f + l % 7));
  x.insert(x.end(), 32, 0.0f);                                                // all zero: d = 0
  for (int l = 0; l < 32; ++l) x.push_back(l % 3 == 0 ? -0.0f : 1e-40f * l);  // subnormals
  for (int l = 0; l < 32; ++l) x.push_back(l == 5 ? nan : 0.25f * l);         // NaN skipped
  for (int l = 0; l < 32; ++l) x.push_back(l == 9 ? -inf : 1.0f * l);         // Inf
  for (int l = 0; l < 32; ++l) x.push_back(l == 1 ? nan : (l == 2 ? inf : -3.0f));
  for (int l = 0; l < 32; ++l) x.push_back(std::ldexp(1.0f, 120) * (l - 16));  // huge
  const int64_t n = static_cast<int64_t>(x.size());
  std::vector<BlockQ8> want(x.size() / 32), got(x.size() / 32);
  ref::QuantizeRowQ8(x.data(), want.data(), n);
  kernels_->quantize_row_q8(x.data(), got.data(), n);
  ExpectSameBlocks(want, got, "edge cases");
}

// Types that have hand-written kernels somewhere; the rest are checked too (they hold the
// reference kernels) but with fewer lengths.
bool HasFastKernel(DType type) {
  switch (type) {
    case DType::kQ8_0:
    case DType::kQ4_0:
    case DType::kQ4_1:
    case DType::kQ5_0:
    case DType::kQ4_K:
    case DType::kQ6_K:
      return true;
    default:
      return false;
  }
}

std::vector<int64_t> LengthsFor(DType type) {
  const int64_t unit = std::max<int64_t>(kQ8Block, Info(type).block_elems);
  std::vector<int64_t> units;
  if (unit == kQ8Block) {
    units = {1, 3, 7, 33, 2, 20, 64};  // 64 * 32 = 2048, Gemma's FFN width
  } else {
    units = {1, 2, 3, 4, 5, 6, 7, 8, 9};  // K-quant superblocks
  }
  if (!HasFastKernel(type)) units.resize(3);
  std::vector<int64_t> lengths;
  for (int64_t u : units) lengths.push_back(u * unit);
  return lengths;
}

// The integer block sums are exact on both sides; only the float scaling and the order of
// the float accumulation differ. Error scale: sum |w_i * x_i|, as in the reference tests.
constexpr double kDotRtol = 1e-5;
constexpr double kDotAtol = 1e-30;

TEST_P(CpuKernelsTest, VecDotQ8MatchesReference) {
  for (DType type : kSupportedTypes) {
    SCOPED_TRACE(std::string(DTypeName(type)));
    double worst_ratio = 0.0;
    for (int64_t n : LengthsFor(type)) {
      for (uint32_t seed = 0; seed < 6; ++seed) {
        std::mt19937 rng(seed * 7919 + static_cast<uint32_t>(n) + 17 * static_cast<uint32_t>(type));
        // Even seeds: weights quantized from realistic floats; odd: random block bits.
        const std::vector<uint8_t> w =
            seed % 2 == 0 ? QuantizedRow(type, RandomFloats(rng, n)) : RandomBlocks(rng, type, n);
        ASSERT_FALSE(w.empty());
        std::vector<BlockQ8> xq;
        const std::vector<float> xv = QuantizeInputs(RandomFloats(rng, n, seed == 4 ? 1e-3f : 3.0f), &xq);
        const std::vector<float> wv = ref::testing::Dequantized(type, w.data(), n);
        double scale = 0.0;
        for (int64_t i = 0; i < n; ++i) scale += std::fabs(static_cast<double>(wv[i]) * xv[i]);
        const float want = ref::VecDotQ8(type, w.data(), xq.data(), n);
        const float got = kernels_->VecDotQ8For(type)(w.data(), xq.data(), n);
        const double allowed = kDotAtol + kDotRtol * scale;
        const double error = std::fabs(static_cast<double>(got) - want);
        worst_ratio = std::max(worst_ratio, error / allowed);
        ASSERT_LE(error, allowed) << "n=" << n << " seed=" << seed << " ref=" << want << " got=" << got
                                  << " sum|wx|=" << scale;
      }
    }
    RecordProperty(std::string(DTypeName(type)) + "_worst_error_over_allowed", std::to_string(worst_ratio));
    if (HasFastKernel(type)) {
      std::printf("[ %s ] vec_dot_q8 %-5s worst |error| / allowed = %.3g\n", kernels_->isa,
                  std::string(DTypeName(type)).c_str(), worst_ratio);
    }
  }
}

// got[o] against ref::VecDotQ8 of rows[o] for every row, within kDotAtol + kDotRtol * sum |w x|
// (fatal on the first miss); the worst error over the allowed into *worst_ratio.
void ExpectRowsMatchReference(DType type, const std::vector<std::vector<uint8_t>>& rows, const std::vector<BlockQ8>& xq,
                              const std::vector<float>& xv, int64_t n, const std::vector<float>& got,
                              double* worst_ratio) {
  for (size_t o = 0; o < rows.size(); ++o) {
    const std::vector<float> wv = ref::testing::Dequantized(type, rows[o].data(), n);
    double scale = 0.0;
    for (int64_t i = 0; i < n; ++i) scale += std::fabs(static_cast<double>(wv[i]) * xv[i]);
    const float want = ref::VecDotQ8(type, rows[o].data(), xq.data(), n);
    const double allowed = kDotAtol + kDotRtol * scale;
    const double error = std::fabs(static_cast<double>(got[o]) - want);
    *worst_ratio = std::max(*worst_ratio, error / allowed);
    ASSERT_LE(error, allowed) << "n=" << n << " n_rows=" << rows.size() << " row=" << o << " ref=" << want
                              << " got=" << got[o];
  }
}

// q8x2 in one pass (rows_x2): the activations' products plus those of a residue (what their
// rounding left; here random values of 1/256 the usual activations' size), against the two
// passes of rows over the same weights (row o at w + o * stride). got: rows(x), already checked.
void ExpectRowsX2MatchTwoPasses(VecDotQ8RowsFn rows_fn, VecDotQ8x2RowsFn rows_x2, const uint8_t* w, size_t stride,
                                DType type, const std::vector<std::vector<uint8_t>>& rows,
                                const std::vector<BlockQ8>& xq, const std::vector<float>& xv, int64_t n,
                                const std::vector<float>& got, std::mt19937& rng) {
  const auto n_rows = static_cast<int64_t>(rows.size());
  std::vector<BlockQ8> rq;
  const std::vector<float> rv = QuantizeInputs(RandomFloats(rng, n, 3.0f / 256), &rq);
  std::vector<float> residue(static_cast<size_t>(n_rows)), both(static_cast<size_t>(n_rows) + 1, -7.0f);
  rows_fn(w, stride, n_rows, rq.data(), n, residue.data());
  rows_x2(w, stride, n_rows, xq.data(), rq.data(), n, both.data());
  EXPECT_EQ(both[n_rows], -7.0f) << "rows_x2 wrote past n_rows=" << n_rows;
  for (int64_t o = 0; o < n_rows; ++o) {
    // Float sums in another order: bounded by the dots' own scale, sum |w x| + |w r|.
    const std::vector<float> wv = ref::testing::Dequantized(type, rows[o].data(), n);
    double scale = 0.0;
    for (int64_t i = 0; i < n; ++i)
      scale += std::fabs(static_cast<double>(wv[i]) * xv[i]) + std::fabs(static_cast<double>(wv[i]) * rv[i]);
    const double want = static_cast<double>(got[o]) + residue[o];
    ASSERT_NEAR(both[o], want, kDotAtol + kDotRtol * scale) << "rows_x2 n=" << n << " row " << o;
    ASSERT_NE(both[o], got[o]) << "rows_x2 left out the residue, n=" << n << " row " << o;
  }
}

// The multi-row entry: every row count 1..9 and 13 (full groups of 4 plus each tail), rows at
// a padded stride, against the reference dot product of each row; nothing written past n_rows.
TEST_P(CpuKernelsTest, VecDotQ8RowsMatchesReference) {
  for (DType type : kSupportedTypes) {
    SCOPED_TRACE(std::string(DTypeName(type)));
    ASSERT_NE(kernels_->VecDotQ8RowsFor(type), nullptr);
    double worst_ratio = 0.0;
    std::vector<int64_t> lengths = LengthsFor(type);
    // Rows longer than the 512 activation blocks the AVX2 Q4_K kernel tabulates on the stack.
    const int64_t long_row = 66 * ref::kQK;
    if (HasFastKernel(type)) lengths.push_back(long_row);
    // Q6_K rows past the 32768 elements the avx512-vnni kernels tabulate (they take the AVX2 one).
    const int64_t past_avx512 = 129 * ref::kQK;
    if (type == DType::kQ6_K) lengths.push_back(past_avx512);
    for (size_t li = 0; li < lengths.size(); li += HasFastKernel(type) ? 1 : 2) {
      const int64_t n = lengths[li];
      for (int64_t n_rows : {1, 2, 3, 4, 5, 6, 7, 8, 9, 13}) {
        if (n == long_row && n_rows != 5) continue;
        if (n == past_avx512 && n_rows != 2) continue;
        std::mt19937 rng(static_cast<uint32_t>(n * 31 + n_rows) + 17 * static_cast<uint32_t>(type));
        // Rows quantized from realistic floats and random block bits, alternately.
        std::vector<std::vector<uint8_t>> rows;
        for (int64_t o = 0; o < n_rows; ++o) {
          rows.push_back(o % 2 == 0 ? QuantizedRow(type, RandomFloats(rng, n)) : RandomBlocks(rng, type, n));
          ASSERT_FALSE(rows.back().empty());
        }
        const size_t row_bytes = rows[0].size(), stride = row_bytes + 64;  // keeps GGUF's 32-byte alignment
        std::vector<uint8_t> w(stride * static_cast<size_t>(n_rows), 0xAB);
        for (int64_t o = 0; o < n_rows; ++o) std::memcpy(w.data() + o * stride, rows[o].data(), row_bytes);
        std::vector<BlockQ8> xq;
        const std::vector<float> xv = QuantizeInputs(RandomFloats(rng, n, n_rows == 3 ? 1e-3f : 3.0f), &xq);
        std::vector<float> got(static_cast<size_t>(n_rows) + 1, -7.0f);
        kernels_->VecDotQ8RowsFor(type)(w.data(), stride, n_rows, xq.data(), n, got.data());
        EXPECT_EQ(got[n_rows], -7.0f) << "wrote past n_rows=" << n_rows;
        ExpectRowsMatchReference(type, rows, xq, xv, n, got, &worst_ratio);
        if (HasFatalFailure()) return;
        // q8x2 in one pass over rows kept as they are, where the table has it (Q6_K on avx512-vnni).
        if (const VecDotQ8x2RowsFn x2 = kernels_->VecDotQ8x2RowsFor(type); x2 != nullptr) {
          ExpectRowsX2MatchTwoPasses(kernels_->VecDotQ8RowsFor(type), x2, w.data(), stride, type, rows, xq, xv, n, got,
                                     rng);
          if (HasFatalFailure()) return;
        }
      }
    }
    if (HasFastKernel(type)) {
      std::printf("[ %s ] vec_dot_q8_rows %-5s worst |error| / allowed = %.3g\n", kernels_->isa,
                  std::string(DTypeName(type)).c_str(), worst_ratio);
    }
  }
}

// The packed decode GEMV: rows repacked from a padded stride, then the packed kernel against the
// reference dot product of each original row, at every length (up to 2048 elements the
// kernels' table path, longer their broadcast path) and the longest row it takes; the packed
// copy keeps the row's byte count and nothing is written past n_rows.
TEST_P(CpuKernelsTest, PackedGemvMatchesReference) {
  int tables = 0;
  for (DType type : kSupportedTypes) {
    const PackedGemv& packed = kernels_->PackedGemvFor(type);
    if (packed.layout == nullptr) continue;
    ++tables;
    SCOPED_TRACE(std::string(DTypeName(type)) + " as " + packed.layout);
    ASSERT_NE(packed.pack, nullptr);
    ASSERT_NE(packed.rows, nullptr);
    ASSERT_NE(packed.gemm, nullptr);  // the backend runs prefill over the packed copy only
    if (packed.rows_x2 == nullptr)
      std::printf("[ %s ] %s: no one-pass q8x2 kernel (two passes)\n", kernels_->isa, packed.layout);
    std::vector<int64_t> lengths = LengthsFor(type);
    lengths.push_back(packed.max_n);
    lengths.push_back(packed.max_n - std::max<int64_t>(kQ8Block, Info(type).block_elems));
    double worst_ratio = 0.0;
    // Row counts: 1, 2 or 3 panels of a layout of 8-row panels (every layout today): 8 to 24 rows
    // cover the avx512-vnni GEMM's 16-row step and an 8-row tail. A layout of single rows would
    // take 1 to 8 of them and 19 (that step, then 3 rows on an 8-row panel).
    const int64_t panel = packed.row_panel;
    ASSERT_GE(panel, 1);
    for (int64_t n : lengths) {
      for (int64_t panels : {1, 2, 3, 5, 8, 19}) {
        const int64_t n_rows = panels * panel;
        if (panels == 19 && (panel > 1 || n > 4096)) continue;
        if (n > 4096 && panels > 2) continue;
        if (panel > 1 && panels > 3) continue;  // 8 to 24 rows cover a layout of panels
        std::mt19937 rng(static_cast<uint32_t>(n * 131 + n_rows));
        std::vector<std::vector<uint8_t>> rows;
        for (int64_t o = 0; o < n_rows; ++o) {
          rows.push_back(o % 2 == 0 ? QuantizedRow(type, RandomFloats(rng, n)) : RandomBlocks(rng, type, n));
          ASSERT_FALSE(rows.back().empty());
        }
        const size_t row_bytes = rows[0].size(), stride = row_bytes + 64;
        std::vector<uint8_t> w(stride * static_cast<size_t>(n_rows), 0xAB);
        for (int64_t o = 0; o < n_rows; ++o) std::memcpy(w.data() + o * stride, rows[o].data(), row_bytes);
        std::vector<uint8_t> p(row_bytes * static_cast<size_t>(n_rows) + 64, 0xCD);
        packed.pack(w.data(), stride, n_rows, n, p.data());
        for (size_t i = row_bytes * n_rows; i < p.size(); ++i) ASSERT_EQ(p[i], 0xCD) << "packed past the rows";
        std::vector<BlockQ8> xq;
        const std::vector<float> xv = QuantizeInputs(RandomFloats(rng, n, n_rows == 3 ? 1e-3f : 3.0f), &xq);
        std::vector<float> got(static_cast<size_t>(n_rows) + 1, -7.0f);
        packed.rows(p.data(), row_bytes, n_rows, xq.data(), n, got.data());
        EXPECT_EQ(got[n_rows], -7.0f) << "wrote past n_rows=" << n_rows;
        ExpectRowsMatchReference(type, rows, xq, xv, n, got, &worst_ratio);
        if (HasFatalFailure()) return;
        const std::string_view layout = packed.layout;
        if (layout == "q8_0x8" || layout == "q5_0x8" ||
            layout == "q4_1x8") {  // sums in the reference's order: bit-identical
          for (int64_t o = 0; o < n_rows; ++o)
            ASSERT_EQ(got[o], ref::VecDotQ8(type, rows[o].data(), xq.data(), n)) << "n=" << n << " row " << o;
        }
        if (packed.rows_x2 != nullptr) {
          ExpectRowsX2MatchTwoPasses(packed.rows, packed.rows_x2, p.data(), row_bytes, type, rows, xq, xv, n, got, rng);
          if (HasFatalFailure()) return;
        }
        // The prefill product over the same packed rows: fewer activation rows than a panel
        // takes (GEMVs), a panel's 8, and 8 plus a tail, into a padded output.
        if (n > 8192) continue;
        for (int64_t n_x : {1, 3, 8, 13}) {
          std::vector<float> xs;
          for (int64_t r = 0; r < n_x; ++r) {
            const std::vector<float> row = RandomFloats(rng, n, r == 1 ? 1e-3f : 3.0f);
            xs.insert(xs.end(), row.begin(), row.end());
          }
          std::vector<BlockQ8> xg(static_cast<size_t>(n_x * n / kQ8Block));
          for (int64_t r = 0; r < n_x; ++r) ref::QuantizeRowQ8(xs.data() + r * n, xg.data() + r * n / kQ8Block, n);
          const int64_t ldy = n_rows + 3;
          std::vector<float> want(static_cast<size_t>(n_x * ldy), -5.0f), gemm(want.size(), -5.0f);
          ref::GemmQ8(type, w.data(), stride, n_rows, xg.data(), n_x, n, want.data(), ldy);
          packed.gemm(p.data(), row_bytes, n_rows, xg.data(), n_x, n, gemm.data(), ldy);
          for (int64_t r = 0; r < n_x; ++r) {
            for (int64_t o = 0; o < ldy; ++o) {
              const float g = gemm[r * ldy + o], e = want[r * ldy + o];
              if (o >= n_rows) {
                ASSERT_EQ(g, -5.0f) << "wrote past n_w at row " << r;
                continue;
              }
              // The reference dot's own scale: |want| bounds nothing, so use the row's sum |w x|.
              const std::vector<float> wv = ref::testing::Dequantized(type, rows[o].data(), n);
              double scale = 0.0;
              for (int64_t i = 0; i < n; ++i) scale += std::fabs(static_cast<double>(wv[i]) * xs[r * n + i]);
              const double allowed = kDotAtol + kDotRtol * scale + 1e-6 * std::fabs(e);
              ASSERT_LE(std::fabs(static_cast<double>(g) - e), allowed)
                  << "gemm n=" << n << " n_w=" << n_rows << " n_x=" << n_x << " r=" << r << " o=" << o;
            }
          }
        }
      }
    }
    std::printf("[ %s ] packed gemv and gemm %-5s (%s) worst |error| / allowed = %.3g\n", kernels_->isa,
                std::string(DTypeName(type)).c_str(), packed.layout, worst_ratio);
  }
  if (tables == 0) std::printf("[ %s ] no packed decode layouts in this table\n", kernels_->isa);
}

TEST_P(CpuKernelsTest, DequantizeRowIsBitIdentical) {
  for (DType type : kSupportedTypes) {
    SCOPED_TRACE(std::string(DTypeName(type)));
    for (int64_t n : LengthsFor(type)) {
      for (uint32_t seed = 0; seed < 4; ++seed) {
        std::mt19937 rng(seed * 104729 + static_cast<uint32_t>(n));
        const std::vector<uint8_t> w =
            seed % 2 == 0 ? QuantizedRow(type, RandomFloats(rng, n)) : RandomBlocks(rng, type, n);
        ASSERT_FALSE(w.empty());
        const std::vector<float> want = ref::testing::Dequantized(type, w.data(), n);
        std::vector<float> got(static_cast<size_t>(n), -1.0f);
        kernels_->DequantizeRowFor(type)(w.data(), got.data(), n);
        for (int64_t i = 0; i < n; ++i) {
          ASSERT_EQ(std::memcmp(&want[i], &got[i], sizeof(float)), 0)
              << "n=" << n << " seed=" << seed << " element " << i << ": " << want[i] << " vs " << got[i];
        }
      }
    }
  }
}

// Every 16-bit pattern, NaNs (signalling ones too), infinities and subnormals included, and a
// tail shorter than a vector.
TEST_P(CpuKernelsTest, DequantizeF16AndBF16EveryValueIsBitIdentical) {
  std::vector<uint16_t> bits(65536 + 7);
  for (size_t i = 0; i < bits.size(); ++i) bits[i] = static_cast<uint16_t>(i * 40503u);  // odd: a permutation
  const int64_t n = static_cast<int64_t>(bits.size());
  for (DType type : {DType::kF16, DType::kBF16}) {
    SCOPED_TRACE(std::string(DTypeName(type)));
    const std::vector<float> want = ref::testing::Dequantized(type, bits.data(), n);
    std::vector<float> got(bits.size(), -1.0f);
    kernels_->DequantizeRowFor(type)(bits.data(), got.data(), n);
    for (int64_t i = 0; i < n; ++i) {
      ASSERT_EQ(std::memcmp(&want[i], &got[i], sizeof(float)), 0)
          << "bits 0x" << std::hex << bits[i] << ": " << want[i] << " vs " << got[i];
    }
  }
}

TEST_P(CpuKernelsTest, DotF32MatchesReference) {
  std::vector<int64_t> lengths;
  for (int64_t n = 0; n <= 80; ++n) lengths.push_back(n);
  for (int64_t n : {127, 640, 1024, 2048, 2049}) lengths.push_back(n);
  for (int64_t n : lengths) {
    for (uint32_t seed = 0; seed < 3; ++seed) {
      std::mt19937 rng(seed * 31 + static_cast<uint32_t>(n));
      std::vector<float> a = RandomFloats(rng, n + 32), b = RandomFloats(rng, n + 32, 0.1f);
      double scale = 0.0;
      for (int64_t i = 0; i < n; ++i) scale += std::fabs(static_cast<double>(a[i]) * b[i]);
      const float want = ref::VecDotF32(DType::kF32, a.data(), b.data(), n);
      const float got = kernels_->dot_f32(a.data(), b.data(), n);
      ASSERT_LE(std::fabs(static_cast<double>(got) - want), kDotAtol + kDotRtol * scale)
          << "n=" << n << " seed=" << seed << " ref=" << want << " got=" << got;
    }
  }
}

INSTANTIATE_TEST_SUITE_P(Isa, CpuKernelsTest, ::testing::ValuesIn(IsasOfThisBuild()),
                         [](const ::testing::TestParamInfo<std::string>& info) {
                           std::string name = info.param;  // test names take no '-'
                           std::replace(name.begin(), name.end(), '-', '_');
                           return name;
                         });

}  // namespace
}  // namespace tlm::cpu
