// tlmbench history on a real dataset: one point per commit in commit-time order, the change point
// at the commit where decode_tps stepped down, nothing in a flat history, filters and errors.
#include "harness/compare/history.h"

#include <random>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "compare_test_util.h"

namespace tlm {
namespace {

using testing::BeginSweepOrDie;
using testing::CompareTempDir;
using testing::Noisy;
using testing::RunRecord;
using testing::WriteRunOrDie;

// A 40-character commit whose first 10 characters name it: c17aaaaaaa...
std::string Commit(int i) { return fmt::format("c{:02}{}", i, std::string(37, 'a')); }

// 30 nightly sweeps at 30 commits; decode_tps drops 10% from commit 17 on when `step`. Sweeps are
// written in shuffled order so that only commit_time orders them.
std::string MakeHistory(const CompareTempDir& dir, bool step, double noise = 0.01) {
  const std::string path = dir.File("history.db");
  auto ds = Dataset::Open(path);
  EXPECT_TRUE(ds.ok());
  std::mt19937_64 rng(99);
  std::vector<int> order(30);
  for (int i = 0; i < 30; ++i) order[i] = i;
  std::shuffle(order.begin(), order.end(), rng);
  for (int i : order) {
    const std::string sweep = fmt::format("nightly-{:02}", i);
    BeginSweepOrDie(**ds, sweep, fmt::format("2025-03-{:02}T02:00:00Z", i + 1));
    for (const char* device : {"edge-1", "edge-2"}) {
      RunRecord r;
      r.sweep_id = sweep;
      r.run_id = fmt::format("{}-{}", sweep, device);
      r.device = device;
      r.commit = Commit(i);
      r.commit_time = fmt::format("2025-03-{:02}T00:00:00Z", i + 1);
      const double level = step && i >= 17 ? 36.0 : 40.0;
      r.reps["decode_tps"] = Noisy(rng, 5, level, noise);
      WriteRunOrDie(**ds, r);
    }
  }
  return path;
}

TEST(HistoryTest, FindsTheStepAtTheRightCommit) {
  CompareTempDir dir;
  HistoryRequest req;
  req.dataset = MakeHistory(dir, /*step=*/true);
  req.query.metric = "decode_tps";
  req.query.device = "edge-1";
  req.format = "json";
  std::string out, err;
  ASSERT_EQ(RunHistory(req, &out, &err), 0) << err;
  const auto j = nlohmann::json::parse(out);
  ASSERT_EQ(j["series"].size(), 1u);
  const auto& s = j["series"][0];
  EXPECT_EQ(s["device"], "edge-1");
  ASSERT_EQ(s["points"].size(), 30u);
  for (int i = 0; i < 30; ++i) EXPECT_EQ(s["points"][i]["commit"], Commit(i));
  ASSERT_EQ(s["change_points"].size(), 1u) << out;
  const auto& cp = s["change_points"][0];
  EXPECT_EQ(cp["index"], 17);
  EXPECT_EQ(cp["commit"], Commit(17));
  EXPECT_NEAR(cp["relative_change"].get<double>(), -0.1, 0.01);
  EXPECT_LT(cp["p_value"].get<double>(), 0.05);

  req.format = "markdown";
  req.query.device = "";
  ASSERT_EQ(RunHistory(req, &out, &err), 0) << err;
  EXPECT_NE(out.find("## tlmbench history: decode_tps"), std::string::npos);
  EXPECT_NE(out.find("on edge-2"), std::string::npos);
  EXPECT_NE(out.find("- at #18, commit c17aaaaaaa (2025-03-18T00:00:00Z): mean 40"), std::string::npos) << out;
  EXPECT_NE(out.find("| 18 | 2025-03-18T00:00:00Z | c17aaaaaaa | "), std::string::npos) << out;
}

TEST(HistoryTest, NothingInAFlatHistory) {
  CompareTempDir dir;
  HistoryRequest req;
  req.dataset = MakeHistory(dir, /*step=*/false, 0.03);
  req.query.metric = "decode_tps";
  std::string out, err;
  ASSERT_EQ(RunHistory(req, &out, &err), 0) << err;
  EXPECT_NE(out.find("No change point"), std::string::npos) << out;
  EXPECT_EQ(out.find("Change points"), std::string::npos) << out;
}

TEST(HistoryTest, ErrorsExitTwo) {
  CompareTempDir dir;
  HistoryRequest req;
  req.dataset = dir.File("missing.db");
  req.query.metric = "decode_tps";
  std::string out, err;
  EXPECT_EQ(RunHistory(req, &out, &err), 2);
  EXPECT_NE(err.find("does not exist"), std::string::npos) << err;
  req.dataset = MakeHistory(dir, true);
  req.query.metric = "no_such_metric";
  EXPECT_EQ(RunHistory(req, &out, &err), 2);
  EXPECT_NE(err.find("no ok run"), std::string::npos) << err;
  req.query.metric = "decode_tps";
  req.query.scenario = "other";
  EXPECT_EQ(RunHistory(req, &out, &err), 2);
  req.query.scenario = "";
  req.query.change_points.alpha = 2;
  EXPECT_EQ(RunHistory(req, &out, &err), 2);
}

TEST(HistoryTest, ShortCommit) {
  EXPECT_EQ(ShortCommit("0123456789abcdef0123"), "0123456789");
  EXPECT_EQ(ShortCommit("0123456789abcdef0123-dirty"), "0123456789-dirty");
  EXPECT_EQ(ShortCommit("abc"), "abc");
  EXPECT_EQ(ShortCommit(""), "");
}

}  // namespace
}  // namespace tlm
