// Percentile bootstrap of a median ratio with a small portable generator.
#include "harness/analysis/bootstrap.h"

#include <cmath>
#include <limits>
#include <vector>

#include "engine/common/stats.h"
#include "harness/analysis/split_mix64.h"

namespace tlm {
namespace {

std::vector<double> Finite(std::span<const double> v) {
  std::vector<double> out;
  for (double d : v)
    if (!std::isnan(d)) out.push_back(d);
  return out;
}

double Ratio(double base_median, double cand_median) {
  if (base_median == 0) return cand_median == 0 ? 1.0 : std::numeric_limits<double>::infinity();
  return cand_median / base_median;
}

}  // namespace

double MedianRatio(std::span<const double> base, std::span<const double> cand) {
  const std::vector<double> b = Finite(base), c = Finite(cand);
  if (b.empty() || c.empty()) return std::numeric_limits<double>::quiet_NaN();
  return Ratio(Median(b), Median(c));
}

RatioInterval BootstrapMedianRatio(std::span<const double> base, std::span<const double> cand,
                                   const BootstrapOptions& options) {
  const double nan = std::numeric_limits<double>::quiet_NaN();
  const std::vector<double> b = Finite(base), c = Finite(cand);
  if (b.empty() || c.empty() || options.resamples <= 0) return {nan, nan};
  SplitMix64 rng(options.seed);
  std::vector<double> rb(b.size()), rc(c.size()), ratios;
  ratios.reserve(static_cast<size_t>(options.resamples));
  for (int i = 0; i < options.resamples; ++i) {
    for (double& v : rb) v = b[rng.Below(b.size())];
    for (double& v : rc) v = c[rng.Below(c.size())];
    const double mb = Median(rb);
    if (mb == 0) continue;
    ratios.push_back(Median(rc) / mb);
  }
  if (ratios.empty()) return {nan, nan};
  const double tail = (1 - options.confidence) / 2 * 100;
  return {Percentile(ratios, tail), Percentile(ratios, 100 - tail)};
}

}  // namespace tlm
