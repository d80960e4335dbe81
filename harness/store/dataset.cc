// The comparison dataset on SQLite or PostgreSQL (harness/store/sql.h): schema creation and migration, and the writes
// of the sweep controller (sweeps, devices, attempts, final results with their samples, exactly once).
#include "harness/store/dataset.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdlib>
#include <map>
#include <thread>
#include <utility>
#include <vector>

#include <google/protobuf/util/json_util.h>
#include <nlohmann/json.hpp>

#include "engine/common/time_format.h"
#include "harness/run/run_result.h"
#include "harness/store/sqlite_backend.h"

namespace tlm {
namespace {

namespace v1 = tlmbench::v1;

constexpr int kBusyTimeoutMs = 30000;

// Version 1 of the schema (docs/dataset.md describes every column). Empty text is stored as NULL.
constexpr std::string_view kSchemaV1 = R"sql(
CREATE TABLE schema_info (
  key   TEXT PRIMARY KEY,
  value TEXT NOT NULL
);
CREATE TABLE sweeps (
  sweep_id          TEXT PRIMARY KEY,
  name              TEXT,
  spec_path         TEXT,
  spec_text         TEXT,
  started_at        TEXT,
  finished_at       TEXT,
  status            TEXT NOT NULL,
  controller_commit TEXT,
  controller_host   TEXT,
  n_runs            INTEGER NOT NULL DEFAULT 0,
  agents            TEXT
);
CREATE TABLE devices (
  name        TEXT PRIMARY KEY,
  hostname    TEXT,
  labels_json TEXT NOT NULL,
  facts_json  TEXT NOT NULL,
  first_seen  TEXT NOT NULL,
  last_seen   TEXT NOT NULL
);
CREATE TABLE runs (
  run_id                  TEXT PRIMARY KEY,
  sweep_id                TEXT NOT NULL REFERENCES sweeps(sweep_id),
  scenario                TEXT,
  source                  TEXT,
  spec_json               TEXT NOT NULL,
  spec_hash               TEXT,
  workload                TEXT,
  device                  TEXT,
  backend                 TEXT,
  backend_device          TEXT,
  model                   TEXT,
  model_sha256            TEXT,
  model_description       TEXT,
  threads                 INTEGER,
  n_prompt                INTEGER,
  n_gen                   INTEGER,
  n_ctx                   INTEGER,
  activations             TEXT,
  attempt                 INTEGER,
  status                  TEXT NOT NULL,
  error                   TEXT,
  exit_code               INTEGER,
  signal                  INTEGER,
  verdict                 TEXT,
  verdict_reason          TEXT,
  reps                    INTEGER,
  queue_ms                REAL,
  worker_wall_ms          REAL,
  load_avg_before         REAL,
  cpu_freq_mhz_before     REAL,
  cpu_freq_mhz_min_during REAL,
  temperature_c_before    REAL,
  temperature_c_after     REAL,
  primary_cv              REAL,
  started_at              TEXT,
  finished_at             TEXT,
  git_commit              TEXT,
  commit_time             TEXT,
  written_at              TEXT NOT NULL
);
CREATE INDEX runs_by_sweep ON runs(sweep_id);
CREATE INDEX runs_by_config ON runs(device, backend, model);
CREATE TABLE attempts (
  run_id      TEXT NOT NULL,
  attempt     INTEGER NOT NULL,
  sweep_id    TEXT,
  agent       TEXT,
  status      TEXT NOT NULL,
  error       TEXT,
  started_at  TEXT,
  finished_at TEXT,
  PRIMARY KEY (run_id, attempt)
);
CREATE INDEX attempts_by_sweep ON attempts(sweep_id);
CREATE TABLE samples (
  run_id     TEXT NOT NULL REFERENCES runs(run_id) ON DELETE CASCADE,
  repetition INTEGER NOT NULL,
  metric     TEXT NOT NULL,
  value      REAL,
  unit       TEXT NOT NULL,
  PRIMARY KEY (run_id, repetition, metric)
) WITHOUT ROWID;
CREATE INDEX samples_by_metric ON samples(metric);
)sql";

// Version 2 adds the conformance table: one row per check of a conformance or qualification run
// (`tlmbench conform`, later `tlmbench qualify`), told apart by `suite`.
constexpr std::string_view kSchemaV2 = R"sql(
CREATE TABLE conformance (
  run_id       TEXT NOT NULL,
  started_at   TEXT NOT NULL,
  build_commit TEXT,
  host         TEXT,
  backend      TEXT NOT NULL,
  device       TEXT,
  suite        TEXT NOT NULL,
  case_name    TEXT NOT NULL,
  op           TEXT,
  dtype        TEXT,
  shape        TEXT,
  max_abs_err  REAL,
  nmse         REAL,
  kld          REAL,
  top1         REAL,
  ppl_ratio    REAL,
  status       TEXT NOT NULL,
  message      TEXT,
  seconds      REAL,
  metrics_json TEXT,
  PRIMARY KEY (run_id, case_name)
);
CREATE INDEX conformance_by_backend ON conformance(suite, backend, case_name);
)sql";

