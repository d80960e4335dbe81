// Gathers the dashboard's data from a dataset: overview, the speed matrix, memory, accuracy, the
// regression timeline with its change points, and qualification verdicts.
#include "dashboards/dashboard_data.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <ctime>
#include <map>
#include <set>
#include <string_view>
#include <tuple>
#include <vector>

#include <fmt/format.h>

#include "dashboards/change_points.h"
#include "engine/common/metric_names.h"
#include "engine/common/stats.h"
#include "engine/common/time_format.h"

namespace tlm {
namespace {

using nlohmann::json;

// A metric the page shows: its name, unit and which direction is better.
struct MetricInfo {
  std::string_view name, unit, label;
  bool higher_is_better;
};

constexpr MetricInfo kSpeedMetrics[] = {
    {metric::kDecodeTps, unit::kTokensPerS, "decode", true},
    {metric::kPrefillTps, unit::kTokensPerS, "prefill", true},
    {metric::kTtftMs, unit::kMs, "TTFT", false},
};
constexpr MetricInfo kMemoryMetrics[] = {
    {metric::kRssPeakAnonBytes, unit::kBytes, "peak RSS, anonymous", false},
    {metric::kRssPeakFileBytes, unit::kBytes, "peak RSS, file-backed", false},
    {metric::kEmbdResidentFrac, unit::kFraction, "embedding residency", false},
    {metric::kWeightsResidentBytes, unit::kBytes, "weights resident", false},
};
constexpr MetricInfo kAccuracyMetrics[] = {
    {metric::kKldMean, unit::kNats, "mean KLD", false},
    {metric::kTop1Agree, unit::kFraction, "top-1 agreement", true},
    {metric::kPpl, unit::kRatio, "perplexity", false},
};
// The timeline follows the speed metrics.
const auto& kTimelineMetrics = kSpeedMetrics;

struct RunRow {
  std::string run_id, sweep_id, scenario, device, backend, model, model_description, workload, activations, status,
      verdict, spec_hash, git_commit, commit_time, started_at, error;
  int64_t threads = 0, n_prompt = 0, n_gen = 0, attempt = 0;
  std::map<std::string, std::vector<double>, std::less<>> values;  // metric -> every sample's value
};

// What makes two runs one row of the matrices (the commit aside).
using ConfigKey =
    std::tuple<std::string, std::string, std::string, int64_t, std::string, int64_t, int64_t, std::string>;
ConfigKey KeyOf(const RunRow& r) {
  return {r.device, r.backend, r.model, r.threads, r.activations, r.n_prompt, r.n_gen, r.workload};
}

// When a run's build was made: its commit time, else when it ran.
const std::string& WhenOf(const RunRow& r) { return r.commit_time.empty() ? r.started_at : r.commit_time; }

// "models/gemma-3-270m-q4_k_m.gguf" -> "gemma-3-270m-q4_k_m".
std::string ShortModel(std::string model) {
  if (const size_t slash = model.find_last_of('/'); slash != std::string::npos) model = model.substr(slash + 1);
  if (model.size() > 5 && model.compare(model.size() - 5, 5, ".gguf") == 0) model.resize(model.size() - 5);
  return model;
}

json Number(double v) { return std::isfinite(v) ? json(v) : json(nullptr); }
json TextOrNull(const std::string& s) { return s.empty() ? json(nullptr) : json(s); }

json MetricsJson(std::span<const MetricInfo> metrics) {
  json out = json::array();
  for (const MetricInfo& m : metrics) {
    out.push_back({{"name", m.name}, {"unit", m.unit}, {"label", m.label}, {"higher_is_better", m.higher_is_better}});
  }
  return out;
}

// Runs a query and calls row(stmt) for each row.
template <typename F>
Status ForEachRow(sql::Connection& db, std::string_view query, F&& row) {
  TLM_ASSIGN_OR_RETURN(sql::Statement stmt, db.Prepare(query));
  while (true) {
    TLM_ASSIGN_OR_RETURN(bool more, stmt.Step());
    if (!more) return Status::Ok();
    row(stmt);
  }
}

// A column's value as JSON: numbers stay numbers, NULL is null.
json ColumnJson(const sql::Statement& stmt, int col) {
  switch (stmt.ColumnType(col)) {
    case sql::Type::kNull:
      return nullptr;
    case sql::Type::kInt:
      return stmt.Int(col);
    case sql::Type::kReal:
      return Number(stmt.Real(col));
    case sql::Type::kText:
      break;
  }
  return stmt.Text(col);
}

StatusOr<std::vector<RunRow>> LoadRuns(sql::Connection& db) {
  std::vector<RunRow> runs;
  std::map<std::string, size_t, std::less<>> index;
  TLM_RETURN_IF_ERROR(ForEachRow(
      db,
      "SELECT run_id, sweep_id, scenario, device, backend, model, model_description, workload, activations, status, "
      "verdict, spec_hash, git_commit, commit_time, started_at, error, threads, n_prompt, n_gen, attempt "
      "FROM runs ORDER BY coalesce(commit_time, started_at), started_at, run_id",
      [&](const sql::Statement& s) {
        RunRow r;
        std::string* text[] = {&r.run_id,      &r.sweep_id,    &r.scenario,          &r.device,
                               &r.backend,     &r.model,       &r.model_description, &r.workload,
                               &r.activations, &r.status,      &r.verdict,           &r.spec_hash,
                               &r.git_commit,  &r.commit_time, &r.started_at,        &r.error};
        for (int i = 0; i < 16; ++i) *text[i] = s.Text(i);
        r.threads = s.Int(16);
        r.n_prompt = s.Int(17);
        r.n_gen = s.Int(18);
        r.attempt = s.Int(19);
        index[r.run_id] = runs.size();
        runs.push_back(std::move(r));
      }));
  std::set<std::string_view> wanted;
  for (const MetricInfo& m : kSpeedMetrics) wanted.insert(m.name);
  for (const MetricInfo& m : kMemoryMetrics) wanted.insert(m.name);
  for (const MetricInfo& m : kAccuracyMetrics) wanted.insert(m.name);
  TLM_RETURN_IF_ERROR(ForEachRow(db,
                                 "SELECT run_id, metric, value FROM samples WHERE value IS NOT NULL "
                                 "ORDER BY run_id, repetition",
                                 [&](const sql::Statement& s) {
                                   const std::string metric_name = s.Text(1);
                                   if (!wanted.count(metric_name)) return;
                                   auto it = index.find(s.Text(0));
                                   if (it == index.end()) return;
                                   runs[it->second].values[metric_name].push_back(s.Real(2));
                                 }));
  return runs;
}

StatusOr<json> Overview(sql::Connection& db, const std::vector<RunRow>& runs) {
  json overview;
  json sweeps = json::array();
  TLM_RETURN_IF_ERROR(ForEachRow(
      db,
      "SELECT s.sweep_id, s.name, s.status, s.started_at, s.finished_at, s.n_runs, s.controller_commit, s.agents, "
      "(SELECT count(*) FROM runs r WHERE r.sweep_id = s.sweep_id), "
      "(SELECT count(*) FROM runs r WHERE r.sweep_id = s.sweep_id AND r.status = 'ok') "
      "FROM sweeps s ORDER BY s.started_at, s.sweep_id",
      [&](const sql::Statement& s) {
        sweeps.push_back({{"sweep_id", s.Text(0)},
                          {"name", s.Text(1)},
                          {"status", s.Text(2)},
                          {"started_at", ColumnJson(s, 3)},
                          {"finished_at", ColumnJson(s, 4)},
                          {"n_runs", s.Int(5)},
                          {"controller_commit", ColumnJson(s, 6)},
                          {"agents", ColumnJson(s, 7)},
                          {"runs_written", s.Int(8)},
                          {"runs_ok", s.Int(9)}});
      }));
  json devices = json::array();
  TLM_RETURN_IF_ERROR(ForEachRow(
      db,
      "SELECT name, hostname, labels_json, facts_json, last_seen, "
      "(SELECT count(*) FROM runs r WHERE r.device = d.name) FROM devices d ORDER BY name",
      [&](const sql::Statement& s) {
        json labels = json::parse(s.Text(2), nullptr, /*allow_exceptions=*/false);
        if (!labels.is_object()) labels = json::object();
        // Facts are DeviceInfo as protobuf's JSON (json_extract would tie this to SQLite).
        json facts = json::parse(s.Text(3), nullptr, /*allow_exceptions=*/false);
        if (!facts.is_object()) facts = json::object();
        auto fact = [&](const json::json_pointer& p) -> json {
          if (!facts.contains(p)) return nullptr;
          const json& v = facts.at(p);
          return v.is_string() && v.get_ref<const std::string&>().empty() ? json(nullptr) : v;
        };
        json memory = fact(json::json_pointer("/memory_bytes"));  // uint64: a JSON string in protobuf's mapping
        if (memory.is_string()) memory = std::strtod(memory.get_ref<const std::string&>().c_str(), nullptr);
        if (memory.is_number() && memory.get<double>() == 0) memory = nullptr;
        devices.push_back({{"name", s.Text(0)},
                           {"hostname", ColumnJson(s, 1)},
                           {"labels", labels},
                           {"cpu", fact(json::json_pointer("/cpu/model"))},
                           {"arch", fact(json::json_pointer("/arch"))},
                           {"memory_bytes", memory},
                           {"os", fact(json::json_pointer("/os"))},
                           {"last_seen", ColumnJson(s, 4)},
                           {"runs", s.Int(5)}});
      }));

  // Counts, commits, and runs that did not end ok.
  std::map<std::string, int64_t> by_status;
  std::map<std::string, std::pair<std::string, int64_t>> commits;  // commit -> (time, runs)
  json problems = json::array();
  int64_t samples = 0;
  for (const RunRow& r : runs) {
    ++by_status[r.status];
    for (const auto& [name, v] : r.values) samples += static_cast<int64_t>(v.size());
    if (!r.git_commit.empty()) {
      auto& c = commits[r.git_commit];
      if (c.first.empty() || (!WhenOf(r).empty() && WhenOf(r) < c.first)) c.first = WhenOf(r);
      ++c.second;
    }
    if (r.status != "ok") {
      problems.push_back({{"run_id", r.run_id},
                          {"sweep_id", r.sweep_id},
                          {"device", TextOrNull(r.device)},
                          {"backend", r.backend},
                          {"model", ShortModel(r.model)},
                          {"status", r.status},
                          {"attempt", r.attempt},
                          {"error", TextOrNull(r.error)}});
    }
  }
  std::vector<std::tuple<std::string, std::string, int64_t>> commit_list;
  for (const auto& [commit, info] : commits) commit_list.emplace_back(info.first, commit, info.second);
  std::sort(commit_list.begin(), commit_list.end());
  json commits_json = json::array();
  for (const auto& [when, commit, n] : commit_list) {
    commits_json.push_back({{"commit", commit}, {"commit_time", TextOrNull(when)}, {"runs", n}});
  }
  int64_t attempts = 0, all_samples = 0;
  TLM_RETURN_IF_ERROR(ForEachRow(db, "SELECT (SELECT count(*) FROM attempts), (SELECT count(*) FROM samples)",
                                 [&](const sql::Statement& s) {
                                   attempts = s.Int(0);
                                   all_samples = s.Int(1);
                                 }));
  (void)samples;
  overview["counts"] = {{"sweeps", sweeps.size()},       {"devices", devices.size()}, {"runs", runs.size()},
                        {"runs_by_status", by_status},   {"samples", all_samples},    {"retried_attempts", attempts},
                        {"commits", commits_json.size()}};
  overview["sweeps"] = std::move(sweeps);
  overview["devices"] = std::move(devices);
  overview["commits"] = std::move(commits_json);
  overview["problems"] = std::move(problems);
  return overview;
}

// The ok runs of each configuration, grouped.
std::map<ConfigKey, std::vector<const RunRow*>> OkRunsByConfig(const std::vector<RunRow>& runs) {
  std::map<ConfigKey, std::vector<const RunRow*>> out;
  for (const RunRow& r : runs) {
    if (r.status == "ok") out[KeyOf(r)].push_back(&r);
  }
  return out;
}

// One row per configuration, from the runs of its newest commit, for the metrics given; rows that
// have none of those metrics are left out.
json MatrixRows(const std::map<ConfigKey, std::vector<const RunRow*>>& configs, std::span<const MetricInfo> metrics) {
  json rows = json::array();
  for (const auto& [key, all] : configs) {
    // The newest commit: the latest build time among the config's runs (runs are in that order).
    const RunRow* newest = all.back();
    std::vector<const RunRow*> latest;
    std::set<std::string> commits;
    for (const RunRow* r : all) {
      commits.insert(r->git_commit);
      if (r->git_commit == newest->git_commit) latest.push_back(r);
    }
    json values = json::object(), counts = json::object();
    bool any = false;
    for (const MetricInfo& m : metrics) {
      std::vector<double> pooled;
      for (const RunRow* r : latest) {
        if (auto it = r->values.find(m.name); it != r->values.end()) {
          pooled.insert(pooled.end(), it->second.begin(), it->second.end());
        }
      }
      values[m.name] = pooled.empty() ? json(nullptr) : Number(Median(pooled));
      counts[m.name] = pooled.size();
      any = any || !pooled.empty();
    }
    if (!any) continue;
    std::map<std::string, int> verdicts;
    for (const RunRow* r : latest) ++verdicts[r->verdict.empty() ? "none" : r->verdict];
    std::string verdict_text;
    for (const auto& [v, n] : verdicts) verdict_text += fmt::format("{}{} {}", verdict_text.empty() ? "" : ", ", n, v);
    rows.push_back({{"device", newest->device},
                    {"backend", newest->backend},
                    {"model", ShortModel(newest->model)},
                    {"model_description", TextOrNull(newest->model_description)},
                    {"threads", newest->threads},
                    {"activations", newest->activations},
                    {"n_prompt", newest->n_prompt},
                    {"n_gen", newest->n_gen},
                    {"workload", newest->workload},
                    {"commit", TextOrNull(newest->git_commit)},
                    {"commit_time", TextOrNull(WhenOf(*newest))},
                    {"runs", latest.size()},
                    {"commits_seen", commits.size()},
                    {"verdicts", verdict_text},
                    {"values", std::move(values)},
                    {"samples", std::move(counts)}});
  }
  return rows;
}

// "edge-1 · cpu · gemma-3-270m-q4_k_m · 2 threads · f32 · pp64/tg16", and the workload when it is
// not `generate`.
std::string SeriesLabel(const RunRow& r) {
  std::string label =
      fmt::format("{} · {} · {} · {} threads · {} · pp{}/tg{}", r.device, r.backend, ShortModel(r.model), r.threads,
                  r.activations.empty() ? "-" : r.activations, r.n_prompt, r.n_gen);
  if (!r.workload.empty() && r.workload != "generate") label += " · " + r.workload;
  return label;
}

json Timeline(const std::vector<RunRow>& runs) {
  // A series: one device and one spec (equal spec_hash: comparable runs) across commits.
  struct Series {
    const RunRow* first = nullptr;
    std::vector<std::string> commit_order;                        // by build time
    std::map<std::string, std::vector<const RunRow*>> by_commit;  // commit -> runs
  };
  std::map<std::string, Series> series;
  std::vector<std::string> order;
  for (const RunRow& r : runs) {  // runs come ordered by build time
    if (r.status != "ok") continue;
    const std::string key = r.device + "\x1f" + (r.spec_hash.empty() ? SeriesLabel(r) : r.spec_hash);
    Series& s = series[key];
    if (s.first == nullptr) {
      s.first = &r;
      order.push_back(key);
    }
    auto& bucket = s.by_commit[r.git_commit];
    if (bucket.empty()) s.commit_order.push_back(r.git_commit);
    bucket.push_back(&r);
  }
  // Labels must tell series apart: add the scenario, then the spec hash, where they collide.
  std::map<std::string, std::string> labels;
  std::map<std::string, int> uses;
  for (const std::string& key : order) ++uses[SeriesLabel(*series[key].first)];
  for (const std::string& key : order) {
    const RunRow& r = *series[key].first;
    std::string label = SeriesLabel(r);
    if (uses[label] > 1) label += fmt::format(" · {} #{}", r.scenario, r.spec_hash.substr(0, 8));
    labels[key] = label;
  }

  json metrics = json::array(), change_points = json::array();
  for (const MetricInfo& m : kTimelineMetrics) {
    json metric_series = json::array();
    for (const std::string& key : order) {
      const Series& s = series[key];
      json points = json::array();
      std::vector<double> medians;
      for (const std::string& commit : s.commit_order) {
        std::vector<double> pooled;
        std::string when;
        for (const RunRow* r : s.by_commit.at(commit)) {
          if (auto it = r->values.find(m.name); it != r->values.end()) {
            pooled.insert(pooled.end(), it->second.begin(), it->second.end());
          }
          if (when.empty() || (!WhenOf(*r).empty() && WhenOf(*r) < when)) when = WhenOf(*r);
        }
        if (pooled.empty()) continue;
        const double median = Median(pooled);
        medians.push_back(median);
        points.push_back({{"commit", TextOrNull(commit)},
                          {"time", TextOrNull(when)},
                          {"value", Number(median)},
                          {"samples", pooled.size()},
                          {"runs", s.by_commit.at(commit).size()}});
      }
      if (points.empty()) continue;
      const std::string id = fmt::format("s{}", std::find(order.begin(), order.end(), key) - order.begin());
      for (const SeriesChangePoint& cp : FindSeriesChangePoints(medians)) {
        if (cp.index >= points.size()) continue;
        change_points.push_back({{"metric", m.name},
                                 {"series", id},
                                 {"index", cp.index},
                                 {"commit", points[cp.index]["commit"]},
                                 {"time", points[cp.index]["time"]},
                                 {"magnitude_pct", Number(cp.magnitude_pct)},
                                 {"p_value", Number(cp.p_value)}});
      }
      metric_series.push_back({{"id", id}, {"label", labels[key]}, {"device", s.first->device}, {"points", points}});
    }
    metrics.push_back({{"name", m.name},
                       {"unit", m.unit},
                       {"label", m.label},
                       {"higher_is_better", m.higher_is_better},
                       {"series", std::move(metric_series)}});
  }
  return {{"metrics", std::move(metrics)}, {"change_points", std::move(change_points)}};
}

// The `qualifications` table (issue 6) as it is, whatever its columns; absent is not an error.
StatusOr<json> Qualifications(sql::Connection& db) {
  bool present = false;
  const std::string_view exists =
      db.dialect() == sql::Dialect::kSqlite
          ? "SELECT 1 FROM sqlite_master WHERE type IN ('table', 'view') AND name = 'qualifications'"
          : "SELECT 1 FROM information_schema.tables WHERE table_name = 'qualifications' "
            "AND table_schema = current_schema()";
  TLM_RETURN_IF_ERROR(ForEachRow(db, exists, [&](const sql::Statement&) { present = true; }));
  json out = {{"present", present}, {"columns", json::array()}, {"rows", json::array()}};
  if (!present) return out;
  TLM_ASSIGN_OR_RETURN(sql::Statement stmt, db.Prepare("SELECT * FROM qualifications LIMIT 10000"));
  for (int c = 0; c < stmt.ColumnCount(); ++c) out["columns"].push_back(stmt.ColumnName(c));
  while (true) {
    TLM_ASSIGN_OR_RETURN(bool more, stmt.Step());
    if (!more) break;
    json row = json::array();
    for (int c = 0; c < stmt.ColumnCount(); ++c) row.push_back(ColumnJson(stmt, c));
    out["rows"].push_back(std::move(row));
  }
  return out;
}

// The `conformance` table (`tlmbench conform`, `tlmbench qualify`): the latest row of each backend, suite
// and case, failures first, then skips, then passes.
StatusOr<json> Conformance(sql::Connection& db) {
  json out = {{"columns", json::array({"suite", "backend", "case", "status", "kld", "top1", "message", "started_at"})},
              {"rows", json::array()}};
  TLM_RETURN_IF_ERROR(ForEachRow(
      db,
      "SELECT suite, backend, case_name, status, kld, top1, message, started_at FROM ("
      "SELECT suite, backend, case_name, status, kld, top1, message, started_at, row_number() OVER ("
      "PARTITION BY backend, suite, case_name ORDER BY started_at DESC, run_id DESC) AS i FROM conformance) latest "
      "WHERE i = 1 ORDER BY CASE status WHEN 'fail' THEN 0 WHEN 'skip' THEN 1 ELSE 2 END, suite, backend, case_name "
      "LIMIT 10000",
      [&](const sql::Statement& stmt) {
        json row = json::array();
        for (int c = 0; c < stmt.ColumnCount(); ++c) row.push_back(ColumnJson(stmt, c));
        out["rows"].push_back(std::move(row));
      }));
  return out;
}

}  // namespace

StatusOr<nlohmann::json> GatherDashboardData(Dataset& dataset, const DashboardOptions& options) {
  sql::Connection& db = dataset.connection();
  // One read transaction: a sweep writing meanwhile does not tear the picture.
  TLM_RETURN_IF_ERROR(
      db.Exec(db.dialect() == sql::Dialect::kSqlite ? "BEGIN" : "BEGIN ISOLATION LEVEL REPEATABLE READ"));
  struct EndRead {
    sql::Connection& db;
    ~EndRead() { (void)db.Exec("COMMIT"); }
  } end_read{db};

  TLM_ASSIGN_OR_RETURN(std::vector<RunRow> runs, LoadRuns(db));
  json data;
  data["meta"] = {{"title", options.title},
                  {"dataset", dataset.path()},
                  {"generated_at", options.generated_at.empty() ? NowIso8601Utc() : options.generated_at},
                  {"generator", options.generator},
                  {"schema_version", kDatasetSchemaVersion}};
  TLM_ASSIGN_OR_RETURN(data["overview"], Overview(db, runs));
  const auto configs = OkRunsByConfig(runs);
  data["speed"] = {{"metrics", MetricsJson(kSpeedMetrics)}, {"rows", MatrixRows(configs, kSpeedMetrics)}};
  data["memory"] = {{"metrics", MetricsJson(kMemoryMetrics)}, {"rows", MatrixRows(configs, kMemoryMetrics)}};
  data["accuracy"] = {{"metrics", MetricsJson(kAccuracyMetrics)}, {"rows", MatrixRows(configs, kAccuracyMetrics)}};
  data["timeline"] = Timeline(runs);
  TLM_ASSIGN_OR_RETURN(data["qualifications"], Qualifications(db));
  TLM_ASSIGN_OR_RETURN(data["conformance"], Conformance(db));
  return data;
}

}  // namespace tlm
