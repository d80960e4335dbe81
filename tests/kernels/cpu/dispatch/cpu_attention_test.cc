// The attention kernel of every dispatch table (attention_f32) against the scalar reference
// (kernels/cpu/ref/attention.h): head sizes 64/80/128/256 and odd ones, grouped query heads, a
// decode row and prefill blocks whose keys come from both the KV ring (wrapped) and the step's own
// rows, sliding windows narrower and wider than the range, work split by rows and KV heads, and
// split-K pieces combined with ref::AttentionCombine.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <random>
#include <string>
#include <string_view>
#include <vector>

#include "tests/kernels/cpu/dispatch/isa_tables.h"
#include "kernels/cpu/dispatch.h"
#include "kernels/cpu/ref/attention.h"

namespace tlm::cpu {
namespace {

using ref::AttentionArgs;
using ref::AttentionPartial;
using ref::AttentionWork;

// Different summation order, a polynomial exp and an online softmax: outputs (weighted means
// of values in [-1, 1]) agree within float rounding.
constexpr double kAtol = 2e-5;
constexpr double kRtol = 1e-4;

struct Case {
  int64_t head_dim, n_head, n_kv_head, rows, pos0, capacity, window;
  float scale;  // 0: 1 / sqrt(head_dim)
};

std::string Describe(const Case& c) {
  return "head_dim " + std::to_string(c.head_dim) + ", heads " + std::to_string(c.n_head) + "/" +
         std::to_string(c.n_kv_head) + ", rows " + std::to_string(c.rows) + ", pos0 " + std::to_string(c.pos0) +
         ", capacity " + std::to_string(c.capacity) + ", window " + std::to_string(c.window);
}

// Random queries, keys and values for one case; out sized for the result.
struct Inputs {
  explicit Inputs(const Case& c, uint32_t seed) {
    std::mt19937 rng(seed);
    std::uniform_real_distribution<float> dist(-1.f, 1.f);
    auto fill = [&](std::vector<float>& v, int64_t n) {
      v.resize(static_cast<size_t>(n));
      for (float& x : v) x = dist(rng);
    };
    const int64_t kv_width = c.n_kv_head * c.head_dim, q_width = c.n_head * c.head_dim;
    fill(q, c.rows * q_width);
    fill(k_cache, c.capacity * kv_width);
    fill(v_cache, c.capacity * kv_width);
    fill(k_new, c.rows * kv_width);
    fill(v_new, c.rows * kv_width);
    args.q = q.data();
    args.k_cache = k_cache.data();
    args.v_cache = v_cache.data();
    args.capacity = c.capacity;
    args.k_new = k_new.data();
    args.v_new = v_new.data();
    args.pos0 = c.pos0;
    args.rows = c.rows;
    args.n_head = c.n_head;
    args.n_kv_head = c.n_kv_head;
    args.head_dim = c.head_dim;
    args.window = c.window;
    args.scale = c.scale != 0.f ? c.scale : 1.f / std::sqrt(static_cast<float>(c.head_dim));
    scratch.resize(
        static_cast<size_t>(ref::AttentionScratchFloats(c.n_head, c.n_kv_head, c.head_dim, c.pos0 + c.rows)));
  }
  AttentionWork All() const { return {0, args.rows, 0, args.n_kv_head}; }
  std::vector<float> q, k_cache, v_cache, k_new, v_new, scratch;
  AttentionArgs args;
};

void ExpectNear(const std::vector<float>& got, const std::vector<float>& want, const std::string& what) {
  ASSERT_EQ(got.size(), want.size());
  int bad = 0;
  for (size_t i = 0; i < want.size(); ++i) {
    const double tol = kAtol + kRtol * std::fabs(want[i]);
    if (!(std::fabs(got[i] - want[i]) <= tol) && ++bad <= 3)
      ADD_FAILURE() << what << ": element " << i << " is " << got[i] << ", reference " << want[i];
  }
  EXPECT_EQ(bad, 0) << what;
}

std::vector<float> Reference(Inputs& in) {
  std::vector<float> out(static_cast<size_t>(in.args.rows * in.args.n_head * in.args.head_dim), NAN);
  AttentionArgs args = in.args;
  args.out = out.data();
  ref::Attention(args, in.All(), nullptr, in.scratch.data());
  return out;
}

class CpuAttentionTest : public ::testing::TestWithParam<std::string> {
 protected:
  void SetUp() override {
    kernels_ = TableNamed(GetParam());
    if (kernels_ == nullptr) {
      GTEST_SKIP() << "*** THIS CPU LACKS " << GetParam() << ": its kernels were NOT tested in this run ***";
    }
    ASSERT_NE(kernels_->attention_f32, nullptr);
  }

