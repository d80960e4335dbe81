// Scenario specs: a YAML file (docs/scenarios.md) naming a workload, a measurement protocol, the
// devices it needs and a matrix of parameters; parsed, validated and expanded into the RunSpecs a
// sweep schedules.
#pragma once

#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "engine/common/status.h"
#include "tlmbench/v1/run.pb.h"

namespace tlm {

struct Scenario {
  std::string name;                           // the spec's `name:`
  std::string description;                    // the spec's `description:`, "" when absent
  std::string path;                           // the file it came from, as given
  std::string text;                           // the whole YAML text, as read (stored in the dataset for --resume)
  std::map<std::string, std::string> labels;  // device selection: labels an agent must carry
  std::vector<std::string> capabilities;      // device selection: capabilities an agent must have
  // The expanded matrix in a stable order: the product (model slowest, activations fastest, values
  // in list order), then the points `include` added, in include order. Every field the spec
  // determines is set, spec_hash and source included; run_id, sweep_id and attempt are left empty.
  std::vector<tlmbench::v1::RunSpec> runs;
};

// Reads and parses a scenario file. NotFound when it cannot be read; InvalidArgument otherwise,
// with a message "path:line:col: field: what is wrong" (no "error: " prefix).
StatusOr<Scenario> LoadScenario(const std::string& path);

// Parses scenario text; `path` is used in messages and in each run's `source`.
StatusOr<Scenario> ParseScenario(std::string_view yaml_text, std::string_view path);

// sha256 (lower-case hex) of the spec serialized deterministically, with run_id, sweep_id,
// attempt, spec_hash and source cleared: the same point gives the same hash wherever and whenever
// it is run, and moving it within its file does not change it.
std::string ComputeSpecHash(const tlmbench::v1::RunSpec& spec);

// The first 20 hex digits of sha256("<sweep_id>/<spec hash>/<ordinal>"). The spec hash is
// recomputed from `spec` (its spec_hash field is not trusted). `ordinal` tells identical points of
// one sweep apart: 0 for the first point with a given hash, 1 for the next, and so on.
std::string MakeRunId(std::string_view sweep_id, const tlmbench::v1::RunSpec& spec, int ordinal);

// Sets sweep_id and run_id of every run, with ordinals counted per spec hash as MakeRunId wants
// them, so ids stay the same when other points are added to or removed from the scenario.
void AssignRunIds(std::string_view sweep_id, std::vector<tlmbench::v1::RunSpec>* runs);

}  // namespace tlm
