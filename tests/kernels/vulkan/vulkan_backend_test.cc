// The vulkan backend against the cpu backend (the reference) on Mesa lavapipe: single-op graphs
// over random inputs and odd shapes (every weight type the shaders read, GEMV and GEMM paths,
// norms, RoPE at large positions, gates, attention with GQA, sliding windows and a shared KV
// cache), synthetic models end to end, device selection, the pipeline cache, clear errors.
// The real models are in vulkan_golden_test.cc.
#include <gtest/gtest.h>

// Graph nodes are written with designated initializers; the fields left out take their defaults.
#pragma GCC diagnostic ignored "-Wmissing-field-initializers"

#include <unistd.h>
#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <random>

#include "tests/support/tolerance.h"
#include "engine/backend/backend.h"
#include "engine/model/model.h"
#include "engine/model/synthetic.h"
#include "engine/session/session.h"
#include "kernels/cpu/ref/quant.h"

namespace tlm {
namespace {

namespace fs = std::filesystem;

std::string TempDir(const std::string& name) {
  fs::path dir = fs::temp_directory_path() / "tlmbench-vulkan-test" / name;
  fs::create_directories(dir);
  return dir.string();
}

// Each test process (ctest runs them in parallel) starts with an empty pipeline cache folder of
// its own.
std::string ProcessCacheDir(const std::string& name) {
  const std::string dir = TempDir(fmt::format("{}-{}", name, static_cast<long>(getpid())));
  std::error_code ec;
  fs::remove_all(dir, ec);
  return dir;
}

class CacheDirEnvironment : public ::testing::Environment {
 public:
  void SetUp() override { setenv("TLMBENCH_CACHE_DIR", ProcessCacheDir("cache").c_str(), 1); }
  void TearDown() override {
    std::error_code ec;
    fs::remove_all(std::getenv("TLMBENCH_CACHE_DIR"), ec);
  }
};
const auto* const kEnv = ::testing::AddGlobalTestEnvironment(new CacheDirEnvironment);

std::unique_ptr<Backend> MakeBackend(const std::string& spec) {
  BackendOptions options;
  options.threads = 2;
  auto b = CreateBackend(spec, options);
  if (!b.ok()) {
    ADD_FAILURE() << spec << ": " << b.status().ToString()
                  << " (the vulkan tests need a Vulkan device: Debian mesa-vulkan-drivers gives lavapipe)";
    return nullptr;
  }
  return std::move(b).value();
}

// Weights held in memory.
class MapWeights : public WeightSource {
 public:
  const WeightView* Find(std::string_view name) const override {
    auto it = views_.find(std::string(name));
    return it == views_.end() ? nullptr : &it->second;
  }
  // A [k, rows] matrix (or a [k] vector when rows == 0) of random values in [-scale, scale], stored as `type`.
  void Add(const std::string& name, DType type, int64_t k, int64_t rows, float scale, uint32_t seed) {
    std::mt19937 rng(seed);
    std::uniform_real_distribution<float> dist(-scale, scale);
    const int64_t r = std::max<int64_t>(rows, 1);
    std::vector<float> f(static_cast<size_t>(k * r));
    for (float& x : f) x = dist(rng);
    uint64_t row_bytes = 0;
    ASSERT_TRUE(ElemsToBytes(type, static_cast<uint64_t>(k), &row_bytes));
    auto& bytes = data_[name];
    bytes.assign(row_bytes * r, 0);
    for (int64_t i = 0; i < r; ++i)
      ASSERT_TRUE(cpu::ref::QuantizeRow(type, f.data() + i * k, bytes.data() + i * row_bytes, k).ok());
    WeightView v;
    v.name = name;
    v.type = type;
    v.dims = rows > 0 ? std::vector<int64_t>{k, rows} : std::vector<int64_t>{k};
    v.data = bytes.data();
    v.bytes = bytes.size();
    views_[name] = v;
  }

