// The vulkan backend against cpu on the real models (scripts/setup fetches them): greedy text of a
// chat prompt (at least the first 32 tokens equal), and teacher-forced logits over a short text
// (mean KL divergence < 0.01, top-1 agreement >= 98%). A missing model skips loudly, or fails when
// TLM_REQUIRE_MODELS=1.
#include <gtest/gtest.h>

// Session options are written with designated initializers; the fields left out take their defaults.
#pragma GCC diagnostic ignored "-Wmissing-field-initializers"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <filesystem>

#include "engine/model/model.h"
#include "engine/session/sampler.h"
#include "engine/session/session.h"
#include "engine/tokenizer/tokenizer.h"

namespace tlm {
namespace {

namespace fs = std::filesystem;

class VulkanRealModelTest : public ::testing::TestWithParam<std::string> {
 protected:
  void SetUp() override {
    const char* dir_env = std::getenv("TLMBENCH_MODELS");
    const std::string dir =
        dir_env && *dir_env ? dir_env
                            : std::string(std::getenv("HOME") ? std::getenv("HOME") : ".") + "/.cache/tlmbench/models";
    const std::string path = dir + "/" + GetParam();
    if (!fs::exists(path)) {
      const char* require = std::getenv("TLM_REQUIRE_MODELS");
      if (require && std::string(require) == "1") FAIL() << "model missing: " << path << " (TLM_REQUIRE_MODELS=1)";
      GTEST_SKIP() << "\n*** SKIPPED: model missing: " << path << " (run scripts/setup) ***\n";
    }
    auto model = Model::Load(path);
    ASSERT_TRUE(model.ok()) << model.status().ToString();
    model_ = std::move(model).value();
  }
  std::unique_ptr<Model> model_;
};

// The bar for greedy text is Gemma; SmolLM2 runs the same code paths in the KLD test
// (lavapipe decodes about 1 token/s on a loaded 2-core machine, and the suite's time is bounded).
class VulkanGreedyTest : public VulkanRealModelTest {};
class VulkanLogitsTest : public VulkanRealModelTest {};

TEST_P(VulkanGreedyTest, GreedyChatTextEqualsCpu) {
  const Tokenizer& tok = model_->tokenizer();
  std::vector<ChatMessage> messages = {{"user", "Write a short story about a lighthouse keeper and a lost whale."}};
  auto rendered = ApplyChatTemplate(tok.vocab(), messages, true);
  ASSERT_TRUE(rendered.ok()) << rendered.status().ToString();
  const std::vector<int32_t> prompt = tok.Encode(*rendered, true, true);
  constexpr int kTokens = 32;
  auto generate = [&](const std::string& backend, double* tokens_per_s) {
    std::vector<int32_t> out;
    auto s = Session::Create(*model_, {.backend = backend,
                                       .threads = 2,
                                       .n_ctx = static_cast<int64_t>(prompt.size()) + kTokens + 1,
                                       .prefill_chunk = 64});
    EXPECT_TRUE(s.ok()) << s.status().ToString();
    if (!s.ok()) return out;
    Sampler greedy(SamplerConfig{}, static_cast<int32_t>(model_->config().n_vocab));
    std::vector<float> logits;
    EXPECT_TRUE((*s)->Prefill(prompt, &logits).ok());
    const auto t0 = std::chrono::steady_clock::now();
    for (int i = 0; i < kTokens; ++i) {
      out.push_back(greedy.Sample(logits));
      if (i + 1 < kTokens) {
        EXPECT_TRUE((*s)->Decode(out.back(), &logits).ok());
      }
    }
    *tokens_per_s = (kTokens - 1) / std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    return out;
  };
  // Start-up with an empty pipeline cache, then with the one that start wrote.
  const fs::path cache = fs::temp_directory_path() / "tlmbench-vulkan-golden-cache";
  fs::remove_all(cache);
  setenv("TLMBENCH_CACHE_DIR", cache.c_str(), 1);
  for (const char* phase : {"cold", "warm"}) {
    auto s = Session::Create(*model_, {.backend = "vulkan", .n_ctx = 128, .prefill_chunk = 64});
    ASSERT_TRUE(s.ok()) << s.status().ToString();
    const BackendLoadInfo info = (*s)->backend().load_info();
    std::printf(
        "[vulkan golden] %s start (cache %s): backend init %.0f ms, compile %.0f ms (weights upload and pipelines)\n",
        phase, info.cache_warm ? "warm" : "cold", (*s)->load_metrics().backend_init_ms,
        (*s)->load_metrics().compile_ms);
    EXPECT_EQ(info.cache_warm, std::string(phase) == "warm");
  }
  double cpu_tps = 0, vk_tps = 0;
  const auto ref = generate("cpu", &cpu_tps);
  const auto got = generate("vulkan", &vk_tps);
  const std::string ref_text = tok.Decode(ref), got_text = tok.Decode(got);
  std::printf(
      "[vulkan golden] %s prompt %zu tokens; cpu %.2f tok/s, vulkan %.2f tok/s decode\n  cpu:    %s\n  vulkan: %s\n",
      GetParam().c_str(), prompt.size(), cpu_tps, vk_tps, ref_text.c_str(), got_text.c_str());
  ASSERT_EQ(got.size(), static_cast<size_t>(kTokens));
  EXPECT_EQ(got, ref);
  EXPECT_EQ(got_text, ref_text);
}

TEST_P(VulkanLogitsTest, TeacherForcedKldAndTop1AgainstCpu) {
  const std::string text =
      "The ocean covers most of the surface of the Earth. Its water moves in currents that carry heat from the "
      "equator towards the poles.";
  const std::vector<int32_t> ids = model_->tokenizer().Encode(text, true, false);
  const int64_t V = model_->config().n_vocab;
  auto all_logits = [&](const std::string& backend) {
    std::vector<float> logits;
    auto s = Session::Create(*model_, {.backend = backend, .threads = 2, .n_ctx = 128, .prefill_chunk = 32});
    EXPECT_TRUE(s.ok()) << s.status().ToString();
    if (s.ok()) {
      EXPECT_TRUE((*s)->Prefill(ids, &logits, true).ok());
    }
    return logits;
  };
  const auto ref = all_logits("cpu");
  const auto got = all_logits("vulkan");
  ASSERT_EQ(ref.size(), ids.size() * V);
  ASSERT_EQ(got.size(), ref.size());
  double kld_sum = 0;
  int agree = 0;
  for (size_t r = 0; r < ids.size(); ++r) {
    const float* p = ref.data() + r * V;
    const float* q = got.data() + r * V;
    const double pm = *std::max_element(p, p + V), qm = *std::max_element(q, q + V);
    double ps = 0, qs = 0;
    for (int64_t i = 0; i < V; ++i) {
      ps += std::exp(p[i] - pm);
      qs += std::exp(q[i] - qm);
    }
    double kld = 0;
    for (int64_t i = 0; i < V; ++i) {
      const double lp = p[i] - pm - std::log(ps), lq = q[i] - qm - std::log(qs);
      kld += std::exp(lp) * (lp - lq);
    }
    kld_sum += kld;
    agree += (std::max_element(p, p + V) - p) == (std::max_element(q, q + V) - q);
  }
  const double mean_kld = kld_sum / ids.size(), top1 = static_cast<double>(agree) / ids.size();
  std::printf("[vulkan golden] %s: %zu positions, mean KLD %.3g, top-1 agreement %.1f%%\n", GetParam().c_str(),
              ids.size(), mean_kld, 100 * top1);
  RecordProperty("mean_kld", std::to_string(mean_kld));
  RecordProperty("top1", std::to_string(top1));
  EXPECT_LT(mean_kld, 0.01);
  EXPECT_GE(top1, 0.98);
}

INSTANTIATE_TEST_SUITE_P(Golden, VulkanGreedyTest, ::testing::Values("gemma-3-270m-q4_k_m.gguf"),
                         [](const auto&) { return std::string("gemma3_270m"); });
INSTANTIATE_TEST_SUITE_P(Golden, VulkanLogitsTest,
                         ::testing::Values("gemma-3-270m-q4_k_m.gguf", "smollm2-135m-instruct-q4_1.gguf"),
                         [](const auto& info) {
                           return std::string(info.param[0] == 'g' ? "gemma3_270m" : "smollm2_135m");
                         });

}  // namespace
}  // namespace tlm
