// `tlmbench run`: a local benchmark of one model on one backend of this device. Loads the model,
// opens a session, warms up, then for each repetition prefills a prompt and decodes tokens,
// recording TTFT, prefill and decode tokens/s and inter-token latencies, plus memory facts.
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <thread>
#include <vector>

#include "devices/probe/cpu_info.h"
#include "devices/probe/memory.h"
#include "engine/backend/backend.h"
#include "engine/common/sha256.h"
#include "engine/model/model.h"
#include "engine/session/random_prompt.h"
#include "engine/session/sampler.h"
#include "engine/session/session.h"
#include "harness/cli/commands.h"
#include "harness/cli/compile_command.h"
#include "harness/cli/model_path.h"
#include "harness/run/report.h"
#include "harness/run/run_result.h"

namespace tlm {
namespace {

using Clock = std::chrono::steady_clock;
double MsBetween(Clock::time_point a, Clock::time_point b) {
  return std::chrono::duration<double, std::milli>(b - a).count();
}

struct RunOptions {
  std::string model;
  std::string backend = "cpu";
  int threads = 0;
  int n_prompt = 512;
  int n_gen = 128;
  int reps = 5;
  int warmup = 1;
  int n_ctx = 0;
  uint64_t seed = 42;
  std::string format = "table";
  std::string activations = "f32";
  bool json = false, csv = false, llama_json = false, llama_md = false;
  bool quiet = false;
  bool pin = false;
  bool profile_ops = false;
  NpuBackendOptions npu;  // --backend npu
};

// --profile-ops: the backend's step times over the measured repetitions, by op, on stderr
// (whatever --quiet says: they were asked for); one table for steps of several tokens (prefill),
// one for steps of one token (decode, and a one-token prompt).
void PrintOpProfile(const Backend& backend, int reps) {
  const std::vector<OpTime> ops = backend.op_profile();
  if (ops.empty()) {
    fmt::print(stderr, "[run] --profile-ops: the {} backend does not time its steps\n", backend.name());
    return;
  }
  for (const bool one_token : {false, true}) {
    std::vector<OpTime> rows;
    double total = 0;
    for (const OpTime& t : ops) {
      if (t.one_token != one_token) continue;
      rows.push_back(t);
      total += t.ms;
    }
    if (rows.empty()) continue;
    std::stable_sort(rows.begin(), rows.end(), [](const OpTime& a, const OpTime& b) { return a.ms > b.ms; });
    fmt::print(stderr, "[run] step times by op over {} repetition(s), steps of {}:\n", reps,
               one_token ? "one token (decode)" : "several tokens (prefill)");
    fmt::print(stderr, "[run]   {:<40} {:>8} {:>10} {:>10} {:>7}\n", "op", "calls", "ms", "us/call", "share");
    for (const OpTime& t : rows)
      fmt::print(stderr, "[run]   {:<40} {:>8} {:>10.2f} {:>10.2f} {:>6.1f}%\n", t.op, t.calls, t.ms,
                 1000.0 * t.ms / static_cast<double>(t.calls), total > 0 ? 100.0 * t.ms / total : 0.0);
    fmt::print(stderr, "[run]   {:<40} {:>8} {:>10.2f}\n", "all steps", "", total);
  }
}

class Progress {
 public:
  explicit Progress(bool quiet) : quiet_(quiet) {}
  template <typename... Args>
  void Say(fmt::format_string<Args...> f, Args&&... args) {
    if (quiet_) return;
    fmt::print(stderr, "[run] {}\n", fmt::format(f, std::forward<Args>(args)...));
    std::fflush(stderr);
  }

