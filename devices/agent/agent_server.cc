// The device agent's gRPC service (see agent_server.h).
#include "devices/agent/agent_server.h"

#include <signal.h>
#include <unistd.h>

#include <atomic>
#include <condition_variable>
#include <cstdlib>
#include <deque>
#include <filesystem>
#include <mutex>
#include <optional>
#include <thread>
#include <unordered_map>

#include <grpcpp/ext/proto_server_reflection_plugin.h>
#include <fmt/ranges.h>
#include <grpcpp/grpcpp.h>
#include <grpcpp/health_check_service_interface.h>
#include <nlohmann/json.hpp>

#include "devices/agent/worker_process.h"
#include "devices/probe/device_info.h"
#include "devices/probe/hygiene.h"
#include "devices/worker/instruction_counter.h"
#include "devices/worker/workload.h"
#include "engine/backend/backend.h"
#include "engine/common/metric_names.h"
#include "engine/common/stats.h"
#include "engine/common/time_format.h"
#include "tlmbench/v1/agent.grpc.pb.h"

namespace tlm {
namespace {

namespace v1 = tlmbench::v1;
namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;

std::string FindOnPath(const std::string& name) {
  const char* path = std::getenv("PATH");
  std::string_view rest = path ? path : "/usr/bin:/bin";
  while (!rest.empty()) {
    const size_t colon = rest.find(':');
    const std::string dir(rest.substr(0, colon));
    rest = colon == std::string_view::npos ? std::string_view() : rest.substr(colon + 1);
    const std::string candidate = (dir.empty() ? "." : dir) + "/" + name;
    if (::access(candidate.c_str(), X_OK) == 0) return candidate;
  }
  return {};
}

// A private folder under $TMPDIR, removed with everything in it.
class TempFolder {
 public:
  TempFolder() {
    std::string tmpl = (fs::temp_directory_path() / "tlm-worker-XXXXXX").string();
    if (::mkdtemp(tmpl.data()) != nullptr) path_ = tmpl;
  }
  ~TempFolder() {
    std::error_code ec;
    if (!path_.empty()) fs::remove_all(path_, ec);
  }
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

// One measurement at a time per device, first come first served.
class DeviceLock {
 public:
  // Returns how many runs are ahead of this ticket.
  int Enqueue(uint64_t ticket) {
    std::lock_guard<std::mutex> lock(mu_);
    queue_.push_back(ticket);
    return static_cast<int>(queue_.size()) - 1;
  }
  // Waits for the ticket's turn; gives up (and leaves the queue) when abort() turns true.
  bool Acquire(uint64_t ticket, const std::function<bool()>& abort) {
    std::unique_lock<std::mutex> lock(mu_);
    for (;;) {
      if (!queue_.empty() && queue_.front() == ticket) return true;
      if (abort()) {
        std::erase(queue_, ticket);
        cv_.notify_all();
        return false;
      }
      cv_.wait_for(lock, std::chrono::milliseconds(50));
    }
  }
  void Release(uint64_t ticket) {
    std::lock_guard<std::mutex> lock(mu_);
    std::erase(queue_, ticket);
    cv_.notify_all();
  }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<uint64_t> queue_;
};

struct RunControl {
  std::atomic<bool> cancelled{false};
  std::mutex mu;
  WorkerProcess* worker = nullptr;  // while one runs
  void Cancel() {
    cancelled = true;
    std::lock_guard<std::mutex> lock(mu);
    if (worker) worker->Kill();
  }
};

// The primary metric of a result, whose spread decides "noisy".
std::string_view PrimaryMetric(const v1::RunResult& r) {
  bool decode = false, prefill = false, null_rep = false;
  for (const v1::Sample& s : r.samples()) {
    decode |= s.metric() == metric::kDecodeTps;
    prefill |= s.metric() == metric::kPrefillTps;
    null_rep |= s.metric() == metric::kNullRepMs;
  }
  if (decode) return metric::kDecodeTps;
  if (prefill) return metric::kPrefillTps;
  if (null_rep) return metric::kNullRepMs;
  return {};
}

// Fills in an NPU plugin's identity (vendor, version, SoCs) by loading it in a child process
// (`tlmbench npu-plugin-info`): the agent never dlopens a plugin, so a plugin that crashes or hangs
// while loading is listed with that error and the agent serves on.
void ProbeNpuPluginInWorker(const std::string& exe, const std::string& plugin_dir, v1::NpuPlugin* plugin) {
  constexpr auto kTimeout = std::chrono::seconds(10);
  auto proc = WorkerProcess::Spawn(exe, {exe, "npu-plugin-info", "--plugin-dir", plugin_dir, plugin->path()}, "");
  if (!proc.ok()) {
    plugin->set_error(fmt::format("could not start a process to load it: {}", proc.status().message()));
    return;
  }
  v1::RunEvent ignored;
  const bool timed_out =
      (*proc)->NextEvent(&ignored, WorkerProcess::Clock::now() + kTimeout) == WorkerProcess::Next::kTimeout;
  if (timed_out) (*proc)->Kill();
  const WorkerOutcome out = (*proc)->Reap();
  std::string last_line = out.stderr_tail;
  while (!last_line.empty() && last_line.back() == '\n') last_line.pop_back();
  if (size_t nl = last_line.rfind('\n'); nl != std::string::npos) last_line = last_line.substr(nl + 1);
  if (timed_out) {
    plugin->set_error(fmt::format("loading it did not finish in {} s", kTimeout.count()));
  } else if (!out.exited) {
    plugin->set_error(fmt::format("loading it crashed: killed by {}", DescribeSignal(out.signal)));
  } else if (out.exit_code != 0) {
    plugin->set_error(last_line.empty() ? fmt::format("loading it failed (exit {})", out.exit_code) : last_line);
  } else {
    const nlohmann::json j = nlohmann::json::parse(last_line, nullptr, /*allow_exceptions=*/false);
    if (!j.is_object() || !j.contains("socs")) {
      plugin->set_error(fmt::format("unreadable identity from npu-plugin-info: '{}'", last_line));
      return;
    }
    plugin->set_vendor(j.value("vendor", ""));
    plugin->set_version(j.value("version", ""));
    for (const auto& soc : j["socs"])
      if (soc.is_string()) plugin->add_socs(soc.get<std::string>());
  }
}

class AgentService final : public v1::Agent::Service {
 public:
  explicit AgentService(AgentOptions options) : options_(std::move(options)) {
    probe_.name = options_.name;
    probe_.labels = options_.labels;
    probe_.models_dir = options_.models_dir;
    probe_.npu_plugin_dir = options_.npu_plugin_dir;
    for (const BackendRegistration* r : RegisteredBackends())
      probe_.engine_backends.push_back(
          EngineBackendCapability(r->name, r->description, r->probe ? r->probe() : Status::Ok()));
    device_ = ProbeDevice(probe_);
    *device_.mutable_build() = options_.build;
    if (!options_.models_dir.empty()) {
      std::error_code ec;
      models_root_ = fs::canonical(options_.models_dir, ec);
    }
    // The worker binary by its real path: under valgrind, /proc/self/exe would name valgrind.
    std::error_code ec;
    if (fs::path real = fs::read_symlink(options_.worker_exe, ec); !ec) options_.worker_exe = real.string();
    perf_instructions_ = PerfInstructionsAvailable();
    valgrind_ = FindOnPath("valgrind");
    for (v1::NpuPlugin& plugin : *device_.mutable_npu_plugins())
        ProbeNpuPluginInWorker(options_.worker_exe, options_.npu_plugin_dir, &plugin);
  }

