// Engine behaviour on synthetic models: load and validate, layer patterns, prefill against
// token-by-token decode (KV cache and sliding-window ring), chunking, and clear errors.
#include <gtest/gtest.h>

#include <chrono>
#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <random>
#include <string_view>

#include "engine/model/model.h"
#include "engine/model/synthetic.h"
#include "engine/session/session.h"

namespace tlm {
namespace {

namespace fs = std::filesystem;

std::string TempPath(const std::string& name) {
  fs::path dir = fs::temp_directory_path() / "tlmbench-engine-test";
  fs::create_directories(dir);
  return (dir / name).string();
}

SyntheticModelSpec SmallSpec(const std::string& arch, DType type) {
  SyntheticModelSpec s;
  s.arch = arch;
  s.layers = arch == "gemma3" ? 6 : 2;
  s.embd = 64;
  s.ff = 128;
  s.heads = 4;
  s.kv_heads = 2;
  s.head_dim = 32;
  s.vocab = 600;
  s.type = type;
  s.seed = 7;
  s.context_length = 256;
  s.sliding_window = 5;
  if (type == DType::kQ4_K || type == DType::kQ6_K) {  // K-quants need rows of 256
    s.embd = 256;
    s.ff = 256;
    s.head_dim = 64;
  }
  return s;
}

std::unique_ptr<Model> LoadSynthetic(const SyntheticModelSpec& spec, const std::string& name) {
  const std::string path = TempPath(name);
  Status s = WriteSyntheticModel(spec, path);
  EXPECT_TRUE(s.ok()) << s.ToString();
  auto model = Model::Load(path);
  EXPECT_TRUE(model.ok()) << model.status().ToString();
  return model.ok() ? std::move(model).value() : nullptr;
}

std::vector<int32_t> RandomTokens(int n, int vocab, uint32_t seed) {
  std::mt19937 rng(seed);
  std::uniform_int_distribution<int32_t> dist(0, vocab - 1);
  std::vector<int32_t> t(n);
  for (auto& x : t) x = dist(rng);
  return t;
}

float MaxAbsDiff(const float* a, const float* b, size_t n) {
  float m = 0;
  for (size_t i = 0; i < n; ++i) m = std::max(m, std::fabs(a[i] - b[i]));
  return m;
}

TEST(EngineTest, LoadsSyntheticModelsWithTheirConfig) {
  for (const char* arch : {"gemma3", "llama"}) {
    auto spec = SmallSpec(arch, DType::kF32);
    auto model = LoadSynthetic(spec, std::string(arch) + "-cfg.gguf");
    ASSERT_NE(model, nullptr);
    const ModelConfig& c = model->config();
    EXPECT_EQ(c.arch, arch);
    EXPECT_EQ(c.n_layer, spec.layers);
    EXPECT_EQ(c.n_embd, spec.embd);
    EXPECT_EQ(c.n_head, spec.heads);
    EXPECT_EQ(c.n_kv_head, spec.kv_heads);
    EXPECT_EQ(c.head_dim, spec.head_dim);
    EXPECT_EQ(c.n_vocab, spec.vocab);
    EXPECT_EQ(model->tokenizer().n_vocab(), spec.vocab);
  }
}

TEST(EngineTest, Gemma3HasFiveLocalLayersToOneGlobal) {
  auto spec = SmallSpec("gemma3", DType::kF32);
  spec.layers = 12;
  auto model = LoadSynthetic(spec, "gemma3-pattern.gguf");
  ASSERT_NE(model, nullptr);
  Graph g = model->arch().build_graph(model->config(), {.max_tokens = 1, .last_row_only = true});
  auto attn = g.AttentionNodes();
  ASSERT_EQ(attn.size(), 12u);
  for (int il = 0; il < 12; ++il) {
    const bool global = (il + 1) % 6 == 0;
    EXPECT_EQ(attn[il]->attention.window, global ? 0 : 5) << "layer " << il;
  }
  // Global layers keep the whole context; sliding ones only their window.
  KvSpec kv = KvSpecFor(g, 100);
  EXPECT_EQ(kv.layers[5].capacity, 100);
  EXPECT_EQ(kv.layers[0].capacity, 5);
}

struct Case {
  const char* arch;
  DType type;
};

class PrefillDecodeTest : public ::testing::TestWithParam<Case> {};

// The same tokens give the same logits whether prefilled at once (keys read from the step's own
// rows) or decoded one by one (keys read back from the KV cache, a ring for sliding layers).
TEST_P(PrefillDecodeTest, PrefillMatchesTokenByTokenDecode) {
  const Case c = GetParam();
  auto spec = SmallSpec(c.arch, c.type);
  auto model = LoadSynthetic(spec, fmt::format("{}-{}-pd.gguf", c.arch, DTypeName(c.type)));
  ASSERT_NE(model, nullptr);
  const int n = 23;  // several windows' worth for gemma3
  const auto tokens = RandomTokens(n, spec.vocab, 11);
  const size_t V = spec.vocab;

  auto s1 = Session::Create(*model, {.threads = 2, .n_ctx = 64, .prefill_chunk = 64});
  ASSERT_TRUE(s1.ok()) << s1.status().ToString();
  std::vector<float> all;
  ASSERT_TRUE((*s1)->Prefill(tokens, &all, /*all_logits=*/true).ok());
  ASSERT_EQ(all.size(), n * V);

  auto s2 = Session::Create(*model, {.threads = 1, .n_ctx = 64, .prefill_chunk = 4});
  ASSERT_TRUE(s2.ok());
  std::vector<float> step;
  for (int i = 0; i < n; ++i) {
    ASSERT_TRUE((*s2)->Decode(tokens[i], &step).ok());
    float scale = 0;
    for (size_t v = 0; v < V; ++v) scale = std::max(scale, std::fabs(all[i * V + v]));
    EXPECT_LE(MaxAbsDiff(step.data(), all.data() + i * V, V), 1e-4f * std::max(1.f, scale)) << "position " << i;
  }
  EXPECT_EQ((*s2)->position(), n);

  // Chunked prefill (chunks of 4) ends on the same last-token logits.
  auto s3 = Session::Create(*model, {.threads = 2, .n_ctx = 64, .prefill_chunk = 4});
  ASSERT_TRUE(s3.ok());
  std::vector<float> last;
  ASSERT_TRUE((*s3)->Prefill(tokens, &last).ok());
  EXPECT_LE(MaxAbsDiff(last.data(), all.data() + (n - 1) * V, V), 1e-3f);
}

INSTANTIATE_TEST_SUITE_P(Types, PrefillDecodeTest,
                         ::testing::Values(Case{"gemma3", DType::kF32}, Case{"llama", DType::kF32},
                                           Case{"gemma3", DType::kQ8_0}, Case{"llama", DType::kQ4_0},
                                           Case{"gemma3", DType::kQ4_K}, Case{"llama", DType::kF16}),
                         [](const auto& info) {
                           return fmt::format("{}_{}", info.param.arch, DTypeName(info.param.type));
                         });

// With 8-bit activations a decode step runs the GEMV kernels (over weights packed at load where
// the kernel table has a packed layout for the type, and the matmuls of one input as one call),
// a prefill the GEMMs: both give the same logits up to 8-bit rounding, and the backend's load
// figures say what it packed. The layouts interleave 8 rows: with a vocabulary of 601 (the Q4_1
// and Q4_K cases) the tied output is left to the one-row kernel over a plain copy.
struct PackCase {
  DType type;
  const char* layout;  // the avx512-vnni table's packed layout for the type
  int64_t vocab;
  const char* output_layout;  // the tied output's, when the backend copies weights
};

class Q8PackTest : public ::testing::TestWithParam<PackCase> {};

TEST_P(Q8PackTest, Q8DecodeStepsMatchTheQ8PrefillAndReportRepacking) {
  const PackCase c = GetParam();
  auto spec = SmallSpec("gemma3", c.type);
  spec.vocab = c.vocab;
  auto model = LoadSynthetic(spec, fmt::format("gemma3-{}-q8.gguf", DTypeName(c.type)));
  ASSERT_NE(model, nullptr);
  const int n = 9;
  const auto tokens = RandomTokens(n, spec.vocab, 5);
  const size_t V = spec.vocab;
  auto prefill = Session::Create(*model, {.threads = 2, .n_ctx = 32, .activations = Activations::kQ8});
  ASSERT_TRUE(prefill.ok()) << prefill.status().ToString();
  std::vector<float> all;
  ASSERT_TRUE((*prefill)->Prefill(tokens, &all, /*all_logits=*/true).ok());
  auto decode = Session::Create(*model, {.threads = 2, .n_ctx = 32, .activations = Activations::kQ8});
  ASSERT_TRUE(decode.ok());
  std::vector<float> step;
  for (int i = 0; i < n; ++i) {
    ASSERT_TRUE((*decode)->Decode(tokens[i], &step).ok());
    float scale = 0;
    for (size_t v = 0; v < V; ++v) scale = std::max(scale, std::fabs(all[i * V + v]));
    // Not to 1e-4 as with f32 activations: a sum one ulp off can put an activation on the next
    // 8-bit level, and a key or value row so moved is seen by every later position (about 1% of
    // the logits' scale here). A wrong row or matrix is off by the logits' own size.
    EXPECT_LE(MaxAbsDiff(step.data(), all.data() + i * V, V), 0.03f * scale) << "position " << i;
  }
  // Every layer matmul weight of the type packed once (decode and prefill executables share
  // the copies), and the tied output (token_embd).
  const uint64_t output_bytes = model->Find("token_embd.weight")->bytes;
  uint64_t layer_bytes = 0;
  for (int64_t il = 0; il < spec.layers; ++il)
    for (const char* w : {"attn_q", "attn_k", "attn_v", "attn_output", "ffn_gate", "ffn_up", "ffn_down"})
      if (const WeightView* v = model->Find(fmt::format("blk.{}.{}.weight", il, w)); v && v->type == c.type)
        layer_bytes += v->bytes;
  ASSERT_GT(layer_bytes, 0u);
  // Packed where the kernel table has a layout for the type and the row count fits its panels,
  // else copied as they are (into huge pages), unless TLM_CPU_WEIGHTS=mapped.
  const BackendLoadInfo info = (*decode)->backend().load_info();
  const std::string description = (*decode)->backend().device_description();
  const char* weights_env = std::getenv("TLM_CPU_WEIGHTS");
  const bool mapped = weights_env != nullptr && std::string_view(weights_env) == "mapped";
  const bool packs = description.find("avx512-vnni") != std::string::npos;
  if (!packs) std::printf("\n*** %s has no packed %s layout\n\n", description.c_str(), c.layout);
  const bool output_copied = std::string_view(c.output_layout) != "copy" || !mapped;
  const std::string layers = packs ? c.layout : mapped ? "" : "copy";
  const std::string output = packs ? c.output_layout : mapped ? "" : "copy";
  std::string want_layouts = layers;
  if (output_copied && output != layers) want_layouts += (want_layouts.empty() ? "" : ",") + output;
  EXPECT_EQ(info.repack_layouts, want_layouts);
  EXPECT_EQ(info.repack_bytes,
            (packs || !mapped ? layer_bytes : 0u) + (output_copied && (packs || !mapped) ? output_bytes : 0u));
  EXPECT_GE(info.repack_ms, 0.0);
  // f32 activations never pack.
  auto f32 = Session::Create(*model, {.threads = 2, .n_ctx = 32});
  ASSERT_TRUE(f32.ok());
  EXPECT_EQ((*f32)->backend().load_info().repack_bytes, 0u);
}

INSTANTIATE_TEST_SUITE_P(Layouts, Q8PackTest,
                         ::testing::Values(PackCase{DType::kQ5_0, "q5_0x8", 600, "q5_0x8"},
                                           PackCase{DType::kQ4_1, "q4_1x8", 601, "copy"},
                                           PackCase{DType::kQ4_K, "q4_kx8", 601, "copy"}),
                         [](const auto& info) { return std::string(DTypeName(info.param.type)); });

// q8x2 activations: the second 8-bit pass over what the first rounding left takes the q8
// logits most of the way to the exact f32 ones, in prefill (the GEMMs over both passes' rows)
// and in decode (each piece of weight rows twice), on every packed or copied layout; 601
// output rows leave a short last piece.
class Q8x2Test : public ::testing::TestWithParam<DType> {};

TEST_P(Q8x2Test, ResidueBringsQ8LogitsCloseToF32) {
  auto spec = SmallSpec("gemma3", GetParam());
  spec.vocab = 601;
  auto model = LoadSynthetic(spec, fmt::format("gemma3-{}-q8x2.gguf", DTypeName(GetParam())));
  ASSERT_NE(model, nullptr);
  const int n = 9;
  const auto tokens = RandomTokens(n, spec.vocab, 7);
  const size_t V = spec.vocab;
  auto prefill = [&](Activations a) {
    auto session = Session::Create(*model, {.threads = 2, .n_ctx = 32, .activations = a});
    EXPECT_TRUE(session.ok()) << session.status().ToString();
    std::vector<float> all;
    if (session.ok()) EXPECT_TRUE((*session)->Prefill(tokens, &all, /*all_logits=*/true).ok());
    return all;
  };
  const std::vector<float> f32 = prefill(Activations::kF32), q8 = prefill(Activations::kQ8),
                           q8x2 = prefill(Activations::kQ8x2);
  ASSERT_EQ(f32.size(), n * V);
  ASSERT_EQ(q8.size(), n * V);
  ASSERT_EQ(q8x2.size(), n * V);
  auto decode = Session::Create(*model, {.threads = 2, .n_ctx = 32, .activations = Activations::kQ8x2});
  ASSERT_TRUE(decode.ok());
  std::vector<float> steps, step;
  for (int i = 0; i < n; ++i) {
    ASSERT_TRUE((*decode)->Decode(tokens[i], &step).ok());
    steps.insert(steps.end(), step.begin(), step.end());
  }
  float scale = 0;
  for (float v : f32) scale = std::max(scale, std::fabs(v));
  const float q8_err = MaxAbsDiff(q8.data(), f32.data(), n * V);
  const float q8x2_err = MaxAbsDiff(q8x2.data(), f32.data(), n * V);
  const float decode_err = MaxAbsDiff(steps.data(), f32.data(), n * V);
  std::printf("%s: max |logit - f32|: q8 %.5f, q8x2 prefill %.6f, q8x2 decode %.6f (logit scale %.3f)\n",
              std::string(DTypeName(GetParam())).c_str(), q8_err, q8x2_err, decode_err, scale);
  EXPECT_GT(q8_err, 1e-3f * scale) << "q8's rounding should show, or this test compares nothing";
  EXPECT_LT(q8x2_err, q8_err / 20);
  EXPECT_LT(decode_err, q8_err / 20);
}

INSTANTIATE_TEST_SUITE_P(Types, Q8x2Test,
                         ::testing::Values(DType::kQ4_K, DType::kQ5_0, DType::kQ4_1, DType::kQ6_K, DType::kQ8_0),
                         [](const auto& info) { return std::string(DTypeName(info.param)); });

// SessionOptions::profile_ops: every step of every run lands in its op's entry, by phase, and
// the matmuls that read one input are one entry (q, k and v; gate and up).
TEST(EngineTest, OpProfileCountsEveryStepByOpAndPhase) {
  const auto spec = SmallSpec("gemma3", DType::kQ8_0);
  auto model = LoadSynthetic(spec, "gemma3-q8_0-profile.gguf");
  ASSERT_NE(model, nullptr);
  auto session = Session::Create(
      *model, {.threads = 2, .n_ctx = 32, .prefill_chunk = 8, .activations = Activations::kQ8, .profile_ops = true});
  ASSERT_TRUE(session.ok()) << session.status().ToString();
  Session& s = **session;
  std::vector<float> logits;
  const auto tokens = RandomTokens(5, spec.vocab, 3);
  ASSERT_TRUE(s.Prefill(tokens, &logits).ok());  // one step of 5 tokens
  const int decodes = 4;
  const auto t0 = std::chrono::steady_clock::now();
  for (int i = 0; i < decodes; ++i) ASSERT_TRUE(s.Decode(tokens[i], &logits).ok());
  const double decode_wall_ms =
      std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();

  const std::vector<OpTime> profile = s.backend().op_profile();
  auto calls_in = [](const std::vector<OpTime>& p, std::string_view op, bool one_token) -> int64_t {
    for (const OpTime& t : p)
      if (t.op == op && t.one_token == one_token) return t.calls;
    return -1;
  };
  auto calls = [&](std::string_view op, bool one_token) { return calls_in(profile, op, one_token); };
  EXPECT_EQ(calls("attention", false), spec.layers);
  EXPECT_EQ(calls("attention", true), decodes * spec.layers);
  EXPECT_EQ(calls("matmul q8_0 + q8_0 + q8_0", true), decodes * spec.layers);  // q, k, v
  EXPECT_EQ(calls("matmul q8_0 + q8_0", true), decodes * spec.layers);         // gate, up
  EXPECT_EQ(calls("matmul q8_0 (output)", true), decodes);
  EXPECT_EQ(calls("matmul q8_0 (output)", false), 1);
  double decode_steps_ms = 0;
  for (const OpTime& t : profile) {
    EXPECT_GT(t.calls, 0) << t.op;
    EXPECT_GE(t.ms, 0.0) << t.op;
    if (t.one_token) decode_steps_ms += t.ms;
  }
  EXPECT_LE(decode_steps_ms, decode_wall_ms);  // steps run one after another inside the decodes

  // Cleared, then one decode: the one-token entries again, with one step's calls, and no prefill entry.
  size_t one_token_entries = 0;
  for (const OpTime& t : profile) one_token_entries += t.one_token ? 1 : 0;
  s.ClearOpProfile();
  EXPECT_TRUE(s.backend().op_profile().empty());
  ASSERT_TRUE(s.Decode(tokens[4], &logits).ok());
  const std::vector<OpTime> after = s.backend().op_profile();
  EXPECT_EQ(after.size(), one_token_entries);
  for (const OpTime& t : after) EXPECT_TRUE(t.one_token) << t.op;
  EXPECT_EQ(calls_in(after, "attention", true), spec.layers);
  EXPECT_EQ(calls_in(after, "matmul q8_0 (output)", true), 1);

  // Without profile_ops nothing is timed.
  auto plain = Session::Create(*model, {.threads = 2, .n_ctx = 32, .activations = Activations::kQ8});
  ASSERT_TRUE(plain.ok());
  ASSERT_TRUE((*plain)->Decode(tokens[0], &logits).ok());
  EXPECT_TRUE((*plain)->backend().op_profile().empty());
}

// A sliding window changes nothing while the sequence fits in it, and something once it does not.
TEST(EngineTest, SlidingWindowLimitsWhatLocalLayersSee) {
  auto narrow = SmallSpec("gemma3", DType::kF32);
  auto wide = narrow;
  wide.sliding_window = 200;
  auto m_narrow = LoadSynthetic(narrow, "gemma3-narrow.gguf");
  auto m_wide = LoadSynthetic(wide, "gemma3-wide.gguf");
  ASSERT_TRUE(m_narrow && m_wide);
  const auto tokens = RandomTokens(12, narrow.vocab, 3);
  std::vector<float> a, b;
  auto sa = Session::Create(*m_narrow, {.threads = 1, .n_ctx = 32});
  auto sb = Session::Create(*m_wide, {.threads = 1, .n_ctx = 32});
  ASSERT_TRUE(sa.ok() && sb.ok());
  ASSERT_TRUE((*sa)->Prefill(tokens, &a, true).ok());
  ASSERT_TRUE((*sb)->Prefill(tokens, &b, true).ok());
  const size_t V = narrow.vocab;
  for (int i = 0; i < 12; ++i) {
    const float d = MaxAbsDiff(a.data() + i * V, b.data() + i * V, V);
    if (i < narrow.sliding_window) {
      EXPECT_LT(d, 1e-5f) << "position " << i;
    } else {
      EXPECT_GT(d, 1e-4f) << "position " << i;
    }
  }
}

TEST(EngineTest, ContextOverflowIsAClearError) {
  auto model = LoadSynthetic(SmallSpec("llama", DType::kF32), "llama-ctx.gguf");
  ASSERT_NE(model, nullptr);
  auto s = Session::Create(*model, {.threads = 1, .n_ctx = 8});
  ASSERT_TRUE(s.ok());
  std::vector<float> logits;
  Status st = (*s)->Prefill(RandomTokens(9, 600, 1), &logits);
  EXPECT_EQ(st.code(), StatusCode::kResourceExhausted);
  EXPECT_NE(st.message().find("context full"), std::string::npos) << st.message();
  ASSERT_TRUE((*s)->Prefill(RandomTokens(8, 600, 1), &logits).ok());
  EXPECT_EQ((*s)->Decode(1, &logits).code(), StatusCode::kResourceExhausted);
  (*s)->Reset();
  EXPECT_TRUE((*s)->Decode(1, &logits).ok());
}

TEST(EngineTest, TokenOutsideVocabularyIsRejected) {
  auto model = LoadSynthetic(SmallSpec("llama", DType::kF32), "llama-tok.gguf");
  ASSERT_NE(model, nullptr);
  auto s = Session::Create(*model, {.threads = 1, .n_ctx = 8});
  ASSERT_TRUE(s.ok());
  std::vector<float> logits;
  Status st = (*s)->Decode(600, &logits);
  EXPECT_EQ(st.code(), StatusCode::kInvalidArgument);
  EXPECT_NE(st.message().find("token id 600"), std::string::npos) << st.message();
}

TEST(EngineTest, UnknownBackendListsTheKnownOnes) {
  auto model = LoadSynthetic(SmallSpec("llama", DType::kF32), "llama-be.gguf");
  ASSERT_NE(model, nullptr);
  auto s = Session::Create(*model, {.backend = "tpu"});
  ASSERT_FALSE(s.ok());
  EXPECT_NE(s.status().message().find("unknown backend 'tpu' (available: cpu"), std::string::npos)
      << s.status().message();
}

TEST(EngineTest, WrongArchitectureIsRefusedByName) {
  auto spec = SmallSpec("llama", DType::kF32);
  auto writer = BuildSyntheticModel(spec);
  ASSERT_TRUE(writer.ok());
  writer->SetString("general.architecture", "mamba");
  const std::string path = TempPath("mamba.gguf");
  ASSERT_TRUE(writer->WriteFile(path).ok());
  auto model = Model::Load(path);
  ASSERT_FALSE(model.ok());
  EXPECT_EQ(model.status().code(), StatusCode::kUnimplemented);
  EXPECT_NE(model.status().message().find("architecture 'mamba' is not supported"), std::string::npos)
      << model.status().message();
}

TEST(EngineTest, ContextLargerThanTrainingIsRefused) {
  auto model = LoadSynthetic(SmallSpec("llama", DType::kF32), "llama-ctx2.gguf");
  ASSERT_NE(model, nullptr);
  auto s = Session::Create(*model, {.n_ctx = 100000});
  ASSERT_FALSE(s.ok());
  EXPECT_NE(s.status().message().find("exceeds the model's training context 256"), std::string::npos)
      << s.status().message();
}

}  // namespace
}  // namespace tlm
