// `tlmbench history`: one metric's series per scenario key (device, spec_hash) in commit order,
// with the commits where it shifted (E-divisive change points).
#pragma once

#include <string>
#include <vector>

#include "engine/common/status.h"
#include "harness/analysis/change_points.h"
#include "harness/compare/side.h"  // ShortCommit

namespace tlm {

struct HistoryPoint {
  std::string commit;       // the agents' build commit (git_commit); "" when unknown
  std::string commit_time;  // runs.commit_time, else the earliest started_at of its runs
  double median = 0;        // of the pooled samples (per-repetition values, else once-per-run values)
  size_t n = 0;             // samples pooled
  int runs = 0;
};

struct HistorySeries {
  std::string device, spec_hash, scenario, model, backend, activations, unit;
  int threads = 0, n_prompt = 0, n_gen = 0;
  std::vector<HistoryPoint> points;         // by (commit_time, commit)
  std::vector<ChangePoint> change_points;   // over the point medians; index into points
};

struct HistoryQuery {
  std::string metric;
  std::string scenario;  // "" every scenario
  std::string device;    // "" every device
  ChangePointOptions change_points;
};

// Reads every ok run of the dataset with samples of the metric, one point per (series, commit);
// runs without a commit are a point each. NotFound when no run matches.
StatusOr<std::vector<HistorySeries>> LoadHistory(const std::string& dataset_path, const HistoryQuery& query);

std::string RenderHistoryMarkdown(const HistoryQuery& query, const std::vector<HistorySeries>& series);
std::string RenderHistoryJson(const HistoryQuery& query, const std::vector<HistorySeries>& series);

// The CLI's work: 0 with the report in *output, or 2 with one line "error: ..." in *error.
struct HistoryRequest {
  std::string dataset = "results.db";
  HistoryQuery query;
  std::string format = "markdown";  // markdown | json
};
int RunHistory(const HistoryRequest& request, std::string* output, std::string* error);

}  // namespace tlm
