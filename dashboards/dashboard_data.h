// What the dashboard shows, gathered from a dataset into one JSON object that the page renders.
#pragma once

#include <string>

#include <nlohmann/json.hpp>

#include "engine/common/status.h"
#include "harness/store/dataset.h"

namespace tlm {

struct DashboardOptions {
  std::string title = "tlmbench dashboard";
  std::string generated_at;  // ISO 8601 UTC; "" means now
  std::string generator;     // tlmbench build commit, shown in the footer
};

// Reads the whole dataset (sweeps, devices, runs, samples, attempts, and a `qualifications` table
// when there is one) and builds the page's data object; its layout is in docs/dashboards.md:
//   meta, overview{counts, sweeps, devices, commits, problems}, speed{metrics, rows},
//   memory{metrics, rows}, accuracy{metrics, rows}, timeline{metrics, series, change_points},
//   qualifications{present, columns, rows}, conformance{columns, rows} (the conformance table's latest row
//   per backend, suite and case, failures first).
// Medians pool every sample of a metric over the ok runs of a configuration's newest commit.
StatusOr<nlohmann::json> GatherDashboardData(Dataset& dataset, const DashboardOptions& options);

}  // namespace tlm
