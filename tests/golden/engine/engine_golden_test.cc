// Teacher-forced logits of the real models against the independent reference in
// tests/golden/logits (an fp64 numpy forward pass over gguf-py's dequantized weights, itself
// cross-checked against llama.cpp): top-1 agreement and logit errors, then greedy generation.
// The models come from scripts/setup; a missing model fails loudly.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <fstream>

#include <nlohmann/json.hpp>

#include "engine/model/model.h"
#include "engine/session/sampler.h"
#include "engine/session/session.h"

namespace tlm {
namespace {

std::string ModelsDir() {
  if (const char* env = std::getenv("TLMBENCH_MODELS"); env && *env) return env;
  return std::string(std::getenv("HOME") ? std::getenv("HOME") : ".") + "/.cache/tlmbench/models";
}

struct GoldenStats {
  int positions = 0, agree = 0;
  double max_abs = 0, sum_abs = 0;
  int64_t compared = 0;
};

class EngineGoldenTest : public ::testing::TestWithParam<std::string> {
 protected:
  void SetUp() override {
    const std::string golden_path = std::string(TLM_SOURCE_DIR) + "/tests/golden/logits/" + GetParam() + ".json";
    std::ifstream in(golden_path);
    ASSERT_TRUE(in) << "missing golden file " << golden_path;
    golden_ = nlohmann::json::parse(in);
    const std::string model_path = ModelsDir() + "/" + golden_["model_file"].get<std::string>();
    ASSERT_TRUE(std::filesystem::exists(model_path))
        << "\n\n*** Reference model missing: " << model_path
        << "\n*** Run scripts/setup to fetch it (or set TLMBENCH_MODELS). This test does not skip.\n";
    auto model = Model::Load(model_path);
    ASSERT_TRUE(model.ok()) << model.status().ToString();
    model_ = std::move(model).value();
  }

