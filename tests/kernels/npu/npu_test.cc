// The NPU plugin path: loader (allowlist, ABI check first), vnpu (execution and cost model), and the
// qualification suite against vnpu and the deliberately broken plugins.
#include <sys/stat.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <cstring>
#include <fstream>
#include <map>
#include <random>
#include <string>
#include <vector>

#include <gtest/gtest.h>
#include <sqlite3.h>

#include "engine/model/synthetic.h"
#include "harness/qualify/qualify_suite.h"
#include "harness/store/dataset.h"
#include "kernels/npu/loader/plugin_loader.h"

namespace tlm {
namespace {

namespace fs = std::filesystem;

// A private copy of a plugin folder, so permission and symlink tests do not touch the build tree.
fs::path TempDir(const std::string& name) {
  fs::path d = fs::temp_directory_path() / fs::path("tlm_npu_test_" + name + "_" + std::to_string(getpid()));
  fs::remove_all(d);
  fs::create_directories(d);
  return d;
}

TEST(NpuLoader, LoadsVnpuAndChecksIdentity) {
  auto p = LoadNpuPlugin("vnpu", TLM_PLUGIN_DIR);
  ASSERT_TRUE(p.ok()) << p.status().ToString();
  EXPECT_EQ((*p)->api().abi_version, TLM_NPU_ABI_VERSION);
  EXPECT_STREQ((*p)->api().plugin_name, "vnpu");
  EXPECT_TRUE((*p)->SupportsSoc("vnpu-small"));
  // The same plugin by file name and by path inside the folder.
  EXPECT_TRUE(LoadNpuPlugin("tlm_npu_vnpu.so", TLM_PLUGIN_DIR).ok());
  EXPECT_TRUE(LoadNpuPlugin(std::string(TLM_PLUGIN_DIR) + "/tlm_npu_vnpu.so", TLM_PLUGIN_DIR).ok());
  EXPECT_TRUE((*p)->SupportsSoc("vnpu-large"));
  EXPECT_FALSE((*p)->SupportsSoc("vnpu-huge"));
}

TEST(NpuLoader, RefusesAWrongAbiPlainly) {
  auto p = LoadNpuPlugin("broken_wrong_abi", TLM_TEST_PLUGIN_DIR);
  ASSERT_FALSE(p.ok());
  EXPECT_NE(p.status().message().find("was built for ABI 2, this tlmbench speaks ABI 1"), std::string::npos)
      << p.status().message();
}

TEST(NpuLoader, RefusesPluginsOutsideTheAllowlistedFolder) {
  const fs::path dir = TempDir("allow");
  // A symlink inside the folder that points outside it.
  fs::create_symlink(fs::path(TLM_PLUGIN_DIR) / "tlm_npu_vnpu.so", dir / "tlm_npu_vnpu.so");
  auto p = LoadNpuPlugin("vnpu", dir.string());
  ASSERT_FALSE(p.ok());
  EXPECT_NE(p.status().message().find("outside the allowlisted plugin folder"), std::string::npos)
      << p.status().message();
  // A path with .. that climbs out.
  auto q = LoadNpuPlugin((dir / ".." / "x.so").string(), dir.string());
  EXPECT_FALSE(q.ok());
  // Missing plugins and folders.
  EXPECT_EQ(LoadNpuPlugin("nope", dir.string()).status().code(), StatusCode::kNotFound);
  EXPECT_EQ(LoadNpuPlugin("vnpu", (dir / "missing").string()).status().code(), StatusCode::kNotFound);
  fs::remove_all(dir);
}

TEST(NpuLoader, RefusesAGroupWritablePlugin) {
  const fs::path dir = TempDir("perm");
  fs::copy_file(fs::path(TLM_PLUGIN_DIR) / "tlm_npu_vnpu.so", dir / "tlm_npu_vnpu.so");
  chmod((dir / "tlm_npu_vnpu.so").c_str(), 0775);
  auto p = LoadNpuPlugin("vnpu", dir.string());
  ASSERT_FALSE(p.ok());
  EXPECT_NE(p.status().message().find("writable by group or others"), std::string::npos);
  chmod((dir / "tlm_npu_vnpu.so").c_str(), 0755);
  EXPECT_TRUE(LoadNpuPlugin("vnpu", dir.string()).ok());
  fs::remove_all(dir);
}

// One FULLY_CONNECTED int8 x int8 -> int32 through vnpu, checked by hand, and its cost model.
struct FcRun {
  std::vector<int32_t> out;
  TlmNpuMetrics metrics{};
};
FcRun RunFc(const NpuPlugin& p, const char* soc, int64_t M, int64_t K, int64_t N) {
  std::vector<int8_t> x(M * K), w(N * K);
  for (size_t i = 0; i < x.size(); ++i) x[i] = static_cast<int8_t>((i * 7) % 255 - 127);
  for (size_t i = 0; i < w.size(); ++i) w[i] = static_cast<int8_t>((i * 13) % 255 - 127);
  std::vector<float> scales(N, 0.01f);
  TlmNpuTensor t[3] = {};
  t[0] = {TLM_NPU_DTYPE_INT8, 2, {M, K}, 0.1f, nullptr, nullptr};
  t[1] = {TLM_NPU_DTYPE_INT8, 2, {N, K}, 1.0f, scales.data(), w.data()};
  t[2] = {TLM_NPU_DTYPE_INT32, 2, {M, N}, 1.0f, nullptr, nullptr};
  TlmNpuOp op{TLM_NPU_OP_FULLY_CONNECTED, 2, {0, 1, 0, 0}, 2};
  uint32_t in = 0, out = 2;
  TlmNpuGraph g{sizeof(TlmNpuGraph), 3, t, 1, &op, 1, &in, 1, &out};
  const TlmNpuPluginApi& a = p.api();
  TlmNpuBlob blob{};
  FcRun r;
  r.out.resize(M * N);
  TlmNpuContext* ctx = nullptr;
  EXPECT_EQ(a.compile(&g, soc, &blob), TLM_NPU_OK) << a.last_error();
  EXPECT_EQ(a.create_context(soc, &ctx), TLM_NPU_OK);
  EXPECT_EQ(a.load_blob(ctx, blob.data, blob.size), TLM_NPU_OK) << a.last_error();
  EXPECT_EQ(a.bind_input(ctx, 0, x.data(), x.size()), TLM_NPU_OK);
  EXPECT_EQ(a.bind_output(ctx, 0, r.out.data(), r.out.size() * 4), TLM_NPU_OK);
  EXPECT_EQ(a.invoke(ctx), TLM_NPU_OK);
  EXPECT_EQ(a.synchronize(ctx), TLM_NPU_OK);
  r.metrics.struct_size = sizeof(TlmNpuMetrics);
  EXPECT_EQ(a.get_metrics(ctx, UINT32_MAX, &r.metrics), TLM_NPU_OK);
  EXPECT_EQ(a.destroy_context(ctx), TLM_NPU_OK);
  EXPECT_EQ(a.free_blob(&blob), TLM_NPU_OK);
  for (int64_t m = 0; m < M; ++m)
    for (int64_t n = 0; n < N; ++n) {
      int32_t acc = 0;
      for (int64_t k = 0; k < K; ++k) acc += x[m * K + k] * w[n * K + k];
      EXPECT_EQ(r.out[m * N + n], acc) << m << "," << n;
    }
  return r;
}

TEST(Vnpu, ExecutesAndModelsCycles) {
  auto p = LoadNpuPlugin("vnpu", TLM_PLUGIN_DIR);
  ASSERT_TRUE(p.ok()) << p.status().ToString();
  const FcRun small = RunFc(**p, "vnpu-small", 8, 512, 256);
  const FcRun large = RunFc(**p, "vnpu-large", 8, 512, 256);
  EXPECT_EQ(small.metrics.macs, 8u * 512 * 256);
  EXPECT_EQ(small.metrics.num_ops, 1u);
  EXPECT_GT(small.metrics.modelled_cycles, large.metrics.modelled_cycles);
  // vnpu-small: 16x16 array, 16 B/cycle DMA. Weights alone (128 KiB) take 8192 DMA cycles; compute is
  // 1 x 16 x 512 = 8192 cycles too, so the op is bound by either at about 8.4k cycles plus tile set-up.
  EXPECT_GE(small.metrics.modelled_cycles, 8192u);
  EXPECT_LT(small.metrics.modelled_cycles, 12000u);
  EXPECT_EQ(small.metrics.modelled_ns, small.metrics.modelled_cycles * 1000 / 800);
  // Larger than SRAM (weights 4 MiB on a 256 KiB SRAM): still exact, tiled.
  const FcRun tiled = RunFc(**p, "vnpu-small", 2, 2048, 2048);
  EXPECT_GT(tiled.metrics.modelled_cycles, 2048u * 2048 / 16);
}

// Every single-byte flip of a blob is refused; payload mutations with a recomputed checksum (so only the
// parser stands between them and the executor) load or are refused, never crash.
TEST(Vnpu, RefusesEveryFlippedByteAndSurvivesHostilePayloads) {
  auto p = LoadNpuPlugin("vnpu", TLM_PLUGIN_DIR);
  ASSERT_TRUE(p.ok()) << p.status().ToString();
  const TlmNpuPluginApi& a = (*p)->api();
  std::vector<int8_t> w(4 * 8, 3);
  std::vector<float> scales(4, 0.5f);
  TlmNpuTensor t[3] = {};
  t[0] = {TLM_NPU_DTYPE_INT8, 2, {2, 8}, 0.1f, nullptr, nullptr};
  t[1] = {TLM_NPU_DTYPE_INT8, 2, {4, 8}, 1.0f, scales.data(), w.data()};
  t[2] = {TLM_NPU_DTYPE_INT8, 2, {2, 4}, 0.2f, nullptr, nullptr};
  TlmNpuOp op{TLM_NPU_OP_FULLY_CONNECTED, 2, {0, 1, 0, 0}, 2};
  uint32_t in = 0, out = 2;
  TlmNpuGraph g{sizeof(TlmNpuGraph), 3, t, 1, &op, 1, &in, 1, &out};
  TlmNpuBlob blob{};
  ASSERT_EQ(a.compile(&g, "vnpu-small", &blob), TLM_NPU_OK) << a.last_error();
  const std::vector<uint8_t> good(blob.data, blob.data + blob.size);
  a.free_blob(&blob);
  auto load = [&](const std::vector<uint8_t>& bytes) {
    TlmNpuContext* ctx = nullptr;
    EXPECT_EQ(a.create_context("vnpu-small", &ctx), TLM_NPU_OK);
    const TlmNpuStatus s = a.load_blob(ctx, bytes.data(), bytes.size());
    a.destroy_context(ctx);
    return s;
  };
  ASSERT_EQ(load(good), TLM_NPU_OK);
  for (size_t i = 0; i < good.size(); ++i) {
    std::vector<uint8_t> bad = good;
    bad[i] ^= 0x01;
    EXPECT_EQ(load(bad), TLM_NPU_ERR_BAD_BLOB) << "byte " << i;
  }
  constexpr size_t kHeader = 64, kChecksumAt = 56;  // vnpu's BlobHeader
  std::mt19937 rng(3);
  int loaded = 0;
  for (int iter = 0; iter < 3000; ++iter) {
    std::vector<uint8_t> bad = good;
    for (int m = 0; m < 1 + iter % 4; ++m) bad[kHeader + rng() % (bad.size() - kHeader)] = static_cast<uint8_t>(rng());
    uint64_t h = 1469598103934665603ull;
    for (size_t i = kHeader; i < bad.size(); ++i) h = (h ^ bad[i]) * 1099511628211ull;
    std::memcpy(bad.data() + kChecksumAt, &h, 8);
    const TlmNpuStatus s = load(bad);
    EXPECT_TRUE(s == TLM_NPU_OK || s == TLM_NPU_ERR_BAD_BLOB) << NpuStatusName(s);
    loaded += s == TLM_NPU_OK;
  }
  EXPECT_LT(loaded, 3000);
}

const QualifyCheck* Find(const QualifyReport& r, const std::string& name) {
  for (const QualifyCheck& c : r.checks)
    if (c.name == name) return &c;
  return nullptr;
}

QualifyReport Qualify(const std::string& plugin, const std::string& dir, const std::string& soc = "vnpu-small",
                      std::vector<std::string> only = {}) {
  QualifyOptions o;
  o.plugin = plugin;
  o.plugin_dir = dir;
  o.soc = soc;
  o.timeout_s = 5;
  o.repeats = 3;
  o.only = std::move(only);
  return RunQualify(o);
}

TEST(Qualify, VnpuPassesEveryCheckOnBothSocs) {
  for (const char* soc : {"vnpu-small", "vnpu-large"}) {
    const QualifyReport r = Qualify("vnpu", TLM_PLUGIN_DIR, soc);
    EXPECT_TRUE(r.pass()) << FormatQualifyTable(r);
    EXPECT_EQ(r.failed, 0);
    EXPECT_EQ(r.skipped, 1);  // model.end_to_end: no model given here (QualifyModel below, and the golden test)
    EXPECT_EQ(r.checks.size(), QualifyCheckNames().size());
    EXPECT_EQ(Find(r, "model.end_to_end")->result, QualifyCheck::Result::kSkip);
    EXPECT_NE(Find(r, "model.end_to_end")->message.find("no model"), std::string::npos);
    const QualifyCheck* perf = Find(r, "performance.latency");
    ASSERT_NE(perf, nullptr);
    EXPECT_FALSE(perf->metrics.empty());
    const std::string xml = FormatQualifyJUnit(r);
    EXPECT_NE(xml.find("failures=\"0\""), std::string::npos);
    EXPECT_NE(xml.find("name=\"accuracy.fc_i8_i32\""), std::string::npos);
  }
}

TEST(Qualify, UnknownSocFailsTheLoadCheck) {
  const QualifyReport r = Qualify("vnpu", TLM_PLUGIN_DIR, "vnpu-huge");
  EXPECT_FALSE(r.pass());
  EXPECT_EQ(Find(r, "abi.load")->result, QualifyCheck::Result::kFail);
  EXPECT_NE(Find(r, "abi.load")->message.find("does not list SoC 'vnpu-huge'"), std::string::npos);
}

TEST(Qualify, WrongAbiFailsAtLoadWithAPlainMessage) {
  const QualifyReport r = Qualify("broken_wrong_abi", TLM_TEST_PLUGIN_DIR);
  EXPECT_FALSE(r.pass());
  const QualifyCheck* load = Find(r, "abi.load");
  EXPECT_EQ(load->result, QualifyCheck::Result::kFail);
  EXPECT_NE(load->message.find("was built for ABI 2, this tlmbench speaks ABI 1"), std::string::npos) << load->message;
  EXPECT_EQ(r.failed, 1);  // the rest is skipped: nothing else may be called
}

TEST(Qualify, CrashIsAFailedCheckNotADeadHarness) {
  const QualifyReport r = Qualify("broken_crash", TLM_TEST_PLUGIN_DIR, "vnpu-small", {"accuracy.fc_i8_i32", "abi.invalid"});
  EXPECT_FALSE(r.pass());
  const QualifyCheck* acc = Find(r, "accuracy.fc_i8_i32");
  ASSERT_NE(acc, nullptr);
  EXPECT_EQ(acc->result, QualifyCheck::Result::kFail);
#if defined(__SANITIZE_ADDRESS__)
  // ASan's SEGV handler turns the worker's crash into an abort (abort_on_error=1 in scripts/test).
  const bool crashed = acc->message.find("crashed with signal 11 (SIGSEGV") != std::string::npos ||
                       acc->message.find("crashed with signal 6 (SIGABRT") != std::string::npos;
  EXPECT_TRUE(crashed) << acc->message;
#else
  EXPECT_NE(acc->message.find("crashed with signal 11 (SIGSEGV"), std::string::npos) << acc->message;
#endif
  EXPECT_EQ(Find(r, "abi.invalid_arguments")->result, QualifyCheck::Result::kPass);  // never invokes
}

TEST(Qualify, HangIsKilledAndFailed) {
  QualifyOptions o;
  o.plugin = "broken_hang";
  o.plugin_dir = TLM_TEST_PLUGIN_DIR;
  o.soc = "vnpu-small";
  o.timeout_s = 1;
  o.only = {"accuracy.fc_i8_i8"};
  const QualifyReport r = RunQualify(o);
  const QualifyCheck* acc = Find(r, "accuracy.fc_i8_i8");
  ASSERT_NE(acc, nullptr);
  EXPECT_EQ(acc->result, QualifyCheck::Result::kFail);
  EXPECT_NE(acc->message.find("hung: no result after 1 s"), std::string::npos) << acc->message;
  EXPECT_LT(acc->seconds, 3.0);
}

TEST(Qualify, WrongResultsFailAccuracyAndOnlyAccuracy) {
  const QualifyReport r = Qualify("broken_wrong_results", TLM_TEST_PLUGIN_DIR);
  EXPECT_FALSE(r.pass());
  for (const char* name : {"accuracy.fc_i8_i32", "accuracy.fc_i16_i32", "accuracy.fc_i8_i8", "accuracy.add_i8"}) {
    const QualifyCheck* c = Find(r, name);
    ASSERT_NE(c, nullptr) << name;
    EXPECT_EQ(c->result, QualifyCheck::Result::kFail) << name;
    EXPECT_NE(c->message.find("the CPU reference; first at"), std::string::npos) << c->message;
  }
  EXPECT_EQ(Find(r, "abi.null_arguments")->result, QualifyCheck::Result::kPass);
  EXPECT_EQ(Find(r, "abi.out_of_order")->result, QualifyCheck::Result::kPass);
  EXPECT_EQ(Find(r, "determinism.repeat")->result, QualifyCheck::Result::kPass);  // wrong, but consistently
}

TEST(Qualify, OutputBufferOverrunIsCaught) {
  const QualifyReport r = Qualify("broken_overrun", TLM_TEST_PLUGIN_DIR, "vnpu-small", {"accuracy.fc_i8_i8"});
  const QualifyCheck* c = Find(r, "accuracy.fc_i8_i8");
  ASSERT_NE(c, nullptr);
  EXPECT_EQ(c->result, QualifyCheck::Result::kFail);
  EXPECT_NE(c->message.find("wrote past the end of output 0"), std::string::npos) << c->message;
}

// A small synthetic Gemma-shaped model (Q8_0), written once per test process.
const std::string& SyntheticModelPath() {
  static const std::string path = [] {
    const fs::path p = fs::temp_directory_path() / ("tlm_qualify_synthetic_" + std::to_string(getpid()) + ".gguf");
    SyntheticModelSpec spec;
    spec.type = DType::kQ8_0;
    spec.seed = 3;
    const Status st = WriteSyntheticModel(spec, p.string());
    EXPECT_TRUE(st.ok()) << st.ToString();
    return p.string();
  }();
  return path;
}

QualifyReport QualifyModel(const std::string& plugin, const std::string& dir, const std::string& model_path) {
  QualifyOptions o;
  o.plugin = plugin;
  o.plugin_dir = dir;
  o.soc = "vnpu-small";
  o.only = {"model"};
  o.model_path = model_path;
  o.model_tokens = 40;
  o.threads = 2;
  o.model_timeout_s = 120;
  return RunQualify(o);
}

// The model check is conform's teacher-forced case on the npu backend, in a worker: real KLD and top-1.
TEST(QualifyModel, RunsTheModelThroughTheNpuBackendAgainstTheCpu) {
  const QualifyReport r = QualifyModel("vnpu", TLM_PLUGIN_DIR, SyntheticModelPath());
  ASSERT_EQ(r.checks.size(), 2u) << FormatQualifyTable(r);  // abi.load and model.end_to_end
  const QualifyCheck* c = Find(r, "model.end_to_end");
  ASSERT_NE(c, nullptr);
  EXPECT_EQ(c->result, QualifyCheck::Result::kPass) << c->message;
  EXPECT_NE(c->message.find("over 40 tokens on npu:vnpu:vnpu-small (int16 activations)"), std::string::npos)
      << c->message;
  std::map<std::string, double> m;
  for (const QualifyMetric& x : c->metrics) m[x.name] = x.value;
  ASSERT_TRUE(m.count("kld_mean") && m.count("top1_agree") && m.count("ppl_ratio")) << FormatQualifyTable(r);
  EXPECT_GT(m["kld_mean"], 0.0);  // int8 weights and int16 activations are not the f32 reference
  EXPECT_LT(m["kld_mean"], kQualifyMaxMeanKld);
  EXPECT_GE(m["top1_agree"], kQualifyMinTop1);
  EXPECT_EQ(m["tokens"], 40);
}

TEST(QualifyModel, APluginThatCrashesInTheModelFailsThatCheckOnly) {
  const QualifyReport r = QualifyModel("broken_crash", TLM_TEST_PLUGIN_DIR, SyntheticModelPath());
  EXPECT_FALSE(r.pass());
  EXPECT_EQ(Find(r, "abi.load")->result, QualifyCheck::Result::kPass);
  const QualifyCheck* c = Find(r, "model.end_to_end");
  ASSERT_NE(c, nullptr);
  EXPECT_EQ(c->result, QualifyCheck::Result::kFail);
  EXPECT_NE(c->message.find("crashed with signal"), std::string::npos) << c->message;
}

TEST(QualifyModel, WrongResultsFailTheModelCheckOnKld) {
  const QualifyReport r = QualifyModel("broken_wrong_results", TLM_TEST_PLUGIN_DIR, SyntheticModelPath());
  const QualifyCheck* c = Find(r, "model.end_to_end");
  ASSERT_NE(c, nullptr);
  EXPECT_EQ(c->result, QualifyCheck::Result::kFail) << c->message;
  EXPECT_NE(c->message.find("mean KLD"), std::string::npos) << c->message;
}

TEST(QualifyModel, AMissingModelFailsPlainly) {
  const QualifyReport r = QualifyModel("vnpu", TLM_PLUGIN_DIR, "/nonexistent/model.gguf");
  const QualifyCheck* c = Find(r, "model.end_to_end");
  ASSERT_NE(c, nullptr);
  EXPECT_EQ(c->result, QualifyCheck::Result::kFail);
  EXPECT_NE(c->message.find("/nonexistent/model.gguf"), std::string::npos) << c->message;
}

// Rows in a real SQLite file: one per check, suite 'qualify', the failures of a broken plugin as failures.
TEST(QualifyDataset, WritesOneRowPerCheckIntoTheConformanceTable) {
  const fs::path dir = TempDir("dataset");
  const std::string db_path = (dir / "qualify.sqlite").string();
  QualifyReport wrong = Qualify("broken_wrong_results", TLM_TEST_PLUGIN_DIR, "vnpu-small",
                                {"abi.null", "accuracy.fc_i8_i32", "accuracy.fc_i8_i8", "model"});
  ASSERT_EQ(wrong.checks.size(), 5u) << FormatQualifyTable(wrong);
  QualifyReport good = QualifyModel("vnpu", TLM_PLUGIN_DIR, SyntheticModelPath());
  {
    auto ds = Dataset::Open(db_path);
    ASSERT_TRUE(ds.ok()) << ds.status().ToString();
    ASSERT_TRUE((*ds)->WriteConformance(QualifyConformanceRows(wrong, QualifyRunId(wrong))).ok());
    ASSERT_TRUE((*ds)->WriteConformance(QualifyConformanceRows(good, "qualify-good")).ok());
  }
  sqlite3* db = nullptr;
  ASSERT_EQ(sqlite3_open_v2(db_path.c_str(), &db, SQLITE_OPEN_READONLY, nullptr), SQLITE_OK);
  auto rows = [&](const std::string& sql) {
    std::vector<std::string> out;
    sqlite3_stmt* st = nullptr;
    EXPECT_EQ(sqlite3_prepare_v2(db, sql.c_str(), -1, &st, nullptr), SQLITE_OK) << sqlite3_errmsg(db);
    while (st != nullptr && sqlite3_step(st) == SQLITE_ROW) {
      std::string line;
      for (int i = 0; i < sqlite3_column_count(st); ++i) {
        const unsigned char* t = sqlite3_column_text(st, i);
        if (i > 0) line += '|';
        line += t != nullptr ? reinterpret_cast<const char*>(t) : "NULL";
      }
      out.push_back(line);
    }
    sqlite3_finalize(st);
    return out;
  };
  EXPECT_EQ(rows("SELECT COUNT(*) FROM conformance WHERE suite = 'qualify'"), std::vector<std::string>{"7"});
  EXPECT_EQ(rows("SELECT case_name, status, op FROM conformance WHERE backend = 'npu:broken_wrong_results:vnpu-small' "
                 "ORDER BY case_name"),
            (std::vector<std::string>{"abi.load|pass|abi", "abi.null_arguments|pass|abi",
                                      "accuracy.fc_i8_i32|fail|accuracy", "accuracy.fc_i8_i8|fail|accuracy",
                                      "model.end_to_end|skip|model"}));
  const std::vector<std::string> fail = rows(
      "SELECT message, metrics_json FROM conformance WHERE case_name = 'accuracy.fc_i8_i32' AND suite = 'qualify'");
  ASSERT_EQ(fail.size(), 1u);
  EXPECT_NE(fail[0].find("the CPU reference; first at"), std::string::npos) << fail[0];
  EXPECT_NE(fail[0].find("\"mismatches\""), std::string::npos) << fail[0];
  const std::vector<std::string> model = rows(
      "SELECT status, kld IS NOT NULL, top1 >= 0.9, ppl_ratio IS NOT NULL, dtype, shape, device FROM conformance "
      "WHERE run_id = 'qualify-good' AND case_name = 'model.end_to_end'");
  ASSERT_EQ(model.size(), 1u);
  EXPECT_EQ(model[0].substr(0, model[0].find("|tlm_qualify")), "pass|1|1|1") << model[0];
  EXPECT_NE(model[0].find("|tokens=40|"), std::string::npos) << model[0];
  EXPECT_NE(model[0].find("vnpu"), std::string::npos) << model[0];
  sqlite3_close(db);
  fs::remove_all(dir);
}

}  // namespace
}  // namespace tlm
