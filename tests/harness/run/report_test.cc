// Golden-string tests for every report format, from one fixed RunResult.
#include "harness/run/report.h"

#include <chrono>
#include <cmath>
#include <string>
#include <string_view>

#include <gtest/gtest.h>

namespace tlm {
namespace {

// Goldens: reviewed by hand once (percentiles, means, sample stddevs, ns from rates), then
// frozen. A deliberate format change regenerates them; an accidental one fails here.
constexpr std::string_view kGoldenTable = R"golden(model    gemma3 270M Q4_K_M (models/gemma3-270m-it-Q4_K_M.gguf, 241.41 MiB, 268.10 M params)
sha256   9f2b3c4d5e6f708192a3b4c5d6e7f8091a2b3c4d5e6f708192a3b4c5d6e7f809
run      backend cpu on AMD EPYC 7B13, 2 threads, pp128 tg64, n_ctx 2048, 3 reps after 1 warm-up
cpu      AMD EPYC 7B13, "2" cores
build    abc123def456  at 2025-01-31T12:00:00Z
load_ms  150.25

| rep    |  ttft_ms | prefill_tps | decode_tps | itl_ms p50 | itl_ms p90 | itl_ms p99 |
| ------ | -------: | ----------: | ---------: | ---------: | ---------: | ---------: |
| 1      |    40.00 |     3200.00 |      50.00 |      20.25 |      20.85 |      20.98 |
| 2      |    42.00 |     3047.50 |      48.00 |      20.88 |      22.05 |      22.46 |
| 3      |    41.00 |     3125.00 |      49.50 |      20.12 |      22.88 |      23.89 |
| mean   |    41.00 |     3124.17 |      49.17 |      20.42 |      21.93 |      22.44 |
| stddev |     1.00 |       76.25 |       1.04 |       0.40 |       1.02 |       1.45 |
| median |    41.00 |     3125.00 |      49.50 |      20.25 |      22.05 |      22.46 |

memory & context
  rss_peak_anon_bytes          12.50 MiB
  rss_peak_file_bytes         241.00 MiB
  weights_resident_bytes      230.00 MiB  of 241.41 MiB (95.3 %)
  embd_resident_frac              12.5 %  10.00 MiB of 80.00 MiB
  kv_bytes                      4.00 MiB
  context_tokens                     192  tokens
  faults_major / minor          3 / 1234
)golden";

constexpr std::string_view kGoldenJson = R"golden({
  "schema": "tlmbench.run.v1",
  "timestamp": "2025-01-31T12:00:00Z",
  "config": {
    "model_path": "models/gemma3-270m-it-Q4_K_M.gguf",
    "model_name": "gemma3-270m-it",
    "model_sha256": "9f2b3c4d5e6f708192a3b4c5d6e7f8091a2b3c4d5e6f708192a3b4c5d6e7f809",
    "arch": "gemma3",
    "model_type": "gemma3 270M Q4_K_M",
    "backend": "cpu",
    "device": "AMD EPYC 7B13",
    "model_size_bytes": 253132800,
    "model_n_params": 268098176,
    "threads": 2,
    "n_prompt": 128,
    "n_gen": 64,
    "reps": 3,
    "warmup": 1,
    "n_ctx": 2048,
    "build_commit": "abc123def456",
    "cpu_info": "AMD EPYC 7B13, \"2\" cores"
  },
  "load_ms": 150.25,
  "repetitions": [
    {
      "repetition": 1,
      "load_ms": 150.25,
      "ttft_ms": 40.0,
      "prefill_tps": 3200.0,
      "decode_tps": 50.0,
      "itl_ms_p50": 20.25,
      "itl_ms_p90": 20.85,
      "itl_ms_p99": 20.985,
      "itl_ms": [
        20.0,
        19.5,
        21.0,
        20.5
      ]
    },
    {
      "repetition": 2,
      "load_ms": 150.25,
      "ttft_ms": 42.0,
      "prefill_tps": 3047.5,
      "decode_tps": 48.0,
      "itl_ms_p50": 20.875,
      "itl_ms_p90": 22.05,
      "itl_ms_p99": 22.455000000000002,
      "itl_ms": [
        21.0,
        20.0,
        22.5,
        20.75
      ]
    },
    {
      "repetition": 3,
      "load_ms": 150.25,
      "ttft_ms": 41.0,
      "prefill_tps": 3125.0,
      "decode_tps": 49.5,
      "itl_ms_p50": 20.125,
      "itl_ms_p90": 22.875,
      "itl_ms_p99": 23.8875,
      "itl_ms": [
        20.25,
        19.75,
        20.0,
        24.0
      ]
    }
  ],
  "aggregates": {
    "ttft_ms": {
      "mean": 41.0,
      "stddev": 1.0,
      "median": 41.0,
      "unit": "ms"
    },
    "prefill_tps": {
      "mean": 3124.1666666666665,
      "stddev": 76.2534152240628,
      "median": 3125.0,
      "unit": "tokens/s"
    },
    "decode_tps": {
      "mean": 49.166666666666664,
      "stddev": 1.0408329997330663,
      "median": 49.5,
      "unit": "tokens/s"
    },
    "itl_ms_p50": {
      "mean": 20.416666666666668,
      "stddev": 0.4018187817080398,
      "median": 20.25,
      "unit": "ms"
    },
    "itl_ms_p90": {
      "mean": 21.925,
      "stddev": 1.0182705927208144,
      "median": 22.05,
      "unit": "ms"
    },
    "itl_ms_p99": {
      "mean": 22.4425,
      "stddev": 1.451290374115394,
      "median": 22.455000000000002,
      "unit": "ms"
    }
  },
  "memory": {
    "rss_peak_anon_bytes": 13107200,
    "rss_peak_file_bytes": 252706816,
    "weights_resident_bytes": 241172480,
    "weights_bytes": 253132800,
    "embd_resident_bytes": 10485760,
    "embd_bytes": 83886080,
    "embd_resident_frac": 0.125,
    "faults_major": 3,
    "faults_minor": 1234,
    "kv_bytes": 4194304,
    "context_tokens": 192
  },
  "units": {
    "load_ms": "ms",
    "ttft_ms": "ms",
    "prefill_tps": "tokens/s",
    "decode_tps": "tokens/s",
    "itl_ms_p50": "ms",
    "itl_ms_p90": "ms",
    "itl_ms_p99": "ms",
    "itl_ms": "ms",
    "rss_peak_anon_bytes": "bytes",
    "rss_peak_file_bytes": "bytes",
    "weights_resident_bytes": "bytes",
    "weights_bytes": "bytes",
    "embd_resident_bytes": "bytes",
    "embd_bytes": "bytes",
    "embd_resident_frac": "fraction",
    "faults_major": "count",
    "faults_minor": "count",
    "kv_bytes": "bytes",
    "context_tokens": "tokens"
  }
}
)golden";

