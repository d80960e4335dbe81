// `tlmbench compare` without the CLI: from the arguments to the report text and the exit code, so
// tests check exactly what the command does.
#pragma once

#include <string>
#include <vector>

#include "harness/compare/compare.h"

namespace tlm {

struct CompareRequest {
  std::string base, cand;                 // FILE, FILE:ID or ID (see ParseSideRef)
  std::string dataset = "results.db";     // where a bare ID is looked up
  CompareOptions options;
  std::vector<std::string> threshold_assignments;  // "decode_tps=3%", applied after config_path
  std::string config_path;                // YAML thresholds (MetricThresholds::LoadYaml)
  std::string format = "markdown";        // markdown | json: what goes to `output`
  std::string json_path;                  // also write the JSON report here ("" none)
  std::string markdown_path;              // also write the markdown report here ("" none)
};

struct CompareOutcome {
  int exit_code = 0;   // 0 no regression, 1 regression, 2 usage or data error
  std::string output;  // the report for stdout (empty on error)
  std::string error;   // one line "error: ..." on exit code 2
};

CompareOutcome RunCompare(const CompareRequest& request);

}  // namespace tlm
