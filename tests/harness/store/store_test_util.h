// Shared fixtures of the store tests: a temporary directory and typical run records.
#pragma once

#include <atomic>
#include <filesystem>
#include <string>

#include <fmt/format.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include "harness/store/dataset.h"
#include "tlmbench/v1/run.pb.h"

namespace tlm::testing {

namespace v1 = tlmbench::v1;

// A fresh directory per test, removed afterwards.
class TempDir {
 public:
  TempDir() {
    static std::atomic<int> counter{0};
    path_ =
        std::filesystem::temp_directory_path() / fmt::format("tlm_store_test_{}_{}", ::getpid(), counter.fetch_add(1));
    std::filesystem::remove_all(path_);
    std::filesystem::create_directories(path_);
  }
  ~TempDir() {
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
  }
  std::string File(const std::string& name) const { return (path_ / name).string(); }

 private:
  std::filesystem::path path_;
};

inline SweepRecord MakeSweep(const std::string& id, int n_runs = 2) {
  SweepRecord s;
  s.sweep_id = id;
  s.name = "smoke";
  s.spec_path = "scenarios/smoke.yaml";
  s.spec_text = "name: smoke\nmatrix: {threads: [1, 2]}\n";
  s.started_at = "2025-01-31T12:00:00Z";
  s.status = "running";
  s.controller_commit = "abc123";
  s.controller_host = "ci-host";
  s.n_runs = n_runs;
  s.agents = "local";
  return s;
}

inline v1::RunSpec MakeSpec(const std::string& sweep_id, const std::string& run_id, int threads = 2) {
  v1::RunSpec spec;
  spec.set_run_id(run_id);
  spec.set_sweep_id(sweep_id);
  spec.set_scenario("smoke");
  spec.set_source("scenarios/smoke.yaml:3");
  spec.set_spec_hash("hash-" + run_id);
  spec.set_workload("generate");
  spec.set_model("gemma-3-270m-q4_k_m.gguf");
  spec.set_backend("cpu");
  spec.set_threads(threads);
  spec.set_n_prompt(64);
  spec.set_n_gen(16);
  spec.set_activations("f32");
  spec.set_attempt(1);
  spec.mutable_measurement()->set_min_reps(3);
  return spec;
}

// An OK result with `reps` repetitions of ttft_ms, prefill_tps and decode_tps plus load_ms and
// weights_bytes at repetition 0: 3 * reps + 2 samples.
inline v1::RunResult MakeResult(const v1::RunSpec& spec, int reps = 3, double decode_base = 40.0) {
  v1::RunResult r;
  r.set_run_id(spec.run_id());
  r.set_status(v1::OK);
  r.set_verdict(v1::VALID);
  r.set_verdict_reason("cv 0.01 below 0.05");
  r.set_model_sha256("feedbeef");
  r.set_model_description("gemma3 270M Q4_K_M");
  r.set_backend_device("x86_64 AVX2, 2 threads");
  r.set_threads(spec.threads());
  r.set_queue_ms(1.5);
  r.set_started_at("2025-01-31T12:00:01Z");
  r.set_finished_at("2025-01-31T12:00:09Z");
  r.mutable_build()->set_git_commit("agentcommit");
  r.mutable_build()->set_commit_time("2025-01-30T10:00:00Z");
  r.set_agent("edge-1");
  r.set_reps(reps);
  r.set_worker_wall_ms(8000);
  r.mutable_hygiene()->set_load_avg_1m_before(0.25);
  r.mutable_hygiene()->set_cpu_freq_mhz_before(2400);
  r.mutable_hygiene()->set_primary_cv(0.01);
  auto add = [&r](int rep, const char* metric, double value, const char* unit) {
    v1::Sample* s = r.add_samples();
    s->set_repetition(rep);
    s->set_metric(metric);
    s->set_value(value);
    s->set_unit(unit);
  };
  add(0, "load_ms", 120.5, "ms");
  add(0, "weights_bytes", 253000000, "bytes");
  for (int i = 1; i <= reps; ++i) {
    add(i, "ttft_ms", 100 + i, "ms");
    add(i, "prefill_tps", 600 + i, "tokens/s");
    add(i, "decode_tps", decode_base + i, "tokens/s");
  }
  return r;
}

inline v1::DeviceInfo MakeDevice(const std::string& name, const std::string& cpu_model) {
  v1::DeviceInfo d;
  d.set_name(name);
  d.set_hostname(name + ".lan");
  (*d.mutable_labels())["board"] = "rpi5";
  d.mutable_cpu()->set_model(cpu_model);
  d.mutable_cpu()->set_logical_cpus(4);
  d.set_memory_bytes(8ull << 30);
  v1::ModelFile* m = d.add_models();
  m->set_name("gemma-3-270m-q4_k_m.gguf");
  m->set_size_bytes(253000000);
  return d;
}

}  // namespace tlm::testing
