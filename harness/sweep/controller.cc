// The sweep controller (see controller.h).
#include "harness/sweep/controller.h"

#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <deque>
#include <memory>
#include <mutex>
#include <random>
#include <set>
#include <thread>

#include <grpcpp/grpcpp.h>

#include "devices/probe/device_info.h"
#include "engine/common/metric_names.h"
#include "engine/common/stats.h"
#include "engine/common/time_format.h"
#include "harness/sweep/progress.h"
#include "tlmbench/v1/agent.grpc.pb.h"

namespace tlm {
namespace {

namespace v1 = tlmbench::v1;
using Clock = std::chrono::steady_clock;

std::shared_ptr<grpc::Channel> MakeChannel(const AgentEndpoint& ep) {
  std::shared_ptr<grpc::ChannelCredentials> creds = grpc::InsecureChannelCredentials();
  if (!ep.tls_ca_pem.empty()) {
    grpc::SslCredentialsOptions ssl;
    ssl.pem_root_certs = ep.tls_ca_pem;
    ssl.pem_cert_chain = ep.tls_cert_pem;
    ssl.pem_private_key = ep.tls_key_pem;
    creds = grpc::SslCredentials(ssl);
  }
  grpc::ChannelArguments args;
  // Notice a dead agent during a long run: keepalive pings every 10 s, dropped after 10 s more.
  args.SetInt(GRPC_ARG_KEEPALIVE_TIME_MS, 10000);
  args.SetInt(GRPC_ARG_KEEPALIVE_TIMEOUT_MS, 10000);
  args.SetInt(GRPC_ARG_KEEPALIVE_PERMIT_WITHOUT_CALLS, 1);
  args.SetInt(GRPC_ARG_MAX_RECONNECT_BACKOFF_MS, 1000);
  args.SetInt(GRPC_ARG_INITIAL_RECONNECT_BACKOFF_MS, 200);
  return grpc::CreateCustomChannel(ep.address, creds, args);
}

void AddAuth(grpc::ClientContext& ctx, const AgentEndpoint& ep) {
  if (!ep.auth_token.empty()) ctx.AddMetadata("authorization", "Bearer " + ep.auth_token);
}

struct PendingRun {
  v1::RunSpec spec;
  Clock::time_point not_before{};
  std::set<int> refused_by;  // agents that refused it (model missing there, ...)
  std::string last_error;
};

enum class AgentState { kAlive, kLost, kDead };

struct AgentSlot {
  int index = 0;
  AgentEndpoint endpoint;
  std::shared_ptr<grpc::Channel> channel;
  std::unique_ptr<v1::Agent::Stub> stub;
  v1::DeviceInfo device;
  AgentState state = AgentState::kAlive;
  std::string lost_reason;
  Clock::time_point lost_since{};
  // The run in flight, for Ctrl-C.
  std::mutex ctx_mu;
  grpc::ClientContext* active_ctx = nullptr;
  std::string active_run;
};

// What came back for one attempt.
struct AttemptOutcome {
  bool final_result = false;  // a RunResult (OK) arrived
  v1::RunResult result;
  bool has_error = false;  // a RunError arrived
  v1::RunError error;
  bool transport_failed = false;  // the stream broke: the agent is lost
  std::string transport_error;
  std::string started_at, finished_at;
};

bool HasModel(const v1::DeviceInfo& d, const std::string& model) {
  for (const v1::ModelFile& m : d.models())
    if (m.name() == model) return true;
  return false;
}

// Whether agent `a` could take the run, and why not.
bool AgentCanTake(const AgentSlot& a, const PendingRun& run, std::string* why) {
  if (run.refused_by.count(a.index)) {
    *why = fmt::format("{} refused it", a.device.name());
    return false;
  }
  const v1::RunSpec& s = run.spec;
  std::map<std::string, std::string> labels(s.labels().begin(), s.labels().end());
  std::vector<std::string> caps(s.capabilities().begin(), s.capabilities().end());
  std::string reason;
  const std::string backend = s.workload() == "null" ? "cpu" : (s.backend().empty() ? "cpu" : s.backend());
  if (!DeviceMatches(a.device, labels, caps, backend, &reason)) {
    *why = fmt::format("{}: {}", a.device.name(), reason);
    return false;
  }
  if (s.workload() != "null" && !HasModel(a.device, s.model())) {
    *why = fmt::format("{}: model {} is not in its models dir", a.device.name(), s.model());
    return false;
  }
  return true;
}

class Controller {
 public:
  Controller(Dataset& dataset, const SweepOptions& options, const std::atomic<bool>& interrupt)
      : dataset_(dataset), options_(options), interrupt_(interrupt) {}

