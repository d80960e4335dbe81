// The opencl backend on the real models against the cpu backend: greedy generation from a chat
// prompt gives the same text for 32 tokens, and teacher-forced logits over a short text agree
// (mean KL divergence, top-1). The models come from scripts/setup; a missing model fails loudly.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdlib>
#include <filesystem>

#include "engine/model/model.h"
#include "engine/session/sampler.h"
#include "engine/session/session.h"
#include "engine/tokenizer/tokenizer.h"

namespace tlm {
namespace {

const std::string kCacheRoot = std::string(TLM_BINARY_DIR) + "/test-cache/opencl-backend";

std::string ModelsDir() {
  if (const char* env = std::getenv("TLMBENCH_MODELS"); env && *env) return env;
  return std::string(std::getenv("HOME") ? std::getenv("HOME") : ".") + "/.cache/tlmbench/models";
}

class OpenClGoldenTest : public ::testing::TestWithParam<std::string> {
 protected:
  void SetUp() override {
    setenv("TLMBENCH_CACHE_DIR", kCacheRoot.c_str(), 1);
    const std::string path = ModelsDir() + "/" + GetParam() + ".gguf";
    ASSERT_TRUE(std::filesystem::exists(path))
        << "\n\n*** Reference model missing: " << path
        << "\n*** Run scripts/setup to fetch it (or set TLMBENCH_MODELS). This test does not skip.\n";
    auto model = Model::Load(path);
    ASSERT_TRUE(model.ok()) << model.status().ToString();
    model_ = std::move(model).value();
  }

  std::vector<int32_t> Greedy(const std::string& backend, const std::vector<int32_t>& prompt, int n) {
    SessionOptions options;
    options.backend = backend;
    options.threads = 2;
    options.n_ctx = 256;
    auto session = Session::Create(*model_, options);
    EXPECT_TRUE(session.ok()) << session.status().ToString();
    if (!session.ok()) return {};
    const BackendLoadInfo info = (*session)->backend().load_info();
    std::printf("[opencl golden] %s on %s: backend_init_ms %.1f compile_ms %.1f (program cache %s)\n",
                GetParam().c_str(), backend.c_str(), (*session)->load_metrics().backend_init_ms,
                (*session)->load_metrics().compile_ms,
                !info.has_cache   ? "none"
                : info.cache_warm ? "warm"
                                  : "cold");
    Sampler greedy(SamplerConfig{}, static_cast<int32_t>(model_->config().n_vocab));
    std::vector<float> logits;
    Status s = (*session)->Prefill(prompt, &logits);
    EXPECT_TRUE(s.ok()) << s.ToString();
    std::vector<int32_t> out;
    for (int i = 0; i < n && s.ok(); ++i) {
      out.push_back(greedy.Sample(logits));
      s = (*session)->Decode(out.back(), &logits);
      EXPECT_TRUE(s.ok()) << s.ToString();
    }
    return out;
  }

