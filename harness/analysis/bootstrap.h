// Percentile-bootstrap confidence interval of the ratio of two medians (candidate over base).
#pragma once

#include <cstdint>
#include <span>

namespace tlm {

struct BootstrapOptions {
  int resamples = 2000;
  double confidence = 0.95;            // two-sided: the (1-c)/2 and (1+c)/2 percentiles
  uint64_t seed = 0x7e1b5eed2025ULL;  // fixed: the same data always gives the same interval
};

struct RatioInterval {
  double low = 0, high = 0;  // NaN when either sample is empty
};

// Resamples each side independently with replacement `resamples` times and takes percentiles
// (type 7, as Percentile) of median(cand*) / median(base*). Resamples whose base median is 0 are
// skipped; the interval is NaN when none is left. Deterministic for a given seed on every platform
// (a SplitMix64 generator, no std:: distributions).
RatioInterval BootstrapMedianRatio(std::span<const double> base, std::span<const double> cand,
                                   const BootstrapOptions& options = {});

// The ratio used throughout compare: median(cand) / median(base); 1 when both are 0, +inf when only
// the base median is 0, NaN when either sample is empty.
double MedianRatio(std::span<const double> base, std::span<const double> cand);

}  // namespace tlm