  StatusOr<SweepOutcome> Run(const std::vector<v1::RunSpec>& runs) {
    const auto t0 = Clock::now();
    TLM_ASSIGN_OR_RETURN(std::set<std::string> finished, runs.empty()
                                                             ? StatusOr<std::set<std::string>>(std::set<std::string>{})
                                                             : dataset_.FinishedRunIds(runs.front().sweep_id()));
    for (const v1::RunSpec& s : runs) {
      if (finished.count(s.run_id())) {
        ++outcome_.skipped;
        continue;
      }
      PendingRun p;
      p.spec = s;
      if (p.spec.attempt() < 1) p.spec.set_attempt(1);
      pending_.push_back(std::move(p));
    }
    total_ = static_cast<int>(pending_.size());
    TLM_RETURN_IF_ERROR(ConnectAgents());
    progress_ = std::make_unique<SweepProgress>(options_.progress, total_, outcome_.skipped);
    {
      std::lock_guard<std::mutex> lock(mu_);
      ExpireUnplaceableLocked();
    }
    std::vector<std::thread> threads;
    for (auto& a : agents_) threads.emplace_back([this, slot = a.get()] { AgentLoop(*slot); });
    std::thread watcher([this] { WatchInterrupt(); });
    for (auto& t : threads) t.join();
    {
      std::lock_guard<std::mutex> lock(mu_);
      finished_threads_ = true;
      cv_.notify_all();
    }
    watcher.join();
    progress_->Finish();
    outcome_.interrupted = interrupt_.load();
    outcome_.wall_s = std::chrono::duration<double>(Clock::now() - t0).count();
    if (!write_error_.ok()) return write_error_;
    return outcome_;
  }

 private:
  Status ConnectAgents() {
    if (options_.agents.empty()) return InvalidArgument("no agents to run on");
    // Ask every agent for its facts in parallel; the unreachable ones are reported and left out.
    std::vector<std::unique_ptr<AgentSlot>> slots(options_.agents.size());
    std::vector<std::string> errors(options_.agents.size());
    std::vector<std::thread> threads;
    for (size_t i = 0; i < options_.agents.size(); ++i) {
      threads.emplace_back([&, i] {
        auto slot = std::make_unique<AgentSlot>();
        slot->endpoint = options_.agents[i];
        slot->channel = MakeChannel(slot->endpoint);
        slot->stub = v1::Agent::NewStub(slot->channel);
        grpc::ClientContext ctx;
        AddAuth(ctx, slot->endpoint);
        ctx.set_deadline(std::chrono::system_clock::now() +
                         std::chrono::milliseconds(static_cast<int>(options_.connect_timeout_s * 1000)));
        ctx.set_wait_for_ready(true);
        grpc::Status st = slot->stub->GetDeviceInfo(&ctx, v1::GetDeviceInfoRequest{}, &slot->device);
        if (!st.ok()) {
          errors[i] = fmt::format("agent {} unreachable: {}", slot->endpoint.address,
                                  st.error_code() == grpc::StatusCode::DEADLINE_EXCEEDED
                                      ? fmt::format("no answer within {:g} s", options_.connect_timeout_s)
                                      : st.error_message());
          return;
        }
        slots[i] = std::move(slot);
      });
    }
    for (auto& t : threads) t.join();
    std::set<std::string> names;
    for (size_t i = 0; i < slots.size(); ++i) {
      if (!slots[i]) {
        fmt::print(stderr, "warning: {}\n", errors[i]);
        outcome_.unreachable.push_back(options_.agents[i].address);
        continue;
      }
      if (!names.insert(slots[i]->device.name()).second)
        return InvalidArgument("two agents call themselves '{}' ({}); give each a distinct --name",
                               slots[i]->device.name(), slots[i]->endpoint.address);
      slots[i]->index = static_cast<int>(agents_.size());
      if (Status st = dataset_.UpsertDevice(slots[i]->device, NowIso8601Utc()); !st.ok()) return st;
      agents_.push_back(std::move(slots[i]));
    }
    if (agents_.empty()) {
      std::string all;
      for (const auto& e : errors) all += "\n  " + e;
      return Unavailable("none of the {} agents answered:{}", options_.agents.size(), all);
    }
    return Status::Ok();
  }