// The DDL as a dialect takes it. PostgreSQL: 64-bit integers and doubles as SQLite has them, text
// compared bytewise as SQLite does, no WITHOUT ROWID, and runs.rowid (write order, SQLite's rowid)
// as a real column at the end.
std::string ForDialect(std::string ddl, sql::Dialect dialect) {
  if (dialect == sql::Dialect::kSqlite) return ddl;
  auto replace_all = [&ddl](std::string_view from, std::string_view to) {
    for (size_t p = ddl.find(from); p != std::string::npos; p = ddl.find(from, p + to.size())) {
      ddl.replace(p, from.size(), to);
    }
  };
  replace_all(" TEXT", " TEXT COLLATE \"C\"");
  replace_all(" INTEGER", " BIGINT");
  replace_all(" REAL", " DOUBLE PRECISION");
  replace_all(") WITHOUT ROWID;", ");");
  replace_all("  written_at              TEXT COLLATE \"C\" NOT NULL\n);",
              "  written_at              TEXT COLLATE \"C\" NOT NULL,\n"
              "  rowid                   BIGINT GENERATED ALWAYS AS IDENTITY UNIQUE\n);");
  return ddl;
}

// From version 1 to 2 (SQLite and PostgreSQL): the conformance table, and the version in schema_info.
Status MigrateV1ToV2(sql::Connection& db) {
  TLM_RETURN_IF_ERROR(db.Exec(ForDialect(std::string(kSchemaV2), db.dialect())));
  return db.Exec("UPDATE schema_info SET value = '2' WHERE key = 'schema_version'");
}

constexpr std::string_view kSweepStatuses[] = {"running", "done", "interrupted", "failed"};

bool IsSweepStatus(std::string_view status) {
  for (std::string_view s : kSweepStatuses) {
    if (s == status) return true;
  }
  return false;
}

// Proto messages as JSON with the .proto field names and every field present, so that json_extract
// finds zeros and empty strings too; keys sorted, so that equal messages give equal text (protobuf
// prints map fields, labels, in no fixed order).
StatusOr<std::string> ProtoJson(const google::protobuf::Message& message) {
  google::protobuf::util::JsonPrintOptions options;
  options.preserve_proto_field_names = true;
  options.always_print_primitive_fields = true;
  std::string json;
  auto st = google::protobuf::util::MessageToJsonString(message, &json, options);
  if (!st.ok()) return Internal("printing {} as JSON: {}", message.GetTypeName(), st.ToString());
  const nlohmann::json sorted = nlohmann::json::parse(json, nullptr, /*allow_exceptions=*/false);
  return sorted.is_discarded() ? json : sorted.dump();
}

}  // namespace

std::string_view RunStatusName(v1::RunStatus status) {
  switch (status) {
    case v1::OK:
      return "ok";
    case v1::FAILED:
      return "failed";
    case v1::CRASHED:
      return "crashed";
    case v1::TIMED_OUT:
      return "timed_out";
    case v1::CANCELLED:
      return "cancelled";
    case v1::EXPIRED:
      return "expired";
    case v1::LOST:
      return "lost";
    case v1::REFUSED:
      return "refused";
    default:
      return "unspecified";
  }
}

std::string_view VerdictName(v1::Verdict verdict) {
  switch (verdict) {
    case v1::VALID:
      return "valid";
    case v1::NOISY:
      return "noisy";
    case v1::THROTTLED:
      return "throttled";
    default:
      return "";
  }
}

Status Dataset::Context(const Status& st) const { return st.WithContext(fmt::format("dataset {}", path_)); }

std::string DatasetSchemaSql(sql::Dialect dialect) {
  return ForDialect(std::string(kSchemaV1) + std::string(kSchemaV2), dialect);
}

StatusOr<std::unique_ptr<Dataset>> Dataset::Open(const std::string& path) {
  if (path.empty()) return InvalidArgument("dataset path is empty");
  const bool postgres = sql::IsPostgresUrl(path);
  auto db = postgres ? sql::OpenPostgres(path) : sql::OpenSqlite(path);
  if (!db.ok()) return db.status().WithContext("dataset");
  std::unique_ptr<Dataset> dataset(new Dataset(std::move(*db), sql::RedactUrl(path)));
  if (postgres) {
    TLM_RETURN_IF_ERROR(dataset->MigratePostgres());
  } else {
    TLM_RETURN_IF_ERROR(dataset->Configure());
    TLM_RETURN_IF_ERROR(dataset->Migrate());
  }
  return dataset;
}

