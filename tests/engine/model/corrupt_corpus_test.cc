// Runs the corrupt-GGUF corpus through the reader (from memory and from files) and checks that
// each case fails with its code and a message naming the field and offset.
#include "tests/engine/model/corrupt_corpus.h"

#include <filesystem>
#include <fstream>
#include <set>

#include <gtest/gtest.h>

#include "engine/model/gguf.h"

namespace tlm::testing {
namespace {

std::string CorpusDir() { return std::string(TLM_BINARY_DIR) + "/tests/data/corrupt"; }

TEST(CorruptCorpus, NamesAreUniqueAndCasesAreMany) {
  const auto corpus = MakeCorruptCorpus();
  std::set<std::string> names;
  int engine = 0;
  for (const CorruptCase& c : corpus) {
    EXPECT_TRUE(names.insert(c.name).second) << c.name;
    EXPECT_FALSE(c.expected_error_substring.empty()) << c.name;
    EXPECT_FALSE(c.description.empty()) << c.name;
    if (c.layer == CorruptLayer::kEngine) ++engine;
  }
  EXPECT_GE(corpus.size(), 45u);
  EXPECT_EQ(engine, 6);
  EXPECT_TRUE(names.count("wrong_arch") && names.count("missing_tensor") &&
              names.count("missing_tokens"));
}

TEST(CorruptCorpus, IsDeterministic) {
  const auto a = MakeCorruptCorpus();
  const auto b = MakeCorruptCorpus();
  ASSERT_EQ(a.size(), b.size());
  for (size_t i = 0; i < a.size(); ++i) EXPECT_EQ(a[i].bytes, b[i].bytes) << a[i].name;
}

TEST(CorruptCorpus, EachGgufCaseFailsWithItsErrorFromMemory) {
  for (const CorruptCase& c : MakeCorruptCorpus()) {
    if (c.layer != CorruptLayer::kGguf) continue;
    SCOPED_TRACE(c.name + ": " + c.description);
    const std::string file = c.name + ".gguf";
    auto f = GgufFile::FromBuffer(c.bytes.data(), c.bytes.size(), file);
    ASSERT_FALSE(f.ok());
    EXPECT_EQ(f.status().code(), c.expected_code)
        << StatusCodeName(f.status().code()) << ": " << f.status().message();
    EXPECT_NE(f.status().message().find(c.expected_error_substring), std::string::npos)
        << "message:  " << f.status().message() << "\nexpected: " << c.expected_error_substring;
    EXPECT_EQ(f.status().message().rfind(file + ": ", 0), 0u) << f.status().message();
    EXPECT_NE(f.status().message().find("offset"), std::string::npos) << f.status().message();
  }
}

TEST(CorruptCorpus, EngineCasesAreValidGgufWithTheDamageInPlace) {
  for (const CorruptCase& c : MakeCorruptCorpus()) {
    if (c.layer != CorruptLayer::kEngine) continue;
    SCOPED_TRACE(c.name);
    auto f = GgufFile::FromBuffer(c.bytes.data(), c.bytes.size(), c.name + ".gguf");
    ASSERT_TRUE(f.ok()) << f.status().ToString();
    const GgufFile& g = *f.value();
    EXPECT_GT(g.tensors().size(), 5u);
    if (c.name == "wrong_arch") {
      EXPECT_EQ(*g.GetString("general.architecture"), "mamba");
      EXPECT_NE(g.FindTensor("blk.0.attn_q.weight"), nullptr);
    } else if (c.name == "missing_tensor") {
      EXPECT_EQ(*g.GetString("general.architecture"), "llama");
      EXPECT_EQ(g.FindTensor("blk.0.attn_q.weight"), nullptr);
      EXPECT_NE(g.FindTensor("blk.0.attn_k.weight"), nullptr);
    } else if (c.name == "missing_tokens") {
      EXPECT_EQ(g.Find("tokenizer.ggml.tokens"), nullptr);
      EXPECT_NE(g.Find("tokenizer.ggml.merges"), nullptr);
    }
  }
}

// Writes the corpus into the build tree (for the CLI tests) and reads every file back with Open(),
// which must agree with FromBuffer().
TEST(CorruptCorpus, WrittenFilesFailTheSameWayThroughOpen) {
  ASSERT_TRUE(WriteCorruptCorpus(CorpusDir()).ok());
  ASSERT_TRUE(std::filesystem::exists(CorpusDir() + "/MANIFEST.tsv"));
  for (const CorruptCase& c : MakeCorruptCorpus()) {
    SCOPED_TRACE(c.name);
    const std::string path = CorpusDir() + "/" + c.name + ".gguf";
    ASSERT_EQ(std::filesystem::file_size(path), c.bytes.size());
    auto f = GgufFile::Open(path);
    if (c.layer == CorruptLayer::kEngine) {
      EXPECT_TRUE(f.ok()) << f.status().ToString();
      continue;
    }
    ASSERT_FALSE(f.ok());
    EXPECT_EQ(f.status().code(), c.expected_code) << f.status().message();
    EXPECT_NE(f.status().message().find(c.expected_error_substring), std::string::npos)
        << f.status().message();
    EXPECT_EQ(f.status().message().rfind(path + ": ", 0), 0u) << f.status().message();
  }
}

}  // namespace
}  // namespace tlm::testing
