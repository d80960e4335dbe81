// The opencl backend (on whatever OpenCL device is installed: PoCL here and in CI) against the
// cpu backend: single-op graphs for every weight type (GEMV and tiled GEMM, odd shapes), whole
// synthetic models (prefill chunks, decode, sliding windows, GQA, tied and untied output), device
// selection by index and name, the program-binary cache going cold -> warm and surviving a corrupt
// entry, and clear errors. The program cache of these tests lives in the build tree, so only the
// first run (and the cold-cache test) compiles.
#include <gtest/gtest.h>

#include <algorithm>
#include <array>
#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <functional>
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

const std::string kCacheRoot = std::string(TLM_BINARY_DIR) + "/test-cache/opencl-backend";

class CacheEnvironment : public ::testing::Environment {
 public:
  void SetUp() override { setenv("TLMBENCH_CACHE_DIR", kCacheRoot.c_str(), 1); }
};
const auto* const kEnv = ::testing::AddGlobalTestEnvironment(new CacheEnvironment);

std::string TempPath(const std::string& name) {
  fs::path dir = fs::temp_directory_path() / "tlmbench-opencl-test";
  fs::create_directories(dir);
  return (dir / name).string();
}

std::unique_ptr<Backend> MakeBackend(const std::string& spec) {
  auto b = CreateBackend(spec, {});
  EXPECT_TRUE(b.ok()) << b.status().ToString()
                      << "\n*** The opencl backend needs an OpenCL device: scripts/setup installs pocl-opencl-icd.";
  return b.ok() ? std::move(b).value() : nullptr;
}

using testing::Mismatches;

// Weights held by the test.
class TestWeights final : public WeightSource {
 public:
  const WeightView* Find(std::string_view name) const override {
    auto it = views_.find(std::string(name));
    return it == views_.end() ? nullptr : &it->second;
  }
  void Add(const std::string& name, DType type, std::vector<int64_t> dims, std::vector<uint8_t> bytes) {
    data_[name] = std::move(bytes);
    views_[name] = WeightView{name, type, std::move(dims), data_[name].data(), data_[name].size()};
  }
  // Random normal values quantized to `type`: rows of k.
  void AddRandom(const std::string& name, DType type, int64_t k, int64_t rows, uint32_t seed, float stddev = 1.f) {
    std::mt19937 rng(seed);
    std::normal_distribution<float> dist(0.f, stddev);
    std::vector<float> values(static_cast<size_t>(k * rows));
    for (float& v : values) v = dist(rng);
    uint64_t row_bytes = 0;
    ASSERT_TRUE(ElemsToBytes(type, static_cast<uint64_t>(k), &row_bytes));
    std::vector<uint8_t> bytes(row_bytes * rows);
    for (int64_t r = 0; r < rows; ++r)
      ASSERT_TRUE(cpu::ref::QuantizeRow(type, values.data() + r * k, bytes.data() + r * row_bytes, k).ok());
    Add(name, type, {k, rows}, std::move(bytes));
  }

 private:
  std::map<std::string, std::vector<uint8_t>> data_;
  std::map<std::string, WeightView> views_;
};

// A node with its inputs, width, weight and label; `set` fills op-specific parameters.
Node MakeNode(OpKind op, std::array<int, 3> inputs, int64_t width, std::string weight, std::string label,
              const std::function<void(Node&)>& set = {}) {
  Node n;
  n.op = op;
  for (int i = 0; i < 3; ++i) n.inputs[i] = inputs[i];
  n.width = width;
  n.weight = std::move(weight);
  n.label = std::move(label);
  if (set) set(n);
  return n;
}

std::vector<int32_t> RandomTokens(int n, int vocab, uint32_t seed) {
  std::mt19937 rng(seed);
  std::uniform_int_distribution<int32_t> dist(0, vocab - 1);
  std::vector<int32_t> t(n);
  for (auto& x : t) x = dist(rng);
  return t;
}

