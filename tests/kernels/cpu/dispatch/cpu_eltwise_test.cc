// The elementwise kernels of every dispatch table of this build against the scalar reference
// (kernels/cpu/ref/eltwise.h): exp and tanh in ulp over dense ranges and at the edges (huge
// arguments, subnormal results, infinities, NaN); the gated activations, add and RMS norm on
// random rows of many lengths, odd tails included.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <limits>
#include <random>
#include <vector>

#include "kernels/cpu/dispatch.h"
#include "kernels/cpu/ref/eltwise.h"

namespace tlm::cpu {
namespace {

std::vector<const CpuKernels*> Tables() {
  std::vector<const CpuKernels*> tables = {&ReferenceCpuKernels()};
  for (const CpuKernels* t : {Avx2CpuKernels(), Avx512VnniCpuKernels(), NeonCpuKernels(), NeonDotprodCpuKernels()})
    if (t != nullptr) tables.push_back(t);
  return tables;
}

// Distance in units in the last place: floats mapped onto a monotonic integer line.
int64_t UlpDistance(float a, float b) {
  auto line = [](float f) {
    int32_t i;
    std::memcpy(&i, &f, sizeof(i));
    return i < 0 ? -static_cast<int64_t>(i & 0x7fffffff) : static_cast<int64_t>(i);
  };
  const int64_t d = line(a) - line(b);
  return d < 0 ? -d : d;
}

// Max ulp error of `fn` against `exact` on xs; NaN must map to NaN, and a non-NaN result must
// not be NaN.
int64_t MaxUlp(UnaryF32Fn fn, float (*exact)(float), const std::vector<float>& xs, float* worst_x) {
  std::vector<float> ys(xs.size());
  fn(xs.data(), ys.data(), static_cast<int64_t>(xs.size()));
  int64_t worst = 0;
  for (size_t i = 0; i < xs.size(); ++i) {
    const float want = exact(xs[i]);
    if (std::isnan(want) || std::isnan(ys[i])) {
      EXPECT_EQ(std::isnan(want), std::isnan(ys[i])) << "x=" << xs[i] << " got " << ys[i] << " want " << want;
      continue;
    }
    const int64_t d = UlpDistance(ys[i], want);
    if (d > worst) {
      worst = d;
      *worst_x = xs[i];
    }
  }
  return worst;
}

std::vector<float> Range(float lo, float hi, float step) {
  std::vector<float> xs;
  for (double x = lo; x <= hi; x += step) xs.push_back(static_cast<float>(x));
  return xs;
}

std::vector<float> Specials() {
  const float inf = std::numeric_limits<float>::infinity();
  return {0.f,     -0.f,    inf,    -inf,   std::numeric_limits<float>::quiet_NaN(), std::numeric_limits<float>::max(),
          -std::numeric_limits<float>::max(), std::numeric_limits<float>::denorm_min(), -1e-30f, 1e-30f, 1e30f, -1e30f,
          88.7f,   88.73f,  89.5f,  -87.3f, -100.f, -103.9f, -104.5f, -150.f, 9.f, -9.f, 20.f, -20.f, 0.625f, -0.625f};
}

float StdExp(float x) { return std::exp(x); }
float StdTanh(float x) { return std::tanh(x); }

TEST(CpuEltwise, ExpWithinTwoUlpOfStdExp) {
  std::vector<float> xs = Range(-110.f, 95.f, 1.37e-4f);  // subnormal results and overflow included
  for (float x : Specials()) xs.push_back(x);
  for (const CpuKernels* t : Tables()) {
    float worst_x = 0;
    const int64_t ulp = MaxUlp(t->exp_f32, &StdExp, xs, &worst_x);
    EXPECT_LE(ulp, 2) << t->isa << " worst at x=" << worst_x;
    std::printf("%s exp: max %lld ulp (at x=%g)\n", t->isa, static_cast<long long>(ulp), worst_x);
  }
}

TEST(CpuEltwise, TanhWithinThreeUlpOfStdTanh) {
  std::vector<float> xs = Range(-12.f, 12.f, 1.1e-5f);
  for (float x : Range(-1e-3f, 1e-3f, 3.3e-8f)) xs.push_back(x);  // tiny arguments
  for (float x : Specials()) xs.push_back(x);
  for (const CpuKernels* t : Tables()) {
    float worst_x = 0;
    const int64_t ulp = MaxUlp(t->tanh_f32, &StdTanh, xs, &worst_x);
    EXPECT_LE(ulp, 3) << t->isa << " worst at x=" << worst_x;
    std::printf("%s tanh: max %lld ulp (at x=%g)\n", t->isa, static_cast<long long>(ulp), worst_x);
  }
}

TEST(CpuEltwise, ExpAndTanhAtTheEdges) {
  const float inf = std::numeric_limits<float>::infinity(), nan = std::numeric_limits<float>::quiet_NaN();
  const std::vector<float> xs = {inf, -inf, nan, 1000.f, -1000.f, 0.f};
  for (const CpuKernels* t : Tables()) {
    std::vector<float> e(xs.size()), th(xs.size());
    t->exp_f32(xs.data(), e.data(), static_cast<int64_t>(xs.size()));
    t->tanh_f32(xs.data(), th.data(), static_cast<int64_t>(xs.size()));
    EXPECT_EQ(e[0], inf) << t->isa;
    EXPECT_EQ(e[1], 0.f) << t->isa;
    EXPECT_TRUE(std::isnan(e[2])) << t->isa;
    EXPECT_EQ(e[3], inf) << t->isa;
    EXPECT_EQ(e[4], 0.f) << t->isa;
    EXPECT_EQ(e[5], 1.f) << t->isa;
    EXPECT_EQ(th[0], 1.f) << t->isa;
    EXPECT_EQ(th[1], -1.f) << t->isa;
    EXPECT_TRUE(std::isnan(th[2])) << t->isa;
    EXPECT_EQ(th[3], 1.f) << t->isa;
    EXPECT_EQ(th[4], -1.f) << t->isa;
    EXPECT_EQ(th[5], 0.f) << t->isa;
  }
}

// Lengths around the 8- and 16-lane steps, and a few row widths of real models.
std::vector<int64_t> Lengths() {
  std::vector<int64_t> ns;
  for (int64_t n = 0; n <= 40; ++n) ns.push_back(n);
  for (int64_t n : {63, 64, 65, 255, 256, 257, 640, 1000, 2048, 4099}) ns.push_back(n);
  return ns;
}

std::vector<float> RandomRow(std::mt19937& rng, int64_t n, float scale) {
  std::normal_distribution<float> dist(0.f, scale);
  std::vector<float> v(static_cast<size_t>(n));
  for (float& x : v) x = dist(rng);
  return v;
}

TEST(CpuEltwise, AddIsExact) {
  std::mt19937 rng(1);
  for (const CpuKernels* t : Tables())
    for (int64_t n : Lengths()) {
      const auto a = RandomRow(rng, n, 3.f), b = RandomRow(rng, n, 3.f);
      std::vector<float> got(static_cast<size_t>(n) + 1, -7.f), want(static_cast<size_t>(n));
      t->add_f32(a.data(), b.data(), got.data(), n);
      ref::AddF32(a.data(), b.data(), want.data(), n);
      for (int64_t i = 0; i < n; ++i) ASSERT_EQ(got[i], want[i]) << t->isa << " n=" << n << " i=" << i;
      ASSERT_EQ(got[static_cast<size_t>(n)], -7.f) << t->isa << " wrote past n=" << n;
    }
}

// The gates: the fast tanh / exp differ from std's by a few ulp; the reference's own rounding
// of 1 + tanh(u) (or of 1 + exp(-x)) scales that by at most |x b| / 2 (or |x b|).
TEST(CpuEltwise, GatesMatchTheReference) {
  std::mt19937 rng(2);
  for (const CpuKernels* t : Tables())
    for (int64_t n : Lengths())
      for (float scale : {0.5f, 4.f, 30.f}) {
        const auto a = RandomRow(rng, n, scale), b = RandomRow(rng, n, 2.f);
        for (const bool gelu : {true, false}) {
          std::vector<float> got(static_cast<size_t>(n) + 1, -7.f), want(static_cast<size_t>(n));
          (gelu ? t->gelu_tanh_gate_f32 : t->silu_gate_f32)(a.data(), b.data(), got.data(), n);
          (gelu ? ref::GeluTanhGateF32 : ref::SiluGateF32)(a.data(), b.data(), want.data(), n);
          for (int64_t i = 0; i < n; ++i) {
            const float tol = 4e-7f * std::abs(a[i] * b[i]) + 4e-7f * std::abs(want[i]) + 1e-30f;
            ASSERT_NEAR(got[i], want[i], tol) << t->isa << (gelu ? " gelu" : " silu") << " n=" << n << " x=" << a[i];
          }
          ASSERT_EQ(got[static_cast<size_t>(n)], -7.f) << t->isa << " wrote past n=" << n;
        }
      }
}

TEST(CpuEltwise, GatesInPlace) {
  std::mt19937 rng(3);
  for (const CpuKernels* t : Tables()) {
    const auto a = RandomRow(rng, 77, 3.f), b = RandomRow(rng, 77, 1.f);
    std::vector<float> want(77), got = a;
    t->silu_gate_f32(a.data(), b.data(), want.data(), 77);
    t->silu_gate_f32(got.data(), b.data(), got.data(), 77);
    EXPECT_EQ(got, want) << t->isa;
  }
}

TEST(CpuEltwise, RmsNormMatchesTheReference) {
  std::mt19937 rng(4);
  for (const CpuKernels* t : Tables())
    for (int64_t n : Lengths()) {
      if (n == 0) continue;
      for (const bool weighted : {true, false}) {
        const auto x = RandomRow(rng, n, 5.f), w = RandomRow(rng, n, 1.f);
        std::vector<float> got(static_cast<size_t>(n) + 1, -7.f), want(static_cast<size_t>(n));
        t->rms_norm_f32(x.data(), weighted ? w.data() : nullptr, got.data(), n, 1e-6f);
        ref::RmsNormF32(x.data(), weighted ? w.data() : nullptr, want.data(), n, 1e-6f);
        for (int64_t i = 0; i < n; ++i)
          ASSERT_LE(UlpDistance(got[i], want[i]), 1) << t->isa << " n=" << n << " i=" << i;
        ASSERT_EQ(got[static_cast<size_t>(n)], -7.f) << t->isa << " wrote past n=" << n;
      }
    }
}

TEST(CpuEltwise, RmsNormOfZerosIsZero) {
  for (const CpuKernels* t : Tables()) {
    std::vector<float> x(33, 0.f), y(33, 1.f);
    t->rms_norm_f32(x.data(), nullptr, y.data(), 33, 1e-5f);
    for (float v : y) EXPECT_EQ(v, 0.f) << t->isa;
  }
}

}  // namespace
}  // namespace tlm::cpu