Status Dataset::Configure() {
  sqlite::Connection& lite = *sql::SqliteOf(*db_);
  sqlite3_busy_timeout(lite.handle(), kBusyTimeoutMs);
  // The first read of the file: a file that is not SQLite fails here with a clear message.
  {
    auto probe = lite.Prepare("SELECT count(*) FROM sqlite_master");
    Status st = probe.ok() ? probe->Step().status() : probe.status();
    if (!st.ok()) {
      if (st.code() == StatusCode::kDataLoss) {
        return DataLoss("{} is not a tlmbench dataset: not an SQLite database, or a corrupt one ({})", path_,
                        lite.LastError());
      }
      return Context(st);
    }
  }
  // WAL: readers (export, report) never block the controller's writes, nor it them.
  {
    TLM_ASSIGN_OR_RETURN(sqlite::Statement wal, lite.Prepare("PRAGMA journal_mode=WAL"));
    if (Status st = wal.Run(); !st.ok()) return Context(st);
  }
  // In WAL mode, NORMAL survives a crash or kill -9 of any writer (only a power loss may drop the
  // last transactions) and saves an fsync per result: 0.3 ms a run at farm scale.
  TLM_RETURN_IF_ERROR(Context(lite.Exec("PRAGMA synchronous=NORMAL")));
  return Context(lite.Exec("PRAGMA foreign_keys=ON"));
}

Status Dataset::Migrate() {
  sqlite::Connection& lite = *sql::SqliteOf(*db_);
  auto read_version = [&lite]() -> StatusOr<int64_t> {
    TLM_ASSIGN_OR_RETURN(sqlite::Statement stmt, lite.Prepare("PRAGMA user_version"));
    TLM_ASSIGN_OR_RETURN(bool row, stmt.Step());
    return row ? stmt.Int(0) : 0;
  };
  TLM_ASSIGN_OR_RETURN(int64_t version, read_version());
  if (version == kDatasetSchemaVersion) return Status::Ok();
  if (version > kDatasetSchemaVersion) {
    return Unimplemented("dataset {} has schema version {}, newer than this tlmbench reads ({}); update tlmbench",
                         path_, version, kDatasetSchemaVersion);
  }
  // Another process may be creating the schema right now: decide under the write lock.
  auto tx = sql::Transaction::Begin(*db_);
  if (!tx.ok()) return Context(tx.status());
  TLM_ASSIGN_OR_RETURN(version, read_version());
  if (version == kDatasetSchemaVersion) return Context((*tx)->Commit());
  if (version == 0) {
    TLM_ASSIGN_OR_RETURN(sqlite::Statement tables, lite.Prepare("SELECT count(*) FROM sqlite_master"));
    TLM_ASSIGN_OR_RETURN(bool row, tables.Step());
    if (row && tables.Int(0) > 0) {
      return InvalidArgument(
          "{} is an SQLite database but not a tlmbench dataset (it has tables and no schema version)", path_);
    }
    if (Status st = CreateSchemaLocked(); !st.ok()) return Context(st);
  } else if (version == 1) {
    // Later versions migrate here, one step at a time.
    if (Status st = MigrateV1ToV2(*db_); !st.ok()) return Context(st);
  }
  if (Status st = lite.Exec(fmt::format("PRAGMA user_version = {}", kDatasetSchemaVersion)); !st.ok()) {
    return Context(st);
  }
  return Context((*tx)->Commit());
}

Status Dataset::CreateSchemaLocked() {
  TLM_RETURN_IF_ERROR(db_->Exec(DatasetSchemaSql(db_->dialect())));
  TLM_ASSIGN_OR_RETURN(sql::Statement info, db_->Prepare("INSERT INTO schema_info(key, value) VALUES "
                                                         "('schema_version', $1), ('created_at', $2)"));
  info.BindText(1, fmt::format("{}", kDatasetSchemaVersion)).BindText(2, NowIso8601Utc());
  return info.Run();
}