constexpr std::string_view kGoldenCsv = R"golden(repetition,metric,value,unit
1,ttft_ms,40,ms
1,prefill_tps,3200,tokens/s
1,decode_tps,50,tokens/s
1,itl_ms_p50,20.25,ms
1,itl_ms_p90,20.85,ms
1,itl_ms_p99,20.985,ms
2,ttft_ms,42,ms
2,prefill_tps,3047.5,tokens/s
2,decode_tps,48,tokens/s
2,itl_ms_p50,20.875,ms
2,itl_ms_p90,22.05,ms
2,itl_ms_p99,22.455000000000002,ms
3,ttft_ms,41,ms
3,prefill_tps,3125,tokens/s
3,decode_tps,49.5,tokens/s
3,itl_ms_p50,20.125,ms
3,itl_ms_p90,22.875,ms
3,itl_ms_p99,23.8875,ms
mean,ttft_ms,41,ms
mean,prefill_tps,3124.1666666666665,tokens/s
mean,decode_tps,49.166666666666664,tokens/s
mean,itl_ms_p50,20.416666666666668,ms
mean,itl_ms_p90,21.925,ms
mean,itl_ms_p99,22.4425,ms
stddev,ttft_ms,1,ms
stddev,prefill_tps,76.2534152240628,tokens/s
stddev,decode_tps,1.0408329997330663,tokens/s
stddev,itl_ms_p50,0.4018187817080398,ms
stddev,itl_ms_p90,1.0182705927208144,ms
stddev,itl_ms_p99,1.451290374115394,ms
median,ttft_ms,41,ms
median,prefill_tps,3125,tokens/s
median,decode_tps,49.5,tokens/s
median,itl_ms_p50,20.25,ms
median,itl_ms_p90,22.05,ms
median,itl_ms_p99,22.455000000000002,ms
run,load_ms,150.25,ms
run,rss_peak_anon_bytes,13107200,bytes
run,rss_peak_file_bytes,252706816,bytes
run,weights_resident_bytes,241172480,bytes
run,weights_bytes,253132800,bytes
run,embd_resident_bytes,10485760,bytes
run,embd_bytes,83886080,bytes
run,embd_resident_frac,0.125,fraction
run,faults_major,3,count
run,faults_minor,1234,count
run,kv_bytes,4194304,bytes
run,context_tokens,192,tokens
)golden";

