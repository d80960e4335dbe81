// Exports a dataset (or one sweep of it) as tidy CSV, JSON lines, or llama-bench's JSON/markdown.
#pragma once

#include <string>
#include <string_view>

#include "engine/common/status.h"
#include "harness/store/dataset.h"

namespace tlm {

enum class ExportFormat {
  kCsv,                 // "csv": one row per sample, with the run's key columns
  kJsonl,               // "jsonl": one JSON object per run, with its samples
  kLlamaBenchJson,      // "llama-bench-json": llama-bench -o json records (pp and tg per run)
  kLlamaBenchMarkdown,  // "llama-bench-md": llama-bench -o md table
};

// Accepts the names in quotes above.
StatusOr<ExportFormat> ParseExportFormat(std::string_view name);
std::string_view ExportFormatName(ExportFormat format);

// The CSV header of ExportFormat::kCsv (without the line end).
inline constexpr std::string_view kExportCsvHeader =
    "sweep_id,run_id,device,backend,model,threads,n_prompt,n_gen,activations,status,verdict,repetition,metric,"
    "value,unit";

// The dataset's runs in write order; sweep_id "" exports every sweep, an unknown sweep id is
// NotFound. Formats (docs/dataset.md):
//  - csv: header kExportCsvHeader, one row per sample (runs without samples have no row), RFC 4180
//    quoting, numbers in the shortest form that reads back exactly, NULL as an empty field;
//  - jsonl: one object per run, every column of runs by name (spec_json parsed into an object,
//    NULL as null) plus "samples": [{"repetition", "metric", "value", "unit"}];
//  - llama-bench-json: one JSON array of records, for each run with status ok one "pp" record from
//    its prefill_tps samples and one "tg" record from its decode_tps samples (as `tlmbench run
//    --llama-bench-json` writes them);
//  - llama-bench-md: the same records as one llama-bench markdown table.
StatusOr<std::string> ExportDataset(Dataset& dataset, std::string_view sweep_id, ExportFormat format);

}  // namespace tlm
