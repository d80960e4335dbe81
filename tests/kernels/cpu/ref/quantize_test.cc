// Tests of QuantizeRow: quantize -> dequantize round-trip error bounds per type, special rows
// (zeros, constants, spikes, tiny and large values), and the errors it returns.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>
#include <map>
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
using testing::RandomFloats;

// Relative RMS error (rms(dequant - x) / rms(x)) allowed on rows of Gaussian blocks whose
// scales span decades, with 8x outliers. About 1.25x the worst measured over the test's seeds
// (which matched ggml's reference quantizers exactly when cross-checked): a broken packing or
// scale search lands far above these.
double RelativeRmseBound(DType type) {
  switch (type) {
    case DType::kF32:
      return 0.0;
    case DType::kF16:
      return 3e-4;
    case DType::kBF16:
      return 2.5e-3;
    case DType::kQ8_0:
      return 0.012;
    case DType::kQ6_K:
      return 0.036;
    case DType::kQ5_1:
      return 0.062;
    case DType::kQ5_K:
      return 0.064;
    case DType::kQ5_0:
      return 0.09;
    case DType::kQ4_K:
      return 0.126;
    case DType::kQ4_1:
      return 0.13;
    case DType::kQ4_0:
      return 0.185;
    case DType::kQ3_K:
      return 0.25;
    case DType::kQ2_K:
      return 0.41;
    default:
      return 0.0;
  }
}

double RelativeRmse(const std::vector<float>& x, const std::vector<float>& y) {
  double err = 0.0, ref = 0.0;
  for (size_t i = 0; i < x.size(); ++i) {
    err += (static_cast<double>(y[i]) - x[i]) * (static_cast<double>(y[i]) - x[i]);
    ref += static_cast<double>(x[i]) * x[i];
  }
  return ref > 0.0 ? std::sqrt(err / ref) : std::sqrt(err);
}

// Rounding error of a value stored as fp16: relative 2^-11, but absolute 2^-25 in the
// subnormal range (tiny blocks get subnormal scales).
double Fp16Error(double v) {
  return std::max(std::fabs(v) * std::ldexp(1.0, -11), std::ldexp(1.0, -25));
}

// Worst-case error of one element, from the format alone, for the formats where it is simple:
// half a quantization step (a full one where the grid clips), plus the fp16 rounding of the
// block's scale times the largest level, plus that of the min.
double MaxElementError(DType type, const float* block) {
  float lo = block[0], hi = block[0], amax = 0.0f;
  for (int l = 0; l < 32; ++l) {
    lo = std::min(lo, block[l]);
    hi = std::max(hi, block[l]);
    amax = std::max(amax, std::fabs(block[l]));
  }
  const double slack = 1.001;  // float rounding of x * (1/d)
  switch (type) {
    case DType::kQ8_0:
      return amax / 254.0 * slack + 127 * Fp16Error(amax / 127.0);
    // The largest magnitude maps to -8 (-16) exactly; the opposite side clips one step short.
    case DType::kQ4_0:
      return amax / 8.0 * slack + 8 * Fp16Error(amax / 8.0);
    case DType::kQ5_0:
      return amax / 16.0 * slack + 16 * Fp16Error(amax / 16.0);
    case DType::kQ4_1:
      return (hi - lo) / 30.0 * slack + 15 * Fp16Error((hi - lo) / 15.0) + Fp16Error(lo);
    case DType::kQ5_1:
      return (hi - lo) / 62.0 * slack + 31 * Fp16Error((hi - lo) / 31.0) + Fp16Error(lo);
    case DType::kF16:
      return Fp16Error(amax);
    case DType::kBF16:
      return amax * std::ldexp(1.0, -8);
    case DType::kF32:
      return 0.0;
    default:
      return std::numeric_limits<double>::infinity();
  }
}

class RoundTrip : public ::testing::TestWithParam<DType> {};