constexpr std::string_view kGoldenLlamaBenchJson = R"golden([
  {
    "build_commit": "abc123def456",
    "build_number": 0,
    "cpu_info": "AMD EPYC 7B13, \"2\" cores",
    "gpu_info": "",
    "backends": "cpu",
    "model_filename": "models/gemma3-270m-it-Q4_K_M.gguf",
    "model_type": "gemma3 270M Q4_K_M",
    "model_size": 253132800,
    "model_n_params": 268098176,
    "n_batch": 128,
    "n_ubatch": 128,
    "n_threads": 2,
    "type_k": "f32",
    "type_v": "f32",
    "n_gpu_layers": 0,
    "use_mmap": true,
    "n_prompt": 128,
    "n_gen": 0,
    "n_depth": 0,
    "test_time": "2025-01-31T12:00:00Z",
    "avg_ns": 40987213,
    "stddev_ns": 1001097,
    "avg_ts": 3124.1666666666665,
    "stddev_ts": 76.2534152240628,
    "samples_ns": [
      40000000,
      42001641,
      40960000
    ],
    "samples_ts": [
      3200.0,
      3047.5,
      3125.0
    ]
  },
  {
    "build_commit": "abc123def456",
    "build_number": 0,
    "cpu_info": "AMD EPYC 7B13, \"2\" cores",
    "gpu_info": "",
    "backends": "cpu",
    "model_filename": "models/gemma3-270m-it-Q4_K_M.gguf",
    "model_type": "gemma3 270M Q4_K_M",
    "model_size": 253132800,
    "model_n_params": 268098176,
    "n_batch": 128,
    "n_ubatch": 128,
    "n_threads": 2,
    "type_k": "f32",
    "type_v": "f32",
    "n_gpu_layers": 0,
    "use_mmap": true,
    "n_prompt": 0,
    "n_gen": 64,
    "n_depth": 0,
    "test_time": "2025-01-31T12:00:00Z",
    "avg_ns": 1302087542,
    "stddev_ns": 27821147,
    "avg_ts": 49.166666666666664,
    "stddev_ts": 1.0408329997330663,
    "samples_ns": [
      1280000000,
      1333333333,
      1292929293
    ],
    "samples_ts": [
      50.0,
      48.0,
      49.5
    ]
  }
]
)golden";

constexpr std::string_view kGoldenLlamaBenchMarkdown = R"golden(| model                          |       size |     params | backend    | threads |            test |                  t/s |
| ------------------------------ | ---------: | ---------: | ---------- | ------: | --------------: | -------------------: |
| gemma3 270M Q4_K_M             | 241.41 MiB |   268.10 M | cpu        |       2 |           pp128 |      3124.17 ± 76.25 |
| gemma3 270M Q4_K_M             | 241.41 MiB |   268.10 M | cpu        |       2 |            tg64 |         49.17 ± 1.04 |

build: abc123def456
)golden";

RepetitionResult Rep(double ttft_ms, double prefill_tps, double decode_tps, std::vector<double> itl) {
  RepetitionResult r;
  r.load_ms = 150.25;
  r.ttft_ms = ttft_ms;
  r.prefill_tps = prefill_tps;
  r.decode_tps = decode_tps;
  r.itl_ms = std::move(itl);
  FillItlPercentiles(r);
  return r;
}

