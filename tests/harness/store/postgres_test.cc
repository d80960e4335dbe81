// The dataset on a real PostgreSQL server (TLM_TEST_POSTGRES_URL, started by
// scripts/postgres-test-server): the same sweep written to SQLite and to PostgreSQL reads back
// identically (every table, and every export format), concurrent controllers write each run
// exactly once, the schema is created once by racing openers, and bad databases and URLs give clear
// errors. Each test creates its own database and drops it afterwards.
#include <atomic>
#include <cmath>
#include <cstdlib>
#include <limits>
#include <map>
#include <random>
#include <thread>
#include <vector>

#include <fmt/format.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include "harness/store/dataset.h"
#include "harness/store/export.h"
#include "harness/store/sql.h"
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

const char* BaseUrl() {
  const char* url = std::getenv("TLM_TEST_POSTGRES_URL");
  return url != nullptr && *url != '\0' ? url : nullptr;
}

// The URL with another database name in its path.
std::string WithDatabase(const std::string& url, const std::string& db) {
  const size_t authority = url.find("://") + 3;
  const size_t slash = url.find('/', authority);
  const size_t query = url.find('?', authority);
  if (slash == std::string::npos || (query != std::string::npos && query < slash)) {
    return url.substr(0, query == std::string::npos ? url.size() : query) + "/" + db +
           (query == std::string::npos ? "" : url.substr(query));
  }
  const size_t end = query == std::string::npos ? url.size() : query;
  return url.substr(0, slash + 1) + db + url.substr(end);
}

// A fresh database for one test, dropped afterwards; skips (or fails) without a server.
class PostgresTest : public ::testing::Test {
 protected:
  void SetUp() override {
    const char* base = BaseUrl();
    if (base == nullptr) {
      const std::string banner =
          "\n"
          "##########################################################################\n"
          "#  TLM_TEST_POSTGRES_URL is not set: the PostgreSQL dataset is NOT tested. #\n"
          "#  Start a server:  export TLM_TEST_POSTGRES_URL=$(scripts/postgres-test-server start)\n"
          "#  (or set TLM_ALLOW_NO_POSTGRES=1 to skip these tests)                    #\n"
          "##########################################################################\n";
      const char* allow = std::getenv("TLM_ALLOW_NO_POSTGRES");
      if (allow != nullptr && std::string(allow) == "1") GTEST_SKIP() << banner;
      FAIL() << banner;
    }
    ASSERT_TRUE(sql::PostgresAvailable()) << "this build has no libpq (install libpq-dev)";
    base_ = base;
    std::random_device rd;
    static std::atomic<int> counter{0};
    db_name_ = fmt::format("tlm_test_{}_{}_{:08x}", ::getpid(), counter.fetch_add(1), rd());
    auto admin = sql::OpenPostgres(base_);
    ASSERT_TRUE(admin.ok()) << admin.status().ToString();
    admin_ = std::move(*admin);
    ASSERT_TRUE(admin_->Exec(fmt::format("CREATE DATABASE {} TEMPLATE template0 ENCODING 'UTF8'", db_name_)).ok());
    url_ = WithDatabase(base_, db_name_);
  }
  void TearDown() override {
    if (admin_ != nullptr) {
      Status st = admin_->Exec(fmt::format("DROP DATABASE IF EXISTS {} WITH (FORCE)", db_name_));
      EXPECT_TRUE(st.ok()) << st.ToString();
    }
  }

  std::unique_ptr<Dataset> OpenPg() {
    auto ds = Dataset::Open(url_);
    EXPECT_TRUE(ds.ok()) << ds.status().ToString();
    return ds.ok() ? std::move(*ds) : nullptr;
  }

  std::string base_, db_name_, url_;
  std::unique_ptr<sql::Connection> admin_;
};