TEST_P(RoundTrip, ErrorWithinFormatBounds) {
  const DType type = GetParam();
  const int64_t n = 256 * 24;
  double worst = 0.0;
  for (uint32_t seed = 0; seed < 5; ++seed) {
    std::mt19937 rng(seed + 100);
    const float scale = seed == 3 ? 1e-3f : seed == 4 ? 50.0f : 1.0f;
    const std::vector<float> x = RandomFloats(rng, n, scale);
    const std::vector<uint8_t> q = QuantizedRow(type, x);
    ASSERT_FALSE(q.empty());
    const std::vector<float> y = Dequantized(type, q.data(), n);
    const double rmse = RelativeRmse(x, y);
    worst = std::max(worst, rmse);
    EXPECT_LE(rmse, RelativeRmseBound(type)) << DTypeName(type) << " seed " << seed;
    for (int64_t b = 0; b < n / 32; ++b) {
      const double bound = MaxElementError(type, x.data() + 32 * b);
      for (int l = 0; l < 32; ++l) {
        const size_t i = static_cast<size_t>(32 * b + l);
        ASSERT_LE(std::fabs(static_cast<double>(y[i]) - x[i]), bound)
            << DTypeName(type) << " seed " << seed << " element " << i;
      }
    }
  }
  RecordProperty("worst_relative_rmse", std::to_string(worst));
}

TEST_P(RoundTrip, SpecialRows) {
  const DType type = GetParam();
  const int64_t n = 512;
  auto round_trip = [&](const std::vector<float>& x) {
    const std::vector<uint8_t> q = QuantizedRow(type, x);
    EXPECT_FALSE(q.empty());
    return q.empty() ? std::vector<float>(x.size(), NAN) : Dequantized(type, q.data(), n);
  };
  // All zeros come back exactly.
  for (float v : round_trip(std::vector<float>(n, 0.0f))) ASSERT_EQ(v, 0.0f) << DTypeName(type);
  // A constant row: within 1% (the K-quants store it through 6-bit scale grids).
  for (float c : {1.0f, -0.375f, 1000.0f}) {
    for (float v : round_trip(std::vector<float>(n, c))) {
      ASSERT_NEAR(v, c, std::fabs(c) * 0.01) << DTypeName(type) << " constant " << c;
    }
  }
  // A single spike in a zero row: the spike survives within 1%, the rest stays near zero.
  std::vector<float> spike(n, 0.0f);
  spike[300] = -7.0f;
  const std::vector<float> y = round_trip(spike);
  EXPECT_NEAR(y[300], -7.0f, 0.07f) << DTypeName(type);
  for (int64_t i = 0; i < n; ++i) {
    if (i == 300) continue;
    ASSERT_NEAR(y[static_cast<size_t>(i)], 0.0f, 0.07f) << DTypeName(type) << " element " << i;
  }
  // Tiny values (fp16-subnormal scales) and values at the fp16 limit stay finite and bounded.
  std::mt19937 rng(3);
  for (float scale : {1e-6f, 1e-9f, 20000.0f}) {
    std::vector<float> x = RandomFloats(rng, n, scale);
    for (float& v : x) v = std::clamp(v, -65504.0f, 65504.0f);
    const std::vector<float> z = round_trip(x);
    float amax = 0.0f;
    for (float v : x) amax = std::max(amax, std::fabs(v));
    for (size_t i = 0; i < z.size(); ++i) {
      ASSERT_TRUE(std::isfinite(z[i])) << DTypeName(type) << " scale " << scale;
      // Loose: fp16 scale underflow can lose all tiny values, but never invents large ones.
      ASSERT_LE(std::fabs(z[i]), amax * 1.5f + 1e-6f) << DTypeName(type) << " scale " << scale;
    }
  }
}

INSTANTIATE_TEST_SUITE_P(AllSupportedTypes, RoundTrip,
                         ::testing::ValuesIn(testing::kSupportedTypes),
                         [](const auto& info) { return std::string(DTypeName(info.param)); });