  void WatchInterrupt() {
    std::unique_lock<std::mutex> lock(mu_);
    while (!finished_threads_) {
      cv_.wait_for(lock, std::chrono::milliseconds(100));
      if (interrupt_.load() && !cancel_sent_) {
        cancel_sent_ = true;
        lock.unlock();
        CancelEverywhere();
        lock.lock();
        cv_.notify_all();
      }
      if (progress_) progress_->Tick();
    }
  }

  // Ctrl-C: cancel each run in flight on its agent (the Cancel RPC), then drop the streams.
  void CancelEverywhere() {
    progress_->Note("interrupted: cancelling runs on the agents");
    for (auto& a : agents_) {
      std::string run;
      {
        std::lock_guard<std::mutex> lock(a->ctx_mu);
        run = a->active_run;
      }
      if (!run.empty()) {
        grpc::ClientContext ctx;
        AddAuth(ctx, a->endpoint);
        ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(2));
        v1::CancelRequest req;
        req.set_run_id(run);
        v1::CancelResponse resp;
        a->stub->Cancel(&ctx, req, &resp);
      }
      std::lock_guard<std::mutex> lock(a->ctx_mu);
      if (a->active_ctx) a->active_ctx->TryCancel();
    }
  }

  bool AnyAgentMayTake(const PendingRun& run, std::string* why_not) {
    std::string reasons;
    for (auto& a : agents_) {
      if (a->state == AgentState::kDead) {
        reasons += fmt::format("; {}: lost ({})", a->device.name(), a->lost_reason);
        continue;
      }
      std::string why;
      if (AgentCanTake(*a, run, &why)) return true;
      reasons += "; " + why;
    }
    *why_not = "no agent can take it" + reasons;
    return false;
  }

  // Runs that no agent (alive, or lost but within its grace) can take: expire them with a reason.
  void ExpireUnplaceableLocked() {
    for (auto it = pending_.begin(); it != pending_.end();) {
      std::string why;
      if (AnyAgentMayTake(*it, &why)) {
        ++it;
        continue;
      }
      if (!it->last_error.empty()) why = it->last_error + "; then " + why;
      v1::RunResult r;
      r.set_run_id(it->spec.run_id());
      r.set_status(v1::EXPIRED);
      r.set_error(why);
      r.set_finished_at(NowIso8601Utc());
      WriteFinalLocked(it->spec, r);
      it = pending_.erase(it);
    }
    cv_.notify_all();
  }

  bool AllDoneLocked() const { return pending_.empty() && in_flight_ == 0; }

  // Picks the first run this agent can take now, or waits.
  std::optional<PendingRun> TakeRunLocked(AgentSlot& a) {
    const auto now = Clock::now();
    for (auto it = pending_.begin(); it != pending_.end(); ++it) {
      std::string why;
      if (it->not_before > now || !AgentCanTake(a, *it, &why)) continue;
      PendingRun p = std::move(*it);
      pending_.erase(it);
      return p;
    }
    return std::nullopt;
  }

  void AgentLoop(AgentSlot& a) {
    std::unique_lock<std::mutex> lock(mu_);
    for (;;) {
      if (interrupt_.load() || AllDoneLocked() || a.state == AgentState::kDead) break;
      if (a.state == AgentState::kLost) {
        lock.unlock();
        const bool back = Reconnect(a);
        lock.lock();
        if (!back) {
          a.state = AgentState::kDead;
          progress_->Note(
              fmt::format("agent {} ({}) given up: {}", a.device.name(), a.endpoint.address, a.lost_reason));
          ExpireUnplaceableLocked();
          break;
        }
        a.state = AgentState::kAlive;
        progress_->Note(fmt::format("agent {} is back", a.device.name()));
        continue;
      }
      std::optional<PendingRun> run = TakeRunLocked(a);
      if (!run) {
        cv_.wait_for(lock, std::chrono::milliseconds(50));
        continue;
      }
      ++in_flight_;
      lock.unlock();
      AttemptOutcome out = Execute(a, run->spec);
      lock.lock();
      --in_flight_;
      const size_t pending_before = pending_.size();
      HandleOutcomeLocked(a, std::move(*run), std::move(out));
      // Wake the idle agents only when there is new work for them (a retry) or nothing is left:
      // waking 200 threads per finished run would cost more than the run.
      if (pending_.size() > pending_before || AllDoneLocked()) cv_.notify_all();
    }
  }

