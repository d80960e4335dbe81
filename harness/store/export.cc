// Exports the dataset: tidy CSV, JSON lines per run, and llama-bench records built from the runs'
// prefill_tps and decode_tps samples by the same code as `tlmbench run --llama-bench-*`.
#include "harness/store/export.h"

#include <algorithm>
#include <cmath>
#include <map>
#include <vector>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "engine/common/metric_names.h"
#include "harness/run/report.h"
#include "harness/run/run_result.h"

namespace tlm {
namespace {

using ojson = nlohmann::ordered_json;

std::string CsvNumber(double v) { return std::isfinite(v) ? fmt::format("{}", v) : std::string(); }

// A column of the current row as CSV text: integers and reals exactly, NULL as "".
std::string CellText(const sql::Statement& stmt, int col) {
  switch (stmt.ColumnType(col)) {
    case sql::Type::kInt:
      return fmt::format("{}", stmt.Int(col));
    case sql::Type::kReal:
      return CsvNumber(stmt.Real(col));
    case sql::Type::kNull:
      return "";
    default:
      return stmt.Text(col);
  }
}

ojson CellJson(const sql::Statement& stmt, int col) {
  switch (stmt.ColumnType(col)) {
    case sql::Type::kInt:
      return stmt.Int(col);
    case sql::Type::kReal: {
      const double v = stmt.Real(col);
      return std::isfinite(v) ? ojson(v) : ojson(nullptr);
    }
    case sql::Type::kNull:
      return nullptr;
    default:
      return stmt.Text(col);
  }
}

// Reads every row of a statement.
template <typename F>
Status ForEachRow(sql::Statement& stmt, F&& f) {
  while (true) {
    TLM_ASSIGN_OR_RETURN(bool row, stmt.Step());
    if (!row) return Status::Ok();
    TLM_RETURN_IF_ERROR(f());
  }
}

StatusOr<std::string> ExportCsv(sql::Connection& db, std::string_view sweep_id) {
  TLM_ASSIGN_OR_RETURN(sql::Statement stmt, db.Prepare(R"sql(
    SELECT r.sweep_id, r.run_id, r.device, r.backend, r.model, r.threads, r.n_prompt, r.n_gen, r.activations,
           r.status, r.verdict, s.repetition, s.metric, s.value, s.unit
    FROM runs AS r JOIN samples AS s ON s.run_id = r.run_id
    WHERE $1 = '' OR r.sweep_id = $1
    ORDER BY r.rowid, s.repetition, s.metric)sql"));
  stmt.BindText(1, sweep_id);
  std::string out(kExportCsvHeader);
  out += '\n';
  TLM_RETURN_IF_ERROR(ForEachRow(stmt, [&]() -> Status {
    for (int col = 0; col < stmt.ColumnCount(); ++col) {
      if (col) out += ',';
      out += CsvField(CellText(stmt, col));
    }
    out += '\n';
    return Status::Ok();
  }));
  return out;
}

StatusOr<std::string> ExportJsonl(sql::Connection& db, std::string_view sweep_id) {
  TLM_ASSIGN_OR_RETURN(sql::Statement runs,
                       db.Prepare("SELECT * FROM runs WHERE $1 = '' OR sweep_id = $1 ORDER BY rowid"));
  runs.BindText(1, sweep_id);
  TLM_ASSIGN_OR_RETURN(sql::Statement samples,
                       db.Prepare("SELECT repetition, metric, value, unit FROM samples WHERE run_id = $1 "
                                  "ORDER BY repetition, metric"));
  std::string out;
  TLM_RETURN_IF_ERROR(ForEachRow(runs, [&]() -> Status {
    ojson run = ojson::object();
    std::string run_id;
    for (int col = 0; col < runs.ColumnCount(); ++col) {
      const std::string name = runs.ColumnName(col);
      if (name == "rowid") continue;  // a column on PostgreSQL only (SQLite's * leaves its rowid out)
      if (name == "run_id") run_id = runs.Text(col);
      if (name == "spec_json" && !runs.IsNull(col)) {
        ojson spec = ojson::parse(runs.Text(col), nullptr, /*allow_exceptions=*/false);
        run[name] = spec.is_discarded() ? ojson(runs.Text(col)) : std::move(spec);
      } else {
        run[name] = CellJson(runs, col);
      }
    }
    ojson list = ojson::array();
    samples.Reset();
    samples.BindText(1, run_id);
    TLM_RETURN_IF_ERROR(ForEachRow(samples, [&]() -> Status {
      list.push_back({{"repetition", samples.Int(0)},
                      {"metric", samples.Text(1)},
                      {"value", CellJson(samples, 2)},
                      {"unit", samples.Text(3)}});
      return Status::Ok();
    }));
    run["samples"] = std::move(list);
    out += run.dump();
    out += '\n';
    return Status::Ok();
  }));
  return out;
}

// One finished run as `tlmbench run` would have described it, split into a prompt-only and a
// generation-only result so that each gives exactly its own llama-bench record.
StatusOr<std::vector<RunResult>> LlamaBenchResults(sql::Connection& db, std::string_view sweep_id) {
  TLM_ASSIGN_OR_RETURN(sql::Statement runs, db.Prepare(R"sql(
    SELECT r.run_id, r.model, r.model_sha256, r.model_description, r.backend, r.backend_device, r.threads,
           r.n_prompt, r.n_gen, r.n_ctx, r.git_commit, r.started_at, d.facts_json
    FROM runs AS r LEFT JOIN devices AS d ON d.name = r.device
    WHERE ($1 = '' OR r.sweep_id = $1) AND r.status = 'ok'
    ORDER BY r.rowid)sql"));
  runs.BindText(1, sweep_id);
  TLM_ASSIGN_OR_RETURN(sql::Statement samples, db.Prepare(R"sql(
    SELECT metric, value FROM samples
    WHERE run_id = $1 AND value IS NOT NULL
      AND ((metric IN ('prefill_tps', 'decode_tps') AND repetition >= 1) OR metric IN ('weights_bytes', 'model_n_params'))
    ORDER BY repetition)sql"));
  std::vector<RunResult> results;
  TLM_RETURN_IF_ERROR(ForEachRow(runs, [&]() -> Status {
    RunConfig c;
    c.model_path = runs.Text(1);
    c.model_name = c.model_path.substr(c.model_path.find_last_of('/') + 1);
    c.model_sha256 = runs.Text(2);
    c.model_type = runs.IsNull(3) ? c.model_name : runs.Text(3);
    c.backend = runs.Text(4);
    c.device = runs.Text(5);
    c.threads = static_cast<int>(runs.Int(6));
    const int n_prompt = static_cast<int>(runs.Int(7));
    const int n_gen = static_cast<int>(runs.Int(8));
    c.n_ctx = static_cast<int>(runs.Int(9));
    c.build_commit = runs.Text(10);
    // The engine prefills in chunks of up to 512 tokens, as `tlmbench run` reports it.
    c.n_batch = c.n_ubatch = std::min(std::max(n_prompt, 1), 512);
    if (!runs.IsNull(12)) {
      const nlohmann::json facts = nlohmann::json::parse(runs.Text(12), nullptr, /*allow_exceptions=*/false);
      if (facts.is_object()) {
        if (auto cpu = facts.find("cpu"); cpu != facts.end() && cpu->is_object()) {
          c.cpu_info = cpu->value("model", "");
        }
        if (auto models = facts.find("models"); models != facts.end() && models->is_array()) {
          for (const auto& m : *models) {
            if (!m.is_object() || m.value("name", "") != c.model_name) continue;
            const auto size = m.find("size_bytes");  // uint64: a string in protobuf's JSON
            if (size == m.end()) continue;
            if (size->is_string()) c.model_size_bytes = std::strtoull(size->get<std::string>().c_str(), nullptr, 10);
            if (size->is_number_unsigned()) c.model_size_bytes = size->get<uint64_t>();
          }
        }
      }
    }
    std::vector<double> prefill, decode;
    samples.Reset();
    samples.BindText(1, runs.Text(0));
    TLM_RETURN_IF_ERROR(ForEachRow(samples, [&]() -> Status {
      const std::string name = samples.Text(0);
      if (name == metric::kPrefillTps) prefill.push_back(samples.Real(1));
      if (name == metric::kDecodeTps) decode.push_back(samples.Real(1));
      if (name == metric::kWeightsBytes) c.model_size_bytes = static_cast<uint64_t>(samples.Real(1));
      if (name == "model_n_params") c.model_n_params = static_cast<uint64_t>(samples.Real(1));
      return Status::Ok();
    }));
    auto add = [&](int pp, int tg, const std::vector<double>& rates, double RepetitionResult::*field) {
      if (rates.empty() || pp + tg == 0) return;
      RunResult r;
      r.config = c;
      r.config.n_prompt = pp;
      r.config.n_gen = tg;
      r.config.reps = static_cast<int>(rates.size());
      r.timestamp = runs.Text(11);
      for (double rate : rates) {
        RepetitionResult rep;
        rep.*field = rate;
        r.reps.push_back(rep);
      }
      results.push_back(std::move(r));
    };
    add(n_prompt, 0, prefill, &RepetitionResult::prefill_tps);
    add(0, n_gen, decode, &RepetitionResult::decode_tps);
    return Status::Ok();
  }));
  return results;
}

}  // namespace

StatusOr<ExportFormat> ParseExportFormat(std::string_view name) {
  for (ExportFormat f :
       {ExportFormat::kCsv, ExportFormat::kJsonl, ExportFormat::kLlamaBenchJson, ExportFormat::kLlamaBenchMarkdown}) {
    if (name == ExportFormatName(f)) return f;
  }
  return InvalidArgument("unknown export format '{}' (expected csv, jsonl, llama-bench-json or llama-bench-md)", name);
}

std::string_view ExportFormatName(ExportFormat format) {
  switch (format) {
    case ExportFormat::kCsv:
      return "csv";
    case ExportFormat::kJsonl:
      return "jsonl";
    case ExportFormat::kLlamaBenchJson:
      return "llama-bench-json";
    case ExportFormat::kLlamaBenchMarkdown:
      return "llama-bench-md";
  }
  return "csv";
}

StatusOr<std::string> ExportDataset(Dataset& dataset, std::string_view sweep_id, ExportFormat format) {
  if (!sweep_id.empty()) {
    TLM_ASSIGN_OR_RETURN(bool has, dataset.HasSweep(sweep_id));
    if (!has) return NotFound("sweep '{}' is not in dataset {}", sweep_id, dataset.path());
  }
  sql::Connection& db = dataset.connection();
  StatusOr<std::string> out = std::string();
  switch (format) {
    case ExportFormat::kCsv:
      out = ExportCsv(db, sweep_id);
      break;
    case ExportFormat::kJsonl:
      out = ExportJsonl(db, sweep_id);
      break;
    case ExportFormat::kLlamaBenchJson:
    case ExportFormat::kLlamaBenchMarkdown: {
      auto results = LlamaBenchResults(db, sweep_id);
      if (!results.ok()) {
        out = results.status();
      } else if (format == ExportFormat::kLlamaBenchMarkdown) {
        out = RenderLlamaBenchMarkdown(std::span<const RunResult>(*results));
      } else {
        ojson records = ojson::array();
        for (const RunResult& r : *results) {
          for (auto& record : RunResultToLlamaBenchJson(r)) records.push_back(std::move(record));
        }
        out = records.dump(2) + "\n";
      }
      break;
    }
  }
  if (!out.ok()) return out.status().WithContext(fmt::format("exporting dataset {}", dataset.path()));
  return out;
}

}  // namespace tlm
