// The comparison dataset: one SQLite file holding sweeps, devices, runs, their attempts and tidy
// samples (one row per run, repetition and metric). The schema is documented in docs/dataset.md.
#pragma once

#include <cstdint>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <string_view>

#include "engine/common/status.h"
#include "harness/store/sqlite.h"
#include "tlmbench/v1/run.pb.h"

namespace tlm {

// The schema version this build writes (PRAGMA user_version and schema_info).
inline constexpr int kDatasetSchemaVersion = 1;

struct SweepRecord {
  std::string sweep_id, name, spec_path, spec_text, started_at, finished_at,
      status;  // status: "running", "done", "interrupted", "failed"
  std::string controller_commit, controller_host;
  int n_runs = 0;
  std::string agents;  // how agents were given ("--agents a:1,b:2", "local", farm file path)
};

// The names the dataset stores for run statuses and verdicts: "ok", "timed_out", ...; "valid",
// "noisy", "throttled" ("" for VERDICT_UNSPECIFIED, stored as NULL).
std::string_view RunStatusName(tlmbench::v1::RunStatus status);
std::string_view VerdictName(tlmbench::v1::Verdict verdict);

// One connection to a dataset file. Methods are safe to call from several threads (they take a
// mutex); several Dataset objects, in one process or many, may write the same file at once (WAL,
// IMMEDIATE transactions, a busy timeout).
class Dataset {
 public:
  // Opens or creates the file; creates/migrates the schema (PRAGMA user_version). WAL mode, busy timeout, foreign keys
  // on.
  static StatusOr<std::unique_ptr<Dataset>> Open(const std::string& path);
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
  StatusOr<std::set<std::string>> FinishedRunIds(std::string_view sweep_id);  // runs with a final row (any status)
  // Counts for tests and summaries ("" counts every sweep).
  StatusOr<int64_t> CountRuns(std::string_view sweep_id = {});
  StatusOr<int64_t> CountSamples(std::string_view sweep_id = {});
  sqlite3* handle();  // for read-only queries by export/report
  sqlite::Connection& connection() { return *db_; }
  const std::string& path() const { return path_; }

  // Whether the dataset holds this sweep.
  StatusOr<bool> HasSweep(std::string_view sweep_id);

 private:
  Dataset(std::unique_ptr<sqlite::Connection> db, std::string path) : db_(std::move(db)), path_(std::move(path)) {}
  Status Configure();
  Status Migrate();
  StatusOr<bool> HasSweepLocked(std::string_view sweep_id);
  // Prefixes "dataset PATH: " to an error.
  Status Context(const Status& st) const;

  std::mutex mu_;
  std::unique_ptr<sqlite::Connection> db_;
  std::string path_;
};

}  // namespace tlm