// PostgreSQL keeps the version in schema_info only. Several controllers may open a fresh database at
// once: the schema is created under a transaction-scoped advisory lock, by the first of them.
Status Dataset::MigratePostgres() {
  auto read_version = [this]() -> StatusOr<int64_t> {
    // pg_tables, not to_regclass: a name looked up before the lock may be cached as missing.
    TLM_ASSIGN_OR_RETURN(sql::Statement has,
                         db_->Prepare("SELECT count(*) FROM pg_catalog.pg_tables WHERE schemaname = current_schema() "
                                      "AND tablename = 'schema_info'"));
    TLM_ASSIGN_OR_RETURN(bool row, has.Step());
    if (!row || has.Int(0) == 0) return 0;
    TLM_ASSIGN_OR_RETURN(sql::Statement stmt,
                         db_->Prepare("SELECT value FROM schema_info WHERE key = 'schema_version'"));
    TLM_ASSIGN_OR_RETURN(row, stmt.Step());
    return row ? std::strtoll(stmt.Text(0).c_str(), nullptr, 10) : 0;
  };
  auto check = [this](int64_t version) -> Status {
    if (version > kDatasetSchemaVersion) {
      return Unimplemented("dataset {} has schema version {}, newer than this tlmbench reads ({}); update tlmbench",
                           path_, version, kDatasetSchemaVersion);
    }
    return Status::Ok();
  };
  auto version = read_version();
  if (!version.ok()) return Context(version.status());
  if (*version == kDatasetSchemaVersion) return Status::Ok();
  TLM_RETURN_IF_ERROR(check(*version));
  auto tx = sql::Transaction::Begin(*db_);
  if (!tx.ok()) return Context(tx.status());
  if (Status st = db_->Exec("SELECT pg_advisory_xact_lock(7596133526201270884)"); !st.ok()) return Context(st);
  version = read_version();
  if (!version.ok()) return Context(version.status());
  TLM_RETURN_IF_ERROR(check(*version));
  if (*version == kDatasetSchemaVersion) return Context((*tx)->Commit());
  if (*version == 0) {
    // A shared database may hold other tables; refuse only one that holds ours without a version.
    TLM_ASSIGN_OR_RETURN(sql::Statement tables,
                         db_->Prepare("SELECT count(*) FROM information_schema.tables WHERE table_schema = "
                                      "current_schema() AND table_name IN ('sweeps', 'devices', 'runs', "
                                      "'attempts', 'samples')"));
    TLM_ASSIGN_OR_RETURN(bool row, tables.Step());
    if (row && tables.Int(0) > 0) {
      return InvalidArgument(
          "{} has tables named like a tlmbench dataset's (sweeps, runs, ...) but no schema_info: not a tlmbench "
          "dataset (use another database, or another schema with ?options=-csearch_path%3DNAME)",
          path_);
    }
    if (Status st = CreateSchemaLocked(); !st.ok()) return Context(st);
  } else if (*version == 1) {
    // Later versions migrate here, one step at a time.
    if (Status st = MigrateV1ToV2(*db_); !st.ok()) return Context(st);
  }
  return Context((*tx)->Commit());
}

sqlite3* Dataset::handle() {
  sqlite::Connection* lite = sql::SqliteOf(*db_);
  return lite != nullptr ? lite->handle() : nullptr;
}

StatusOr<bool> Dataset::HasSweepLocked(std::string_view sweep_id) {
  TLM_ASSIGN_OR_RETURN(sql::Statement stmt, db_->Prepare("SELECT 1 FROM sweeps WHERE sweep_id = $1"));
  stmt.BindText(1, sweep_id);
  return stmt.Step();
}

StatusOr<bool> Dataset::HasSweep(std::string_view sweep_id) {
  std::lock_guard<std::mutex> lock(mu_);
  auto has = HasSweepLocked(sweep_id);
  if (!has.ok()) return Context(has.status());
  return has;
}

Status Dataset::BeginSweep(const SweepRecord& sweep) {
  if (sweep.sweep_id.empty()) return InvalidArgument("BeginSweep: the sweep has no id");
  const std::string status = sweep.status.empty() ? "running" : sweep.status;
  if (!IsSweepStatus(status)) {
    return InvalidArgument("sweep {}: status '{}' is not one of running, done, interrupted, failed", sweep.sweep_id,
                           status);
  }
  std::lock_guard<std::mutex> lock(mu_);
  // A resumed sweep keeps its name, spec and start time; it is running again, maybe on other agents.
  auto stmt = db_->Prepare(R"sql(
    INSERT INTO sweeps (sweep_id, name, spec_path, spec_text, started_at, finished_at, status,
                        controller_commit, controller_host, n_runs, agents)
    VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)
    ON CONFLICT (sweep_id) DO UPDATE SET
      status = 'running', finished_at = NULL, controller_commit = excluded.controller_commit,
      controller_host = excluded.controller_host, n_runs = excluded.n_runs, agents = excluded.agents)sql");
  if (!stmt.ok()) return Context(stmt.status());
  stmt->BindText(1, sweep.sweep_id)
      .BindTextOrNull(2, sweep.name)
      .BindTextOrNull(3, sweep.spec_path)
      .BindTextOrNull(4, sweep.spec_text)
      .BindTextOrNull(5, sweep.started_at)
      .BindTextOrNull(6, sweep.finished_at)
      .BindText(7, status)
      .BindTextOrNull(8, sweep.controller_commit)
      .BindTextOrNull(9, sweep.controller_host)
      .BindInt(10, sweep.n_runs)
      .BindTextOrNull(11, sweep.agents);
  return Context(stmt->Run().WithContext(fmt::format("sweep {}", sweep.sweep_id)));
}

