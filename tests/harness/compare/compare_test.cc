// tlmbench compare on real dataset files written with the Dataset API: an unchanged build passes,
// an injected 10% slowdown is a regression (exit 1), a speed-up an improvement, noise is flagged,
// three samples are not enough, and every usage or data error exits 2.
#include "harness/compare/compare.h"

#include <memory>
#include <random>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "compare_test_util.h"
#include "harness/compare/compare_request.h"

namespace tlm {
namespace {

using testing::BeginSweepOrDie;
using testing::CompareTempDir;
using testing::Noisy;
using testing::RunRecord;
using testing::WriteRunOrDie;

struct Shape {
  double decode_tps = 40;        // per repetition, 1% noise unless decode_noise
  double decode_noise = 0.01;
  double instructions = 1.0e9;   // per repetition, deterministic-ish (1e-5 noise)
  size_t reps = 5;
};

// One sweep in its own file: two scenarios (threads 2 and 4), each one run with `reps` repetitions
// of decode_tps, ttft_ms and instructions and a once-per-run rss_peak_anon_bytes.
std::string MakeDataset(const CompareTempDir& dir, const std::string& name, const std::string& sweep_id,
                        uint64_t seed, const Shape& shape, const std::string& device = "edge-1") {
  const std::string path = dir.File(name);
  auto ds = Dataset::Open(path);
  EXPECT_TRUE(ds.ok()) << ds.status().ToString();
  if (!ds.ok()) return path;
  std::mt19937_64 rng(seed);
  BeginSweepOrDie(**ds, sweep_id, "2025-02-01T01:00:00Z");
  for (int threads : {2, 4}) {
    RunRecord r;
    r.sweep_id = sweep_id;
    r.run_id = fmt::format("{}-t{}", sweep_id, threads);
    r.device = device;
    r.threads = threads;
    r.spec_hash = fmt::format("spec-t{}", threads);
    r.commit = sweep_id + "-commit";
    const double speed = threads / 2.0;
    r.reps["decode_tps"] = Noisy(rng, shape.reps, shape.decode_tps * speed, shape.decode_noise);
    r.reps["ttft_ms"] = Noisy(rng, shape.reps, 120 / speed, 0.01);
    r.reps["instructions"] = Noisy(rng, shape.reps, shape.instructions / speed, 1e-5);
    r.once["rss_peak_anon_bytes"] = 3.0e8;
    WriteRunOrDie(**ds, r);
  }
  return path;
}

CompareOutcome Compare(const std::string& base, const std::string& cand, const std::string& format = "markdown") {
  CompareRequest req;
  req.base = base;
  req.cand = cand;
  req.format = format;
  return RunCompare(req);
}

nlohmann::json Json(const CompareOutcome& out) {
  auto j = nlohmann::json::parse(out.output, nullptr, false);
  EXPECT_FALSE(j.is_discarded()) << out.output;
  return j;
}

// The verdict of one metric in the scenario with `threads`.
std::string VerdictOf(const nlohmann::json& report, const std::string& metric, int threads = 2) {
  for (const auto& row : report["comparisons"])
    if (row["metric"] == metric && row["threads"] == threads) return row["verdict"];
  return "(missing)";
}

TEST(CompareTest, UnchangedBuildPasses) {
  CompareTempDir dir;
  const std::string base = MakeDataset(dir, "base.db", "nightly-1", 1, {});
  const std::string cand = MakeDataset(dir, "cand.db", "nightly-2", 2, {});
  const CompareOutcome out = Compare(base, cand, "json");
  ASSERT_EQ(out.exit_code, 0) << out.error << out.output;
  const auto j = Json(out);
  EXPECT_FALSE(j["regression"].get<bool>());
  for (int threads : {2, 4}) {
    EXPECT_EQ(VerdictOf(j, "decode_tps", threads), "unchanged");
    EXPECT_EQ(VerdictOf(j, "ttft_ms", threads), "unchanged");
    EXPECT_EQ(VerdictOf(j, "instructions", threads), "unchanged");
    // One run a side: one memory value each.
    EXPECT_EQ(VerdictOf(j, "rss_peak_anon_bytes", threads), "not enough samples");
  }
  EXPECT_EQ(j["summary"]["regression"], 0);
  EXPECT_EQ(j["base"]["sweep_id"], "nightly-1");
  EXPECT_EQ(j["candidate"]["commits"][0], "nightly-2-commit");
  const CompareOutcome md = Compare(base, cand);
  EXPECT_EQ(md.exit_code, 0);
  EXPECT_NE(md.output.find("**no regression**: 0 regressions"), std::string::npos) << md.output;
  EXPECT_NE(md.output.find("| ci gemma-3-270m-q4_k_m.gguf cpu t2 p64 g16 f32 | edge-1 | decode_tps | tokens/s |"),
            std::string::npos)
      << md.output;
}

TEST(CompareTest, InjectedTenPercentSlowdownIsARegression) {
  CompareTempDir dir;
  const std::string base = MakeDataset(dir, "base.db", "main", 1, {});
  Shape slow;
  slow.instructions = 1.1e9;  // 10% more instructions
  slow.decode_tps = 36;       // 10% slower
  const std::string cand = MakeDataset(dir, "cand.db", "pr-42", 2, slow);
  const CompareOutcome out = Compare(base, cand, "json");
  EXPECT_EQ(out.exit_code, 1) << out.error << out.output;
  const auto j = Json(out);
  EXPECT_TRUE(j["regression"].get<bool>());
  for (int threads : {2, 4}) {
    EXPECT_EQ(VerdictOf(j, "instructions", threads), "regression");
    EXPECT_EQ(VerdictOf(j, "decode_tps", threads), "regression");
    EXPECT_EQ(VerdictOf(j, "ttft_ms", threads), "unchanged");
  }
  for (const auto& row : j["comparisons"]) {
    if (row["metric"] != "instructions") continue;
    EXPECT_NEAR(row["ratio"].get<double>(), 1.1, 0.001);
    EXPECT_LT(row["p_value"].get<double>(), 0.01);
    EXPECT_LE(row["ci_low"].get<double>(), 1.1);
    EXPECT_GE(row["ci_high"].get<double>(), 1.099);
  }
  const CompareOutcome md = Compare(base, cand);
  EXPECT_EQ(md.exit_code, 1);
  EXPECT_NE(md.output.find("**REGRESSION**: 4 regressions"), std::string::npos) << md.output;
  EXPECT_NE(md.output.find("Regressions:\n\n- ci gemma-3-270m-q4_k_m.gguf cpu t2 p64 g16 f32 on edge-1: decode_tps"),
            std::string::npos)
      << md.output;
  EXPECT_NE(md.output.find("**regression**"), std::string::npos);
}

TEST(CompareTest, SlowdownBelowItsThresholdIsNotARegression) {
  CompareTempDir dir;
  const std::string base = MakeDataset(dir, "base.db", "main", 1, {});
  Shape slow;
  slow.instructions = 1.1e9;
  const std::string cand = MakeDataset(dir, "cand.db", "pr-42", 2, slow);
  CompareRequest req;
  req.base = base;
  req.cand = cand;
  req.threshold_assignments = {"instructions=12%"};
  EXPECT_EQ(RunCompare(req).exit_code, 0);
  req.threshold_assignments = {"instructions=8%"};
  EXPECT_EQ(RunCompare(req).exit_code, 1);
}

TEST(CompareTest, SpeedUpIsAnImprovement) {
  CompareTempDir dir;
  const std::string base = MakeDataset(dir, "base.db", "main", 1, {});
  Shape fast;
  fast.decode_tps = 44;
  fast.instructions = 0.9e9;
  const CompareOutcome out = Compare(base, MakeDataset(dir, "cand.db", "pr-7", 2, fast), "json");
  EXPECT_EQ(out.exit_code, 0) << out.error;
  const auto j = Json(out);
  EXPECT_EQ(VerdictOf(j, "decode_tps"), "improvement");
  EXPECT_EQ(VerdictOf(j, "instructions"), "improvement");
  EXPECT_EQ(j["summary"]["improvement"], 4);
}

TEST(CompareTest, NoisyScenarioIsFlagged) {
  CompareTempDir dir;
  Shape noisy;
  noisy.decode_noise = 0.3;
  noisy.reps = 8;
  const std::string base = MakeDataset(dir, "base.db", "main", 1, noisy);
  const CompareOutcome out = Compare(base, MakeDataset(dir, "cand.db", "pr", 2, noisy), "json");
  EXPECT_EQ(out.exit_code, 0) << out.error;
  const auto j = Json(out);
  EXPECT_EQ(VerdictOf(j, "decode_tps"), "noisy");
  EXPECT_EQ(VerdictOf(j, "instructions"), "unchanged");
}

TEST(CompareTest, ThreeSamplesAreNotEnough) {
  CompareTempDir dir;
  Shape few;
  few.reps = 3;
  few.instructions = 2e9;  // even a doubling gets no verdict from 3 samples
  const std::string base = MakeDataset(dir, "base.db", "main", 1, {});
  const CompareOutcome out = Compare(base, MakeDataset(dir, "cand.db", "pr", 2, few), "json");
  EXPECT_EQ(out.exit_code, 0) << out.error;
  const auto j = Json(out);
  EXPECT_EQ(VerdictOf(j, "instructions"), "not enough samples");
  EXPECT_EQ(VerdictOf(j, "decode_tps"), "not enough samples");
  for (const auto& row : j["comparisons"]) EXPECT_TRUE(row["p_value"].is_null());
}

TEST(CompareTest, SidesBySweepAndRunId) {
  CompareTempDir dir;
  const std::string path = dir.File("results.db");
  {
    auto ds = Dataset::Open(path);
    ASSERT_TRUE(ds.ok());
    std::mt19937_64 rng(3);
    for (int i = 0; i < 3; ++i) {
      const std::string sweep = fmt::format("s{}", i);
      BeginSweepOrDie(**ds, sweep, fmt::format("2025-02-0{}T00:00:00Z", i + 1));
      RunRecord r;
      r.sweep_id = sweep;
      r.run_id = sweep + "-r";
      r.spec_hash = "same";
      r.reps["instructions"] = Noisy(rng, 5, i == 2 ? 1.2e9 : 1e9, 1e-6);
      WriteRunOrDie(**ds, r);
    }
  }
  CompareRequest req;
  req.dataset = path;
  req.base = "s0";
  req.cand = "s1";
  EXPECT_EQ(RunCompare(req).exit_code, 0);
  req.cand = path;  // the latest sweep: s2, 20% more instructions
  EXPECT_EQ(RunCompare(req).exit_code, 1);
  req.dataset = dir.File("elsewhere.db");
  req.base = path + ":s0";
  req.cand = path + ":s2-r";  // a run id
  const CompareOutcome out = RunCompare(req);
  EXPECT_EQ(out.exit_code, 1) << out.error;
  EXPECT_NE(out.output.find("run s2-r"), std::string::npos) << out.output;
}

TEST(CompareTest, UsageAndDataErrorsExitTwo) {
  CompareTempDir dir;
  const std::string base = MakeDataset(dir, "base.db", "main", 1, {});
  const std::string other = MakeDataset(dir, "other.db", "pr", 2, {}, "another-device");
  CompareRequest req;
  req.base = base;
  req.cand = dir.File("missing.db");
  CompareOutcome out = RunCompare(req);
  EXPECT_EQ(out.exit_code, 2);
  EXPECT_NE(out.error.find("error: CAND: '"), std::string::npos) << out.error;
  req.cand = base + ":no-such-sweep";
  out = RunCompare(req);
  EXPECT_EQ(out.exit_code, 2);
  EXPECT_NE(out.error.find("'no-such-sweep' is neither a sweep nor a run"), std::string::npos) << out.error;
  req.cand = other;  // same specs on another device: nothing matches
  out = RunCompare(req);
  EXPECT_EQ(out.exit_code, 2);
  EXPECT_NE(out.error.find("nothing to compare"), std::string::npos) << out.error;
  req.cand = base;
  req.threshold_assignments = {"decode_tps=5"};
  out = RunCompare(req);
  EXPECT_EQ(out.exit_code, 2);
  EXPECT_NE(out.error.find("ambiguous"), std::string::npos) << out.error;
  req.threshold_assignments = {};
  req.config_path = dir.File("no-thresholds.yaml");
  EXPECT_EQ(RunCompare(req).exit_code, 2);
  req.config_path = "";
  req.format = "html";
  EXPECT_EQ(RunCompare(req).exit_code, 2);
  req.format = "markdown";
  EXPECT_EQ(RunCompare(req).exit_code, 0);  // a sweep against itself
}

TEST(CompareTest, WritesJsonAndMarkdownFiles) {
  CompareTempDir dir;
  const std::string base = MakeDataset(dir, "base.db", "main", 1, {});
  CompareRequest req;
  req.base = base;
  req.cand = base;
  req.json_path = dir.File("report.json");
  req.markdown_path = dir.File("summary.md");
  const CompareOutcome out = RunCompare(req);
  ASSERT_EQ(out.exit_code, 0) << out.error;
  EXPECT_TRUE(std::filesystem::exists(req.json_path));
  EXPECT_TRUE(std::filesystem::exists(req.markdown_path));
  EXPECT_EQ(out.output.substr(0, 21), "## tlmbench compare\n\n");
}

TEST(CompareMetricTest, DecisionRules) {
  CompareOptions o;
  const std::vector<double> base = {100, 101, 99, 100.5, 99.5}, slower = {110, 111, 109, 110.5, 109.5};
  EXPECT_EQ(CompareMetric("ttft_ms", "ms", base, slower, o).verdict, ChangeVerdict::kRegression);
  EXPECT_EQ(CompareMetric("decode_tps", "tokens/s", base, slower, o).verdict, ChangeVerdict::kImprovement);
  EXPECT_EQ(CompareMetric("context_tokens", "tokens", base, slower, o).verdict, ChangeVerdict::kChanged);
  const std::vector<double> same(5, 7.0), zeros(6, 0.0);
  const MetricComparison m = CompareMetric("instructions", "count", same, same, o);
  EXPECT_EQ(m.verdict, ChangeVerdict::kUnchanged);
  EXPECT_DOUBLE_EQ(m.p_value, 1);
  EXPECT_EQ(CompareMetric("faults_major", "count", zeros, zeros, o).verdict, ChangeVerdict::kUnchanged);
  // A 10% shift is significant, but a 20% threshold keeps it unchanged.
  o.thresholds.Set("ttft_ms", 0.2);
  EXPECT_EQ(CompareMetric("ttft_ms", "ms", base, slower, o).verdict, ChangeVerdict::kUnchanged);
}

}  // namespace
}  // namespace tlm
