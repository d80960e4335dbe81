// `tlmbench agent`: serve this device to sweep controllers over gRPC; and the hidden `tlmbench
// worker` that the agent starts, one process per run.
#include <signal.h>
#include <sys/prctl.h>
#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <thread>

#include <fmt/ranges.h>
#include <nlohmann/json.hpp>

#include "devices/agent/agent_server.h"
#include "devices/probe/device_info.h"
#include "devices/worker/worker.h"
#include "harness/cli/commands.h"
#include "harness/cli/model_path.h"
#include "harness/qualify/qualify_remote.h"
#include "kernels/npu/loader/plugin_loader.h"

namespace tlm {
namespace {

struct AgentFlags {
  std::string listen = "127.0.0.1:50051";
  std::string models_dir;
  std::string name;
  std::string labels;
  std::string auth_token_file;
  std::string tls_cert, tls_key, tls_ca;
  std::string plugin_dir;
  std::string port_file;
  double default_timeout_s = 900;
  bool null_in_process = false;
  bool quiet = false;
};

int Fail(const Status& s) {
  fmt::print(stderr, "error: {}\n", s.message());
  return kExitBadInput;
}

StatusOr<std::string> ReadTextFile(const std::string& path, std::string_view what) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return NotFound("cannot read {} {}", what, path);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

int RunAgent(const AgentFlags& f) {
  AgentOptions o;
  o.listen = f.listen;
  o.models_dir = f.models_dir.empty() ? ModelCacheDir() : f.models_dir;
  o.name = f.name;
  if (!f.labels.empty()) {
    auto labels = ParseLabels(f.labels);
    if (!labels.ok()) return Fail(labels.status().WithContext("--labels"));
    o.labels = *labels;
  }
  if (!f.auth_token_file.empty()) {
    auto token = ReadTextFile(f.auth_token_file, "--auth-token-file");
    if (!token.ok()) return Fail(token.status());
    std::string t = *token;
    while (!t.empty() && (t.back() == '\n' || t.back() == '\r' || t.back() == ' ')) t.pop_back();
    if (t.empty()) return Fail(InvalidArgument("--auth-token-file {} is empty", f.auth_token_file));
    o.auth_token = t;
  }
  for (auto [path, out, what] :
       {std::tuple{&f.tls_cert, &o.tls_cert_pem, "--tls-cert"}, std::tuple{&f.tls_key, &o.tls_key_pem, "--tls-key"},
        std::tuple{&f.tls_ca, &o.tls_client_ca_pem, "--tls-ca"}}) {
    if (path->empty()) continue;
    auto pem = ReadTextFile(*path, what);
    if (!pem.ok()) return Fail(pem.status());
    *out = *pem;
  }
  if (!o.tls_client_ca_pem.empty() && o.tls_cert_pem.empty())
    return Fail(InvalidArgument("--tls-ca needs --tls-cert and --tls-key (mutual TLS)"));
  o.npu_plugin_dir = f.plugin_dir.empty() ? DefaultNpuPluginDir() : f.plugin_dir;
  o.default_timeout_s = f.default_timeout_s;
  o.null_in_process = f.null_in_process;
  o.log_runs = !f.quiet;
  o.build = BuildInfoOfThisBinary();

  // SIGINT/SIGTERM end the agent cleanly: block them here, before gRPC starts its threads, and
  // wait for them on a thread of our own.
  sigset_t stop;
  sigemptyset(&stop);
  sigaddset(&stop, SIGINT);
  sigaddset(&stop, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &stop, nullptr);

  auto server = AgentServer::Start(o);
  if (!server.ok()) return Fail(server.status());
  const auto& dev = (*server)->device();
  int available = 0;
  for (const auto& b : dev.backends()) available += b.available();
  fmt::print(stdout, "[agent {}] listening on {} (models: {}, {} models, {} backends available{})\n", dev.name(),
             (*server)->address(), o.models_dir, dev.models_size(), available,
             o.auth_token.empty() && o.tls_cert_pem.empty() ? ", no authentication" : "");
  for (const auto& p : dev.npu_plugins()) {
    const std::string file = std::filesystem::path(p.path()).filename().string();
    if (p.error().empty())
      fmt::print(stdout, "[agent {}] npu plugin {}: {} {}, SoCs {}\n", dev.name(), file, p.vendor(), p.version(),
                 fmt::join(p.socs(), ", "));
    else
      fmt::print(stdout, "[agent {}] npu plugin {}: unusable: {}\n", dev.name(), file, p.error());
  }
  std::fflush(stdout);
  if (!f.port_file.empty()) {
    std::ofstream(f.port_file) << (*server)->port() << "\n";
  }
  std::thread waiter([&] {
    int sig = 0;
    sigwait(&stop, &sig);
    fmt::print(stderr, "[agent {}] {}: shutting down\n", dev.name(), sig == SIGINT ? "SIGINT" : "SIGTERM");
    (*server)->Shutdown();
  });
  (*server)->Wait();
  waiter.join();
  return kExitOk;
}

int RunWorker(int event_fd, const std::string& model_path) {
  // The worker dies with its agent, whatever kills the agent.
  ::prctl(PR_SET_PDEATHSIG, SIGKILL);
  if (::getppid() == 1) return kExitFailure;
  RegisterQualifyWorkload();  // harness/qualify's workload, injected: devices/ does not depend on harness/
  return RunWorkerProcess(event_fd, model_path);
}

}  // namespace

void RegisterAgentCommand(CLI::App& app) {
  auto f = std::make_shared<AgentFlags>();
  CLI::App* cmd = app.add_subcommand("agent", "Serve this device to sweep controllers over gRPC (tlmbench.v1.Agent)");
  cmd->add_option("--listen", f->listen, "Address to listen on, host:port (port 0 picks a free one)")
      ->capture_default_str();
  cmd->add_option("--models-dir", f->models_dir,
                  "Folder of GGUF models; specs name files in it and cannot leave it (default: the model cache, "
                  "$TLMBENCH_MODELS or ~/.cache/tlmbench/models)");
  cmd->add_option("--name", f->name, "Name of this device in the dataset (default: the host name)");
  cmd->add_option("--labels", f->labels, "Labels that specs select devices by: k=v,k2=v2");
  auto* token = cmd->add_option("--auth-token-file", f->auth_token_file,
                                "Require this shared token from clients (authorization: Bearer <token>)");
  auto* cert = cmd->add_option("--tls-cert", f->tls_cert, "Serve TLS with this certificate (PEM)");
  cmd->add_option("--tls-key", f->tls_key, "Private key of --tls-cert (PEM)");
  cmd->add_option("--tls-ca", f->tls_ca, "Require client certificates signed by this CA (mutual TLS)");
  token->excludes(cert);
  cmd->add_option("--plugin-dir", f->plugin_dir,
                  "Folder of NPU vendor plugins (tlm_npu_*.so) to list (default: $TLMBENCH_PLUGIN_DIR, else "
                  "<folder of tlmbench>/../plugins)");
  cmd->add_option("--default-timeout", f->default_timeout_s, "Time-out in seconds of runs whose spec sets none")
      ->capture_default_str();
  cmd->add_option("--port-file", f->port_file, "Write the port listened on to this file once serving");
  cmd->add_flag("--null-in-process", f->null_in_process,
                "Run null workloads inside the agent, not in a worker (harness-overhead benchmarks)");
  cmd->add_flag("-q,--quiet", f->quiet, "No line per run on stderr");
  cmd->callback([f] { SetCommandAction([f] { return RunAgent(*f); }); });

  auto w = std::make_shared<std::pair<int, std::string>>(3, "");
  CLI::App* worker = app.add_subcommand("worker", "Run one spec from stdin (started by the agent)");
  worker->group("");  // internal: hidden from --help
  worker->add_option("--event-fd", w->first, "Where to write RunEvent frames");
  worker->add_option("--model-path", w->second, "The model file, resolved by the agent");
  worker->callback([w] { SetCommandAction([w] { return RunWorker(w->first, w->second); }); });

  // The agent never dlopens a plugin: it starts this in a child to learn a plugin's identity, so
  // that a plugin which crashes or hangs while loading costs that child, not the agent.
  auto info = std::make_shared<std::pair<std::string, std::string>>();
  CLI::App* plugin_info =
      app.add_subcommand("npu-plugin-info", "Print an NPU plugin's identity as one JSON line (started by the agent)");
  plugin_info->group("");  // internal: hidden from --help
  plugin_info->add_option("--plugin-dir", info->first, "The plugin folder (the loader's allowlist)")->required();
  plugin_info->add_option("plugin", info->second, "The plugin's file in that folder")->required();
  plugin_info->callback([info] {
    SetCommandAction([info] {
      auto plugin = LoadNpuPlugin(info->second, info->first);
      if (!plugin.ok()) {
        fmt::print(stderr, "{}\n", plugin.status().message());
        return 1;
      }
      const TlmNpuPluginApi& api = (*plugin)->api();
      nlohmann::json j;
      j["vendor"] = api.vendor ? api.vendor : "";
      j["name"] = api.plugin_name ? api.plugin_name : "";
      j["version"] = api.plugin_version ? api.plugin_version : "";
      j["abi_version"] = api.abi_version;
      j["socs"] = nlohmann::json::array();
      for (uint32_t i = 0; i < api.num_socs; ++i)
        if (api.socs[i] != nullptr) j["socs"].push_back(api.socs[i]);
      fmt::print("{}\n", j.dump());
      std::fflush(stdout);
      return 0;
    });
  });
}

}  // namespace tlm