RunResult FixedResult() {
  RunResult result;
  RunConfig& c = result.config;
  c.model_path = "models/gemma3-270m-it-Q4_K_M.gguf";
  c.model_name = "gemma3-270m-it";
  c.model_sha256 = "9f2b3c4d5e6f708192a3b4c5d6e7f8091a2b3c4d5e6f708192a3b4c5d6e7f809";
  c.arch = "gemma3";
  c.model_type = "gemma3 270M Q4_K_M";
  c.backend = "cpu";
  c.device = "AMD EPYC 7B13";
  c.model_size_bytes = 253132800;
  c.model_n_params = 268098176;
  c.threads = 2;
  c.n_prompt = 128;
  c.n_gen = 64;
  c.reps = 3;
  c.warmup = 1;
  c.n_ctx = 2048;
  c.build_commit = "abc123def456";
  c.cpu_info = "AMD EPYC 7B13, \"2\" cores";
  result.load_ms = 150.25;
  result.reps = {
      Rep(40.0, 3200.0, 50.0, {20.0, 19.5, 21.0, 20.5}),
      Rep(42.0, 3047.5, 48.0, {21.0, 20.0, 22.5, 20.75}),
      Rep(41.0, 3125.0, 49.5, {20.25, 19.75, 20.0, 24.0}),
  };
  MemoryResult& m = result.memory;
  m.rss_peak_anon_bytes = 13107200;
  m.rss_peak_file_bytes = 252706816;
  m.weights_resident_bytes = 241172480;
  m.weights_bytes = 253132800;
  m.embd_resident_bytes = 10485760;
  m.embd_bytes = 83886080;
  m.embd_resident_frac = 0.125;
  m.faults_major = 3;
  m.faults_minor = 1234;
  m.kv_bytes = 4194304;
  m.context_tokens = 192;
  result.timestamp = "2025-01-31T12:00:00Z";
  return result;
}

TEST(ReportTest, TableGolden) { EXPECT_EQ(RenderTable(FixedResult()), kGoldenTable); }

TEST(ReportTest, JsonGolden) { EXPECT_EQ(RenderJson(FixedResult()), kGoldenJson); }

TEST(ReportTest, CsvGolden) { EXPECT_EQ(RenderCsv(FixedResult()), kGoldenCsv); }

TEST(ReportTest, LlamaBenchJsonGolden) {
  EXPECT_EQ(RenderLlamaBenchJson(FixedResult()), kGoldenLlamaBenchJson);
}

TEST(ReportTest, LlamaBenchMarkdownGolden) {
  EXPECT_EQ(RenderLlamaBenchMarkdown(FixedResult()), kGoldenLlamaBenchMarkdown);
}

TEST(ReportTest, JsonParsesBackWithUnitsForEveryMetric) {
  auto j = nlohmann::json::parse(RenderJson(FixedResult()));
  EXPECT_EQ(j["repetitions"].size(), 3u);
  for (auto& [name, aggregate] : j["aggregates"].items()) {
    EXPECT_EQ(aggregate["unit"], j["units"][name]) << name;
  }
  for (auto& [name, value] : j["memory"].items()) EXPECT_TRUE(j["units"].contains(name)) << name;
}

// Weights repacked at load: in every format, with units; absent when nothing was repacked (the
// goldens above).
TEST(ReportTest, RepackFiguresWhenWeightsWereRepacked) {
  RunResult r = FixedResult();
  r.repack_ms = 76.25;
  r.repack_bytes = 43589632;
  EXPECT_NE(RenderTable(r).find("load_ms  150.25 (repacked 41.57 MiB of weights in 76.25 ms)"), std::string::npos);
  const auto j = nlohmann::json::parse(RenderJson(r));
  EXPECT_EQ(j["repack_ms"].get<double>(), 76.25);
  EXPECT_EQ(j["repack_bytes"].get<uint64_t>(), 43589632u);
  EXPECT_EQ(j["units"]["repack_ms"], "ms");
  EXPECT_EQ(j["units"]["repack_bytes"], "bytes");
  const std::string csv = RenderCsv(r);
  EXPECT_NE(csv.find("run,repack_ms,76.25,ms"), std::string::npos) << csv;
  EXPECT_NE(csv.find("run,repack_bytes,43589632,bytes"), std::string::npos) << csv;
}

TEST(ReportTest, RenderReportDispatchesOnFormat) {
  RunResult r = FixedResult();
  EXPECT_EQ(RenderReport(r, ReportFormat::kTable), RenderTable(r));
  EXPECT_EQ(RenderReport(r, ReportFormat::kCsv), RenderCsv(r));
  EXPECT_EQ(RenderReport(r, ReportFormat::kLlamaBenchMarkdown), RenderLlamaBenchMarkdown(r));
}

