// The conformance suite against backends whose answer is known: the CPU backends pass it; a backend
// registered only here, the cpu backend with a wrong RmsNorm epsilon, fails it with messages that
// name the op and the shape; JUnit XML is well-formed and carries the failures; the CLI writes
// dataset rows into a real SQLite file, and an existing version-1 dataset gains the table.
#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <array>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <set>

#include <fmt/format.h>

#include "engine/graph/graph.h"
#include "harness/conform/conform_suite.h"
#include "harness/store/dataset.h"
#include "kernels/cpu/backend/cpu_backend.h"

namespace tlm {
namespace {

namespace fs = std::filesystem;

// The cpu backend, except that every RmsNorm adds 0.05 to its epsilon (a changed constant).
class WrongRmsNormBackend final : public Backend {
 public:
  explicit WrongRmsNormBackend(std::unique_ptr<Backend> cpu) : cpu_(std::move(cpu)) {}
  std::string name() const override { return "cpu-wrong-rmsnorm"; }
  std::string device_description() const override { return "cpu with a wrong RmsNorm epsilon (test only)"; }
  StatusOr<std::unique_ptr<Executable>> Compile(const Graph& graph, const WeightSource& weights) override {
    Graph wrong = graph;
    for (Node& n : wrong.nodes)
      if (n.op == OpKind::kRmsNorm) n.norm.eps += 0.05f;
    return cpu_->Compile(wrong, weights);
  }
  StatusOr<std::unique_ptr<KvCache>> CreateKvCache(const KvSpec& spec) override { return cpu_->CreateKvCache(spec); }

