// One side of `tlmbench compare`: which runs it means (a dataset file, a sweep id or a run id) and
// their samples grouped by scenario key (device, spec_hash).
#pragma once

#include <map>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "engine/common/status.h"

namespace tlm {

// Where a side's runs come from. id "" means the latest sweep of the file (by started_at).
struct SideRef {
  std::string dataset_path;
  std::string id;  // a sweep id or a run id of that dataset
};

// Reads a BASE or CAND argument:
//   FILE         an existing dataset file: its latest sweep
//   FILE:ID      a sweep id or run id in FILE
//   ID           a sweep id or run id in `default_dataset` (--dataset, default results.db)
// A PostgreSQL URL (postgresql://...) stands for a file in the first and last forms.
StatusOr<SideRef> ParseSideRef(std::string_view arg, const std::string& default_dataset);

// Whether a dataset location is a PostgreSQL URL rather than a file.
bool IsDatasetUrl(std::string_view location);

// The samples of one metric in one scenario, pooled over the side's runs with that key: the
// per-repetition values (repetition >= 1) when there are any, else the once-per-run values
// (repetition 0: one per run, e.g. memory). NULL values are left out.
struct MetricSamples {
  std::string unit;
  std::vector<double> values;
  bool once_per_run = false;  // values are repetition-0 values, one per run
};

// Runs that measured the same spec (spec_hash) on the same device.
struct ScenarioSamples {
  std::string device, spec_hash;
  std::string scenario, model, backend, activations;
  int threads = 0, n_prompt = 0, n_gen = 0;
  std::vector<std::string> run_ids;
  std::map<std::string, MetricSamples> metrics;
};

using ScenarioKey = std::pair<std::string, std::string>;  // (device, spec_hash)

struct SideData {
  std::string description;  // "results.db, sweep nightly-2" / "results.db, run r-3"
  std::string dataset_path, sweep_id, run_id;  // exactly one of sweep_id, run_id is set
  std::vector<std::string> commits;  // distinct agent build commits (git_commit), in run order
  int n_runs = 0;                    // runs with status ok
  std::map<ScenarioKey, ScenarioSamples> scenarios;
};

// Loads the runs with status ok of a side. NotFound for a missing file, a dataset without sweeps,
// or an id that is neither a sweep nor a run of the file; errors name the file.
StatusOr<SideData> LoadSide(const SideRef& ref);

// "0123456789abcdef...-dirty" -> "0123456789-dirty"; short commits unchanged.
std::string ShortCommit(const std::string& commit);

// A scenario in words: "smoke gemma-3-270m-q4_k_m.gguf cpu t2 p64 g16 f32".
std::string ScenarioLabel(const ScenarioSamples& s);

}  // namespace tlm
