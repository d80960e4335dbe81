// The bootstrap interval of a median ratio: covers the true ratio on lognormal data, is
// deterministic, shrinks with more data, and handles degenerate samples.
#include "harness/analysis/bootstrap.h"

#include <cmath>
#include <random>
#include <vector>

#include <gtest/gtest.h>

namespace tlm {
namespace {

std::vector<double> Lognormal(std::mt19937_64& rng, size_t n, double median, double sigma) {
  std::normal_distribution<double> normal(0, sigma);
  std::vector<double> v(n);
  for (double& x : v) x = median * std::exp(normal(rng));
  return v;
}

TEST(BootstrapTest, IntervalCoversTheTrueRatioOnLognormalData) {
  // 40 independent data sets with a true median ratio of 0.9; a 95% interval should miss it rarely.
  std::mt19937_64 rng(12345);
  int covered = 0;
  for (int trial = 0; trial < 40; ++trial) {
    const auto base = Lognormal(rng, 30, 100, 0.05), cand = Lognormal(rng, 30, 90, 0.05);
    const RatioInterval ci = BootstrapMedianRatio(base, cand);
    EXPECT_LT(ci.low, ci.high);
    covered += ci.low <= 0.9 && 0.9 <= ci.high;
  }
  EXPECT_GE(covered, 34);  // expected about 38
}

TEST(BootstrapTest, DeterministicForASeedAndNarrowerWithMoreData) {
  std::mt19937_64 rng(7);
  const auto base = Lognormal(rng, 10, 50, 0.05), cand = Lognormal(rng, 10, 50, 0.05);
  const RatioInterval a = BootstrapMedianRatio(base, cand), b = BootstrapMedianRatio(base, cand);
  EXPECT_EQ(a.low, b.low);
  EXPECT_EQ(a.high, b.high);
  const auto big_base = Lognormal(rng, 200, 50, 0.05), big_cand = Lognormal(rng, 200, 50, 0.05);
  const RatioInterval big = BootstrapMedianRatio(big_base, big_cand);
  EXPECT_LT(big.high - big.low, a.high - a.low);
  EXPECT_LE(big.low, 1.0);
  EXPECT_GE(big.high, 1.0);
}

TEST(BootstrapTest, DegenerateSamples) {
  const std::vector<double> none, base(5, 100), cand(5, 110), zeros(5, 0);
  EXPECT_TRUE(std::isnan(BootstrapMedianRatio(none, cand).low));
  const RatioInterval exact = BootstrapMedianRatio(base, cand);
  EXPECT_DOUBLE_EQ(exact.low, 1.1);
  EXPECT_DOUBLE_EQ(exact.high, 1.1);
  EXPECT_TRUE(std::isnan(BootstrapMedianRatio(zeros, cand).low));  // every base median is 0
  EXPECT_DOUBLE_EQ(MedianRatio(base, cand), 1.1);
  EXPECT_DOUBLE_EQ(MedianRatio(zeros, zeros), 1.0);
  EXPECT_TRUE(std::isinf(MedianRatio(zeros, cand)));
  EXPECT_TRUE(std::isnan(MedianRatio(none, cand)));
}

}  // namespace
}  // namespace tlm
