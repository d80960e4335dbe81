// E-divisive change-point detection (Matteson & James 2014, as Apache Otava/hunter use it): split a
// series where the energy distance between the parts peaks, keep the split when a permutation test
// says it is significant, and recurse into both parts.
#pragma once

#include <cstdint>
#include <span>
#include <vector>

namespace tlm {

struct ChangePointOptions {
  // 0.01, not 0.05: every kept split tests both parts again, and at 0.05 a flat series of 30 points
  // got a spurious change point 5% of the time and a one-step series an extra one 8% of the time
  // (200 synthetic series each); at 0.01, 0.5% and 1.5%, with the step still always found.
  double alpha = 0.01;       // a split is kept when its permutation p-value is below this
  int permutations = 499;    // per tested split; the smallest p-value is 1 / (permutations + 1)
  int min_segment = 3;       // points on each side of a split (at least 2)
  uint64_t seed = 0x0e1d1715ULL;  // fixed: the same series always gives the same answer
};

struct ChangePoint {
  size_t index = 0;          // first point of the new segment (1 .. n-1)
  double statistic = 0;      // the energy statistic q-hat of the split, in the series' units
  double p_value = 1;        // permutation test within the segment that was split
  double mean_before = 0;    // mean of the segment before (from the previous change point)
  double mean_after = 0;     // mean of the segment after (to the next change point)
  double relative_change = 0;  // mean_after / mean_before - 1 (NaN when mean_before is 0)
};

// Change points in index order. Candidate splits leave at least min_segment points on each side.
// For a segment Z and split t into X = Z[..t) and Y = Z[t..), the statistic is
//   q(t) = n m / (n + m) * (2/(n m) sum|x - y| - 1/C(n,2) sum_{i<k}|x_i - x_k| - 1/C(m,2) sum_{j<k}|y_j - y_k|)
// (alpha = 1 in Matteson & James); the best t maximizes q. Its p-value is
// (1 + #{permutations of Z whose best q >= the observed}) / (1 + permutations). A kept split is
// followed by the same search in both parts (recursive bisection); NaN values are not allowed.
std::vector<ChangePoint> EDivisive(std::span<const double> series, const ChangePointOptions& options = {});

}  // namespace tlm
