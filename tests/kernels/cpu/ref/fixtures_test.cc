// Tests the reference kernels against fixtures made by gguf-py (an implementation of the ggml
// formats independent of ours): dequantization of random blocks for every engine-supported
// type, and quantization for the types whose gguf-py quantizer is ggml's reference.
#include <gtest/gtest.h>

#include <bit>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

#include "engine/tensor/dtype.h"
#include "kernels/cpu/ref/quant.h"
#include "tests/kernels/cpu/ref/quant_test_util.h"

namespace tlm::cpu::ref {
namespace {

struct Fixture {
  DType type = DType::kF32;
  int64_t elems = 0;
  std::vector<float> floats;
  std::vector<uint8_t> blocks;
};

std::string FixturePath(std::string_view kind, DType type) {
  return std::string(TLM_SOURCE_DIR) + "/tests/data/quant/" + std::string(kind) + "_" +
         std::string(DTypeName(type)) + ".bin";
}

// Reads a fixture written by scripts/golden/make_quant_fixtures.py; see its layout there.
::testing::AssertionResult ReadFixture(const std::string& path, bool dequant, Fixture* out) {
  std::ifstream file(path, std::ios::binary);
  if (!file) return ::testing::AssertionFailure() << "cannot open " << path;
  const std::vector<char> data((std::istreambuf_iterator<char>(file)),
                               std::istreambuf_iterator<char>());
  if (data.size() < 24) return ::testing::AssertionFailure() << path << ": truncated header";
  const std::string magic(data.data(), 8);
  if (magic != (dequant ? "TLMQDQ01" : "TLMQQ001")) {
    return ::testing::AssertionFailure() << path << ": bad magic " << magic;
  }
  uint32_t header[4];
  std::memcpy(header, data.data() + 8, sizeof(header));
  const DTypeInfo* info = FindDType(header[0]);
  if (info == nullptr) return ::testing::AssertionFailure() << path << ": unknown type";
  uint64_t bytes = 0;
  if (!ElemsToBytes(info->type, header[1], &bytes) || bytes != header[2]) {
    return ::testing::AssertionFailure() << path << ": byte count " << header[2]
                                         << " does not match " << header[1] << " elements";
  }
  if (data.size() != 24 + bytes + 4ull * header[1]) {
    return ::testing::AssertionFailure() << path << ": wrong file size " << data.size();
  }
  out->type = info->type;
  out->elems = header[1];
  out->floats.resize(header[1]);
  out->blocks.resize(bytes);
  const char* body = data.data() + 24;
  if (dequant) {
    std::memcpy(out->blocks.data(), body, bytes);
    std::memcpy(out->floats.data(), body + bytes, 4ull * header[1]);
  } else {
    std::memcpy(out->floats.data(), body, 4ull * header[1]);
    std::memcpy(out->blocks.data(), body + 4ull * header[1], bytes);
  }
  return ::testing::AssertionSuccess();
}

class DequantFixture : public ::testing::TestWithParam<DType> {};

TEST_P(DequantFixture, MatchesGgufPyBitForBit) {
  const DType type = GetParam();
  Fixture fixture;
  ASSERT_TRUE(ReadFixture(FixturePath("dequant", type), true, &fixture));
  ASSERT_EQ(fixture.type, type);
  ASSERT_GT(fixture.elems, 0);
  const std::vector<float> got = testing::Dequantized(type, fixture.blocks.data(), fixture.elems);
  int mismatches = 0;
  for (int64_t i = 0; i < fixture.elems; ++i) {
    const float want = fixture.floats[static_cast<size_t>(i)];
    const float have = got[static_cast<size_t>(i)];
    const bool same = std::isnan(want)
                          ? std::isnan(have)
                          : std::bit_cast<uint32_t>(want) == std::bit_cast<uint32_t>(have);
    if (!same && ++mismatches <= 5) {
      ADD_FAILURE() << DTypeName(type) << " element " << i << ": got " << have << " want " << want;
    }
  }
  EXPECT_EQ(mismatches, 0);
  // The VecDotF32 path for block types dequantizes block by block; it must see the same values.
  // (The plain-type fixtures hold Inf and NaN, which a dot product would spread.)
  std::vector<float> ones(static_cast<size_t>(fixture.elems), 0.0f);
  ones[0] = 1.0f;
  if (Info(type).block_elems > 1) {
    EXPECT_EQ(VecDotF32(type, fixture.blocks.data(), ones.data(), fixture.elems),
              fixture.floats[0]);
  }
}

INSTANTIATE_TEST_SUITE_P(AllSupportedTypes, DequantFixture,
                         ::testing::ValuesIn(testing::kSupportedTypes),
                         [](const auto& info) { return std::string(DTypeName(info.param)); });

class QuantFixture : public ::testing::TestWithParam<DType> {};

TEST_P(QuantFixture, MatchesGgufPyReferenceQuantizer) {
  const DType type = GetParam();
  Fixture fixture;
  ASSERT_TRUE(ReadFixture(FixturePath("quant", type), false, &fixture));
  ASSERT_EQ(fixture.type, type);
  std::vector<uint8_t> got(fixture.blocks.size());
  ASSERT_TRUE(QuantizeRow(type, fixture.floats.data(), got.data(), fixture.elems).ok());
  const int64_t block_bytes = Info(type).block_bytes;
  for (size_t i = 0; i < got.size(); ++i) {
    ASSERT_EQ(got[i], fixture.blocks[i]) << DTypeName(type) << " byte " << i << " (block "
                                         << static_cast<int64_t>(i) / block_bytes << ")";
  }
}

// gguf-py has no K-quant quantizers; ours are checked by round trip in quantize_test.cc.
INSTANTIATE_TEST_SUITE_P(GgufPyQuantizers, QuantFixture,
                         ::testing::Values(DType::kF16, DType::kBF16, DType::kQ4_0, DType::kQ4_1,
                                           DType::kQ5_0, DType::kQ5_1, DType::kQ8_0),
                         [](const auto& info) { return std::string(DTypeName(info.param)); });

}  // namespace
}  // namespace tlm::cpu::ref