// Every row of every table, as sorted lines of typed values: "i:2", "r:40.5", "t:ok", "null".
// written_at (the time of the write) is left out; so is PostgreSQL's runs.rowid column.
std::map<std::string, std::vector<std::string>> Dump(Dataset& ds) {
  std::map<std::string, std::vector<std::string>> out;
  for (const char* table : {"schema_info", "sweeps", "devices", "runs", "attempts", "samples"}) {
    auto stmt = ds.connection().Prepare(fmt::format("SELECT * FROM {}", table));
    EXPECT_TRUE(stmt.ok()) << stmt.status().ToString();
    if (!stmt.ok()) continue;
    std::vector<std::string>& rows = out[table];
    while (true) {
      auto row = stmt->Step();
      EXPECT_TRUE(row.ok()) << row.status().ToString();
      if (!row.ok() || !*row) break;
      std::string line;
      for (int col = 0; col < stmt->ColumnCount(); ++col) {
        const std::string name = stmt->ColumnName(col);
        if (name == "rowid" || name == "written_at") continue;
        if (std::string(table) == "schema_info" && col == 1 && line.find("created_at") != std::string::npos) {
          line += " created_at=<time>";
          continue;
        }
        line += " " + name + "=";
        switch (stmt->ColumnType(col)) {
          case sql::Type::kNull:
            line += "null";
            break;
          case sql::Type::kInt:
            line += fmt::format("i:{}", stmt->Int(col));
            break;
          case sql::Type::kReal:
            line += fmt::format("r:{}", stmt->Real(col));
            break;
          case sql::Type::kText:
            line += "t:" + stmt->Text(col);
            break;
        }
      }
      rows.push_back(line);
    }
    std::sort(rows.begin(), rows.end());
  }
  return out;
}

// One sweep through the controller's calls: devices, ok runs, a run that failed after retries, a
// run with no samples, odd values (NaN, infinity, huge and tiny numbers, quotes, UTF-8).
void WriteSweep(Dataset& ds) {
  ASSERT_TRUE(ds.BeginSweep(MakeSweep("s1", 5)).ok());
  ASSERT_TRUE(ds.UpsertDevice(MakeDevice("edge-1", "Cortex-A76"), "2025-01-31T12:00:00Z").ok());
  v1::DeviceInfo odd = MakeDevice("edge-2", "Ryzen \"Zen 4\" ñ 日本");
  (*odd.mutable_labels())["pool"] = "x86, 'quoted'";
  ASSERT_TRUE(ds.UpsertDevice(odd, "2025-01-31T12:00:00Z").ok());
  ASSERT_TRUE(ds.UpsertDevice(MakeDevice("edge-1", "Cortex-A76 r2"), "2025-01-31T12:05:00Z").ok());

  const v1::RunSpec a = MakeSpec("s1", "s1-a", 1), b = MakeSpec("s1", "s1-b", 4);
  ASSERT_TRUE(ds.WriteResult(a, MakeResult(a, 3, 40), nullptr).ok());
  v1::RunResult rb = MakeResult(b, 4, 70.125);
  rb.set_agent("edge-2");
  rb.set_verdict(v1::NOISY);
  rb.set_verdict_reason("cv 0.08 above 0.05, 'quoted' \"too\"");
  auto add = [&rb](int rep, const char* metric, double value, const char* unit) {
    v1::Sample* s = rb.add_samples();
    s->set_repetition(rep);
    s->set_metric(metric);
    s->set_value(value);
    s->set_unit(unit);
  };
  add(0, "ppl", 12.345678901234567, "ratio");
  add(0, "kld_mean", std::numeric_limits<double>::quiet_NaN(), "nats");
  add(0, "top1_agree", std::numeric_limits<double>::infinity(), "fraction");
  add(0, "faults_major", 0.1 + 0.2, "count");
  add(0, "rss_peak_anon_bytes", 9007199254740993.0, "bytes");
  add(0, "itl_ms_p50", 1e-300, "ms");
  add(0, "ITL_ms_p99", -0.0, "ms");  // sorts before lower case bytewise
  ASSERT_TRUE(ds.WriteResult(b, rb, nullptr).ok());

  // A run lost twice, then timed out for good on its third attempt.
  v1::RunSpec c = MakeSpec("s1", "s1-c", 2);
  for (int attempt = 1; attempt <= 2; ++attempt) {
    c.set_attempt(attempt);
    ASSERT_TRUE(ds.RecordAttempt(c, attempt == 1 ? "edge-1" : "edge-2", v1::LOST, "agent lost",
                                 "2025-01-31T12:01:00Z", attempt == 1 ? "" : "2025-01-31T12:02:00Z")
                    .ok());
  }
  c.set_attempt(3);
  v1::RunResult rc;
  rc.set_status(v1::TIMED_OUT);
  rc.set_error("run exceeded 60 s");
  rc.set_signal(9);
  rc.set_agent("edge-1");
  ASSERT_TRUE(ds.WriteResult(c, rc, nullptr).ok());
  // The same run delivered again: nothing changes.
  bool written = true;
  ASSERT_TRUE(ds.WriteResult(c, MakeResult(c), &written).ok());
  EXPECT_FALSE(written);
  // A refused run: no agent, no samples, no hygiene.
  const v1::RunSpec d = MakeSpec("s1", "s1-d", 8);
  v1::RunResult rd;
  rd.set_status(v1::REFUSED);
  rd.set_error("no agent matches labels {board: rpi5}");
  ASSERT_TRUE(ds.WriteResult(d, rd, nullptr).ok());
  // A second sweep, resumed once, and finished.
  ASSERT_TRUE(ds.BeginSweep(MakeSweep("s2", 1)).ok());
  const v1::RunSpec e = MakeSpec("s2", "s2-a", 2);
  ASSERT_TRUE(ds.WriteResult(e, MakeResult(e, 2, 55.5), nullptr).ok());
  ASSERT_TRUE(ds.FinishSweep("s2", "interrupted", "2025-01-31T13:00:00Z").ok());
  SweepRecord again = MakeSweep("s2", 1);
  again.controller_host = "other-host";
  ASSERT_TRUE(ds.BeginSweep(again).ok());
  ASSERT_TRUE(ds.FinishSweep("s2", "done", "2025-01-31T14:00:00Z").ok());
  ASSERT_TRUE(ds.FinishSweep("s1", "done", "2025-01-31T12:30:00Z").ok());
}