  const v1::DeviceInfo& device() const { return device_; }

  void CancelAll() {
    std::lock_guard<std::mutex> lock(runs_mu_);
    for (auto& [id, control] : runs_) control->Cancel();
  }

  grpc::Status GetDeviceInfo(grpc::ServerContext* ctx, const v1::GetDeviceInfoRequest*,
                             v1::DeviceInfo* reply) override {
    if (grpc::Status st = CheckAuth(ctx); !st.ok()) return st;
    // Models come and go: list them afresh; the rest was probed at start.
    *reply = device_;
    reply->clear_models();
    if (!options_.models_dir.empty())
      for (v1::ModelFile& m : ListModelFiles(options_.models_dir)) *reply->add_models() = std::move(m);
    return grpc::Status::OK;
  }

  grpc::Status Cancel(grpc::ServerContext* ctx, const v1::CancelRequest* req, v1::CancelResponse* reply) override {
    if (grpc::Status st = CheckAuth(ctx); !st.ok()) return st;
    std::shared_ptr<RunControl> control;
    {
      std::lock_guard<std::mutex> lock(runs_mu_);
      auto it = runs_.find(req->run_id());
      if (it != runs_.end()) control = it->second;
    }
    reply->set_found(control != nullptr);
    if (control) control->Cancel();
    return grpc::Status::OK;
  }

