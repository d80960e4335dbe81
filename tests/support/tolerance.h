// Element-wise comparison of a backend's output with the reference's, for the backend tests:
// |got - ref| <= atol + rtol * |ref| per element (NaN never passes).
#pragma once

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <span>

namespace tlm::testing {

// The number of elements outside the tolerance; the first few are reported as test failures with
// their index and both values. *max_abs gets the largest |got - ref|.
inline int64_t Mismatches(std::span<const float> got, std::span<const float> ref, double atol, double rtol,
                          double* max_abs) {
  EXPECT_EQ(got.size(), ref.size());
  int64_t bad = 0;
  *max_abs = 0;
  for (size_t i = 0; i < std::min(got.size(), ref.size()); ++i) {
    const double d = std::fabs(static_cast<double>(got[i]) - ref[i]);
    *max_abs = std::max(*max_abs, d);
    if (!(d <= atol + rtol * std::fabs(ref[i]))) {
      if (bad < 5) ADD_FAILURE() << "element " << i << ": got " << got[i] << ", reference " << ref[i];
      ++bad;
    }
  }
  return bad;
}

}  // namespace tlm::testing
