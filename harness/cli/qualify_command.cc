// `tlmbench qualify`: parses flags, resolves the model, runs the suite, prints the table, writes JUnit XML
// and dataset rows; exit 0 on PASS, 1 on FAIL, 2 on usage errors.
#include "harness/cli/qualify_command.h"

#include <cstdio>
#include <fstream>
#include <memory>
#include <tuple>

#include <fmt/format.h>

#include "harness/cli/commands.h"
#include "harness/cli/model_path.h"
#include "harness/qualify/qualify_html.h"
#include "harness/qualify/qualify_remote.h"
#include "harness/qualify/qualify_suite.h"
#include "harness/store/dataset.h"
#include "harness/sweep/farm.h"
#include "kernels/npu/loader/plugin_loader.h"

namespace tlm {

namespace {
constexpr const char* kDefaultModel = "gemma-3-270m-q4_k_m.gguf";  // as `tlmbench conform`
}  // namespace

void RegisterQualifyCommand(CLI::App& app) {
  struct Request {
    QualifyOptions options;
    std::string junit_path;
    std::string html_path;
    std::string model;
    bool no_model = false;
    std::string dataset;
    bool list = false;
    std::string agent, auth_token_file, tls_ca, tls_cert, tls_key;
  };
  auto r = std::make_shared<Request>();
  CLI::App* cmd = app.add_subcommand(
      "qualify",
      "Qualify an NPU vendor plugin on one SoC: ABI conformance (version negotiation, NULL and invalid arguments,\n"
      "corrupt and foreign blobs, double destroy, calls out of order), per-op accuracy against the CPU reference\n"
      "(exact, quantized-bucket, float accumulation-aware), determinism, and latency per op and per token (wall\n"
      "and modelled), and end to end: the model (--model, default gemma-3-270m-q4_k_m.gguf when it is in the\n"
      "model cache) through the npu backend against the CPU f32 reference (mean KLD < 0.02, top-1 >= 90%).\n"
      "Every check runs in its own worker process: a crash or hang fails that check only.\n"
      "With --agent HOST:PORT the suite runs on that agent's device with the plugin from the agent's --plugin-dir\n"
      "(and --model a file in its --models-dir); the table, JUnit and dataset rows are written here.\n"
      "Exit 0 when every check passes, 1 on any failure, 2 on usage errors. See docs/npu.md.");
  cmd->add_option("--plugin", r->options.plugin, "Plugin name (vnpu = <plugin-dir>/tlm_npu_vnpu.so) or file in the plugin folder");
  cmd->add_option("--soc", r->options.soc, "SoC to compile for and run on (vnpu: vnpu-small, vnpu-large)");
  cmd->add_option("--plugin-dir", r->options.plugin_dir,
                  "The allowlisted plugin folder (default $TLMBENCH_PLUGIN_DIR, else <bin>/../plugins; with --agent, "
                  "the agent's own --plugin-dir)");
  cmd->add_option("--junit", r->junit_path, "Also write the result as JUnit XML to this file");
  cmd->add_option("--html", r->html_path,
                  "Also write the report as one self-contained HTML page (verdict, failed checks, every check and "
                  "measurement) to this file");
  cmd->add_option("-m,--model", r->model,
                  "GGUF model for model.end_to_end (a path or a name in the model cache; default " +
                      std::string(kDefaultModel) + ", the check is skipped when it is not there; with --agent, a "
                      "file in the agent's --models-dir)");
  cmd->add_flag("--no-model", r->no_model, "Skip model.end_to_end");
  cmd->add_option("--model-tokens", r->options.model_tokens,
                  "model.end_to_end: tokens of the fixed text (0: all of it, at most 512)")
      ->check(CLI::NonNegativeNumber)
      ->capture_default_str();
  cmd->add_option("--model-timeout", r->options.model_timeout_s, "Seconds model.end_to_end may take")
      ->check(CLI::PositiveNumber)
      ->capture_default_str();
  cmd->add_option("-t,--threads", r->options.threads, "model.end_to_end: CPU threads of both backends (0: all)")
      ->check(CLI::NonNegativeNumber)
      ->capture_default_str();
  cmd->add_option("--dataset", r->dataset,
                  "Write one row per check into this dataset's conformance table (suite 'qualify'; an SQLite file "
                  "or a postgresql:// URL)");
  cmd->add_option("--timeout", r->options.timeout_s, "Seconds a check may take before it counts as hung")
      ->check(CLI::PositiveNumber)
      ->capture_default_str();
  cmd->add_option("--repeats", r->options.repeats, "Determinism: fresh runs to compare")
      ->check(CLI::Range(2, 1000))
      ->capture_default_str();
  cmd->add_option("--only", r->options.only, "Run only checks whose name starts with this (repeatable)")
      ->allow_extra_args(false);
  cmd->add_flag("--list", r->list, "List the checks and exit");
  cmd->add_option("--agent", r->agent,
                  "Qualify on this agent's device (host:port of `tlmbench agent`), with the plugin of its plugin "
                  "folder and --model a file in its models folder; exit 2 when it cannot be reached or refuses");
  cmd->add_option("--auth-token-file", r->auth_token_file, "--agent: the token the agent requires");
  cmd->add_option("--tls-ca", r->tls_ca, "--agent: reach it over TLS, trusting this CA (PEM)");
  cmd->add_option("--tls-cert", r->tls_cert, "--agent: client certificate for mutual TLS (PEM)");
  cmd->add_option("--tls-key", r->tls_key, "--agent: key of --tls-cert (PEM)");
  cmd->callback([r] {
    SetCommandAction([r] {
      if (r->list) {
        for (const std::string& name : QualifyCheckNames()) fmt::print("{}\n", name);
        return kExitOk;
      }
      if (r->options.plugin.empty() || r->options.soc.empty()) {
        fmt::print(stderr, "error: qualify needs --plugin and --soc (see tlmbench qualify --help)\n");
        return kExitBadInput;
      }
      if (!r->model.empty() && r->no_model) {
        fmt::print(stderr, "error: --model and --no-model contradict each other\n");
        return kExitBadInput;
      }
      const bool remote = !r->agent.empty();
      AgentEndpoint endpoint;
      std::string remote_model;  // a file in the agent's models folder
      if (remote) {
        if (!r->options.plugin_dir.empty()) {
          fmt::print(stderr, "error: --plugin-dir is the agent's own with --agent (tlmbench agent --plugin-dir)\n");
          return kExitBadInput;
        }
        endpoint.address = r->agent;
        if (!r->auth_token_file.empty()) {
          auto t = ReadSecretFile(r->auth_token_file, "--auth-token-file");
          if (!t.ok()) {
            fmt::print(stderr, "error: {}\n", t.status().message());
            return kExitBadInput;
          }
          endpoint.auth_token = *t;
        }
        for (auto [path, out, what] : {std::tuple{&r->tls_ca, &endpoint.tls_ca_pem, "--tls-ca"},
                                       std::tuple{&r->tls_cert, &endpoint.tls_cert_pem, "--tls-cert"},
                                       std::tuple{&r->tls_key, &endpoint.tls_key_pem, "--tls-key"}}) {
          if (path->empty()) continue;
          auto pem = ReadSecretFile(*path, what);
          if (!pem.ok()) {
            fmt::print(stderr, "error: {}\n", pem.status().message());
            return kExitBadInput;
          }
          *out = *pem;
        }
      } else if (!r->auth_token_file.empty() || !r->tls_ca.empty() || !r->tls_cert.empty() || !r->tls_key.empty()) {
        fmt::print(stderr, "error: --auth-token-file and --tls-* go with --agent\n");
        return kExitBadInput;
      }
      if (!remote && r->options.plugin_dir.empty()) r->options.plugin_dir = DefaultNpuPluginDir();
      if (remote && !r->no_model) {
        if (!r->model.empty()) {
          remote_model = r->model;  // the agent refuses it when it is not in its models folder
        } else {  // the default, when the agent has it; else model.end_to_end is skipped
          auto info = GetAgentDeviceInfo(endpoint);
          if (!info.ok()) {
            fmt::print(stderr, "error: {}\n", info.status().message());
            return kExitBadInput;
          }
          for (const auto& m : info->models())
            if (m.name() == kDefaultModel) remote_model = kDefaultModel;
        }
      }
      if (!remote && !r->no_model) {
        auto path = ResolveModelPath(r->model.empty() ? kDefaultModel : r->model);
        if (path.ok()) {
          r->options.model_path = *path;
        } else if (!r->model.empty()) {  // asked for: a usage error; the default missing: the check is skipped
          fmt::print(stderr, "error: {}\n", path.status().message());
          return kExitBadInput;
        }
      }
      std::unique_ptr<Dataset> dataset;
      if (!r->dataset.empty()) {  // opened first: a bad dataset is a usage error before minutes of checks
        auto ds = Dataset::Open(r->dataset);
        if (!ds.ok()) {
          fmt::print(stderr, "error: {}\n", ds.status().message());
          return kExitBadInput;
        }
        dataset = std::move(ds).value();
      }
      QualifyReport report;
      if (remote) {
        auto rep = RunQualifyOnAgent(endpoint, r->options, remote_model, BuildInfoOfThisBinary(),
                                     [](const std::string& line) { fmt::print(stderr, "[qualify] {}\n", line); });
        if (!rep.ok()) {
          fmt::print(stderr, "error: {}\n", rep.status().message());
          return kExitBadInput;
        }
        report = std::move(rep).value();
      } else {
        report = RunQualify(r->options);
      }
      const std::string table = FormatQualifyTable(report);
      std::fwrite(table.data(), 1, table.size(), stdout);
      std::fflush(stdout);
      if (!r->junit_path.empty()) {
        std::ofstream f(r->junit_path, std::ios::binary | std::ios::trunc);
        f << FormatQualifyJUnit(report);
        if (!f) {
          fmt::print(stderr, "error: cannot write {}\n", r->junit_path);
          return kExitBadInput;
        }
      }
      if (!r->html_path.empty()) {
        std::ofstream f(r->html_path, std::ios::binary | std::ios::trunc);
        f << FormatQualifyHtml(report);
        if (!f) {
          fmt::print(stderr, "error: cannot write {}\n", r->html_path);
          return kExitBadInput;
        }
      }
      if (dataset) {
        const std::string run_id = QualifyRunId(report);
        if (Status st = dataset->WriteConformance(QualifyConformanceRows(report, run_id)); !st.ok()) {
          fmt::print(stderr, "error: {}\n", st.message());
          return kExitFailure;
        }
        fmt::print(stderr, "[qualify] {} rows written to {} (run {})\n", report.checks.size(), dataset->path(), run_id);
      }
      return report.pass() ? kExitOk : kExitFailure;
    });
  });
}

}  // namespace tlm
