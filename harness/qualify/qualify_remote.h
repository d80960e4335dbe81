// `tlmbench qualify --agent`: the qualification suite run on an agent's device, with the plugin from the
// agent's own plugin folder, as the worker workload "qualify"; the host turns the returned checks into the
// same QualifyReport a local run gives (same table, JUnit and dataset rows).
#pragma once

#include <functional>
#include <string>

#include "engine/common/status.h"
#include "harness/qualify/qualify_suite.h"
#include "harness/sweep/controller.h"
#include "tlmbench/v1/agent.pb.h"

namespace tlm {

// Registers the "qualify" workload with the worker (devices/worker does not depend on harness/): called by
// `tlmbench worker` before it runs its spec. The worker's plugin folder is $TLMBENCH_PLUGIN_DIR, which the
// agent sets to its --plugin-dir.
void RegisterQualifyWorkload();

// The spec's workload and its results, both ways.
StatusOr<tlmbench::v1::RunResult> RunQualifyWorkload(const tlmbench::v1::RunSpec& spec, const std::string& model_path,
                                                     const std::function<void(const tlmbench::v1::RunEvent&)>& sink);
void QualifyReportToProto(const QualifyReport& report, tlmbench::v1::QualifyOutcome* out);
QualifyReport QualifyReportFromProto(const tlmbench::v1::QualifyOutcome& outcome, const QualifyOptions& options);

// Runs the suite on the agent at endpoint: options.plugin and .soc, timeouts, repeats, only, model_tokens,
// threads; model a file name in the agent's --models-dir ("" skips model.end_to_end). Progress lines go to
// `progress`. Errors: the agent unreachable or lost (kUnavailable), the spec refused (the plugin is not in the
// agent's plugin folder, the model not in its models folder: kInvalidArgument), the worker failed.
StatusOr<QualifyReport> RunQualifyOnAgent(const AgentEndpoint& endpoint, const QualifyOptions& options,
                                          const std::string& model, const tlmbench::v1::BuildInfo& build,
                                          const std::function<void(const std::string&)>& progress);

// The agent's device facts (a reachability check with a short deadline); kUnavailable when it cannot be reached.
StatusOr<tlmbench::v1::DeviceInfo> GetAgentDeviceInfo(const AgentEndpoint& endpoint, double deadline_s = 10);

}  // namespace tlm
