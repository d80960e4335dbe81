// Tests for descriptive statistics against values computed by hand (and numpy's defaults).
#include "engine/common/stats.h"

#include <cmath>
#include <vector>

#include <gtest/gtest.h>

namespace tlm {
namespace {

TEST(StatsTest, Mean) {
  EXPECT_DOUBLE_EQ(Mean(std::vector<double>{1, 2, 3, 4}), 2.5);
  EXPECT_DOUBLE_EQ(Mean(std::vector<double>{-5}), -5.0);
  EXPECT_TRUE(std::isnan(Mean(std::vector<double>{})));
}

TEST(StatsTest, SampleStddevUsesNMinusOne) {
  // {2,4,4,4,5,5,7,9}: mean 5, sum of squares 32, sample variance 32/7.
  std::vector<double> v = {2, 4, 4, 4, 5, 5, 7, 9};
  EXPECT_DOUBLE_EQ(SampleStddev(v), std::sqrt(32.0 / 7.0));
  EXPECT_DOUBLE_EQ(SampleStddev(std::vector<double>{1, 2, 3, 4}), std::sqrt(5.0 / 3.0));
  EXPECT_EQ(SampleStddev(std::vector<double>{42}), 0.0);
  EXPECT_TRUE(std::isnan(SampleStddev(std::vector<double>{})));
}

TEST(StatsTest, SampleStddevIsStableForLargeOffsets) {
  // A naive sum-of-squares formula loses every digit here.
  std::vector<double> v = {1e9 + 4, 1e9 + 7, 1e9 + 13, 1e9 + 16};
  EXPECT_NEAR(SampleStddev(v), std::sqrt(90.0 / 3.0), 1e-6);
}

TEST(StatsTest, MedianOddAndEven) {
  EXPECT_DOUBLE_EQ(Median(std::vector<double>{5, 1, 3}), 3.0);
  EXPECT_DOUBLE_EQ(Median(std::vector<double>{4, 1, 3, 2}), 2.5);
  EXPECT_DOUBLE_EQ(Median(std::vector<double>{7}), 7.0);
  EXPECT_TRUE(std::isnan(Median(std::vector<double>{})));
}

TEST(StatsTest, PercentileLinearInterpolation) {
  // numpy.percentile([1..10], p): p50 5.5, p90 9.1, p99 9.91, p25 3.25.
  std::vector<double> v = {10, 9, 8, 7, 6, 5, 4, 3, 2, 1};
  EXPECT_DOUBLE_EQ(Percentile(v, 50), 5.5);
  EXPECT_NEAR(Percentile(v, 90), 9.1, 1e-12);
  EXPECT_NEAR(Percentile(v, 99), 9.91, 1e-12);
  EXPECT_DOUBLE_EQ(Percentile(v, 25), 3.25);
  EXPECT_DOUBLE_EQ(Percentile(v, 0), 1.0);
  EXPECT_DOUBLE_EQ(Percentile(v, 100), 10.0);
  EXPECT_DOUBLE_EQ(Percentile(v, -3), 1.0);    // clamped
  EXPECT_DOUBLE_EQ(Percentile(v, 130), 10.0);  // clamped
  // Two points: p90 is 90% of the way from the first to the second.
  EXPECT_NEAR(Percentile(std::vector<double>{10, 20}, 90), 19.0, 1e-12);
  EXPECT_DOUBLE_EQ(Percentile(std::vector<double>{3}, 99), 3.0);
  EXPECT_TRUE(std::isnan(Percentile(std::vector<double>{}, 50)));
}

TEST(StatsTest, PercentileSortedMatchesUnsorted) {
  std::vector<double> sorted = {1.5, 2.0, 2.25, 8.0, 11.0};
  for (double p : {0.0, 10.0, 33.3, 50.0, 90.0, 99.0, 100.0}) {
    EXPECT_DOUBLE_EQ(PercentileSorted(sorted, p), Percentile(std::vector<double>{8.0, 1.5, 11.0, 2.25, 2.0}, p));
  }
}

TEST(StatsTest, CoefficientOfVariation) {
  std::vector<double> v = {2, 4, 4, 4, 5, 5, 7, 9};
  EXPECT_DOUBLE_EQ(CoefficientOfVariation(v), std::sqrt(32.0 / 7.0) / 5.0);
  EXPECT_DOUBLE_EQ(CoefficientOfVariation(std::vector<double>{-2, -4}), std::sqrt(2.0) / 3.0);
  EXPECT_TRUE(std::isnan(CoefficientOfVariation(std::vector<double>{-1, 1})));
  EXPECT_TRUE(std::isnan(CoefficientOfVariation(std::vector<double>{})));
  EXPECT_EQ(CoefficientOfVariation(std::vector<double>{5.0}), 0.0);
  EXPECT_EQ(CoefficientOfVariation(std::vector<double>{3.0, 3.0, 3.0}), 0.0);
  // mean 10, sample variance ((-2)^2 + 0 + 2^2) / 2 = 4, stddev 2 (the run verdict's noise measure).
  EXPECT_NEAR(CoefficientOfVariation(std::vector<double>{8.0, 10.0, 12.0}), 0.2, 1e-12);
}

TEST(StatsTest, SummarizeAgreesWithTheSingleFunctions) {
  std::vector<double> v = {12.5, 3.0, 7.25, 9.0, 1.0, 4.5};
  Summary s = Summarize(v);
  EXPECT_EQ(s.count, 6u);
  EXPECT_DOUBLE_EQ(s.mean, Mean(v));
  EXPECT_DOUBLE_EQ(s.stddev, SampleStddev(v));
  EXPECT_DOUBLE_EQ(s.median, Median(v));
  EXPECT_DOUBLE_EQ(s.p90, Percentile(v, 90));
  EXPECT_DOUBLE_EQ(s.p99, Percentile(v, 99));
  EXPECT_DOUBLE_EQ(s.min, 1.0);
  EXPECT_DOUBLE_EQ(s.max, 12.5);
  EXPECT_DOUBLE_EQ(s.cv, CoefficientOfVariation(v));
  Summary empty = Summarize(std::vector<double>{});
  EXPECT_EQ(empty.count, 0u);
  EXPECT_TRUE(std::isnan(empty.mean));
  EXPECT_TRUE(std::isnan(empty.median));
}

}  // namespace
}  // namespace tlm