// Runs `graph` on a backend for each step (tokens, pos0) against one KV cache; returns all outputs.
std::vector<float> RunSteps(Backend& backend, const Graph& graph, const WeightSource& weights,
                            const std::vector<std::pair<std::vector<int32_t>, int64_t>>& steps, int64_t n_ctx,
                            int64_t out_width, bool last_row_only = false) {
  auto exe = backend.Compile(graph, weights);
  EXPECT_TRUE(exe.ok()) << backend.name() << ": " << exe.status().ToString();
  if (!exe.ok()) return {};
  auto kv = backend.CreateKvCache(KvSpecFor(graph, n_ctx));
  EXPECT_TRUE(kv.ok()) << kv.status().ToString();
  if (!kv.ok()) return {};
  std::vector<float> all;
  for (const auto& [tokens, pos0] : steps) {
    std::vector<float> out((last_row_only ? 1 : tokens.size()) * out_width, NAN);
    Status s = (*exe)->Run({.tokens = tokens, .pos0 = pos0}, **kv, out);
    EXPECT_TRUE(s.ok()) << backend.name() << ": " << s.ToString();
    all.insert(all.end(), out.begin(), out.end());
  }
  return all;
}

TEST(OpenClBackendTest, IsRegisteredAvailableAndDescribed) {
  const BackendRegistration* reg = nullptr;
  for (const BackendRegistration* r : RegisteredBackends())
    if (r->name == "opencl") reg = r;
  ASSERT_NE(reg, nullptr);
  Status probe = reg->probe();
  ASSERT_TRUE(probe.ok()) << probe.ToString() << "\n*** install pocl-opencl-icd (scripts/setup)";
  auto b = MakeBackend("opencl");
  ASSERT_NE(b, nullptr);
  EXPECT_EQ(b->name(), "opencl");
  const std::string d = b->device_description();
  for (const char* part : {"opencl:0", "driver", "compute units", "KiB local memory", "gemm tile"})
    EXPECT_NE(d.find(part), std::string::npos) << part << " not in: " << d;
  const BackendLoadInfo info = b->load_info();
  EXPECT_TRUE(info.has_cache);
  EXPECT_TRUE(fs::exists(info.cache_path)) << info.cache_path;
  EXPECT_EQ(info.cache_path.rfind(kCacheRoot + "/opencl/", 0), 0u) << info.cache_path;
}

TEST(OpenClBackendTest, SelectsDevicesByIndexAndName) {
  auto first = MakeBackend("opencl:0");
  ASSERT_NE(first, nullptr);
  // The device name from the description: "opencl:0 <name> on <platform> (...".
  const std::string d = first->device_description();
  const size_t begin = d.find(' ') + 1;
  const std::string name = d.substr(begin, d.find(" on ") - begin);
  ASSERT_GE(name.size(), 4u) << d;
  std::string upper = name.substr(0, 4);  // a case-insensitive prefix
  for (char& c : upper) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  auto by_name = MakeBackend("opencl:" + upper);
  ASSERT_NE(by_name, nullptr);
  EXPECT_NE(by_name->device_description().find(name), std::string::npos);

  auto bad_index = CreateBackend("opencl:57", {});
  ASSERT_FALSE(bad_index.ok());
  EXPECT_NE(bad_index.status().message().find("index 57 is out of range"), std::string::npos)
      << bad_index.status().ToString();
  EXPECT_NE(bad_index.status().message().find(name), std::string::npos) << "lists the devices";
  auto bad_name = CreateBackend("opencl:no-such-gpu", {});
  ASSERT_FALSE(bad_name.ok());
  EXPECT_NE(bad_name.status().message().find("no opencl device matches 'no-such-gpu'"), std::string::npos)
      << bad_name.status().ToString();
}

TEST(OpenClBackendTest, ProgramCacheGoesColdToWarmAndSurvivesCorruption) {
  const std::string root = TempPath("cache-" + std::to_string(::getpid()));
  fs::remove_all(root);
  setenv("TLMBENCH_CACHE_DIR", root.c_str(), 1);
  auto cold = MakeBackend("opencl");
  ASSERT_NE(cold, nullptr);
  EXPECT_FALSE(cold->load_info().cache_warm);
  const std::string entry = cold->load_info().cache_path;
  EXPECT_EQ(entry.rfind(root + "/opencl/", 0), 0u) << entry;
  ASSERT_TRUE(fs::exists(entry));
  auto warm = MakeBackend("opencl");
  ASSERT_NE(warm, nullptr);
  EXPECT_TRUE(warm->load_info().cache_warm);
  EXPECT_EQ(warm->load_info().cache_path, entry);
  // Flip bytes in the middle of the entry: ignored (checksum), rebuilt, rewritten.
  {
    std::fstream f(entry, std::ios::in | std::ios::out | std::ios::binary);
    f.seekp(static_cast<std::streamoff>(fs::file_size(entry) / 2));
    f.write("garbage!", 8);
  }
  auto rebuilt = MakeBackend("opencl");
  ASSERT_NE(rebuilt, nullptr);
  EXPECT_FALSE(rebuilt->load_info().cache_warm);
  auto warm_again = MakeBackend("opencl");
  ASSERT_NE(warm_again, nullptr);
  EXPECT_TRUE(warm_again->load_info().cache_warm);
  setenv("TLMBENCH_CACHE_DIR", kCacheRoot.c_str(), 1);
  fs::remove_all(root);
}