  grpc::Status RunScenario(grpc::ServerContext* ctx, const v1::RunScenarioRequest* req,
                           grpc::ServerWriter<v1::RunEvent>* writer) override {
    if (grpc::Status st = CheckAuth(ctx); !st.ok()) return st;
    const v1::RunSpec& spec = req->spec();
    if (spec.run_id().empty()) return grpc::Status(grpc::StatusCode::INVALID_ARGUMENT, "the spec has no run_id");
    auto send_error = [&](v1::RunStatus status, std::string message, std::string cause = {}, bool retryable = false,
                          int exit_code = 0, int signal = 0) {
      v1::RunEvent e;
      e.set_run_id(spec.run_id());
      v1::RunError* err = e.mutable_error();
      err->set_status(status);
      err->set_message(std::move(message));
      err->set_cause(std::move(cause));
      err->set_retryable(retryable);
      err->set_exit_code(exit_code);
      err->set_signal(signal);
      Log(spec, fmt::format("{}: {}", v1::RunStatus_Name(status), err->message()));
      writer->Write(e);
      return grpc::Status::OK;
    };

    // Refusals come before the queue: they do not depend on the device being free.
    std::string model_path;
    const bool qualify = spec.workload() == "qualify";
    if (qualify) {
      if (Status st = CheckQualifyPlugin(spec.qualify().plugin()); !st.ok())
        return send_error(v1::REFUSED, st.message());
    }
    if (spec.workload() != "null" && !(qualify && spec.model().empty())) {
      auto path = ResolveModel(spec.model());
      if (!path.ok()) return send_error(v1::REFUSED, path.status().message());
      model_path = *path;
    }
    const bool callgrind = spec.counter() == "instructions" && !perf_instructions_.ok();
#if defined(__SANITIZE_ADDRESS__)
    if (callgrind)
      return send_error(v1::REFUSED,
                        "cannot count instructions with callgrind: this tlmbench is built with "
                        "AddressSanitizer, which valgrind cannot run (use a Release build)");
#endif
    if (callgrind && valgrind_.empty())
      return send_error(v1::REFUSED, fmt::format("cannot count instructions on this device: {}; and valgrind "
                                                 "(callgrind) is not installed",
                                                 perf_instructions_.message()));
    std::string worker_backend = spec.backend();
    if (spec.workload() != "null" && !qualify) {
      std::string why;
      if (!DeviceMatches(device_, {}, {}, spec.backend().empty() ? "cpu" : spec.backend(), &why))
        return send_error(v1::REFUSED, fmt::format("backend {} cannot run here: {}", spec.backend(), why));
      auto backend = ResolveBackend(spec.backend());
      if (!backend.ok()) return send_error(v1::REFUSED, backend.status().message());
      worker_backend = *backend;
    }

    auto control = std::make_shared<RunControl>();
    {
      std::lock_guard<std::mutex> lock(runs_mu_);
      if (!runs_.emplace(spec.run_id(), control).second)
        return grpc::Status(grpc::StatusCode::ALREADY_EXISTS,
                            fmt::format("run {} is already queued or running on this agent", spec.run_id()));
    }
    struct Unregister {
      AgentService* self;
      const std::string& id;
      ~Unregister() {
        std::lock_guard<std::mutex> lock(self->runs_mu_);
        self->runs_.erase(id);
      }
    } unregister{this, spec.run_id()};

    const uint64_t ticket = next_ticket_++;
    const auto t_queue = Clock::now();
    {
      v1::RunEvent e;
      e.set_run_id(spec.run_id());
      e.mutable_accepted()->set_agent(device_.name());
      e.mutable_accepted()->set_queue_position(lock_.Enqueue(ticket));
      writer->Write(e);
    }
    auto aborted = [&] { return control->cancelled.load() || ctx->IsCancelled(); };
    if (!lock_.Acquire(ticket, aborted)) return send_error(v1::CANCELLED, "cancelled while queued");
    struct ReleaseLock {
      DeviceLock& lock;
      uint64_t ticket;
      ~ReleaseLock() { lock.Release(ticket); }
    } release{lock_, ticket};
    const double queue_ms = std::chrono::duration<double, std::milli>(Clock::now() - t_queue).count();

    v1::Hygiene hygiene;
    hygiene.set_load_avg_1m_before(ReadLoadAverage1m());
    hygiene.set_cpu_freq_mhz_before(ReadCpuFrequencyMhz());
    hygiene.set_temperature_c_before(ReadMaxTemperatureC());
    FrequencySampler freq;
    freq.Start();
    const std::string started_at = NowIso8601Utc();
    const auto t_start = Clock::now();

    bool client_gone = false;
    auto forward = [&](const v1::RunEvent& e) {
      if (!client_gone && !writer->Write(e)) client_gone = true;
    };
    std::optional<v1::RunResult> result;
    std::optional<v1::RunError> worker_error;
    bool timed_out = false;
    WorkerOutcome outcome;
    const double timeout_s = spec.timeout_s() > 0 ? spec.timeout_s() : options_.default_timeout_s;

    if (spec.workload() == "null" && options_.null_in_process && !spec.null_workload().crash() &&
        spec.null_workload().hang_s() == 0) {
      auto r = RunWorkload(spec, "", forward);
      if (r.ok())
        result = std::move(*r);
      else {
        worker_error.emplace();
        worker_error->set_status(v1::FAILED);
        worker_error->set_message(r.status().message());
      }
      outcome.exited = true;
    } else {
      std::string input;
      if (worker_backend == spec.backend()) {
        spec.SerializeToString(&input);
      } else {
        v1::RunSpec worker_spec = spec;
        worker_spec.set_backend(worker_backend);
        worker_spec.SerializeToString(&input);
      }
      std::vector<std::string> args = {options_.worker_exe, "worker", "--event-fd", "3", "--model-path", model_path};
      std::string exe = options_.worker_exe;
      std::vector<std::string> env;
      // The worker (qualify, the npu backend) loads plugins from this agent's allowlisted folder.
      if (!options_.npu_plugin_dir.empty()) env.push_back("TLMBENCH_PLUGIN_DIR=" + options_.npu_plugin_dir);
      std::optional<TempFolder> callgrind_dir;
      if (callgrind) {
        // No PMU here: count under callgrind, collecting only inside measured repetitions.
        callgrind_dir.emplace();
        const std::string out = callgrind_dir->path() + "/callgrind.out";
        args.insert(args.begin(), {valgrind_, "--tool=callgrind", "--collect-atstart=no", "--dump-instr=no", "-q",
                                   "--callgrind-out-file=" + out});
        exe = valgrind_;
        env.push_back("TLM_CALLGRIND_OUT=" + out);
      }
      auto proc = WorkerProcess::Spawn(exe, args, input, env);
      if (!proc.ok()) {
        freq.Stop();
        return send_error(v1::FAILED, proc.status().message(), {}, true);
      }
      {
        std::lock_guard<std::mutex> lock(control->mu);
        control->worker = proc->get();
      }
      const auto deadline =
          t_start + std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(timeout_s));
      for (;;) {
        if (aborted() || client_gone) {
          (*proc)->Kill();
          break;
        }
        if (Clock::now() >= deadline) {
          timed_out = true;
          (*proc)->Kill();
          break;
        }
        v1::RunEvent e;
        auto next = (*proc)->NextEvent(&e, std::min(deadline, Clock::now() + std::chrono::milliseconds(100)));
        if (next == WorkerProcess::Next::kEnd) break;
        if (next == WorkerProcess::Next::kTimeout) continue;
        if (e.has_result())
          result = std::move(*e.mutable_result());
        else if (e.has_error())
          worker_error = std::move(*e.mutable_error());
        else
          forward(e);
      }
      outcome = (*proc)->Reap();
      std::lock_guard<std::mutex> lock(control->mu);
      control->worker = nullptr;
    }
    freq.Stop();
    const double wall_ms = std::chrono::duration<double, std::milli>(Clock::now() - t_start).count();

