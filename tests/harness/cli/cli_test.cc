// Runs the real tlmbench binary: `run` on a synthetic model (every output format, every metric),
// `make-model`, and the corrupt-file corpus (one `error:` line, exit code 2, no crash).
#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <fmt/format.h>

#include <array>
#include <cstdio>
#include <filesystem>
#include <fstream>

#include <nlohmann/json.hpp>

#include "engine/model/synthetic.h"
#include "tests/engine/model/corrupt_corpus.h"

namespace tlm {
namespace {

namespace fs = std::filesystem;

struct CommandResult {
  int exit_code = -1;
  std::string out, err;
};

CommandResult RunTlmbench(const std::string& args) {
  const fs::path dir = fs::temp_directory_path() / "tlmbench-cli-test";
  fs::create_directories(dir);
  static int calls = 0;  // ctest runs tests of this binary in parallel processes: name by pid too
  const std::string err_path = (dir / fmt::format("stderr-{}-{}.txt", getpid(), calls++)).string();
  const std::string cmd = std::string(TLM_BINARY_DIR) + "/bin/tlmbench " + args + " 2>" + err_path;
  CommandResult r;
  FILE* p = popen(cmd.c_str(), "r");
  if (p == nullptr) return r;
  std::array<char, 4096> buf;
  size_t n;
  while ((n = fread(buf.data(), 1, buf.size(), p)) > 0) r.out.append(buf.data(), n);
  int status = pclose(p);
  if (WIFEXITED(status)) r.exit_code = WEXITSTATUS(status);
  else if (WIFSIGNALED(status)) r.exit_code = 128 + WTERMSIG(status);
  std::ifstream err(err_path);
  r.err.assign(std::istreambuf_iterator<char>(err), {});
  return r;
}

std::string SyntheticModel() {
  static const std::string path = [] {
    const std::string p = (fs::temp_directory_path() / "tlmbench-cli-test-gemma3.gguf").string();
    SyntheticModelSpec spec;
    spec.arch = "gemma3";
    spec.layers = 3;
    spec.embd = 64;
    spec.ff = 128;
    spec.heads = 2;
    spec.kv_heads = 1;
    spec.head_dim = 32;
    spec.vocab = 400;
    spec.type = DType::kQ8_0;
    spec.sliding_window = 8;
    Status s = WriteSyntheticModel(spec, p);
    EXPECT_TRUE(s.ok()) << s.ToString();
    return p;
  }();
  return path;
}

TEST(CliTest, RunJsonReportsEveryMetric) {
  auto r = RunTlmbench("run -m " + SyntheticModel() + " -p 16 -n 8 --reps 2 --warmup 1 -t 2 --json");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  auto j = nlohmann::json::parse(r.out);
  ASSERT_EQ(j["repetitions"].size(), 2u) << r.out;
  for (const auto& rep : j["repetitions"]) {
    for (const char* m : {"ttft_ms", "prefill_tps", "decode_tps", "itl_ms_p50", "itl_ms_p90", "itl_ms_p99"}) {
      ASSERT_TRUE(rep.contains(m)) << m << " missing in " << rep.dump();
      EXPECT_GT(rep[m].get<double>(), 0) << m;
    }
  }
  for (const char* m : {"ttft_ms", "prefill_tps", "decode_tps"})
    for (const char* stat : {"mean", "stddev", "median"})
      EXPECT_TRUE(j["aggregates"][m].contains(stat)) << m << "." << stat;
  const auto& mem = j["memory"];
  for (const char* m : {"rss_peak_anon_bytes", "rss_peak_file_bytes", "weights_resident_bytes", "embd_resident_frac",
                        "faults_major", "faults_minor", "kv_bytes", "context_tokens"})
    EXPECT_TRUE(mem.contains(m)) << m << " missing in " << mem.dump();
  EXPECT_GT(mem["kv_bytes"].get<double>(), 0);
  EXPECT_EQ(mem["context_tokens"].get<double>(), 24);
  EXPECT_GT(mem["rss_peak_anon_bytes"].get<double>(), 0);
  EXPECT_GT(mem["rss_peak_file_bytes"].get<double>(), 0);
  EXPECT_GT(mem["weights_resident_bytes"].get<double>(), 0);
  EXPECT_GT(j["load_ms"].get<double>(), 0);
}

TEST(CliTest, RunTableCsvAndLlamaBenchFormats) {
  const std::string base = "run -m " + SyntheticModel() + " -p 8 -n 4 --reps 2 --warmup 0 -t 1 -q ";
  auto table = RunTlmbench(base);
  ASSERT_EQ(table.exit_code, 0) << table.err;
  EXPECT_NE(table.out.find("decode_tps"), std::string::npos) << table.out;
  EXPECT_NE(table.out.find("median"), std::string::npos) << table.out;
  EXPECT_TRUE(table.err.empty()) << "-q still printed: " << table.err;

  auto csv = RunTlmbench(base + "--csv");
  ASSERT_EQ(csv.exit_code, 0) << csv.err;
  EXPECT_NE(csv.out.find("decode_tps"), std::string::npos);

  auto lj = RunTlmbench(base + "--llama-bench-json");
  ASSERT_EQ(lj.exit_code, 0) << lj.err;
  auto records = nlohmann::json::parse(lj.out);
  ASSERT_EQ(records.size(), 2u);
  EXPECT_EQ(records[0]["n_prompt"], 8);
  EXPECT_EQ(records[0]["n_gen"], 0);
  EXPECT_EQ(records[1]["n_gen"], 4);
  EXPECT_GT(records[1]["avg_ts"].get<double>(), 0);

  auto md = RunTlmbench(base + "--llama-bench-md");
  ASSERT_EQ(md.exit_code, 0) << md.err;
  EXPECT_NE(md.out.find("pp8"), std::string::npos) << md.out;
  EXPECT_NE(md.out.find("tg4"), std::string::npos) << md.out;
}

// --profile-ops prints, even with -q, a table per phase whose calls count the measured
// repetitions' steps (3 layers, 2 repetitions: 6 prefill and 2 * 4 * 3 = 24 decode attention
// steps), and leaves the report on stdout as it was.
TEST(CliTest, RunProfileOpsPrintsStepTimesByOpAndPhase) {
  auto r = RunTlmbench("run -m " + SyntheticModel() + " -p 8 -n 4 --reps 2 --warmup 1 -t 1 -q --json --profile-ops");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NO_THROW((void)nlohmann::json::parse(r.out)) << r.out;
  const size_t prefill = r.err.find("steps of several tokens (prefill)");
  const size_t decode = r.err.find("steps of one token (decode)");
  ASSERT_NE(prefill, std::string::npos) << r.err;
  ASSERT_NE(decode, std::string::npos) << r.err;
  ASSERT_LT(prefill, decode) << r.err;
  // "[run]   attention   <calls>   <ms> ...": the calls column of each table's attention row.
  auto attention_calls = [&](size_t from) {
    const size_t at = r.err.find("attention", from);
    EXPECT_NE(at, std::string::npos) << r.err;
    return at == std::string::npos ? -1L : std::stol(r.err.substr(at + std::string("attention").size()));
  };
  EXPECT_EQ(attention_calls(prefill), 6);
  EXPECT_EQ(attention_calls(decode), 24);
  EXPECT_NE(r.err.find("matmul q8_0 (output)", decode), std::string::npos) << r.err;
}

// `-b cpu-xnnpack:cache=DIR`: the first run fills the weight cache (program_cache_warm 0), the
// next maps it (1); a backend without a cache reports no such metric.
TEST(CliTest, RunReportsTheXnnpackWeightCacheColdThenWarm) {
  const fs::path dir = fs::temp_directory_path() / fmt::format("tlmbench-cli-xnnpack-cache-{}", getpid());
  fs::remove_all(dir);
  const std::string args = "run -m " + SyntheticModel() + " -p 4 -n 2 --reps 1 --warmup 0 -t 1 -q --json -b ";
  for (int expected : {0, 1}) {
    auto r = RunTlmbench(args + "cpu-xnnpack:cache=" + dir.string());
    ASSERT_EQ(r.exit_code, 0) << r.err;
    const auto j = nlohmann::json::parse(r.out);
    ASSERT_TRUE(j.contains("program_cache_warm")) << r.out;
    EXPECT_EQ(j["program_cache_warm"].get<int>(), expected);
  }
  EXPECT_FALSE(fs::is_empty(dir));
  auto plain = RunTlmbench(args + "cpu");
  ASSERT_EQ(plain.exit_code, 0) << plain.err;
  EXPECT_FALSE(nlohmann::json::parse(plain.out).contains("program_cache_warm"));
  fs::remove_all(dir);
}

TEST(CliTest, BadOptionsExitTwoWithOneLine) {
  for (const std::string& args : {std::string("run -m ") + SyntheticModel() + " -p 0",
                                  std::string("run -m no-such-model.gguf"),
                                  std::string("run -m ") + SyntheticModel() + " --backend tpu",
                                  std::string("run -m ") + SyntheticModel() + " -p 100 -n 100 --ctx 64",
                                  std::string("run -m ") + SyntheticModel() + " --no-such-option",
                                  std::string("run"),  // --model missing
                                  std::string("frobnicate")}) {
    auto r = RunTlmbench(args + " -q");
    EXPECT_EQ(r.exit_code, 2) << args << "\n" << r.err;
    EXPECT_EQ(r.err.rfind("error: ", 0), 0u) << args << "\n" << r.err;
    EXPECT_EQ(std::count(r.err.begin(), r.err.end(), '\n'), 1) << args << "\n" << r.err;
  }
}

TEST(CliTest, EveryCorruptFileGivesItsErrorAndExitTwo) {
  const fs::path dir = fs::temp_directory_path() / "tlmbench-cli-corrupt";
  fs::create_directories(dir);
  const auto corpus = testing::MakeCorruptCorpus();
  ASSERT_GE(corpus.size(), 15u);
  for (const auto& c : corpus) {
    const fs::path file = dir / (c.name + ".gguf");
    std::ofstream(file, std::ios::binary).write(reinterpret_cast<const char*>(c.bytes.data()), c.bytes.size());
    auto r = RunTlmbench("run -q -p 4 -n 2 --reps 1 --warmup 0 -m " + file.string());
    EXPECT_EQ(r.exit_code, 2) << c.name << ": " << r.err;
    EXPECT_EQ(r.err.rfind("error: ", 0), 0u) << c.name << ": " << r.err;
    EXPECT_EQ(std::count(r.err.begin(), r.err.end(), '\n'), 1) << c.name << ": " << r.err;
    EXPECT_NE(r.err.find(c.expected_error_substring), std::string::npos)
        << c.name << ": expected '" << c.expected_error_substring << "' in: " << r.err;
  }
}

TEST(CliTest, MakeModelWritesAModelThatRuns) {
  const std::string out = (fs::temp_directory_path() / "tlmbench-cli-made.gguf").string();
  auto mk = RunTlmbench("make-model --arch llama --layers 2 --embd 64 --ff 128 --heads 4 --kv-heads 2 "
                        "--head-dim 16 --vocab 300 --type q4_0 --seed 5 -o " + out);
  ASSERT_EQ(mk.exit_code, 0) << mk.err;
  auto run = RunTlmbench("run -q -m " + out + " -p 8 -n 4 --reps 1 --json");
  ASSERT_EQ(run.exit_code, 0) << run.err;
  auto bad = RunTlmbench("make-model --arch mamba -o " + out);
  EXPECT_EQ(bad.exit_code, 2) << bad.err;
}

}  // namespace
}  // namespace tlm
