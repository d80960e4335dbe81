// The end-of-sweep summary: per-run medians of the headline metrics, read back from the dataset.
#include "harness/store/summary.h"

#include <algorithm>
#include <cmath>
#include <map>
#include <vector>

#include <fmt/format.h>

#include "engine/common/metric_names.h"
#include "engine/common/stats.h"

namespace tlm {
namespace {

struct SummaryMetric {
  std::string_view name;
  int decimals;
  bool optional;  // a column only when some run has the metric
};
constexpr SummaryMetric kMetrics[] = {
    {metric::kPrefillTps, 2, false}, {metric::kDecodeTps, 2, false}, {metric::kTtftMs, 2, false},
    {metric::kPpl, 3, true},         {metric::kKldMean, 4, true},    {metric::kTop1Agree, 4, true},
};

struct Row {
  std::string run_id;
  std::vector<std::string> cells;
};

// "models/gemma-3-270m-q4_k_m.gguf" -> "gemma-3-270m-q4_k_m".
std::string ShortModel(std::string model) {
  if (const size_t slash = model.find_last_of('/'); slash != std::string::npos) model = model.substr(slash + 1);
  if (model.size() > 5 && model.compare(model.size() - 5, 5, ".gguf") == 0) model.resize(model.size() - 5);
  return model.empty() ? "-" : model;
}

std::string OrDash(std::string s) { return s.empty() ? "-" : s; }

}  // namespace

StatusOr<std::string> RenderSweepSummary(Dataset& dataset, std::string_view sweep_id) {
  TLM_ASSIGN_OR_RETURN(SweepRecord sweep, dataset.LoadSweep(sweep_id));
  sql::Connection& db = dataset.connection();

  // Samples of the summarized metrics, by run.
  std::map<std::string, std::map<std::string, std::vector<double>>> values;
  {
    TLM_ASSIGN_OR_RETURN(sql::Statement stmt,
                         db.Prepare("SELECT s.run_id, s.metric, s.value FROM samples AS s JOIN runs AS r "
                                    "ON r.run_id = s.run_id WHERE r.sweep_id = $1 AND s.value IS NOT NULL"));
    stmt.BindText(1, sweep_id);
    while (true) {
      TLM_ASSIGN_OR_RETURN(bool row, stmt.Step());
      if (!row) break;
      values[stmt.Text(0)][stmt.Text(1)].push_back(stmt.Real(2));
    }
  }
  std::vector<const SummaryMetric*> metrics;
  for (const SummaryMetric& m : kMetrics) {
    const bool any = std::any_of(values.begin(), values.end(),
                                 [&](const auto& run) { return run.second.count(std::string(m.name)) > 0; });
    if (!m.optional || any) metrics.push_back(&m);
  }

  std::vector<std::string> headers = {"device", "model", "backend", "threads", "n_prompt",
                                      "n_gen",  "act",   "status",  "verdict"};
  std::vector<bool> right = {false, false, false, true, true, true, false, false, false};
  for (const SummaryMetric* m : metrics) {
    headers.emplace_back(m->name);
    right.push_back(true);
  }

  std::vector<std::vector<std::string>> rows;
  std::map<std::string, int> by_status;
  {
    TLM_ASSIGN_OR_RETURN(sql::Statement stmt,
                         db.Prepare("SELECT run_id, device, model, backend, threads, n_prompt, n_gen, activations, "
                                    "status, verdict FROM runs WHERE sweep_id = $1 ORDER BY device NULLS FIRST, "
                                    "model NULLS FIRST, backend NULLS FIRST, threads NULLS FIRST, n_prompt NULLS "
                                    "FIRST, n_gen NULLS FIRST, activations NULLS FIRST, run_id"));
    stmt.BindText(1, sweep_id);
    while (true) {
      TLM_ASSIGN_OR_RETURN(bool row, stmt.Step());
      if (!row) break;
      const std::string run_id = stmt.Text(0);
      std::vector<std::string> cells = {
          OrDash(stmt.Text(1)), ShortModel(stmt.Text(2)), OrDash(stmt.Text(3)),
          OrDash(stmt.Text(4)), OrDash(stmt.Text(5)),     OrDash(stmt.Text(6)),
          OrDash(stmt.Text(7)), OrDash(stmt.Text(8)),     OrDash(stmt.Text(9)),
      };
      ++by_status[stmt.Text(8)];
      const auto run_values = values.find(run_id);
      for (const SummaryMetric* m : metrics) {
        std::string cell = "-";
        if (run_values != values.end()) {
          if (auto it = run_values->second.find(std::string(m->name)); it != run_values->second.end()) {
            const double median = Median(it->second);
            if (std::isfinite(median)) cell = fmt::format("{:.{}f}", median, m->decimals);
          }
        }
        cells.push_back(std::move(cell));
      }
      rows.push_back(std::move(cells));
    }
  }

  std::vector<size_t> widths;
  for (const std::string& h : headers) widths.push_back(h.size());
  for (const auto& r : rows) {
    for (size_t i = 0; i < r.size(); ++i) widths[i] = std::max(widths[i], r[i].size());
  }
  auto line = [&](const std::vector<std::string>& cells) {
    std::string out;
    for (size_t i = 0; i < cells.size(); ++i) {
      if (i) out += "  ";
      out += right[i] ? fmt::format("{:>{}}", cells[i], widths[i]) : fmt::format("{:<{}}", cells[i], widths[i]);
    }
    while (!out.empty() && out.back() == ' ') out.pop_back();
    return out + "\n";
  };

  std::string out =
      fmt::format("sweep {}{}: {}, started {}{}\n", sweep.sweep_id,
                  sweep.name.empty() ? "" : fmt::format(" ({})", sweep.name), sweep.status, OrDash(sweep.started_at),
                  sweep.finished_at.empty() ? "" : fmt::format(", finished {}", sweep.finished_at));
  out += line(headers);
  std::vector<std::string> rule;
  for (size_t w : widths) rule.emplace_back(w, '-');
  out += line(rule);
  for (const auto& r : rows) out += line(r);
  std::string counts;
  for (const auto& [status, n] : by_status) counts += fmt::format("{}{} {}", counts.empty() ? "" : ", ", n, status);
  out += fmt::format("{} of {} runs written{}{}\n", rows.size(), sweep.n_runs, rows.empty() ? "" : ": ", counts);
  return out;
}

}  // namespace tlm