Status Dataset::FinishSweep(std::string_view sweep_id, std::string_view status, std::string_view finished_at) {
  if (!IsSweepStatus(status)) {
    return InvalidArgument("sweep {}: status '{}' is not one of running, done, interrupted, failed", sweep_id, status);
  }
  std::lock_guard<std::mutex> lock(mu_);
  auto stmt = db_->Prepare("UPDATE sweeps SET status = $2, finished_at = $3 WHERE sweep_id = $1");
  if (!stmt.ok()) return Context(stmt.status());
  stmt->BindText(1, sweep_id).BindText(2, status).BindTextOrNull(3, finished_at);
  if (Status st = stmt->Run(); !st.ok()) return Context(st);
  if (db_->Changes() == 0) return NotFound("sweep '{}' is not in dataset {}", sweep_id, path_);
  return Status::Ok();
}

StatusOr<SweepRecord> Dataset::LoadSweep(std::string_view sweep_id) {
  std::lock_guard<std::mutex> lock(mu_);
  auto stmt = db_->Prepare(
      "SELECT sweep_id, name, spec_path, spec_text, started_at, finished_at, status, controller_commit, "
      "controller_host, n_runs, agents FROM sweeps WHERE sweep_id = $1");
  if (!stmt.ok()) return Context(stmt.status());
  stmt->BindText(1, sweep_id);
  auto row = stmt->Step();
  if (!row.ok()) return Context(row.status());
  if (!*row) return NotFound("sweep '{}' is not in dataset {}", sweep_id, path_);
  SweepRecord s;
  s.sweep_id = stmt->Text(0);
  s.name = stmt->Text(1);
  s.spec_path = stmt->Text(2);
  s.spec_text = stmt->Text(3);
  s.started_at = stmt->Text(4);
  s.finished_at = stmt->Text(5);
  s.status = stmt->Text(6);
  s.controller_commit = stmt->Text(7);
  s.controller_host = stmt->Text(8);
  s.n_runs = static_cast<int>(stmt->Int(9));
  s.agents = stmt->Text(10);
  return s;
}

Status Dataset::UpsertDevice(const v1::DeviceInfo& device, std::string_view seen_at) {
  if (device.name().empty()) return InvalidArgument("UpsertDevice: the device has no name");
  const std::map<std::string, std::string> labels(device.labels().begin(), device.labels().end());
  const std::string labels_json = nlohmann::json(labels).dump();
  TLM_ASSIGN_OR_RETURN(std::string facts_json, ProtoJson(device));
  const std::string seen = seen_at.empty() ? NowIso8601Utc() : std::string(seen_at);
  std::lock_guard<std::mutex> lock(mu_);
  auto stmt = db_->Prepare(R"sql(
    INSERT INTO devices (name, hostname, labels_json, facts_json, first_seen, last_seen)
    VALUES ($1, $2, $3, $4, $5, $5)
    ON CONFLICT (name) DO UPDATE SET
      hostname = excluded.hostname, labels_json = excluded.labels_json, facts_json = excluded.facts_json,
      last_seen = excluded.last_seen)sql");
  if (!stmt.ok()) return Context(stmt.status());
  stmt->BindText(1, device.name())
      .BindTextOrNull(2, device.hostname())
      .BindText(3, labels_json)
      .BindText(4, facts_json)
      .BindText(5, seen);
  return Context(stmt->Run().WithContext(fmt::format("device {}", device.name())));
}