TEST_F(PostgresTest, RoundTripsASweepIdenticallyToSqlite) {
  TempDir dir;
  auto lite = Dataset::Open(dir.File("bench.db"));
  ASSERT_TRUE(lite.ok()) << lite.status().ToString();
  auto pg = OpenPg();
  ASSERT_NE(pg, nullptr);
  EXPECT_EQ(pg->dialect(), sql::Dialect::kPostgres);
  EXPECT_EQ((*lite)->dialect(), sql::Dialect::kSqlite);
  EXPECT_EQ(pg->handle(), nullptr);
  EXPECT_EQ(pg->path().find(":tlm@"), std::string::npos) << "password shown: " << pg->path();
  WriteSweep(**lite);
  if (HasFatalFailure()) return;
  WriteSweep(*pg);
  if (HasFatalFailure()) return;

  // A second connection reads what the first wrote (and finds the schema there).
  pg.reset();
  pg = OpenPg();
  ASSERT_NE(pg, nullptr);

  const auto want = Dump(**lite);
  const auto got = Dump(*pg);
  for (const auto& [table, rows] : want) {
    SCOPED_TRACE(table);
    ASSERT_TRUE(got.count(table));
    EXPECT_EQ(got.at(table), rows);
    EXPECT_FALSE(rows.empty());
  }
  EXPECT_EQ(want.at("runs").size(), 5u);
  EXPECT_EQ(want.at("attempts").size(), 2u);

  for (ExportFormat format :
       {ExportFormat::kCsv, ExportFormat::kJsonl, ExportFormat::kLlamaBenchJson, ExportFormat::kLlamaBenchMarkdown}) {
    for (const char* sweep : {"", "s1", "s2"}) {
      SCOPED_TRACE(fmt::format("{} sweep '{}'", ExportFormatName(format), sweep));
      auto a = ExportDataset(**lite, sweep, format);
      auto b = ExportDataset(*pg, sweep, format);
      ASSERT_TRUE(a.ok()) << a.status().ToString();
      ASSERT_TRUE(b.ok()) << b.status().ToString();
      if (format == ExportFormat::kJsonl) {
        // written_at differs (the time of each write); everything else is equal.
        auto strip = [](std::string s) {
          for (size_t p = s.find("\"written_at\":\""); p != std::string::npos; p = s.find("\"written_at\":\"", p + 1))
            s.erase(p + 14, s.find('"', p + 14) - (p + 14));
          return s;
        };
        EXPECT_EQ(strip(*b), strip(*a));
      } else {
        EXPECT_EQ(*b, *a);
      }
    }
  }
  EXPECT_EQ(ExportDataset(*pg, "nosuch", ExportFormat::kCsv).status().code(), StatusCode::kNotFound);

  for (const char* sweep : {"s1", "s2"}) {
    auto a = RenderSweepSummary(**lite, sweep);
    auto b = RenderSweepSummary(*pg, sweep);
    ASSERT_TRUE(a.ok() && b.ok());
    EXPECT_EQ(*b, *a);
  }
  auto sa = (*lite)->LoadSweep("s2"), sb = pg->LoadSweep("s2");
  ASSERT_TRUE(sa.ok() && sb.ok());
  EXPECT_EQ(sb->controller_host, "other-host");
  EXPECT_EQ(sb->status, sa->status);
  EXPECT_EQ(sb->finished_at, sa->finished_at);
  EXPECT_EQ(*pg->FinishedRunIds("s1"), *(*lite)->FinishedRunIds("s1"));
  EXPECT_EQ(*pg->CountRuns(), *(*lite)->CountRuns());
  EXPECT_EQ(*pg->CountSamples("s1"), *(*lite)->CountSamples("s1"));
  EXPECT_EQ(pg->LoadSweep("nosuch").status().code(), StatusCode::kNotFound);
  EXPECT_EQ(pg->FinishSweep("nosuch", "done", "").code(), StatusCode::kNotFound);
  // A sample repeated within a run is refused, and leaves no half-written run behind.
  const v1::RunSpec dup = MakeSpec("s1", "s1-dup");
  v1::RunResult rdup = MakeResult(dup, 1);
  *rdup.add_samples() = rdup.samples(0);
  EXPECT_EQ(pg->WriteResult(dup, rdup, nullptr).code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(*pg->CountRuns("s1"), 4);
  // A run of an unknown sweep.
  const v1::RunSpec orphan = MakeSpec("nosuch", "x-1");
  EXPECT_EQ(pg->WriteResult(orphan, MakeResult(orphan), nullptr).code(), StatusCode::kNotFound);
}

TEST_F(PostgresTest, PortableParametersAndTypes) {
  auto pg = OpenPg();
  ASSERT_NE(pg, nullptr);
  // $N and ?N, out of order and repeated; a '?1' inside a literal stays text.
  auto stmt = pg->connection().Prepare(
      "SELECT $2 || '?1' || ?1, ?3 + 1, $4 * 2, CAST($5 AS TEXT) IS NULL, 1 = 1, count(*) FROM sweeps WHERE $1 = $1");
  ASSERT_TRUE(stmt.ok()) << stmt.status().ToString();
  stmt->BindText(1, "a").BindText(2, "b").BindInt(3, 41).BindReal(4, 0.25).BindTextOrNull(5, "");
  auto row = stmt->Step();
  ASSERT_TRUE(row.ok()) << row.status().ToString();
  ASSERT_TRUE(*row);
  EXPECT_EQ(stmt->Text(0), "b?1a");
  EXPECT_EQ(stmt->ColumnType(1), sql::Type::kInt);
  EXPECT_EQ(stmt->Int(1), 42);
  EXPECT_EQ(stmt->ColumnType(2), sql::Type::kReal);
  EXPECT_EQ(stmt->Real(2), 0.5);
  EXPECT_EQ(stmt->Int(3), 1);
  EXPECT_EQ(stmt->Text(4), "1");
  EXPECT_EQ(stmt->Int(5), 0);
  EXPECT_FALSE(*stmt->Step());
  // Reset and run again with other values.
  stmt->Reset();
  stmt->BindText(1, "x").BindText(2, "y").BindInt(3, -2).BindReal(4, 1.5).BindText(5, "z");
  ASSERT_TRUE(*stmt->Step());
  EXPECT_EQ(stmt->Text(0), "y?1x");
  EXPECT_EQ(stmt->Int(1), -1);
  EXPECT_EQ(stmt->Int(3), 0);
  // Errors carry PostgreSQL's message and no password.
  auto bad = pg->connection().Prepare("SELECT nosuch FROM runs");
  ASSERT_TRUE(bad.ok());
  auto st = bad->Step();
  ASSERT_FALSE(st.ok());
  EXPECT_NE(st.status().message().find("nosuch"), std::string::npos) << st.status().message();
  EXPECT_EQ(st.status().message().find(":tlm@"), std::string::npos) << st.status().message();
  // The schema: BIGINT, DOUBLE PRECISION, C collation, rowid in write order.
  auto types = pg->connection().Prepare(
      "SELECT data_type, collation_name FROM information_schema.columns WHERE table_schema = current_schema() "
      "AND table_name = 'runs' AND column_name IN ($1) ");
  ASSERT_TRUE(types.ok());
  for (auto [column, type] : std::map<std::string, std::string>{
           {"threads", "bigint"}, {"queue_ms", "double precision"}, {"model", "text"}, {"rowid", "bigint"}}) {
    types->Reset();
    types->BindText(1, column);
    ASSERT_TRUE(*types->Step()) << column;
    EXPECT_EQ(types->Text(0), type) << column;
    if (type == "text") {
      EXPECT_EQ(types->Text(1), "C");
    }
  }
}

TEST_F(PostgresTest, ConcurrentControllersWriteEachRunOnce) {
  // Four controllers open the fresh database at once: one creates the schema, none fails.
  std::vector<std::unique_ptr<Dataset>> handles(4);
  {
    std::vector<std::thread> openers;
    for (auto& h : handles) {
      openers.emplace_back([&h, this] {
        auto ds = Dataset::Open(url_);
        EXPECT_TRUE(ds.ok()) << ds.status().ToString();
        if (ds.ok()) h = std::move(*ds);
      });
    }
    for (auto& t : openers) t.join();
  }
  for (auto& h : handles) ASSERT_NE(h, nullptr);
  ASSERT_TRUE(handles[0]->BeginSweep(MakeSweep("s1", 120)).ok());
  // Every controller delivers runs 0..119 in its own order (and resumes the sweep on the way): each
  // run must be written exactly once, with exactly its samples.
  std::atomic<int> written_total{0};
  std::atomic<int> errors{0};
  auto writer = [&](Dataset* ds, int seed) {
    std::vector<int> order(120);
    for (int i = 0; i < 120; ++i) order[i] = i;
    std::shuffle(order.begin(), order.end(), std::mt19937(seed));
    for (int i : order) {
      const v1::RunSpec spec = MakeSpec("s1", fmt::format("s1-r{:03}", i));
      bool written = false;
      Status st = ds->WriteResult(spec, MakeResult(spec, 2, 40 + seed), &written);
      if (!st.ok()) {
        ADD_FAILURE() << st.ToString();
        ++errors;
      }
      written_total += written;
      if (i % 10 == 0) {
        if (!ds->RecordAttempt(spec, "edge", v1::LOST, "x", "t0", "t1").ok()) ++errors;
        if (!ds->UpsertDevice(MakeDevice("edge-1", fmt::format("cpu {}", seed)), "").ok()) ++errors;
        if (!ds->BeginSweep(MakeSweep("s1", 120)).ok()) ++errors;
      }
    }
  };
  std::vector<std::thread> writers;
  for (int k = 0; k < 4; ++k) writers.emplace_back(writer, handles[k].get(), k + 1);
  for (auto& t : writers) t.join();
  EXPECT_EQ(errors.load(), 0);
  EXPECT_EQ(written_total.load(), 120);
  EXPECT_EQ(*handles[1]->CountRuns("s1"), 120);
  EXPECT_EQ(*handles[2]->CountSamples("s1"), 120 * 8);
  EXPECT_EQ(handles[3]->FinishedRunIds("s1")->size(), 120u);
  // Each run's samples all come from the writer that wrote its row (decode_tps base 40 + seed).
  auto mixed = handles[0]->connection().Prepare(
      "SELECT count(*) FROM (SELECT run_id FROM samples WHERE metric = 'decode_tps' "
      "GROUP BY run_id HAVING max(value) - min(value) <> 1) AS m");
  ASSERT_TRUE(mixed.ok());
  ASSERT_TRUE(*mixed->Step());
  EXPECT_EQ(mixed->Int(0), 0);
  auto attempts = handles[0]->connection().Prepare("SELECT count(*) FROM attempts");
  ASSERT_TRUE(attempts.ok());
  ASSERT_TRUE(*attempts->Step());
  EXPECT_EQ(attempts->Int(0), 12);
}

TEST_F(PostgresTest, RefusesForeignAndNewerDatabases) {
  {
    auto raw = sql::OpenPostgres(url_);
    ASSERT_TRUE(raw.ok());
    ASSERT_TRUE((*raw)->Exec("CREATE TABLE runs (id int)").ok());
  }
  auto ds = Dataset::Open(url_);
  ASSERT_FALSE(ds.ok());
  EXPECT_EQ(ds.status().code(), StatusCode::kInvalidArgument) << ds.status().ToString();
  EXPECT_NE(ds.status().message().find("not a tlmbench dataset"), std::string::npos) << ds.status().message();
  {
    auto raw = sql::OpenPostgres(url_);
    ASSERT_TRUE(raw.ok());
    ASSERT_TRUE((*raw)->Exec("DROP TABLE runs; CREATE TABLE notes (body text)").ok());
  }
  // Other tables are fine in a shared database.
  auto pg = OpenPg();
  ASSERT_NE(pg, nullptr);
  ASSERT_TRUE(pg->connection().Exec("UPDATE schema_info SET value = '99' WHERE key = 'schema_version'").ok());
  pg.reset();
  ds = Dataset::Open(url_);
  ASSERT_FALSE(ds.ok());
  EXPECT_EQ(ds.status().code(), StatusCode::kUnimplemented) << ds.status().ToString();
  EXPECT_NE(ds.status().message().find("99"), std::string::npos);
}

TEST_F(PostgresTest, BadUrlsAreClearErrors) {
  auto missing = Dataset::Open(WithDatabase(base_, db_name_ + "_nosuch"));
  ASSERT_FALSE(missing.ok());
  EXPECT_EQ(missing.status().code(), StatusCode::kNotFound) << missing.status().ToString();
  EXPECT_NE(missing.status().message().find("does not exist"), std::string::npos) << missing.status().message();

  auto refused = Dataset::Open("postgresql://tlm:secret@127.0.0.1:1/postgres?connect_timeout=2");
  ASSERT_FALSE(refused.ok());
  EXPECT_EQ(refused.status().code(), StatusCode::kUnavailable) << refused.status().ToString();
  EXPECT_NE(refused.status().message().find("postgresql://tlm:***@127.0.0.1:1/postgres"), std::string::npos)
      << refused.status().message();
  EXPECT_EQ(refused.status().message().find("secret"), std::string::npos) << refused.status().message();
}

TEST(SqlTest, RewriteParametersAndRedact) {
  EXPECT_EQ(sql::RewriteParameters("SELECT ?1, '?2', \"?3\", x?4 -- ?5\n, ?10 /* ?6 */", true),
            "SELECT $1, '?2', \"?3\", x?4 -- ?5\n, $10 /* ?6 */");
  EXPECT_EQ(sql::RewriteParameters("SELECT $1, 'it''s $2', $12", false), "SELECT ?1, 'it''s $2', ?12");
  EXPECT_EQ(sql::RedactUrl("postgresql://u:p@h:5432/db?sslmode=require"), "postgresql://u:***@h:5432/db?sslmode=require");
  EXPECT_EQ(sql::RedactUrl("postgres://u@h/db?password=x&a=b"), "postgres://u@h/db?password=***&a=b");
  EXPECT_EQ(sql::RedactUrl("results/bench.db"), "results/bench.db");
  EXPECT_TRUE(sql::IsPostgresUrl("postgres://h/db"));
  EXPECT_FALSE(sql::IsPostgresUrl("bench.db"));
}

TEST(SqlTest, SqliteTakesDollarParameters) {
  TempDir dir;
  auto ds = Dataset::Open(dir.File("bench.db"));
  ASSERT_TRUE(ds.ok());
  auto stmt = (*ds)->connection().Prepare("SELECT $2 || $1, ?1, $3");
  ASSERT_TRUE(stmt.ok()) << stmt.status().ToString();
  stmt->BindText(1, "a").BindText(2, "b").BindReal(3, std::nan(""));
  ASSERT_TRUE(*stmt->Step());
  EXPECT_EQ(stmt->Text(0), "ba");
  EXPECT_EQ(stmt->Text(1), "a");
  EXPECT_TRUE(stmt->IsNull(2));
}

}  // namespace
}  // namespace tlm
