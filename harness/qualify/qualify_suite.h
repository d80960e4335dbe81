// `tlmbench qualify`: the qualification suite for an NPU plugin: ABI conformance, per-op accuracy against
// the harness's CPU reference, determinism, robustness (every check in an isolated worker) and latency.
#pragma once

#include <string>
#include <vector>

namespace tlm {

struct QualifyOptions {
  std::string plugin;      // a name ("vnpu") or a path inside plugin_dir
  std::string soc;
  std::string plugin_dir;  // the allowlisted plugin folder
  double timeout_s = 20;   // per check
  int repeats = 5;         // determinism: fresh contexts, each invoked several times
  std::vector<std::string> only;  // run only checks whose name starts with one of these
};

struct QualifyMetric {
  std::string name;  // e.g. "op0.fully_connected.wall_ns"
  double value = 0;
  std::string unit;
};

struct QualifyCheck {
  std::string name;   // "abi.load", "accuracy.fc_i8_i32", ...
  std::string what;   // one line: what the check verifies
  enum class Result { kPass, kFail, kSkip } result = Result::kFail;
  std::string message;  // the reason of a failure or skip; a summary for a pass
  double seconds = 0;
  std::vector<QualifyMetric> metrics;
};

struct QualifyReport {
  QualifyOptions options;
  std::string plugin_identity;  // "tlmbench vnpu 1.0.0, ABI 1, SoCs vnpu-small, vnpu-large" (from abi.load)
  std::vector<QualifyCheck> checks;
  int passed = 0, failed = 0, skipped = 0;
  bool pass() const { return failed == 0 && passed > 0; }
};

// The names of every check, in the order they run.
std::vector<std::string> QualifyCheckNames();

QualifyReport RunQualify(const QualifyOptions& options);

std::string FormatQualifyTable(const QualifyReport& report);
std::string FormatQualifyJUnit(const QualifyReport& report);

}  // namespace tlm