TEST(QuantizeRow, MoreBitsMeanLessError) {
  const int64_t n = 256 * 32;
  std::mt19937 rng(42);
  const std::vector<float> x = RandomFloats(rng, n);
  std::map<DType, double> rmse;
  for (DType type : testing::kSupportedTypes) {
    const std::vector<uint8_t> q = QuantizedRow(type, x);
    ASSERT_FALSE(q.empty());
    rmse[type] = RelativeRmse(x, Dequantized(type, q.data(), n));
  }
  EXPECT_LT(rmse[DType::kQ8_0], rmse[DType::kQ6_K]);
  EXPECT_LT(rmse[DType::kQ6_K], rmse[DType::kQ5_K]);
  EXPECT_LT(rmse[DType::kQ5_K], rmse[DType::kQ4_K]);
  EXPECT_LT(rmse[DType::kQ4_K], rmse[DType::kQ3_K]);
  EXPECT_LT(rmse[DType::kQ3_K], rmse[DType::kQ2_K]);
  EXPECT_LT(rmse[DType::kQ5_0], rmse[DType::kQ4_0]);
  EXPECT_LT(rmse[DType::kQ5_1], rmse[DType::kQ4_1]);
  // The superblock formats' scale search beats plain round-to-nearest at equal bits.
  EXPECT_LT(rmse[DType::kQ4_K], rmse[DType::kQ4_0]);
  EXPECT_LT(rmse[DType::kQ5_K], rmse[DType::kQ5_0]);
  for (const auto& [type, value] : rmse) {
    RecordProperty(std::string(DTypeName(type)), std::to_string(value));
  }
}

TEST(QuantizeRow, RejectsBadLengths) {
  std::vector<float> x(300, 1.0f);
  std::vector<uint8_t> out(4096);
  for (DType type : {DType::kQ4_0, DType::kQ8_0, DType::kQ4_K, DType::kQ6_K}) {
    const Status status = QuantizeRow(type, x.data(), out.data(), 300);
    EXPECT_EQ(status.code(), StatusCode::kInvalidArgument) << DTypeName(type);
    EXPECT_NE(status.message().find(std::string(DTypeName(type))), std::string::npos)
        << status.ToString();
  }
  EXPECT_EQ(QuantizeRow(DType::kQ8_0, x.data(), out.data(), -32).code(),
            StatusCode::kInvalidArgument);
  EXPECT_TRUE(QuantizeRow(DType::kQ8_0, x.data(), out.data(), 0).ok());
}

TEST(QuantizeRow, RejectsValuesTheScalesCannotHold) {
  std::vector<uint8_t> out(4096);
  for (float bad : {std::nanf(""), INFINITY, -INFINITY, 70000.0f, -1e30f}) {
    std::vector<float> x(256, 0.5f);
    x[77] = bad;
    for (DType type : {DType::kQ4_0, DType::kQ4_1, DType::kQ8_0, DType::kQ4_K, DType::kQ6_K}) {
      const Status status = QuantizeRow(type, x.data(), out.data(), 256);
      EXPECT_EQ(status.code(), StatusCode::kInvalidArgument) << DTypeName(type) << " " << bad;
      EXPECT_NE(status.message().find("element 77"), std::string::npos) << status.ToString();
    }
    // Plain float types represent them.
    EXPECT_TRUE(QuantizeRow(DType::kF16, x.data(), out.data(), 256).ok());
    EXPECT_TRUE(QuantizeRow(DType::kBF16, x.data(), out.data(), 256).ok());
    EXPECT_TRUE(QuantizeRow(DType::kF32, x.data(), out.data(), 256).ok());
  }
}

TEST(QuantizeRow, UnsupportedTypesAreUnimplemented) {
  std::vector<float> x(256, 1.0f);
  std::vector<uint8_t> out(4096);
  for (DType type : {DType::kQ8_1, DType::kQ8_K, DType::kI8, DType::kI32, DType::kF64}) {
    EXPECT_EQ(QuantizeRow(type, x.data(), out.data(), 256).code(), StatusCode::kUnimplemented)
        << DTypeName(type);
  }
  EXPECT_EQ(QuantizeRow(static_cast<DType>(4), x.data(), out.data(), 256).code(),
            StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace tlm::cpu::ref
