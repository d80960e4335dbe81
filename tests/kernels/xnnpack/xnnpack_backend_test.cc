// The cpu-xnnpack backend against the cpu backend on synthetic models: logits of prefill and
// decode (f32, f16 and quantized weights, tied and untied output) within atol + rtol * |ref|, and
// clear errors for bad input. The real models are in xnnpack_golden_test.cc.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <random>

#include "tests/support/tolerance.h"
#include "engine/backend/backend.h"
#include "engine/model/model.h"
#include "engine/model/synthetic.h"
#include "engine/session/session.h"

namespace tlm {
namespace {

namespace fs = std::filesystem;

std::string TempPath(const std::string& name) {
  fs::path dir = fs::temp_directory_path() / "tlmbench-xnnpack-test";
  fs::create_directories(dir);
  return (dir / name).string();
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

using testing::Mismatches;

TEST(XnnpackBackendTest, IsRegisteredAndRunsHere) {
  bool found = false;
  for (const BackendRegistration* r : RegisteredBackends())
    if (r->name == "cpu-xnnpack") {
      found = true;
      Status probe = r->probe();
      EXPECT_TRUE(probe.ok()) << probe.ToString();
    }
  EXPECT_TRUE(found);
  BackendOptions two_threads;
  two_threads.threads = 2;
  auto b = CreateBackend("cpu-xnnpack", two_threads);
  ASSERT_TRUE(b.ok()) << b.status().ToString();
  EXPECT_EQ((*b)->name(), "cpu-xnnpack");
  EXPECT_NE((*b)->device_description().find("2 threads"), std::string::npos) << (*b)->device_description();
}

struct Case {
  std::string arch;
  DType type;
  bool tie;
};

class XnnpackMatchesCpuTest : public ::testing::TestWithParam<Case> {};

TEST_P(XnnpackMatchesCpuTest, PrefillAndDecodeLogits) {
  const Case& c = GetParam();
  SyntheticModelSpec spec;
  spec.arch = c.arch;
  spec.layers = c.arch == "gemma3" ? 6 : 2;
  spec.embd = 256;  // K-quants need rows of 256
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
  auto model = LoadSynthetic(spec, fmt::format("{}-{}-{}.gguf", c.arch, DTypeName(c.type), c.tie));
  ASSERT_NE(model, nullptr);
  const auto tokens = RandomTokens(20, spec.vocab, 3);
  const int64_t V = model->config().n_vocab;

  auto run = [&](const std::string& backend, std::vector<float>* prefill, std::vector<float>* decode) {
    auto s = Session::Create(*model, {.backend = backend, .threads = 2, .n_ctx = 64, .prefill_chunk = 8});
    ASSERT_TRUE(s.ok()) << s.status().ToString();
    if (backend == "cpu-xnnpack") {  // every matmul weight went to XNNPACK: 7 per layer, plus the output
      const int weights = spec.layers * 7 + 1;
      EXPECT_NE((*s)->backend().device_description().find(fmt::format("; {} weights", weights)), std::string::npos)
          << (*s)->backend().device_description();
    }
    // Prefill 16 tokens in chunks of 8 (all rows), then decode 4 one by one.
    ASSERT_TRUE((*s)->Prefill(std::span<const int32_t>(tokens).first(16), prefill, true).ok());
    std::vector<float> step;
    for (size_t i = 16; i < tokens.size(); ++i) {
      ASSERT_TRUE((*s)->Decode(tokens[i], &step).ok());
      decode->insert(decode->end(), step.begin(), step.end());
    }
  };
  std::vector<float> ref_prefill, ref_decode, x_prefill, x_decode;
  run("cpu", &ref_prefill, &ref_decode);
  run("cpu-xnnpack", &x_prefill, &x_decode);
  ASSERT_EQ(ref_prefill.size(), static_cast<size_t>(16 * V));
  ASSERT_EQ(ref_decode.size(), static_cast<size_t>(4 * V));
  // Both multiply f32 activations by the same dequantized f32 weights; only summation order differs.
  constexpr float kAtol = 2e-3f, kRtol = 2e-3f;
  double max_abs = 0;
  EXPECT_EQ(Mismatches(x_prefill, ref_prefill, kAtol, kRtol, &max_abs), 0) << "prefill max |diff| " << max_abs;
  EXPECT_EQ(Mismatches(x_decode, ref_decode, kAtol, kRtol, &max_abs), 0) << "decode max |diff| " << max_abs;
}

INSTANTIATE_TEST_SUITE_P(Models, XnnpackMatchesCpuTest,
                         ::testing::Values(Case{"gemma3", DType::kF32, true}, Case{"gemma3", DType::kQ4_K, true},
                                           Case{"gemma3", DType::kQ8_0, true}, Case{"llama", DType::kQ4_1, false},
                                           Case{"llama", DType::kF16, true}),
                         [](const auto& info) {
                           return info.param.arch + "_" + std::string(DTypeName(info.param.type)) +
                                  (info.param.tie ? "_tied" : "_untied");
                         });

TEST(XnnpackBackendTest, ClearErrors) {
  // A device part is not accepted.
  auto b = CreateBackend("cpu-xnnpack:1", {});
  ASSERT_FALSE(b.ok());
  EXPECT_NE(b.status().ToString().find("takes no device"), std::string::npos) << b.status().ToString();
  // Out-of-range threads.
  BackendOptions negative;
  negative.threads = -3;
  auto t = CreateBackend("cpu-xnnpack", negative);
  ASSERT_FALSE(t.ok());
  EXPECT_NE(t.status().ToString().find("out of range"), std::string::npos) << t.status().ToString();

  SyntheticModelSpec spec;
  spec.layers = 1;
  spec.vocab = MinSyntheticVocab("gemma3");
  auto model = LoadSynthetic(spec, "errors.gguf");
  ASSERT_NE(model, nullptr);
  auto s = Session::Create(*model, {.backend = "cpu-xnnpack", .threads = 1, .n_ctx = 16});
  ASSERT_TRUE(s.ok()) << s.status().ToString();
  std::vector<float> logits;
  // Token ids outside the vocabulary are rejected by the shared executable.
  const std::vector<int32_t> bad = {1, static_cast<int32_t>(spec.vocab) + 5};
  Status st = (*s)->Prefill(bad, &logits);
  ASSERT_FALSE(st.ok());
  EXPECT_NE(st.ToString().find("outside the vocabulary"), std::string::npos) << st.ToString();

  // A corrupt model file fails to load with a clear error before any backend runs.
  const std::string path = TempPath("corrupt.gguf");
  {
    std::FILE* f = std::fopen(path.c_str(), "wb");
    ASSERT_NE(f, nullptr);
    std::fputs("GGUF not really", f);
    std::fclose(f);
  }
  auto corrupt = Model::Load(path);
  ASSERT_FALSE(corrupt.ok());
  EXPECT_FALSE(corrupt.status().ToString().empty());
}

}  // namespace
}  // namespace tlm
