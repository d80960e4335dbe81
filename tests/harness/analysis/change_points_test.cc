// E-divisive change points: one step found at the right index, two steps, nothing in flat noise,
// short series, determinism.
#include "harness/analysis/change_points.h"

#include <random>
#include <vector>

#include <gtest/gtest.h>

namespace tlm {
namespace {

// n points around `level`, multiplied by `factor` from index `step` on, with relative noise.
std::vector<double> Series(uint64_t seed, size_t n, double level, double noise, size_t step, double factor) {
  std::mt19937_64 rng(seed);
  std::normal_distribution<double> normal(0, noise);
  std::vector<double> v(n);
  for (size_t i = 0; i < n; ++i) v[i] = level * (i >= step ? factor : 1.0) * (1 + normal(rng));
  return v;
}

TEST(ChangePointsTest, FindsOneStepAtTheRightCommit) {
  for (uint64_t seed : {1, 2, 3, 4, 5}) {
    // 30 commits, decode_tps drops 10% at commit 17 (index 17), 1% noise.
    const auto series = Series(seed, 30, 40.0, 0.01, 17, 0.9);
    const auto cps = EDivisive(series);
    ASSERT_EQ(cps.size(), 1u) << "seed " << seed;
    EXPECT_EQ(cps[0].index, 17u);
    EXPECT_LT(cps[0].p_value, 0.05);
    EXPECT_NEAR(cps[0].relative_change, -0.1, 0.01);
    EXPECT_NEAR(cps[0].mean_before, 40.0, 0.5);
    EXPECT_NEAR(cps[0].mean_after, 36.0, 0.5);
  }
}

TEST(ChangePointsTest, FindsTwoSteps) {
  auto series = Series(11, 45, 100.0, 0.01, 15, 1.1);  // +10% at 15
  for (size_t i = 30; i < series.size(); ++i) series[i] *= 0.85;  // then -15% at 30
  const auto cps = EDivisive(series);
  ASSERT_EQ(cps.size(), 2u);
  EXPECT_EQ(cps[0].index, 15u);
  EXPECT_EQ(cps[1].index, 30u);
  EXPECT_NEAR(cps[0].relative_change, 0.10, 0.02);
  EXPECT_NEAR(cps[1].relative_change, -0.15, 0.02);
}

TEST(ChangePointsTest, NothingInAFlatNoisyHistory) {
  for (uint64_t seed : {21, 22, 23, 24, 25}) {
    const auto series = Series(seed, 30, 40.0, 0.03, 30, 1.0);
    EXPECT_TRUE(EDivisive(series).empty()) << "seed " << seed;
  }
}

TEST(ChangePointsTest, ShortAndConstantSeries) {
  EXPECT_TRUE(EDivisive(std::vector<double>{}).empty());
  EXPECT_TRUE(EDivisive(std::vector<double>{1, 2, 3, 4, 5}).empty());  // shorter than two segments of 3
  EXPECT_TRUE(EDivisive(std::vector<double>(20, 7.0)).empty());
}

TEST(ChangePointsTest, DeterministicAndHonoursMinSegment) {
  const auto series = Series(3, 30, 40.0, 0.01, 17, 0.9);
  const auto a = EDivisive(series), b = EDivisive(series);
  ASSERT_EQ(a.size(), b.size());
  for (size_t i = 0; i < a.size(); ++i) EXPECT_EQ(a[i].p_value, b[i].p_value);
  // A step 2 points from the end cannot be split off with segments of at least 3.
  const auto late = Series(4, 30, 40.0, 0.01, 28, 0.8);
  ChangePointOptions o;
  o.min_segment = 3;
  for (const ChangePoint& cp : EDivisive(late, o)) EXPECT_LE(cp.index, 27u);
}

}  // namespace
}  // namespace tlm
