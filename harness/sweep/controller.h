// The sweep controller: schedules a scenario's runs on the agents whose labels and capabilities
// match, one run per device at a time, over gRPC. Retries with backoff when an agent is lost or a
// run times out, expires runs that no agent can take, and writes every result to the dataset as it
// arrives, exactly once (run ids are idempotent; see harness/store/dataset.h).
#pragma once

#include <atomic>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "engine/common/status.h"
#include "harness/spec/scenario.h"
#include "harness/store/dataset.h"

namespace grpc {
class Channel;
class ClientContext;
}  // namespace grpc

namespace tlm {

struct AgentEndpoint {
  std::string address;  // host:port
  std::string auth_token;
  std::string tls_ca_pem;                 // TLS when set: the CA that signed the agent's certificate
  std::string tls_cert_pem, tls_key_pem;  // client certificate for mutual TLS
};

// A channel to an agent with the endpoint's TLS (keepalive notices a dead agent), and its bearer token on
// a call's context; also used by `tlmbench qualify --agent`.
std::shared_ptr<grpc::Channel> MakeAgentChannel(const AgentEndpoint& endpoint);
void AddAgentAuth(grpc::ClientContext& ctx, const AgentEndpoint& endpoint);

struct SweepOptions {
  std::vector<AgentEndpoint> agents;
  int max_attempts = 3;            // tries of one run, over all agents
  double backoff_initial_s = 0.5;  // before a retry; doubles per attempt
  double backoff_max_s = 10;
  double agent_grace_s = 20;  // a lost agent is retried this long before it is given up
  double connect_timeout_s = 5;
  enum class ProgressStyle { kAuto, kBar, kLines, kQuiet } progress = ProgressStyle::kAuto;
  tlmbench::v1::BuildInfo controller_build;  // sent with every run
};

struct SweepOutcome {
  std::map<std::string, int> by_status;  // "ok" -> 12, "expired" -> 1, ...
  int written = 0;                       // results written by this invocation
  int skipped = 0;                       // already finished (resume)
  bool interrupted = false;
  double wall_s = 0;
  std::vector<std::string> unreachable;  // agents that never answered
};

// Runs every run of `runs` not yet finished in the dataset (all of them, for a new sweep).
// `interrupt` turning true (Ctrl-C) cancels runs on the agents and returns with interrupted set;
// the sweep can then be finished with --resume.
StatusOr<SweepOutcome> RunSweep(const std::vector<tlmbench::v1::RunSpec>& runs, Dataset& dataset,
                                const SweepOptions& options, const std::atomic<bool>& interrupt);

// "sw-20261125-153000-1a2b3c".
std::string NewSweepId();

}  // namespace tlm