Status Dataset::RecordAttempt(const v1::RunSpec& spec, std::string_view agent, v1::RunStatus status,
                              std::string_view error, std::string_view started_at, std::string_view finished_at) {
  if (spec.run_id().empty()) return InvalidArgument("RecordAttempt: the run spec has no run_id");
  std::lock_guard<std::mutex> lock(mu_);
  auto stmt = db_->Prepare(R"sql(
    INSERT INTO attempts (run_id, attempt, sweep_id, agent, status, error, started_at, finished_at)
    VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
    ON CONFLICT (run_id, attempt) DO UPDATE SET
      sweep_id = excluded.sweep_id, agent = excluded.agent, status = excluded.status, error = excluded.error,
      started_at = excluded.started_at, finished_at = excluded.finished_at)sql");
  if (!stmt.ok()) return Context(stmt.status());
  stmt->BindText(1, spec.run_id())
      .BindInt(2, spec.attempt())
      .BindTextOrNull(3, spec.sweep_id())
      .BindTextOrNull(4, agent)
      .BindText(5, RunStatusName(status))
      .BindTextOrNull(6, error)
      .BindTextOrNull(7, started_at)
      .BindTextOrNull(8, finished_at);
  return Context(stmt->Run().WithContext(fmt::format("run {} attempt {}", spec.run_id(), spec.attempt())));
}

Status Dataset::WriteConformance(const std::vector<ConformanceRow>& rows) {
  static constexpr std::string_view kStatuses[] = {"pass", "fail", "skip"};
  for (const ConformanceRow& r : rows) {
    if (r.run_id.empty() || r.case_name.empty() || r.suite.empty() || r.backend.empty() || r.started_at.empty())
      return InvalidArgument("WriteConformance: a row without run id, case, suite, backend or start time");
    if (std::find(std::begin(kStatuses), std::end(kStatuses), r.status) == std::end(kStatuses))
      return InvalidArgument("WriteConformance: case {}: status '{}' is not pass, fail or skip", r.case_name, r.status);
  }
  std::lock_guard<std::mutex> lock(mu_);
  auto tx = sql::Transaction::Begin(*db_);
  if (!tx.ok()) return Context(tx.status());
  for (const ConformanceRow& r : rows) {
    auto stmt = db_->Prepare(R"sql(
      INSERT INTO conformance (run_id, started_at, build_commit, host, backend, device, suite, case_name, op, dtype,
                               shape, max_abs_err, nmse, kld, top1, ppl_ratio, status, message, seconds, metrics_json)
      VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19, $20)
      ON CONFLICT (run_id, case_name) DO UPDATE SET
        started_at = excluded.started_at, build_commit = excluded.build_commit, host = excluded.host,
        backend = excluded.backend, device = excluded.device, suite = excluded.suite, op = excluded.op,
        dtype = excluded.dtype, shape = excluded.shape, max_abs_err = excluded.max_abs_err, nmse = excluded.nmse,
        kld = excluded.kld, top1 = excluded.top1, ppl_ratio = excluded.ppl_ratio, status = excluded.status,
        message = excluded.message, seconds = excluded.seconds, metrics_json = excluded.metrics_json)sql");
    if (!stmt.ok()) return Context(stmt.status());
    // Infinite errors (a backend that returned Inf or NaN) are stored as NULL like NaN.
    auto real = [](double v) { return std::isfinite(v) ? v : NAN; };
    stmt->BindText(1, r.run_id)
        .BindText(2, r.started_at)
        .BindTextOrNull(3, r.build_commit)
        .BindTextOrNull(4, r.host)
        .BindText(5, r.backend)
        .BindTextOrNull(6, r.device)
        .BindText(7, r.suite)
        .BindText(8, r.case_name)
        .BindTextOrNull(9, r.op)
        .BindTextOrNull(10, r.dtype)
        .BindTextOrNull(11, r.shape)
        .BindReal(12, real(r.max_abs_err))
        .BindReal(13, real(r.nmse))
        .BindReal(14, real(r.kld))
        .BindReal(15, real(r.top1))
        .BindReal(16, real(r.ppl_ratio))
        .BindText(17, r.status)
        .BindTextOrNull(18, r.message)
        .BindReal(19, real(r.seconds))
        .BindTextOrNull(20, r.metrics_json);
    if (Status st = stmt->Run(); !st.ok()) return Context(st.WithContext(fmt::format("conformance case {}", r.case_name)));
  }
  return Context((*tx)->Commit());
}

Status Dataset::WriteResult(const v1::RunSpec& spec, const v1::RunResult& result, bool* written) {
  if (written != nullptr) *written = false;
  const std::string& run_id = spec.run_id();
  if (run_id.empty()) return InvalidArgument("WriteResult: the run spec has no run_id");
  if (!result.run_id().empty() && result.run_id() != run_id) {
    return InvalidArgument("WriteResult: result of run {} given for run {}", result.run_id(), run_id);
  }
  if (result.status() == v1::RUN_STATUS_UNSPECIFIED) {
    return InvalidArgument("WriteResult: run {} has no status", run_id);
  }
  TLM_ASSIGN_OR_RETURN(std::string spec_json, ProtoJson(spec));

  std::lock_guard<std::mutex> lock(mu_);
  // PostgreSQL: a lost connection, a deadlock or a serialization failure rolls the transaction back;
  // it is tried again from the start (the row is still written at most once). SQLite has waited for
  // its busy timeout already.
  const int tries = db_->dialect() == sql::Dialect::kPostgres ? 4 : 1;
  for (int attempt = 1;; ++attempt) {
    Status st = WriteResultLocked(spec, result, spec_json, written);
    if (st.ok() || st.code() != StatusCode::kUnavailable || attempt >= tries) return st;
    if (written != nullptr) *written = false;
    std::this_thread::sleep_for(std::chrono::milliseconds(50 * attempt));
  }
}