  // Waits for a lost agent to answer again, with exponential backoff, within the grace period.
  bool Reconnect(AgentSlot& a) {
    double backoff = options_.backoff_initial_s;
    while (!interrupt_.load()) {
      const double lost_s = std::chrono::duration<double>(Clock::now() - a.lost_since).count();
      if (lost_s > options_.agent_grace_s) return false;
      grpc::ClientContext ctx;
      AddAuth(ctx, a.endpoint);
      ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(2));
      v1::DeviceInfo info;
      if (a.stub->GetDeviceInfo(&ctx, v1::GetDeviceInfoRequest{}, &info).ok()) {
        a.device = info;
        return true;
      }
      std::this_thread::sleep_for(std::chrono::duration<double>(std::min(backoff, options_.backoff_max_s)));
      backoff *= 2;
    }
    return false;
  }

  AttemptOutcome Execute(AgentSlot& a, const v1::RunSpec& spec) {
    AttemptOutcome out;
    out.started_at = NowIso8601Utc();
    grpc::ClientContext ctx;
    AddAuth(ctx, a.endpoint);
    // The agent enforces the run's time-out; this deadline only catches an agent that stops talking.
    const double timeout_s = spec.timeout_s() > 0 ? spec.timeout_s() : 900;
    ctx.set_deadline(std::chrono::system_clock::now() +
                     std::chrono::milliseconds(static_cast<int64_t>((timeout_s * 1.5 + 60) * 1000)));
    {
      std::lock_guard<std::mutex> lock(a.ctx_mu);
      a.active_ctx = &ctx;
      a.active_run = spec.run_id();
    }
    if (interrupt_.load()) ctx.TryCancel();
    v1::RunScenarioRequest req;
    *req.mutable_spec() = spec;
    *req.mutable_controller_build() = options_.controller_build;
    auto reader = a.stub->RunScenario(&ctx, req);
    progress_->Started(spec, a.device.name());
    v1::RunEvent e;
    while (reader->Read(&e)) {
      if (e.has_result()) {
        out.final_result = true;
        out.result = std::move(*e.mutable_result());
      } else if (e.has_error()) {
        out.has_error = true;
        out.error = std::move(*e.mutable_error());
      } else if (e.has_progress()) {
        progress_->Progress(spec, a.device.name(), e.progress().message());
      }
    }
    grpc::Status st = reader->Finish();
    {
      std::lock_guard<std::mutex> lock(a.ctx_mu);
      a.active_ctx = nullptr;
      a.active_run.clear();
    }
    out.finished_at = NowIso8601Utc();
    if (!out.final_result && !out.has_error) {
      out.transport_failed = true;
      out.transport_error = st.ok() ? "the stream ended without a result"
                                    : fmt::format("{} ({})", st.error_message(), static_cast<int>(st.error_code()));
      if (st.error_code() == grpc::StatusCode::UNAUTHENTICATED ||
          st.error_code() == grpc::StatusCode::INVALID_ARGUMENT) {
        // Not a lost agent: a refusal.
        out.transport_failed = false;
        out.has_error = true;
        out.error.set_status(v1::REFUSED);
        out.error.set_message(st.error_message());
      }
    }
    return out;
  }

