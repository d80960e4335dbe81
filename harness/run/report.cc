// Renders a RunResult as a table, JSON, tidy CSV, and llama-bench compatible JSON and markdown.
#include "harness/run/report.h"

#include <algorithm>
#include <cctype>
#include <cmath>
#include <cstdint>
#include <vector>

#include <fmt/format.h>
#include <fmt/ranges.h>

#include "engine/common/stats.h"

namespace tlm {

namespace {

using ojson = nlohmann::ordered_json;

constexpr double kMiB = 1024.0 * 1024.0;
constexpr double kGiB = 1024.0 * kMiB;

// The metrics every repetition has, in output order.
struct RepMetric {
  std::string_view name;
  std::string_view unit;
  double RepetitionResult::*field;
};
constexpr RepMetric kRepMetrics[] = {
    {metric::kTtftMs, unit::kMs, &RepetitionResult::ttft_ms},
    {metric::kPrefillTps, unit::kTokensPerS, &RepetitionResult::prefill_tps},
    {metric::kDecodeTps, unit::kTokensPerS, &RepetitionResult::decode_tps},
    {metric::kItlMsP50, unit::kMs, &RepetitionResult::itl_p50_ms},
    {metric::kItlMsP90, unit::kMs, &RepetitionResult::itl_p90_ms},
    {metric::kItlMsP99, unit::kMs, &RepetitionResult::itl_p99_ms},
};

// A run-level metric: integer counters stay integers in JSON and CSV.
struct RunMetric {
  std::string_view name;
  std::string_view unit;
  bool is_integer;
  uint64_t integer;
  double real;
};

RunMetric Integer(std::string_view name, std::string_view unit, uint64_t value) {
  return {name, unit, true, value, 0.0};
}
RunMetric Real(std::string_view name, std::string_view unit, double value) {
  return {name, unit, false, 0, value};
}

std::vector<RunMetric> MemoryMetrics(const MemoryResult& m) {
  return {
      Integer(metric::kRssPeakAnonBytes, unit::kBytes, m.rss_peak_anon_bytes),
      Integer(metric::kRssPeakFileBytes, unit::kBytes, m.rss_peak_file_bytes),
      Integer(metric::kWeightsResidentBytes, unit::kBytes, m.weights_resident_bytes),
      Integer(metric::kWeightsBytes, unit::kBytes, m.weights_bytes),
      Integer(metric::kEmbdResidentBytes, unit::kBytes, m.embd_resident_bytes),
      Integer(metric::kEmbdBytes, unit::kBytes, m.embd_bytes),
      Real(metric::kEmbdResidentFrac, unit::kFraction, m.embd_resident_frac),
      Integer(metric::kFaultsMajor, unit::kCount, m.faults_major),
      Integer(metric::kFaultsMinor, unit::kCount, m.faults_minor),
      Integer(metric::kKvBytes, unit::kBytes, m.kv_bytes),
      Integer(metric::kContextTokens, unit::kTokens,
              static_cast<uint64_t>(std::max(m.context_tokens, 0))),
  };
}

std::vector<double> Column(const std::vector<RepetitionResult>& reps, double RepetitionResult::*f) {
  std::vector<double> values;
  values.reserve(reps.size());
  for (const RepetitionResult& r : reps) values.push_back(r.*f);
  return values;
}

struct Aggregate {
  std::string_view label;
  double Summary::*field;
};
constexpr Aggregate kAggregates[] = {
    {"mean", &Summary::mean}, {"stddev", &Summary::stddev}, {"median", &Summary::median}};

// nlohmann writes NaN as null already; this keeps infinities out of the JSON as well.
ojson JsonNumber(double v) { return std::isfinite(v) ? ojson(v) : ojson(nullptr); }

std::string Fixed(double v, int decimals) {
  return std::isfinite(v) ? fmt::format("{:.{}f}", v, decimals) : std::string("n/a");
}

std::string Mib(uint64_t bytes) { return fmt::format("{:.2f} MiB", static_cast<double>(bytes) / kMiB); }

// Number of terminal columns a UTF-8 string takes (one per code point; enough for "±").
size_t DisplayWidth(std::string_view s) {
  size_t width = 0;
  for (unsigned char c : s) width += (c & 0xC0) != 0x80;
  return width;
}

std::string Pad(std::string_view s, size_t width, bool left_align) {
  const size_t w = DisplayWidth(s);
  std::string padding(w < width ? width - w : 0, ' ');
  return left_align ? std::string(s) + padding : padding + std::string(s);
}

// A markdown table with per-column alignment, widths fitted to the content.
struct MarkdownColumn {
  std::string header;
  size_t width;  // minimum width
  bool left_align;
};

std::string MarkdownTable(const std::vector<MarkdownColumn>& columns,
                          const std::vector<std::vector<std::string>>& rows) {
  std::vector<size_t> widths;
  for (const MarkdownColumn& c : columns) widths.push_back(std::max(c.width, DisplayWidth(c.header)));
  for (const auto& row : rows) {
    for (size_t i = 0; i < row.size() && i < widths.size(); ++i) {
      widths[i] = std::max(widths[i], DisplayWidth(row[i]));
    }
  }
  // Appends piece by piece: GCC 12 warns falsely (-Wrestrict) on chained " " + std::string.
  auto cell = [](std::string& out, std::string_view text) {
    out += ' ';
    out += text;
    out += " |";
  };
  std::string out = "|";
  for (size_t i = 0; i < columns.size(); ++i) {
    cell(out, Pad(columns[i].header, widths[i], columns[i].left_align));
  }
  out += "\n|";
  for (size_t i = 0; i < columns.size(); ++i) {
    cell(out, std::string(widths[i] - 1, '-') + (columns[i].left_align ? '-' : ':'));
  }
  out += '\n';
  for (const auto& row : rows) {
    out += '|';
    for (size_t i = 0; i < columns.size(); ++i) {
      cell(out, Pad(i < row.size() ? row[i] : std::string(), widths[i], columns[i].left_align));
    }
    out += '\n';
  }
  return out;
}

std::string CsvNumber(double v) { return std::isfinite(v) ? fmt::format("{}", v) : std::string(); }

void CsvRow(std::string& out, std::string_view repetition, std::string_view metric,
            std::string_view value, std::string_view unit) {
  out += CsvField(repetition);
  out += ',';
  out += CsvField(metric);
  out += ',';
  out += CsvField(value);
  out += ',';
  out += CsvField(unit);
  out += '\n';
}

// llama-bench's human sizes: MiB below 1 GiB, else GiB; params in M below 1e9, else B.
std::string LlamaBenchSize(uint64_t bytes) {
  const double b = static_cast<double>(bytes);
  return b < kGiB ? fmt::format("{:.2f} MiB", b / kMiB) : fmt::format("{:.2f} GiB", b / kGiB);
}
std::string LlamaBenchParams(uint64_t n) {
  const double p = static_cast<double>(n);
  return p < 1e9 ? fmt::format("{:.2f} M", p / 1e6) : fmt::format("{:.2f} B", p / 1e9);
}

// One llama-bench test: its token counts and the measured rate of each repetition.
struct LlamaBenchTest {
  int n_prompt;
  int n_gen;
  std::vector<double> samples_ts;