Status Dataset::WriteResultLocked(const v1::RunSpec& spec, const v1::RunResult& result, const std::string& spec_json,
                                  bool* written) {
  const std::string& run_id = spec.run_id();
  auto context = [&](const Status& st) { return Context(st.WithContext(fmt::format("run {}", run_id))); };
  auto tx = sql::Transaction::Begin(*db_);
  if (!tx.ok()) return context(tx.status());
  {
    auto exists = db_->Prepare("SELECT 1 FROM runs WHERE run_id = $1");
    if (!exists.ok()) return context(exists.status());
    exists->BindText(1, run_id);
    auto row = exists->Step();
    if (!row.ok()) return context(row.status());
    if (*row) return Status::Ok();  // already final: exactly once
  }
  {
    auto has_sweep = HasSweepLocked(spec.sweep_id());
    if (!has_sweep.ok()) return context(has_sweep.status());
    if (!*has_sweep) {
      return NotFound("run {}: its sweep '{}' is not in dataset {} (BeginSweep first)", run_id, spec.sweep_id(), path_);
    }
  }

  static constexpr std::string_view kColumns[] = {"run_id",
                                                  "sweep_id",
                                                  "scenario",
                                                  "source",
                                                  "spec_json",
                                                  "spec_hash",
                                                  "workload",
                                                  "device",
                                                  "backend",
                                                  "backend_device",
                                                  "model",
                                                  "model_sha256",
                                                  "model_description",
                                                  "threads",
                                                  "n_prompt",
                                                  "n_gen",
                                                  "n_ctx",
                                                  "activations",
                                                  "attempt",
                                                  "status",
                                                  "error",
                                                  "exit_code",
                                                  "signal",
                                                  "verdict",
                                                  "verdict_reason",
                                                  "reps",
                                                  "queue_ms",
                                                  "worker_wall_ms",
                                                  "load_avg_before",
                                                  "cpu_freq_mhz_before",
                                                  "cpu_freq_mhz_min_during",
                                                  "temperature_c_before",
                                                  "temperature_c_after",
                                                  "primary_cv",
                                                  "started_at",
                                                  "finished_at",
                                                  "git_commit",
                                                  "commit_time",
                                                  "written_at"};
  std::string names, params;
  for (size_t i = 0; i < std::size(kColumns); ++i) {
    names += fmt::format("{}{}", i ? ", " : "", kColumns[i]);
    params += fmt::format("{}${}", i ? ", " : "", i + 1);
  }
  // Concurrent writers of one run (two controllers, a replayed stream): the first commit wins, the
  // others insert nothing (PostgreSQL's ON CONFLICT waits for the first writer's transaction).
  auto insert =
      db_->Prepare(fmt::format("INSERT INTO runs ({}) VALUES ({}) ON CONFLICT (run_id) DO NOTHING", names, params));
  if (!insert.ok()) return context(insert.status());
  // Binds the columns in kColumns order.
  struct Binder {
    sql::Statement& s;
    int i = 0;
    Binder& Text(std::string_view v) { return s.BindText(++i, v), *this; }
    Binder& TextOrNull(std::string_view v) { return s.BindTextOrNull(++i, v), *this; }
    Binder& Int(int64_t v) { return s.BindInt(++i, v), *this; }
    Binder& Real(double v) { return s.BindReal(++i, v), *this; }
    // present == false, or a reading of 0 where 0 means "not readable", binds NULL.
    Binder& RealOrNull(bool present, double v, bool zero_is_unknown) {
      if (present && !(zero_is_unknown && v == 0)) return Real(v);
      return s.BindNull(++i), *this;
    }
  };
  sql::Statement& s = *insert;
  const v1::Hygiene& h = result.hygiene();
  const bool hygiene = result.has_hygiene();
  const int threads = result.threads() > 0 ? result.threads() : spec.threads();
  const int n_ctx = spec.n_ctx() > 0 ? spec.n_ctx() : spec.n_prompt() + spec.n_gen();
  Binder{s}
      .Text(run_id)
      .Text(spec.sweep_id())
      .TextOrNull(spec.scenario())
      .TextOrNull(spec.source())
      .Text(spec_json)
      .TextOrNull(spec.spec_hash())
      .TextOrNull(spec.workload())
      .TextOrNull(result.agent())
      .TextOrNull(spec.backend())
      .TextOrNull(result.backend_device())
      .TextOrNull(spec.model())
      .TextOrNull(result.model_sha256())
      .TextOrNull(result.model_description())
      .Int(threads)
      .Int(spec.n_prompt())
      .Int(spec.n_gen())
      .Int(n_ctx)
      .TextOrNull(spec.activations())
      .Int(spec.attempt())
      .Text(RunStatusName(result.status()))
      .TextOrNull(result.error())
      .Int(result.exit_code())
      .Int(result.signal())
      .TextOrNull(VerdictName(result.verdict()))
      .TextOrNull(result.verdict_reason())
      .Int(result.reps())
      .Real(result.queue_ms())
      .Real(result.worker_wall_ms())
      .RealOrNull(hygiene, h.load_avg_1m_before(), false)
      .RealOrNull(hygiene, h.cpu_freq_mhz_before(), true)
      .RealOrNull(hygiene, h.cpu_freq_mhz_min_during(), true)
      .RealOrNull(hygiene, h.temperature_c_before(), true)
      .RealOrNull(hygiene, h.temperature_c_after(), true)
      .RealOrNull(hygiene, h.primary_cv(), false)
      .TextOrNull(result.started_at())
      .TextOrNull(result.finished_at())
      .TextOrNull(result.build().git_commit())
      .TextOrNull(result.build().commit_time())
      .Text(NowIso8601Utc());
  if (Status st = s.Run(); !st.ok()) return context(st);
  if (db_->Changes() == 0) return Status::Ok();  // another writer's row won: exactly once

  auto sample =
      db_->Prepare("INSERT INTO samples (run_id, repetition, metric, value, unit) VALUES ($1, $2, $3, $4, $5)");
  if (!sample.ok()) return context(sample.status());
  for (const v1::Sample& x : result.samples()) {
    if (x.metric().empty())
      return InvalidArgument("run {}: a sample of repetition {} has no metric", run_id, x.repetition());
    sample->Reset();
    sample->BindText(1, run_id)
        .BindInt(2, x.repetition())
        .BindText(3, x.metric())
        .BindReal(4, x.value())
        .BindText(5, x.unit());
    if (Status st = sample->Run(); !st.ok()) {
      if (st.code() == StatusCode::kInvalidArgument) {
        return InvalidArgument("run {}: sample (repetition {}, metric {}) appears twice", run_id, x.repetition(),
                               x.metric());
      }
      return context(st);
    }
  }
  if (Status st = (*tx)->Commit(); !st.ok()) return context(st);
  if (written != nullptr) *written = true;
  return Status::Ok();
}

