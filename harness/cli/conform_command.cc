// `tlmbench conform`: parses flags, runs the suite once per --backend, prints the tables (progress on
// stderr), writes JUnit XML and dataset rows; exit 0 when every case of every backend passes, 1 on
// failures, 2 on usage errors and unavailable backends.
#include "harness/cli/conform_command.h"

#include <unistd.h>

#include <cstdio>
#include <fstream>
#include <memory>

#include <fmt/format.h>

#include "engine/backend/backend.h"
#include "harness/cli/commands.h"
#include "harness/cli/model_path.h"
#include "harness/conform/conform_suite.h"
#include "harness/store/dataset.h"

namespace tlm {
namespace {

constexpr const char* kDefaultModel = "gemma-3-270m-q4_k_m.gguf";

struct ConformRequest {
  std::vector<std::string> backends;
  std::string model;
  bool no_model = false;
  std::string ops;
  uint64_t seed = 1;
  int threads = 0;
  std::string activations = "f32";
  std::string junit;
  std::string dataset;
  bool list = false;
  bool quick = false;
};

std::string HostName() {
  char buf[256] = {};
  return gethostname(buf, sizeof buf - 1) == 0 ? std::string(buf) : std::string();
}

std::vector<ConformanceRow> Rows(const ConformReport& r, const std::string& run_id) {
  std::vector<ConformanceRow> rows;
  for (const ConformCase& c : r.cases) {
    rows.push_back({.run_id = run_id,
                    .started_at = r.started_at,
                    .build_commit = BuildCommit(),
                    .host = HostName(),
                    .backend = r.backend,
                    .device = r.device,
                    .suite = "conform",
                    .case_name = c.name,
                    .op = c.op,
                    .dtype = c.dtype,
                    .shape = c.shape,
                    .max_abs_err = c.max_abs_err,
                    .nmse = c.nmse,
                    .kld = c.kld,
                    .top1 = c.top1,
                    .ppl_ratio = c.ppl_ratio,
                    .status = c.pass ? "pass" : "fail",
                    .message = c.message,
                    .seconds = c.seconds,
                    .metrics_json = {}});
  }
  return rows;
}

int Conform(const ConformRequest& q) {
  ConformOptions options;
  options.quick = q.quick;
  if (!q.no_model) {
    auto path = ResolveModelPath(q.model.empty() ? kDefaultModel : q.model);
    if (!path.ok()) {
      if (!q.list) {
        fmt::print(stderr, "error: {} (scripts/setup fetches the default model; --no-model runs the per-op cases only)\n",
                   path.status().message());
        return kExitBadInput;
      }
    } else {
      options.model_path = *path;
    }
  }
  if (q.list) {
    for (const std::string& name : ConformCaseNames(options)) fmt::print("{}\n", name);
    return kExitOk;
  }
  if (q.backends.empty()) {
    fmt::print(stderr, "error: conform needs --backend (see tlmbench conform --help)\n");
    return kExitBadInput;
  }
  options.threads = q.threads;
  options.seed = q.seed;
  options.ops_regex = q.ops;
  ParseActivations(q.activations, &options.activations);  // checked by --activations' IsMember
  options.progress = [](const std::string& line) { fmt::print(stderr, "[conform] {}\n", line); };

  std::unique_ptr<Dataset> dataset;
  if (!q.dataset.empty()) {
    auto ds = Dataset::Open(q.dataset);
    if (!ds.ok()) {
      fmt::print(stderr, "error: {}\n", ds.status().message());
      return kExitBadInput;
    }
    dataset = std::move(ds).value();
  }
  std::vector<ConformReport> reports;
  bool unavailable = false, failed = false;
  for (const std::string& backend : q.backends) {
    options.backend = backend;
    auto report = RunConform(options);
    if (!report.ok()) {
      fmt::print(stderr, "error: {}\n", report.status().message());
      if (report.status().code() == StatusCode::kUnavailable || report.status().code() == StatusCode::kInvalidArgument ||
          report.status().code() == StatusCode::kNotFound) {
        unavailable = true;
        continue;
      }
      return kExitFailure;
    }
    const std::string table = FormatConformTable(*report);
    std::fwrite(table.data(), 1, table.size(), stdout);
    std::fflush(stdout);
    failed = failed || !report->pass();
    if (dataset) {
      const std::string run_id = fmt::format("conform-{}-{}-{:08x}", report->started_at, backend,
                                             static_cast<uint32_t>(std::hash<std::string>{}(
                                                 report->started_at + backend + std::to_string(getpid()))));
      if (Status st = dataset->WriteConformance(Rows(*report, run_id)); !st.ok()) {
        fmt::print(stderr, "error: {}\n", st.message());
        return kExitFailure;
      }
      fmt::print(stderr, "[conform] {} rows written to {} (run {})\n", report->cases.size(), dataset->path(), run_id);
    }
    reports.push_back(std::move(report).value());
  }
  if (!q.junit.empty()) {
    std::ofstream f(q.junit, std::ios::binary | std::ios::trunc);
    f << FormatConformJUnit(reports);
    if (!f) {
      fmt::print(stderr, "error: cannot write {}\n", q.junit);
      return kExitBadInput;
    }
  }
  if (q.backends.size() > 1) {
    for (const ConformReport& r : reports)
      fmt::print("{}: {} ({} passed, {} failed)\n", r.backend, r.pass() ? "PASS" : "FAIL", r.passed, r.failed);
  }
  if (unavailable) return kExitBadInput;
  return failed ? kExitFailure : kExitOk;
}

}  // namespace

void RegisterConformCommand(CLI::App& app) {
  auto q = std::make_shared<ConformRequest>();
  CLI::App* cmd = app.add_subcommand(
      "conform",
      "Backend conformance suite: every graph op on random inputs across types and shapes (odd sizes, tails,\n"
      "long contexts through the KV cache), compared with the CPU f32 reference element by element\n"
      "(atol + rtol*|ref|, per type) and by normalized MSE; then the real model end to end over a fixed text\n"
      "(mean KL divergence < 0.01, top-1 agreement >= 98%, perplexity ratio) and 32 greedy tokens of a chat\n"
      "answer (same token ids). Exit 0 when every case passes, 1 on failures, 2 on usage errors or an\n"
      "unavailable backend. See docs/conform.md.");
  cmd->add_option("-b,--backend", q->backends, "Backend to check: cpu, cpu-xnnpack, opencl[:N], vulkan[:N], ... (repeatable)")
      ->allow_extra_args(false);
  CLI::Option* model = cmd->add_option("-m,--model", q->model,
                  "GGUF model for the end-to-end cases: a path, or a file name in the model cache (default "
                  "gemma-3-270m-q4_k_m.gguf)");
  cmd->add_flag("--no-model", q->no_model, "Per-op cases only")->excludes(model);
  cmd->add_option("--ops", q->ops, "Run only the cases whose name matches this regular expression (see --list)");
  cmd->add_option("--seed", q->seed, "Seed of the random inputs and weights")->capture_default_str();
  cmd->add_option("-t,--threads", q->threads, "Threads of both backends (0: all cores)")->capture_default_str();
  cmd->add_option("--activations", q->activations,
                  "Matmul activations asked of the backend under test: f32 (exact), q8 or q8x2 (8-bit, and 8-bit plus "
                  "an 8-bit pass over the residue: the q8 bounds)")
      ->check(CLI::IsMember(ActivationsNames()))
      ->capture_default_str();
  cmd->add_option("--junit", q->junit, "Also write the results as JUnit XML (one testsuite per backend)");
  cmd->add_option("--dataset", q->dataset, "Also write one row per case into this dataset's conformance table");
  cmd->add_flag("--list", q->list, "List the cases and exit");
  cmd->add_flag("--quick", q->quick, "Fewer shapes, shorter contexts and text");
  cmd->callback([q] { SetCommandAction([q] { return Conform(*q); }); });
}

}  // namespace tlm
