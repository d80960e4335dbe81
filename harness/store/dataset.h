// The comparison dataset: one SQLite file, or one PostgreSQL database shared by a farm, holding
// sweeps, devices, runs, their attempts and tidy samples (one row per run, repetition and metric).
// The schema is documented in docs/dataset.md; both backends hold the same tables and columns.
#pragma once

#include <cmath>
#include <cstdint>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "engine/common/status.h"
#include "harness/store/sql.h"
#include "harness/store/sqlite.h"
#include "tlmbench/v1/run.pb.h"

namespace tlm {

// The schema version this build writes (schema_info, and PRAGMA user_version on SQLite).
inline constexpr int kDatasetSchemaVersion = 2;

// The schema's DDL as each backend gets it (PostgreSQL: BIGINT, DOUBLE PRECISION, TEXT COLLATE "C",
// and runs.rowid as a column).
std::string DatasetSchemaSql(sql::Dialect dialect);

struct SweepRecord {
  std::string sweep_id, name, spec_path, spec_text, started_at, finished_at,
      status;  // status: "running", "done", "interrupted", "failed"
  std::string controller_commit, controller_host;
  int n_runs = 0;
  std::string agents;  // how agents were given ("--agents a:1,b:2", "local", farm file path)
};

// One row of the conformance table: one check of a conformance (`tlmbench conform`, suite "conform")
// or qualification run. Metrics that do not apply are NaN (stored as NULL); empty text is NULL.
struct ConformanceRow {
  std::string run_id, started_at, build_commit, host, backend, device;
  std::string suite;  // "conform", "qualify"
  std::string case_name, op, dtype, shape;
  double max_abs_err = NAN, nmse = NAN, kld = NAN, top1 = NAN, ppl_ratio = NAN;
  std::string status;  // "pass", "fail", "skip"
  std::string message;
  double seconds = NAN;
  std::string metrics_json;  // any other metrics, {"name": value, ...}
};

// The names the dataset stores for run statuses and verdicts: "ok", "timed_out", ...; "valid",
// "noisy", "throttled" ("" for VERDICT_UNSPECIFIED, stored as NULL).
std::string_view RunStatusName(tlmbench::v1::RunStatus status);
std::string_view VerdictName(tlmbench::v1::Verdict verdict);

// One connection to a dataset: an SQLite file, or a PostgreSQL database given by URL. Methods are
// safe to call from several threads (they take a mutex); several Dataset objects, in one process or
// many, may write the same dataset at once (SQLite: WAL, IMMEDIATE transactions, a busy timeout;
// PostgreSQL: transactions and ON CONFLICT, a run's row and samples still written exactly once).
class Dataset {
 public:
  // `location`: postgresql://USER:PASSWORD@HOST:PORT/DB?OPTIONS or postgres://... opens PostgreSQL
  // (libpq's URL; the schema is created when the database has none); anything else is an SQLite file,
  // opened or created, schema created/migrated (PRAGMA user_version), WAL, busy timeout, foreign keys.
  static StatusOr<std::unique_ptr<Dataset>> Open(const std::string& location);
  Status BeginSweep(const SweepRecord& sweep);  // insert, or update status to running when resuming an existing id
  Status FinishSweep(std::string_view sweep_id, std::string_view status, std::string_view finished_at);
  StatusOr<SweepRecord> LoadSweep(std::string_view sweep_id);  // NotFound with a clear message
  Status UpsertDevice(const tlmbench::v1::DeviceInfo& device, std::string_view seen_at);  // keyed by device name
  // Records one attempt of a run that did not finish (LOST, TIMED_OUT and retried, ...) in the attempts table.
  Status RecordAttempt(const tlmbench::v1::RunSpec& spec, std::string_view agent, tlmbench::v1::RunStatus status,
                       std::string_view error, std::string_view started_at, std::string_view finished_at);
  // Writes the final outcome of a run and its samples in one transaction, exactly once: if the run id already has a
  // final row, nothing changes and *written is false.
  Status WriteResult(const tlmbench::v1::RunSpec& spec, const tlmbench::v1::RunResult& result, bool* written);
  // Writes the rows of one conformance or qualification run in one transaction (a row with the same run
  // id and case name is replaced).
  Status WriteConformance(const std::vector<ConformanceRow>& rows);
  StatusOr<std::set<std::string>> FinishedRunIds(std::string_view sweep_id);  // runs with a final row (any status)
  // Counts for tests and summaries ("" counts every sweep).
  StatusOr<int64_t> CountRuns(std::string_view sweep_id = {});
  StatusOr<int64_t> CountSamples(std::string_view sweep_id = {});

  // Read-only queries by export, summary, compare, history, report: backend-neutral (sql.h lists
  // the portable SQL). Prepare, bind $1.., Step, read columns; not thread-safe: use it from one
  // thread, or hold no other call of this Dataset at the same time.
  sql::Connection& connection() { return *db_; }
  sql::Dialect dialect() const { return db_->dialect(); }
  // SQLite only (nullptr on PostgreSQL): the raw handle.
  sqlite3* handle();
  // The file path, or the URL with its password hidden.
  const std::string& path() const { return path_; }

  // Whether the dataset holds this sweep.
  StatusOr<bool> HasSweep(std::string_view sweep_id);

 private:
  Dataset(std::unique_ptr<sql::Connection> db, std::string path) : db_(std::move(db)), path_(std::move(path)) {}
  Status Configure();        // SQLite
  Status Migrate();          // SQLite
  Status MigratePostgres();  // PostgreSQL
  Status CreateSchemaLocked();
  Status WriteResultLocked(const tlmbench::v1::RunSpec& spec, const tlmbench::v1::RunResult& result,
                           const std::string& spec_json, bool* written);
  StatusOr<bool> HasSweepLocked(std::string_view sweep_id);
  // Prefixes "dataset PATH: " to an error.
  Status Context(const Status& st) const;

  std::mutex mu_;
  std::unique_ptr<sql::Connection> db_;
  std::string path_;
};

}  // namespace tlm
