// `tlmbench report DATASET -o DIR [--title T]`: DIR/index.html, one self-contained page.
#include "dashboards/report_command.h"

#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <memory>
#include <string>

#include <fmt/format.h>
#include <sqlite3.h>

#include "dashboards/dashboard_data.h"
#include "dashboards/site_writer.h"
#include "harness/cli/commands.h"
#include "harness/store/dataset.h"
#include "harness/store/sql.h"

namespace tlm {
namespace {

struct ReportOptions {
  std::string dataset;
  std::string output_dir;
  std::string title = "tlmbench dashboard";
};

int Fail(const Status& s) {
  fmt::print(stderr, "error: {}\n", s.message());
  return s.code() == StatusCode::kInternal || s.code() == StatusCode::kResourceExhausted ? kExitFailure : kExitBadInput;
}

// A report only reads: refuse, without touching it, an SQLite file that is not already a dataset
// (Dataset::Open would create one in a missing or empty file).
Status CheckIsDataset(const std::string& path) {
  std::error_code ec;
  if (!std::filesystem::is_regular_file(path, ec)) {
    return NotFound("dataset {} does not exist (or is not a file)", path);
  }
  char header[16] = {};
  std::ifstream in(path, std::ios::binary);
  in.read(header, sizeof header);
  if (in.gcount() != sizeof header || std::memcmp(header, "SQLite format 3", 16) != 0) {
    return InvalidArgument("{} is not a tlmbench dataset: not an SQLite database", path);
  }
  sqlite3* db = nullptr;
  int rc = sqlite3_open_v2(path.c_str(), &db, SQLITE_OPEN_READONLY, nullptr);
  int64_t version = -1;
  if (rc == SQLITE_OK) {
    sqlite3_stmt* stmt = nullptr;
    rc = sqlite3_prepare_v2(db, "PRAGMA user_version", -1, &stmt, nullptr);
    if (rc == SQLITE_OK && sqlite3_step(stmt) == SQLITE_ROW) version = sqlite3_column_int64(stmt, 0);
    sqlite3_finalize(stmt);
  }
  const std::string why = db != nullptr ? sqlite3_errmsg(db) : "out of memory";
  sqlite3_close(db);
  if (version < 0) return InvalidArgument("{} is not a tlmbench dataset: cannot read it ({})", path, why);
  if (version == 0) return InvalidArgument("{} is an SQLite database but not a tlmbench dataset (no schema version)", path);
  return Status::Ok();
}

int RunReport(const ReportOptions& o) {
  if (!sql::IsPostgresUrl(o.dataset)) {
    if (Status st = CheckIsDataset(o.dataset); !st.ok()) return Fail(st);
  }
  auto dataset = Dataset::Open(o.dataset);
  if (!dataset.ok()) return Fail(dataset.status());
  DashboardOptions options;
  options.title = o.title;
  options.generator = BuildCommit();
  auto data = GatherDashboardData(**dataset, options);
  if (!data.ok()) return Fail(data.status().WithContext(fmt::format("reading {}", o.dataset)));
  auto path = WriteDashboardSite(*data, o.title, o.output_dir);
  if (!path.ok()) return Fail(path.status());
  const auto& counts = (*data)["overview"]["counts"];
  fmt::print("wrote {} ({} runs, {} sweeps, {} devices)\n", *path, counts["runs"].get<int64_t>(),
             counts["sweeps"].get<int64_t>(), counts["devices"].get<int64_t>());
  return kExitOk;
}

}  // namespace

void RegisterReportCommand(CLI::App& app) {
  auto o = std::make_shared<ReportOptions>();
  CLI::App* cmd = app.add_subcommand(
      "report", "Write a dataset's static HTML dashboard (DIR/index.html: one file, opens from file://, no network)");
  cmd->add_option("dataset", o->dataset, "Dataset written by tlmbench sweep: an SQLite file or a postgresql:// URL")->required();
  cmd->add_option("-o,--output", o->output_dir, "Folder to write index.html into (created when missing)")->required();
  cmd->add_option("--title", o->title, "Page title")->capture_default_str();
  cmd->callback([o] { SetCommandAction([o] { return RunReport(*o); }); });
}

}  // namespace tlm