// One matmul per weight type, through GEMV (1 row) and the tiled GEMM (odd row counts), with an
// output width that leaves a partial tile.
class OpenClMatMulTest : public ::testing::TestWithParam<DType> {};

TEST_P(OpenClMatMulTest, MatchesCpu) {
  const DType type = GetParam();
  const bool k_quant = Info(type).block_elems == 256;
  const int64_t k = k_quant ? 512 : 96, n = 37, vocab = 50;
  TestWeights w;
  w.AddRandom("embd", DType::kF32, k, vocab, 1);
  w.AddRandom("w", type, k, n, 2, 0.1f);
  Graph g;
  g.n_vocab = vocab;
  g.max_tokens = 19;
  const int tok = g.Add(MakeNode(OpKind::kTokens, {-1, -1, -1}, 1, "", "tokens"));
  const int x = g.Add(MakeNode(OpKind::kEmbedding, {tok, -1, -1}, k, "embd", "embd"));
  g.output = g.Add(MakeNode(OpKind::kMatMul, {x, -1, -1}, n, "w", "mm"));
  const std::vector<std::pair<std::vector<int32_t>, int64_t>> steps = {
      {RandomTokens(1, vocab, 3), 0}, {RandomTokens(19, vocab, 4), 1}, {RandomTokens(5, vocab, 5), 20}};
  auto cpu = MakeBackend("cpu");
  auto cl = MakeBackend("opencl");
  ASSERT_TRUE(cpu && cl);
  const auto ref = RunSteps(*cpu, g, w, steps, 64, n);
  const auto got = RunSteps(*cl, g, w, steps, 64, n);
  double max_abs = 0;
  EXPECT_EQ(Mismatches(got, ref, 1e-4f, 1e-4f, &max_abs), 0) << DTypeName(type) << " max |diff| " << max_abs;
}

INSTANTIATE_TEST_SUITE_P(Types, OpenClMatMulTest,
                         ::testing::Values(DType::kF32, DType::kF16, DType::kBF16, DType::kQ4_0, DType::kQ4_1,
                                           DType::kQ5_0, DType::kQ5_1, DType::kQ8_0, DType::kQ2_K, DType::kQ3_K,
                                           DType::kQ4_K, DType::kQ5_K, DType::kQ6_K),
                         [](const auto& info) { return std::string(DTypeName(info.param)); });

