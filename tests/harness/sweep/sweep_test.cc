// `tlmbench sweep` driving real `tlmbench agent` processes: what lands in the dataset when all goes
// well, when an agent or the controller is killed with SIGKILL mid-sweep, when a run hangs, when a
// client lacks the token, when no agent matches, and when the spec is malformed.
#include <gtest/gtest.h>

#include <algorithm>
#include <deque>
#include <set>
#include <string>
#include <thread>

#include "tests/support/farm_fixture.h"

namespace tlm {
namespace {

using namespace tlm::testing;
using namespace std::chrono_literals;

// A null-workload spec of n runs (distinct points via the n_prompt axis), each sleeping sleep_ms
// per repetition for reps repetitions.
std::string NullSpec(int n, double sleep_ms, int reps, const std::string& extra = "") {
  std::string values;
  for (int i = 1; i <= n; ++i) values += (i > 1 ? ", " : "") + std::to_string(i);
  return "name: farm-test\nworkload: null\ntimeout_s: 60\n"
         "measurement: {warmup: 0, min_reps: " +
         std::to_string(reps) + ", max_reps: " + std::to_string(reps) +
         "}\nnull: {sleep_ms: " + std::to_string(sleep_ms) + "}\n" + extra + "matrix:\n  n_prompt: [" + values + "]\n";
}

class SweepTest : public ::testing::Test {
 protected:
  void SetUp() override {
    models_ = dir_ / "models";
    std::filesystem::create_directories(models_);
    db_ = dir_ / "results.db";
  }
  void StartAgents(int n, const std::vector<std::string>& extra = {}) {
    agents_.resize(n);
    for (int i = 0; i < n; ++i)
      ASSERT_TRUE(agents_[i].Start("agent-" + std::to_string(i), models_, dir_.path().string(), extra))
          << agents_[i].process().Stderr();
  }
  std::string AgentList() const {
    std::string out;
    for (const auto& a : agents_) out += (out.empty() ? "" : ",") + a.address();
    return out;
  }
  std::vector<std::string> SweepArgv(const std::string& spec, std::vector<std::string> extra = {}) {
    std::vector<std::string> argv = {TlmbenchBinary(), "sweep",         spec, "--agents",
                                     AgentList(),      "--out",         db_,  "--progress",
                                     "lines",          "--agent-grace", "2"};
    argv.insert(argv.end(), extra.begin(), extra.end());
    return argv;
  }
  // -1 while the dataset or its tables do not exist yet.
  int Count(const std::string& sql) {
    const std::string v = QueryOne(db_, sql);
    return !v.empty() && std::all_of(v.begin(), v.end(), ::isdigit) ? std::stoi(v) : -1;
  }
  std::string SweepId() { return QueryOne(db_, "SELECT sweep_id FROM sweeps ORDER BY started_at DESC LIMIT 1"); }