  std::unique_ptr<Model> model_;
};

TEST_P(OpenClGoldenTest, GreedyChatTextMatchesCpuFor32Tokens) {
  const Tokenizer& tok = model_->tokenizer();
  const std::vector<ChatMessage> messages = {{"user", "Explain in two sentences why the sky is blue."}};
  auto rendered = ApplyChatTemplate(tok.vocab(), messages, /*add_generation_prompt=*/true);
  ASSERT_TRUE(rendered.ok()) << rendered.status().ToString();
  const std::vector<int32_t> prompt = tok.Encode(*rendered, /*add_bos=*/true, /*parse_special=*/true);
  constexpr int kTokens = 32;
  const auto cpu = Greedy("cpu", prompt, kTokens);
  const auto cl = Greedy("opencl", prompt, kTokens);
  const std::string cpu_text = tok.Decode(cpu), cl_text = tok.Decode(cl);
  std::printf("[opencl golden] %s cpu:    %s\n[opencl golden] %s opencl: %s\n", GetParam().c_str(), cpu_text.c_str(),
              GetParam().c_str(), cl_text.c_str());
  ASSERT_EQ(cpu.size(), static_cast<size_t>(kTokens));
  EXPECT_EQ(cl, cpu);
  EXPECT_EQ(cl_text, cpu_text);
  RecordProperty("greedy_text", cl_text);
}

// Teacher-forced over a fixed text (one all-logits prefill): mean KL(cpu || opencl) and top-1.
TEST_P(OpenClGoldenTest, LogitsAgreeWithCpu) {
  const std::string text =
      "The history of computing is the story of people who wanted to calculate faster. Early machines used gears "
      "and levers; later ones used relays, vacuum tubes and finally transistors, packed by the billion onto chips.";
  const std::vector<int32_t> ids = model_->tokenizer().Encode(text, /*add_bos=*/true, /*parse_special=*/false);
  ASSERT_GE(ids.size(), 32u);
  auto all_logits = [&](const std::string& backend) {
    SessionOptions options;
    options.backend = backend;
    options.threads = 2;
    options.n_ctx = 128;
    auto session = Session::Create(*model_, options);
    EXPECT_TRUE(session.ok()) << session.status().ToString();
    std::vector<float> logits;
    if (!session.ok()) return logits;
    Status s = (*session)->Prefill(ids, &logits, /*all_logits=*/true);
    EXPECT_TRUE(s.ok()) << s.ToString();
    return logits;
  };
  const auto ref = all_logits("cpu");
  const auto got = all_logits("opencl");
  const int64_t V = model_->config().n_vocab;
  ASSERT_EQ(ref.size(), ids.size() * V);
  ASSERT_EQ(got.size(), ref.size());
  double kld_sum = 0, max_abs = 0;
  int agree = 0;
  for (size_t t = 0; t < ids.size(); ++t) {
    const float* p = ref.data() + t * V;
    const float* q = got.data() + t * V;
    auto log_softmax_norm = [&](const float* x) {
      double m = -INFINITY, s = 0;
      for (int64_t v = 0; v < V; ++v) m = std::max(m, static_cast<double>(x[v]));
      for (int64_t v = 0; v < V; ++v) s += std::exp(x[v] - m);
      return m + std::log(s);
    };
    const double lp = log_softmax_norm(p), lq = log_softmax_norm(q);
    double kld = 0;
    int64_t top_p = 0, top_q = 0;
    for (int64_t v = 0; v < V; ++v) {
      const double a = p[v] - lp, b = q[v] - lq;
      kld += std::exp(a) * (a - b);
      if (p[v] > p[top_p]) top_p = v;
      if (q[v] > q[top_q]) top_q = v;
      max_abs = std::max(max_abs, static_cast<double>(std::fabs(p[v] - q[v])));
    }
    kld_sum += kld;
    agree += top_p == top_q;
  }
  const double mean_kld = kld_sum / ids.size(), top1 = static_cast<double>(agree) / ids.size();
  std::printf("[opencl golden] %s: %zu positions, mean KLD %.3g, top-1 %.2f%%, max |logit diff| %.4g\n",
              GetParam().c_str(), ids.size(), mean_kld, 100 * top1, max_abs);
  EXPECT_LT(mean_kld, 1e-4);
  EXPECT_GE(top1, 0.98);
  RecordProperty("mean_kld", std::to_string(mean_kld));
  RecordProperty("top1_agree", std::to_string(top1));
}

INSTANTIATE_TEST_SUITE_P(RealModels, OpenClGoldenTest,
                         ::testing::Values("gemma-3-270m-q4_k_m", "smollm2-135m-instruct-q4_1"), [](const auto& info) {
                           std::string name = info.param;
                           for (char& c : name)
                             if (!std::isalnum(static_cast<unsigned char>(c))) c = '_';
                           return name;
                         });

}  // namespace
}  // namespace tlm