 private:
  bool quiet_;
};

int Fail(const Status& s) {
  fmt::print(stderr, "error: {}\n", s.message());
  const bool bad_input = s.code() == StatusCode::kInvalidArgument || s.code() == StatusCode::kNotFound ||
                         s.code() == StatusCode::kDataLoss || s.code() == StatusCode::kUnimplemented ||
                         s.code() == StatusCode::kUnavailable;
  return bad_input ? kExitBadInput : kExitFailure;
}

int RunBenchmark(const RunOptions& o) {
  if (o.n_prompt < 1) return Fail(InvalidArgument("-p/--prompt-tokens must be at least 1, got {}", o.n_prompt));
  if (o.n_gen < 0) return Fail(InvalidArgument("-n/--gen-tokens must be 0 or more, got {}", o.n_gen));
  if (o.reps < 1) return Fail(InvalidArgument("--reps must be at least 1, got {}", o.reps));
  if (o.warmup < 0) return Fail(InvalidArgument("--warmup must be 0 or more, got {}", o.warmup));
  int n_formats = o.json + o.csv + o.llama_json + o.llama_md;
  if (n_formats > 1) return Fail(InvalidArgument("choose one of --json, --csv, --llama-bench-json, --llama-bench-md"));
  ReportFormat format = ReportFormat::kTable;
  if (o.json) format = ReportFormat::kJson;
  if (o.csv) format = ReportFormat::kCsv;
  if (o.llama_json) format = ReportFormat::kLlamaBenchJson;
  if (o.llama_md) format = ReportFormat::kLlamaBenchMarkdown;
  if (n_formats == 0) {
    auto f = ParseReportFormat(o.format);
    if (!f.ok()) return Fail(f.status());
    format = *f;
  }
  Progress progress(o.quiet);

  auto path = ResolveModelPath(o.model);
  if (!path.ok()) return Fail(path.status());
  const int threads = o.threads > 0 ? o.threads : static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));

  PeakMemoryTracker tracker;
  auto faults0 = ReadMemorySnapshot();
  if (!faults0.ok()) return Fail(faults0.status());
  if (Status st = tracker.Start(); !st.ok()) return Fail(st);

  progress.Say("loading {}", *path);
  const auto t_load = Clock::now();
  auto model = Model::Load(*path);
  if (!model.ok()) return Fail(model.status());
  const int n_ctx = o.n_ctx > 0 ? o.n_ctx : o.n_prompt + o.n_gen;
  SessionOptions so;
  so.backend = o.backend;
  so.threads = threads;
  so.n_ctx = n_ctx;
  so.prefill_chunk = std::min(o.n_prompt, 512);
  ParseActivations(o.activations, &so.activations);  // checked by --activations' IsMember
  so.pin_threads = o.pin;
  so.profile_ops = o.profile_ops;
  so.npu = o.npu;
  auto session = Session::Create(**model, so);
  if (!session.ok()) return Fail(session.status());
  const double load_ms = MsBetween(t_load, Clock::now());
  Session& s = **session;
  if (o.n_prompt + o.n_gen > s.n_ctx())
    return Fail(
        InvalidArgument("-p {} plus -n {} exceed the context of {} (raise --ctx)", o.n_prompt, o.n_gen, s.n_ctx()));
  progress.Say("loaded {} in {:.0f} ms; backend {}", (*model)->description(), load_ms,
               s.backend().device_description());
  const BackendLoadInfo load_info = s.backend().load_info();
  if (load_info.repack_bytes > 0)
    progress.Say("repacked {:.1f} MiB of weights ({}) in {:.0f} ms", load_info.repack_bytes / 1048576.0,
                 load_info.repack_layouts, load_info.repack_ms);

  const std::vector<int32_t> prompt = MakeRandomPrompt((*model)->tokenizer(), o.n_prompt, o.seed);
  Sampler sampler(SamplerConfig{}, static_cast<int32_t>(s.n_vocab()));
  std::vector<float> logits;