// Quantized embedding tables (gemma's token_embd), RMS norm with and without weight, RoPE both
// modes, gates and add: Tokens -> Embedding -> ... -> output, against the cpu backend.
TEST(OpenClBackendTest, ElementwiseNormRopeAndEmbeddingMatchCpu) {
  const int64_t width = 256, vocab = 40;
  TestWeights w;
  w.AddRandom("e8", DType::kQ8_0, width, vocab, 7);
  w.AddRandom("e4", DType::kQ4_K, width, vocab, 8);
  w.AddRandom("e6", DType::kQ6_K, width, vocab, 9);
  w.AddRandom("norm", DType::kF32, 64, 1, 10);
  w.Add("norm", DType::kF32, {64},
        std::vector<uint8_t>(reinterpret_cast<const uint8_t*>(w.Find("norm")->data),
                             reinterpret_cast<const uint8_t*>(w.Find("norm")->data) + 256));
  for (RopeMode mode : {RopeMode::kNormal, RopeMode::kNeox}) {
    Graph g;
    g.n_vocab = vocab;
    g.max_tokens = 7;
    const int tok = g.Add(MakeNode(OpKind::kTokens, {-1, -1, -1}, 1, "", "tokens"));
    const int a =
        g.Add(MakeNode(OpKind::kEmbedding, {tok, -1, -1}, width, "e8", "a", [&](Node& n) { n.scale = 1.5f; }));
    const int b = g.Add(MakeNode(OpKind::kEmbedding, {tok, -1, -1}, width, "e4", "b"));
    const int c = g.Add(MakeNode(OpKind::kEmbedding, {tok, -1, -1}, width, "e6", "c"));
    const int n1 = g.Add(MakeNode(OpKind::kRmsNorm, {a, -1, -1}, width, "norm", "n1",
                                  [&](Node& n) { n.norm = {.eps = 1e-6f, .group = 64}; }));
    const int n2 = g.Add(MakeNode(OpKind::kRmsNorm, {b, -1, -1}, width, "", "n2",
                                  [&](Node& n) { n.norm = {.eps = 1e-5f, .group = width}; }));
    const int r = g.Add(MakeNode(OpKind::kRope, {n1, -1, -1}, width, "", "rope", [&](Node& n) {
      n.rope = {.head_dim = 64, .n_rot = 48, .freq_base = 10000.f, .freq_scale = 0.5f, .mode = mode};
    }));
    const int ge = g.Add(MakeNode(OpKind::kGeluTanhGate, {r, n2, -1}, width, "", "gelu"));
    const int si = g.Add(MakeNode(OpKind::kSiluGate, {c, ge, -1}, width, "", "silu"));
    g.output = g.Add(MakeNode(OpKind::kAdd, {si, a, -1}, width, "", "add"));
    const std::vector<std::pair<std::vector<int32_t>, int64_t>> steps = {{RandomTokens(7, vocab, 1), 0},
                                                                         {RandomTokens(1, vocab, 2), 1234}};
    auto cpu = MakeBackend("cpu");
    auto cl = MakeBackend("opencl");
    ASSERT_TRUE(cpu && cl);
    const auto ref = RunSteps(*cpu, g, w, steps, 16, width);
    const auto got = RunSteps(*cl, g, w, steps, 16, width);
    double max_abs = 0;
    EXPECT_EQ(Mismatches(got, ref, 1e-5f, 1e-4f, &max_abs), 0)
        << "mode " << static_cast<int>(mode) << " max |diff| " << max_abs;
  }
}

// Tokens -> 3 embeddings -> Attention (GQA, optional sliding window) -> TakeLastRow, over prefill
// chunks and decode steps sharing one KV cache; windows shorter than a chunk wrap the ring.
TEST(OpenClBackendTest, AttentionMatchesCpu) {
  const int64_t hd = 40, n_head = 6, n_kv = 2, vocab = 30;
  TestWeights w;
  w.AddRandom("q", DType::kF32, n_head * hd, vocab, 1);
  w.AddRandom("k", DType::kF32, n_kv * hd, vocab, 2);
  w.AddRandom("v", DType::kF32, n_kv * hd, vocab, 3);
  for (int64_t window : {0, 3, 11}) {
    for (bool last : {false, true}) {
      Graph g;
      g.n_vocab = vocab;
      g.max_tokens = 9;
      const int tok = g.Add(MakeNode(OpKind::kTokens, {-1, -1, -1}, 1, "", "tokens"));
      const int q = g.Add(MakeNode(OpKind::kEmbedding, {tok, -1, -1}, n_head * hd, "q", "q"));
      const int k = g.Add(MakeNode(OpKind::kEmbedding, {tok, -1, -1}, n_kv * hd, "k", "k"));
      const int v = g.Add(MakeNode(OpKind::kEmbedding, {tok, -1, -1}, n_kv * hd, "v", "v"));
      int out = g.Add(MakeNode(OpKind::kAttention, {q, k, v}, n_head * hd, "", "attn", [&](Node& n) {
        n.attention = {
            .layer = 0, .n_head = n_head, .n_kv_head = n_kv, .head_dim = hd, .scale = 0.15f, .window = window};
      }));
      if (last) out = g.Add(MakeNode(OpKind::kTakeLastRow, {out, -1, -1}, n_head * hd, "", "last"));
      g.output = out;
      std::vector<std::pair<std::vector<int32_t>, int64_t>> steps = {{RandomTokens(9, vocab, 1), 0},
                                                                     {RandomTokens(4, vocab, 2), 9}};
      for (int i = 0; i < 6; ++i) steps.push_back({RandomTokens(1, vocab, 10 + i), 13 + i});
      std::vector<float> ref, got;
      auto cpu = MakeBackend("cpu");
      auto cl = MakeBackend("opencl");
      ASSERT_TRUE(cpu && cl);
      ref = RunSteps(*cpu, g, w, steps, 32, n_head * hd, last);
      got = RunSteps(*cl, g, w, steps, 32, n_head * hd, last);
      double max_abs = 0;
      EXPECT_EQ(Mismatches(got, ref, 1e-5f, 1e-4f, &max_abs), 0)
          << "window " << window << " last " << last << " max |diff| " << max_abs;
    }
  }
}

