// Which direction is better for each metric, and how large a change must be before compare calls
// it a regression (per-metric thresholds from flags or a YAML file).
#pragma once

#include <map>
#include <string>
#include <string_view>

#include "engine/common/status.h"

namespace tlm {

enum class MetricDirection {
  kHigherIsBetter,  // *_tps, top1_agree, task_acc
  kLowerIsBetter,   // *_ms (itl_ms_p50 too), *_bytes, kld_mean, ppl, faults_*, instructions*
  kUnknown,         // anything else: reported, never gated
};

MetricDirection DirectionOf(std::string_view metric);
std::string_view DirectionName(MetricDirection d);  // "higher", "lower", "unknown"

// A relative threshold per metric: a change smaller than this (|ratio - 1| <= threshold) is never
// a regression or improvement, however significant.
class MetricThresholds {
 public:
  static constexpr double kDefault = 0.05;

  double For(std::string_view metric) const;
  void Set(std::string_view metric, double fraction) { per_metric_[std::string(metric)] = fraction; }
  void SetDefault(double fraction) { default_ = fraction; }
  double default_fraction() const { return default_; }
  const std::map<std::string, double, std::less<>>& per_metric() const { return per_metric_; }

  // "decode_tps=3%" or "decode_tps=0.03"; "default=2%" sets the default.
  Status ParseAssignment(std::string_view text);
  // A YAML file:
  //   default: 5%          # optional
  //   metrics:             # optional
  //     decode_tps: 3%
  //     ttft_ms: 0.1
  // Errors name the file.
  Status LoadYaml(const std::string& path);

 private:
  double default_ = kDefault;
  std::map<std::string, double, std::less<>> per_metric_;
};

// "3%" -> 0.03, "0.03" -> 0.03. A bare number must be below 1 ("3" is refused: write 3% or 0.03);
// negative values are refused.
StatusOr<double> ParseFraction(std::string_view text);

}  // namespace tlm
