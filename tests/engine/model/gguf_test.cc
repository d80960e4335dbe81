// Tests of the GGUF reader and writer: round trips of every metadata type and of tensors, getters,
// file handling, and sweeps of truncated and bit-flipped files.
#include "engine/model/gguf.h"

#include <unistd.h>

#include <cmath>
#include <cstring>
#include <filesystem>
#include <fstream>

#include <gtest/gtest.h>

#include "tests/engine/model/corrupt_corpus.h"

namespace tlm {
namespace {

template <typename T>
std::vector<uint8_t> Encode(const std::vector<T>& v) {
  std::vector<uint8_t> out(v.size() * sizeof(T));
  if (!v.empty()) std::memcpy(out.data(), v.data(), out.size());
  return out;
}

std::unique_ptr<GgufFile> Parse(const std::vector<uint8_t>& bytes, std::string name = "t.gguf") {
  auto f = GgufFile::FromBuffer(bytes.data(), bytes.size(), std::move(name));
  EXPECT_TRUE(f.ok()) << f.status().ToString();
  return f.ok() ? std::move(f).value() : nullptr;
}

std::string TempPath(const std::string& stem) {
  return (std::filesystem::temp_directory_path() /
          fmt::format("tlm_gguf_test_{}_{}.gguf", stem, ::getpid()))
      .string();
}

TEST(GgufRoundTrip, EveryScalarType) {
  GgufWriter w;
  w.SetU8("u8", 200);
  w.SetI8("i8", -100);
  w.SetU16("u16", 60000);
  w.SetI16("i16", -30000);
  w.SetU32("u32", 4000000000u);
  w.SetI32("i32", -2000000000);
  w.SetU64("u64", UINT64_MAX);
  w.SetI64("i64", INT64_MIN);
  w.SetF32("f32", 1.5f);
  w.SetF64("f64", -2.25e300);
  w.SetBool("bool_true", true);
  w.SetBool("bool_false", false);
  w.SetString("string", "hello \xE2\x96\x81 world");
  w.SetString("empty_string", "");
  auto f = Parse(w.Serialize());
  ASSERT_NE(f, nullptr);
  EXPECT_EQ(f->version(), 3u);
  EXPECT_EQ(f->metadata().size(), 14u);
  EXPECT_EQ(f->Find("u8")->type, GgufType::kU8);
  EXPECT_EQ(f->Find("i16")->type, GgufType::kI16);
  EXPECT_EQ(f->Find("f64")->type, GgufType::kF64);
  EXPECT_EQ(*f->GetUInt("u8"), 200u);
  EXPECT_EQ(std::get<int64_t>(f->Find("i8")->data), -100);
  EXPECT_EQ(*f->GetUInt("u16"), 60000u);
  EXPECT_EQ(std::get<int64_t>(f->Find("i16")->data), -30000);
  EXPECT_EQ(*f->GetUInt("u32"), 4000000000u);
  EXPECT_EQ(std::get<int64_t>(f->Find("i32")->data), -2000000000);
  EXPECT_EQ(*f->GetUInt("u64"), UINT64_MAX);
  EXPECT_EQ(std::get<int64_t>(f->Find("i64")->data), INT64_MIN);
  EXPECT_EQ(*f->GetFloat("f32"), 1.5);
  EXPECT_EQ(*f->GetFloat("f64"), -2.25e300);
  EXPECT_EQ(*f->GetFloat("u32"), 4000000000.0);
  EXPECT_EQ(*f->GetFloat("i8"), -100.0);
  EXPECT_TRUE(*f->GetBool("bool_true"));
  EXPECT_FALSE(*f->GetBool("bool_false"));
  EXPECT_EQ(*f->GetString("string"), "hello \xE2\x96\x81 world");
  EXPECT_EQ(*f->GetString("empty_string"), "");
  // Keys keep file order.
  EXPECT_EQ(f->metadata()[0].first, "u8");
  EXPECT_EQ(f->metadata()[13].first, "empty_string");
}

TEST(GgufRoundTrip, EveryArrayType) {
  GgufWriter w;
  w.SetArray("a_u8", GgufType::kU8, 3, Encode<uint8_t>({0, 128, 255}));
  w.SetArray("a_i8", GgufType::kI8, 2, Encode<int8_t>({-128, 127}));
  w.SetArray("a_u16", GgufType::kU16, 2, Encode<uint16_t>({1, 65535}));
  w.SetArray("a_i16", GgufType::kI16, 2, Encode<int16_t>({-32768, 5}));
  w.SetArray("a_u32", GgufType::kU32, 2, Encode<uint32_t>({0, 4294967295u}));
  w.SetI32Array("a_i32", {-1, 0, 1, 2147483647});
  w.SetArray("a_u64", GgufType::kU64, 1, Encode<uint64_t>({uint64_t{1} << 62}));
  w.SetArray("a_i64", GgufType::kI64, 2, Encode<int64_t>({INT64_MIN, INT64_MAX}));
  w.SetF32Array("a_f32", {0.5f, -1.0f});
  w.SetArray("a_f64", GgufType::kF64, 2, Encode<double>({1e-300, 3.0}));
  w.SetArray("a_bool", GgufType::kBool, 3, Encode<uint8_t>({1, 0, 1}));
  w.SetStringArray("a_string", {"a", "", "\xC4\xA0the"});
  w.SetI32Array("a_empty", {});
  auto f = Parse(w.Serialize());
  ASSERT_NE(f, nullptr);
  EXPECT_EQ(*f->GetIntArray("a_u8"), (std::vector<int64_t>{0, 128, 255}));
  EXPECT_EQ(*f->GetIntArray("a_i8"), (std::vector<int64_t>{-128, 127}));
  EXPECT_EQ(*f->GetIntArray("a_u16"), (std::vector<int64_t>{1, 65535}));
  EXPECT_EQ(*f->GetIntArray("a_i16"), (std::vector<int64_t>{-32768, 5}));
  EXPECT_EQ(*f->GetIntArray("a_u32"), (std::vector<int64_t>{0, 4294967295}));
  EXPECT_EQ(*f->GetIntArray("a_i32"), (std::vector<int64_t>{-1, 0, 1, 2147483647}));
  EXPECT_EQ(*f->GetIntArray("a_u64"), (std::vector<int64_t>{int64_t{1} << 62}));
  EXPECT_EQ(*f->GetIntArray("a_i64"), (std::vector<int64_t>{INT64_MIN, INT64_MAX}));
  EXPECT_EQ(*f->GetFloatArray("a_f32"), (std::vector<double>{0.5, -1.0}));
  EXPECT_EQ(*f->GetFloatArray("a_f64"), (std::vector<double>{1e-300, 3.0}));
  EXPECT_EQ(*f->GetFloatArray("a_i32"), (std::vector<double>{-1, 0, 1, 2147483647}));
  EXPECT_EQ(*f->GetIntArray("a_bool"), (std::vector<int64_t>{1, 0, 1}));
  EXPECT_EQ(*f->GetStringArray("a_string"), (std::vector<std::string>{"a", "", "\xC4\xA0the"}));
  EXPECT_TRUE(f->GetIntArray("a_empty")->empty());
  EXPECT_EQ(f->Find("a_u16")->type, GgufType::kArray);
  EXPECT_EQ(f->Find("a_u16")->elem_type, GgufType::kU16);
  EXPECT_EQ(f->Find("a_string")->elem_type, GgufType::kString);
}

TEST(GgufRoundTrip, U64ArrayValueAboveInt64IsRefused) {
  GgufWriter w;
  w.SetArray("big", GgufType::kU64, 1, Encode<uint64_t>({UINT64_MAX}));
  const auto bytes = w.Serialize();
  auto f = GgufFile::FromBuffer(bytes.data(), bytes.size(), "big.gguf");
  ASSERT_FALSE(f.ok());
  EXPECT_EQ(f.status().code(), StatusCode::kUnimplemented);
  EXPECT_NE(f.status().message().find("metadata key #0 'big' element 0 at offset 51: u64 value"),
            std::string::npos)
      << f.status().message();
}

TEST(GgufRoundTrip, SettingAKeyTwiceReplacesIt) {
  GgufWriter w;
  w.SetU32("k", 1);
  w.SetString("k", "two");
  EXPECT_EQ(w.key_count(), 1u);
  auto f = Parse(w.Serialize());
  ASSERT_NE(f, nullptr);
  EXPECT_EQ(*f->GetString("k"), "two");
  EXPECT_TRUE(w.RemoveKey("k"));
  EXPECT_FALSE(w.RemoveKey("k"));
}

TEST(GgufRoundTrip, Tensors) {
  GgufWriter w;
  std::vector<float> a(8 * 3);
  for (size_t i = 0; i < a.size(); ++i) a[i] = static_cast<float>(i) * 0.5f;
  w.AddTensor("a.weight", DType::kF32, {8, 3}, Encode(a));
  std::vector<uint8_t> q8(34 * 4);
  for (size_t i = 0; i < q8.size(); ++i) q8[i] = static_cast<uint8_t>(i * 7);
  w.AddTensor("blk.0.attn_q.weight", DType::kQ8_0, {64, 2}, q8);
  std::vector<uint8_t> q4k(144 * 2, 0xAB);
  w.AddTensor("blk.0.ffn_down.weight", DType::kQ4_K, {256, 1, 2}, q4k);
  std::vector<uint8_t> f16(2 * 2 * 2 * 2 * 2, 0x3C);
  w.AddTensor("four_d", DType::kF16, {2, 2, 2, 2}, f16);
  EXPECT_EQ(w.tensor_count(), 4u);

  const std::string path = TempPath("tensors");
  ASSERT_TRUE(w.WriteFile(path).ok());
  const auto bytes = w.Serialize();
  EXPECT_EQ(std::filesystem::file_size(path), bytes.size());
  EXPECT_EQ(bytes.size() % 32, 0u);
  for (int pass = 0; pass < 2; ++pass) {
    std::unique_ptr<GgufFile> f;
    if (pass == 0) {
      f = Parse(bytes);
    } else {
      auto opened = GgufFile::Open(path);
      ASSERT_TRUE(opened.ok()) << opened.status().ToString();
      f = std::move(opened).value();
    }
    ASSERT_NE(f, nullptr);
    ASSERT_EQ(f->tensors().size(), 4u);
    EXPECT_EQ(f->alignment(), 32u);
    EXPECT_EQ(f->data_offset() % 32, 0u);
    const GgufTensor* t = f->FindTensor("a.weight");
    ASSERT_NE(t, nullptr);
    EXPECT_EQ(t->type, DType::kF32);
    EXPECT_EQ(t->dims, (std::vector<int64_t>{8, 3}));
    EXPECT_EQ(t->elems, 24u);
    EXPECT_EQ(t->bytes, 96u);
    EXPECT_EQ(std::memcmp(t->data, a.data(), 96), 0);
    EXPECT_EQ(t->data, f->base() + t->file_offset);
    t = f->FindTensor("blk.0.attn_q.weight");
    ASSERT_NE(t, nullptr);
    EXPECT_EQ(t->type, DType::kQ8_0);
    EXPECT_EQ(t->bytes, q8.size());
    EXPECT_EQ(std::memcmp(t->data, q8.data(), q8.size()), 0);
    t = f->FindTensor("blk.0.ffn_down.weight");
    ASSERT_NE(t, nullptr);
    EXPECT_EQ(t->type, DType::kQ4_K);
    EXPECT_EQ(t->dims, (std::vector<int64_t>{256, 1, 2}));
    EXPECT_EQ(t->bytes, 288u);
    t = f->FindTensor("four_d");
    ASSERT_NE(t, nullptr);
    EXPECT_EQ(t->dims.size(), 4u);
    for (const GgufTensor& x : f->tensors()) {
      EXPECT_EQ(x.file_offset % 32, 0u) << x.name;
      EXPECT_LE(x.file_offset + x.bytes, f->size());
    }
    EXPECT_EQ(f->FindTensor("missing"), nullptr);
  }
  std::filesystem::remove(path);
}

TEST(GgufRoundTrip, CustomAlignmentIsWrittenAndHonoured) {
  GgufWriter w;
  w.set_alignment(64);
  w.AddTensor("a", DType::kF32, {3}, std::vector<uint8_t>(12, 1));
  w.AddTensor("b", DType::kF32, {5}, std::vector<uint8_t>(20, 2));
  auto f = Parse(w.Serialize());
  ASSERT_NE(f, nullptr);
  EXPECT_EQ(f->alignment(), 64u);
  EXPECT_EQ(*f->GetUInt("general.alignment"), 64u);
  EXPECT_EQ(f->data_offset() % 64, 0u);
  EXPECT_EQ(f->FindTensor("b")->file_offset - f->FindTensor("a")->file_offset, 64u);
}

TEST(GgufRoundTrip, VersionTwoAndNoTensors) {
  GgufWriter w;
  w.SetString("general.architecture", "llama");
  auto bytes = w.Serialize();
  bytes[4] = 2;  // v2 has the same layout as v3
  auto f = Parse(bytes);
  ASSERT_NE(f, nullptr);
  EXPECT_EQ(f->version(), 2u);
  EXPECT_TRUE(f->tensors().empty());
}

TEST(GgufGetters, ErrorsNameKeyOffsetAndCode) {
  GgufWriter w;
  w.SetString("s", "x");
  w.SetI32("neg", -5);
  w.SetI32("pos", 5);
  w.SetF32("f", 1.0f);
  w.SetStringArray("sa", {"a"});
  auto f = Parse(w.Serialize(), "m.gguf");
  ASSERT_NE(f, nullptr);
  auto missing = f->GetString("nope");
  EXPECT_EQ(missing.status().code(), StatusCode::kNotFound);
  EXPECT_EQ(missing.status().message(), "m.gguf: metadata key 'nope' not found");
  auto wrong = f->GetUInt("s");
  EXPECT_EQ(wrong.status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(wrong.status().message(),
            "m.gguf: metadata key 's' at offset 37 has type string, expected an integer");
  auto neg = f->GetUInt("neg");
  EXPECT_EQ(neg.status().code(), StatusCode::kInvalidArgument);
  EXPECT_NE(neg.status().message().find("value -5 is negative"), std::string::npos);
  EXPECT_EQ(*f->GetUInt("pos"), 5u);
  EXPECT_EQ(f->GetBool("f").status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(f->GetString("f").status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(f->GetFloat("s").status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(f->GetIntArray("sa").status().code(), StatusCode::kInvalidArgument);
  EXPECT_NE(f->GetFloatArray("sa").status().message().find("has type array of string"),
            std::string::npos);
  EXPECT_EQ(f->GetStringArray("s").status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(f->GetStringArray("missing").status().code(), StatusCode::kNotFound);
}

TEST(GgufOpen, MissingFileIsNotFound) {
  auto f = GgufFile::Open("/nonexistent/dir/model.gguf");
  ASSERT_FALSE(f.ok());
  EXPECT_EQ(f.status().code(), StatusCode::kNotFound);
  EXPECT_EQ(f.status().message(), "/nonexistent/dir/model.gguf: no such file");
}

TEST(GgufOpen, DirectoryAndEmptyFile) {
  auto dir = GgufFile::Open(std::filesystem::temp_directory_path().string());
  EXPECT_EQ(dir.status().code(), StatusCode::kInvalidArgument);
  const std::string path = TempPath("empty");
  { std::ofstream(path, std::ios::trunc); }
  auto empty = GgufFile::Open(path);
  EXPECT_EQ(empty.status().code(), StatusCode::kDataLoss);
  EXPECT_EQ(empty.status().message(),
            path + ": file is 0 bytes, too short for the GGUF magic at offset 0");
  std::filesystem::remove(path);
}

TEST(GgufWriterTest, WriteFileChecksTensorSizesAndLeavesNoTemporary) {
  const std::string path = TempPath("bad");
  GgufWriter w;
  w.AddTensor("a", DType::kQ8_0, {32}, std::vector<uint8_t>(33));
  Status st = w.WriteFile(path);
  EXPECT_EQ(st.code(), StatusCode::kInvalidArgument);
  EXPECT_NE(st.message().find("tensor 'a' q8_0 dims [32] need 34 bytes, got 33"),
            std::string::npos)
      << st.message();
  EXPECT_FALSE(std::filesystem::exists(path));

  GgufWriter rows;
  rows.AddTensor("r", DType::kQ8_0, {16, 2}, std::vector<uint8_t>(34));
  EXPECT_EQ(rows.WriteFile(path).code(), StatusCode::kInvalidArgument);

  GgufWriter ok;
  ok.AddTensor("a", DType::kQ8_0, {32}, std::vector<uint8_t>(34));
  ASSERT_TRUE(ok.WriteFile(path).ok());
  for (const auto& e : std::filesystem::directory_iterator(std::filesystem::path(path).parent_path())) {
    EXPECT_EQ(e.path().string().find(path + ".tmp"), std::string::npos) << e.path();
  }
  // Overwrites in place, atomically.
  ASSERT_TRUE(ok.WriteFile(path).ok());
  EXPECT_TRUE(GgufFile::Open(path).ok());
  std::filesystem::remove(path);

  EXPECT_EQ(ok.WriteFile("/nonexistent/dir/x.gguf").code(), StatusCode::kInvalidArgument);
}

// Every proper prefix of a valid file is refused as data loss, with a message that names the file
// and an offset.
TEST(GgufSweep, EveryTruncationIsDataLoss) {
  const auto base = testing::MakeCorpusBaseFile();
  ASSERT_TRUE(GgufFile::FromBuffer(base.data(), base.size(), "base.gguf").ok());
  for (size_t keep = 0; keep < base.size(); ++keep) {
    std::vector<uint8_t> cut(base.begin(), base.begin() + static_cast<std::ptrdiff_t>(keep));
    auto f = GgufFile::FromBuffer(cut.data(), cut.size(), "cut.gguf");
    ASSERT_FALSE(f.ok()) << "prefix of " << keep << " bytes parsed";
    EXPECT_EQ(f.status().code(), StatusCode::kDataLoss) << keep << ": " << f.status().message();
    EXPECT_EQ(f.status().message().rfind("cut.gguf: ", 0), 0u) << f.status().message();
    EXPECT_NE(f.status().message().find("offset"), std::string::npos) << f.status().message();
  }
}

// Flipping any byte either still parses or gives a located error; never a crash (the sanitizer
// preset runs this too).
TEST(GgufSweep, EveryByteCorruptionIsHandled) {
  const auto base = testing::MakeCorpusBaseFile();
  int refused = 0;
  for (size_t i = 0; i < base.size(); ++i) {
    for (uint8_t v : {uint8_t{0x00}, uint8_t{0xFF}, uint8_t{0x80}, uint8_t{0x01}}) {
      auto bytes = base;
      if (bytes[i] == v) continue;
      bytes[i] = v;
      auto f = GgufFile::FromBuffer(bytes.data(), bytes.size(), "flip.gguf");
      if (f.ok()) {
        for (const GgufTensor& t : f.value()->tensors()) {
          ASSERT_LE(t.file_offset + t.bytes, bytes.size());
        }
        continue;
      }
      ++refused;
      EXPECT_EQ(f.status().message().rfind("flip.gguf: ", 0), 0u) << f.status().message();
      EXPECT_NE(f.status().message().find("offset"), std::string::npos) << f.status().message();
    }
  }
  EXPECT_GT(refused, 100);
}

}  // namespace
}  // namespace tlm
