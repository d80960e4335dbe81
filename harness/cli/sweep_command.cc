// `tlmbench sweep`: expand a scenario spec and run it on a farm of agents (or on an in-process local
// agent when none is given), writing every result to the dataset as it arrives.
#include <signal.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <filesystem>

#include "devices/agent/agent_server.h"
#include "engine/common/time_format.h"
#include "harness/cli/commands.h"
#include "harness/cli/model_path.h"
#include "harness/spec/scenario.h"
#include "harness/store/dataset.h"
#include "harness/store/summary.h"
#include "harness/sweep/controller.h"
#include "harness/sweep/farm.h"

namespace tlm {
namespace {

struct SweepFlags {
  std::string spec;
  std::string agents;
  std::string farm;
  std::string out = "results.db";
  std::string store;  // a PostgreSQL URL: the dataset, instead of --out
  std::string resume;
  std::string models_dir;
  std::string local_name;
  std::string auth_token_file, tls_ca, tls_cert, tls_key;
  std::string progress = "auto";
  std::string counter;
  int max_attempts = 3;
  double agent_grace_s = 20;
  bool no_summary = false;
};

std::atomic<bool> g_interrupted{false};

void OnInterrupt(int) {
  if (g_interrupted.exchange(true)) _exit(130);  // a second Ctrl-C: leave now
  const char msg[] = "\n[sweep] Ctrl-C: cancelling the runs in flight (again to quit at once)\n";
  (void)!::write(STDERR_FILENO, msg, sizeof msg - 1);
}

int Fail(const Status& s, int code = kExitBadInput) {
  fmt::print(stderr, "error: {}\n", s.message());
  return code;
}

std::string HostName() {
  char buf[256] = {};
  ::gethostname(buf, sizeof buf - 1);
  return buf;
}

int RunSweepCommand(const SweepFlags& f) {
  if (f.spec.empty() == f.resume.empty())
    return Fail(InvalidArgument("give a SPEC file, or --resume SWEEP_ID to finish an interrupted sweep"));
  if (!f.agents.empty() && !f.farm.empty()) return Fail(InvalidArgument("give --agents or --farm, not both"));
  if (f.max_attempts < 1) return Fail(InvalidArgument("--max-attempts must be at least 1"));

  // The dataset: --store (a PostgreSQL URL), else --out (an SQLite file, or a PostgreSQL URL too).
  const std::string& location = f.store.empty() ? f.out : f.store;
  if (!f.store.empty() && !sql::IsPostgresUrl(f.store))
    return Fail(InvalidArgument("--store takes a postgresql://... URL (an SQLite file goes to --out)"));
  if (const auto parent = std::filesystem::path(f.out).parent_path();
      !parent.empty() && !sql::IsPostgresUrl(location)) {
    std::error_code ec;
    std::filesystem::create_directories(parent, ec);
    if (ec)
      return Fail(InvalidArgument("--out {}: cannot create the folder {}: {}", f.out, parent.string(), ec.message()));
  }
  auto dataset = Dataset::Open(location);
  if (!dataset.ok()) return Fail(dataset.status());
  Dataset& db = **dataset;

  // The spec: from its file, or from the dataset when resuming (the sweep runs as first planned).
  SweepRecord sweep;
  StatusOr<Scenario> scenario = Status(StatusCode::kInternal, "unset");
  if (!f.resume.empty()) {
    auto loaded = db.LoadSweep(f.resume);
    if (!loaded.ok()) return Fail(loaded.status());
    sweep = *loaded;
    scenario = ParseScenario(sweep.spec_text, sweep.spec_path);
  } else {
    scenario = LoadScenario(f.spec);
    sweep.sweep_id = NewSweepId();
    sweep.spec_path = f.spec;
    // --counter becomes part of the spec stored with the sweep, so that --resume and the spec
    // hashes see exactly what ran.
    if (scenario.ok() && !f.counter.empty() && f.counter != "wall") {
      bool has_counter = false;
      for (const auto& r : scenario->runs) has_counter |= !r.counter().empty();
      if (!has_counter) {
        std::string text = scenario->text;
        if (!text.empty() && text.back() != '\n') text += '\n';
        text += "counter: " + f.counter + "  # from tlmbench sweep --counter\n";
        scenario = ParseScenario(text, f.spec);
      } else if (scenario->runs.front().counter() != f.counter) {
        return Fail(InvalidArgument("--counter {} disagrees with the spec's counter: {}", f.counter,
                                    scenario->runs.front().counter()));
      }
    }
  }
  if (!scenario.ok()) return Fail(scenario.status());
  std::vector<tlmbench::v1::RunSpec> runs = scenario->runs;
  AssignRunIds(sweep.sweep_id, &runs);

  // Credentials shared by every --agents entry.
  AgentEndpoint creds;
  if (!f.auth_token_file.empty()) {
    auto t = ReadSecretFile(f.auth_token_file, "--auth-token-file");
    if (!t.ok()) return Fail(t.status());
    creds.auth_token = *t;
  }
  for (auto [path, out, what] : {std::tuple{&f.tls_ca, &creds.tls_ca_pem, "--tls-ca"},
                                 std::tuple{&f.tls_cert, &creds.tls_cert_pem, "--tls-cert"},
                                 std::tuple{&f.tls_key, &creds.tls_key_pem, "--tls-key"}}) {
    if (path->empty()) continue;
    auto pem = ReadSecretFile(*path, what);
    if (!pem.ok()) return Fail(pem.status());
    *out = *pem;
  }

  SweepOptions options;
  options.max_attempts = f.max_attempts;
  options.controller_build = BuildInfoOfThisBinary();
  options.agent_grace_s = f.agent_grace_s;
  using PS = SweepOptions::ProgressStyle;
  options.progress = f.progress == "bar"     ? PS::kBar
                     : f.progress == "lines" ? PS::kLines
                     : f.progress == "quiet" ? PS::kQuiet
                                             : PS::kAuto;

  std::unique_ptr<AgentServer> local;
  std::string agents_desc;
  if (!f.farm.empty()) {
    auto farm = LoadFarm(f.farm);
    if (!farm.ok()) return Fail(farm.status());
    options.agents = *farm;
    agents_desc = "farm " + f.farm;
  } else if (!f.agents.empty()) {
    auto list = ParseAgentList(f.agents, creds);
    if (!list.ok()) return Fail(list.status());
    options.agents = *list;
    agents_desc = "--agents " + f.agents;
  } else {
    // No farm: an agent in this process, on loopback, with the local model cache.
    AgentOptions ao;
    ao.listen = "127.0.0.1:0";
    ao.models_dir = f.models_dir.empty() ? ModelCacheDir() : f.models_dir;
    ao.name = f.local_name;
    ao.build = BuildInfoOfThisBinary();
    ao.log_runs = false;
    auto server = AgentServer::Start(ao);
    if (!server.ok()) return Fail(server.status().WithContext("starting the local agent"));
    local = std::move(*server);
    options.agents.push_back(AgentEndpoint{local->address(), "", "", "", ""});
    agents_desc = "local";
    fmt::print(stderr, "[sweep] no agents given: local agent {} on {} (models: {})\n", local->device().name(),
               local->address(), ao.models_dir);
  }

  sweep.name = scenario->name;
  sweep.spec_text = scenario->text;
  sweep.started_at = sweep.started_at.empty() ? NowIso8601Utc() : sweep.started_at;
  sweep.status = "running";
  sweep.controller_commit = BuildCommit();
  sweep.controller_host = HostName();
  sweep.n_runs = static_cast<int>(runs.size());
  sweep.agents = agents_desc;
  if (Status st = db.BeginSweep(sweep); !st.ok()) return Fail(st, kExitFailure);
  fmt::print(stderr, "[sweep] {} {}: {} runs from {} -> {}\n", f.resume.empty() ? "sweep" : "resuming", sweep.sweep_id,
             runs.size(), sweep.spec_path, db.path());

  struct sigaction sa {};
  sa.sa_handler = OnInterrupt;
  sigemptyset(&sa.sa_mask);
  ::sigaction(SIGINT, &sa, nullptr);
  ::sigaction(SIGTERM, &sa, nullptr);

  auto outcome = RunSweep(runs, db, options, g_interrupted);
  if (local) local->Shutdown();
  if (!outcome.ok()) {
    (void)db.FinishSweep(sweep.sweep_id, "failed", NowIso8601Utc());
    return Fail(outcome.status(), kExitFailure);
  }
  const bool interrupted = outcome->interrupted;
  int not_ok = 0;
  for (const auto& [status, n] : outcome->by_status)
    if (status != "ok") not_ok += n;
  if (Status st = db.FinishSweep(sweep.sweep_id, interrupted ? "interrupted" : "done", NowIso8601Utc()); !st.ok())
    return Fail(st, kExitFailure);

  if (!f.no_summary) {
    auto summary = RenderSweepSummary(db, sweep.sweep_id);
    if (summary.ok())
      std::fputs(summary->c_str(), stdout);
    else
      fmt::print(stderr, "warning: summary: {}\n", summary.status().message());
  }
  std::string counts;
  for (const auto& [status, n] : outcome->by_status)
    counts += fmt::format("{}{} {}", counts.empty() ? "" : ", ", n, status);
  fmt::print(stderr, "[sweep] {} {}: {} written this time{}{} in {:.1f} s; dataset {}\n", sweep.sweep_id,
             interrupted ? "interrupted" : "done", outcome->written, counts.empty() ? "" : " (" + counts + ")",
             outcome->skipped ? fmt::format(", {} already finished", outcome->skipped) : "", outcome->wall_s,
             db.path());
  if (interrupted) {
    fmt::print(stderr, "[sweep] finish it with: tlmbench sweep --resume {} {} {}\n", sweep.sweep_id,
               f.store.empty() ? "--out" : "--store", db.path());
    return 130;
  }
  return not_ok > 0 ? kExitFailure : kExitOk;
}

}  // namespace

void RegisterSweepCommand(CLI::App& app) {
  auto f = std::make_shared<SweepFlags>();
  CLI::App* cmd = app.add_subcommand("sweep", "Run a scenario spec on a farm of agents and write the dataset");
  cmd->footer(
      "With neither --agents nor --farm, an agent is started in this process with the local model cache.\n"
      "Exit status: 0 every run ok; 1 some run failed, crashed, timed out or expired; 2 bad input;\n"
      "130 interrupted (finish with --resume).");
  cmd->add_option("SPEC", f->spec, "Scenario spec (scenarios/*.yaml)");
  cmd->add_option("--agents", f->agents, "Agents to use: host:port,host:port,...");
  cmd->add_option("--farm", f->farm, "Farm file listing agents and their credentials (see docs/farm.md)");
  cmd->add_option("-o,--out", f->out, "Dataset file (SQLite), created if missing")->capture_default_str();
  cmd->add_option("--store", f->store,
                  "Shared dataset on PostgreSQL instead of --out: postgresql://USER:PASSWORD@HOST:PORT/DB "
                  "(schema created if missing; see docs/dataset.md)");
  cmd->add_option("--resume", f->resume,
                  "Finish an interrupted sweep of --out by its id (runs already written are kept)");
  cmd->add_option("--models-dir", f->models_dir, "Models of the local agent (default: the model cache)");
  cmd->add_option("--local-name", f->local_name,
                  "Device name of the local agent in the dataset (default: the host name); a stable name lets "
                  "datasets from different machines be compared");
  cmd->add_option("--auth-token-file", f->auth_token_file, "Token the agents require");
  cmd->add_option("--tls-ca", f->tls_ca, "Reach agents over TLS, trusting this CA (PEM)");
  cmd->add_option("--tls-cert", f->tls_cert, "Client certificate for mutual TLS (PEM)");
  cmd->add_option("--tls-key", f->tls_key, "Key of --tls-cert (PEM)");
  cmd->add_option("--max-attempts", f->max_attempts, "Tries of one run, over all agents")->capture_default_str();
  cmd->add_option("--agent-grace", f->agent_grace_s,
                  "Seconds a lost agent is retried before its runs go elsewhere for good")
      ->capture_default_str();
  cmd->add_option("--progress", f->progress, "auto (a bar on a terminal, lines otherwise), bar, lines, quiet")
      ->check(CLI::IsMember({"auto", "bar", "lines", "quiet"}))
      ->capture_default_str();
  cmd->add_option("--counter", f->counter,
                  "instructions: also count retired instructions per repetition (perf_event_open where the "
                  "device allows it, callgrind otherwise): deterministic figures for per-commit gates")
      ->check(CLI::IsMember({"wall", "instructions"}));
  cmd->add_flag("--no-summary", f->no_summary, "Do not print the summary table at the end");
  cmd->callback([f] { SetCommandAction([f] { return RunSweepCommand(*f); }); });
}

}  // namespace tlm
