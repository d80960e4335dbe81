// `tlmbench qualify --agent` (see qualify_remote.h).
#include "harness/qualify/qualify_remote.h"

#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <optional>
#include <random>

#include <fmt/format.h>
#include <grpcpp/grpcpp.h>

#include "devices/worker/workload.h"
#include "kernels/npu/loader/plugin_loader.h"
#include "tlmbench/v1/agent.grpc.pb.h"

namespace tlm {

namespace v1 = tlmbench::v1;

namespace {

const char* ResultName(QualifyCheck::Result r) {
  switch (r) {
    case QualifyCheck::Result::kPass: return "pass";
    case QualifyCheck::Result::kSkip: return "skip";
    case QualifyCheck::Result::kFail: break;
  }
  return "fail";
}

bool StartsWithAny(const std::string& name, const std::vector<std::string>& prefixes) {
  if (prefixes.empty()) return true;
  for (const std::string& p : prefixes)
    if (name.rfind(p, 0) == 0) return true;
  return false;
}

std::string GrpcError(const grpc::Status& st) {
  return fmt::format("{} ({})", st.error_message(), static_cast<int>(st.error_code()));
}

}  // namespace

void QualifyReportToProto(const QualifyReport& report, v1::QualifyOutcome* out) {
  out->set_started_at(report.started_at);
  out->set_plugin_identity(report.plugin_identity);
  for (const QualifyCheck& c : report.checks) {
    v1::QualifyCheckResult* r = out->add_checks();
    r->set_name(c.name);
    r->set_what(c.what);
    r->set_result(ResultName(c.result));
    r->set_message(c.message);
    r->set_seconds(c.seconds);
    for (const QualifyMetric& m : c.metrics) {
      v1::Sample* s = r->add_metrics();
      s->set_metric(m.name);
      s->set_value(m.value);
      s->set_unit(m.unit);
    }
  }
}

QualifyReport QualifyReportFromProto(const v1::QualifyOutcome& outcome, const QualifyOptions& options) {
  QualifyReport report;
  report.options = options;
  report.started_at = outcome.started_at();
  report.plugin_identity = outcome.plugin_identity();
  for (const v1::QualifyCheckResult& r : outcome.checks()) {
    QualifyCheck c;
    c.name = r.name();
    c.what = r.what();
    c.result = r.result() == "pass"   ? QualifyCheck::Result::kPass
               : r.result() == "skip" ? QualifyCheck::Result::kSkip
                                      : QualifyCheck::Result::kFail;
    c.message = r.message();
    c.seconds = r.seconds();
    for (const v1::Sample& s : r.metrics()) c.metrics.push_back({s.metric(), s.value(), s.unit()});
    if (c.result == QualifyCheck::Result::kPass) ++report.passed;
    if (c.result == QualifyCheck::Result::kFail) ++report.failed;
    if (c.result == QualifyCheck::Result::kSkip) ++report.skipped;
    report.checks.push_back(std::move(c));
  }
  return report;
}

StatusOr<v1::RunResult> RunQualifyWorkload(const v1::RunSpec& spec, const std::string& model_path,
                                           const std::function<void(const v1::RunEvent&)>& sink) {
  const v1::QualifyWorkload& q = spec.qualify();
  if (q.plugin().empty() || q.soc().empty()) return InvalidArgument("the qualify spec needs a plugin and a SoC");
  QualifyOptions opt;
  opt.plugin = q.plugin();
  opt.soc = q.soc();
  opt.plugin_dir = DefaultNpuPluginDir();  // the agent's --plugin-dir, through $TLMBENCH_PLUGIN_DIR
  if (q.check_timeout_s() > 0) opt.timeout_s = q.check_timeout_s();
  if (q.repeats() >= 2) opt.repeats = q.repeats();
  opt.only.assign(q.only().begin(), q.only().end());
  opt.model_path = model_path;
  opt.model_tokens = q.model_tokens();
  if (q.model_timeout_s() > 0) opt.model_timeout_s = q.model_timeout_s();
  opt.threads = spec.threads();

  int total = 0;
  for (const std::string& name : QualifyCheckNames())
    if (name == "abi.load" || StartsWithAny(name, opt.only)) ++total;
  int done = 0;
  const QualifyReport report = RunQualify(opt, [&](const QualifyCheck& c) {
    ++done;
    v1::RunEvent e;
    e.set_run_id(spec.run_id());
    e.mutable_progress()->set_message(
        fmt::format("{}/{} {}: {} ({:.2f} s)", done, total, c.name, ResultName(c.result), c.seconds));
    e.mutable_progress()->set_fraction(total > 0 ? std::min(1.0, static_cast<double>(done) / total) : -1);
    sink(e);
  });
  v1::RunResult result;
  QualifyReportToProto(report, result.mutable_qualify());
  result.set_backend_device(report.plugin_identity.empty() ? "npu plugin " + opt.plugin + " (not loaded)"
                                                           : report.plugin_identity);
  result.set_threads(opt.threads);
  result.set_reps(1);
  return result;
}

void RegisterQualifyWorkload() { RegisterWorkload("qualify", RunQualifyWorkload); }

StatusOr<v1::DeviceInfo> GetAgentDeviceInfo(const AgentEndpoint& endpoint, double deadline_s) {
  auto stub = v1::Agent::NewStub(MakeAgentChannel(endpoint));
  grpc::ClientContext ctx;
  AddAgentAuth(ctx, endpoint);
  ctx.set_deadline(std::chrono::system_clock::now() +
                   std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::duration<double>(deadline_s)));
  v1::DeviceInfo info;
  const grpc::Status st = stub->GetDeviceInfo(&ctx, v1::GetDeviceInfoRequest(), &info);
  if (!st.ok()) return Unavailable("cannot reach the agent at {}: {}", endpoint.address, GrpcError(st));
  return info;
}

