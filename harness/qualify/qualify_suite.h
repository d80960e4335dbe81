// `tlmbench qualify`: the qualification suite for an NPU plugin: ABI conformance, per-op accuracy against
// the harness's CPU reference, determinism, robustness (every check in an isolated worker), latency, and
// end-to-end accuracy of a real model run through the engine's npu backend (harness/conform's model case).
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "harness/store/dataset.h"

namespace tlm {

struct QualifyOptions {
  std::string plugin;      // a name ("vnpu") or a path inside plugin_dir
  std::string soc;
  std::string plugin_dir;  // the allowlisted plugin folder
  double timeout_s = 20;   // per check
  int repeats = 5;         // determinism: fresh contexts, each invoked several times
  std::vector<std::string> only;  // run only checks whose name starts with one of these
  // model.end_to_end: the model (a GGUF file) run through "npu:<plugin>:<soc>" (int16 activations, compiled
  // in-process) and the CPU f32 reference over conform's fixed text. Empty: the check is skipped.
  std::string model_path;
  int64_t model_tokens = 0;      // 0: the whole fixed text (conform's limit, 512 tokens)
  double model_timeout_s = 600;  // the model check's own limit (it compiles and runs a whole model)
  int threads = 0;               // the model check's backends (0: all cores)
};

// model.end_to_end's pass bounds (docs/npu.md says why they are looser than conform's 0.01 and 0.98:
// int8 per-channel weights and int16 activations are a quantization of their own).
inline constexpr double kQualifyMaxMeanKld = 0.02;
inline constexpr double kQualifyMinTop1 = 0.90;

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
  std::string started_at;       // ISO 8601 UTC
  std::string plugin_identity;  // "tlmbench vnpu 1.0.0, ABI 1, SoCs vnpu-small, vnpu-large" (from abi.load)
  std::vector<QualifyCheck> checks;
  int passed = 0, failed = 0, skipped = 0;
  bool pass() const { return failed == 0 && passed > 0; }
};

// The names of every check, in the order they run.
std::vector<std::string> QualifyCheckNames();

// on_check, when set, sees each check as it completes (progress).
QualifyReport RunQualify(const QualifyOptions& options, const std::function<void(const QualifyCheck&)>& on_check = {});

std::string FormatQualifyTable(const QualifyReport& report);
std::string FormatQualifyJUnit(const QualifyReport& report);

// The report as rows of the dataset's conformance table: suite "qualify", backend "npu:<plugin>:<soc>",
// device the plugin's identity, one row per check (case_name the check's name); the model check's KLD,
// top-1, perplexity ratio and max error in their columns, every metric in metrics_json.
std::vector<ConformanceRow> QualifyConformanceRows(const QualifyReport& report, const std::string& run_id);
// A run id for those rows: "qualify-<started_at>-<plugin>-<soc>-<8 hex digits>".
std::string QualifyRunId(const QualifyReport& report);

}  // namespace tlm
