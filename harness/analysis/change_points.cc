// E-divisive: O(n^2) energy statistics over every split of a segment, a seeded permutation test,
// recursive bisection.
#include "harness/analysis/change_points.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <utility>
#include "harness/analysis/split_mix64.h"

namespace tlm {
namespace {

struct BestSplit {
  size_t at = 0;  // offset within the segment; 0 when none
  double q = -std::numeric_limits<double>::infinity();
};

// The best split of z (one segment) keeping `min_segment` points a side, in O(n^2).
BestSplit FindBestSplit(const std::vector<double>& z, size_t min_segment) {
  const size_t n = z.size();
  BestSplit best;
  if (n < 2 * min_segment) return best;
  // Running sums as the split t moves right: within the left part, within the right part, across.
  double within_left = 0, within_right = 0, across = 0;
  // Start with t = 0: everything on the right.
  for (size_t j = 0; j < n; ++j)
    for (size_t k = j + 1; k < n; ++k) within_right += std::fabs(z[j] - z[k]);
  for (size_t t = 0; t + 1 < n; ++t) {
    // Move point t from the right part to the left.
    double to_left = 0, to_right = 0;
    for (size_t i = 0; i < t; ++i) to_left += std::fabs(z[i] - z[t]);
    for (size_t k = t + 1; k < n; ++k) to_right += std::fabs(z[t] - z[k]);
    within_left += to_left;
    within_right -= to_right;
    across += to_right - to_left;
    const size_t left = t + 1, right = n - left;
    if (left < min_segment || right < min_segment) continue;
    const double nl = static_cast<double>(left), nr = static_cast<double>(right);
    const double energy =
        2.0 * across / (nl * nr) - within_left / (nl * (nl - 1) / 2) - within_right / (nr * (nr - 1) / 2);
    const double q = nl * nr / (nl + nr) * energy;
    if (q > best.q) best = {left, q};
  }
  return best;
}

void Search(std::span<const double> series, size_t begin, size_t end, const ChangePointOptions& o, SplitMix64& rng,
            std::vector<ChangePoint>& out) {
  const size_t min_segment = static_cast<size_t>(std::max(2, o.min_segment));
  std::vector<double> z(series.begin() + static_cast<std::ptrdiff_t>(begin),
                        series.begin() + static_cast<std::ptrdiff_t>(end));
  const BestSplit best = FindBestSplit(z, min_segment);
  if (best.at == 0) return;
  int as_large = 0;
  std::vector<double> shuffled = z;
  for (int p = 0; p < o.permutations; ++p) {
    for (size_t i = shuffled.size() - 1; i > 0; --i) std::swap(shuffled[i], shuffled[rng.Below(i + 1)]);
    if (FindBestSplit(shuffled, min_segment).q >= best.q) ++as_large;
  }
  const double p_value = (1.0 + as_large) / (1.0 + std::max(0, o.permutations));
  if (!(p_value < o.alpha)) return;
  ChangePoint cp;
  cp.index = begin + best.at;
  cp.statistic = best.q;
  cp.p_value = p_value;
  out.push_back(cp);
  Search(series, begin, cp.index, o, rng, out);
  Search(series, cp.index, end, o, rng, out);
}

double MeanOf(std::span<const double> s, size_t begin, size_t end) {
  double sum = 0;
  for (size_t i = begin; i < end; ++i) sum += s[i];
  return end > begin ? sum / static_cast<double>(end - begin) : std::numeric_limits<double>::quiet_NaN();
}

}  // namespace

std::vector<ChangePoint> EDivisive(std::span<const double> series, const ChangePointOptions& options) {
  std::vector<ChangePoint> out;
  SplitMix64 rng(options.seed);
  Search(series, 0, series.size(), options, rng, out);
  std::sort(out.begin(), out.end(), [](const ChangePoint& a, const ChangePoint& b) { return a.index < b.index; });
  for (size_t i = 0; i < out.size(); ++i) {
    const size_t prev = i == 0 ? 0 : out[i - 1].index;
    const size_t next = i + 1 < out.size() ? out[i + 1].index : series.size();
    out[i].mean_before = MeanOf(series, prev, out[i].index);
    out[i].mean_after = MeanOf(series, out[i].index, next);
    out[i].relative_change =
        out[i].mean_before == 0 ? std::numeric_limits<double>::quiet_NaN() : out[i].mean_after / out[i].mean_before - 1;
  }
  return out;
}

}  // namespace tlm
