// `tlmbench export` formats over a small dataset: tidy CSV, JSON lines, llama-bench JSON and markdown.
#include "harness/store/export.h"

#include <sstream>
#include <vector>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "store_test_util.h"

namespace tlm {
namespace {

using testing::MakeDevice;
using testing::MakeResult;
using testing::MakeSpec;
using testing::MakeSweep;
using testing::TempDir;
namespace v1 = tlmbench::v1;

std::vector<std::string> Lines(const std::string& text) {
  std::vector<std::string> lines;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) lines.push_back(line);
  return lines;
}

// Two sweeps: s1 with two ok runs and a crashed one, s2 with one ok run.
class ExportTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto ds = Dataset::Open(dir_.File("bench.db"));
    ASSERT_TRUE(ds.ok()) << ds.status().ToString();
    ds_ = std::move(*ds);
    ASSERT_TRUE(ds_->UpsertDevice(MakeDevice("edge-1", "Cortex-A76"), "2025-01-31T12:00:00Z").ok());
    ASSERT_TRUE(ds_->BeginSweep(MakeSweep("s1", 3)).ok());
    ASSERT_TRUE(ds_->BeginSweep(MakeSweep("s2", 1)).ok());
    const v1::RunSpec a = MakeSpec("s1", "s1-a", 1), b = MakeSpec("s1", "s1-b", 2), c = MakeSpec("s1", "s1-c", 4);
    ASSERT_TRUE(ds_->WriteResult(a, MakeResult(a, 3), nullptr).ok());
    v1::RunResult rb = MakeResult(b, 2);
    rb.set_verdict_reason("load, then \"noisy\"");  // a field CSV must quote
    ASSERT_TRUE(ds_->WriteResult(b, rb, nullptr).ok());
    v1::RunResult rc;
    rc.set_status(v1::CRASHED);
    rc.set_signal(11);
    rc.set_error("worker died: SIGSEGV");
    ASSERT_TRUE(ds_->WriteResult(c, rc, nullptr).ok());
    const v1::RunSpec d = MakeSpec("s2", "s2-d", 2);
    ASSERT_TRUE(ds_->WriteResult(d, MakeResult(d, 4), nullptr).ok());
  }

  std::string Export(std::string_view sweep, ExportFormat format) {
    auto out = ExportDataset(*ds_, sweep, format);
    EXPECT_TRUE(out.ok()) << out.status().ToString();
    return out.ok() ? *out : "";
  }

  TempDir dir_;
  std::unique_ptr<Dataset> ds_;
};

TEST_F(ExportTest, ParsesFormatNames) {
  for (ExportFormat f :
       {ExportFormat::kCsv, ExportFormat::kJsonl, ExportFormat::kLlamaBenchJson, ExportFormat::kLlamaBenchMarkdown}) {
    auto parsed = ParseExportFormat(ExportFormatName(f));
    ASSERT_TRUE(parsed.ok());
    EXPECT_EQ(*parsed, f);
  }
  EXPECT_EQ(ParseExportFormat("xml").status().code(), StatusCode::kInvalidArgument);
}

TEST_F(ExportTest, CsvHasOneRowPerSample) {
  const std::vector<std::string> all = Lines(Export("", ExportFormat::kCsv));
  ASSERT_FALSE(all.empty());
  EXPECT_EQ(all[0],
            "sweep_id,run_id,device,backend,model,threads,n_prompt,n_gen,activations,status,verdict,repetition,metric,"
            "value,unit");
  EXPECT_EQ(static_cast<int64_t>(all.size()), *ds_->CountSamples() + 1);

  const std::vector<std::string> s1 = Lines(Export("s1", ExportFormat::kCsv));
  EXPECT_EQ(static_cast<int64_t>(s1.size()), *ds_->CountSamples("s1") + 1);
  EXPECT_EQ(s1.size(), 1u + 11u + 8u);
  // Runs in write order, samples by repetition then metric.
  EXPECT_EQ(s1[1], "s1,s1-a,edge-1,cpu,gemma-3-270m-q4_k_m.gguf,1,64,16,f32,ok,valid,0,load_ms,120.5,ms");
  EXPECT_EQ(s1[3], "s1,s1-a,edge-1,cpu,gemma-3-270m-q4_k_m.gguf,1,64,16,f32,ok,valid,1,decode_tps,41,tokens/s");
  for (size_t i = 1; i < s1.size(); ++i) EXPECT_EQ(s1[i].rfind("s1,", 0), 0u) << s1[i];
}