  RunResult result;
  result.load_ms = load_ms;
  result.repack_ms = load_info.repack_ms;
  result.repack_bytes = load_info.repack_bytes;
  if (load_info.has_cache) {
    result.program_cache_warm = load_info.cache_warm ? 1 : 0;
    progress.Say("cache {}: {}", load_info.cache_path, load_info.cache_warm ? "warm" : "cold");
  }
  for (int rep = -o.warmup; rep < o.reps; ++rep) {
    const bool warm = rep < 0;
    progress.Say("{} {}/{}: prefill {} tokens, decode {}", warm ? "warm-up" : "repetition",
                 (warm ? rep + o.warmup : rep) + 1, warm ? o.warmup : o.reps, o.n_prompt, o.n_gen);
    if (rep == 0) s.ClearOpProfile();  // the profile covers the measured repetitions
    s.Reset();
    sampler.Reset();
    RepetitionResult r;
    r.load_ms = load_ms;
    const auto t0 = Clock::now();
    if (Status st = s.Prefill(prompt, &logits); !st.ok()) return Fail(st);
    int32_t token = sampler.Sample(logits);
    const auto t_first = Clock::now();
    r.ttft_ms = MsBetween(t0, t_first);
    r.prefill_tps = o.n_prompt / (r.ttft_ms / 1000.0);
    auto t_prev = t_first;
    for (int i = 0; i < o.n_gen; ++i) {
      if (Status st = s.Decode(token, &logits); !st.ok()) return Fail(st);
      token = sampler.Sample(logits);
      const auto t = Clock::now();
      r.itl_ms.push_back(MsBetween(t_prev, t));
      t_prev = t;
    }
    const double decode_ms = MsBetween(t_first, t_prev);
    r.decode_tps = o.n_gen > 0 ? o.n_gen / (decode_ms / 1000.0) : 0;
    FillItlPercentiles(r);
    if (!warm) {
      progress.Say("  ttft {:.1f} ms, prefill {:.2f} t/s, decode {:.2f} t/s", r.ttft_ms, r.prefill_tps, r.decode_tps);
      result.reps.push_back(std::move(r));
    }
  }
  if (Status st = tracker.Stop(); !st.ok()) progress.Say("warning: memory sampling: {}", st.message());
  for (const BackendMetric& b : s.backend().metrics()) progress.Say("{} {} {}", b.name, b.value, b.unit);
  if (o.profile_ops) PrintOpProfile(s.backend(), o.reps);

  const Model& m = **model;
  RunConfig& c = result.config;
  c.model_path = *path;
  c.model_name = std::filesystem::path(*path).filename().string();
  c.arch = m.config().arch;
  c.model_type = m.description();
  c.backend = s.backend().name();
  c.device = s.backend().device_description();
  c.model_size_bytes = m.weights_bytes();
  c.model_n_params = m.n_params();
  c.threads = threads;
  c.n_prompt = o.n_prompt;
  c.n_gen = o.n_gen;
  c.reps = o.reps;
  c.warmup = o.warmup;
  c.n_ctx = static_cast<int>(s.n_ctx());
  c.n_batch = static_cast<int>(so.prefill_chunk);
  c.n_ubatch = static_cast<int>(so.prefill_chunk);
  c.build_commit = BuildCommit();
  if (auto cpu = ProbeCpuInfo(); cpu.ok()) c.cpu_info = cpu->Summary();

  MemoryResult& mem = result.memory;
  const MemoryPeaks peaks = tracker.Peaks();
  mem.rss_peak_anon_bytes = peaks.rss_peak_anon_bytes;
  mem.rss_peak_file_bytes = peaks.rss_peak_file_bytes;
  for (const GgufTensor& t : m.file().tensors()) {
    mem.weights_bytes += t.bytes;
    auto resident = ResidentBytes(t.data, t.bytes);
    if (!resident.ok()) return Fail(resident.status().WithContext(t.name));
    mem.weights_resident_bytes += *resident;
  }
  if (const GgufTensor* embd = m.file().FindTensor("token_embd.weight")) {
    mem.embd_bytes = embd->bytes;
    auto resident = ResidentBytes(embd->data, embd->bytes);
    if (!resident.ok()) return Fail(resident.status().WithContext(embd->name));
    mem.embd_resident_bytes = *resident;
    mem.embd_resident_frac = embd->bytes ? static_cast<double>(mem.embd_resident_bytes) / embd->bytes : 0;
  }
  if (auto faults1 = ReadMemorySnapshot(); faults1.ok()) {
    mem.faults_major = faults1->faults_major - faults0->faults_major;
    mem.faults_minor = faults1->faults_minor - faults0->faults_minor;
  }
  // After the residency readings: hashing reads every page of the file.
  c.model_sha256 = Sha256Hex(m.file().base(), m.file().size());
  mem.kv_bytes = s.kv_bytes();
  mem.context_tokens = static_cast<int>(s.n_ctx());
  result.timestamp = FormatIso8601Utc(std::chrono::system_clock::now());