  void HandleOutcomeLocked(AgentSlot& a, PendingRun run, AttemptOutcome out) {
    const v1::RunSpec& spec = run.spec;
    if (interrupt_.load() && !out.final_result) {
      // Left unfinished for --resume: nothing is written.
      return;
    }
    if (out.final_result) {
      WriteFinalLocked(spec, out.result);
      return;
    }
    auto retry = [&](v1::RunStatus status, const std::string& error, bool agent_lost) {
      if (Status st = dataset_.RecordAttempt(spec, a.device.name(), status, error, out.started_at, out.finished_at);
          !st.ok() && write_error_.ok())
        write_error_ = st;
      run.last_error =
          fmt::format("attempt {} on {}: {}: {}", spec.attempt(), a.device.name(), RunStatusName(status), error);
      if (spec.attempt() >= options_.max_attempts) {
        v1::RunResult r;
        r.set_run_id(spec.run_id());
        r.set_status(status);
        r.set_error(fmt::format("{} (attempt {} of {})", error, spec.attempt(), options_.max_attempts));
        r.set_agent(a.device.name());
        r.set_exit_code(out.error.exit_code());
        r.set_signal(out.error.signal());
        r.set_started_at(out.started_at);
        r.set_finished_at(out.finished_at);
        WriteFinalLocked(spec, r);
        return;
      }
      const double backoff = std::min(options_.backoff_max_s, options_.backoff_initial_s * (1 << (spec.attempt() - 1)));
      progress_->Note(fmt::format("run {} {} on {} (attempt {}): {}; retrying in {:.1f} s{}",
                                  spec.run_id().substr(0, 12), RunStatusName(status), a.device.name(), spec.attempt(),
                                  error, backoff, agent_lost ? " on another agent" : ""));
      run.spec.set_attempt(spec.attempt() + 1);
      run.not_before =
          Clock::now() + std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(backoff));
      pending_.push_front(std::move(run));
      ExpireUnplaceableLocked();
    };
    if (out.transport_failed) {
      a.state = AgentState::kLost;
      a.lost_since = Clock::now();
      a.lost_reason = out.transport_error;
      progress_->Note(fmt::format("agent {} ({}) lost: {}", a.device.name(), a.endpoint.address, out.transport_error));
      retry(v1::LOST, out.transport_error, true);
      return;
    }
    const v1::RunError& err = out.error;
    std::string message = err.message();
    if (!err.cause().empty()) message += "; worker said: " + err.cause();
    if (err.status() == v1::REFUSED) {
      // Maybe another agent can take it (the model is only there, ...).
      run.refused_by.insert(a.index);
      run.last_error = fmt::format("refused by {}: {}", a.device.name(), message);
      std::string why;
      if (AnyAgentMayTake(run, &why)) {
        pending_.push_front(std::move(run));
        return;
      }
      v1::RunResult r;
      r.set_run_id(spec.run_id());
      r.set_status(v1::REFUSED);
      r.set_error(message);
      r.set_agent(a.device.name());
      r.set_started_at(out.started_at);
      r.set_finished_at(out.finished_at);
      WriteFinalLocked(spec, r);
      return;
    }
    if (err.retryable() && err.status() != v1::CANCELLED) {
      retry(err.status(), message, false);
      return;
    }
    v1::RunResult r;
    r.set_run_id(spec.run_id());
    r.set_status(err.status() == v1::RUN_STATUS_UNSPECIFIED ? v1::FAILED : err.status());
    r.set_error(message);
    r.set_agent(a.device.name());
    r.set_exit_code(err.exit_code());
    r.set_signal(err.signal());
    r.set_started_at(out.started_at);
    r.set_finished_at(out.finished_at);
    WriteFinalLocked(spec, r);
  }

  void WriteFinalLocked(const v1::RunSpec& spec, const v1::RunResult& result) {
    bool written = false;
    if (Status st = dataset_.WriteResult(spec, result, &written); !st.ok()) {
      if (write_error_.ok()) write_error_ = st;
      progress_->Note(fmt::format("error: writing run {}: {}", spec.run_id(), st.message()));
      return;
    }
    if (written) ++outcome_.written;
    ++outcome_.by_status[std::string(RunStatusName(result.status()))];
    progress_->Finished(spec, result);
  }

  Dataset& dataset_;
  const SweepOptions& options_;
  const std::atomic<bool>& interrupt_;
  std::vector<std::unique_ptr<AgentSlot>> agents_;
  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<PendingRun> pending_;
  int in_flight_ = 0;
  int total_ = 0;
  bool finished_threads_ = false;
  bool cancel_sent_ = false;
  SweepOutcome outcome_;
  Status write_error_;
  std::unique_ptr<SweepProgress> progress_;
};

}  // namespace

StatusOr<SweepOutcome> RunSweep(const std::vector<v1::RunSpec>& runs, Dataset& dataset, const SweepOptions& options,
                                const std::atomic<bool>& interrupt) {
  Controller controller(dataset, options, interrupt);
  return controller.Run(runs);
}

std::string NewSweepId() {
  const std::time_t t = std::chrono::system_clock::to_time_t(std::chrono::system_clock::now());
  std::tm tm{};
  gmtime_r(&t, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y%m%d-%H%M%S", &tm);
  std::random_device rd;
  return fmt::format("sw-{}-{:06x}", buf, rd() & 0xffffff);
}

std::shared_ptr<grpc::Channel> MakeAgentChannel(const AgentEndpoint& endpoint) { return MakeChannel(endpoint); }
void AddAgentAuth(grpc::ClientContext& ctx, const AgentEndpoint& endpoint) { AddAuth(ctx, endpoint); }

}  // namespace tlm
