// The dataset on real SQLite files: schema and reopen, exactly-once results, resume, attempts,
// device upserts, concurrent writers, bad files, and the end-of-sweep summary.
#include "harness/store/dataset.h"

#include <fstream>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

#include "harness/store/summary.h"
#include "store_test_util.h"

namespace tlm {
namespace {

using testing::MakeDevice;
using testing::MakeResult;
using testing::MakeSpec;
using testing::MakeSweep;
using testing::TempDir;
namespace v1 = tlmbench::v1;

std::unique_ptr<Dataset> OpenOrDie(const std::string& path) {
  auto ds = Dataset::Open(path);
  EXPECT_TRUE(ds.ok()) << ds.status().ToString();
  return ds.ok() ? std::move(*ds) : nullptr;
}

// The first column of the first row of a query, as text ("" for NULL or no row).
std::string QueryText(Dataset& ds, const std::string& sql, const std::string& param = "") {
  auto stmt = ds.connection().Prepare(sql);
  EXPECT_TRUE(stmt.ok()) << stmt.status().ToString();
  if (!stmt.ok()) return "";
  if (sql.find("?1") != std::string::npos) stmt->BindText(1, param);
  auto row = stmt->Step();
  EXPECT_TRUE(row.ok()) << row.status().ToString();
  return row.ok() && *row ? stmt->Text(0) : "";
}

TEST(DatasetTest, CreatesSchemaAndReopenKeepsData) {
  TempDir dir;
  const std::string path = dir.File("bench.db");
  {
    auto ds = OpenOrDie(path);
    ASSERT_NE(ds, nullptr);
    EXPECT_EQ(QueryText(*ds, "PRAGMA user_version"), "2");
    EXPECT_EQ(QueryText(*ds, "PRAGMA journal_mode"), "wal");
    EXPECT_EQ(QueryText(*ds, "PRAGMA foreign_keys"), "1");
    EXPECT_EQ(QueryText(*ds, "SELECT value FROM schema_info WHERE key = 'schema_version'"), "2");
    for (const char* table : {"schema_info", "sweeps", "devices", "runs", "attempts", "samples", "conformance"}) {
      EXPECT_EQ(QueryText(*ds, "SELECT name FROM sqlite_master WHERE type = 'table' AND name = ?1", table), table);
    }
    ASSERT_TRUE(ds->BeginSweep(MakeSweep("s1")).ok());
    bool written = false;
    const v1::RunSpec spec = MakeSpec("s1", "s1-r1");
    ASSERT_TRUE(ds->WriteResult(spec, MakeResult(spec), &written).ok());
    EXPECT_TRUE(written);
  }
  auto ds = OpenOrDie(path);
  ASSERT_NE(ds, nullptr);
  EXPECT_EQ(*ds->CountRuns(), 1);
  EXPECT_EQ(*ds->CountSamples(), 11);
  auto sweep = ds->LoadSweep("s1");
  ASSERT_TRUE(sweep.ok()) << sweep.status().ToString();
  const SweepRecord expected = MakeSweep("s1");
  EXPECT_EQ(sweep->name, expected.name);
  EXPECT_EQ(sweep->spec_path, expected.spec_path);
  EXPECT_EQ(sweep->spec_text, expected.spec_text);
  EXPECT_EQ(sweep->started_at, expected.started_at);
  EXPECT_EQ(sweep->finished_at, "");
  EXPECT_EQ(sweep->status, "running");
  EXPECT_EQ(sweep->controller_commit, expected.controller_commit);
  EXPECT_EQ(sweep->controller_host, expected.controller_host);
  EXPECT_EQ(sweep->n_runs, expected.n_runs);
  EXPECT_EQ(sweep->agents, expected.agents);
}

TEST(DatasetTest, StoresRunColumns) {
  TempDir dir;
  auto ds = OpenOrDie(dir.File("bench.db"));
  ASSERT_TRUE(ds->BeginSweep(MakeSweep("s1")).ok());
  const v1::RunSpec spec = MakeSpec("s1", "s1-r1");
  ASSERT_TRUE(ds->WriteResult(spec, MakeResult(spec), nullptr).ok());
  auto col = [&](const std::string& c) {
    return QueryText(*ds, "SELECT " + c + " FROM runs WHERE run_id = ?1", "s1-r1");
  };
  EXPECT_EQ(col("status"), "ok");
  EXPECT_EQ(col("verdict"), "valid");
  EXPECT_EQ(col("device"), "edge-1");
  EXPECT_EQ(col("backend"), "cpu");
  EXPECT_EQ(col("model"), "gemma-3-270m-q4_k_m.gguf");
  EXPECT_EQ(col("model_description"), "gemma3 270M Q4_K_M");
  EXPECT_EQ(col("n_ctx"), "80");  // 0 in the spec: n_prompt + n_gen
  EXPECT_EQ(col("threads"), "2");
  EXPECT_EQ(col("git_commit"), "agentcommit");
  EXPECT_EQ(col("commit_time"), "2025-01-30T10:00:00Z");
  EXPECT_EQ(col("cpu_freq_mhz_before"), "2400.0");
  EXPECT_EQ(col("temperature_c_before"), "");  // 0: not readable, stored as NULL
  EXPECT_EQ(col("error"), "");
  EXPECT_EQ(col("typeof(error)"), "null");
  EXPECT_EQ(col("json_extract(spec_json, '$.run_id')"), "s1-r1");
  EXPECT_EQ(col("json_extract(spec_json, '$.measurement.min_reps')"), "3");
  EXPECT_FALSE(col("written_at").empty());
  EXPECT_EQ(QueryText(*ds, "SELECT value FROM samples WHERE run_id = ?1 AND repetition = 2 AND metric = 'decode_tps'",
                      "s1-r1"),
            "42.0");
}

TEST(DatasetTest, WriteResultExactlyOnce) {
  TempDir dir;
  auto ds = OpenOrDie(dir.File("bench.db"));
  ASSERT_TRUE(ds->BeginSweep(MakeSweep("s1")).ok());
  const v1::RunSpec spec = MakeSpec("s1", "s1-r1");
  bool written = false;
  ASSERT_TRUE(ds->WriteResult(spec, MakeResult(spec, 3), &written).ok());
  EXPECT_TRUE(written);
  // A second delivery of the same run (a retry that also finished, a replayed stream) changes nothing.
  v1::RunResult again = MakeResult(spec, 5, 99.0);
  again.set_status(v1::FAILED);
  ASSERT_TRUE(ds->WriteResult(spec, again, &written).ok());
  EXPECT_FALSE(written);
  EXPECT_EQ(*ds->CountRuns("s1"), 1);
  EXPECT_EQ(*ds->CountSamples("s1"), 11);
  EXPECT_EQ(QueryText(*ds, "SELECT status FROM runs WHERE run_id = ?1", "s1-r1"), "ok");
}

TEST(DatasetTest, WriteResultRejectsBadInputAtomically) {
  TempDir dir;
  auto ds = OpenOrDie(dir.File("bench.db"));
  const v1::RunSpec orphan = MakeSpec("nosuch", "x-r1");
  bool written = true;
  Status st = ds->WriteResult(orphan, MakeResult(orphan), &written);
  EXPECT_EQ(st.code(), StatusCode::kNotFound);
  EXPECT_NE(st.message().find("nosuch"), std::string::npos) << st.message();
  EXPECT_FALSE(written);

  ASSERT_TRUE(ds->BeginSweep(MakeSweep("s1")).ok());
  const v1::RunSpec spec = MakeSpec("s1", "s1-r1");
  v1::RunResult dup = MakeResult(spec, 2);
  *dup.add_samples() = dup.samples(3);  // the same (repetition, metric) twice
  st = ds->WriteResult(spec, dup, &written);
  EXPECT_EQ(st.code(), StatusCode::kInvalidArgument) << st.ToString();
  EXPECT_FALSE(written);
  EXPECT_EQ(*ds->CountRuns(), 0);  // the run row was rolled back with the samples
  EXPECT_EQ(*ds->CountSamples(), 0);

  v1::RunResult other = MakeResult(spec);
  other.set_run_id("another");
  EXPECT_EQ(ds->WriteResult(spec, other, &written).code(), StatusCode::kInvalidArgument);
  v1::RunResult no_status = MakeResult(spec);
  no_status.set_status(v1::RUN_STATUS_UNSPECIFIED);
  EXPECT_EQ(ds->WriteResult(spec, no_status, &written).code(), StatusCode::kInvalidArgument);
}

TEST(DatasetTest, FailedRunsHaveNoVerdict) {
  TempDir dir;
  auto ds = OpenOrDie(dir.File("bench.db"));
  ASSERT_TRUE(ds->BeginSweep(MakeSweep("s1")).ok());
  const v1::RunSpec spec = MakeSpec("s1", "s1-r1");
  v1::RunResult r;
  r.set_run_id(spec.run_id());
  r.set_status(v1::TIMED_OUT);
  r.set_error("run exceeded 60 s");
  r.set_signal(9);
  ASSERT_TRUE(ds->WriteResult(spec, r, nullptr).ok());
  EXPECT_EQ(QueryText(*ds, "SELECT status || '|' || error || '|' || signal FROM runs WHERE run_id = ?1", "s1-r1"),
            "timed_out|run exceeded 60 s|9");
  EXPECT_EQ(QueryText(*ds, "SELECT typeof(verdict) || typeof(load_avg_before) FROM runs WHERE run_id = ?1", "s1-r1"),
            "nullnull");
}

TEST(DatasetTest, FinishedRunIds) {
  TempDir dir;
  auto ds = OpenOrDie(dir.File("bench.db"));
  ASSERT_TRUE(ds->BeginSweep(MakeSweep("s1", 3)).ok());
  ASSERT_TRUE(ds->BeginSweep(MakeSweep("s2", 1)).ok());
  const v1::RunSpec a = MakeSpec("s1", "s1-a"), b = MakeSpec("s1", "s1-b"), c = MakeSpec("s2", "s2-c");
  ASSERT_TRUE(ds->WriteResult(a, MakeResult(a), nullptr).ok());
  v1::RunResult crashed;
  crashed.set_status(v1::CRASHED);
  ASSERT_TRUE(ds->WriteResult(b, crashed, nullptr).ok());
  ASSERT_TRUE(ds->WriteResult(c, MakeResult(c), nullptr).ok());
  // An attempt alone does not finish a run.
  ASSERT_TRUE(ds->RecordAttempt(MakeSpec("s1", "s1-lost"), "edge-1", v1::LOST, "agent went away", "t0", "t1").ok());
  auto ids = ds->FinishedRunIds("s1");
  ASSERT_TRUE(ids.ok());
  EXPECT_EQ(*ids, (std::set<std::string>{"s1-a", "s1-b"}));
  EXPECT_EQ(*ds->FinishedRunIds("s2"), std::set<std::string>{"s2-c"});
  EXPECT_TRUE(ds->FinishedRunIds("nosuch")->empty());
  EXPECT_EQ(*ds->CountRuns(), 3);
  EXPECT_EQ(*ds->CountRuns("s1"), 2);
  EXPECT_EQ(*ds->CountSamples("s1"), 11);
  EXPECT_EQ(*ds->CountSamples(), 22);
}

TEST(DatasetTest, ResumeSweep) {
  TempDir dir;
  const std::string path = dir.File("bench.db");
  {
    auto ds = OpenOrDie(path);
    ASSERT_TRUE(ds->BeginSweep(MakeSweep("s1")).ok());
    const v1::RunSpec a = MakeSpec("s1", "s1-a");
    ASSERT_TRUE(ds->WriteResult(a, MakeResult(a), nullptr).ok());
    ASSERT_TRUE(ds->FinishSweep("s1", "interrupted", "2025-01-31T12:05:00Z").ok());
    EXPECT_EQ(ds->LoadSweep("s1")->status, "interrupted");
    EXPECT_EQ(ds->LoadSweep("s1")->finished_at, "2025-01-31T12:05:00Z");
  }
  auto ds = OpenOrDie(path);
  SweepRecord again = MakeSweep("s1");
  again.started_at = "2025-02-01T08:00:00Z";
  again.agents = "--agents a:1,b:2";
  again.controller_host = "other-host";
  ASSERT_TRUE(ds->BeginSweep(again).ok());
  auto sweep = ds->LoadSweep("s1");
  ASSERT_TRUE(sweep.ok());
  EXPECT_EQ(sweep->status, "running");
  EXPECT_EQ(sweep->finished_at, "");
  EXPECT_EQ(sweep->started_at, "2025-01-31T12:00:00Z");  // the first start stays
  EXPECT_EQ(sweep->agents, "--agents a:1,b:2");
  EXPECT_EQ(sweep->controller_host, "other-host");
  EXPECT_EQ(*ds->FinishedRunIds("s1"), std::set<std::string>{"s1-a"});
  EXPECT_EQ(QueryText(*ds, "SELECT count(*) FROM sweeps"), "1");
  ASSERT_TRUE(ds->FinishSweep("s1", "done", "2025-02-01T08:10:00Z").ok());
  EXPECT_EQ(ds->LoadSweep("s1")->status, "done");
}

TEST(DatasetTest, SweepErrors) {
  TempDir dir;
  auto ds = OpenOrDie(dir.File("bench.db"));
  auto missing = ds->LoadSweep("nosuch");
  ASSERT_FALSE(missing.ok());
  EXPECT_EQ(missing.status().code(), StatusCode::kNotFound);
  EXPECT_NE(missing.status().message().find("nosuch"), std::string::npos);
  EXPECT_NE(missing.status().message().find("bench.db"), std::string::npos);
  EXPECT_EQ(ds->FinishSweep("nosuch", "done", "t").code(), StatusCode::kNotFound);
  ASSERT_TRUE(ds->BeginSweep(MakeSweep("s1")).ok());
  EXPECT_EQ(ds->FinishSweep("s1", "finished", "t").code(), StatusCode::kInvalidArgument);
  SweepRecord bad = MakeSweep("");
  EXPECT_EQ(ds->BeginSweep(bad).code(), StatusCode::kInvalidArgument);
}

TEST(DatasetTest, RecordsAttempts) {
  TempDir dir;
  auto ds = OpenOrDie(dir.File("bench.db"));
  ASSERT_TRUE(ds->BeginSweep(MakeSweep("s1")).ok());
  v1::RunSpec spec = MakeSpec("s1", "s1-a");
  ASSERT_TRUE(ds->RecordAttempt(spec, "edge-1", v1::LOST, "agent edge-1 went away", "t0", "t1").ok());
  spec.set_attempt(2);
  ASSERT_TRUE(ds->RecordAttempt(spec, "edge-2", v1::TIMED_OUT, "timed out after 60 s", "t2", "t3").ok());
  EXPECT_EQ(QueryText(*ds, "SELECT count(*) FROM attempts WHERE run_id = ?1", "s1-a"), "2");
  EXPECT_EQ(QueryText(*ds,
                      "SELECT group_concat(attempt || ':' || agent || ':' || status || ':' || error, ';') FROM "
                      "(SELECT * FROM attempts WHERE sweep_id = ?1 ORDER BY attempt)",
                      "s1"),
            "1:edge-1:lost:agent edge-1 went away;2:edge-2:timed_out:timed out after 60 s");
  // The same attempt reported again replaces its row.
  ASSERT_TRUE(ds->RecordAttempt(spec, "edge-2", v1::CANCELLED, "", "t2", "t4").ok());
  EXPECT_EQ(QueryText(*ds, "SELECT count(*) FROM attempts"), "2");
  EXPECT_EQ(
      QueryText(*ds, "SELECT status || '|' || typeof(error) || '|' || finished_at FROM attempts WHERE attempt = 2"),
      "cancelled|null|t4");
  spec.set_attempt(3);
  ASSERT_TRUE(ds->WriteResult(spec, MakeResult(spec), nullptr).ok());
  EXPECT_EQ(QueryText(*ds, "SELECT attempt FROM runs WHERE run_id = ?1", "s1-a"), "3");
}

TEST(DatasetTest, UpsertDeviceUpdatesLastSeenAndFacts) {
  TempDir dir;
  auto ds = OpenOrDie(dir.File("bench.db"));
  ASSERT_TRUE(ds->UpsertDevice(MakeDevice("edge-1", "Cortex-A76"), "2025-01-31T12:00:00Z").ok());
  v1::DeviceInfo updated = MakeDevice("edge-1", "Cortex-A76 r4p1");
  (*updated.mutable_labels())["room"] = "lab";
  ASSERT_TRUE(ds->UpsertDevice(updated, "2025-02-01T09:00:00Z").ok());
  ASSERT_TRUE(ds->UpsertDevice(MakeDevice("edge-2", "Cortex-A55"), "2025-02-01T09:00:00Z").ok());
  EXPECT_EQ(QueryText(*ds, "SELECT count(*) FROM devices"), "2");
  auto col = [&](const std::string& c) {
    return QueryText(*ds, "SELECT " + c + " FROM devices WHERE name = ?1", "edge-1");
  };
  EXPECT_EQ(col("first_seen"), "2025-01-31T12:00:00Z");
  EXPECT_EQ(col("last_seen"), "2025-02-01T09:00:00Z");
  EXPECT_EQ(col("hostname"), "edge-1.lan");
  EXPECT_EQ(col("json_extract(facts_json, '$.cpu.model')"), "Cortex-A76 r4p1");
  EXPECT_EQ(col("json_extract(facts_json, '$.cpu.logical_cpus')"), "4");
  EXPECT_EQ(col("labels_json"), R"({"board":"rpi5","room":"lab"})");
  EXPECT_EQ(col("json_extract(labels_json, '$.room')"), "lab");
  v1::DeviceInfo nameless;
  EXPECT_EQ(ds->UpsertDevice(nameless, "t").code(), StatusCode::kInvalidArgument);
}

TEST(DatasetTest, ConcurrentWritersLoseNoRows) {
  TempDir dir;
  const std::string path = dir.File("bench.db");
  auto first = OpenOrDie(path);
  auto second = OpenOrDie(path);
  ASSERT_TRUE(first->BeginSweep(MakeSweep("s1", 90)).ok());
  // Each writer delivers 60 runs; runs 30..59 are delivered by both, and must be written once.
  std::atomic<int> written_total{0};
  std::atomic<int> errors{0};
  auto writer = [&](Dataset* ds, int from, int to) {
    for (int i = from; i < to; ++i) {
      const v1::RunSpec spec = MakeSpec("s1", fmt::format("s1-r{:03}", i));
      bool written = false;
      Status st = ds->WriteResult(spec, MakeResult(spec, 2), &written);
      if (!st.ok()) {
        ADD_FAILURE() << st.ToString();
        ++errors;
      }
      written_total += written;
      if (i % 10 == 0) {
        Status a = ds->RecordAttempt(spec, "edge", v1::LOST, "x", "t0", "t1");
        if (!a.ok()) ++errors;
      }
    }
  };
  std::thread a(writer, first.get(), 0, 60);
  std::thread b(writer, second.get(), 30, 90);
  a.join();
  b.join();
  EXPECT_EQ(errors.load(), 0);
  EXPECT_EQ(written_total.load(), 90);
  EXPECT_EQ(*first->CountRuns("s1"), 90);
  EXPECT_EQ(*second->CountSamples("s1"), 90 * 8);
  EXPECT_EQ(first->FinishedRunIds("s1")->size(), 90u);
}

TEST(DatasetTest, NotSqliteFileIsAClearError) {
  TempDir dir;
  const std::string path = dir.File("results.csv");
  {
    std::ofstream f(path);
    f << "repetition,metric,value,unit\n1,decode_tps,40,tokens/s\n";
    for (int i = 0; i < 200; ++i) f << "padding padding padding padding\n";
  }
  auto ds = Dataset::Open(path);
  ASSERT_FALSE(ds.ok());
  EXPECT_EQ(ds.status().code(), StatusCode::kDataLoss) << ds.status().ToString();
  EXPECT_NE(ds.status().message().find(path), std::string::npos) << ds.status().message();
  EXPECT_NE(ds.status().message().find("not an SQLite database"), std::string::npos) << ds.status().message();
}

TEST(DatasetTest, ForeignSqliteDatabaseIsRefused) {
  TempDir dir;
  const std::string path = dir.File("other.db");
  {
    auto conn = sqlite::Connection::Open(path);
    ASSERT_TRUE(conn.ok());
    ASSERT_TRUE((*conn)->Exec("CREATE TABLE notes (body TEXT)").ok());
  }
  auto ds = Dataset::Open(path);
  ASSERT_FALSE(ds.ok());
  EXPECT_EQ(ds.status().code(), StatusCode::kInvalidArgument);
  EXPECT_NE(ds.status().message().find("not a tlmbench dataset"), std::string::npos) << ds.status().message();

  const std::string future = dir.File("future.db");
  {
    auto conn = sqlite::Connection::Open(future);
    ASSERT_TRUE(conn.ok());
    ASSERT_TRUE((*conn)->Exec("PRAGMA user_version = 99").ok());
  }
  ds = Dataset::Open(future);
  ASSERT_FALSE(ds.ok());
  EXPECT_EQ(ds.status().code(), StatusCode::kUnimplemented);
  EXPECT_NE(ds.status().message().find("99"), std::string::npos);
}

TEST(DatasetTest, MissingDirectoryIsAClearError) {
  TempDir dir;
  const std::string path = dir.File("no/such/dir/bench.db");
  auto ds = Dataset::Open(path);
  ASSERT_FALSE(ds.ok());
  EXPECT_NE(ds.status().message().find(path), std::string::npos) << ds.status().message();
}

TEST(DatasetTest, SweepSummary) {
  TempDir dir;
  auto ds = OpenOrDie(dir.File("bench.db"));
  ASSERT_TRUE(ds->BeginSweep(MakeSweep("s1", 3)).ok());
  const v1::RunSpec a = MakeSpec("s1", "s1-a", 1), b = MakeSpec("s1", "s1-b", 4), c = MakeSpec("s1", "s1-c", 2);
  ASSERT_TRUE(ds->WriteResult(a, MakeResult(a, 3, 40), nullptr).ok());
  v1::RunResult rb = MakeResult(b, 3, 70);
  v1::Sample* ppl = rb.add_samples();
  ppl->set_metric("ppl");
  ppl->set_value(12.3456);
  ppl->set_unit("ratio");
  rb.set_verdict(v1::NOISY);
  ASSERT_TRUE(ds->WriteResult(b, rb, nullptr).ok());
  v1::RunResult rc;
  rc.set_status(v1::TIMED_OUT);
  rc.set_agent("edge-1");
  ASSERT_TRUE(ds->WriteResult(c, rc, nullptr).ok());
  auto summary = RenderSweepSummary(*ds, "s1");
  ASSERT_TRUE(summary.ok()) << summary.status().ToString();
  const std::string& s = *summary;
  SCOPED_TRACE(s);
  EXPECT_NE(s.find("sweep s1 (smoke): running"), std::string::npos);
  for (const char* header : {"device", "model", "backend", "threads", "n_prompt", "n_gen", "status", "verdict",
                             "prefill_tps", "decode_tps", "ttft_ms", "ppl"}) {
    EXPECT_NE(s.find(header), std::string::npos) << header;
  }
  EXPECT_EQ(s.find("kld_mean"), std::string::npos);  // no run has it
  EXPECT_NE(s.find("gemma-3-270m-q4_k_m "), std::string::npos);
  EXPECT_NE(s.find("42.00"), std::string::npos);   // median decode_tps of run a: 41, 42, 43
  EXPECT_NE(s.find("72.00"), std::string::npos);   // of run b
  EXPECT_NE(s.find("602.00"), std::string::npos);  // median prefill_tps
  EXPECT_NE(s.find("102.00"), std::string::npos);  // median ttft_ms
  EXPECT_NE(s.find("12.346"), std::string::npos);  // ppl
  EXPECT_NE(s.find("noisy"), std::string::npos);
  EXPECT_NE(s.find("timed_out"), std::string::npos);
  EXPECT_NE(s.find("3 of 3 runs written: 2 ok, 1 timed_out"), std::string::npos);
  // Rows are sorted by device, model, backend, threads: 1 thread before 4.
  EXPECT_LT(s.find("42.00"), s.find("72.00"));
  EXPECT_EQ(RenderSweepSummary(*ds, "nosuch").status().code(), StatusCode::kNotFound);
}

}  // namespace
}  // namespace tlm
