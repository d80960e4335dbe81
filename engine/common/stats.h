// Descriptive statistics over repetition samples: mean, sample stddev, median, percentiles, CV.
#pragma once

#include <cstddef>
#include <span>

namespace tlm {

// Conventions shared by every function here:
//  - an empty sample gives NaN (JSON writers turn it into null, tables print "n/a");
//  - inputs need not be sorted; the *Sorted variants skip the copy and sort when they are.

// Arithmetic mean.
double Mean(std::span<const double> values);

// Sample standard deviation (Bessel's n-1 denominator), computed two-pass for accuracy.
// A single value gives 0 (no spread observed), as llama-bench reports it, not NaN.
double SampleStddev(std::span<const double> values);

// Percentile with linear interpolation between closest ranks (Hyndman & Fan type 7, the default
// of numpy.percentile, R's quantile() and Excel's PERCENTILE.INC):
//   sorted x[0..n-1], rank h = (n - 1) * p / 100, result = x[floor h] + (h - floor h) *
//   (x[floor h + 1] - x[floor h]).
// So p=0 is the minimum, p=100 the maximum, p=50 the median. p is clamped to [0, 100].
double Percentile(std::span<const double> values, double p);
double PercentileSorted(std::span<const double> sorted, double p);

// Median: Percentile(values, 50), i.e. the mean of the two middle values for an even count.
double Median(std::span<const double> values);

// Coefficient of variation: SampleStddev / |Mean|. NaN when the mean is 0 or the sample empty.
double CoefficientOfVariation(std::span<const double> values);

// Everything above in one pass over one sorted copy.
struct Summary {
  size_t count = 0;
  double mean = 0, stddev = 0, median = 0, min = 0, max = 0, p90 = 0, p99 = 0, cv = 0;
};
Summary Summarize(std::span<const double> values);

}  // namespace tlm
