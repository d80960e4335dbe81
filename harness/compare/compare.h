// The decision of `tlmbench compare`: per matched scenario and metric, the median ratio with a
// bootstrap interval, a Mann-Whitney U p-value, and a verdict; rendered as markdown or JSON.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "engine/common/status.h"
#include "harness/analysis/bootstrap.h"
#include "harness/analysis/metric_policy.h"
#include "harness/compare/side.h"

namespace tlm {

enum class ChangeVerdict {
  kRegression,        // significant and beyond the threshold, in the worse direction
  kImprovement,       // significant and beyond the threshold, in the better direction
  kChanged,           // significant and beyond the threshold, for a metric with no known direction (never gates)
  kNoisy,             // no such change found, but a side's CV is above the noise limit: a change may hide
  kUnchanged,         // no significant change beyond the threshold, both sides quiet
  kNotEnoughSamples,  // fewer than min_samples on a side: no verdict is drawn
};
std::string_view VerdictWord(ChangeVerdict v);  // "regression", ..., "not enough samples"

struct CompareOptions {
  double alpha = 0.01;     // significance level of the two-sided Mann-Whitney U test
  int min_samples = 5;     // per side
  double noise_cv = 0.10;  // coefficient of variation above which a side is noisy
  MetricThresholds thresholds;
  BootstrapOptions bootstrap;
  std::vector<std::string> metrics;  // only these metrics (empty: every metric both sides have)
};

struct MetricComparison {
  std::string metric, unit;
  MetricDirection direction = MetricDirection::kUnknown;
  size_t n_base = 0, n_cand = 0;
  double base_median = 0, cand_median = 0;
  double ratio = 0;                  // cand median / base median (MedianRatio)
  double ci_low = 0, ci_high = 0;    // bootstrap interval of the ratio; NaN without enough samples
  double p_value = 1;                // NaN without enough samples
  double base_cv = 0, cand_cv = 0;
  double threshold = 0;
  bool noisy = false;                // either CV above noise_cv
  ChangeVerdict verdict = ChangeVerdict::kUnchanged;
};

// The whole decision for one metric, on plain samples.
MetricComparison CompareMetric(std::string_view metric, std::string_view unit, std::span<const double> base,
                               std::span<const double> cand, const CompareOptions& options);

struct ScenarioComparison {
  ScenarioSamples scenario;  // the candidate's description (samples cleared)
  std::vector<MetricComparison> metrics;
};

struct CompareReport {
  SideData base, cand;  // descriptions (scenario samples cleared)
  CompareOptions options;
  std::vector<ScenarioComparison> scenarios;  // matched keys, in key order
  std::vector<std::string> only_in_base, only_in_cand;  // scenario labels with device
  int Count(ChangeVerdict v) const;
  bool HasRegression() const { return Count(ChangeVerdict::kRegression) > 0; }
};

// Matches the sides' scenarios by (device, spec_hash); when each side is one run, the two runs are
// paired whatever their keys. InvalidArgument when nothing matches.
StatusOr<CompareReport> CompareSides(const SideData& base, const SideData& cand, const CompareOptions& options);

// Markdown for a CI job summary: a heading, the verdict line, the regressions, one table of every
// compared metric, and the scenarios found on one side only.
std::string RenderCompareMarkdown(const CompareReport& report);
// The same as one JSON object (NaN and infinities as null).
std::string RenderCompareJson(const CompareReport& report);

// 1 when any metric regressed, else 0.
int CompareExitCode(const CompareReport& report);

}  // namespace tlm