    if (control->cancelled || ctx->IsCancelled() || client_gone)
      return send_error(v1::CANCELLED, "cancelled while running; the worker was killed");
    if (timed_out)
      return send_error(v1::TIMED_OUT,
                        fmt::format("the run exceeded its time-out of {:g} s; the worker was killed", timeout_s),
                        outcome.stderr_tail, /*retryable=*/true, 0, outcome.signal);
    if (worker_error) {
      worker_error->set_cause(outcome.stderr_tail);
      worker_error->set_exit_code(outcome.exit_code);
      return send_error(worker_error->status(), worker_error->message(), worker_error->cause(),
                        worker_error->retryable(), outcome.exit_code, outcome.signal);
    }
    if (!outcome.exited) {
      std::string msg = fmt::format("the worker was killed by {}", DescribeSignal(outcome.signal));
      if (outcome.signal == SIGKILL) msg += " (not by the agent: the kernel's OOM killer, or someone else)";
      return send_error(v1::CRASHED, msg, outcome.stderr_tail, true, 0, outcome.signal);
    }
    if (outcome.exit_code != 0 || !result)
      return send_error(v1::CRASHED,
                        fmt::format("the worker exited with code {} {}", outcome.exit_code,
                                    result ? "after its result" : "without a result"),
                        outcome.stderr_tail, true, outcome.exit_code, 0);

