// Tests of the dot products: VecDotQ8 of every supported type against dot(DequantizeRow(w),
// dequantized activations) in double, over many lengths and seeds; QuantizeRowQ8; VecDotF32.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <random>
#include <string>
#include <vector>

#include "engine/tensor/dtype.h"
#include "kernels/cpu/ref/quant.h"
#include "tests/kernels/cpu/ref/quant_test_util.h"

namespace tlm::cpu::ref {
namespace {

using testing::Dequantized;
using testing::QuantizedRow;
using testing::RandomBlocks;
using testing::RandomFloats;

struct Tolerance {
  double atol;
  double rtol;  // relative to sum |w_i * x_i|, the scale of the rounding errors (not |dot|,
                // which cancellation can make arbitrarily small)
};

// Both sides compute the same exact integer sums; they differ only by float rounding of the
// scale products and of the running float sum over up to 248 activation blocks. The worst
// error measured over this test's rows is about 1.3e-7 * sum |w_i * x_i| for every type, so
// these leave a margin of 8x or more. Formats with a min (offset) term get twice the room:
// their scale and min parts can be much larger than the dot and cancel.
Tolerance ToleranceFor(DType type) {
  switch (type) {
    case DType::kQ4_1:
    case DType::kQ5_1:
    case DType::kQ2_K:
    case DType::kQ4_K:
    case DType::kQ5_K:
      return {1e-30, 2e-6};
    default:  // F32, F16, BF16, Q4_0, Q5_0, Q8_0, Q3_K, Q6_K
      return {1e-30, 1e-6};
  }
}

std::vector<float> DequantizeQ8(const std::vector<BlockQ8>& x) {
  std::vector<float> out;
  for (const BlockQ8& b : x) {
    for (int l = 0; l < kQ8Block; ++l) out.push_back(b.d * static_cast<float>(b.qs[l]));
  }
  return out;
}

std::vector<int64_t> LengthsFor(DType type) {
  const int64_t unit = std::max<int64_t>(kQ8Block, Info(type).block_elems);
  // One block, odd block counts, and model-sized rows (576 is SmolLM2's width, 640 Gemma's).
  std::vector<int64_t> blocks = {1, 2, 3, 5, 7, 9, 16, 17, 31};
  if (unit == 32) blocks.insert(blocks.end(), {18, 20, 48, 96, 143});
  std::vector<int64_t> lengths;
  for (int64_t b : blocks) lengths.push_back(b * unit);
  return lengths;
}

class VecDotQ8Test : public ::testing::TestWithParam<DType> {};

TEST_P(VecDotQ8Test, MatchesDequantizedDotProduct) {
  const DType type = GetParam();
  const Tolerance tol = ToleranceFor(type);
  double worst_ratio = 0.0;  // |error| / allowed, reported to keep the tolerance honest
  for (int64_t n : LengthsFor(type)) {
    for (uint32_t seed = 0; seed < 6; ++seed) {
      std::mt19937 rng(seed * 7919 + static_cast<uint32_t>(n));
      // Even seeds: weights quantized from realistic floats; odd seeds: random block bits.
      std::vector<uint8_t> w =
          (seed % 2 == 0) ? QuantizedRow(type, RandomFloats(rng, n)) : RandomBlocks(rng, type, n);
      ASSERT_FALSE(w.empty());
      const std::vector<float> x = RandomFloats(rng, n, seed == 4 ? 1e-3f : 3.0f);
      std::vector<BlockQ8> xq(static_cast<size_t>(n / kQ8Block));
      QuantizeRowQ8(x.data(), xq.data(), n);

      const std::vector<float> wf = Dequantized(type, w.data(), n);
      const std::vector<float> xf = DequantizeQ8(xq);
      double want = 0.0, magnitude = 0.0;
      for (int64_t i = 0; i < n; ++i) {
        const double p =
            static_cast<double>(wf[static_cast<size_t>(i)]) * xf[static_cast<size_t>(i)];
        want += p;
        magnitude += std::fabs(p);
      }
      const double got = VecDotQ8(type, w.data(), xq.data(), n);
      const double allowed = tol.atol + tol.rtol * magnitude;
      ASSERT_LE(std::fabs(got - want), allowed)
          << DTypeName(type) << " n=" << n << " seed=" << seed << " got " << got << " want " << want
          << " magnitude " << magnitude;
      worst_ratio = std::max(worst_ratio, std::fabs(got - want) / allowed);
    }
  }
  RecordProperty("worst_error_over_tolerance", std::to_string(worst_ratio));
}

TEST_P(VecDotQ8Test, IsLinearInBlocks) {
  // dot over a row is the sum of the dots over its superblocks (no state between blocks).
  const DType type = GetParam();
  const int64_t unit = std::max<int64_t>(kQ8Block, Info(type).block_elems);
  const int64_t n = 5 * unit;
  std::mt19937 rng(99);
  const std::vector<uint8_t> w = RandomBlocks(rng, type, n);
  const std::vector<float> x = RandomFloats(rng, n);
  std::vector<BlockQ8> xq(static_cast<size_t>(n / kQ8Block));
  QuantizeRowQ8(x.data(), xq.data(), n);
  const size_t unit_bytes = testing::RowBytes(type, unit);
  double parts = 0.0, magnitude = 0.0;
  for (int64_t k = 0; k < 5; ++k) {
    const float part =
        VecDotQ8(type, w.data() + k * unit_bytes, xq.data() + k * (unit / kQ8Block), unit);
    parts += part;
    magnitude += std::fabs(part);
  }
  EXPECT_NEAR(VecDotQ8(type, w.data(), xq.data(), n), parts, 1e-5 * magnitude + 1e-30);
}

INSTANTIATE_TEST_SUITE_P(AllSupportedTypes, VecDotQ8Test,
                         ::testing::ValuesIn(testing::kSupportedTypes),
                         [](const auto& info) { return std::string(DTypeName(info.param)); });

TEST(QuantizeRowQ8, ScalesRoundsAndSums) {
  std::mt19937 rng(5);
  const int64_t n = 32 * 64;
  const std::vector<float> x = RandomFloats(rng, n);
  std::vector<BlockQ8> y(static_cast<size_t>(n / 32));
  QuantizeRowQ8(x.data(), y.data(), n);
  for (size_t b = 0; b < y.size(); ++b) {
    float amax = 0.0f;
    for (int l = 0; l < 32; ++l) amax = std::max(amax, std::fabs(x[b * 32 + l]));
    EXPECT_EQ(y[b].d, amax / 127.0f);
    int32_t sum = 0;
    for (int l = 0; l < 32; ++l) {
      sum += y[b].qs[l];
      EXPECT_LE(std::abs(y[b].qs[l]), 127);
      // Round to nearest: the error is at most half a step (plus the rounding of 1/d).
      EXPECT_LE(std::fabs(x[b * 32 + l] - y[b].d * y[b].qs[l]), y[b].d * (0.5f + 1e-5f));
    }
    EXPECT_EQ(y[b].sum, sum);
  }
}

TEST(QuantizeRowQ8, ZeroBlockAndTiesAwayFromZero) {
  std::vector<float> x(64, 0.0f);
  x[32] = 127.0f;  // d = 1 exactly
  x[33] = 2.5f;
  x[34] = -2.5f;
  x[35] = -127.0f;
  x[36] = 0.49f;
  std::vector<BlockQ8> y(2);
  QuantizeRowQ8(x.data(), y.data(), 64);
  EXPECT_EQ(y[0].d, 0.0f);
  EXPECT_EQ(y[0].sum, 0);
  for (int l = 0; l < 32; ++l) EXPECT_EQ(y[0].qs[l], 0);
  EXPECT_EQ(y[1].d, 1.0f);
  EXPECT_EQ(y[1].qs[0], 127);
  EXPECT_EQ(y[1].qs[1], 3);  // ties away from zero, as ggml's roundf
  EXPECT_EQ(y[1].qs[2], -3);
  EXPECT_EQ(y[1].qs[3], -127);
  EXPECT_EQ(y[1].qs[4], 0);
  EXPECT_EQ(y[1].sum, 0);
}

TEST(QuantizeRowQ8, NonFiniteInputStaysDefined) {
  std::vector<float> x(32, 1.0f);
  x[3] = std::nanf("");
  std::vector<BlockQ8> y(1);
  QuantizeRowQ8(x.data(), y.data(), 32);  // NaN is skipped by the max; must not be UB
  EXPECT_EQ(y[0].d, 1.0f / 127.0f);
  EXPECT_EQ(y[0].qs[0], 127);
  x[3] = INFINITY;
  QuantizeRowQ8(x.data(), y.data(), 32);
  for (int l = 0; l < 32; ++l) EXPECT_LE(std::abs(y[0].qs[l]), 127);
}

class VecDotF32Test : public ::testing::TestWithParam<DType> {};

TEST_P(VecDotF32Test, MatchesDoubleDot) {
  const DType type = GetParam();
  for (int64_t n : LengthsFor(type)) {
    std::mt19937 rng(static_cast<uint32_t>(n) + 11);
    const std::vector<uint8_t> w = RandomBlocks(rng, type, n);
    const std::vector<float> x = RandomFloats(rng, n);
    const std::vector<float> wf = Dequantized(type, w.data(), n);
    double want = 0.0, magnitude = 0.0;
    for (int64_t i = 0; i < n; ++i) {
      const double p = static_cast<double>(wf[static_cast<size_t>(i)]) * x[static_cast<size_t>(i)];
      want += p;
      magnitude += std::fabs(p);
    }
    // Double accumulation: only the final rounding to float remains.
    EXPECT_NEAR(VecDotF32(type, w.data(), x.data(), n), want,
                1e-7 * std::fabs(want) + 1e-12 * magnitude + 1e-37)
        << DTypeName(type) << " n=" << n;
  }
}

INSTANTIATE_TEST_SUITE_P(AllSupportedTypes, VecDotF32Test,
                         ::testing::ValuesIn(testing::kSupportedTypes),
                         [](const auto& info) { return std::string(DTypeName(info.param)); });

}  // namespace
}  // namespace tlm::cpu::ref