TEST(ReportTest, ParseReportFormat) {
  for (auto f : {ReportFormat::kTable, ReportFormat::kJson, ReportFormat::kCsv,
                 ReportFormat::kLlamaBenchJson, ReportFormat::kLlamaBenchMarkdown}) {
    auto parsed = ParseReportFormat(ReportFormatName(f));
    ASSERT_TRUE(parsed.ok());
    EXPECT_EQ(*parsed, f);
  }
  auto bad = ParseReportFormat("xml");
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.status().code(), StatusCode::kInvalidArgument);
  EXPECT_NE(bad.status().message().find("xml"), std::string::npos);
}

TEST(ReportTest, CsvFieldQuotesPerRfc4180) {
  EXPECT_EQ(CsvField("plain"), "plain");
  EXPECT_EQ(CsvField(""), "");
  EXPECT_EQ(CsvField("a,b"), "\"a,b\"");
  EXPECT_EQ(CsvField("say \"hi\""), "\"say \"\"hi\"\"\"");
  EXPECT_EQ(CsvField("two\nlines"), "\"two\nlines\"");
  EXPECT_EQ(CsvField("cr\r"), "\"cr\r\"");
}

TEST(ReportTest, EmptySamplesBecomeNullEmptyAndNa) {
  RunResult r = FixedResult();
  r.config.n_gen = 1;
  for (auto& rep : r.reps) {
    rep.itl_ms.clear();  // one generated token: no inter-token latency
    FillItlPercentiles(rep);
    EXPECT_TRUE(std::isnan(rep.itl_p50_ms));
  }
  auto j = nlohmann::json::parse(RenderJson(r));
  EXPECT_TRUE(j["repetitions"][0]["itl_ms_p50"].is_null());
  EXPECT_TRUE(j["aggregates"]["itl_ms_p99"]["mean"].is_null());
  EXPECT_NE(RenderCsv(r).find("\n1,itl_ms_p50,,ms\n"), std::string::npos);
  EXPECT_NE(RenderTable(r).find("n/a"), std::string::npos);
}

TEST(ReportTest, SingleRepetitionHasZeroStddev) {
  RunResult r = FixedResult();
  r.reps.resize(1);
  auto j = nlohmann::json::parse(RenderJson(r));
  EXPECT_EQ(j["aggregates"]["ttft_ms"]["stddev"], 0.0);
  EXPECT_NE(RenderLlamaBenchMarkdown(r).find("3200.00 ± 0.00"), std::string::npos);
}

TEST(ReportTest, LlamaBenchLeavesOutATestWithNoTokens) {
  RunResult r = FixedResult();
  r.config.n_prompt = 0;
  auto records = nlohmann::json::parse(RenderLlamaBenchJson(r));
  ASSERT_EQ(records.size(), 1u);
  EXPECT_EQ(records[0]["n_gen"], 64);
  EXPECT_EQ(records[0]["n_prompt"], 0);
  std::string md = RenderLlamaBenchMarkdown(r);
  EXPECT_EQ(md.find("pp"), std::string::npos);
  EXPECT_NE(md.find("tg64"), std::string::npos);
}

TEST(ReportTest, LlamaBenchGpuInfoNamesTheDeviceOfGpuBackends) {
  RunResult r = FixedResult();
  r.config.backend = "vulkan";
  r.config.device = "Mali-G710";
  auto records = nlohmann::json::parse(RenderLlamaBenchJson(r));
  EXPECT_EQ(records[0]["gpu_info"], "Mali-G710");
  EXPECT_EQ(records[0]["backends"], "vulkan");
}

TEST(RunResultTest, FillItlPercentiles) {
  RepetitionResult rep;
  rep.itl_ms = {10, 9, 8, 7, 6, 5, 4, 3, 2, 1};
  FillItlPercentiles(rep);
  EXPECT_DOUBLE_EQ(rep.itl_p50_ms, 5.5);
  EXPECT_NEAR(rep.itl_p90_ms, 9.1, 1e-12);
  EXPECT_NEAR(rep.itl_p99_ms, 9.91, 1e-12);
}

TEST(RunResultTest, FormatIso8601Utc) {
  using namespace std::chrono;
  EXPECT_EQ(FormatIso8601Utc(system_clock::time_point{}), "1970-01-01T00:00:00Z");
  EXPECT_EQ(FormatIso8601Utc(system_clock::time_point{seconds{1738324800}}), "2025-01-31T12:00:00Z");
}

}  // namespace
}  // namespace tlm