    hygiene.set_cpu_freq_mhz_min_during(freq.MinMhz());
    hygiene.set_temperature_c_after(ReadMaxTemperatureC());
    const std::string_view primary = PrimaryMetric(*result);
    std::vector<double> values;
    for (const v1::Sample& s : result->samples())
      if (s.repetition() > 0 && s.metric() == primary) values.push_back(s.value());
    hygiene.set_primary_cv(values.size() >= 2 ? CoefficientOfVariation(values) : 0);
    const double noisy_cv = spec.measurement().noisy_cv() > 0 ? spec.measurement().noisy_cv() : 0.10;
    const VerdictResult verdict = ComputeVerdict(hygiene, primary, static_cast<int>(values.size()), noisy_cv);
    result->set_run_id(spec.run_id());
    *result->mutable_hygiene() = hygiene;
    result->set_verdict(verdict.verdict);
    result->set_verdict_reason(verdict.reason);
    result->set_queue_ms(queue_ms);
    result->set_started_at(started_at);
    result->set_finished_at(NowIso8601Utc());
    *result->mutable_build() = options_.build;
    result->set_agent(device_.name());
    result->set_worker_wall_ms(wall_ms);
    Log(spec, fmt::format("ok, {} reps, {} in {:.1f} s (queued {:.0f} ms)", result->reps(),
                          v1::Verdict_Name(result->verdict()), wall_ms / 1000, queue_ms));
    v1::RunEvent e;
    e.set_run_id(spec.run_id());
    *e.mutable_result() = std::move(*result);
    writer->Write(e);
    return grpc::Status::OK;
  }

