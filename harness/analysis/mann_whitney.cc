// Mann-Whitney U: midranks, an exact rank-sum distribution by dynamic programming, and the
// tie-corrected normal approximation.
#include "harness/analysis/mann_whitney.h"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <vector>

namespace tlm {
namespace {

struct Pooled {
  std::vector<int64_t> doubled_ranks;  // 2 * midrank of each value, x's first then y's (integers)
  double tie_term = 0;                 // sum over tie groups of t^3 - t
};

Pooled RankPooled(const std::vector<double>& x, const std::vector<double>& y) {
  const size_t n = x.size() + y.size();
  std::vector<std::pair<double, size_t>> all;
  all.reserve(n);
  for (size_t i = 0; i < x.size(); ++i) all.emplace_back(x[i], i);
  for (size_t i = 0; i < y.size(); ++i) all.emplace_back(y[i], x.size() + i);
  std::sort(all.begin(), all.end());
  Pooled p;
  p.doubled_ranks.assign(n, 0);
  for (size_t i = 0; i < n;) {
    size_t j = i;
    while (j < n && all[j].first == all[i].first) ++j;
    // Ranks i+1 .. j share the midrank (i + 1 + j) / 2; doubled it is an integer.
    const int64_t doubled = static_cast<int64_t>(i + 1 + j);
    for (size_t k = i; k < j; ++k) p.doubled_ranks[all[k].second] = doubled;
    const double t = static_cast<double>(j - i);
    p.tie_term += t * t * t - t;
    i = j;
  }
  return p;
}

std::vector<double> Finite(std::span<const double> v) {
  std::vector<double> out;
  out.reserve(v.size());
  for (double d : v)
    if (!std::isnan(d)) out.push_back(d);
  return out;
}

// Exact two-sided p of the observed doubled rank sum of the m values chosen from `ranks`: the
// number of m-subsets with each doubled rank sum, counted in doubles (only ratios matter).
double ExactP(const std::vector<int64_t>& ranks, size_t m, int64_t observed) {
  int64_t total = 0;
  for (int64_t r : ranks) total += r;
  // counts[k][s]: subsets of size k with doubled rank sum s, over the ranks seen so far.
  std::vector<std::vector<double>> counts(m + 1, std::vector<double>(static_cast<size_t>(total) + 1, 0.0));
  counts[0][0] = 1;
  int64_t reach = 0;
  for (int64_t r : ranks) {
    reach += r;
    for (size_t k = m; k >= 1; --k) {
      std::vector<double>& dst = counts[k];
      const std::vector<double>& src = counts[k - 1];
      for (int64_t s = reach; s >= r; --s) dst[static_cast<size_t>(s)] += src[static_cast<size_t>(s - r)];
    }
  }
  double below = 0, above = 0, all = 0;
  for (int64_t s = 0; s <= total; ++s) {
    const double c = counts[m][static_cast<size_t>(s)];
    all += c;
    if (s <= observed) below += c;
    if (s >= observed) above += c;
  }
  return std::min(1.0, 2.0 * std::min(below, above) / all);
}

}  // namespace

MannWhitneyResult MannWhitneyU(std::span<const double> x_in, std::span<const double> y_in) {
  const std::vector<double> x = Finite(x_in), y = Finite(y_in);
  MannWhitneyResult r;
  if (x.empty() || y.empty()) return r;
  const double n1 = static_cast<double>(x.size()), n2 = static_cast<double>(y.size()), n = n1 + n2;
  const Pooled pooled = RankPooled(x, y);
  int64_t doubled_sum_x = 0;
  for (size_t i = 0; i < x.size(); ++i) doubled_sum_x += pooled.doubled_ranks[i];
  r.u = static_cast<double>(doubled_sum_x) / 2.0 - n1 * (n1 + 1) / 2.0;
  // Every value equal: no evidence of any difference.
  if (pooled.tie_term == n * n * n - n) {
    r.p_value = 1;
    r.exact = true;
    return r;
  }
  const size_t small = std::min(x.size(), y.size());
  if (small < static_cast<size_t>(kMannWhitneyExactBelow) && x.size() + y.size() <= kMannWhitneyExactMaxTotal) {
    // Choose the smaller sample's positions; its rank sum determines U.
    const bool x_small = x.size() <= y.size();
    int64_t observed = 0;
    for (size_t i = 0; i < pooled.doubled_ranks.size(); ++i) {
      const bool in_x = i < x.size();
      if (in_x == x_small) observed += pooled.doubled_ranks[i];
    }
    r.p_value = ExactP(pooled.doubled_ranks, small, observed);
    r.exact = true;
    return r;
  }
  const double mean = n1 * n2 / 2.0;
  const double variance = n1 * n2 / 12.0 * ((n + 1) - pooled.tie_term / (n * (n - 1)));
  if (!(variance > 0)) {
    r.p_value = 1;
    return r;
  }
  const double u_big = std::max(r.u, n1 * n2 - r.u);
  const double z = (u_big - mean - 0.5) / std::sqrt(variance);
  r.p_value = std::min(1.0, std::erfc(z / std::sqrt(2.0)));  // 2 * sf(z)
  return r;
}

}  // namespace tlm
