// Loads a side of compare from the dataset: resolves the id, reads ok runs and their samples.
#include "harness/compare/side.h"

#include <algorithm>
#include <filesystem>
#include <memory>

#include <fmt/format.h>

#include "harness/store/dataset.h"

namespace tlm {
namespace {

bool IsFile(const std::string& path) {
  std::error_code ec;
  return !path.empty() && std::filesystem::is_regular_file(path, ec);
}

}  // namespace

bool IsDatasetUrl(std::string_view location) {
  return location.substr(0, 13) == "postgresql://" || location.substr(0, 11) == "postgres://";
}

namespace {

StatusOr<std::string> LatestSweep(Dataset& ds) {
  TLM_ASSIGN_OR_RETURN(auto stmt,
                       ds.connection().Prepare("SELECT sweep_id FROM sweeps ORDER BY started_at DESC, sweep_id DESC LIMIT 1"));
  TLM_ASSIGN_OR_RETURN(bool row, stmt.Step());
  if (!row) return NotFound("dataset {} holds no sweep", ds.path());
  return stmt.Text(0);
}

StatusOr<bool> HasRun(Dataset& ds, std::string_view run_id) {
  TLM_ASSIGN_OR_RETURN(auto stmt, ds.connection().Prepare("SELECT 1 FROM runs WHERE run_id = ?1"));
  stmt.BindText(1, run_id);
  return stmt.Step();
}

// Per run and metric, before pooling: repetition values and the once-per-run value.
struct RunMetric {
  std::string unit;
  std::vector<double> reps;
  std::vector<double> once;
};

}  // namespace

StatusOr<SideRef> ParseSideRef(std::string_view arg, const std::string& default_dataset) {
  const std::string a(arg);
  if (a.empty()) return InvalidArgument("an empty side: give a dataset file, FILE:ID, or a sweep or run id");
  if (IsFile(a) || IsDatasetUrl(a)) return SideRef{a, ""};
  if (const size_t colon = a.rfind(':'); colon != std::string::npos && colon > 0) {
    const std::string file = a.substr(0, colon), id = a.substr(colon + 1);
    if (IsFile(file)) {
      if (id.empty()) return InvalidArgument("'{}': give a sweep or run id after the colon", a);
      return SideRef{file, id};
    }
  }
  if (!IsFile(default_dataset) && !IsDatasetUrl(default_dataset)) {
    return NotFound("'{}' is not a file, and the dataset to look it up in ({}) does not exist (see --dataset)", a,
                    default_dataset);
  }
  return SideRef{default_dataset, a};
}

StatusOr<SideData> LoadSide(const SideRef& ref) {
  // Open() would create a missing file; a missing side is an error.
  if (!IsFile(ref.dataset_path) && !IsDatasetUrl(ref.dataset_path)) return NotFound("dataset {} does not exist (or is not a file)", ref.dataset_path);
  TLM_ASSIGN_OR_RETURN(std::unique_ptr<Dataset> ds, Dataset::Open(ref.dataset_path));
  SideData side;
  side.dataset_path = ref.dataset_path;
  if (ref.id.empty()) {
    TLM_ASSIGN_OR_RETURN(side.sweep_id, LatestSweep(*ds));
  } else {
    TLM_ASSIGN_OR_RETURN(bool is_sweep, ds->HasSweep(ref.id));
    if (is_sweep) {
      side.sweep_id = ref.id;
    } else {
      TLM_ASSIGN_OR_RETURN(bool is_run, HasRun(*ds, ref.id));
      if (!is_run) return NotFound("'{}' is neither a sweep nor a run in dataset {}", ref.id, ref.dataset_path);
      side.run_id = ref.id;
    }
  }
  side.description = side.sweep_id.empty() ? fmt::format("{}, run {}", ref.dataset_path, side.run_id)
                                           : fmt::format("{}, sweep {}", ref.dataset_path, side.sweep_id);

  TLM_ASSIGN_OR_RETURN(auto stmt, ds->connection().Prepare(R"sql(
    SELECT r.run_id, coalesce(r.device, ''), coalesce(r.spec_hash, ''), coalesce(r.scenario, ''),
           coalesce(r.model, ''), coalesce(r.backend, ''), r.threads, r.n_prompt, r.n_gen,
           coalesce(r.activations, ''), coalesce(r.git_commit, ''),
           s.repetition, s.metric, s.value, coalesce(s.unit, '')
    FROM runs AS r LEFT JOIN samples AS s ON s.run_id = r.run_id
    WHERE r.status = 'ok' AND ((?1 <> '' AND r.sweep_id = ?1) OR (?2 <> '' AND r.run_id = ?2))
    ORDER BY r.rowid, s.metric, s.repetition)sql"));
  stmt.BindText(1, side.sweep_id);
  stmt.BindText(2, side.run_id);
  // (key, metric) -> per run
  std::map<ScenarioKey, std::map<std::string, std::vector<RunMetric>>> per_run;
  std::string last_run;
  while (true) {
    TLM_ASSIGN_OR_RETURN(bool row, stmt.Step());
    if (!row) break;
    const std::string run_id = stmt.Text(0);
    const ScenarioKey key{stmt.Text(1), stmt.Text(2)};
    ScenarioSamples& sc = side.scenarios[key];
    const bool new_run = run_id != last_run;
    if (new_run) {
      last_run = run_id;
      ++side.n_runs;
      sc.device = key.first;
      sc.spec_hash = key.second;
      sc.scenario = stmt.Text(3);
      sc.model = stmt.Text(4);
      sc.backend = stmt.Text(5);
      sc.threads = static_cast<int>(stmt.Int(6));
      sc.n_prompt = static_cast<int>(stmt.Int(7));
      sc.n_gen = static_cast<int>(stmt.Int(8));
      sc.activations = stmt.Text(9);
      sc.run_ids.push_back(run_id);
      const std::string commit = stmt.Text(10);
      if (!commit.empty() && std::find(side.commits.begin(), side.commits.end(), commit) == side.commits.end())
        side.commits.push_back(commit);
    }
    if (stmt.IsNull(12)) continue;  // a run without samples
    const std::string metric = stmt.Text(12);
    std::vector<RunMetric>& runs = per_run[key][metric];
    if (runs.size() < sc.run_ids.size()) runs.resize(sc.run_ids.size());  // indexed like sc.run_ids
    RunMetric& rm = runs[sc.run_ids.size() - 1];
    rm.unit = stmt.Text(14);
    if (stmt.IsNull(13)) continue;
    (stmt.Int(11) >= 1 ? rm.reps : rm.once).push_back(stmt.Real(13));
  }
  for (auto& [key, metrics] : per_run) {
    ScenarioSamples& sc = side.scenarios[key];
    for (auto& [metric, runs] : metrics) {
      MetricSamples ms;
      bool any_reps = false;
      for (const RunMetric& rm : runs) any_reps = any_reps || !rm.reps.empty();
      ms.once_per_run = !any_reps;
      for (const RunMetric& rm : runs) {
        if (!rm.unit.empty()) ms.unit = rm.unit;
        const std::vector<double>& v = any_reps ? rm.reps : rm.once;
        ms.values.insert(ms.values.end(), v.begin(), v.end());
      }
      sc.metrics[metric] = std::move(ms);
    }
  }
  return side;
}

std::string ShortCommit(const std::string& commit) {
  constexpr size_t kShort = 10;
  const std::string dirty = "-dirty";
  std::string hash = commit, suffix;
  if (hash.size() > dirty.size() && hash.compare(hash.size() - dirty.size(), dirty.size(), dirty) == 0) {
    suffix = dirty;
    hash.resize(hash.size() - dirty.size());
  }
  if (hash.size() > kShort) hash.resize(kShort);
  return hash + suffix;
}

std::string ScenarioLabel(const ScenarioSamples& s) {
  return fmt::format("{} {} {} t{} p{} g{} {}", s.scenario, s.model, s.backend, s.threads, s.n_prompt, s.n_gen,
                     s.activations);
}

}  // namespace tlm