 private:
  std::map<std::string, std::vector<uint8_t>> data_;
  std::map<std::string, WeightView> views_;
};

struct StepSpec {
  std::vector<int32_t> tokens;
  int64_t pos0;
};

// Runs the steps through one backend with one executable per max_tokens value that the steps
// need (the graph is rebuilt by `make(max_tokens)`) sharing one KV cache, as a session does.
std::vector<float> RunSteps(Backend& backend, const std::function<Graph(int64_t)>& make, const WeightSource& weights,
                            const std::vector<StepSpec>& steps, int64_t n_ctx, int64_t prefill_max) {
  std::vector<float> out;
  auto prefill = backend.Compile(make(prefill_max), weights);
  auto decode = backend.Compile(make(1), weights);
  EXPECT_TRUE(prefill.ok()) << prefill.status().ToString();
  EXPECT_TRUE(decode.ok()) << decode.status().ToString();
  if (!prefill.ok() || !decode.ok()) return out;
  const Graph g = make(prefill_max);
  auto kv = backend.CreateKvCache(KvSpecFor(g, n_ctx));
  EXPECT_TRUE(kv.ok()) << kv.status().ToString();
  if (!kv.ok()) return out;
  const int64_t width = g.nodes[g.output].width;
  for (const StepSpec& s : steps) {
    std::vector<float> logits(s.tokens.size() * width);
    Executable& exe = s.tokens.size() == 1 ? **decode : **prefill;
    Status st = exe.Run({.tokens = s.tokens, .pos0 = s.pos0}, **kv, logits);
    EXPECT_TRUE(st.ok()) << st.ToString();
    if (!st.ok()) return {};
    const bool last_only = g.nodes[g.output].op == OpKind::kTakeLastRow;
    logits.resize(last_only ? width : s.tokens.size() * width);
    out.insert(out.end(), logits.begin(), logits.end());
  }
  return out;
}

using testing::Mismatches;

void ExpectMatchesCpu(const std::function<Graph(int64_t)>& make, const WeightSource& weights,
                      const std::vector<StepSpec>& steps, int64_t n_ctx, int64_t prefill_max, double atol, double rtol,
                      const std::string& what) {
  auto cpu = MakeBackend("cpu");
  auto vk = MakeBackend("vulkan");
  ASSERT_NE(cpu, nullptr);
  ASSERT_NE(vk, nullptr);
  const auto ref = RunSteps(*cpu, make, weights, steps, n_ctx, prefill_max);
  const auto got = RunSteps(*vk, make, weights, steps, n_ctx, prefill_max);
  ASSERT_FALSE(ref.empty());
  ASSERT_EQ(got.size(), ref.size());
  double max_abs = 0;
  EXPECT_EQ(Mismatches(got, ref, atol, rtol, &max_abs), 0) << what << ": max |diff| " << max_abs;
}

std::vector<int32_t> Ids(int n, int vocab, uint32_t seed) {
  std::mt19937 rng(seed);
  std::uniform_int_distribution<int32_t> dist(0, vocab - 1);
  std::vector<int32_t> t(n);
  for (auto& x : t) x = dist(rng);
  return t;
}

const DType kAllTypes[] = {DType::kF32,  DType::kF16,  DType::kBF16, DType::kQ4_0, DType::kQ4_1, DType::kQ5_0,
                           DType::kQ5_1, DType::kQ8_0, DType::kQ4_K, DType::kQ5_K, DType::kQ6_K};

TEST(VulkanBackendTest, IsRegisteredAndDescribesItsDevice) {
  const BackendRegistration* reg = nullptr;
  for (const BackendRegistration* r : RegisteredBackends())
    if (r->name == "vulkan") reg = r;
  ASSERT_NE(reg, nullptr);
  Status probe = reg->probe();
  ASSERT_TRUE(probe.ok()) << probe.ToString() << " (install mesa-vulkan-drivers for lavapipe)";
  auto b = MakeBackend("vulkan");
  ASSERT_NE(b, nullptr);
  EXPECT_EQ(b->name(), "vulkan");
  const std::string d = b->device_description();
  std::printf("vulkan device: %s\n", d.c_str());
  for (const char* part : {"driver", "Vulkan 1.", "subgroup", "shared memory"})
    EXPECT_NE(d.find(part), std::string::npos) << part << " missing from: " << d;
}

TEST(VulkanBackendTest, SelectsDevicesByIndexOrNameAndRejectsBadSelectors) {
  auto first = MakeBackend("vulkan:0");
  ASSERT_NE(first, nullptr);
  const std::string name = first->device_description().substr(0, first->device_description().find(" ("));
  // Case-insensitive substring of the name.
  std::string upper = name.substr(0, std::min<size_t>(name.size(), 5));
  for (char& c : upper) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  auto by_name = MakeBackend("vulkan:" + upper);
  ASSERT_NE(by_name, nullptr);
  EXPECT_EQ(by_name->device_description(), first->device_description());
  for (const char* bad : {"vulkan:99", "vulkan:no-such-gpu"}) {
    auto b = CreateBackend(bad, {});
    ASSERT_FALSE(b.ok()) << bad;
    const std::string msg = b.status().ToString();
    EXPECT_NE(msg.find("devices: 0: " + name), std::string::npos) << msg;
  }
}

// Embedding of every weight type: the shaders' dequantization must equal the CPU's bit for bit.
TEST(VulkanBackendTest, DequantizationIsExactForEveryType) {
  for (DType type : kAllTypes) {
    const int64_t width = 512, vocab = 23;
    MapWeights w;
    w.Add("table", type, width, vocab, 2.f, 7);
    auto make = [&](int64_t max_tokens) {
      Graph g;
      g.max_tokens = max_tokens;
      g.n_vocab = vocab;
      const int tok = g.Add({.op = OpKind::kTokens, .width = 1});
      g.output = g.Add({.op = OpKind::kEmbedding,
                        .inputs = {tok, -1, -1},
                        .width = width,
                        .weight = "table",
                        .label = "embd",
                        .scale = 1.f});
      return g;
    };
    std::vector<int32_t> all(vocab);
    for (int i = 0; i < vocab; ++i) all[i] = i;
    ExpectMatchesCpu(make, w, {{all, 0}, {{5}, 23}}, 64, vocab, 0, 0, std::string(DTypeName(type)));
  }
}

// MatMul over every weight type and odd shapes: decode (GEMV: one row) and prefill (GEMM: partial
// and several 32-row tiles, outputs not a multiple of the 64-wide tile).
TEST(VulkanBackendTest, MatMulMatchesCpuOnOddShapes) {
  for (DType type : kAllTypes) {
    const bool k_quant = type == DType::kQ4_K || type == DType::kQ5_K || type == DType::kQ6_K;
    const bool plain = type == DType::kF32 || type == DType::kF16 || type == DType::kBF16;
    const int64_t k = k_quant ? 512 : plain ? 77 : 96, n = 67, vocab = 50;
    MapWeights w;
    w.Add("x", DType::kF32, k, vocab, 1.f, 3);
    w.Add("w", type, k, n, 1.f / std::sqrt(static_cast<float>(k)), 5);
    auto make = [&](int64_t max_tokens) {
      Graph g;
      g.max_tokens = max_tokens;
      g.n_vocab = vocab;
      const int tok = g.Add({.op = OpKind::kTokens, .width = 1});
      const int x = g.Add({.op = OpKind::kEmbedding, .inputs = {tok, -1, -1}, .width = k, .weight = "x"});
      g.output = g.Add({.op = OpKind::kMatMul, .inputs = {x, -1, -1}, .width = n, .weight = "w", .label = "mm"});
      return g;
    };
    ExpectMatchesCpu(make, w, {{Ids(40, vocab, 1), 0}, {Ids(7, vocab, 2), 40}, {{3}, 47}, {{9}, 48}}, 64, 40, 1e-5,
                     1e-5, fmt::format("matmul {} [{}, {}]", DTypeName(type), k, n));
  }
}

// A prefill output larger than one storage-buffer binding is computed in blocks of rows (with the
// binding limit lowered to 200000 bytes: 200 rows of 600 outputs in blocks of 64), and a weight
// larger than one binding (307200 bytes) in parts.
TEST(VulkanBackendTest, OutputsAndWeightsLargerThanOneBindingMatchCpu) {
  const int64_t k = 128, n = 600, vocab = 40;
  MapWeights w;
  w.Add("x", DType::kF32, k, vocab, 1.f, 3);
  w.Add("w", DType::kF32, k, n, 0.1f, 5);
  auto make = [&](int64_t max_tokens) {
    Graph g;
    g.max_tokens = max_tokens;
    g.n_vocab = vocab;
    const int tok = g.Add({.op = OpKind::kTokens, .width = 1});
    const int x = g.Add({.op = OpKind::kEmbedding, .inputs = {tok, -1, -1}, .width = k, .weight = "x"});
    g.output = g.Add({.op = OpKind::kMatMul, .inputs = {x, -1, -1}, .width = n, .weight = "w", .label = "logits"});
    return g;
  };
  setenv("TLMBENCH_VULKAN_MAX_BUFFER", "200000", 1);
  ExpectMatchesCpu(make, w, {{Ids(200, vocab, 1), 0}, {Ids(70, vocab, 2), 200}, {{3}, 270}}, 512, 200, 1e-5, 1e-5,
                   "row blocks");
  unsetenv("TLMBENCH_VULKAN_MAX_BUFFER");
}

// RmsNorm (with and without weight), RoPE (normal and neox, partial rotation, positions past
// 3000), Add, the gates and TakeLastRow, over widths that fit no workgroup evenly.
TEST(VulkanBackendTest, NormRopeGatesAndLastRowMatchCpu) {
  for (RopeMode mode : {RopeMode::kNormal, RopeMode::kNeox}) {
    const int64_t hd = 36, heads = 3, width = hd * heads, vocab = 31;
    MapWeights w;
    w.Add("a", DType::kF32, width, vocab, 3.f, 11);
    w.Add("b", DType::kF32, width, vocab, 2.f, 12);
    w.Add("norm", DType::kF32, hd, 0, 1.5f, 13);
    auto make = [&](int64_t max_tokens) {
      Graph g;
      g.max_tokens = max_tokens;
      g.n_vocab = vocab;
      const int tok = g.Add({.op = OpKind::kTokens, .width = 1});
      const int a = g.Add({.op = OpKind::kEmbedding, .inputs = {tok, -1, -1}, .width = width, .weight = "a"});
      const int b =
          g.Add({.op = OpKind::kEmbedding, .inputs = {tok, -1, -1}, .width = width, .weight = "b", .scale = 0.5f});
      const int n1 = g.Add({.op = OpKind::kRmsNorm,
                            .inputs = {a, -1, -1},
                            .width = width,
                            .weight = "norm",
                            .norm = {.eps = 1e-6f, .group = hd}});
      const int n2 = g.Add(
          {.op = OpKind::kRmsNorm, .inputs = {b, -1, -1}, .width = width, .norm = {.eps = 1e-5f, .group = width}});
      const int r =
          g.Add({.op = OpKind::kRope,
                 .inputs = {n1, -1, -1},
                 .width = width,
                 .rope = {.head_dim = hd, .n_rot = 24, .freq_base = 10000.f, .freq_scale = 0.5f, .mode = mode}});
      const int s = g.Add({.op = OpKind::kAdd, .inputs = {r, n2, -1}, .width = width});
      const int ge = g.Add({.op = OpKind::kGeluTanhGate, .inputs = {s, b, -1}, .width = width});
      const int si = g.Add({.op = OpKind::kSiluGate, .inputs = {ge, a, -1}, .width = width});
      const int both = g.Add({.op = OpKind::kAdd, .inputs = {si, s, -1}, .width = width});
      g.output = g.Add({.op = OpKind::kTakeLastRow, .inputs = {both, -1, -1}, .width = width});
      return g;
    };
    std::vector<StepSpec> steps = {{Ids(9, vocab, 4), 0}, {Ids(3, vocab, 5), 3100}, {{7}, 3200}};
    ExpectMatchesCpu(make, w, steps, 4096, 9, 1e-5, 1e-5, mode == RopeMode::kNeox ? "neox" : "normal");
    // All rows as output too (no TakeLastRow).
    auto all_rows = [&](int64_t max_tokens) {
      Graph g = make(max_tokens);
      g.nodes.pop_back();
      g.output = static_cast<int>(g.nodes.size()) - 1;
      return g;
    };
    ExpectMatchesCpu(all_rows, w, steps, 4096, 9, 1e-5, 1e-5, "all rows");
  }
}

// Attention: GQA, full and sliding-window layers in one KV cache (the window's ring buffer wraps),
// prefill and decode executables sharing it, a head_dim that fills no workgroup evenly.
TEST(VulkanBackendTest, AttentionMatchesCpuWithGqaWindowsAndSharedKvCache) {
  const int64_t hd = 40, n_head = 4, n_kv = 2, vocab = 29;
  MapWeights w;
  w.Add("q", DType::kF32, n_head * hd, vocab, 1.f, 21);
  w.Add("k", DType::kF32, n_kv * hd, vocab, 1.f, 22);
  w.Add("v", DType::kF32, n_kv * hd, vocab, 1.f, 23);
  auto make = [&](int64_t max_tokens) {
    Graph g;
    g.max_tokens = max_tokens;
    g.n_vocab = vocab;
    const int tok = g.Add({.op = OpKind::kTokens, .width = 1});
    const int q = g.Add({.op = OpKind::kEmbedding, .inputs = {tok, -1, -1}, .width = n_head * hd, .weight = "q"});
    const int k = g.Add({.op = OpKind::kEmbedding, .inputs = {tok, -1, -1}, .width = n_kv * hd, .weight = "k"});
    const int v = g.Add({.op = OpKind::kEmbedding, .inputs = {tok, -1, -1}, .width = n_kv * hd, .weight = "v"});
    const int a0 =
        g.Add({.op = OpKind::kAttention,
               .inputs = {q, k, v},
               .width = n_head * hd,
               .label = "global",
               .attention = {.layer = 0, .n_head = n_head, .n_kv_head = n_kv, .head_dim = hd, .scale = 0.3f}});
    const int a1 = g.Add(
        {.op = OpKind::kAttention,
         .inputs = {a0, k, v},
         .width = n_head * hd,
         .label = "local",
         .attention = {.layer = 1, .n_head = n_head, .n_kv_head = n_kv, .head_dim = hd, .scale = 0.2f, .window = 5}});
    g.output = g.Add({.op = OpKind::kAdd, .inputs = {a0, a1, -1}, .width = n_head * hd});
    return g;
  };
  std::vector<StepSpec> steps = {{Ids(7, vocab, 8), 0}};
  int64_t pos = 7;
  for (int i = 0; i < 6; ++i, ++pos) steps.push_back({{static_cast<int32_t>(i * 3 % vocab)}, pos});
  steps.push_back({Ids(8, vocab, 9), pos});
  pos += 8;
  steps.push_back({Ids(3, vocab, 10), pos});
  pos += 3;
  for (int i = 0; i < 3; ++i, ++pos) steps.push_back({{static_cast<int32_t>(i + 1)}, pos});
  ExpectMatchesCpu(make, w, steps, 200, 8, 1e-5, 1e-5, "attention");
}

// Synthetic models end to end through Session: prefill in chunks (all logits) then decode.
struct ModelCase {
  std::string arch;
  DType type;
  bool tie;
};
class VulkanModelTest : public ::testing::TestWithParam<ModelCase> {};

TEST_P(VulkanModelTest, PrefillAndDecodeLogitsMatchCpu) {
  const ModelCase& c = GetParam();
  SyntheticModelSpec spec;
  spec.arch = c.arch;
  spec.layers = c.arch == "gemma3" ? 6 : 2;
  spec.embd = 256;
  spec.ff = 512;
  spec.heads = 4;
  spec.kv_heads = 2;
  spec.head_dim = 64;
  spec.vocab = 600;
  spec.type = c.type;
  spec.seed = 11;
  spec.context_length = 256;
  spec.sliding_window = 5;
  spec.tie_embeddings = c.tie;
  const std::string path = TempDir("models") + fmt::format("/{}-{}-{}.gguf", c.arch, DTypeName(c.type), c.tie);
  ASSERT_TRUE(WriteSyntheticModel(spec, path).ok());
  auto model = Model::Load(path);
  ASSERT_TRUE(model.ok()) << model.status().ToString();
  const auto tokens = Ids(20, spec.vocab, 3);
  auto run = [&](const std::string& backend, std::vector<float>* prefill, std::vector<float>* decode) {
    auto s = Session::Create(**model, {.backend = backend, .threads = 2, .n_ctx = 64, .prefill_chunk = 8});
    ASSERT_TRUE(s.ok()) << s.status().ToString();
    ASSERT_TRUE((*s)->Prefill(std::span<const int32_t>(tokens).first(16), prefill, true).ok());
    std::vector<float> step;
    for (size_t i = 16; i < tokens.size(); ++i) {
      ASSERT_TRUE((*s)->Decode(tokens[i], &step).ok());
      decode->insert(decode->end(), step.begin(), step.end());
    }
  };
  std::vector<float> ref_prefill, ref_decode, got_prefill, got_decode;
  run("cpu", &ref_prefill, &ref_decode);
  run("vulkan", &got_prefill, &got_decode);
  // Same f32 arithmetic on the same dequantized weights; only summation order differs.
  double max_abs = 0;
  EXPECT_EQ(Mismatches(got_prefill, ref_prefill, 1e-4, 1e-4, &max_abs), 0) << "prefill max |diff| " << max_abs;
  EXPECT_EQ(Mismatches(got_decode, ref_decode, 1e-4, 1e-4, &max_abs), 0) << "decode max |diff| " << max_abs;
}

INSTANTIATE_TEST_SUITE_P(
    Models, VulkanModelTest,
    ::testing::Values(ModelCase{"gemma3", DType::kF32, true}, ModelCase{"gemma3", DType::kQ4_K, true},
                      ModelCase{"gemma3", DType::kQ6_K, true}, ModelCase{"llama", DType::kQ4_1, false},
                      ModelCase{"llama", DType::kQ5_0, true}),
    [](const auto& info) {
      return info.param.arch + "_" + std::string(DTypeName(info.param.type)) + (info.param.tie ? "_tied" : "_untied");
    });

// The same model through the shared-memory-only reductions and staging uploads (the paths a device
// without subgroup arithmetic, or with memory the host cannot map, takes), and with weights split
// into many buffers (as Gemma's embedding table is on lavapipe, whose storage buffers hold 128 MiB).
TEST(VulkanBackendTest, FallbackPathsAndSplitWeightsMatchCpu) {
  SyntheticModelSpec spec;
  spec.layers = 2;
  spec.type = DType::kQ8_0;
  spec.vocab = 300;
  const std::string path = TempDir("models") + "/fallback.gguf";
  ASSERT_TRUE(WriteSyntheticModel(spec, path).ok());
  auto model = Model::Load(path);
  ASSERT_TRUE(model.ok());
  const auto tokens = Ids(12, spec.vocab, 4);
  auto logits = [&](const std::string& backend) {
    std::vector<float> out, step;
    auto s = Session::Create(**model, {.backend = backend, .threads = 2, .n_ctx = 32, .prefill_chunk = 8});
    EXPECT_TRUE(s.ok()) << s.status().ToString();
    if (s.ok()) {
      EXPECT_TRUE((*s)->Prefill(tokens, &out, true).ok());
      EXPECT_TRUE((*s)->Decode(7, &step).ok());
      out.insert(out.end(), step.begin(), step.end());
    }
    return out;
  };
  const auto ref = logits("cpu");
  struct Config {
    std::vector<std::pair<const char*, const char*>> env;
    std::string expect_in_description;
  };
  const Config configs[] = {
      {{{"TLMBENCH_VULKAN_NO_SUBGROUPS", "1"}, {"TLMBENCH_VULKAN_FORCE_STAGING", "1"}}, "without arithmetic ops"},
      {{{"TLMBENCH_VULKAN_MAX_BUFFER", "20000"}}, "with arithmetic ops"},
      {{{"TLMBENCH_VULKAN_MAX_BUFFER", "20000"}, {"TLMBENCH_VULKAN_NO_SUBGROUPS", "1"}}, "without arithmetic ops"},
  };
  for (const Config& c : configs) {
    for (const auto& [k, v] : c.env) setenv(k, v, 1);
    auto b = MakeBackend("vulkan");
    ASSERT_NE(b, nullptr);
    EXPECT_NE(b->device_description().find(c.expect_in_description), std::string::npos) << b->device_description();
    const auto got = logits("vulkan");
    for (const auto& [k, v] : c.env) unsetenv(k);
    double max_abs = 0;
    EXPECT_EQ(Mismatches(got, ref, 1e-4, 1e-4, &max_abs), 0) << c.env.front().first << ": max |diff| " << max_abs;
  }
}

// The pipeline cache: cold (no file), then warm from the file, and a corrupt file is ignored.
TEST(VulkanBackendTest, PipelineCacheGoesColdToWarmAndSurvivesCorruption) {
  const std::string previous = std::getenv("TLMBENCH_CACHE_DIR");
  const std::string dir = ProcessCacheDir("pipeline-cache");
  setenv("TLMBENCH_CACHE_DIR", dir.c_str(), 1);
  SyntheticModelSpec spec;
  spec.layers = 1;
  spec.vocab = 300;
  const std::string path = TempDir("models") + "/cache.gguf";
  ASSERT_TRUE(WriteSyntheticModel(spec, path).ok());
  auto model = Model::Load(path);
  ASSERT_TRUE(model.ok());
  auto open = [&]() {
    auto s = Session::Create(**model, {.backend = "vulkan", .n_ctx = 32, .prefill_chunk = 8});
    EXPECT_TRUE(s.ok()) << s.status().ToString();
    return s.ok() ? std::move(s).value() : nullptr;
  };
  BackendLoadInfo cold, warm, corrupt;
  {
    auto s = open();
    ASSERT_NE(s, nullptr);
    cold = s->backend().load_info();
  }
  {
    auto s = open();
    ASSERT_NE(s, nullptr);
    warm = s->backend().load_info();
  }
  EXPECT_TRUE(cold.has_cache);
  EXPECT_FALSE(cold.cache_warm);
  EXPECT_TRUE(warm.cache_warm) << warm.cache_path;
  EXPECT_EQ(fs::path(cold.cache_path).parent_path().string(), dir + "/vulkan");
  ASSERT_TRUE(fs::exists(cold.cache_path));
  // Flip bytes in the middle of the file: it is ignored (cold again), and rewritten valid.
  {
    std::fstream f(cold.cache_path, std::ios::in | std::ios::out | std::ios::binary);
    f.seekp(static_cast<std::streamoff>(fs::file_size(cold.cache_path) / 2));
    f.write("garbage!", 8);
  }
  {
    auto s = open();
    ASSERT_NE(s, nullptr);
    corrupt = s->backend().load_info();
    std::vector<float> logits;
    EXPECT_TRUE(s->Prefill(std::vector<int32_t>{1, 2, 3}, &logits).ok());
  }
  EXPECT_FALSE(corrupt.cache_warm);
  {
    auto s = open();
    ASSERT_NE(s, nullptr);
    EXPECT_TRUE(s->backend().load_info().cache_warm);
  }
  // A truncated file too.
  fs::resize_file(cold.cache_path, 10);
  {
    auto s = open();
    ASSERT_NE(s, nullptr);
    EXPECT_FALSE(s->backend().load_info().cache_warm);
  }
  setenv("TLMBENCH_CACHE_DIR", previous.c_str(), 1);
  std::error_code ec;
  fs::remove_all(dir, ec);
}

TEST(VulkanBackendTest, ClearErrors) {
  auto vk = MakeBackend("vulkan");
  ASSERT_NE(vk, nullptr);
  // An unsupported weight type names the tensor and the type.
  MapWeights w;
  w.Add("x", DType::kF32, 256, 10, 1.f, 1);
  w.Add("blk.0.weird", DType::kQ2_K, 256, 16, 1.f, 2);
  Graph g;
  g.n_vocab = 10;
  const int tok = g.Add({.op = OpKind::kTokens, .width = 1});
  const int x = g.Add({.op = OpKind::kEmbedding, .inputs = {tok, -1, -1}, .width = 256, .weight = "x"});
  g.output = g.Add({.op = OpKind::kMatMul, .inputs = {x, -1, -1}, .width = 16, .weight = "blk.0.weird", .label = "mm"});
  auto exe = vk->Compile(g, w);
  ASSERT_FALSE(exe.ok());
  EXPECT_NE(exe.status().ToString().find("'blk.0.weird' has type q2_k"), std::string::npos) << exe.status().ToString();
  // A missing weight.
  g.nodes.back().weight = "nope";
  exe = vk->Compile(g, w);
  ASSERT_FALSE(exe.ok());
  EXPECT_NE(exe.status().ToString().find("'nope' not in the model"), std::string::npos) << exe.status().ToString();
  // A KV cache of another backend, token ids outside the vocabulary, too many tokens.
  g.nodes.pop_back();
  g.output = x;
  auto ok = vk->Compile(g, w);
  ASSERT_TRUE(ok.ok()) << ok.status().ToString();
  auto cpu = MakeBackend("cpu");
  auto cpu_kv = cpu->CreateKvCache(KvSpecFor(g, 8));
  auto kv = vk->CreateKvCache(KvSpecFor(g, 8));
  ASSERT_TRUE(kv.ok());
  std::vector<float> out(256);
  std::vector<int32_t> one = {3}, bad = {12}, two = {1, 2};
  EXPECT_NE((*ok)->Run({.tokens = one}, **cpu_kv, out).ToString().find("not created by the vulkan backend"),
            std::string::npos);
  EXPECT_NE((*ok)->Run({.tokens = bad}, **kv, out).ToString().find("outside the vocabulary"), std::string::npos);
  EXPECT_NE((*ok)->Run({.tokens = two}, **kv, out).ToString().find("takes 1..1"), std::string::npos);
  std::vector<float> small(10);
  EXPECT_NE((*ok)->Run({.tokens = one}, **kv, small).ToString().find("logits buffer"), std::string::npos);
  EXPECT_TRUE((*ok)->Run({.tokens = one}, **kv, out).ok());
}

}  // namespace
}  // namespace tlm