  // The whole step in one call, then in pieces of rows and KV heads, against the reference.
  void Check(const Case& c, uint32_t seed) {
    Inputs in(c, seed);
    const std::vector<float> want = Reference(in);
    std::vector<float> got(want.size(), NAN);
    AttentionArgs args = in.args;
    args.out = got.data();
    kernels_->attention_f32(args, in.All(), nullptr, in.scratch.data());
    ExpectNear(got, want, Describe(c) + " (one piece)");

    std::fill(got.begin(), got.end(), NAN);
    const int64_t row_step = std::max<int64_t>(1, c.rows / 3);
    for (int64_t kvh = 0; kvh < c.n_kv_head; ++kvh)
      for (int64_t t = 0; t < c.rows; t += row_step)
        kernels_->attention_f32(args, {t, std::min(t + row_step, c.rows), kvh, kvh + 1}, nullptr, in.scratch.data());
    ExpectNear(got, want, Describe(c) + " (pieces of " + std::to_string(row_step) + " rows, one KV head)");
  }

  const CpuKernels* kernels_ = nullptr;
};

TEST_P(CpuAttentionTest, HeadSizesAndGroups) {
  const int64_t head_dims[] = {64, 80, 128, 256, 1, 7, 13, 24, 33};  // 24: a lone 8-float step
  const int64_t heads[][2] = {{1, 1}, {4, 1}, {8, 2}, {3, 3}, {12, 1}};
  uint32_t seed = 1;
  for (int64_t hd : head_dims)
    for (const auto& h : heads) {
      Check({hd, h[0], h[1], 1, 90, 128, 0, 0.f}, seed++);   // decode
      Check({hd, h[0], h[1], 21, 40, 128, 0, 0.f}, seed++);  // prefill after a prefix
    }
}

TEST_P(CpuAttentionTest, PrefillRowsWindowsAndRing) {
  uint32_t seed = 100;
  for (int64_t rows : {1, 2, 3, 7, 16, 33, 70})
    for (int64_t pos0 : {0, 5, 150})
      for (int64_t window : {0, 1, 4, 40, 100, 4096}) {
        // Without a window every position must fit; with one, a ring of window + rows slots
        // (wraps once pos0 + rows passes it), as the backend's sliding-window layers.
        const int64_t capacity = window == 0 || window >= 1000 ? pos0 + rows : window + rows;
        Check({64, 4, 1, rows, pos0, capacity, window, 0.f}, seed++);
      }
}

TEST_P(CpuAttentionTest, LargeScoresStayStable) {
  // Scores of hundreds: the softmax must subtract the running max.
  Check({128, 4, 1, 9, 60, 128, 0, 8.f}, 7);
  Check({80, 8, 2, 1, 300, 64, 50, 16.f}, 8);
}

// Split-K: the keys of each row cut into chunks (some empty for some rows), partials combined.
TEST_P(CpuAttentionTest, SplitKeysCombine) {
  const Case cases[] = {
      {256, 4, 1, 1, 600, 512, 512, 0.f},  // Gemma 3 decode on a sliding layer, ring wrapped
      {64, 8, 2, 1, 200, 256, 0, 0.f},     // decode, full causal
      {80, 3, 3, 1, 33, 64, 0, 2.f},       // three heads of their own, scale 2
      {128, 4, 1, 12, 100, 112, 0, 0.f},   // several rows
      {33, 4, 1, 5, 70, 40, 30, 0.f},      // window inside one chunk for some rows
  };
  uint32_t seed = 500;
  for (const Case& c : cases)
    for (int64_t chunks : {1, 2, 3, 7}) {
      Inputs in(c, seed++);
      const std::vector<float> want = Reference(in);
      const int64_t n_vec = c.rows * c.n_head, hd = c.head_dim;
      const int64_t end = c.pos0 + c.rows;
      std::vector<float> max(static_cast<size_t>(chunks * n_vec)), sum(max.size());
      std::vector<float> acc(static_cast<size_t>(chunks * n_vec * hd));
      std::vector<AttentionPartial> parts(static_cast<size_t>(chunks));
      for (int64_t ch = 0; ch < chunks; ++ch) {
        parts[ch] = {max.data() + ch * n_vec, sum.data() + ch * n_vec, acc.data() + ch * n_vec * hd};
        AttentionWork w = in.All();
        w.key_begin = end * ch / chunks;
        w.key_end = end * (ch + 1) / chunks;
        kernels_->attention_f32(in.args, w, &parts[ch], in.scratch.data());
      }
      std::vector<float> got(want.size(), NAN);
      ref::AttentionCombine(parts.data(), chunks, n_vec, hd, got.data());
      ExpectNear(got, want, Describe(c) + " in " + std::to_string(chunks) + " key chunks");
    }
}

INSTANTIATE_TEST_SUITE_P(Isas, CpuAttentionTest, ::testing::ValuesIn(IsasOfThisBuild()),
                         [](const ::testing::TestParamInfo<std::string>& info) {
                           std::string name = info.param;
                           std::replace(name.begin(), name.end(), '-', '_');
                           return name;
                         });

}  // namespace
}  // namespace tlm::cpu