  int tokens() const { return n_prompt + n_gen; }
  std::string name() const {
    return n_gen == 0 ? fmt::format("pp{}", n_prompt) : fmt::format("tg{}", n_gen);
  }
  std::vector<uint64_t> samples_ns() const {
    std::vector<uint64_t> ns;
    for (double ts : samples_ts) {
      ns.push_back(ts > 0 ? static_cast<uint64_t>(std::llround(1e9 * tokens() / ts)) : 0);
    }
    return ns;
  }
};

std::vector<LlamaBenchTest> LlamaBenchTests(const RunResult& result) {
  std::vector<LlamaBenchTest> tests;
  if (result.config.n_prompt > 0) {
    tests.push_back({result.config.n_prompt, 0, Column(result.reps, &RepetitionResult::prefill_tps)});
  }
  if (result.config.n_gen > 0) {
    tests.push_back({0, result.config.n_gen, Column(result.reps, &RepetitionResult::decode_tps)});
  }
  return tests;
}

// GPU-family backends name their device in gpu_info; CPU-family backends leave it empty.
std::string LlamaBenchGpuInfo(const RunConfig& config) {
  static constexpr std::string_view kCpuBackends[] = {"", "cpu", "xnnpack"};
  std::string backend = config.backend;
  std::transform(backend.begin(), backend.end(), backend.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  for (std::string_view cpu : kCpuBackends) {
    if (backend == cpu) return "";
  }
  return config.device;
}

}  // namespace

StatusOr<ReportFormat> ParseReportFormat(std::string_view name) {
  for (ReportFormat f : {ReportFormat::kTable, ReportFormat::kJson, ReportFormat::kCsv,
                         ReportFormat::kLlamaBenchJson, ReportFormat::kLlamaBenchMarkdown}) {
    if (name == ReportFormatName(f)) return f;
  }
  return InvalidArgument(
      "unknown report format '{}' (expected table, json, csv, llama-bench-json or llama-bench-md)",
      name);
}

std::string_view ReportFormatName(ReportFormat format) {
  switch (format) {
    case ReportFormat::kTable: return "table";
    case ReportFormat::kJson: return "json";
    case ReportFormat::kCsv: return "csv";
    case ReportFormat::kLlamaBenchJson: return "llama-bench-json";
    case ReportFormat::kLlamaBenchMarkdown: return "llama-bench-md";
  }
  return "table";
}

std::string RenderReport(const RunResult& result, ReportFormat format) {
  switch (format) {
    case ReportFormat::kTable: return RenderTable(result);
    case ReportFormat::kJson: return RenderJson(result);
    case ReportFormat::kCsv: return RenderCsv(result);
    case ReportFormat::kLlamaBenchJson: return RenderLlamaBenchJson(result);
    case ReportFormat::kLlamaBenchMarkdown: return RenderLlamaBenchMarkdown(result);
  }
  return RenderTable(result);
}

// ---- (a) table ------------------------------------------------------------------------------

std::string RenderTable(const RunResult& result) {
  const RunConfig& c = result.config;
  std::string out;
  out += fmt::format("model    {} ({}, {}, {} params)\n", c.model_type.empty() ? c.model_name : c.model_type,
                     c.model_path, Mib(c.model_size_bytes), LlamaBenchParams(c.model_n_params));
  if (!c.model_sha256.empty()) out += fmt::format("sha256   {}\n", c.model_sha256);
  out += fmt::format("run      backend {} on {}, {} threads, pp{} tg{}, n_ctx {}, {} reps after {} warm-up\n",
                     c.backend, c.device.empty() ? "-" : c.device, c.threads, c.n_prompt, c.n_gen,
                     c.n_ctx, result.reps.size(), c.warmup);
  if (!c.cpu_info.empty()) out += fmt::format("cpu      {}\n", c.cpu_info);
  out += fmt::format("build    {}  at {}\n", c.build_commit, result.timestamp);
  out += fmt::format("load_ms  {}", Fixed(result.load_ms, 2));
  if (result.repack_bytes > 0)
    out += fmt::format(" (repacked {} of weights in {} ms)", Mib(result.repack_bytes), Fixed(result.repack_ms, 2));
  if (result.program_cache_warm >= 0) out += result.program_cache_warm == 1 ? ", cache warm" : ", cache cold";
  out += "\n\n";

  std::vector<MarkdownColumn> columns = {{"rep", 6, true}};
  for (const RepMetric& m : kRepMetrics) {
    std::string header(m.name);
    if (header.rfind("itl_ms_", 0) == 0) header = "itl_ms " + header.substr(7);  // "itl_ms p50"
    columns.push_back({header, 8, false});
  }
  std::vector<std::vector<std::string>> rows;
  for (size_t i = 0; i < result.reps.size(); ++i) {
    std::vector<std::string> row = {fmt::format("{}", i + 1)};
    for (const RepMetric& m : kRepMetrics) row.push_back(Fixed(result.reps[i].*m.field, 2));
    rows.push_back(std::move(row));
  }
  std::vector<Summary> summaries;
  for (const RepMetric& m : kRepMetrics) summaries.push_back(Summarize(Column(result.reps, m.field)));
  for (const Aggregate& a : kAggregates) {
    std::vector<std::string> row = {std::string(a.label)};
    for (const Summary& s : summaries) row.push_back(Fixed(s.*a.field, 2));
    rows.push_back(std::move(row));
  }
  out += MarkdownTable(columns, rows);

  const MemoryResult& m = result.memory;
  auto line = [&out](std::string_view label, std::string_view value, std::string_view note) {
    out += fmt::format("  {:<24}{:>14}{}{}\n", label, value, note.empty() ? "" : "  ", note);
  };
  auto percent = [](uint64_t part, uint64_t whole) {
    return whole == 0 ? std::string("n/a")
                      : fmt::format("{:.1f} %", 100.0 * static_cast<double>(part) / static_cast<double>(whole));
  };
  out += "\nmemory & context\n";
  line(metric::kRssPeakAnonBytes, Mib(m.rss_peak_anon_bytes), "");
  line(metric::kRssPeakFileBytes, Mib(m.rss_peak_file_bytes), "");
  line(metric::kWeightsResidentBytes, Mib(m.weights_resident_bytes),
       fmt::format("of {} ({})", Mib(m.weights_bytes), percent(m.weights_resident_bytes, m.weights_bytes)));
  line(metric::kEmbdResidentFrac,
       std::isfinite(m.embd_resident_frac) ? fmt::format("{:.1f} %", 100.0 * m.embd_resident_frac) : "n/a",
       fmt::format("{} of {}", Mib(m.embd_resident_bytes), Mib(m.embd_bytes)));
  line(metric::kKvBytes, Mib(m.kv_bytes), "");
  line(metric::kContextTokens, fmt::format("{}", m.context_tokens), "tokens");
  line("faults_major / minor", fmt::format("{} / {}", m.faults_major, m.faults_minor), "");
  return out;
}

// ---- (b) JSON -------------------------------------------------------------------------------

nlohmann::ordered_json RunResultToJson(const RunResult& result) {
  const RunConfig& c = result.config;
  ojson j;
  j["schema"] = "tlmbench.run.v1";
  j["timestamp"] = result.timestamp;
  j["config"] = {
      {"model_path", c.model_path},       {"model_name", c.model_name},
      {"model_sha256", c.model_sha256},   {"arch", c.arch},
      {"model_type", c.model_type},       {"backend", c.backend},
      {"device", c.device},               {"model_size_bytes", c.model_size_bytes},
      {"model_n_params", c.model_n_params}, {"threads", c.threads},
      {"n_prompt", c.n_prompt},           {"n_gen", c.n_gen},
      {"reps", c.reps},                   {"warmup", c.warmup},
      {"n_ctx", c.n_ctx},                 {"build_commit", c.build_commit},
      {"cpu_info", c.cpu_info},
  };
  j[metric::kLoadMs] = JsonNumber(result.load_ms);
  if (result.repack_bytes > 0) {
    j[metric::kRepackMs] = JsonNumber(result.repack_ms);
    j[metric::kRepackBytes] = result.repack_bytes;
  }
  if (result.program_cache_warm >= 0) j[metric::kProgramCacheWarm] = result.program_cache_warm;

  ojson reps = ojson::array();
  for (size_t i = 0; i < result.reps.size(); ++i) {
    const RepetitionResult& r = result.reps[i];
    ojson rep;
    rep["repetition"] = i + 1;
    rep[metric::kLoadMs] = JsonNumber(r.load_ms);
    for (const RepMetric& m : kRepMetrics) rep[m.name] = JsonNumber(r.*m.field);
    ojson itl = ojson::array();
    for (double v : r.itl_ms) itl.push_back(JsonNumber(v));
    rep[metric::kItlMs] = std::move(itl);
    reps.push_back(std::move(rep));
  }
  j["repetitions"] = std::move(reps);

  ojson aggregates = ojson::object();
  for (const RepMetric& m : kRepMetrics) {
    Summary s = Summarize(Column(result.reps, m.field));
    aggregates[m.name] = {{"mean", JsonNumber(s.mean)},
                          {"stddev", JsonNumber(s.stddev)},
                          {"median", JsonNumber(s.median)},
                          {"unit", m.unit}};
  }
  j["aggregates"] = std::move(aggregates);

  ojson memory = ojson::object();
  for (const RunMetric& m : MemoryMetrics(result.memory)) {
    memory[m.name] = m.is_integer ? ojson(m.integer) : JsonNumber(m.real);
  }
  j["memory"] = std::move(memory);

  ojson units = ojson::object();
  units[metric::kLoadMs] = unit::kMs;
  for (const RepMetric& m : kRepMetrics) units[m.name] = m.unit;
  units[metric::kItlMs] = unit::kMs;
  for (const RunMetric& m : MemoryMetrics(result.memory)) units[m.name] = m.unit;
  if (result.repack_bytes > 0) {
    units[metric::kRepackMs] = unit::kMs;
    units[metric::kRepackBytes] = unit::kBytes;
  }
  j["units"] = std::move(units);
  return j;
}

std::string RenderJson(const RunResult& result) { return RunResultToJson(result).dump(2) + "\n"; }

// ---- (c) CSV --------------------------------------------------------------------------------

std::string CsvField(std::string_view field) {
  if (field.find_first_of(",\"\r\n") == std::string_view::npos) return std::string(field);
  std::string quoted = "\"";
  for (char c : field) {
    if (c == '"') quoted += '"';
    quoted += c;
  }
  quoted += '"';
  return quoted;
}

std::string RenderCsv(const RunResult& result) {
  std::string out = "repetition,metric,value,unit\n";
  for (size_t i = 0; i < result.reps.size(); ++i) {
    const std::string rep = fmt::format("{}", i + 1);
    for (const RepMetric& m : kRepMetrics) CsvRow(out, rep, m.name, CsvNumber(result.reps[i].*m.field), m.unit);
  }
  std::vector<Summary> summaries;
  for (const RepMetric& m : kRepMetrics) summaries.push_back(Summarize(Column(result.reps, m.field)));
  for (const Aggregate& a : kAggregates) {
    for (size_t k = 0; k < std::size(kRepMetrics); ++k) {
      CsvRow(out, a.label, kRepMetrics[k].name, CsvNumber(summaries[k].*a.field), kRepMetrics[k].unit);
    }
  }
  CsvRow(out, "run", metric::kLoadMs, CsvNumber(result.load_ms), unit::kMs);
  if (result.repack_bytes > 0) {
    CsvRow(out, "run", metric::kRepackMs, CsvNumber(result.repack_ms), unit::kMs);
    CsvRow(out, "run", metric::kRepackBytes, fmt::format("{}", result.repack_bytes), unit::kBytes);
  }
  if (result.program_cache_warm >= 0)
    CsvRow(out, "run", metric::kProgramCacheWarm, fmt::format("{}", result.program_cache_warm), unit::kCount);
  for (const RunMetric& m : MemoryMetrics(result.memory)) {
    CsvRow(out, "run", m.name, m.is_integer ? fmt::format("{}", m.integer) : CsvNumber(m.real), m.unit);
  }
  return out;
}

// ---- (d) llama-bench ------------------------------------------------------------------------

nlohmann::ordered_json RunResultToLlamaBenchJson(const RunResult& result) {
  const RunConfig& c = result.config;
  ojson records = ojson::array();
  for (const LlamaBenchTest& t : LlamaBenchTests(result)) {
    std::vector<uint64_t> ns = t.samples_ns();
    std::vector<double> ns_real(ns.begin(), ns.end());
    // llama-bench keeps avg_ns and stddev_ns as integers (truncated).
    auto truncated = [](double v) { return std::isfinite(v) && v > 0 ? static_cast<uint64_t>(v) : 0; };
    ojson r;
    r["build_commit"] = c.build_commit;
    r["build_number"] = 0;
    r["cpu_info"] = c.cpu_info;
    r["gpu_info"] = LlamaBenchGpuInfo(c);
    r["backends"] = c.backend;
    r["model_filename"] = c.model_path;
    r["model_type"] = c.model_type;
    r["model_size"] = c.model_size_bytes;
    r["model_n_params"] = c.model_n_params;
    r["n_batch"] = c.n_batch > 0 ? c.n_batch : c.n_prompt;
    r["n_ubatch"] = c.n_ubatch > 0 ? c.n_ubatch : c.n_prompt;
    r["n_threads"] = c.threads;
    r["type_k"] = c.type_k;
    r["type_v"] = c.type_v;
    r["n_gpu_layers"] = c.n_gpu_layers;
    r["use_mmap"] = c.use_mmap;
    r["n_prompt"] = t.n_prompt;
    r["n_gen"] = t.n_gen;
    r["n_depth"] = 0;
    r["test_time"] = result.timestamp;
    r["avg_ns"] = truncated(Mean(ns_real));
    r["stddev_ns"] = truncated(SampleStddev(ns_real));
    r["avg_ts"] = JsonNumber(Mean(t.samples_ts));
    r["stddev_ts"] = JsonNumber(SampleStddev(t.samples_ts));
    r["samples_ns"] = ns;
    ojson ts = ojson::array();
    for (double v : t.samples_ts) ts.push_back(JsonNumber(v));
    r["samples_ts"] = std::move(ts);
    records.push_back(std::move(r));
  }
  return records;
}

std::string RenderLlamaBenchJson(const RunResult& result) {
  return RunResultToLlamaBenchJson(result).dump(2) + "\n";
}

std::string RenderLlamaBenchMarkdown(const RunResult& result) {
  return RenderLlamaBenchMarkdown(std::span<const RunResult>(&result, 1));
}

std::string RenderLlamaBenchMarkdown(std::span<const RunResult> results) {
  // llama-bench's column widths: strings are left-aligned, numbers right-aligned.
  const std::vector<MarkdownColumn> columns = {
      {"model", 30, true},   {"size", 10, false}, {"params", 10, false}, {"backend", 10, true},
      {"threads", 7, false}, {"test", 15, false}, {"t/s", 20, false},
  };
  std::vector<std::vector<std::string>> rows;
  std::vector<std::string> commits;
  for (const RunResult& result : results) {
    const RunConfig& c = result.config;
    if (std::find(commits.begin(), commits.end(), c.build_commit) == commits.end()) {
      commits.push_back(c.build_commit);
    }
    for (const LlamaBenchTest& t : LlamaBenchTests(result)) {
      const double avg = Mean(t.samples_ts);
      const double sd = SampleStddev(t.samples_ts);
      rows.push_back({c.model_type, LlamaBenchSize(c.model_size_bytes), LlamaBenchParams(c.model_n_params), c.backend,
                      fmt::format("{}", c.threads), t.name(), fmt::format("{} ± {}", Fixed(avg, 2), Fixed(sd, 2))});
    }
  }
  return MarkdownTable(columns, rows) + fmt::format("\nbuild: {}\n", fmt::join(commits, ", "));
}

}  // namespace tlm