std::unique_ptr<Model> LoadSynthetic(const SyntheticModelSpec& spec, const std::string& name) {
  const std::string path = TempPath(name);
  Status s = WriteSyntheticModel(spec, path);
  EXPECT_TRUE(s.ok()) << s.ToString();
  auto model = Model::Load(path);
  EXPECT_TRUE(model.ok()) << model.status().ToString();
  return model.ok() ? std::move(model).value() : nullptr;
}

struct ModelCase {
  std::string arch;
  DType type;
  bool tie;
  int embd = 256, ff = 512, heads = 4, kv_heads = 2, head_dim = 64;
};

class OpenClModelTest : public ::testing::TestWithParam<ModelCase> {};

TEST_P(OpenClModelTest, PrefillAndDecodeLogitsMatchCpu) {
  const ModelCase& c = GetParam();
  SyntheticModelSpec spec;
  spec.arch = c.arch;
  spec.layers = c.arch == "gemma3" ? 6 : 2;
  spec.embd = c.embd;
  spec.ff = c.ff;
  spec.heads = c.heads;
  spec.kv_heads = c.kv_heads;
  spec.head_dim = c.head_dim;
  spec.vocab = std::max(600, MinSyntheticVocab(c.arch));
  spec.type = c.type;
  spec.seed = 11;
  spec.context_length = 256;
  spec.sliding_window = 5;
  spec.tie_embeddings = c.tie;
  auto model = LoadSynthetic(spec, fmt::format("{}-{}-{}-{}.gguf", c.arch, DTypeName(c.type), c.tie, c.embd));
  ASSERT_NE(model, nullptr);
  const auto tokens = RandomTokens(20, spec.vocab, 3);
  const int64_t V = model->config().n_vocab;
  auto run = [&](const std::string& backend, std::vector<float>* prefill, std::vector<float>* decode) {
    SessionOptions options;
    options.backend = backend;
    options.threads = 2;
    options.n_ctx = 64;
    options.prefill_chunk = 8;
    auto s = Session::Create(*model, options);
    ASSERT_TRUE(s.ok()) << s.status().ToString();
    ASSERT_TRUE((*s)->Prefill(std::span<const int32_t>(tokens).first(16), prefill, true).ok());
    std::vector<float> step;
    for (size_t i = 16; i < tokens.size(); ++i) {
      ASSERT_TRUE((*s)->Decode(tokens[i], &step).ok());
      decode->insert(decode->end(), step.begin(), step.end());
    }
  };
  std::vector<float> ref_prefill, ref_decode, cl_prefill, cl_decode;
  run("cpu", &ref_prefill, &ref_decode);
  run("opencl", &cl_prefill, &cl_decode);
  ASSERT_EQ(ref_prefill.size(), static_cast<size_t>(16 * V));
  ASSERT_EQ(ref_decode.size(), static_cast<size_t>(4 * V));
  // The same f32 activations times the same dequantized weights; only summation order differs.
  constexpr float kAtol = 1e-3f, kRtol = 1e-3f;
  double max_abs = 0;
  EXPECT_EQ(Mismatches(cl_prefill, ref_prefill, kAtol, kRtol, &max_abs), 0) << "prefill max |diff| " << max_abs;
  EXPECT_EQ(Mismatches(cl_decode, ref_decode, kAtol, kRtol, &max_abs), 0) << "decode max |diff| " << max_abs;
}

