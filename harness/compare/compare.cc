// Compare: the per-metric decision, matching of scenarios, and the markdown and JSON reports.
#include "harness/compare/compare.h"

#include <cmath>
#include <limits>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "engine/common/stats.h"
#include "harness/analysis/mann_whitney.h"

namespace tlm {
namespace {

using ojson = nlohmann::ordered_json;
constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();

ojson Number(double v) { return std::isfinite(v) ? ojson(v) : ojson(nullptr); }

std::string Escape(std::string_view s) {  // markdown table cell
  std::string out;
  for (char c : s) {
    if (c == '|') out += '\\';
    out += c;
  }
  return out;
}

std::string FormatValue(double v) {
  if (std::isnan(v)) return "n/a";
  if (std::isinf(v)) return v > 0 ? "inf" : "-inf";
  return fmt::format("{:.5g}", v);
}

std::string FormatRatio(double r) {
  if (std::isnan(r)) return "n/a";
  if (std::isinf(r)) return "inf";
  return fmt::format("{:.3f} ({:+.1f}%)", r, (r - 1) * 100);
}

std::string FormatInterval(double lo, double hi) {
  if (std::isnan(lo) || std::isnan(hi)) return "n/a";
  return fmt::format("[{:.3f}, {:.3f}]", lo, hi);
}

std::string FormatP(double p) {
  if (std::isnan(p)) return "n/a";
  if (p < 0.0001) return "<0.0001";
  return fmt::format("{:.4f}", p);
}

std::string VerdictCell(const MetricComparison& m) {
  std::string w(VerdictWord(m.verdict));
  if (m.verdict == ChangeVerdict::kRegression || m.verdict == ChangeVerdict::kImprovement ||
      m.verdict == ChangeVerdict::kChanged) {
    if (m.noisy) w += " (noisy)";
  }
  if (m.verdict == ChangeVerdict::kRegression) w = "**" + w + "**";
  return w;
}

std::string KeyLabel(const ScenarioSamples& s) { return fmt::format("{} on {}", ScenarioLabel(s), s.device.empty() ? "?" : s.device); }

SideData Describe(const SideData& side) {
  SideData d = side;
  d.scenarios.clear();
  return d;
}

ScenarioSamples DescribeScenario(const ScenarioSamples& s) {
  ScenarioSamples d = s;
  d.metrics.clear();
  return d;
}

ScenarioComparison CompareScenario(const ScenarioSamples& base, const ScenarioSamples& cand, const CompareOptions& o) {
  ScenarioComparison sc;
  sc.scenario = DescribeScenario(cand);
  for (const auto& [metric, cand_samples] : cand.metrics) {
    if (!o.metrics.empty() && std::find(o.metrics.begin(), o.metrics.end(), metric) == o.metrics.end()) continue;
    auto it = base.metrics.find(metric);
    if (it == base.metrics.end()) continue;
    const std::string& unit = cand_samples.unit.empty() ? it->second.unit : cand_samples.unit;
    sc.metrics.push_back(CompareMetric(metric, unit, it->second.values, cand_samples.values, o));
  }
  return sc;
}

}  // namespace

std::string_view VerdictWord(ChangeVerdict v) {
  switch (v) {
    case ChangeVerdict::kRegression:
      return "regression";
    case ChangeVerdict::kImprovement:
      return "improvement";
    case ChangeVerdict::kChanged:
      return "changed";
    case ChangeVerdict::kNoisy:
      return "noisy";
    case ChangeVerdict::kUnchanged:
      return "unchanged";
    case ChangeVerdict::kNotEnoughSamples:
      break;
  }
  return "not enough samples";
}

MetricComparison CompareMetric(std::string_view metric, std::string_view unit, std::span<const double> base,
                               std::span<const double> cand, const CompareOptions& o) {
  MetricComparison m;
  m.metric = metric;
  m.unit = unit;
  m.direction = DirectionOf(metric);
  m.threshold = o.thresholds.For(metric);
  m.n_base = base.size();
  m.n_cand = cand.size();
  m.base_median = Median(base);
  m.cand_median = Median(cand);
  m.ratio = MedianRatio(base, cand);
  m.base_cv = base.size() >= 2 ? CoefficientOfVariation(base) : kNaN;
  m.cand_cv = cand.size() >= 2 ? CoefficientOfVariation(cand) : kNaN;
  // A CV is NaN for a zero mean (faults_major of 0): that is quiet, not noisy.
  m.noisy = (std::isfinite(m.base_cv) && m.base_cv > o.noise_cv) || (std::isfinite(m.cand_cv) && m.cand_cv > o.noise_cv);
  const size_t min_samples = static_cast<size_t>(std::max(1, o.min_samples));
  if (base.size() < min_samples || cand.size() < min_samples) {
    m.ci_low = m.ci_high = m.p_value = kNaN;
    m.verdict = ChangeVerdict::kNotEnoughSamples;
    return m;
  }
  const RatioInterval ci = BootstrapMedianRatio(base, cand, o.bootstrap);
  m.ci_low = ci.low;
  m.ci_high = ci.high;
  m.p_value = MannWhitneyU(base, cand).p_value;
  const bool significant = m.p_value < o.alpha;
  const bool beyond = std::isfinite(m.ratio) ? std::fabs(m.ratio - 1) > m.threshold : std::isinf(m.ratio);
  if (significant && beyond) {
    const bool went_up = m.ratio > 1;
    switch (m.direction) {
      case MetricDirection::kHigherIsBetter:
        m.verdict = went_up ? ChangeVerdict::kImprovement : ChangeVerdict::kRegression;
        break;
      case MetricDirection::kLowerIsBetter:
        m.verdict = went_up ? ChangeVerdict::kRegression : ChangeVerdict::kImprovement;
        break;
      case MetricDirection::kUnknown:
        m.verdict = ChangeVerdict::kChanged;
        break;
    }
  } else {
    m.verdict = m.noisy ? ChangeVerdict::kNoisy : ChangeVerdict::kUnchanged;
  }
  return m;
}

int CompareReport::Count(ChangeVerdict v) const {
  int n = 0;
  for (const ScenarioComparison& s : scenarios)
    for (const MetricComparison& m : s.metrics) n += m.verdict == v;
  return n;
}

StatusOr<CompareReport> CompareSides(const SideData& base, const SideData& cand, const CompareOptions& o) {
  CompareReport r;
  r.base = Describe(base);
  r.cand = Describe(cand);
  r.options = o;
  if (!base.run_id.empty() && !cand.run_id.empty() && base.scenarios.size() == 1 && cand.scenarios.size() == 1) {
    // Two runs named explicitly: compare them even when their specs differ.
    r.scenarios.push_back(CompareScenario(base.scenarios.begin()->second, cand.scenarios.begin()->second, o));
  } else {
    for (const auto& [key, c] : cand.scenarios) {
      auto it = base.scenarios.find(key);
      if (it == base.scenarios.end()) {
        r.only_in_cand.push_back(KeyLabel(c));
      } else {
        r.scenarios.push_back(CompareScenario(it->second, c, o));
      }
    }
    for (const auto& [key, b] : base.scenarios)
      if (!cand.scenarios.count(key)) r.only_in_base.push_back(KeyLabel(b));
  }
  if (r.scenarios.empty()) {
    return InvalidArgument(
        "nothing to compare: no scenario of {} ({} ok runs) has the same device and spec_hash as one of {} ({} ok runs)",
        base.description, base.n_runs, cand.description, cand.n_runs);
  }
  return r;
}

int CompareExitCode(const CompareReport& report) { return report.HasRegression() ? 1 : 0; }

std::string RenderCompareMarkdown(const CompareReport& r) {
  std::string out = "## tlmbench compare\n\n";
  auto side_line = [](const char* name, const SideData& s) {
    std::vector<std::string> commits;
    for (const std::string& c : s.commits) commits.push_back(ShortCommit(c));
    return fmt::format("- {}: {} ({} ok run{}{}{})\n", name, s.description, s.n_runs, s.n_runs == 1 ? "" : "s",
                       commits.empty() ? "" : commits.size() == 1 ? ", commit " : ", commits ", fmt::join(commits, ", "));
  };
  out += side_line("base", r.base);
  out += side_line("candidate", r.cand);
  out += '\n';
  int n_metrics = 0;
  for (const ScenarioComparison& s : r.scenarios) n_metrics += static_cast<int>(s.metrics.size());
  const int regressions = r.Count(ChangeVerdict::kRegression);
  out += fmt::format(
      "**{}**: {} regression{}, {} improvement{}, {} changed, {} unchanged, {} noisy, {} not enough samples "
      "({} metric{} in {} scenario{}; p < {}, at least {} samples a side, noisy above CV {:.0f}%)\n\n",
      regressions > 0 ? "REGRESSION" : "no regression", regressions, regressions == 1 ? "" : "s",
      r.Count(ChangeVerdict::kImprovement), r.Count(ChangeVerdict::kImprovement) == 1 ? "" : "s",
      r.Count(ChangeVerdict::kChanged), r.Count(ChangeVerdict::kUnchanged), r.Count(ChangeVerdict::kNoisy),
      r.Count(ChangeVerdict::kNotEnoughSamples), n_metrics, n_metrics == 1 ? "" : "s", r.scenarios.size(),
      r.scenarios.size() == 1 ? "" : "s", r.options.alpha, r.options.min_samples,
      r.options.noise_cv * 100);
  if (regressions > 0) {
    out += "Regressions:\n\n";
    for (const ScenarioComparison& s : r.scenarios)
      for (const MetricComparison& m : s.metrics)
        if (m.verdict == ChangeVerdict::kRegression)
          out += fmt::format("- {} on {}: {} {} -> {} {} ({:+.1f}%, threshold {:.1f}%, p {})\n",
                             Escape(ScenarioLabel(s.scenario)), Escape(s.scenario.device), m.metric,
                             FormatValue(m.base_median), FormatValue(m.cand_median), m.unit, (m.ratio - 1) * 100,
                             m.threshold * 100, FormatP(m.p_value));
    out += '\n';
  }
  out += "| scenario | device | metric | unit | base median | cand median | ratio | 95% CI | p | n base/cand | verdict |\n";
  out += "| --- | --- | --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | --- |\n";
  for (const ScenarioComparison& s : r.scenarios) {
    for (const MetricComparison& m : s.metrics) {
      out += fmt::format("| {} | {} | {} | {} | {} | {} | {} | {} | {} | {}/{} | {} |\n",
                         Escape(ScenarioLabel(s.scenario)), Escape(s.scenario.device), Escape(m.metric), Escape(m.unit),
                         FormatValue(m.base_median), FormatValue(m.cand_median), FormatRatio(m.ratio),
                         FormatInterval(m.ci_low, m.ci_high), FormatP(m.p_value), m.n_base, m.n_cand, VerdictCell(m));
    }
  }
  auto one_side = [&out](const char* what, const std::vector<std::string>& labels) {
    if (labels.empty()) return;
    out += fmt::format("\nOnly in {} (not compared):\n\n", what);
    for (const std::string& l : labels) out += fmt::format("- {}\n", Escape(l));
  };
  one_side("base", r.only_in_base);
  one_side("candidate", r.only_in_cand);
  return out;
}

std::string RenderCompareJson(const CompareReport& r) {
  auto side = [](const SideData& s) {
    return ojson{{"dataset", s.dataset_path},
                 {"sweep_id", s.sweep_id.empty() ? ojson(nullptr) : ojson(s.sweep_id)},
                 {"run_id", s.run_id.empty() ? ojson(nullptr) : ojson(s.run_id)},
                 {"ok_runs", s.n_runs},
                 {"commits", s.commits}};
  };
  ojson thresholds = {{"default", r.options.thresholds.default_fraction()}};
  for (const auto& [metric, t] : r.options.thresholds.per_metric()) thresholds[metric] = t;
  ojson rows = ojson::array();
  for (const ScenarioComparison& s : r.scenarios) {
    for (const MetricComparison& m : s.metrics) {
      rows.push_back({{"scenario", s.scenario.scenario},
                      {"device", s.scenario.device},
                      {"spec_hash", s.scenario.spec_hash},
                      {"model", s.scenario.model},
                      {"backend", s.scenario.backend},
                      {"threads", s.scenario.threads},
                      {"n_prompt", s.scenario.n_prompt},
                      {"n_gen", s.scenario.n_gen},
                      {"activations", s.scenario.activations},
                      {"metric", m.metric},
                      {"unit", m.unit},
                      {"better", DirectionName(m.direction)},
                      {"n_base", m.n_base},
                      {"n_cand", m.n_cand},
                      {"base_median", Number(m.base_median)},
                      {"cand_median", Number(m.cand_median)},
                      {"ratio", Number(m.ratio)},
                      {"ci_low", Number(m.ci_low)},
                      {"ci_high", Number(m.ci_high)},
                      {"p_value", Number(m.p_value)},
                      {"base_cv", Number(m.base_cv)},
                      {"cand_cv", Number(m.cand_cv)},
                      {"threshold", m.threshold},
                      {"noisy", m.noisy},
                      {"verdict", VerdictWord(m.verdict)}});
    }
  }
  ojson summary = ojson::object();
  for (ChangeVerdict v : {ChangeVerdict::kRegression, ChangeVerdict::kImprovement, ChangeVerdict::kChanged,
                          ChangeVerdict::kUnchanged, ChangeVerdict::kNoisy, ChangeVerdict::kNotEnoughSamples})
    summary[std::string(VerdictWord(v))] = r.Count(v);
  ojson out = {{"base", side(r.base)},
               {"candidate", side(r.cand)},
               {"options",
                {{"alpha", r.options.alpha},
                 {"min_samples", r.options.min_samples},
                 {"noise_cv", r.options.noise_cv},
                 {"bootstrap_resamples", r.options.bootstrap.resamples},
                 {"confidence", r.options.bootstrap.confidence},
                 {"thresholds", thresholds}}},
               {"regression", r.HasRegression()},
               {"summary", summary},
               {"comparisons", rows},
               {"only_in_base", r.only_in_base},
               {"only_in_candidate", r.only_in_cand}};
  return out.dump(2) + "\n";
}

}  // namespace tlm