 private:
  grpc::Status CheckAuth(grpc::ServerContext* ctx) const {
    if (options_.auth_token.empty()) return grpc::Status::OK;
    const auto& md = ctx->client_metadata();
    auto it = md.find("authorization");
    if (it == md.end())
      return grpc::Status(grpc::StatusCode::UNAUTHENTICATED, "this agent requires a token (authorization: Bearer ...)");
    const std::string got(it->second.data(), it->second.size());
    if (got != "Bearer " + options_.auth_token)
      return grpc::Status(grpc::StatusCode::UNAUTHENTICATED, "wrong token for this agent");
    return grpc::Status::OK;
  }

  // A qualify spec's plugin: a plain name of a tlm_npu_<name>.so in --plugin-dir (the loader's allowlist),
  // never a path. The worker's loader checks the file again (real path, permissions) before dlopen.
  Status CheckQualifyPlugin(const std::string& plugin) const {
    if (plugin.empty()) return InvalidArgument("the qualify spec names no plugin");
    if (plugin.find('/') != std::string::npos || plugin == "." || plugin == "..")
      return InvalidArgument("plugin '{}': name a plugin of the agent's plugin folder, not a path", plugin);
    if (options_.npu_plugin_dir.empty()) return InvalidArgument("this agent has no plugin folder (--plugin-dir)");
    const std::string file =
        plugin.size() > 3 && plugin.substr(plugin.size() - 3) == ".so" ? plugin : "tlm_npu_" + plugin + ".so";
    std::vector<std::string> names;
    for (const v1::NpuPlugin& p : ListNpuPlugins(options_.npu_plugin_dir)) {
      const std::string base = std::filesystem::path(p.path()).filename().string();
      if (base == file) return Status::Ok();
      names.push_back(base.substr(8, base.size() - 11));  // tlm_npu_<name>.so
    }
    return NotFound("plugin '{}' ({}) is not in this agent's plugin folder {} (it has: {})", plugin, file,
                    options_.npu_plugin_dir, names.empty() ? "none" : fmt::format("{}", fmt::join(names, ", ")));
  }

  // A model (or an npu artifact: `what`) named by a spec, confined to --models-dir: relative, no
  // "..", no symlink escaping it.
  StatusOr<std::string> ResolveModel(const std::string& name, std::string_view what = "model") const {
    if (options_.models_dir.empty()) return InvalidArgument("this agent has no --models-dir; it cannot run models");
    if (models_root_.empty()) return NotFound("--models-dir {} does not exist", options_.models_dir);
    if (name.empty()) return InvalidArgument("the spec names no {}", what);
    const fs::path p(name);
    if (p.is_absolute())
      return InvalidArgument("{} '{}' is an absolute path; name a file under --models-dir", what, name);
    for (const auto& part : p)
      if (part == "..") return InvalidArgument("{} '{}' leaves --models-dir ('..' is not allowed)", what, name);
    std::error_code ec;
    const fs::path full = fs::weakly_canonical(models_root_ / p, ec);
    const std::string root = models_root_.string() + "/";
    if (ec || full.string().rfind(root, 0) != 0)
      return InvalidArgument("{} '{}' resolves outside --models-dir {}", what, name, models_root_.string());
    if (!fs::is_regular_file(full, ec))
      return NotFound("{} '{}' is not in --models-dir {} on agent {}", what, name, models_root_.string(),
                      device_.name());
    return full.string();
  }

  // The backend string the worker gets: an npu backend's `artifact=FILE` names a file under
  // --models-dir (confined like models) and is replaced by its resolved path.
  StatusOr<std::string> ResolveBackend(const std::string& backend) const {
    if (backend.rfind("npu:", 0) != 0) return backend;
    std::string out = "npu:";
    size_t begin = 4;
    while (begin <= backend.size()) {
      size_t end = backend.find(',', begin);
      if (end == std::string::npos) end = backend.size();
      std::string item = backend.substr(begin, end - begin);
      if (item.rfind("artifact=", 0) == 0) {
        TLM_ASSIGN_OR_RETURN(std::string path, ResolveModel(item.substr(9), "npu artifact"));
        item = "artifact=" + path;
      }
      out += (begin > 4 ? "," : "") + item;
      begin = end + 1;
    }
    return out;
  }

