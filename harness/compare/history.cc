// History: load a metric's points per series and commit, find change points, render.
#include "harness/compare/history.h"

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <map>
#include <memory>
#include <set>
#include <tuple>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "engine/common/stats.h"
#include "harness/compare/side.h"
#include "harness/store/dataset.h"

namespace tlm {
namespace {

using ojson = nlohmann::ordered_json;

ojson Number(double v) { return std::isfinite(v) ? ojson(v) : ojson(nullptr); }

struct CommitGroup {
  std::string commit, time;
  std::set<std::string> runs;
  std::vector<double> reps, once;
};

std::string SeriesLabel(const HistorySeries& s) {
  return fmt::format("{} {} {} t{} p{} g{} {} on {}", s.scenario, s.model, s.backend, s.threads, s.n_prompt, s.n_gen,
                     s.activations, s.device.empty() ? "?" : s.device);
}

std::string FormatChange(double rel) { return std::isfinite(rel) ? fmt::format("{:+.1f}%", rel * 100) : "n/a"; }

}  // namespace

StatusOr<std::vector<HistorySeries>> LoadHistory(const std::string& dataset_path, const HistoryQuery& q) {
  std::error_code ec;
  if (!IsDatasetUrl(dataset_path) && !std::filesystem::is_regular_file(dataset_path, ec))
    return NotFound("dataset {} does not exist (or is not a file)", dataset_path);
  TLM_ASSIGN_OR_RETURN(std::unique_ptr<Dataset> ds, Dataset::Open(dataset_path));
  TLM_ASSIGN_OR_RETURN(auto stmt, ds->connection().Prepare(R"sql(
    SELECT coalesce(r.device, ''), coalesce(r.spec_hash, ''), coalesce(r.scenario, ''), coalesce(r.model, ''),
           coalesce(r.backend, ''), r.threads, r.n_prompt, r.n_gen, coalesce(r.activations, ''),
           r.run_id, coalesce(r.git_commit, ''), coalesce(r.commit_time, r.started_at, ''),
           s.repetition, s.value, coalesce(s.unit, '')
    FROM runs AS r JOIN samples AS s ON s.run_id = r.run_id
    WHERE r.status = 'ok' AND s.metric = ?1 AND s.value IS NOT NULL
      AND (?2 = '' OR r.scenario = ?2) AND (?3 = '' OR r.device = ?3)
    ORDER BY r.rowid, s.repetition)sql"));
  stmt.BindText(1, q.metric);
  stmt.BindText(2, q.scenario);
  stmt.BindText(3, q.device);
  std::map<ScenarioKey, HistorySeries> series;
  std::map<ScenarioKey, std::map<std::string, CommitGroup>> groups;
  while (true) {
    TLM_ASSIGN_OR_RETURN(bool row, stmt.Step());
    if (!row) break;
    const ScenarioKey key{stmt.Text(0), stmt.Text(1)};
    HistorySeries& s = series[key];
    if (s.points.empty() && s.scenario.empty()) {
      s.device = key.first;
      s.spec_hash = key.second;
      s.scenario = stmt.Text(2);
      s.model = stmt.Text(3);
      s.backend = stmt.Text(4);
      s.threads = static_cast<int>(stmt.Int(5));
      s.n_prompt = static_cast<int>(stmt.Int(6));
      s.n_gen = static_cast<int>(stmt.Int(7));
      s.activations = stmt.Text(8);
    }
    if (s.unit.empty()) s.unit = stmt.Text(14);
    const std::string run_id = stmt.Text(9), commit = stmt.Text(10), time = stmt.Text(11);
    CommitGroup& g = groups[key][commit.empty() ? "run:" + run_id : "commit:" + commit];
    g.commit = commit;
    if (g.time.empty() || (!time.empty() && time < g.time)) g.time = time;
    g.runs.insert(run_id);
    (stmt.Int(12) >= 1 ? g.reps : g.once).push_back(stmt.Real(13));
  }
  if (series.empty()) {
    return NotFound("no ok run in {} has samples of '{}'{}{}", dataset_path, q.metric,
                    q.scenario.empty() ? "" : fmt::format(" in scenario '{}'", q.scenario),
                    q.device.empty() ? "" : fmt::format(" on device '{}'", q.device));
  }
  std::vector<HistorySeries> out;
  for (auto& [key, s] : series) {
    for (auto& [id, g] : groups[key]) {
      HistoryPoint p;
      p.commit = g.commit;
      p.commit_time = g.time;
      const std::vector<double>& v = g.reps.empty() ? g.once : g.reps;
      p.median = Median(v);
      p.n = v.size();
      p.runs = static_cast<int>(g.runs.size());
      s.points.push_back(std::move(p));
    }
    std::stable_sort(s.points.begin(), s.points.end(), [](const HistoryPoint& a, const HistoryPoint& b) {
      return std::tie(a.commit_time, a.commit) < std::tie(b.commit_time, b.commit);
    });
    std::vector<double> medians;
    for (const HistoryPoint& p : s.points) medians.push_back(p.median);
    s.change_points = EDivisive(medians, q.change_points);
    out.push_back(std::move(s));
  }
  return out;
}

std::string RenderHistoryMarkdown(const HistoryQuery& q, const std::vector<HistorySeries>& all) {
  std::string out = fmt::format("## tlmbench history: {}\n", q.metric);
  for (const HistorySeries& s : all) {
    out += fmt::format("\n### {} (spec {})\n\n", SeriesLabel(s), s.spec_hash.substr(0, 12));
    out += fmt::format("| # | commit time | commit | {} ({}) | n | change |\n", q.metric, s.unit);
    out += "| ---: | --- | --- | ---: | ---: | --- |\n";
    for (size_t i = 0; i < s.points.size(); ++i) {
      const HistoryPoint& p = s.points[i];
      std::string change;
      for (const ChangePoint& cp : s.change_points)
        if (cp.index == i) change = fmt::format("change point {} (p {:.3f})", FormatChange(cp.relative_change), cp.p_value);
      out += fmt::format("| {} | {} | {} | {:.5g} | {} | {} |\n", i + 1, p.commit_time,
                         p.commit.empty() ? "?" : ShortCommit(p.commit), p.median, p.n, change);
    }
    if (s.change_points.empty()) {
      out += fmt::format("\nNo change point (E-divisive, alpha {}, {} permutations, segments of at least {}).\n",
                         q.change_points.alpha, q.change_points.permutations, q.change_points.min_segment);
      continue;
    }
    out += fmt::format("\nChange points (E-divisive, alpha {}, {} permutations):\n\n", q.change_points.alpha,
                       q.change_points.permutations);
    for (const ChangePoint& cp : s.change_points) {
      const HistoryPoint& p = s.points[cp.index];
      out += fmt::format("- at #{}, commit {} ({}): mean {:.5g} -> {:.5g} {} ({}), p {:.3f}\n", cp.index + 1,
                         p.commit.empty() ? "?" : ShortCommit(p.commit), p.commit_time, cp.mean_before, cp.mean_after,
                         s.unit, FormatChange(cp.relative_change), cp.p_value);
    }
  }
  return out;
}

std::string RenderHistoryJson(const HistoryQuery& q, const std::vector<HistorySeries>& all) {
  ojson list = ojson::array();
  for (const HistorySeries& s : all) {
    ojson points = ojson::array();
    for (const HistoryPoint& p : s.points)
      points.push_back({{"commit", p.commit}, {"commit_time", p.commit_time}, {"median", Number(p.median)},
                        {"n", p.n}, {"runs", p.runs}});
    ojson cps = ojson::array();
    for (const ChangePoint& cp : s.change_points)
      cps.push_back({{"index", cp.index},
                     {"commit", s.points[cp.index].commit},
                     {"commit_time", s.points[cp.index].commit_time},
                     {"mean_before", Number(cp.mean_before)},
                     {"mean_after", Number(cp.mean_after)},
                     {"relative_change", Number(cp.relative_change)},
                     {"p_value", cp.p_value},
                     {"statistic", Number(cp.statistic)}});
    list.push_back({{"device", s.device},
                    {"spec_hash", s.spec_hash},
                    {"scenario", s.scenario},
                    {"model", s.model},
                    {"backend", s.backend},
                    {"threads", s.threads},
                    {"n_prompt", s.n_prompt},
                    {"n_gen", s.n_gen},
                    {"activations", s.activations},
                    {"unit", s.unit},
                    {"points", points},
                    {"change_points", cps}});
  }
  ojson out = {{"metric", q.metric},
               {"options",
                {{"alpha", q.change_points.alpha},
                 {"permutations", q.change_points.permutations},
                 {"min_segment", q.change_points.min_segment}}},
               {"series", list}};
  return out.dump(2) + "\n";
}

int RunHistory(const HistoryRequest& req, std::string* output, std::string* error) {
  auto fail = [error](const Status& s) {
    *error = fmt::format("error: {}", s.message());
    return 2;
  };
  if (req.query.metric.empty()) return fail(InvalidArgument("--metric is required"));
  if (req.format != "markdown" && req.format != "json")
    return fail(InvalidArgument("--format {}: expected markdown or json", req.format));
  if (!(req.query.change_points.alpha > 0 && req.query.change_points.alpha < 1))
    return fail(InvalidArgument("--alpha must be between 0 and 1"));
  if (req.query.change_points.permutations < 19) return fail(InvalidArgument("--permutations must be at least 19"));
  if (req.query.change_points.min_segment < 2) return fail(InvalidArgument("--min-segment must be at least 2"));
  auto series = LoadHistory(req.dataset, req.query);
  if (!series.ok()) return fail(series.status());
  *output = req.format == "json" ? RenderHistoryJson(req.query, *series) : RenderHistoryMarkdown(req.query, *series);
  return 0;
}

}  // namespace tlm