StatusOr<QualifyReport> RunQualifyOnAgent(const AgentEndpoint& endpoint, const QualifyOptions& options,
                                          const std::string& model, const v1::BuildInfo& build,
                                          const std::function<void(const std::string&)>& progress) {
  TLM_ASSIGN_OR_RETURN(v1::DeviceInfo device, GetAgentDeviceInfo(endpoint));
  v1::RunScenarioRequest req;
  req.mutable_controller_build()->CopyFrom(build);
  v1::RunSpec* spec = req.mutable_spec();
  std::random_device rd;
  spec->set_run_id(fmt::format("qualify-{}-{}-{:08x}", options.plugin, options.soc, rd()));
  spec->set_workload("qualify");
  spec->set_scenario("qualify");
  spec->set_model(model);
  spec->set_threads(options.threads);
  spec->set_attempt(1);
  spec->set_source("tlmbench qualify --agent");
  v1::QualifyWorkload* q = spec->mutable_qualify();
  q->set_plugin(options.plugin);
  q->set_soc(options.soc);
  q->set_check_timeout_s(options.timeout_s);
  q->set_repeats(options.repeats);
  for (const std::string& o : options.only) q->add_only(o);
  q->set_model_tokens(options.model_tokens);
  q->set_model_timeout_s(options.model_timeout_s);
  // The whole suite: every check at its limit, the model check at its own, and room to start workers.
  const double timeout_s = static_cast<double>(QualifyCheckNames().size()) * options.timeout_s +
                           (model.empty() ? 0 : options.model_timeout_s) + 60;
  spec->set_timeout_s(timeout_s);

  progress(fmt::format("agent {} at {} ({}, {} {})", device.name(), endpoint.address, device.hostname(),
                       device.arch(), device.cpu().model()));
  auto stub = v1::Agent::NewStub(MakeAgentChannel(endpoint));
  grpc::ClientContext ctx;
  AddAgentAuth(ctx, endpoint);
  // Queueing behind another run counts too: allow the run's own limit twice over before giving up.
  ctx.set_deadline(std::chrono::system_clock::now() +
                   std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::duration<double>(2 * timeout_s + 60)));
  auto reader = stub->RunScenario(&ctx, req);
  v1::RunEvent e;
  std::optional<v1::RunResult> result;
  std::optional<v1::RunError> error;
  while (reader->Read(&e)) {
    if (e.has_accepted()) {
      progress(fmt::format("accepted by {} (queue position {})", e.accepted().agent(), e.accepted().queue_position()));
    } else if (e.has_progress()) {
      progress(e.progress().message());
    } else if (e.has_result()) {
      result = e.result();
    } else if (e.has_error()) {
      error = e.error();
    }
  }
  const grpc::Status st = reader->Finish();
  if (error) {
    std::string msg = fmt::format("agent {}: {}: {}", endpoint.address, v1::RunStatus_Name(error->status()), error->message());
    if (!error->cause().empty()) msg += "\n" + error->cause();
    if (error->status() == v1::REFUSED) return InvalidArgument("{}", msg);
    return Internal("{}", msg);
  }
  if (!result) {
    return Unavailable("lost the agent at {} before the qualification finished: {}", endpoint.address,
                       st.ok() ? "the stream ended without a result" : GrpcError(st));
  }
  if (result->status() != v1::OK)
    return Internal("agent {}: {}: {}", endpoint.address, v1::RunStatus_Name(result->status()), result->error());
  QualifyOptions reported = options;
  reported.model_path = model;  // the file name on the agent (the dataset rows' dtype column)
  return QualifyReportFromProto(result->qualify(), reported);
}

}  // namespace tlm
