// cpu-xnnpack against cpu on the real models (scripts/setup fetches them): teacher-forced greedy
// top-1 agreement over a short text, at least 99%. A missing model skips loudly, or fails when
// TLM_REQUIRE_MODELS=1.
#include <gtest/gtest.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <filesystem>

#include "engine/model/model.h"
#include "engine/session/session.h"

namespace tlm {
namespace {

namespace fs = std::filesystem;

// Real models: teacher-forced top-1 agreement of cpu-xnnpack with cpu over a short text.
class XnnpackRealModelTest : public ::testing::TestWithParam<std::string> {};

TEST_P(XnnpackRealModelTest, Top1AgreesWithCpu) {
  const char* dir_env = std::getenv("TLMBENCH_MODELS");
  const std::string dir = dir_env && *dir_env ? dir_env
                                              : std::string(std::getenv("HOME") ? std::getenv("HOME") : ".") +
                                                    "/.cache/tlmbench/models";
  const std::string path = dir + "/" + GetParam();
  if (!fs::exists(path)) {
    const char* require = std::getenv("TLM_REQUIRE_MODELS");
    if (require && std::string(require) == "1") FAIL() << "model missing: " << path << " (TLM_REQUIRE_MODELS=1)";
    GTEST_SKIP() << "\n*** SKIPPED: model missing: " << path << " (run scripts/setup) ***\n";
  }
  auto model = Model::Load(path);
  ASSERT_TRUE(model.ok()) << model.status().ToString();
  const std::string text =
      "The ocean covers most of the surface of the Earth. Its water moves in currents that carry heat from the "
      "equator towards the poles, and the tides rise and fall twice a day because of the pull of the Moon. "
      "Many animals live in the deep sea, where no sunlight reaches, and some of them make their own light.";
  const std::vector<int32_t> ids = (*model)->tokenizer().Encode(text, true, false);
  ASSERT_GE(ids.size(), 50u);
  const int64_t V = (*model)->config().n_vocab;
  auto argmaxes = [&](const std::string& backend) {
    std::vector<int32_t> top;
    auto s = Session::Create(**model, {.backend = backend, .threads = 2, .n_ctx = 256, .prefill_chunk = 32});
    EXPECT_TRUE(s.ok()) << s.status().ToString();
    if (!s.ok()) return top;
    std::vector<float> logits;
    for (size_t begin = 0; begin < ids.size(); begin += 32) {
      const size_t n = std::min<size_t>(32, ids.size() - begin);
      Status st = (*s)->Prefill(std::span<const int32_t>(ids).subspan(begin, n), &logits, true);
      EXPECT_TRUE(st.ok()) << st.ToString();
      if (!st.ok()) return top;
      for (size_t r = 0; r < n; ++r) {
        const float* row = logits.data() + r * V;
        top.push_back(static_cast<int32_t>(std::max_element(row, row + V) - row));
      }
    }
    return top;
  };
  const auto ref = argmaxes("cpu");
  const auto got = argmaxes("cpu-xnnpack");
  ASSERT_EQ(ref.size(), ids.size());
  ASSERT_EQ(got.size(), ids.size());
  int agree = 0;
  for (size_t i = 0; i < ids.size(); ++i) agree += ref[i] == got[i];
  const double frac = static_cast<double>(agree) / ids.size();
  std::printf("%s: cpu-xnnpack top-1 agrees with cpu at %d/%zu positions (%.1f%%)\n", GetParam().c_str(), agree,
              ids.size(), 100 * frac);
  EXPECT_GE(frac, 0.99);
}

INSTANTIATE_TEST_SUITE_P(Golden, XnnpackRealModelTest,
                         ::testing::Values("gemma-3-270m-q4_k_m.gguf", "smollm2-135m-instruct-q4_1.gguf"),
                         [](const auto& info) { return std::string(info.param[0] == 'g' ? "gemma3_270m" : "smollm2_135m"); });

}  // namespace
}  // namespace tlm
