// Metric directions and thresholds: names, flags, the YAML file and its errors.
#include "harness/analysis/metric_policy.h"

#include <filesystem>
#include <fstream>

#include <gtest/gtest.h>
#include <unistd.h>

namespace tlm {
namespace {

TEST(MetricPolicyTest, Directions) {
  for (const char* m : {"decode_tps", "prefill_tps", "top1_agree", "task_acc"})
    EXPECT_EQ(DirectionOf(m), MetricDirection::kHigherIsBetter) << m;
  for (const char* m : {"ttft_ms", "load_ms", "itl_ms_p50", "itl_ms_p99", "rss_peak_anon_bytes", "kv_bytes", "kld_mean",
                        "ppl", "faults_major", "faults_minor", "instructions"})
    EXPECT_EQ(DirectionOf(m), MetricDirection::kLowerIsBetter) << m;
  for (const char* m : {"context_tokens", "embd_resident_frac", "model_n_params", "something_new"})
    EXPECT_EQ(DirectionOf(m), MetricDirection::kUnknown) << m;
}

TEST(MetricPolicyTest, Fractions) {
  EXPECT_DOUBLE_EQ(*ParseFraction("3%"), 0.03);
  EXPECT_DOUBLE_EQ(*ParseFraction(" 2.5 % "), 0.025);
  EXPECT_DOUBLE_EQ(*ParseFraction("0.07"), 0.07);
  EXPECT_FALSE(ParseFraction("3").ok());  // ambiguous
  EXPECT_FALSE(ParseFraction("-1%").ok());
  EXPECT_FALSE(ParseFraction("abc").ok());
  EXPECT_FALSE(ParseFraction("").ok());
}

TEST(MetricPolicyTest, AssignmentsAndYaml) {
  MetricThresholds t;
  EXPECT_DOUBLE_EQ(t.For("decode_tps"), 0.05);
  ASSERT_TRUE(t.ParseAssignment("decode_tps=3%").ok());
  ASSERT_TRUE(t.ParseAssignment("default=2%").ok());
  EXPECT_DOUBLE_EQ(t.For("decode_tps"), 0.03);
  EXPECT_DOUBLE_EQ(t.For("ttft_ms"), 0.02);
  EXPECT_FALSE(t.ParseAssignment("decode_tps").ok());
  EXPECT_FALSE(t.ParseAssignment("=3%").ok());

  const std::string path = (std::filesystem::temp_directory_path() / ("tlm_thresholds_" + std::to_string(::getpid()) + ".yaml")).string();
  std::ofstream(path) << "default: 4%\nmetrics:\n  ttft_ms: 0.1\n  instructions: 1%\n";
  MetricThresholds y;
  ASSERT_TRUE(y.LoadYaml(path).ok());
  EXPECT_DOUBLE_EQ(y.For("decode_tps"), 0.04);
  EXPECT_DOUBLE_EQ(y.For("ttft_ms"), 0.1);
  EXPECT_DOUBLE_EQ(y.For("instructions"), 0.01);

  std::ofstream(path) << "default: 4%\nmetrics:\n  ttft_ms: 10\n";
  const Status bad = MetricThresholds().LoadYaml(path);
  EXPECT_FALSE(bad.ok());
  EXPECT_NE(bad.message().find(path + ":3"), std::string::npos) << bad.message();
  std::ofstream(path) << "thresholds: 4%\n";
  EXPECT_NE(MetricThresholds().LoadYaml(path).message().find("unknown key 'thresholds'"), std::string::npos);
  std::filesystem::remove(path);
  EXPECT_EQ(MetricThresholds().LoadYaml(path).code(), StatusCode::kNotFound);
}

}  // namespace
}  // namespace tlm
