// Fixtures of the compare and history tests: a temporary directory and runs with chosen samples
// written through the Dataset API.
#pragma once

#include <atomic>
#include <filesystem>
#include <map>
#include <random>
#include <string>
#include <vector>

#include <fmt/format.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include "harness/store/dataset.h"
#include "tlmbench/v1/run.pb.h"

namespace tlm::testing {

class CompareTempDir {
 public:
  CompareTempDir() {
    static std::atomic<int> counter{0};
    path_ = std::filesystem::temp_directory_path() /
            fmt::format("tlm_compare_test_{}_{}", ::getpid(), counter.fetch_add(1));
    std::filesystem::remove_all(path_);
    std::filesystem::create_directories(path_);
  }
  ~CompareTempDir() {
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
  }
  std::string File(const std::string& name) const { return (path_ / name).string(); }

 private:
  std::filesystem::path path_;
};

// One run to write: its key, commit and samples.
struct RunRecord {
  std::string sweep_id, run_id;
  std::string device = "edge-1";
  std::string spec_hash = "spec-a";
  std::string scenario = "ci";
  int threads = 2;
  std::string commit = "c0ffee0000000000000000000000000000000000";
  std::string commit_time = "2025-02-01T00:00:00Z";
  std::string started_at = "2025-02-01T01:00:00Z";
  std::map<std::string, std::vector<double>> reps;  // metric -> repetitions 1..n
  std::map<std::string, double> once;               // metric -> repetition 0
};

inline std::string UnitOf(const std::string& metric) {
  if (metric.ends_with("_tps")) return "tokens/s";
  if (metric.ends_with("_ms")) return "ms";
  if (metric.ends_with("_bytes")) return "bytes";
  return "count";
}

inline void BeginSweepOrDie(Dataset& ds, const std::string& sweep_id, const std::string& started_at) {
  SweepRecord s;
  s.sweep_id = sweep_id;
  s.name = "ci";
  s.spec_path = "scenarios/ci-regression.yaml";
  s.spec_text = "name: ci\n";
  s.started_at = started_at;
  s.status = "done";
  s.n_runs = 1;
  s.agents = "local";
  ASSERT_TRUE(ds.BeginSweep(s).ok());
}

inline void WriteRunOrDie(Dataset& ds, const RunRecord& r) {
  tlmbench::v1::RunSpec spec;
  spec.set_run_id(r.run_id);
  spec.set_sweep_id(r.sweep_id);
  spec.set_scenario(r.scenario);
  spec.set_source("scenarios/ci-regression.yaml:3");
  spec.set_spec_hash(r.spec_hash);
  spec.set_workload("generate");
  spec.set_model("gemma-3-270m-q4_k_m.gguf");
  spec.set_backend("cpu");
  spec.set_threads(r.threads);
  spec.set_n_prompt(64);
  spec.set_n_gen(16);
  spec.set_activations("f32");
  spec.set_attempt(1);
  tlmbench::v1::RunResult res;
  res.set_run_id(r.run_id);
  res.set_status(tlmbench::v1::OK);
  res.set_verdict(tlmbench::v1::VALID);
  res.set_threads(r.threads);
  res.set_started_at(r.started_at);
  res.set_finished_at(r.started_at);
  res.mutable_build()->set_git_commit(r.commit);
  res.mutable_build()->set_commit_time(r.commit_time);
  res.set_agent(r.device);
  int reps = 0;
  for (const auto& [metric, values] : r.reps) {
    reps = std::max(reps, static_cast<int>(values.size()));
    for (size_t i = 0; i < values.size(); ++i) {
      auto* s = res.add_samples();
      s->set_repetition(static_cast<int>(i) + 1);
      s->set_metric(metric);
      s->set_value(values[i]);
      s->set_unit(UnitOf(metric));
    }
  }
  for (const auto& [metric, value] : r.once) {
    auto* s = res.add_samples();
    s->set_repetition(0);
    s->set_metric(metric);
    s->set_value(value);
    s->set_unit(UnitOf(metric));
  }
  res.set_reps(reps);
  bool written = false;
  const Status st = ds.WriteResult(spec, res, &written);
  ASSERT_TRUE(st.ok()) << st.ToString();
  ASSERT_TRUE(written);
}

// n values around `center` with relative normal noise.
inline std::vector<double> Noisy(std::mt19937_64& rng, size_t n, double center, double relative_noise) {
  std::normal_distribution<double> normal(0, relative_noise);
  std::vector<double> v(n);
  for (double& x : v) x = center * (1 + normal(rng));
  return v;
}

}  // namespace tlm::testing