  const std::string out = RenderReport(result, format);
  std::fwrite(out.data(), 1, out.size(), stdout);
  return kExitOk;
}

}  // namespace

void RegisterRunCommand(CLI::App& app) {
  auto o = std::make_shared<RunOptions>();
  CLI::App* cmd = app.add_subcommand("run", "Benchmark one model on one backend of this device");
  cmd->add_option("-m,--model", o->model,
                  "GGUF model: a path, or a file name in the model cache ($TLMBENCH_MODELS, "
                  "default ~/.cache/tlmbench/models)")
      ->required();
  cmd->add_option("-b,--backend", o->backend,
                  "Backend: cpu (hand-tuned kernels), cpu-xnnpack[:cache] (matmuls through XNNPACK, f32; :cache keeps "
                  "the dequantized weights on disk), opencl[:N or :name] "
                  "(OpenCL C kernels, docs/opencl.md), vulkan[:N or :name] "
                  "(Vulkan compute shaders, docs/vulkan.md) or npu (an NPU plugin "
                  "runs the matmuls it took, see --plugin/--artifact; the CPU the rest)")
      ->capture_default_str();
  cmd->add_option("--activations", o->activations,
                  "Matmul activations against quantized weights: f32 (exact reference), q8 (8-bit, as llama.cpp; the "
                  "cpu backend then copies its matmul weights into huge pages at load, repack_ms / repack_bytes, "
                  "TLM_CPU_WEIGHTS=mapped to keep them mapped: docs/engine.md) or q8x2 (q8 plus a second 8-bit pass "
                  "over the rounding residue: about 15-bit activations, twice the integer work)")
      ->check(CLI::IsMember(ActivationsNames()))
      ->capture_default_str();
  cmd->add_option("-t,--threads", o->threads, "Worker threads (0: all cores)")->capture_default_str();
  cmd->add_flag("--pin", o->pin, "Bind each worker thread to one CPU (in the order this process may use them)");
  cmd->add_flag(
      "--profile-ops", o->profile_ops,
      "Time every step of the graph and print, on stderr, where the measured repetitions went, by op "
      "(prefill and decode apart; matmuls by weight type): cpu, cpu-xnnpack and npu (their graph steps run on "
      "the cpu backend's executable)");
  cmd->add_option("-p,--prompt-tokens", o->n_prompt, "Prompt tokens to prefill")->capture_default_str();
  cmd->add_option("-n,--gen-tokens", o->n_gen, "Tokens to decode after the prompt")->capture_default_str();
  cmd->add_option("-r,--reps", o->reps, "Measured repetitions")->capture_default_str();
  cmd->add_option("--warmup", o->warmup, "Unmeasured warm-up repetitions")->capture_default_str();
  cmd->add_option("-c,--ctx", o->n_ctx, "Context size in tokens (0: prompt + generated)")->capture_default_str();
  cmd->add_option("--seed", o->seed, "Seed of the random prompt tokens")->capture_default_str();
  cmd->add_option("-o,--output", o->format, "Output: table, json, csv, llama-bench-json, llama-bench-md")
      ->capture_default_str();
  cmd->add_flag("--json", o->json, "Same as -o json");
  cmd->add_flag("--csv", o->csv, "Same as -o csv");
  cmd->add_flag("--llama-bench-json", o->llama_json, "Same as -o llama-bench-json");
  cmd->add_flag("--llama-bench-md", o->llama_md, "Same as -o llama-bench-md");
  cmd->add_flag("-q,--quiet", o->quiet, "No progress lines on stderr");
  AddNpuBackendOptions(cmd, &o->npu);
  cmd->callback([o] { SetCommandAction([o] { return RunBenchmark(*o); }); });
}

}  // namespace tlm
