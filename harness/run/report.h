// Renders a RunResult: human table, our JSON and tidy CSV, and llama-bench compatible JSON/markdown.
#pragma once

#include <span>
#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

#include "engine/common/status.h"
#include "harness/run/run_result.h"

namespace tlm {

enum class ReportFormat {
  kTable,               // "table": aligned markdown-like table for people
  kJson,                // "json": schema tlmbench.run.v1 (see RunResultToJson)
  kCsv,                 // "csv": tidy rows repetition,metric,value,unit
  kLlamaBenchJson,      // "llama-bench-json": llama-bench -o json records (pp and tg)
  kLlamaBenchMarkdown,  // "llama-bench-md": llama-bench -o md table
};

// Accepts the names in quotes above.
StatusOr<ReportFormat> ParseReportFormat(std::string_view name);
std::string_view ReportFormatName(ReportFormat format);

std::string RenderReport(const RunResult& result, ReportFormat format);

// (a) For people: a header with the run's context, one row per repetition (ttft_ms, prefill_tps,
// decode_tps, itl_ms p50/p90/p99), mean / stddev / median rows, then memory & context in MiB and %.
std::string RenderTable(const RunResult& result);

// (b) Our JSON, keys in a fixed order:
//   { "schema": "tlmbench.run.v1", "timestamp", "config": {RunConfig fields}, "load_ms",
//     "repetitions": [ {"repetition": 1.., "load_ms", "ttft_ms", "prefill_tps", "decode_tps",
//                       "itl_ms_p50", "itl_ms_p90", "itl_ms_p99", "itl_ms": [samples]} ],
//     "aggregates": { metric: {"mean", "stddev", "median", "unit"} } for the six per-rep metrics,
//     "memory": { MemoryResult fields },
//     "units": { metric: unit } for every metric above }
// NaN (an empty sample) is written as null.
nlohmann::ordered_json RunResultToJson(const RunResult& result);
std::string RenderJson(const RunResult& result);  // RunResultToJson, indented by 2, with '\n'

// (c) Tidy CSV, header "repetition,metric,value,unit", '\n' line ends, RFC 4180 quoting:
//   repetition "1".."N": the six per-rep metrics of each repetition;
//   repetition "mean" / "stddev" / "median": the same six metrics aggregated over repetitions;
//   repetition "run": load_ms and the memory & context metrics, measured once per run.
// Numbers are written in the shortest form that reads back exactly; NaN is an empty field.
std::string RenderCsv(const RunResult& result);
// One CSV field: quoted (with inner quotes doubled) when it holds a comma, quote, CR or LF.
std::string CsvField(std::string_view field);

// (d) llama-bench compatible: one record for the prompt test (n_prompt=N, n_gen=0) from
// prefill_tps and one for generation (n_prompt=0, n_gen=N) from decode_tps, with llama-bench's
// field names for what means the same here. samples_ts are our measured rates; samples_ns are
// the times those rates give for the test's tokens (N * 1e9 / rate). A test with N = 0 is left
// out. Fields with no meaning here (split_mode, tensor_split, ...) are left out too.
nlohmann::ordered_json RunResultToLlamaBenchJson(const RunResult& result);
std::string RenderLlamaBenchJson(const RunResult& result);
// | model | size | params | backend | threads | test | t/s |, tests named "pp512" / "tg128", t/s
// as "avg ± std", then "build: <commit>".
std::string RenderLlamaBenchMarkdown(const RunResult& result);
// One table for several runs (as llama-bench prints several tests), then "build: <commit>" with
// the distinct commits of the runs in order, separated by ", ". One run gives the output above.
std::string RenderLlamaBenchMarkdown(std::span<const RunResult> results);

}  // namespace tlm
