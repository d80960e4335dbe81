// Change points of one regression-timeline series (a metric's per-commit medians), for the dashboard's markers.
#pragma once

#include <cstddef>
#include <span>
#include <vector>

namespace tlm {

// A change in a series: the first point of the new level, how large the step is and how sure.
struct SeriesChangePoint {
  size_t index = 0;          // first point after the change (1..n-1)
  double magnitude_pct = 0;  // mean after / mean before - 1 over the segments, in percent (signed)
  double p_value = 1;        // of the change being real (permutation test); NaN when unknown
};

// Change points of `values` (oldest first), by E-divisive (harness/analysis/change_points.h) with
// its default options: at least 3 points each side of a change, permutation p-value below 0.05.
std::vector<SeriesChangePoint> FindSeriesChangePoints(std::span<const double> values);

}  // namespace tlm