  void Log(const v1::RunSpec& spec, std::string_view what) const {
    if (!options_.log_runs) return;
    fmt::print(stderr, "[agent {}] run {} ({} {} {} t{}): {}\n", device_.name(), spec.run_id().substr(0, 12),
               spec.workload(), spec.model().empty() ? "-" : spec.model(), spec.backend(), spec.threads(), what);
  }

  AgentOptions options_;
  Status perf_instructions_;
  std::string valgrind_;  // "" when not installed
  DeviceProbeOptions probe_;
  v1::DeviceInfo device_;
  fs::path models_root_;
  DeviceLock lock_;
  std::atomic<uint64_t> next_ticket_{1};
  std::mutex runs_mu_;
  std::unordered_map<std::string, std::shared_ptr<RunControl>> runs_;
};

class AgentServerImpl final : public AgentServer {
 public:
  int port() const override { return port_; }
  std::string address() const override { return address_; }
  const v1::DeviceInfo& device() const override { return service_->device(); }
  void Shutdown() override {
    std::lock_guard<std::mutex> lock(mu_);
    if (shut_down_) return;
    shut_down_ = true;
    service_->CancelAll();
    server_->Shutdown(std::chrono::system_clock::now() + std::chrono::seconds(2));
  }
  void Wait() override { server_->Wait(); }
  ~AgentServerImpl() override { Shutdown(); }

  std::unique_ptr<AgentService> service_;
  std::unique_ptr<grpc::Server> server_;
  int port_ = 0;
  std::string address_;
  std::mutex mu_;
  bool shut_down_ = false;
};

}  // namespace

StatusOr<std::unique_ptr<AgentServer>> AgentServer::Start(const AgentOptions& options) {
  if (!options.models_dir.empty() && !fs::is_directory(options.models_dir))
    return NotFound("--models-dir {} is not a directory", options.models_dir);
  if (options.tls_cert_pem.empty() != options.tls_key_pem.empty())
    return InvalidArgument("TLS needs both --tls-cert and --tls-key");
  std::shared_ptr<grpc::ServerCredentials> creds = grpc::InsecureServerCredentials();
  if (!options.tls_cert_pem.empty()) {
    grpc::SslServerCredentialsOptions ssl(options.tls_client_ca_pem.empty()
                                              ? GRPC_SSL_DONT_REQUEST_CLIENT_CERTIFICATE
                                              : GRPC_SSL_REQUEST_AND_REQUIRE_CLIENT_CERTIFICATE_AND_VERIFY);
    ssl.pem_root_certs = options.tls_client_ca_pem;
    ssl.pem_key_cert_pairs.push_back({options.tls_key_pem, options.tls_cert_pem});
    creds = grpc::SslServerCredentials(ssl);
  }
  auto impl = std::make_unique<AgentServerImpl>();
  impl->service_ = std::make_unique<AgentService>(options);
  grpc::EnableDefaultHealthCheckService(true);
  grpc::reflection::InitProtoReflectionServerBuilderPlugin();
  grpc::ServerBuilder builder;
  builder.AddListeningPort(options.listen, creds, &impl->port_);
  builder.RegisterService(impl->service_.get());
  impl->server_ = builder.BuildAndStart();
  if (!impl->server_ || impl->port_ == 0)
    return Unavailable("cannot listen on {} (address in use, or not an address of this machine?)", options.listen);
  const std::string host = options.listen.substr(0, options.listen.rfind(':'));
  impl->address_ = fmt::format("{}:{}", host == "0.0.0.0" || host == "[::]" ? "127.0.0.1" : host, impl->port_);
  return std::unique_ptr<AgentServer>(std::move(impl));
}

}  // namespace tlm