 private:
  std::unique_ptr<Backend> cpu_;
};

const bool kWrongRegistered = RegisterBackend({
    .name = "cpu-wrong-rmsnorm",
    .description = "test only: the cpu backend with a wrong RmsNorm epsilon",
    .probe = [] { return Status::Ok(); },
    .create = [](const BackendOptions& options) -> StatusOr<std::unique_ptr<Backend>> {
      TLM_ASSIGN_OR_RETURN(std::unique_ptr<Backend> cpu, cpu::CreateCpuBackend(options, {}));
      return std::unique_ptr<Backend>(std::make_unique<WrongRmsNormBackend>(std::move(cpu)));
    },
});

const bool kUnavailableRegistered = RegisterBackend({
    .name = "cpu-absent",
    .description = "test only: a backend whose device is missing",
    .probe = [] { return Unavailable("no such device (test)"); },
    .create = [](const BackendOptions&) -> StatusOr<std::unique_ptr<Backend>> { return Internal("never created"); },
});

ConformOptions PerOp(const std::string& backend) {
  ConformOptions o;
  o.backend = backend;
  o.threads = 2;
  return o;
}

std::string ModelsDir() {
  if (const char* env = std::getenv("TLMBENCH_MODELS"); env && *env) return env;
  return std::string(std::getenv("HOME") ? std::getenv("HOME") : ".") + "/.cache/tlmbench/models";
}

// A small XML well-formedness check: declaration, balanced and properly nested elements, quoted
// attributes, escaped text. Returns "" or what is wrong.
std::string XmlProblem(const std::string& xml) {
  std::vector<std::string> stack;
  size_t i = 0;
  if (xml.rfind("<?xml", 0) != 0) return "no XML declaration";
  i = xml.find("?>");
  if (i == std::string::npos) return "unterminated declaration";
  i += 2;
  int roots = 0;
  while (i < xml.size()) {
    if (xml[i] != '<') {
      if (xml[i] == '&') {
        const size_t semi = xml.find(';', i);
        const std::string entity = xml.substr(i, semi == std::string::npos ? 0 : semi - i + 1);
        if (std::set<std::string>{"&amp;", "&lt;", "&gt;", "&quot;", "&apos;"}.count(entity) == 0)
          return fmt::format("bad entity at {}", i);
      }
      if (stack.empty() && !std::isspace(static_cast<unsigned char>(xml[i]))) return "text outside the root";
      ++i;
      continue;
    }
    const size_t end = xml.find('>', i);
    if (end == std::string::npos) return "unterminated tag";
    std::string tag = xml.substr(i + 1, end - i - 1);
    i = end + 1;
    if (tag.find('<') != std::string::npos) return "'<' inside a tag";
    if (!tag.empty() && tag[0] == '/') {
      if (stack.empty() || stack.back() != tag.substr(1)) return fmt::format("mismatched </{}>", tag.substr(1));
      stack.pop_back();
      continue;
    }
    const bool self_closing = !tag.empty() && tag.back() == '/';
    if (self_closing) tag.pop_back();
    const std::string name = tag.substr(0, tag.find_first_of(" \t\n"));
    if (name.empty()) return "empty tag name";
    size_t quotes = 0;
    for (char c : tag) quotes += c == '"';
    if (quotes % 2 != 0) return fmt::format("unbalanced quotes in <{}>", name);
    if (stack.empty()) ++roots;
    if (!self_closing) stack.push_back(name);
  }
  if (!stack.empty()) return fmt::format("<{}> not closed", stack.back());
  return roots == 1 ? "" : "not exactly one root element";
}

size_t Count(const std::string& s, const std::string& what) {
  size_t n = 0;
  for (size_t p = s.find(what); p != std::string::npos; p = s.find(what, p + 1)) ++n;
  return n;
}

struct CommandResult {
  int exit_code = -1;
  std::string out, err;
};

CommandResult RunTlmbench(const std::string& args) {
  const fs::path dir = fs::temp_directory_path() / "tlmbench-conform-test";
  fs::create_directories(dir);
  static int calls = 0;
  const std::string err_path = (dir / fmt::format("stderr-{}-{}.txt", getpid(), calls++)).string();
  const std::string cmd = std::string(TLM_BINARY_DIR) + "/bin/tlmbench " + args + " 2>" + err_path;
  CommandResult r;
  FILE* p = popen(cmd.c_str(), "r");
  if (p == nullptr) return r;
  std::array<char, 4096> buf;
  size_t n;
  while ((n = fread(buf.data(), 1, buf.size(), p)) > 0) r.out.append(buf.data(), n);
  const int status = pclose(p);
  if (WIFEXITED(status)) r.exit_code = WEXITSTATUS(status);
  std::ifstream err(err_path);
  r.err.assign(std::istreambuf_iterator<char>(err), {});
  return r;
}

TEST(ConformTest, CoversEveryOpKind) {
  std::set<std::string> ops;
  for (const std::string& name : ConformCaseNames({})) ops.insert(name.substr(0, name.find('.')));
  for (OpKind k : {OpKind::kEmbedding, OpKind::kMatMul, OpKind::kRmsNorm, OpKind::kRope, OpKind::kAttention,
                   OpKind::kAdd, OpKind::kGeluTanhGate, OpKind::kSiluGate, OpKind::kTakeLastRow})
    EXPECT_TRUE(ops.count(OpKindName(k))) << OpKindName(k);
  // Every weight type the real models use, as matmul weights and as embedding tables.
  const auto names = ConformCaseNames({});
  for (const char* t : {"f32", "f16", "q4_0", "q4_1", "q5_0", "q8_0", "q4_k", "q6_k"})
    EXPECT_TRUE(std::any_of(names.begin(), names.end(), [&](const std::string& n) {
      return n.rfind(fmt::format("matmul.{}.", t), 0) == 0;
    })) << t;
  for (const char* t : {"f32", "f16", "q8_0", "q4_k", "q6_k", "q5_0", "q4_1"})
    EXPECT_TRUE(std::any_of(names.begin(), names.end(), [&](const std::string& n) {
      return n.rfind(fmt::format("embedding.{}.", t), 0) == 0;
    })) << t;
}

TEST(ConformTest, CpuReferencePassesItself) {
  auto report = RunConform(PerOp("cpu"));
  ASSERT_TRUE(report.ok()) << report.status().ToString();
  EXPECT_TRUE(report->pass()) << FormatConformTable(*report);
  EXPECT_EQ(report->cases.size(), ConformCaseNames({}).size());
}

#ifdef TLM_HAVE_XNNPACK_BACKEND
TEST(ConformTest, CpuXnnpackPasses) {
  auto report = RunConform(PerOp("cpu-xnnpack"));
  ASSERT_TRUE(report.ok()) << report.status().ToString();
  EXPECT_TRUE(report->pass()) << FormatConformTable(*report);
  EXPECT_EQ(report->failed, 0);
}
#else
TEST(ConformTest, CpuXnnpackPasses) {
  FAIL() << "the cpu-xnnpack backend was not built: install libxnnpack-dev (scripts/setup does)";
}
#endif

TEST(ConformTest, CpuWithQ8ActivationsPassesTheQ8Bounds) {
  ConformOptions o = PerOp("cpu");
  o.activations = Activations::kQ8;
  auto report = RunConform(o);
  ASSERT_TRUE(report.ok()) << report.status().ToString();
  EXPECT_TRUE(report->pass()) << FormatConformTable(*report);
  // The quantized matmuls are held to the q8-activation bucket, every other case to its own.
  for (const ConformCase& c : report->cases)
    if (c.op == "matmul" && c.dtype != "f32" && c.dtype != "f16") {
      EXPECT_EQ(c.tolerance.bucket, "q8-activations") << c.name;
    }
}

TEST(ConformTest, WrongRmsNormFailsNamingOpAndShape) {
  auto report = RunConform(PerOp("cpu-wrong-rmsnorm"));
  ASSERT_TRUE(report.ok()) << report.status().ToString();
  EXPECT_FALSE(report->pass());
  int rms_cases = 0;
  for (const ConformCase& c : report->cases) {
    if (c.op == "rms_norm") {
      ++rms_cases;
      EXPECT_FALSE(c.pass) << c.name << ": " << c.message;
      EXPECT_NE(c.message.find("beyond atol+rtol·|ref|"), std::string::npos) << c.message;
      EXPECT_NE(c.message.find("nmse"), std::string::npos) << c.message;
    } else {
      EXPECT_TRUE(c.pass) << c.name << ": " << c.message;  // only the broken op fails
    }
  }
  EXPECT_EQ(report->failed, rms_cases);
  const auto first = std::find_if(report->cases.begin(), report->cases.end(),
                                  [](const ConformCase& c) { return c.name == "rms_norm.f32.w640.g640.r1"; });
  ASSERT_NE(first, report->cases.end());
  EXPECT_EQ(first->message.rfind("rms_norm F32 width=640 group=640 rows=1 eps=1e-06: ", 0), 0u) << first->message;

  const std::string table = FormatConformTable(*report);
  EXPECT_NE(table.find("verdict: FAIL backend cpu-wrong-rmsnorm"), std::string::npos) << table;
  EXPECT_NE(table.find("FAILED rms_norm.f32.w640.g640.r1: rms_norm F32 width=640"), std::string::npos) << table;

  const std::string xml = FormatConformJUnit({*report});
  EXPECT_EQ(XmlProblem(xml), "") << xml;
  EXPECT_EQ(Count(xml, "<testsuite "), 1u);
  EXPECT_EQ(Count(xml, "<testcase "), report->cases.size());
  EXPECT_EQ(Count(xml, "<failure "), static_cast<size_t>(rms_cases));
  EXPECT_NE(xml.find("failures=\"" + std::to_string(rms_cases) + "\""), std::string::npos);
  EXPECT_NE(xml.find("<failure message=\"rms_norm F32 width=640 group=640 rows=1"), std::string::npos);
}

TEST(ConformTest, JUnitHasOneSuitePerBackendAndEscapes) {
  ConformReport a, b;
  a.backend = "cpu", b.backend = "opencl:0";
  ConformCase bad;
  bad.name = "x<y", bad.op = "matmul", bad.dtype = "q4_k", bad.shape = "k=1 n=2";
  bad.message = "got \"1 & 2\" <worse>";
  b.cases.push_back(bad);
  b.failed = 1;
  const std::string xml = FormatConformJUnit({a, b});
  EXPECT_EQ(XmlProblem(xml), "") << xml;
  EXPECT_EQ(Count(xml, "<testsuite "), 2u);
  EXPECT_NE(xml.find("name=\"conform.opencl:0\""), std::string::npos);
  EXPECT_NE(xml.find("got &quot;1 &amp; 2&quot; &lt;worse&gt;"), std::string::npos) << xml;
}

TEST(ConformTest, CompareNamesWorstElementAndNmse) {
  ConformCase c;
  ConformTolerance tight;
  tight.atol = 1e-5, tight.rtol = 1e-5, tight.nmse = 1e-6;
  CompareOutputs({1.f, 2.f, 3.5f, 4.f}, {1.f, 2.f, 3.f, 4.f}, 2, tight, "add F32 width=2 rows=2", &c);
  EXPECT_FALSE(c.pass);
  EXPECT_EQ(c.beyond, 1);
  EXPECT_EQ(c.message.rfind("add F32 width=2 rows=2: 1 of 4 elements beyond atol+rtol·|ref| (worst at [1,0]: got 3.5, want 3);", 0),
            0u)
      << c.message;
  EXPECT_NE(c.message.find("nmse 0.00833 > 1e-06"), std::string::npos) << c.message;
  ConformCase nan;
  ConformTolerance loose;
  loose.atol = 1, loose.rtol = 1, loose.nmse = 1;
  CompareOutputs({NAN, 2.f}, {1.f, 2.f}, 2, loose, "nan", &nan);
  EXPECT_FALSE(nan.pass) << nan.message;
}

TEST(ConformTest, UnavailableAndUnknownBackendsAndBadFilters) {
  auto absent = RunConform(PerOp("cpu-absent"));
  ASSERT_FALSE(absent.ok());
  EXPECT_EQ(absent.status().code(), StatusCode::kUnavailable);
  EXPECT_EQ(absent.status().message(), "backend 'cpu-absent' unavailable: no such device (test)");
  auto unknown = RunConform(PerOp("nosuch"));
  ASSERT_FALSE(unknown.ok());
  EXPECT_NE(unknown.status().message().find("unknown backend 'nosuch'"), std::string::npos);
  ConformOptions o = PerOp("cpu");
  o.ops_regex = "(";
  EXPECT_NE(RunConform(o).status().message().find("not a valid regular expression"), std::string::npos);
  o.ops_regex = "^nothing$";
  EXPECT_NE(RunConform(o).status().message().find("matches no case"), std::string::npos);
}

TEST(ConformTest, CliWritesTableJUnitAndDatasetRows) {
  const fs::path dir = fs::temp_directory_path() / fmt::format("tlmbench-conform-cli-{}", getpid());
  fs::remove_all(dir);
  fs::create_directories(dir);
  const std::string db = (dir / "bench.db").string(), junit = (dir / "conform.xml").string();
  auto r = RunTlmbench(fmt::format("conform --backend cpu --no-model --ops '^(rms_norm|rope)' -t 2 --seed 7 --dataset {} --junit {}",
                                   db, junit));
  EXPECT_EQ(r.exit_code, 0) << r.out << r.err;
  EXPECT_NE(r.out.find("verdict: PASS backend cpu: 11 passed, 0 failed of 11 cases"), std::string::npos) << r.out;
  EXPECT_NE(r.err.find("[conform] [1/11] rms_norm"), std::string::npos) << r.err;
  std::ifstream in(junit);
  const std::string xml((std::istreambuf_iterator<char>(in)), {});
  EXPECT_EQ(XmlProblem(xml), "") << xml;
  EXPECT_EQ(Count(xml, "<testcase "), 11u);

  auto ds = Dataset::Open(db);
  ASSERT_TRUE(ds.ok()) << ds.status().ToString();
  auto stmt = (*ds)->connection().Prepare(
      "SELECT count(*), sum(status = 'pass'), count(DISTINCT run_id), min(backend), min(suite), max(nmse) < 1e-9, "
      "count(build_commit), count(host) FROM conformance");
  ASSERT_TRUE(stmt.ok()) << stmt.status().ToString();
  ASSERT_TRUE(*stmt->Step());
  EXPECT_EQ(stmt->Int(0), 11);
  EXPECT_EQ(stmt->Int(1), 11);
  EXPECT_EQ(stmt->Int(2), 1);
  EXPECT_EQ(stmt->Text(3), "cpu");
  EXPECT_EQ(stmt->Text(4), "conform");
  EXPECT_EQ(stmt->Int(5), 1);
  EXPECT_EQ(stmt->Int(6), 11);
  EXPECT_EQ(stmt->Int(7), 11);

  // Usage errors exit 2 with one clear line.
  auto absent = RunTlmbench("conform --backend nosuch --no-model");
  EXPECT_EQ(absent.exit_code, 2);
  EXPECT_NE(absent.err.find("error: unknown backend 'nosuch'"), std::string::npos) << absent.err;
  auto none = RunTlmbench("conform --no-model");
  EXPECT_EQ(none.exit_code, 2);
  EXPECT_NE(none.err.find("needs --backend"), std::string::npos) << none.err;
  auto list = RunTlmbench("conform --list --no-model");
  EXPECT_EQ(list.exit_code, 0);
  EXPECT_NE(list.out.find("matmul.q4_k.k768.n257.r7\n"), std::string::npos) << list.out;
  fs::remove_all(dir);
}

TEST(ConformTest, VersionOneDatasetGainsTheConformanceTable) {
  const fs::path dir = fs::temp_directory_path() / fmt::format("tlmbench-conform-v1-{}", getpid());
  fs::remove_all(dir);
  fs::create_directories(dir);
  const std::string db = (dir / "v1.db").string();
  {
    // A version-1 dataset as tlmbench wrote it (the CI baseline is one).
    std::ifstream in(std::string(TLM_SOURCE_DIR) + "/.ci/baseline/ci-regression.sql");
    ASSERT_TRUE(in) << "missing .ci/baseline/ci-regression.sql";
    const std::string dump((std::istreambuf_iterator<char>(in)), {});
    auto conn = sql::OpenSqlite(db);
    ASSERT_TRUE(conn.ok()) << conn.status().ToString();
    ASSERT_TRUE((*conn)->Exec(dump).ok());
  }
  auto ds = Dataset::Open(db);
  ASSERT_TRUE(ds.ok()) << ds.status().ToString();
  auto q = [&](const std::string& sql) {
    auto stmt = (*ds)->connection().Prepare(sql);
    EXPECT_TRUE(stmt.ok()) << stmt.status().ToString();
    auto row = stmt->Step();
    return row.ok() && *row ? stmt->Text(0) : std::string("?");
  };
  EXPECT_EQ(q("PRAGMA user_version"), "2");
  EXPECT_EQ(q("SELECT value FROM schema_info WHERE key = 'schema_version'"), "2");
  EXPECT_NE(q("SELECT count(*) FROM runs"), "0");  // the old rows are still there
  ConformanceRow row;
  row.run_id = "r1", row.started_at = "2026-11-25T19:00:00Z", row.backend = "opencl", row.suite = "qualify";
  row.case_name = "abi.load", row.status = "pass";
  ASSERT_TRUE((*ds)->WriteConformance({row}).ok());
  EXPECT_EQ(q("SELECT suite || ' ' || case_name || ' ' || status FROM conformance"), "qualify abi.load pass");
  row.status = "maybe";
  EXPECT_NE((*ds)->WriteConformance({row}).message().find("status 'maybe'"), std::string::npos);
  fs::remove_all(dir);
}

TEST(ConformTest, RealModelEndToEndOnXnnpack) {
  const std::string model = ModelsDir() + "/gemma-3-270m-q4_k_m.gguf";
  ASSERT_TRUE(fs::exists(model)) << "\n\n*** Reference model missing: " << model
                                 << "\n*** Run scripts/setup to fetch it (or set TLMBENCH_MODELS). This test does not skip.\n";
  ConformOptions o = PerOp(
#ifdef TLM_HAVE_XNNPACK_BACKEND
      "cpu-xnnpack"
#else
      "cpu"
#endif
  );
  o.model_path = model;
  o.ops_regex = "^model\\.";
  o.quick = true;
  auto report = RunConform(o);
  ASSERT_TRUE(report.ok()) << report.status().ToString();
  ASSERT_EQ(report->cases.size(), 2u);
  EXPECT_TRUE(report->pass()) << FormatConformTable(*report);
  const ConformCase& tf = report->cases[0];
  EXPECT_EQ(tf.name, "model.teacher_forced");
  EXPECT_LT(tf.kld, 0.01);
  EXPECT_GE(tf.top1, 0.98);
  EXPECT_NEAR(tf.ppl_ratio, 1.0, 0.02);
  EXPECT_NE(report->cases[1].detail.find("reference: "), std::string::npos);
}

}  // namespace
}  // namespace tlm
