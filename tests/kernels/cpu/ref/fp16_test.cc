// Tests of the fp16 and bf16 conversions: exhaustive decoding, round-to-nearest-even encoding
// against independent references, and the special values (zeros, subnormals, Inf, NaN).
#include <gtest/gtest.h>

#include <bit>
#include <cmath>
#include <cstdint>
#include <limits>
#include <random>

#include "kernels/cpu/ref/quant.h"

namespace tlm::cpu::ref {
namespace {

// Decodes binary16 from its definition, in double.
double HalfByDefinition(uint16_t h) {
  const int sign = (h >> 15) ? -1 : 1;
  const int exponent = (h >> 10) & 0x1f;
  const int mantissa = h & 0x3ff;
  if (exponent == 0) return sign * std::ldexp(mantissa, -24);
  if (exponent == 31) {
    return mantissa == 0 ? sign * std::numeric_limits<double>::infinity()
                         : std::numeric_limits<double>::quiet_NaN();
  }
  return sign * std::ldexp(1024 + mantissa, exponent - 25);
}

bool IsHalfNaN(uint16_t h) { return (h & 0x7c00) == 0x7c00 && (h & 0x3ff) != 0; }

// Nearest half to a finite float by exhaustive comparison in double (ties to even mantissa),
// independent of the bit tricks under test.
uint16_t NearestHalfBySearch(float f) {
  const double v = f;
  const uint16_t sign = std::signbit(f) ? 0x8000 : 0;
  const double a = std::fabs(v);
  // Largest finite half 65504; beyond 65520 (inclusive) the nearest is Inf.
  if (a >= 65520.0) return sign | 0x7c00;
  // Binary search over the ordered positive halves 0x0000..0x7bff.
  uint16_t lo = 0, hi = 0x7bff;
  while (hi - lo > 1) {
    const uint16_t mid = static_cast<uint16_t>((lo + hi) / 2);
    if (HalfByDefinition(mid) <= a) {
      lo = mid;
    } else {
      hi = mid;
    }
  }
  const double dlo = a - HalfByDefinition(lo);
  const double dhi = HalfByDefinition(hi) - a;
  uint16_t best;
  if (dlo < dhi) {
    best = lo;
  } else if (dhi < dlo) {
    best = hi;
  } else {
    best = (lo & 1) ? hi : lo;
  }
  if (a >= 65504.0) best = 0x7bff;  // [65504, 65520) rounds down to the largest half
  return static_cast<uint16_t>(sign | best);
}

TEST(F16, DecodesEveryValueByDefinition) {
  for (uint32_t h = 0; h <= 0xffff; ++h) {
    const float got = F16ToF32(static_cast<uint16_t>(h));
    const double want = HalfByDefinition(static_cast<uint16_t>(h));
    if (IsHalfNaN(static_cast<uint16_t>(h))) {
      EXPECT_TRUE(std::isnan(got)) << std::hex << h;
      EXPECT_EQ(std::signbit(got), (h & 0x8000) != 0) << std::hex << h;
    } else {
      EXPECT_EQ(static_cast<double>(got), want) << std::hex << h;
      EXPECT_EQ(std::signbit(got), (h & 0x8000) != 0) << std::hex << h;  // -0.0 stays -0.0
    }
  }
}

TEST(F16, EncodeDecodeRoundTripsEveryNonNaN) {
  for (uint32_t h = 0; h <= 0xffff; ++h) {
    const auto bits = static_cast<uint16_t>(h);
    const uint16_t back = F32ToF16(F16ToF32(bits));
    if (IsHalfNaN(bits)) {
      EXPECT_TRUE(IsHalfNaN(back)) << std::hex << h;
      EXPECT_EQ(back & 0x8000, bits & 0x8000) << std::hex << h;
    } else {
      EXPECT_EQ(back, bits) << std::hex << h;
    }
  }
}

TEST(F16, EncodesEdgeCases) {
  struct Case {
    float in;
    uint16_t out;
  };
  const Case cases[] = {
      {0.0f, 0x0000},
      {-0.0f, 0x8000},
      {1.0f, 0x3c00},
      {-2.0f, 0xc000},
      {65504.0f, 0x7bff},
      {65519.99f, 0x7bff},
      {65520.0f, 0x7c00},  // halfway to 2^16, odd mantissa: ties to Inf
      {-65520.0f, 0xfc00},
      {1e10f, 0x7c00},
      {std::numeric_limits<float>::infinity(), 0x7c00},
      {-std::numeric_limits<float>::infinity(), 0xfc00},
      {std::ldexp(1.0f, -14), 0x0400},                          // smallest normal
      {std::ldexp(1.0f, -14) - std::ldexp(1.0f, -25), 0x0400},  // 1023.5 units: tie to even
      {std::ldexp(1.0f, -24), 0x0001},                          // smallest subnormal
      {std::ldexp(1.0f, -25), 0x0000},                          // tie to even (zero)
      {std::ldexp(1.0f, -25) * 1.0001f, 0x0001},
      {std::ldexp(3.0f, -26), 0x0001},  // 0.75 units
      {std::ldexp(3.0f, -25), 0x0002},  // 1.5 units: tie to even 2
      {std::ldexp(5.0f, -25), 0x0002},  // 2.5 units: tie to even 2
      {-std::ldexp(1023.0f, -24), 0x83ff},
      {1e-8f, 0x0000},
      {-1e-8f, 0x8000},
      {std::numeric_limits<float>::denorm_min(), 0x0000},
      {1.0f + std::ldexp(1.0f, -11), 0x3c00},  // tie: stays on the even mantissa
      {1.0f + std::ldexp(3.0f, -11), 0x3c02},  // tie: up to the even mantissa
      {1.0f + std::ldexp(1.0f, -11) * 1.001f, 0x3c01},
      {2047.5f, 0x6800},  // 0x67ff is 2047, 2048 is even: tie goes up (with exponent carry)
  };
  for (const Case& c : cases) {
    EXPECT_EQ(F32ToF16(c.in), c.out) << c.in;
  }
}

TEST(F16, EncodesNaNAsQuietNaN) {
  const uint32_t nans[] = {0x7fc00000u, 0x7f800001u, 0xffc00000u, 0x7fffffffu, 0x7f802000u};
  for (uint32_t bits : nans) {
    const uint16_t h = F32ToF16(std::bit_cast<float>(bits));
    EXPECT_TRUE(IsHalfNaN(h)) << std::hex << bits;
    EXPECT_EQ(h & 0x0200, 0x0200) << std::hex << bits;  // quiet bit
    EXPECT_EQ((h & 0x8000) != 0, (bits & 0x80000000u) != 0) << std::hex << bits;
  }
}

TEST(F16, EncodesLikeExhaustiveNearestSearch) {
  std::mt19937 rng(1);
  std::uniform_int_distribution<uint32_t> bits(0, 0xffffffffu);
  // Random bit patterns, and floats in the half range, where the rounding matters most.
  std::uniform_real_distribution<float> exponent(-27.0f, 17.0f);
  for (int i = 0; i < 200000; ++i) {
    float f = std::bit_cast<float>(bits(rng));
    if (i % 2 == 1) f = std::copysign(std::exp2(exponent(rng)), f);
    if (std::isnan(f)) continue;
    ASSERT_EQ(F32ToF16(f), NearestHalfBySearch(f)) << std::hexfloat << f;
  }
  // Every tie and near-tie in the normal range: low 13 bits at and around the halfway point.
  for (uint32_t exp = 113; exp <= 142; ++exp) {
    for (uint32_t mant_high = 0; mant_high < 1024; mant_high += 7) {
      for (uint32_t low : {0x0fffu, 0x1000u, 0x1001u, 0x0000u, 0x1fffu}) {
        const float f = std::bit_cast<float>((exp << 23) | (mant_high << 13) | low);
        ASSERT_EQ(F32ToF16(f), NearestHalfBySearch(f)) << std::hexfloat << f;
      }
    }
  }
}

TEST(BF16, DecodesByShifting) {
  for (uint32_t h = 0; h <= 0xffff; ++h) {
    const float got = BF16ToF32(static_cast<uint16_t>(h));
    EXPECT_EQ(std::bit_cast<uint32_t>(got), h << 16);
  }
}

// Nearest bf16 to a finite float, comparing the two candidates in double.
uint16_t NearestBF16(float f) {
  const uint32_t bits = std::bit_cast<uint32_t>(f);
  const auto down = static_cast<uint16_t>(bits >> 16);
  const auto up = static_cast<uint16_t>(down + 1);
  const double v = std::fabs(static_cast<double>(f));
  const double lo = std::fabs(static_cast<double>(BF16ToF32(down)));
  const double hi_value = BF16ToF32(up);
  const double hi = std::isinf(hi_value) ? std::ldexp(1.0, 128) : std::fabs(hi_value);
  if (v - lo < hi - v) return down;
  if (hi - v < v - lo) return up;
  return (down & 1) ? up : down;
}

TEST(BF16, RoundsToNearestEven) {
  struct Case {
    uint32_t in;
    uint16_t out;
  };
  const Case cases[] =
      {
          {0x3f800000u, 0x3f80}, {0x3f808000u, 0x3f80},  // tie, even stays
          {0x3f818000u, 0x3f82},                         // tie, odd goes up
          {0x3f808001u, 0x3f81}, {0x3f807fffu, 0x3f80},
          {0x7f7fffffu, 0x7f80},  // past the largest bf16: Inf
          {0x7f800000u, 0x7f80}, {0xff800000u, 0xff80},
          {0x80000000u, 0x8000}, {0x00008000u, 0x0000},
          {0x00018000u, 0x0002},
      };
  for (const Case& c : cases) {
    EXPECT_EQ(F32ToBF16(std::bit_cast<float>(c.in)), c.out) << std::hex << c.in;
  }
  const uint32_t nans[] = {0x7fc00000u, 0x7f800001u, 0xff800001u, 0x7f80ffffu};
  for (uint32_t bits : nans) {
    const uint16_t h = F32ToBF16(std::bit_cast<float>(bits));
    EXPECT_TRUE(std::isnan(BF16ToF32(h))) << std::hex << bits;
    EXPECT_EQ(h & 0x0040, 0x0040) << std::hex << bits;
    EXPECT_EQ(h & 0x8000, (bits >> 16) & 0x8000) << std::hex << bits;
  }
  std::mt19937 rng(2);
  std::uniform_int_distribution<uint32_t> bits(0, 0xffffffffu);
  for (int i = 0; i < 200000; ++i) {
    const uint32_t b = bits(rng);
    const float f = std::bit_cast<float>(b);
    if (!std::isfinite(f)) continue;
    ASSERT_EQ(F32ToBF16(f), NearestBF16(f)) << std::hex << b;
  }
}

}  // namespace
}  // namespace tlm::cpu::ref
