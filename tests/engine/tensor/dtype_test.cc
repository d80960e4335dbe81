// Tests of the DType table: ggml block geometry, names, parsing, and checked row sizes.
#include "engine/tensor/dtype.h"

#include <gtest/gtest.h>

#include <cstdint>
#include <limits>
#include <set>
#include <string>

namespace tlm {
namespace {

TEST(DType, GeometryMatchesGgml) {
  struct Row {
    DType type;
    uint32_t id;
    const char* name;
    int64_t block_elems;
    int64_t block_bytes;
    bool supported;
  };
  const Row rows[] = {
      {DType::kF32, 0, "f32", 1, 4, true},        {DType::kF16, 1, "f16", 1, 2, true},
      {DType::kQ4_0, 2, "q4_0", 32, 18, true},    {DType::kQ4_1, 3, "q4_1", 32, 20, true},
      {DType::kQ5_0, 6, "q5_0", 32, 22, true},    {DType::kQ5_1, 7, "q5_1", 32, 24, true},
      {DType::kQ8_0, 8, "q8_0", 32, 34, true},    {DType::kQ8_1, 9, "q8_1", 32, 36, false},
      {DType::kQ2_K, 10, "q2_k", 256, 84, true},  {DType::kQ3_K, 11, "q3_k", 256, 110, true},
      {DType::kQ4_K, 12, "q4_k", 256, 144, true}, {DType::kQ5_K, 13, "q5_k", 256, 176, true},
      {DType::kQ6_K, 14, "q6_k", 256, 210, true}, {DType::kQ8_K, 15, "q8_k", 256, 292, false},
      {DType::kI8, 24, "i8", 1, 1, false},        {DType::kI16, 25, "i16", 1, 2, false},
      {DType::kI32, 26, "i32", 1, 4, false},      {DType::kI64, 27, "i64", 1, 8, false},
      {DType::kF64, 28, "f64", 1, 8, false},      {DType::kBF16, 30, "bf16", 1, 2, true},
  };
  for (const Row& row : rows) {
    EXPECT_EQ(static_cast<uint32_t>(row.type), row.id);
    const DTypeInfo* info = FindDType(row.id);
    ASSERT_NE(info, nullptr) << row.name;
    EXPECT_EQ(info->type, row.type);
    EXPECT_EQ(info->name, row.name);
    EXPECT_EQ(info->block_elems, row.block_elems) << row.name;
    EXPECT_EQ(info->block_bytes, row.block_bytes) << row.name;
    EXPECT_EQ(info->engine_supported, row.supported) << row.name;
    EXPECT_EQ(&Info(row.type), info);
    EXPECT_EQ(DTypeName(row.type), row.name);
  }
}

TEST(DType, UnknownIdsAreNotFound) {
  // 4 and 5 were Q4_2/Q4_3 (removed); 16..23 and 29 are IQ types; 31+ are newer types.
  for (uint32_t id : {4u, 5u, 16u, 20u, 23u, 29u, 31u, 39u, 1000u, 0xffffffffu}) {
    EXPECT_EQ(FindDType(id), nullptr) << id;
  }
  uint64_t bytes = 0;
  EXPECT_FALSE(ElemsToBytes(static_cast<DType>(4), 32, &bytes));
}

TEST(DType, ParsesNamesCaseInsensitively) {
  std::set<uint32_t> seen;
  for (uint32_t id = 0; id < 64; ++id) {
    const DTypeInfo* info = FindDType(id);
    if (info == nullptr) continue;
    DType parsed = DType::kF32;
    ASSERT_TRUE(ParseDType(info->name, &parsed)) << info->name;
    EXPECT_EQ(parsed, info->type);
    std::string upper(info->name);
    for (char& c : upper) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
    ASSERT_TRUE(ParseDType(upper, &parsed)) << upper;
    EXPECT_EQ(parsed, info->type);
    seen.insert(id);
  }
  EXPECT_EQ(seen.size(), 20u);
  DType untouched = DType::kQ6_K;
  for (const char* bad : {"", "q4", "q4_k_m", "f32 ", "iq2_xxs", "q4_2"}) {
    EXPECT_FALSE(ParseDType(bad, &untouched)) << bad;
  }
  EXPECT_EQ(untouched, DType::kQ6_K);
}

TEST(DType, ElemsToBytes) {
  uint64_t bytes = 12345;
  EXPECT_TRUE(ElemsToBytes(DType::kF32, 0, &bytes));
  EXPECT_EQ(bytes, 0u);
  EXPECT_TRUE(ElemsToBytes(DType::kF16, 640, &bytes));
  EXPECT_EQ(bytes, 1280u);
  EXPECT_TRUE(ElemsToBytes(DType::kQ8_0, 576, &bytes));
  EXPECT_EQ(bytes, 18u * 34u);
  EXPECT_TRUE(ElemsToBytes(DType::kQ4_K, 640 * 2048, &bytes));
  EXPECT_EQ(bytes, 640u * 8u * 144u);
  EXPECT_TRUE(ElemsToBytes(DType::kQ6_K, 262144ull * 640, &bytes));
  EXPECT_EQ(bytes, 262144ull * 640 / 256 * 210);

  // Not a multiple of the block size.
  bytes = 7;
  EXPECT_FALSE(ElemsToBytes(DType::kQ4_0, 33, &bytes));
  EXPECT_FALSE(ElemsToBytes(DType::kQ4_K, 32, &bytes));
  EXPECT_EQ(bytes, 7u);  // untouched on failure

  // Overflow of uint64.
  constexpr uint64_t kMax = std::numeric_limits<uint64_t>::max();
  EXPECT_FALSE(ElemsToBytes(DType::kF32, kMax / 4 + 1, &bytes));
  EXPECT_TRUE(ElemsToBytes(DType::kF32, kMax / 4, &bytes));
  EXPECT_EQ(bytes, kMax / 4 * 4);
  EXPECT_TRUE(ElemsToBytes(DType::kI8, kMax, &bytes));
  EXPECT_EQ(bytes, kMax);
  // Formats denser than one byte per element never overflow; Q8_0 (34 bytes per 32) and Q8_K do.
  EXPECT_TRUE(ElemsToBytes(DType::kQ4_K, kMax - 255, &bytes));
  EXPECT_EQ(bytes, (kMax - 255) / 256 * 144);
  EXPECT_FALSE(ElemsToBytes(DType::kQ8_0, kMax - 31, &bytes));
  EXPECT_FALSE(ElemsToBytes(DType::kQ8_K, kMax - 255, &bytes));
  const uint64_t q8_blocks = kMax / 34;  // the most Q8_0 blocks whose bytes fit in uint64
  EXPECT_TRUE(ElemsToBytes(DType::kQ8_0, q8_blocks * 32, &bytes));
  EXPECT_EQ(bytes, q8_blocks * 34);
  EXPECT_FALSE(ElemsToBytes(DType::kQ8_0, (q8_blocks + 1) * 32, &bytes));
}

}  // namespace
}  // namespace tlm
