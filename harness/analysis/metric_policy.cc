// Metric directions by name pattern, and threshold parsing.
#include "harness/analysis/metric_policy.h"

#include <cerrno>
#include <cmath>
#include <cstdlib>
#include <fstream>
#include <sstream>

#include <yaml-cpp/yaml.h>

namespace tlm {
namespace {

bool EndsWith(std::string_view s, std::string_view suffix) {
  return s.size() >= suffix.size() && s.substr(s.size() - suffix.size()) == suffix;
}
bool StartsWith(std::string_view s, std::string_view prefix) { return s.substr(0, prefix.size()) == prefix; }

std::string_view Trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

}  // namespace

MetricDirection DirectionOf(std::string_view m) {
  if (EndsWith(m, "_tps") || m == "top1_agree" || m == "task_acc") return MetricDirection::kHigherIsBetter;
  if (EndsWith(m, "_ms") || m.find("_ms_") != std::string_view::npos || EndsWith(m, "_bytes") || m == "kld_mean" ||
      m == "ppl" || StartsWith(m, "faults_") || StartsWith(m, "instructions")) {
    return MetricDirection::kLowerIsBetter;
  }
  return MetricDirection::kUnknown;
}

std::string_view DirectionName(MetricDirection d) {
  switch (d) {
    case MetricDirection::kHigherIsBetter:
      return "higher";
    case MetricDirection::kLowerIsBetter:
      return "lower";
    case MetricDirection::kUnknown:
      break;
  }
  return "unknown";
}

StatusOr<double> ParseFraction(std::string_view text) {
  std::string_view t = Trim(text);
  const bool percent = !t.empty() && t.back() == '%';
  if (percent) t = Trim(t.substr(0, t.size() - 1));
  const std::string s(t);
  char* end = nullptr;
  errno = 0;
  const double v = s.empty() ? 0 : std::strtod(s.c_str(), &end);
  if (s.empty() || end != s.c_str() + s.size() || errno != 0 || !(v >= 0) || v == HUGE_VAL) {
    return InvalidArgument("'{}' is not a threshold: write a percentage (3%) or a fraction (0.03)", text);
  }
  if (percent) return v / 100;
  if (v >= 1) return InvalidArgument("threshold '{}' is ambiguous: write {}% or {}", text, s, v / 100);
  return v;
}

double MetricThresholds::For(std::string_view metric) const {
  auto it = per_metric_.find(metric);
  return it == per_metric_.end() ? default_ : it->second;
}

Status MetricThresholds::ParseAssignment(std::string_view text) {
  const size_t eq = text.find('=');
  if (eq == std::string_view::npos || Trim(text.substr(0, eq)).empty()) {
    return InvalidArgument("--threshold '{}': expected METRIC=PERCENT, e.g. decode_tps=3%", text);
  }
  const std::string_view metric = Trim(text.substr(0, eq));
  auto v = ParseFraction(text.substr(eq + 1));
  if (!v.ok()) return v.status().WithContext(fmt::format("--threshold {}", text));
  if (metric == "default") {
    SetDefault(*v);
  } else {
    Set(metric, *v);
  }
  return Status::Ok();
}

Status MetricThresholds::LoadYaml(const std::string& path) {
  std::ifstream in(path);
  if (!in) return NotFound("threshold config {} cannot be read", path);
  std::stringstream text;
  text << in.rdbuf();
  YAML::Node root;
  try {
    root = YAML::Load(text.str());
  } catch (const YAML::Exception& e) {
    return InvalidArgument("{}:{}: {}", path, e.mark.line + 1, e.msg);
  }
  if (root.IsNull()) return Status::Ok();
  if (!root.IsMap()) return InvalidArgument("{}: expected a mapping with 'default' and/or 'metrics'", path);
  for (const auto& kv : root) {
    const std::string key = kv.first.as<std::string>();
    const int line = kv.first.Mark().line + 1;
    if (key == "default") {
      if (!kv.second.IsScalar()) return InvalidArgument("{}:{}: 'default' must be a threshold such as 5%", path, line);
      auto v = ParseFraction(kv.second.Scalar());
      if (!v.ok()) return v.status().WithContext(fmt::format("{}:{}", path, line));
      SetDefault(*v);
    } else if (key == "metrics") {
      if (!kv.second.IsMap())
        return InvalidArgument("{}:{}: 'metrics' must map metric names to thresholds", path, line);
      for (const auto& m : kv.second) {
        const int mline = m.first.Mark().line + 1;
        if (!m.second.IsScalar()) return InvalidArgument("{}:{}: expected a threshold such as 3%", path, mline);
        auto v = ParseFraction(m.second.Scalar());
        if (!v.ok()) return v.status().WithContext(fmt::format("{}:{}", path, mline));
        Set(m.first.as<std::string>(), *v);
      }
    } else {
      return InvalidArgument("{}:{}: unknown key '{}' (expected 'default' or 'metrics')", path, line, key);
    }
  }
  return Status::Ok();
}

}  // namespace tlm
