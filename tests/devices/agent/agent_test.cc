// The agent as a client sees it: real `tlmbench agent` processes on loopback, called through the
// generated tlmbench.v1.Agent stub. Authentication (token, mutual TLS), model confinement, worker
// isolation (crash, hang), the device lock, Cancel, and the standard health service.
#include <gtest/gtest.h>

#include <grpcpp/generic/generic_stub.h>
#include <grpcpp/grpcpp.h>

#include <fmt/format.h>
#include <fmt/ranges.h>

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <future>
#include <map>
#include <sstream>
#include <thread>

#include "tests/support/farm_fixture.h"
#include "tlmbench/v1/agent.grpc.pb.h"

namespace tlm {
namespace {

namespace v1 = tlmbench::v1;
using namespace tlm::testing;
using namespace std::chrono_literals;

std::unique_ptr<v1::Agent::Stub> Connect(const std::string& address,
                                         std::shared_ptr<grpc::ChannelCredentials> creds = nullptr) {
  auto channel = grpc::CreateChannel(address, creds ? creds : grpc::InsecureChannelCredentials());
  return v1::Agent::NewStub(channel);
}

struct Events {
  std::vector<v1::RunEvent> all;
  grpc::Status status;
  const v1::RunEvent* Last() const { return all.empty() ? nullptr : &all.back(); }
  const v1::Accepted* Accepted() const {
    for (const auto& e : all)
      if (e.has_accepted()) return &e.accepted();
    return nullptr;
  }
};

Events RunSpecOn(v1::Agent::Stub& stub, const v1::RunSpec& spec, const std::string& token = "") {
  grpc::ClientContext ctx;
  if (!token.empty()) ctx.AddMetadata("authorization", "Bearer " + token);
  ctx.set_deadline(std::chrono::system_clock::now() + 120s);
  v1::RunScenarioRequest req;
  *req.mutable_spec() = spec;
  auto reader = stub.RunScenario(&ctx, req);
  Events ev;
  v1::RunEvent e;
  while (reader->Read(&e)) ev.all.push_back(e);
  ev.status = reader->Finish();
  return ev;
}

v1::RunSpec NullSpec(const std::string& run_id, double sleep_ms = 1, int reps = 1) {
  v1::RunSpec s;
  s.set_run_id(run_id);
  s.set_workload("null");
  s.set_backend("cpu");
  s.mutable_measurement()->set_min_reps(reps);
  s.mutable_null_workload()->set_sleep_ms(sleep_ms);
  s.set_timeout_s(60);
  return s;
}

class AgentTest : public ::testing::Test {
 protected:
  void SetUp() override {
    models_ = dir_ / "models";
    std::filesystem::create_directories(models_);
    WriteFile(models_ + "/tiny.gguf", "not really a model");
  }
  // A one-layer synthetic llama (Q8_0) from `tlmbench make-model`, written to `path`.
  void MakeTinyModel(const std::string& path) {
    CommandResult made =
        RunCommand({TlmbenchBinary(), "make-model", "--arch",  "llama", "--layers",   "1", "--embd",     "64",
                    "--ff",           "128",        "--heads", "2",     "--kv-heads", "1", "--head-dim", "32",
                    "--vocab",        "512",        "--type",  "q8_0",  "--seed",     "0", "-o",         path},
                   dir_ / "make-model");
    ASSERT_EQ(made.code, 0) << made.err;
  }
  TempDir dir_;
  std::string models_;
};

TEST_F(AgentTest, ReportsDeviceFactsAndRunsANullWorkloadInAWorker) {
  AgentProcess agent;
  ASSERT_TRUE(agent.Start("a1", models_, dir_.path().string(), {"--labels", "pool=test,board=vm"}))
      << agent.process().Stderr();
  auto stub = Connect(agent.address());
  grpc::ClientContext ctx;
  v1::DeviceInfo info;
  ASSERT_TRUE(stub->GetDeviceInfo(&ctx, {}, &info).ok());
  EXPECT_EQ(info.name(), "a1");
  EXPECT_EQ(info.labels().at("pool"), "test");
  EXPECT_GT(info.cpu().logical_cpus(), 0);
  EXPECT_FALSE(info.build().git_commit().empty());
  ASSERT_EQ(info.models_size(), 1);
  EXPECT_EQ(info.models(0).name(), "tiny.gguf");
  bool cpu_available = false;
  for (const auto& b : info.backends()) {
    if (b.name() == "cpu") cpu_available = b.available();
    if (!b.available()) {
      EXPECT_FALSE(b.reason().empty()) << b.name();
    }
  }
  EXPECT_TRUE(cpu_available);

  Events ev = RunSpecOn(*stub, NullSpec("run-null-1", 5, 3));
  ASSERT_TRUE(ev.status.ok()) << ev.status.error_message();
  ASSERT_NE(ev.Accepted(), nullptr);
  ASSERT_TRUE(ev.Last()->has_result()) << ev.Last()->DebugString();
  const v1::RunResult& r = ev.Last()->result();
  EXPECT_EQ(r.status(), v1::OK);
  EXPECT_EQ(r.reps(), 3);
  EXPECT_EQ(r.agent(), "a1");
  EXPECT_NE(r.verdict(), v1::VERDICT_UNSPECIFIED);
  EXPECT_FALSE(r.verdict_reason().empty());
  EXPECT_FALSE(r.started_at().empty());
  int reps = 0;
  for (const auto& s : r.samples())
    if (s.metric() == "null_rep_ms") {
      ++reps;
      EXPECT_GE(s.value(), 5.0);
    }
  EXPECT_EQ(reps, 3);
  EXPECT_TRUE(std::isfinite(r.hygiene().load_avg_1m_before()));
}

TEST_F(AgentTest, ListsNpuPluginsWithTheirSocsOrWhyTheyCannotLoad) {
  // Each plugin is loaded in a child process at start: one that crashes while loading, one built
  // for another ABI and a file that is no library are listed with their errors; the agent serves on.
  const std::string plugins = dir_ / "plugins";
  std::filesystem::create_directories(plugins);
  for (const auto& [from, name] :
       std::vector<std::pair<std::string, std::string>>{{TLM_PLUGIN_DIR, "vnpu"},
                                                        {TLM_TEST_PLUGIN_DIR, "broken_load_crash"},
                                                        {TLM_TEST_PLUGIN_DIR, "broken_wrong_abi"}})
    std::filesystem::copy_file(from + "/tlm_npu_" + name + ".so", plugins + "/tlm_npu_" + name + ".so");
  WriteFile(plugins + "/tlm_npu_garbage.so", "not an ELF file");
  AgentProcess agent;
  ASSERT_TRUE(agent.Start("a1", models_, dir_.path().string(), {"--plugin-dir", plugins}))
      << agent.process().Stderr();
  auto stub = Connect(agent.address());
  grpc::ClientContext ctx;
  v1::DeviceInfo info;
  ASSERT_TRUE(stub->GetDeviceInfo(&ctx, {}, &info).ok());
  std::map<std::string, v1::NpuPlugin> by_file;
  for (const v1::NpuPlugin& p : info.npu_plugins()) by_file[std::filesystem::path(p.path()).filename()] = p;
  ASSERT_EQ(by_file.size(), 4u);
  const v1::NpuPlugin& vnpu = by_file["tlm_npu_vnpu.so"];
  EXPECT_EQ(vnpu.error(), "");
  EXPECT_FALSE(vnpu.vendor().empty());
  EXPECT_FALSE(vnpu.version().empty());
  EXPECT_NE(std::find(vnpu.socs().begin(), vnpu.socs().end(), "vnpu-small"), vnpu.socs().end())
      << vnpu.DebugString();
  EXPECT_NE(by_file["tlm_npu_broken_load_crash.so"].error().find("loading it crashed: killed by SIG"),  // SIGABRT under ASan
            std::string::npos)
      << by_file["tlm_npu_broken_load_crash.so"].DebugString();
  EXPECT_NE(by_file["tlm_npu_broken_wrong_abi.so"].error().find("ABI"), std::string::npos)
      << by_file["tlm_npu_broken_wrong_abi.so"].DebugString();
  EXPECT_FALSE(by_file["tlm_npu_garbage.so"].error().empty());
  EXPECT_TRUE(by_file["tlm_npu_garbage.so"].socs().empty());
  // And the agent still runs work.
  Events ev = RunSpecOn(*stub, NullSpec("run-after-probe"));
  ASSERT_TRUE(ev.Last() && ev.Last()->has_result()) << ev.status.error_message();
}

TEST_F(AgentTest, RunsAnNpuArtifactFromTheModelsDirAndConfinesIt) {
  // An AOT artifact compiled on the host sits beside its model in --models-dir; a spec names it in
  // the backend string (npu:plugin=P,soc=S,artifact=F), confined to --models-dir like a model.
  const std::string model = models_ + "/npu-tiny.gguf";
  CommandResult made = RunCommand({TlmbenchBinary(), "make-model", "--layers", "1", "--embd", "64", "--ff", "128",
                                   "--heads", "2", "--head-dim", "32", "--vocab", "512", "-o", model},
                                  dir_ / "make-model");
  ASSERT_EQ(made.code, 0) << made.err;
  CommandResult compiled =
      RunCommand({TlmbenchBinary(), "compile", "-q", "-m", model, "--plugin", "vnpu", "--soc", "vnpu-small",
                  "--plugin-dir", TLM_PLUGIN_DIR, "-o", models_ + "/npu-tiny.tlmnpu"},
                 dir_ / "compile");
  ASSERT_EQ(compiled.code, 0) << compiled.err;
  AgentProcess agent;
  ASSERT_TRUE(agent.Start("npu", models_, dir_.path().string(), {"--plugin-dir", TLM_PLUGIN_DIR}))
      << agent.process().Stderr();
  auto stub = Connect(agent.address());
  auto spec = [](const std::string& id, const std::string& artifact) {
    v1::RunSpec s;
    s.set_run_id(id);
    s.set_workload("generate");
    s.set_backend("npu:plugin=vnpu,soc=vnpu-small,artifact=" + artifact);
    s.set_model("npu-tiny.gguf");
    s.set_threads(1);
    s.set_n_prompt(4);
    s.set_n_gen(2);
    s.set_timeout_s(120);
    s.mutable_measurement()->set_min_reps(1);
    return s;
  };
  Events ok = RunSpecOn(*stub, spec("npu-1", "npu-tiny.tlmnpu"));
  ASSERT_TRUE(ok.Last() && ok.Last()->has_result()) << (ok.Last() ? ok.Last()->DebugString() : "");
  EXPECT_EQ(ok.Last()->result().status(), v1::OK);
  EXPECT_NE(ok.Last()->result().backend_device().find("artifact "), std::string::npos)
      << ok.Last()->result().backend_device();
  for (const auto& [artifact, why] : std::vector<std::pair<std::string, std::string>>{
           {"../outside.tlmnpu", "npu artifact '../outside.tlmnpu' leaves --models-dir"},
           {"/etc/passwd", "npu artifact '/etc/passwd' is an absolute path"},
           {"missing.tlmnpu", "npu artifact 'missing.tlmnpu' is not in --models-dir"}}) {
    Events refused = RunSpecOn(*stub, spec("npu-refused", artifact));
    ASSERT_TRUE(refused.Last() && refused.Last()->has_error()) << artifact;
    EXPECT_EQ(refused.Last()->error().status(), v1::REFUSED) << artifact;
    EXPECT_NE(refused.Last()->error().message().find(why), std::string::npos) << refused.Last()->error().message();
  }
}

TEST_F(AgentTest, RefusesClientsWithoutTheToken) {
  WriteFile(dir_ / "token", "s3cret\n");
  AgentProcess agent;
  ASSERT_TRUE(agent.Start("tok", models_, dir_.path().string(), {"--auth-token-file", dir_ / "token"}));
  auto stub = Connect(agent.address());
  {
    grpc::ClientContext ctx;
    v1::DeviceInfo info;
    grpc::Status st = stub->GetDeviceInfo(&ctx, {}, &info);
    EXPECT_EQ(st.error_code(), grpc::StatusCode::UNAUTHENTICATED);
    EXPECT_NE(st.error_message().find("requires a token"), std::string::npos) << st.error_message();
  }
  {
    grpc::ClientContext ctx;
    ctx.AddMetadata("authorization", "Bearer wrong");
    v1::DeviceInfo info;
    EXPECT_EQ(stub->GetDeviceInfo(&ctx, {}, &info).error_code(), grpc::StatusCode::UNAUTHENTICATED);
  }
  Events refused = RunSpecOn(*stub, NullSpec("run-tok-0"));
  EXPECT_EQ(refused.status.error_code(), grpc::StatusCode::UNAUTHENTICATED);
  EXPECT_TRUE(refused.all.empty());
  Events ok = RunSpecOn(*stub, NullSpec("run-tok-1"), "s3cret");
  ASSERT_TRUE(ok.status.ok());
  ASSERT_TRUE(ok.Last()->has_result());
}

// Mutual TLS: certificates made with the openssl command line, as an operator would.
TEST_F(AgentTest, MutualTlsRefusesClientsWithoutACertificate) {
  const std::string d = dir_.path().string();
  const std::string script =
      "set -e; cd " + d +
      "; openssl req -x509 -newkey rsa:2048 -nodes -keyout ca.key -out ca.pem -days 2 -subj /CN=tlm-test-ca "
      ">/dev/null 2>&1"
      "; for n in server client; do openssl req -newkey rsa:2048 -nodes -keyout $n.key -out $n.csr -subj "
      "/CN=localhost >/dev/null 2>&1; printf 'subjectAltName=DNS:localhost,IP:127.0.0.1' > $n.ext; openssl x509 "
      "-req -in $n.csr -CA ca.pem -CAkey ca.key -CAcreateserial -out $n.pem -days 2 -extfile $n.ext >/dev/null "
      "2>&1; done";
  ASSERT_EQ(std::system(script.c_str()), 0) << "openssl could not make test certificates";
  AgentProcess agent;
  ASSERT_TRUE(agent.Start("tls", models_, d,
                          {"--tls-cert", d + "/server.pem", "--tls-key", d + "/server.key", "--tls-ca", d + "/ca.pem"}))
      << agent.process().Stderr();
  auto read = [&](const std::string& f) {
    std::ifstream in(d + "/" + f);
    std::stringstream ss;
    ss << in.rdbuf();
    return ss.str();
  };
  {
    grpc::SslCredentialsOptions no_cert;
    no_cert.pem_root_certs = read("ca.pem");
    auto stub = Connect(agent.address(), grpc::SslCredentials(no_cert));
    grpc::ClientContext ctx;
    ctx.set_deadline(std::chrono::system_clock::now() + 5s);
    v1::DeviceInfo info;
    EXPECT_FALSE(stub->GetDeviceInfo(&ctx, {}, &info).ok());
  }
  {
    auto stub = Connect(agent.address());  // plaintext to a TLS port
    grpc::ClientContext ctx;
    ctx.set_deadline(std::chrono::system_clock::now() + 5s);
    v1::DeviceInfo info;
    EXPECT_FALSE(stub->GetDeviceInfo(&ctx, {}, &info).ok());
  }
  {
    grpc::SslCredentialsOptions with_cert;
    with_cert.pem_root_certs = read("ca.pem");
    with_cert.pem_cert_chain = read("client.pem");
    with_cert.pem_private_key = read("client.key");
    auto stub = Connect(agent.address(), grpc::SslCredentials(with_cert));
    grpc::ClientContext ctx;
    ctx.set_deadline(std::chrono::system_clock::now() + 10s);
    v1::DeviceInfo info;
    grpc::Status st = stub->GetDeviceInfo(&ctx, {}, &info);
    EXPECT_TRUE(st.ok()) << st.error_message();
    EXPECT_EQ(info.name(), "tls");
  }
}

TEST_F(AgentTest, ConfinesModelsToTheModelsDir) {
  WriteFile(dir_ / "outside.gguf", "outside");
  std::filesystem::create_symlink(dir_ / "outside.gguf", models_ + "/escape.gguf");
  AgentProcess agent;
  ASSERT_TRUE(agent.Start("conf", models_, dir_.path().string()));
  auto stub = Connect(agent.address());
  struct Case {
    std::string model, expect;
  } cases[] = {
      {"../outside.gguf", "'..' is not allowed"},
      {dir_ / "outside.gguf", "absolute path"},
      {"escape.gguf", "resolves outside --models-dir"},
      {"missing.gguf", "is not in --models-dir"},
  };
  int i = 0;
  for (const Case& c : cases) {
    v1::RunSpec spec;
    spec.set_run_id("conf-" + std::to_string(i++));
    spec.set_workload("generate");
    spec.set_backend("cpu");
    spec.set_model(c.model);
    Events ev = RunSpecOn(*stub, spec);
    ASSERT_TRUE(ev.status.ok());
    ASSERT_NE(ev.Last(), nullptr);
    ASSERT_TRUE(ev.Last()->has_error()) << c.model;
    EXPECT_EQ(ev.Last()->error().status(), v1::REFUSED) << c.model;
    EXPECT_NE(ev.Last()->error().message().find(c.expect), std::string::npos) << ev.Last()->error().message();
    EXPECT_EQ(ev.Accepted(), nullptr) << "a refused spec never queues";
  }
}

TEST_F(AgentTest, ACorruptModelFailsInTheWorkerWithTheReaderMessage) {
  AgentProcess agent;
  ASSERT_TRUE(agent.Start("corrupt", models_, dir_.path().string()));
  auto stub = Connect(agent.address());
  v1::RunSpec spec;
  spec.set_run_id("corrupt-1");
  spec.set_workload("generate");
  spec.set_backend("cpu");
  spec.set_model("tiny.gguf");
  spec.set_n_prompt(4);
  spec.set_n_gen(2);
  Events ev = RunSpecOn(*stub, spec);
  ASSERT_TRUE(ev.Last()->has_error()) << ev.Last()->DebugString();
  EXPECT_EQ(ev.Last()->error().status(), v1::REFUSED);
  EXPECT_NE(ev.Last()->error().message().find("tiny.gguf"), std::string::npos) << ev.Last()->error().message();
  EXPECT_TRUE(agent.process().running()) << "the agent survives";
}

TEST_F(AgentTest, AWorkerCrashIsReportedWithItsSignalAndTheAgentLivesOn) {
  AgentProcess agent;
  ASSERT_TRUE(agent.Start("crash", models_, dir_.path().string()));
  auto stub = Connect(agent.address());
  v1::RunSpec spec = NullSpec("crash-1");
  spec.mutable_null_workload()->set_crash(true);
  Events ev = RunSpecOn(*stub, spec);
  ASSERT_TRUE(ev.Last()->has_error());
  EXPECT_EQ(ev.Last()->error().status(), v1::CRASHED);
  EXPECT_EQ(ev.Last()->error().signal(), SIGABRT);
  EXPECT_NE(ev.Last()->error().message().find("SIGABRT"), std::string::npos) << ev.Last()->error().message();
  EXPECT_TRUE(ev.Last()->error().retryable());
  // And the next run is fine.
  Events next = RunSpecOn(*stub, NullSpec("crash-2"));
  ASSERT_TRUE(next.Last()->has_result());
  EXPECT_TRUE(agent.process().running());
}

TEST_F(AgentTest, AHungWorkerIsKilledAtItsTimeout) {
  AgentProcess agent;
  ASSERT_TRUE(agent.Start("hang", models_, dir_.path().string()));
  auto stub = Connect(agent.address());
  v1::RunSpec spec = NullSpec("hang-1");
  spec.mutable_null_workload()->set_hang_s(60);
  spec.set_timeout_s(1);
  const auto t0 = std::chrono::steady_clock::now();
  Events ev = RunSpecOn(*stub, spec);
  const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  ASSERT_TRUE(ev.Last()->has_error());
  EXPECT_EQ(ev.Last()->error().status(), v1::TIMED_OUT);
  EXPECT_NE(ev.Last()->error().message().find("time-out of 1 s"), std::string::npos);
  EXPECT_LT(s, 10.0);
}

TEST_F(AgentTest, OneMeasurementAtATimeOthersQueueAndSayHowLong) {
  AgentProcess agent;
  ASSERT_TRUE(agent.Start("lock", models_, dir_.path().string()));
  auto stub = Connect(agent.address());
  auto first = std::async(std::launch::async, [&] { return RunSpecOn(*stub, NullSpec("lock-1", 400, 2)); });
  std::this_thread::sleep_for(300ms);  // the first holds the device
  Events second = RunSpecOn(*stub, NullSpec("lock-2", 1, 1));
  Events one = first.get();
  ASSERT_TRUE(one.Last()->has_result());
  ASSERT_TRUE(second.Last()->has_result());
  ASSERT_NE(second.Accepted(), nullptr);
  EXPECT_EQ(second.Accepted()->queue_position(), 1);
  EXPECT_GT(second.Last()->result().queue_ms(), 200.0);
  EXPECT_LT(one.Last()->result().queue_ms(), 100.0);
}

TEST_F(AgentTest, CancelStopsARunningWorker) {
  AgentProcess agent;
  ASSERT_TRUE(agent.Start("cancel", models_, dir_.path().string()));
  auto stub = Connect(agent.address());
  v1::RunSpec spec = NullSpec("cancel-1");
  spec.mutable_null_workload()->set_hang_s(60);
  auto running = std::async(std::launch::async, [&] { return RunSpecOn(*stub, spec); });
  std::this_thread::sleep_for(500ms);
  grpc::ClientContext ctx;
  v1::CancelRequest req;
  req.set_run_id("cancel-1");
  v1::CancelResponse resp;
  ASSERT_TRUE(stub->Cancel(&ctx, req, &resp).ok());
  EXPECT_TRUE(resp.found());
  Events ev = running.get();
  ASSERT_TRUE(ev.Last()->has_error());
  EXPECT_EQ(ev.Last()->error().status(), v1::CANCELLED);
}

// grpc.health.v1.Health/Check through the generic stub: request {} and reply {status: SERVING=1}.
TEST_F(AgentTest, ServesTheStandardHealthService) {
  AgentProcess agent;
  ASSERT_TRUE(agent.Start("health", models_, dir_.path().string()));
  auto channel = grpc::CreateChannel(agent.address(), grpc::InsecureChannelCredentials());
  grpc::GenericStub generic(channel);
  grpc::ClientContext ctx;
  ctx.set_deadline(std::chrono::system_clock::now() + 10s);
  grpc::Slice empty("");  // an empty HealthCheckRequest: service "" (the whole server)
  grpc::ByteBuffer request(&empty, 1), reply;
  std::promise<grpc::Status> done;
  generic.UnaryCall(&ctx, "/grpc.health.v1.Health/Check", grpc::StubOptions(), &request, &reply,
                    [&](grpc::Status st) { done.set_value(st); });
  grpc::Status st = done.get_future().get();
  ASSERT_TRUE(st.ok()) << st.error_message();
  std::vector<grpc::Slice> slices;
  ASSERT_TRUE(reply.Dump(&slices).ok());
  std::string bytes;
  for (const auto& s : slices) bytes.append(reinterpret_cast<const char*>(s.begin()), s.size());
  EXPECT_EQ(bytes, std::string("\x08\x01", 2)) << "status: SERVING";
}

// A run spec's activations reach the worker's session (the result says which it ran), and a
// value the agent does not know is refused with the list, not run as f32.
TEST_F(AgentTest, RunsTheActivationsItIsAskedForAndRefusesUnknownOnes) {
  const std::string model = models_ + "/synthetic-acts.gguf";
  ASSERT_NO_FATAL_FAILURE(MakeTinyModel(model));
  AgentProcess agent;
  ASSERT_TRUE(agent.Start("acts", models_, dir_.path().string()));
  auto stub = Connect(agent.address());
  auto spec_for = [](const std::string& run_id, const std::string& activations) {
    v1::RunSpec spec;
    spec.set_run_id(run_id);
    spec.set_workload("generate");
    spec.set_backend("cpu");
    spec.set_model("synthetic-acts.gguf");
    spec.set_threads(1);
    spec.set_n_prompt(8);
    spec.set_n_gen(2);
    spec.set_activations(activations);
    spec.set_timeout_s(60);
    return spec;
  };
  for (const std::string acts : {"q8", "q8x2"}) {
    Events ev = RunSpecOn(*stub, spec_for("acts-" + acts, acts));
    ASSERT_TRUE(ev.Last() && ev.Last()->has_result())
        << acts << ": " << (ev.Last() ? ev.Last()->DebugString() : ev.status.error_message());
    const std::string result = ev.Last()->result().DebugString();
    EXPECT_NE(result.find(acts + " activations"), std::string::npos) << result;
  }
  Events bad = RunSpecOn(*stub, spec_for("acts-bad", "q16"));
  ASSERT_TRUE(bad.Last() && bad.Last()->has_error()) << (bad.Last() ? bad.Last()->DebugString() : "");
  EXPECT_EQ(bad.Last()->error().status(), v1::REFUSED);
  EXPECT_NE(bad.Last()->error().message().find("activations must be f32, q8 or q8x2, got 'q16'"), std::string::npos)
      << bad.Last()->error().message();
}

// --counter instructions: on this VM there is no PMU, so the agent runs the worker under callgrind;
// where perf_event_open works it is used instead. Either way the counts must be steady across
// repetitions (the point of the mode) and present for every measured repetition.
TEST_F(AgentTest, CountsInstructionsPerRepetitionDeterministically) {
  const std::string model = models_ + "/synthetic-tiny.gguf";
  ASSERT_NO_FATAL_FAILURE(MakeTinyModel(model));
  AgentProcess agent;
  ASSERT_TRUE(agent.Start("count", models_, dir_.path().string()));
  auto stub = Connect(agent.address());
  v1::RunSpec spec;
  spec.set_run_id("count-1");
  spec.set_workload("generate");
  spec.set_backend("cpu");
  spec.set_model("synthetic-tiny.gguf");
  spec.set_threads(1);
  spec.set_n_prompt(8);
  spec.set_n_gen(4);
  spec.set_counter("instructions");
  spec.set_timeout_s(120);
  spec.mutable_measurement()->set_warmup(1);
  spec.mutable_measurement()->set_min_reps(3);
  spec.mutable_measurement()->set_max_reps(3);
  Events ev = RunSpecOn(*stub, spec);
#if defined(__SANITIZE_ADDRESS__)
  // An ASan binary cannot run under valgrind: on a machine without a PMU the agent must say so.
  if (ev.Last() && ev.Last()->has_error()) {
    EXPECT_EQ(ev.Last()->error().status(), v1::REFUSED);
    EXPECT_NE(ev.Last()->error().message().find("AddressSanitizer"), std::string::npos);
    std::printf("*** ASan build: instruction counting refused as expected: %s\n", ev.Last()->error().message().c_str());
    return;
  }
#endif
  ASSERT_TRUE(ev.Last() && ev.Last()->has_result())
      << (ev.Last() ? ev.Last()->DebugString() : ev.status.error_message());
  std::vector<double> counts;
  std::string source;
  for (const auto& e : ev.all)
    if (e.has_progress() && e.progress().message().find("counting instructions with") != std::string::npos)
      source = e.progress().message();
  for (const auto& smp : ev.Last()->result().samples())
    if (smp.metric() == "instructions") counts.push_back(smp.value());
  std::printf("%s: %s\n", source.c_str(), fmt::format("{}", fmt::join(counts, ", ")).c_str());
  ASSERT_EQ(counts.size(), 3u);
  const auto [lo, hi] = std::minmax_element(counts.begin(), counts.end());
  EXPECT_GT(*lo, 10000.0) << "a forward pass retires more than that";
  EXPECT_LT((*hi - *lo) / *lo, 0.005) << "instruction counts vary by more than 0.5% between repetitions";
}

}  // namespace
}  // namespace tlm