INSTANTIATE_TEST_SUITE_P(
    Models, OpenClModelTest,
    ::testing::Values(ModelCase{"gemma3", DType::kF32, true}, ModelCase{"gemma3", DType::kQ4_K, true},
                      ModelCase{"gemma3", DType::kQ8_0, true}, ModelCase{"gemma3", DType::kQ5_0, true},
                      ModelCase{"llama", DType::kQ4_1, false}, ModelCase{"llama", DType::kQ6_K, true},
                      ModelCase{"llama", DType::kF16, true},
                      // Odd shapes: rows that are no multiple of 32 (f32), 3 query heads per KV head.
                      ModelCase{"gemma3", DType::kF32, true, 72, 100, 3, 1, 24}),
    [](const auto& info) {
      return info.param.arch + "_" + std::string(DTypeName(info.param.type)) + (info.param.tie ? "_tied" : "_untied") +
             "_" + std::to_string(info.param.embd);
    });

// A graph whose output is its token ids (as floats), as the cpu backend gives them.
TEST(OpenClBackendTest, TokensAsTheOutput) {
  Graph g;
  g.n_vocab = 10;
  g.max_tokens = 4;
  g.output = g.Add(MakeNode(OpKind::kTokens, {-1, -1, -1}, 1, "", "tokens"));
  TestWeights none;
  auto cl = MakeBackend("opencl");
  ASSERT_NE(cl, nullptr);
  const auto got = RunSteps(*cl, g, none, {{{3, 1, 4}, 0}, {{1}, 3}}, 8, 1);
  EXPECT_EQ(got, (std::vector<float>{3, 1, 4, 1}));
}

TEST(OpenClBackendTest, ClearErrors) {
  auto cl = MakeBackend("opencl");
  ASSERT_NE(cl, nullptr);
  // An unsupported weight type names the tensor and the type.
  TestWeights w;
  w.Add("embd", DType::kI8, {32, 4}, std::vector<uint8_t>(128));
  Graph g;
  g.n_vocab = 4;
  const int tok = g.Add(MakeNode(OpKind::kTokens, {-1, -1, -1}, 1, "", "tokens"));
  g.output = g.Add(MakeNode(OpKind::kEmbedding, {tok, -1, -1}, 32, "embd", "embd"));
  auto exe = cl->Compile(g, w);
  ASSERT_FALSE(exe.ok());
  EXPECT_NE(exe.status().message().find("weight 'embd' has type i8"), std::string::npos) << exe.status().ToString();
  // Token ids outside the vocabulary; a KV cache from another backend.
  TestWeights f;
  f.AddRandom("embd", DType::kF32, 32, 4, 1);
  auto ok = cl->Compile(g, f);
  ASSERT_TRUE(ok.ok()) << ok.status().ToString();
  auto kv = cl->CreateKvCache(KvSpecFor(g, 8));
  ASSERT_TRUE(kv.ok());
  std::vector<float> out(32);
  const std::vector<int32_t> bad = {9};
  Status s = (*ok)->Run({.tokens = bad, .pos0 = 0}, **kv, out);
  ASSERT_FALSE(s.ok());
  EXPECT_NE(s.message().find("outside the vocabulary"), std::string::npos) << s.ToString();
  auto cpu = MakeBackend("cpu");
  auto cpu_kv = cpu->CreateKvCache(KvSpecFor(g, 8));
  ASSERT_TRUE(cpu_kv.ok());
  const std::vector<int32_t> good = {1};
  s = (*ok)->Run({.tokens = good, .pos0 = 0}, **cpu_kv, out);
  ASSERT_FALSE(s.ok());
  EXPECT_NE(s.message().find("not created by this opencl backend"), std::string::npos) << s.ToString();
  std::vector<float> short_out(31);
  s = (*ok)->Run({.tokens = good, .pos0 = 0}, **kv, short_out);
  ASSERT_FALSE(s.ok());
  EXPECT_NE(s.message().find("logits buffer holds 31 floats"), std::string::npos) << s.ToString();
  s = (*ok)->Run({.tokens = good, .pos0 = 0}, **kv, out);
  EXPECT_TRUE(s.ok()) << s.ToString();
}

}  // namespace
}  // namespace tlm
