// Descriptive statistics over repetition samples (see stats.h for the exact definitions).
#include "engine/common/stats.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <vector>

namespace tlm {

namespace {

constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();

std::vector<double> SortedCopy(std::span<const double> values) {
  std::vector<double> sorted(values.begin(), values.end());
  std::sort(sorted.begin(), sorted.end());
  return sorted;
}

}  // namespace

double Mean(std::span<const double> values) {
  if (values.empty()) return kNaN;
  double sum = 0.0;
  for (double v : values) sum += v;
  return sum / static_cast<double>(values.size());
}

double SampleStddev(std::span<const double> values) {
  if (values.empty()) return kNaN;
  if (values.size() == 1) return 0.0;
  const double mean = Mean(values);
  double sum_sq = 0.0;
  for (double v : values) sum_sq += (v - mean) * (v - mean);
  return std::sqrt(sum_sq / static_cast<double>(values.size() - 1));
}

double PercentileSorted(std::span<const double> sorted, double p) {
  if (sorted.empty() || std::isnan(p)) return kNaN;
  p = std::clamp(p, 0.0, 100.0);
  const double rank = static_cast<double>(sorted.size() - 1) * p / 100.0;
  const size_t lower = static_cast<size_t>(std::floor(rank));
  const size_t upper = std::min(lower + 1, sorted.size() - 1);
  const double fraction = rank - static_cast<double>(lower);
  return sorted[lower] + fraction * (sorted[upper] - sorted[lower]);
}

double Percentile(std::span<const double> values, double p) {
  std::vector<double> sorted = SortedCopy(values);
  return PercentileSorted(sorted, p);
}

double Median(std::span<const double> values) { return Percentile(values, 50.0); }

double CoefficientOfVariation(std::span<const double> values) {
  const double mean = Mean(values);
  if (values.empty() || mean == 0.0) return kNaN;
  return SampleStddev(values) / std::fabs(mean);
}

Summary Summarize(std::span<const double> values) {
  Summary s;
  s.count = values.size();
  if (values.empty()) {
    s.mean = s.stddev = s.median = s.min = s.max = s.p90 = s.p99 = s.cv = kNaN;
    return s;
  }
  std::vector<double> sorted = SortedCopy(values);
  s.mean = Mean(values);
  s.stddev = SampleStddev(values);
  s.median = PercentileSorted(sorted, 50.0);
  s.p90 = PercentileSorted(sorted, 90.0);
  s.p99 = PercentileSorted(sorted, 99.0);
  s.min = sorted.front();
  s.max = sorted.back();
  s.cv = s.mean == 0.0 ? kNaN : s.stddev / std::fabs(s.mean);
  return s;
}

}  // namespace tlm