StatusOr<std::set<std::string>> Dataset::FinishedRunIds(std::string_view sweep_id) {
  std::lock_guard<std::mutex> lock(mu_);
  auto stmt = db_->Prepare("SELECT run_id FROM runs WHERE sweep_id = $1");
  if (!stmt.ok()) return Context(stmt.status());
  stmt->BindText(1, sweep_id);
  std::set<std::string> ids;
  while (true) {
    auto row = stmt->Step();
    if (!row.ok()) return Context(row.status());
    if (!*row) break;
    ids.insert(stmt->Text(0));
  }
  return ids;
}

StatusOr<int64_t> Dataset::CountRuns(std::string_view sweep_id) {
  std::lock_guard<std::mutex> lock(mu_);
  auto stmt = db_->Prepare("SELECT count(*) FROM runs WHERE $1 = '' OR sweep_id = $1");
  if (!stmt.ok()) return Context(stmt.status());
  stmt->BindText(1, sweep_id);
  auto row = stmt->Step();
  if (!row.ok()) return Context(row.status());
  return stmt->Int(0);
}

StatusOr<int64_t> Dataset::CountSamples(std::string_view sweep_id) {
  std::lock_guard<std::mutex> lock(mu_);
  auto stmt = db_->Prepare(
      "SELECT count(*) FROM samples AS s JOIN runs AS r ON r.run_id = s.run_id WHERE $1 = '' OR r.sweep_id = $1");
  if (!stmt.ok()) return Context(stmt.status());
  stmt->BindText(1, sweep_id);
  auto row = stmt->Step();
  if (!row.ok()) return Context(row.status());
  return stmt->Int(0);
}

}  // namespace tlm