  nlohmann::json golden_;
  std::unique_ptr<Model> model_;
};

// Teacher-forces every golden prompt and returns the overall top-1 agreement: prefill steps of
// 64 tokens with every row's logits (the GEMM paths), or, by_decode, one decode step per token.
double TeacherForce(const nlohmann::json& golden_, const Model& model, const std::string& label,
                    Activations activations, GoldenStats* out, bool by_decode = false) {
  const int64_t V = golden_["n_vocab"].get<int64_t>();
  EXPECT_EQ(model.config().n_vocab, V);
  const auto sample_ids = golden_["sample_ids"].get<std::vector<int32_t>>();
  GoldenStats total;
  for (const auto& prompt : golden_["prompts"]) {
    const auto ids = prompt["ids"].get<std::vector<int32_t>>();
    const auto& positions = prompt["positions"];
    auto session =
        Session::Create(model, {.threads = 2, .n_ctx = static_cast<int64_t>(ids.size()), .activations = activations});
    EXPECT_TRUE(session.ok()) << session.status().ToString();
    if (!session.ok()) return 0;
    // Prefill in chunks, keeping each chunk's logits only while its golden positions are checked
    // (all logits of a 700-token prompt would be 700 x 262144 floats).
    const size_t kChunk = by_decode ? 1 : 64;
    std::vector<float> logits;
    size_t next = 0;  // next golden position entry
    GoldenStats s;
    for (size_t begin = 0; begin < ids.size(); begin += kChunk) {
      const size_t n = std::min(kChunk, ids.size() - begin);
      Status st = by_decode ? (*session)->Decode(ids[begin], &logits)
                            : (*session)->Prefill(std::span<const int32_t>(ids).subspan(begin, n), &logits,
                                                  /*all_logits=*/true);
      EXPECT_TRUE(st.ok()) << st.ToString();
      if (!st.ok()) return 0;
      for (; next < positions.size() && positions[next]["pos"].get<size_t>() < begin + n; ++next) {
        const auto& gp = positions[next];
        const size_t p = gp["pos"].get<size_t>();
        const float* row = logits.data() + (p - begin) * V;
        int32_t top1 = 0;
        for (int64_t v = 1; v < V; ++v)
          if (row[v] > row[top1]) top1 = static_cast<int32_t>(v);
        s.positions++;
        s.agree += top1 == gp["top1"].get<int32_t>();
        auto compare = [&](int32_t id, double ref) {
          const double err = std::fabs(row[id] - ref);
          s.max_abs = std::max(s.max_abs, err);
          s.sum_abs += err;
          s.compared++;
        };
        const auto top_ids = gp["top_ids"].get<std::vector<int32_t>>();
        const auto top_logits = gp["top_logits"].get<std::vector<double>>();
        for (size_t i = 0; i < top_ids.size(); ++i) compare(top_ids[i], top_logits[i]);
        const auto sample_logits = gp["sample_logits"].get<std::vector<double>>();
        for (size_t i = 0; i < sample_ids.size(); ++i) compare(sample_ids[i], sample_logits[i]);
      }
    }
    EXPECT_EQ(next, positions.size()) << "golden positions beyond the prompt";
    std::printf(
        "[golden] %s %s/%s: %d positions, top-1 agreement %.2f%% (%d/%d), |logit error| max %.4f mean %.5f "
        "over %lld logits\n",
        label.c_str(), golden_["model_file"].get<std::string>().c_str(), prompt["name"].get<std::string>().c_str(),
        s.positions, 100.0 * s.agree / s.positions, s.agree, s.positions, s.max_abs, s.sum_abs / s.compared,
        static_cast<long long>(s.compared));
    total.positions += s.positions;
    total.agree += s.agree;
    total.max_abs = std::max(total.max_abs, s.max_abs);
    total.sum_abs += s.sum_abs;
    total.compared += s.compared;
    EXPECT_GE(s.positions, 64);
  }
  const double agreement = static_cast<double>(total.agree) / total.positions;
  std::printf("[golden] %s %s total: top-1 agreement %.2f%% over %d positions, |logit error| max %.4f mean %.5f\n",
              label.c_str(), golden_["model_file"].get<std::string>().c_str(), 100.0 * agreement, total.positions,
              total.max_abs, total.sum_abs / total.compared);
  *out = total;
  return agreement;
}

// The reference CPU backend (f32 activations) against the reference: at least 99% top-1.
TEST_P(EngineGoldenTest, TeacherForcedLogitsMatchTheReference) {
  GoldenStats total;
  const double agreement = TeacherForce(golden_, *model_, "f32-activations", Activations::kF32, &total);
  EXPECT_GE(golden_["prompts"].size(), 3u);
  EXPECT_GE(agreement, 0.99);
  EXPECT_LT(total.sum_abs / total.compared, 0.002) << "mean |logit error|";
  EXPECT_LT(total.max_abs, 0.01) << "max |logit error|";
  RecordProperty("top1_agree", std::to_string(agreement));
  RecordProperty("logit_abs_err_max", std::to_string(total.max_abs));
  RecordProperty("logit_abs_err_mean", std::to_string(total.sum_abs / total.compared));
}

// With 8-bit activations, as llama.cpp computes, the quantization error llama.cpp shows against
// the reference (96.7% top-1 on Gemma, 97.9% on SmolLM2, see llamacpp_check in the golden files)
// is expected; the bar catches a broken kernel, not that rounding. q8x2 (below) meets 99%.
TEST_P(EngineGoldenTest, TeacherForcedLogitsWithQ8Activations) {
  GoldenStats total;
  const double agreement = TeacherForce(golden_, *model_, "q8-activations", Activations::kQ8, &total);
  EXPECT_GE(agreement, 0.97);
  EXPECT_LT(total.sum_abs / total.compared, 0.3) << "mean |logit error|";
}

// The same through decode steps, one token at a time: the decode kernels (GEMVs over weights
// packed at load, matmuls of one input run as one, split-K attention) against the reference,
// with the prefill path's bar (Gemma: 97.6% here, as through the AVX2 kernels without packing).
TEST_P(EngineGoldenTest, TeacherForcedDecodeStepsWithQ8Activations) {
  GoldenStats total;
  const double agreement =
      TeacherForce(golden_, *model_, "q8-activations-decode", Activations::kQ8, &total, /*by_decode=*/true);
  EXPECT_GE(agreement, 0.97);
  EXPECT_LT(total.sum_abs / total.compared, 0.3) << "mean |logit error|";
}

// q8x2 activations (8-bit, plus an 8-bit pass over what the rounding left), through the same
// integer kernels: the foundation's bar, at least 99% top-1, prefill and decode. The residue on
// every matmul: measured mean 6e-4 to 7e-4, max under 0.01 (q8: 0.15-0.18 and over 2), so a
// matmul left without it shows in the error bounds even where top-1 holds.
void ExpectQ8x2MatchesTheReference(const nlohmann::json& golden, const Model& model, bool by_decode) {
  GoldenStats total;
  const double agreement = TeacherForce(golden, model, by_decode ? "q8x2-activations-decode" : "q8x2-activations",
                                        Activations::kQ8x2, &total, by_decode);
  EXPECT_GE(agreement, 0.99);
  EXPECT_LT(total.sum_abs / total.compared, 0.005) << "mean |logit error|";
  EXPECT_LT(total.max_abs, 0.05) << "max |logit error|";
  ::testing::Test::RecordProperty("top1_agree", std::to_string(agreement));
  ::testing::Test::RecordProperty("logit_abs_err_mean", std::to_string(total.sum_abs / total.compared));
}

TEST_P(EngineGoldenTest, TeacherForcedLogitsWithQ8x2Activations) {
  ExpectQ8x2MatchesTheReference(golden_, *model_, /*by_decode=*/false);
}

TEST_P(EngineGoldenTest, TeacherForcedDecodeStepsWithQ8x2Activations) {
  ExpectQ8x2MatchesTheReference(golden_, *model_, /*by_decode=*/true);
}

TEST_P(EngineGoldenTest, GreedyGenerationMatchesTheReference) {
  const auto& g = golden_["greedy"];
  const auto prompt = g["prompt_ids"].get<std::vector<int32_t>>();
  const auto expected = g["ids"].get<std::vector<int32_t>>();
  const auto margins = g["top1_margins"].get<std::vector<double>>();
  const int n = static_cast<int>(expected.size());
  auto session = Session::Create(*model_, {.threads = 2, .n_ctx = static_cast<int64_t>(prompt.size()) + n});
  ASSERT_TRUE(session.ok()) << session.status().ToString();
  Sampler greedy(SamplerConfig{}, static_cast<int32_t>(model_->config().n_vocab));
  std::vector<float> logits;
  ASSERT_TRUE((*session)->Prefill(prompt, &logits).ok());
  std::vector<int32_t> got;
  for (int i = 0; i < n; ++i) {
    got.push_back(greedy.Sample(logits));
    if (got.back() != expected[i]) break;  // diverged: later tokens are conditioned differently
    ASSERT_TRUE((*session)->Decode(got.back(), &logits).ok());
  }
  const std::string text = model_->tokenizer().Decode(got);
  std::printf("[golden] %s greedy (%zu tokens): %s\n", GetParam().c_str(), got.size(), text.c_str());
  // A divergence is acceptable only where the reference itself was nearly tied.
  for (size_t i = 0; i < got.size(); ++i) {
    if (got[i] != expected[i]) {
      EXPECT_LT(margins[i], 0.05) << "diverged at token " << i << " where the reference margin is " << margins[i]
                                  << "\n expected: " << g["text"].get<std::string>() << "\n got: " << text;
    }
  }
  if (got.size() == expected.size()) {
    EXPECT_EQ(text, g["text"].get<std::string>());
  }
}

INSTANTIATE_TEST_SUITE_P(RealModels, EngineGoldenTest,
                         ::testing::Values("gemma-3-270m-q4_k_m", "smollm2-135m-instruct-q4_1"), [](const auto& info) {
                           std::string name = info.param;
                           for (char& c : name)
                             if (!std::isalnum(static_cast<unsigned char>(c))) c = '_';
                           return name;
                         });

}  // namespace
}  // namespace tlm
