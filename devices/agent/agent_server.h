// The device agent: serves tlmbench.v1.Agent (plus grpc.health.v1 and server reflection) over gRPC,
// runs each spec in an isolated worker process, one measurement at a time per device, and reports
// hygiene and a validity verdict with every result.
#pragma once

#include <map>
#include <memory>
#include <string>

#include "engine/common/status.h"
#include "tlmbench/v1/run.pb.h"

namespace tlm {

struct AgentOptions {
  std::string listen = "127.0.0.1:50051";  // host:port; port 0 picks a free one
  std::string models_dir;                  // specs name models relative to it, and cannot leave it
  std::string name;                        // "" -> host name
  std::map<std::string, std::string> labels;
  std::string auth_token;                 // "" -> no token required
  std::string tls_cert_pem, tls_key_pem;  // server certificate and key: TLS when both are set
  std::string tls_client_ca_pem;          // with TLS: require client certificates signed by this CA
  std::string npu_plugin_dir;
  std::string worker_exe = "/proc/self/exe";  // the tlmbench binary that has the `worker` command
  double default_timeout_s = 900;             // for specs that do not set timeout_s
  bool null_in_process = false;               // run null workloads in the agent (harness overhead only)
  tlmbench::v1::BuildInfo build;
  bool log_runs = true;  // one line per run on stderr
};

class AgentServer {
 public:
  // Probes the device, binds and starts serving. Errors name the address or file at fault.
  static StatusOr<std::unique_ptr<AgentServer>> Start(const AgentOptions& options);
  virtual ~AgentServer() = default;

  virtual int port() const = 0;
  virtual std::string address() const = 0;  // "127.0.0.1:PORT" as clients reach it
  virtual const tlmbench::v1::DeviceInfo& device() const = 0;
  // Cancels running work and stops serving.
  virtual void Shutdown() = 0;
  // Blocks until Shutdown() is called.
  virtual void Wait() = 0;
};

}  // namespace tlm
