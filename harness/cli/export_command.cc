// `tlmbench export DATASET [--sweep ID] [--format csv|jsonl|llama-bench-json|llama-bench-md] [-o FILE]`.
#include "harness/cli/export_command.h"

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <memory>
#include <string>

#include <fmt/format.h>

#include "harness/cli/commands.h"
#include "harness/store/dataset.h"
#include "harness/store/sql.h"
#include "harness/store/sql.h"
#include "harness/store/export.h"

namespace tlm {
namespace {

struct ExportOptions {
  std::string dataset;
  std::string sweep;
  std::string format = "csv";
  std::string output;  // "" or "-": stdout
};

int Fail(const Status& s) {
  fmt::print(stderr, "error: {}\n", s.message());
  return s.code() == StatusCode::kInternal || s.code() == StatusCode::kResourceExhausted ? kExitFailure : kExitBadInput;
}

int RunExport(const ExportOptions& o) {
  auto format = ParseExportFormat(o.format);
  if (!format.ok()) return Fail(format.status());
  // Open() would create a missing file: an export of nothing is a typo, not an empty dataset.
  std::error_code ec;
  if (!sql::IsPostgresUrl(o.dataset) && !std::filesystem::is_regular_file(o.dataset, ec)) {
    return Fail(NotFound("dataset {} does not exist (or is not a file)", o.dataset));
  }
  auto dataset = Dataset::Open(o.dataset);
  if (!dataset.ok()) return Fail(dataset.status());
  auto out = ExportDataset(**dataset, o.sweep, *format);
  if (!out.ok()) return Fail(out.status());

  const bool to_stdout = o.output.empty() || o.output == "-";
  std::FILE* f = to_stdout ? stdout : std::fopen(o.output.c_str(), "wb");
  if (f == nullptr) return Fail(NotFound("cannot write {}: {}", o.output, std::strerror(errno)));
  const bool wrote = std::fwrite(out->data(), 1, out->size(), f) == out->size();
  const bool closed = to_stdout ? std::fflush(f) == 0 : std::fclose(f) == 0;
  if (!wrote || !closed) {
    fmt::print(stderr, "error: writing {}: {}\n", to_stdout ? "stdout" : o.output, std::strerror(errno));
    return kExitFailure;
  }
  return kExitOk;
}

}  // namespace

void RegisterExportCommand(CLI::App& app) {
  auto o = std::make_shared<ExportOptions>();
  CLI::App* cmd =
      app.add_subcommand("export", "Write a dataset's runs and samples as CSV, JSON lines or llama-bench output");
  cmd->add_option("dataset", o->dataset, "Dataset file (SQLite) written by tlmbench sweep")->required();
  cmd->add_option("--sweep", o->sweep, "Only this sweep (default: every sweep in the dataset)");
  cmd->add_option("-f,--format", o->format,
                  "csv (tidy rows, one per sample), jsonl (one object per run), llama-bench-json, llama-bench-md")
      ->check(CLI::IsMember({"csv", "jsonl", "llama-bench-json", "llama-bench-md"}))
      ->capture_default_str();
  cmd->add_option("-o,--output", o->output, "Write to this file instead of stdout");
  cmd->callback([o] { SetCommandAction([o] { return RunExport(*o); }); });
}

}  // namespace tlm