TEST_F(ExportTest, JsonlHasOneObjectPerRun) {
  const std::vector<std::string> lines = Lines(Export("s1", ExportFormat::kJsonl));
  ASSERT_EQ(lines.size(), 3u);
  std::vector<nlohmann::json> runs;
  for (const std::string& line : lines) runs.push_back(nlohmann::json::parse(line));
  EXPECT_EQ(runs[0]["run_id"], "s1-a");
  EXPECT_EQ(runs[0]["sweep_id"], "s1");
  EXPECT_EQ(runs[0]["status"], "ok");
  EXPECT_EQ(runs[0]["verdict"], "valid");
  EXPECT_EQ(runs[0]["threads"], 1);
  EXPECT_EQ(runs[0]["spec_json"]["run_id"], "s1-a");
  EXPECT_EQ(runs[0]["spec_json"]["measurement"]["min_reps"], 3);
  ASSERT_EQ(runs[0]["samples"].size(), 11u);
  EXPECT_EQ(runs[0]["samples"][0],
            (nlohmann::json{{"repetition", 0}, {"metric", "load_ms"}, {"value", 120.5}, {"unit", "ms"}}));
  EXPECT_EQ(runs[1]["verdict_reason"], "load, then \"noisy\"");
  EXPECT_EQ(runs[2]["status"], "crashed");
  EXPECT_EQ(runs[2]["signal"], 11);
  EXPECT_TRUE(runs[2]["verdict"].is_null());
  EXPECT_TRUE(runs[2]["samples"].empty());
}

TEST_F(ExportTest, LlamaBenchJsonHasPpAndTgPerOkRun) {
  const nlohmann::json records = nlohmann::json::parse(Export("s1", ExportFormat::kLlamaBenchJson));
  ASSERT_TRUE(records.is_array());
  ASSERT_EQ(records.size(), 4u);  // 2 ok runs; the crashed one has no record
  const nlohmann::json& pp = records[0];
  EXPECT_EQ(pp["n_prompt"], 64);
  EXPECT_EQ(pp["n_gen"], 0);
  EXPECT_EQ(pp["n_threads"], 1);
  EXPECT_EQ(pp["model_filename"], "gemma-3-270m-q4_k_m.gguf");
  EXPECT_EQ(pp["model_type"], "gemma3 270M Q4_K_M");
  EXPECT_EQ(pp["model_size"], 253000000);
  EXPECT_EQ(pp["build_commit"], "agentcommit");
  EXPECT_EQ(pp["cpu_info"], "Cortex-A76");
  EXPECT_EQ(pp["backends"], "cpu");
  EXPECT_EQ(pp["test_time"], "2025-01-31T12:00:01Z");
  EXPECT_EQ(pp["samples_ts"], (nlohmann::json{601.0, 602.0, 603.0}));
  EXPECT_DOUBLE_EQ(pp["avg_ts"].get<double>(), 602.0);
  EXPECT_EQ(pp["samples_ns"].size(), 3u);
  const nlohmann::json& tg = records[1];
  EXPECT_EQ(tg["n_prompt"], 0);
  EXPECT_EQ(tg["n_gen"], 16);
  EXPECT_EQ(tg["samples_ts"], (nlohmann::json{41.0, 42.0, 43.0}));
  EXPECT_EQ(records[3]["samples_ts"].size(), 2u);
  EXPECT_EQ(records[3]["n_threads"], 2);
}

TEST_F(ExportTest, LlamaBenchMarkdownIsOneTable) {
  const std::string md = Export("", ExportFormat::kLlamaBenchMarkdown);
  SCOPED_TRACE(md);
  const std::vector<std::string> lines = Lines(md);
  // header, rule, 3 ok runs x (pp, tg), blank, build line
  ASSERT_EQ(lines.size(), 2u + 6u + 2u);
  EXPECT_NE(lines[0].find("| model"), std::string::npos);
  EXPECT_NE(lines[0].find("t/s"), std::string::npos);
  EXPECT_NE(lines[2].find("pp64"), std::string::npos);
  EXPECT_NE(lines[2].find("602.00 ± 1.00"), std::string::npos);
  EXPECT_NE(lines[3].find("tg16"), std::string::npos);
  EXPECT_NE(lines[3].find("42.00 ± 1.00"), std::string::npos);
  EXPECT_NE(lines[2].find("241.28 MiB"), std::string::npos);
  EXPECT_EQ(lines.back(), "build: agentcommit");
}

TEST_F(ExportTest, UnknownSweepIsNotFound) {
  auto out = ExportDataset(*ds_, "nosuch", ExportFormat::kCsv);
  ASSERT_FALSE(out.ok());
  EXPECT_EQ(out.status().code(), StatusCode::kNotFound);
  EXPECT_NE(out.status().message().find("nosuch"), std::string::npos);
}

TEST_F(ExportTest, EmptyDatasetGivesHeaderOnly) {
  auto empty = Dataset::Open(dir_.File("empty.db"));
  ASSERT_TRUE(empty.ok());
  auto csv = ExportDataset(**empty, "", ExportFormat::kCsv);
  ASSERT_TRUE(csv.ok());
  EXPECT_EQ(*csv, std::string(kExportCsvHeader) + "\n");
  auto jsonl = ExportDataset(**empty, "", ExportFormat::kJsonl);
  ASSERT_TRUE(jsonl.ok());
  EXPECT_EQ(*jsonl, "");
  auto lb = ExportDataset(**empty, "", ExportFormat::kLlamaBenchJson);
  ASSERT_TRUE(lb.ok());
  EXPECT_EQ(nlohmann::json::parse(*lb), nlohmann::json::array());
}

}  // namespace
}  // namespace tlm
