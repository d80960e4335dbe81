// The two-sided Mann-Whitney U test (Wilcoxon rank-sum) with midranks for ties: exact for small
// samples, the normal approximation with tie and continuity corrections for larger ones.
#pragma once

#include <span>

namespace tlm {

struct MannWhitneyResult {
  double u = 0;        // U of the first sample: pairs (x, y) with x > y, plus half of the ties
  double p_value = 1;  // two-sided; 1 when either sample is empty or every value is equal
  bool exact = false;  // from the exact permutation distribution of the ranks (not the normal approximation)
};

// Two-sided test of x against y. Ties get midranks. When either sample has fewer than
// kMannWhitneyExactBelow values (and both together at most kMannWhitneyExactMaxTotal), the p-value
// is exact: the distribution of the rank sum over every way of choosing the first sample's
// positions among the pooled midranks (conditional on the ties, so identical values are handled
// too), p = min(1, 2 * min(P(U <= u), P(U >= u))). Otherwise the normal approximation as
// scipy.stats.mannwhitneyu(method="asymptotic", use_continuity=True) computes it: z from
// max(U1, U2) - n1 n2 / 2 - 0.5 over the tie-corrected standard deviation, p = 2 * sf(z).
// NaN values are ignored.
MannWhitneyResult MannWhitneyU(std::span<const double> x, std::span<const double> y);

inline constexpr int kMannWhitneyExactBelow = 8;
inline constexpr int kMannWhitneyExactMaxTotal = 200;

}  // namespace tlm