  TempDir dir_;
  std::string models_, db_;
  std::deque<AgentProcess> agents_;
};

TEST_F(SweepTest, ThreeAgentsShareTheRunsAndEveryResultLandsOnce) {
  StartAgents(3);
  WriteFile(dir_ / "spec.yaml", NullSpec(18, 30, 2));
  CommandResult r = RunCommand(SweepArgv(dir_ / "spec.yaml"), dir_ / "sweep");
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_EQ(Count("SELECT COUNT(*) FROM runs"), 18);
  EXPECT_EQ(Count("SELECT COUNT(*) FROM runs WHERE status = 'ok'"), 18);
  EXPECT_EQ(Count("SELECT COUNT(DISTINCT device) FROM runs"), 3) << "every agent took runs";
  EXPECT_EQ(Count("SELECT COUNT(*) FROM devices"), 3);
  EXPECT_EQ(Count("SELECT COUNT(*) FROM samples WHERE metric = 'null_rep_ms'"), 36);
  EXPECT_EQ(QueryOne(db_, "SELECT status FROM sweeps"), "done");
  EXPECT_EQ(Count("SELECT COUNT(*) FROM runs WHERE spec_hash IS NULL OR git_commit IS NULL OR verdict IS NULL"), 0);
  EXPECT_NE(r.out.find("18 of 18 runs written: 18 ok"), std::string::npos) << r.out;
  // Plain lines when stderr is not a terminal: one per finished run.
  EXPECT_NE(r.err.find("[sweep] 18/18 "), std::string::npos) << r.err;
}

TEST_F(SweepTest, AnAgentKilledMidRunLosesNothingItsRunsFinishElsewhere) {
  StartAgents(3);
  WriteFile(dir_ / "spec.yaml", NullSpec(12, 250, 3));  // ~0.75 s a run, ~3 s a sweep
  Process sweep;
  ASSERT_TRUE(sweep.Start(SweepArgv(dir_ / "spec.yaml"), dir_ / "sweep"));
  // Once results flow, and agent-0 is mid-run, kill it.
  ASSERT_TRUE(WaitFor([&] { return Count("SELECT COUNT(*) FROM runs") >= 2; }, 60s)) << sweep.Stderr();
  const int before = Count("SELECT COUNT(*) FROM runs");
  agents_[0].process().Signal(SIGKILL);
  const int code = sweep.Wait(120s);
  ASSERT_EQ(code, 0) << sweep.Stderr();
  const int after = Count("SELECT COUNT(*) FROM runs");
  std::printf("runs before kill -9: %d, after: %d\n", before, after);
  EXPECT_EQ(after, 12);
  EXPECT_EQ(Count("SELECT COUNT(*) FROM runs WHERE status = 'ok'"), 12);
  EXPECT_EQ(Count("SELECT COUNT(DISTINCT run_id) FROM runs"), 12);
  EXPECT_EQ(Count("SELECT COUNT(*) FROM samples"),
            Count("SELECT COUNT(*) FROM (SELECT DISTINCT run_id, repetition, metric FROM samples)"));
  EXPECT_EQ(Count("SELECT COUNT(*) FROM samples WHERE metric = 'null_rep_ms'"), 36) << "3 repetitions per run, no more";
  // Its in-flight run was recorded as a lost attempt and finished on another agent.
  EXPECT_GE(Count("SELECT COUNT(*) FROM attempts WHERE status = 'lost' AND agent = 'agent-0'"), 1);
  EXPECT_EQ(Count("SELECT COUNT(*) FROM runs r JOIN attempts a USING (run_id) WHERE a.status = 'lost' AND r.device = "
                  "'agent-0'"),
            0);
  EXPECT_NE(sweep.Stderr().find("agent agent-0"), std::string::npos);
}

TEST_F(SweepTest, AControllerKilledMidSweepResumesWithoutDuplicates) {
  StartAgents(2);
  WriteFile(dir_ / "spec.yaml", NullSpec(10, 200, 2));
  Process sweep;
  ASSERT_TRUE(sweep.Start(SweepArgv(dir_ / "spec.yaml"), dir_ / "sweep"));
  ASSERT_TRUE(WaitFor([&] { return Count("SELECT COUNT(*) FROM runs") >= 3; }, 60s)) << sweep.Stderr();
  sweep.Signal(SIGKILL);
  sweep.Wait();
  const int before = Count("SELECT COUNT(*) FROM runs");
  ASSERT_LT(before, 10);
  EXPECT_EQ(QueryOne(db_, "SELECT status FROM sweeps"), "running") << "killed, it could not say otherwise";
  const std::string id = SweepId();
  // The spec comes from the dataset: the resumed sweep needs only the id.
  CommandResult r = RunCommand(
      {TlmbenchBinary(), "sweep", "--resume", id, "--agents", AgentList(), "--out", db_, "--progress", "lines"},
      dir_ / "resume");
  ASSERT_EQ(r.code, 0) << r.err;
  std::printf("runs after kill -9 of the controller: %d, after --resume: %s\n", before,
              QueryOne(db_, "SELECT COUNT(*) FROM runs").c_str());
  EXPECT_EQ(Count("SELECT COUNT(*) FROM runs"), 10);
  EXPECT_EQ(Count("SELECT COUNT(DISTINCT run_id) FROM runs"), 10);
  EXPECT_EQ(Count("SELECT COUNT(*) FROM runs WHERE status = 'ok'"), 10);
  EXPECT_EQ(Count("SELECT COUNT(*) FROM samples WHERE metric = 'null_rep_ms'"), 20);
  EXPECT_EQ(QueryOne(db_, "SELECT status FROM sweeps"), "done");
  EXPECT_NE(r.err.find(std::to_string(before) + " already finished"), std::string::npos) << r.err;
  // Resuming a finished sweep does nothing.
  CommandResult again =
      RunCommand({TlmbenchBinary(), "sweep", "--resume", id, "--agents", AgentList(), "--out", db_}, dir_ / "again");
  EXPECT_EQ(again.code, 0) << again.err;
  EXPECT_EQ(Count("SELECT COUNT(*) FROM runs"), 10);
}

TEST_F(SweepTest, CtrlCCancelsRunsOnTheAgentsAndResumeFinishesTheSweep) {
  StartAgents(2);
  WriteFile(dir_ / "spec.yaml", NullSpec(6, 1500, 1));
  Process sweep;
  ASSERT_TRUE(sweep.Start(SweepArgv(dir_ / "spec.yaml"), dir_ / "sweep"));
  // Both agents busy with a run.
  ASSERT_TRUE(WaitFor(
      [&] {
        return agents_[0].process().Stderr().find("run ") != std::string::npos &&
               agents_[1].process().Stderr().find("run ") != std::string::npos;
      },
      30s));
  std::this_thread::sleep_for(300ms);
  sweep.Signal(SIGINT);
  EXPECT_EQ(sweep.Wait(30s), 130) << sweep.Stderr();
  EXPECT_NE(sweep.Stderr().find("finish it with: tlmbench sweep --resume"), std::string::npos) << sweep.Stderr();
  EXPECT_EQ(QueryOne(db_, "SELECT status FROM sweeps"), "interrupted");
  // The agents were told: their workers are gone, well before the 1.5 s runs would have ended.
  for (auto& a : agents_)
    EXPECT_TRUE(WaitFor([&] { return a.process().Stderr().find("CANCELLED") != std::string::npos; }, 5s))
        << a.process().Stderr();
  const int before = Count("SELECT COUNT(*) FROM runs");
  EXPECT_EQ(Count("SELECT COUNT(*) FROM runs WHERE status = 'cancelled'"), 0)
      << "interrupted runs are left to --resume";
  CommandResult r = RunCommand(
      {TlmbenchBinary(), "sweep", "--resume", SweepId(), "--agents", AgentList(), "--out", db_}, dir_ / "resume");
  ASSERT_EQ(r.code, 0) << r.err;
  std::printf("runs after Ctrl-C: %d, after --resume: %d\n", before, Count("SELECT COUNT(*) FROM runs"));
  EXPECT_EQ(Count("SELECT COUNT(*) FROM runs WHERE status = 'ok'"), 6);
}

TEST_F(SweepTest, AHungRunTimesOutAndIsRetriedThenRecordedAsTimedOut) {
  StartAgents(2);
  WriteFile(dir_ / "spec.yaml",
            "name: hang\nworkload: null\ntimeout_s: 1\nnull: {hang_s: 60}\n"
            "measurement: {warmup: 0, min_reps: 1}\nmatrix:\n  n_prompt: 1\n");
  const auto t0 = std::chrono::steady_clock::now();
  CommandResult r = RunCommand(SweepArgv(dir_ / "spec.yaml", {"--max-attempts", "2"}), dir_ / "sweep");
  const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  EXPECT_EQ(r.code, 1) << r.err;
  EXPECT_LT(s, 30);
  EXPECT_EQ(QueryOne(db_, "SELECT status || ' ' || attempt FROM runs"), "timed_out 2");
  EXPECT_EQ(Count("SELECT COUNT(*) FROM attempts WHERE status = 'timed_out' AND attempt = 1"), 1);
  EXPECT_NE(QueryOne(db_, "SELECT error FROM runs").find("time-out of 1 s"), std::string::npos);
  EXPECT_NE(r.err.find("retrying"), std::string::npos) << r.err;
}

TEST_F(SweepTest, AControllerWithoutTheTokenIsRefused) {
  WriteFile(dir_ / "token", "farm-token\n");
  StartAgents(1, {"--auth-token-file", dir_ / "token"});
  WriteFile(dir_ / "spec.yaml", NullSpec(2, 1, 1));
  CommandResult no_token = RunCommand(SweepArgv(dir_ / "spec.yaml"), dir_ / "no-token");
  EXPECT_NE(no_token.code, 0);
  EXPECT_NE(no_token.err.find("requires a token"), std::string::npos) << no_token.err;
  EXPECT_EQ(QueryOne(db_, "SELECT COUNT(*) FROM runs WHERE status = 'ok'"), "0");
  CommandResult with_token =
      RunCommand(SweepArgv(dir_ / "spec.yaml", {"--auth-token-file", dir_ / "token"}), dir_ / "with-token");
  EXPECT_EQ(with_token.code, 0) << with_token.err;
}

TEST_F(SweepTest, RunsNoAgentCanTakeExpireWithTheReason) {
  StartAgents(1, {"--labels", "pool=cpu-farm"});
  WriteFile(dir_ / "spec.yaml", NullSpec(2, 1, 1, "devices: {labels: {pool: gpu-farm}}\n"));
  CommandResult r = RunCommand(SweepArgv(dir_ / "spec.yaml"), dir_ / "sweep");
  EXPECT_EQ(r.code, 1);
  EXPECT_EQ(Count("SELECT COUNT(*) FROM runs WHERE status = 'expired'"), 2);
  const std::string error = QueryOne(db_, "SELECT error FROM runs LIMIT 1");
  EXPECT_NE(error.find("no agent can take it"), std::string::npos) << error;
  EXPECT_NE(error.find("pool"), std::string::npos) << error;
}

TEST_F(SweepTest, AMalformedSpecIsRefusedWithFileAndLine) {
  WriteFile(dir_ / "bad.yaml", "name: bad\nmatrix:\n  model: m.gguf\n  thread: [1, 2]\n");
  CommandResult r = RunCommand({TlmbenchBinary(), "sweep", dir_ / "bad.yaml", "--out", db_}, dir_ / "bad");
  EXPECT_EQ(r.code, 2);
  EXPECT_NE(r.err.find("bad.yaml:4:3"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("did you mean 'threads'"), std::string::npos) << r.err;
}

TEST_F(SweepTest, UnreachableAgentsAreNamed) {
  WriteFile(dir_ / "spec.yaml", NullSpec(1, 1, 1));
  CommandResult r = RunCommand({TlmbenchBinary(), "sweep", dir_ / "spec.yaml", "--agents", "127.0.0.1:1", "--out", db_},
                               dir_ / "unreachable");
  EXPECT_EQ(r.code, 1);
  EXPECT_NE(r.err.find("127.0.0.1:1 unreachable"), std::string::npos) << r.err;
}

TEST_F(SweepTest, ExportWritesEveryFormat) {
  StartAgents(1);
  WriteFile(dir_ / "spec.yaml", NullSpec(3, 1, 2));
  ASSERT_EQ(RunCommand(SweepArgv(dir_ / "spec.yaml"), dir_ / "sweep").code, 0);
  CommandResult csv = RunCommand({TlmbenchBinary(), "export", db_, "--format", "csv"}, dir_ / "csv");
  ASSERT_EQ(csv.code, 0) << csv.err;
  EXPECT_EQ(std::count(csv.out.begin(), csv.out.end(), '\n'), 1 + Count("SELECT COUNT(*) FROM samples"));
  CommandResult jsonl = RunCommand({TlmbenchBinary(), "export", db_, "--format", "jsonl"}, dir_ / "jsonl");
  ASSERT_EQ(jsonl.code, 0) << jsonl.err;
  EXPECT_EQ(std::count(jsonl.out.begin(), jsonl.out.end(), '\n'), 3);
}

}  // namespace
}  // namespace tlm
