// The dashboard's change points: a thin adapter over harness/analysis's E-divisive detection.
#include "dashboards/change_points.h"

#include <cmath>
#include <limits>

#include "harness/analysis/change_points.h"

namespace tlm {

std::vector<SeriesChangePoint> FindSeriesChangePoints(std::span<const double> values) {
  std::vector<SeriesChangePoint> out;
  for (double v : values) {
    if (!std::isfinite(v)) return out;  // the detector takes no NaN (a timeline point is a median: never NaN)
  }
  for (const ChangePoint& cp : EDivisive(values)) {
    SeriesChangePoint p;
    p.index = cp.index;
    p.magnitude_pct =
        std::isfinite(cp.relative_change) ? cp.relative_change * 100 : std::numeric_limits<double>::quiet_NaN();
    p.p_value = cp.p_value;
    out.push_back(p);
  }
  return out;
}

}  // namespace tlm
