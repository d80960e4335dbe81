// The GEMM kernels of every dispatch table (gemm_q8 per weight type, gemm_f32) against the
// scalar reference (kernels/cpu/ref/gemm.h) on odd shapes: 1..9 activation rows, odd weight row
// counts, tiles of activation rows that end mid-step, and output strides wider than the slice.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <random>
#include <string>
#include <string_view>
#include <vector>

#include "tests/kernels/cpu/dispatch/isa_tables.h"
#include "engine/tensor/dtype.h"
#include "kernels/cpu/dispatch.h"
#include "kernels/cpu/ref/gemm.h"
#include "kernels/cpu/ref/quant.h"
#include "tests/kernels/cpu/ref/quant_test_util.h"

namespace tlm::cpu {
namespace {

using ref::BlockQ8;
using ref::kQ8Block;
using ref::testing::kSupportedTypes;
using ref::testing::QuantizedRow;
using ref::testing::RandomBlocks;
using ref::testing::RandomFloats;

// As the vec_dot conformance tests: exact integer block sums, float scaling and accumulation
// order differ; the error scale is sum |w_i * x_i| of each output.
constexpr double kRtol = 1e-5;
constexpr double kAtol = 1e-30;
// Written where the kernel must not write (columns past the slice of ldy).
constexpr float kCanary = -12345.0f;

bool HasFastKernel(DType type) {
  switch (type) {
    case DType::kQ8_0:
    case DType::kQ4_0:
    case DType::kQ4_1:
    case DType::kQ5_0:
    case DType::kQ4_K:
    case DType::kQ6_K:
      return true;
    default:
      return false;
  }
}

class CpuGemmTest : public ::testing::TestWithParam<std::string> {
 protected:
  void SetUp() override {
    kernels_ = TableNamed(GetParam());
    if (kernels_ == nullptr) {
      GTEST_SKIP() << "*** THIS CPU LACKS " << GetParam() << ": its kernels were NOT tested in this run ***";
    }
  }
  const CpuKernels* kernels_ = nullptr;
};

struct Shape {
  int64_t n_w, n_x, units;  // k = units * max(32, block size)
};

std::vector<Shape> ShapesFor(DType type) {
  std::vector<Shape> shapes;
  for (int64_t n_x = 1; n_x <= 9; ++n_x) shapes.push_back({n_x % 2 == 1 ? 3 : 5, n_x, n_x % 3 + 1});
  shapes.push_back({7, 4, 2});
  shapes.push_back({5, 12, 2});  // one step of 8 rows, then one of 4
  shapes.push_back({3, 16, 1});  // two steps of 8
  shapes.push_back({1, 1, 1});
  if (HasFastKernel(type)) {
    const bool k_quant = Info(type).block_elems > kQ8Block;
    // Tiles of activation rows end mid-step: 128 KiB of rows of k = 2048 is 51 rows.
    shapes.push_back({3, 70, k_quant ? 8 : 64});
    shapes.push_back({9, 13, k_quant ? 3 : 20});
    // The avx512-vnni panels' tiles (384 KiB of rows: 153 rows of k = 2048) end mid-step too.
    shapes.push_back({11, 200, k_quant ? 8 : 64});
    // 16 weight rows (the avx512-vnni 512-bit panels: two 8-row panels side by side), and 16
    // plus a tail of 3 rows on the 8-row panels.
    shapes.push_back({16, 9, 2});
    shapes.push_back({19, 12, k_quant ? 2 : 8});
  }
  return shapes;
}

TEST_P(CpuGemmTest, GemmQ8MatchesReference) {
  for (DType type : kSupportedTypes) {
    SCOPED_TRACE(std::string(DTypeName(type)));
    ASSERT_NE(kernels_->GemmQ8For(type), nullptr);
    const int64_t unit = std::max<int64_t>(kQ8Block, Info(type).block_elems);
    double worst_ratio = 0.0;
    uint32_t seed = 0;
    for (const Shape& shape : ShapesFor(type)) {
      ++seed;
      const int64_t k = shape.units * unit, nb = k / kQ8Block;
      std::mt19937 rng(seed * 7919 + static_cast<uint32_t>(k) + 17 * static_cast<uint32_t>(type));
      const size_t row_bytes = ref::testing::RowBytes(type, k);
      // Not the row length (the kernel must use the stride), but aligned as GGUF rows are: f32 weights
      // are read as floats.
      const size_t row_stride = row_bytes + 16;
      std::vector<uint8_t> w(row_stride * static_cast<size_t>(shape.n_w), 0xAB);
      std::vector<std::vector<float>> w_values;
      for (int64_t o = 0; o < shape.n_w; ++o) {
        const std::vector<uint8_t> row =
            o % 2 == 0 ? QuantizedRow(type, RandomFloats(rng, k)) : RandomBlocks(rng, type, k);
        ASSERT_EQ(row.size(), row_bytes);
        std::copy(row.begin(), row.end(), w.begin() + static_cast<int64_t>(o * row_stride));
        w_values.push_back(ref::testing::Dequantized(type, row.data(), k));
      }
      std::vector<BlockQ8> x(static_cast<size_t>(shape.n_x * nb));
      std::vector<std::vector<float>> x_values;
      for (int64_t r = 0; r < shape.n_x; ++r) {
        const std::vector<float> xf = RandomFloats(rng, k, r == 2 ? 1e-3f : 3.0f);
        ref::QuantizeRowQ8(xf.data(), x.data() + r * nb, k);
        std::vector<float> values;
        for (int64_t b = 0; b < nb; ++b) {
          for (int l = 0; l < kQ8Block; ++l) values.push_back(x[r * nb + b].d * static_cast<float>(x[r * nb + b].qs[l]));
        }
        x_values.push_back(values);
      }
      const int64_t ldy = shape.n_w + 2;
      std::vector<float> want(static_cast<size_t>(shape.n_x * ldy), kCanary);
      std::vector<float> got(want.size(), kCanary);
      ref::GemmQ8(type, w.data(), row_stride, shape.n_w, x.data(), shape.n_x, k, want.data(), ldy);
      kernels_->GemmQ8For(type)(w.data(), row_stride, shape.n_w, x.data(), shape.n_x, k, got.data(), ldy);
      for (int64_t r = 0; r < shape.n_x; ++r) {
        for (int64_t o = 0; o < ldy; ++o) {
          const float g = got[r * ldy + o], v = want[r * ldy + o];
          if (o >= shape.n_w) {
            ASSERT_EQ(g, kCanary) << "wrote past n_w: r=" << r << " o=" << o;
            continue;
          }
          double scale = 0.0;
          for (int64_t e = 0; e < k; ++e) scale += std::fabs(static_cast<double>(w_values[o][e]) * x_values[r][e]);
          const double allowed = kAtol + kRtol * scale;
          const double error = std::fabs(static_cast<double>(g) - v);
          worst_ratio = std::max(worst_ratio, error / allowed);
          ASSERT_LE(error, allowed) << "n_w=" << shape.n_w << " n_x=" << shape.n_x << " k=" << k << " r=" << r
                                    << " o=" << o << " ref=" << v << " got=" << g;
        }
      }
    }
    if (HasFastKernel(type)) {
      std::printf("[ %s ] gemm_q8 %-5s worst |error| / allowed = %.3g\n", kernels_->isa,
                  std::string(DTypeName(type)).c_str(), worst_ratio);
    }
  }
}

TEST_P(CpuGemmTest, GemmF32MatchesReference) {
  ASSERT_NE(kernels_->gemm_f32, nullptr);
  double worst_ratio = 0.0;
  uint32_t seed = 0;
  for (int64_t k : {0, 1, 7, 8, 9, 31, 64, 640, 2049}) {
    for (int64_t n_x = 1; n_x <= 9; ++n_x) {
      const int64_t n_w = n_x % 2 == 1 ? 5 : 3;
      if (k > 64 && n_x % 4 != 1) continue;  // long rows: fewer shapes
      std::mt19937 rng(++seed * 31 + static_cast<uint32_t>(k));
      const int64_t ldw = k + 3, ldx = k + 5, ldy = n_w + 1;
      const std::vector<float> w = RandomFloats(rng, n_w * ldw + 1);
      const std::vector<float> x = RandomFloats(rng, n_x * ldx + 1, 0.1f);
      std::vector<float> want(static_cast<size_t>(n_x * ldy), kCanary), got(want.size(), kCanary);
      ref::GemmF32(w.data(), ldw, n_w, x.data(), ldx, n_x, k, want.data(), ldy);
      kernels_->gemm_f32(w.data(), ldw, n_w, x.data(), ldx, n_x, k, got.data(), ldy);
      for (int64_t r = 0; r < n_x; ++r) {
        for (int64_t o = 0; o < ldy; ++o) {
          const float g = got[r * ldy + o], v = want[r * ldy + o];
          if (o >= n_w) {
            ASSERT_EQ(g, kCanary) << "wrote past n_w";
            continue;
          }
          double scale = 0.0;
          for (int64_t e = 0; e < k; ++e) scale += std::fabs(static_cast<double>(w[o * ldw + e]) * x[r * ldx + e]);
          const double allowed = kAtol + kRtol * scale;
          const double error = std::fabs(static_cast<double>(g) - v);
          worst_ratio = std::max(worst_ratio, error / allowed);
          ASSERT_LE(error, allowed) << "k=" << k << " n_x=" << n_x << " r=" << r << " o=" << o << " ref=" << v
                                    << " got=" << g;
        }
      }
    }
  }
  std::printf("[ %s ] gemm_f32 worst |error| / allowed = %.3g\n", kernels_->isa, worst_ratio);
}

INSTANTIATE_TEST_SUITE_P(Isa, CpuGemmTest, ::testing::ValuesIn(IsasOfThisBuild()),
                         [](const ::testing::TestParamInfo<std::string>& info) {
                           std::string name = info.param;  // test names take no '-'
                           std::replace(name.begin(), name.end(), '-', '_');
                           return name;
                         });

}  // namespace
}  // namespace tlm::cpu
