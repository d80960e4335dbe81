// The result of `tlmbench run`: configuration, per-repetition timings, memory, with metric names.
#pragma once

#include <chrono>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "engine/common/metric_names.h"
#include "engine/common/time_format.h"  // FormatIso8601Utc for RunResult::timestamp

namespace tlm {

struct RunConfig {
  std::string model_path;
  std::string model_name;
  std::string model_sha256;  // may be empty when not computed
  std::string arch;          // "gemma3", "llama"
  std::string model_type;    // "gemma3 270M Q4_K_M"
  std::string backend;       // "cpu", "xnnpack", "opencl", ...
  std::string device;        // what the backend ran on, in words
  uint64_t model_size_bytes = 0;
  uint64_t model_n_params = 0;
  int threads = 0;
  int n_prompt = 0;
  int n_gen = 0;
  int reps = 0;
  int warmup = 0;
  int n_ctx = 0;
  std::string build_commit;
  std::string cpu_info;  // one line, e.g. CpuInfo::Summary()

  // Facts that only the llama-bench compatible output needs; the defaults say what the engine
  // does today. n_batch/n_ubatch 0 mean "the whole prompt in one chunk" and print as n_prompt.
  int n_batch = 0;
  int n_ubatch = 0;
  std::string type_k = "f32";  // KV cache element types
  std::string type_v = "f32";
  int n_gpu_layers = 0;
  bool use_mmap = true;
};

struct RepetitionResult {
  double load_ms = 0;  // model load happens once per run: the same value in every repetition
  double ttft_ms = 0;  // wall clock from request to first sampled token
  double prefill_tps = 0;
  double decode_tps = 0;
  std::vector<double> itl_ms;  // inter-token latencies, one per decoded token after the first
  double itl_p50_ms = 0;
  double itl_p90_ms = 0;
  double itl_p99_ms = 0;
};

struct MemoryResult {
  uint64_t rss_peak_anon_bytes = 0;
  uint64_t rss_peak_file_bytes = 0;
  uint64_t weights_resident_bytes = 0;
  uint64_t weights_bytes = 0;
  uint64_t embd_resident_bytes = 0;
  uint64_t embd_bytes = 0;
  double embd_resident_frac = 0;
  uint64_t faults_major = 0;  // during the run (a difference of counters, not process totals)
  uint64_t faults_minor = 0;
  uint64_t kv_bytes = 0;
  int context_tokens = 0;
};

struct RunResult {
  RunConfig config;
  double load_ms = 0;
  // Weights repacked at load (BackendLoadInfo): part of load_ms; 0 when nothing was repacked.
  double repack_ms = 0;
  uint64_t repack_bytes = 0;
  // A backend with an on-disk cache (BackendLoadInfo::has_cache): 1 when everything came from it,
  // 0 for a cold start; -1 for a backend without one.
  int program_cache_warm = -1;
  std::vector<RepetitionResult> reps;
  MemoryResult memory;
  std::string timestamp;  // ISO 8601 UTC, "2025-01-31T12:00:00Z"
};

// Fills itl_p50_ms / itl_p90_ms / itl_p99_ms from itl_ms (linear interpolation, see stats.h).
// An empty itl_ms (n_gen <= 1) gives NaN.
void FillItlPercentiles(RepetitionResult& rep);

}  // namespace tlm
