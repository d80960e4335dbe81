// Tests of synthetic models: every arch and weight type written, read back with GgufFile, and
// checked for llama.cpp's tensor names, shapes, types, metadata and tokenizer.
#include "engine/model/synthetic.h"

#include <unistd.h>

#include <cmath>
#include <cstring>
#include <filesystem>
#include <algorithm>
#include <functional>
#include <map>
#include <set>

#include <gtest/gtest.h>

#include "kernels/cpu/ref/quant.h"

namespace tlm {
namespace {

SyntheticModelSpec Tiny(const std::string& arch, DType type) {
  SyntheticModelSpec s;
  s.arch = arch;
  s.layers = 2;
  s.embd = 256;  // a multiple of every block size, q4_k's 256 included
  s.ff = 512;
  s.heads = 4;
  s.kv_heads = 2;
  s.head_dim = 64;
  s.vocab = 400;
  s.type = type;
  s.seed = 42;
  return s;
}

std::map<std::string, std::vector<int64_t>> ExpectedShapes(const SyntheticModelSpec& s) {
  std::map<std::string, std::vector<int64_t>> m;
  const int64_t q = int64_t{s.heads} * s.head_dim, kv = int64_t{s.kv_heads} * s.head_dim;
  m["token_embd.weight"] = {s.embd, s.vocab};
  m["output_norm.weight"] = {s.embd};
  for (int l = 0; l < s.layers; ++l) {
    const std::string p = "blk." + std::to_string(l) + ".";
    m[p + "attn_norm.weight"] = {s.embd};
    m[p + "attn_q.weight"] = {s.embd, q};
    m[p + "attn_k.weight"] = {s.embd, kv};
    m[p + "attn_v.weight"] = {s.embd, kv};
    m[p + "attn_output.weight"] = {q, s.embd};
    m[p + "ffn_norm.weight"] = {s.embd};
    m[p + "ffn_gate.weight"] = {s.embd, s.ff};
    m[p + "ffn_up.weight"] = {s.embd, s.ff};
    m[p + "ffn_down.weight"] = {s.ff, s.embd};
    if (s.arch == "gemma3") {
      m[p + "attn_q_norm.weight"] = {s.head_dim};
      m[p + "attn_k_norm.weight"] = {s.head_dim};
      m[p + "post_attention_norm.weight"] = {s.embd};
      m[p + "post_ffw_norm.weight"] = {s.embd};
    }
  }
  if (s.arch == "llama" && !s.tie_embeddings) m["output.weight"] = {s.embd, s.vocab};
  return m;
}

class SyntheticModels
    : public ::testing::TestWithParam<std::tuple<std::string, DType>> {};

TEST_P(SyntheticModels, WritesAndReadsBack) {
  const auto& [arch, type] = GetParam();
  const SyntheticModelSpec spec = Tiny(arch, type);
  const std::string path =
      (std::filesystem::temp_directory_path() /
       fmt::format("tlm_synth_{}_{}_{}.gguf", arch, DTypeName(type), ::getpid()))
          .string();
  ASSERT_TRUE(WriteSyntheticModel(spec, path).ok());
  auto opened = GgufFile::Open(path);
  ASSERT_TRUE(opened.ok()) << opened.status().ToString();
  const GgufFile& f = *opened.value();

  // Tensors: exactly the expected names, shapes and types.
  const auto expected = ExpectedShapes(spec);
  EXPECT_EQ(f.tensors().size(), expected.size());
  for (const auto& [name, dims] : expected) {
    const GgufTensor* t = f.FindTensor(name);
    ASSERT_NE(t, nullptr) << name;
    EXPECT_EQ(t->dims, dims) << name;
    EXPECT_EQ(t->type, dims.size() == 1 ? DType::kF32 : type) << name;
  }

  // Metadata under the names llama.cpp reads.
  EXPECT_EQ(*f.GetString("general.architecture"), arch);
  EXPECT_EQ(*f.GetUInt(arch + ".block_count"), 2u);
  EXPECT_EQ(*f.GetUInt(arch + ".embedding_length"), 256u);
  EXPECT_EQ(*f.GetUInt(arch + ".feed_forward_length"), 512u);
  EXPECT_EQ(*f.GetUInt(arch + ".attention.head_count"), 4u);
  EXPECT_EQ(*f.GetUInt(arch + ".attention.head_count_kv"), 2u);
  EXPECT_EQ(*f.GetUInt(arch + ".attention.key_length"), 64u);
  EXPECT_EQ(*f.GetUInt(arch + ".context_length"), 2048u);
  EXPECT_GT(*f.GetFloat(arch + ".attention.layer_norm_rms_epsilon"), 0.0);
  EXPECT_GT(*f.GetFloat(arch + ".rope.freq_base"), 0.0);
  if (arch == "gemma3") {
    EXPECT_EQ(*f.GetUInt("gemma3.attention.sliding_window"), 512u);
  } else {
    EXPECT_EQ(*f.GetUInt("llama.rope.dimension_count"), 64u);
    EXPECT_EQ(*f.GetUInt("llama.vocab_size"), 400u);
  }

  // Tokenizer.
  const auto tokens = *f.GetStringArray("tokenizer.ggml.tokens");
  const auto types = *f.GetIntArray("tokenizer.ggml.token_type");
  ASSERT_EQ(tokens.size(), 400u);
  ASSERT_EQ(types.size(), 400u);
  EXPECT_EQ(std::set<std::string>(tokens.begin(), tokens.end()).size(), 400u);
  EXPECT_FALSE(f.GetString("tokenizer.chat_template")->empty());
  const uint64_t bos = *f.GetUInt("tokenizer.ggml.bos_token_id");
  const uint64_t eos = *f.GetUInt("tokenizer.ggml.eos_token_id");
  EXPECT_EQ(types[bos], 3);
  EXPECT_EQ(types[eos], 3);
  if (arch == "gemma3") {
    EXPECT_EQ(*f.GetString("tokenizer.ggml.model"), "llama");
    EXPECT_EQ(tokens[bos], "<bos>");
    EXPECT_EQ(tokens[eos], "<eos>");
    EXPECT_EQ(tokens[4], "<start_of_turn>");
    EXPECT_EQ(tokens[5], "<end_of_turn>");
    EXPECT_EQ(tokens[6], "<0x00>");
    EXPECT_EQ(tokens[6 + 255], "<0xFF>");
    EXPECT_EQ(types[6 + 0x41], 6);
    const auto scores = *f.GetFloatArray("tokenizer.ggml.scores");
    ASSERT_EQ(scores.size(), 400u);
    for (size_t i = 263; i < scores.size() && types[i] == 1; ++i) {
      EXPECT_LT(scores[i], scores[i - 1]) << tokens[i];
    }
    EXPECT_NE(std::find(tokens.begin(), tokens.end(), "\xE2\x96\x81the"), tokens.end());
  } else {
    EXPECT_EQ(*f.GetString("tokenizer.ggml.model"), "gpt2");
    EXPECT_EQ(*f.GetString("tokenizer.ggml.pre"), "smollm");
    EXPECT_EQ(tokens[0], "<|endoftext|>");
    EXPECT_EQ(tokens[bos], "<|im_start|>");
    EXPECT_EQ(tokens[eos], "<|im_end|>");
    EXPECT_EQ(tokens[3], "!");                          // GPT-2 byte order starts at '!'
    EXPECT_NE(std::find(tokens.begin(), tokens.end(), "\xC4\xA0"), tokens.end());  // 'Ġ'
    const auto merges = *f.GetStringArray("tokenizer.ggml.merges");
    ASSERT_FALSE(merges.empty());
    EXPECT_EQ(merges[0], "\xC4\xA0 t");
    // Every merge joins two tokens into a token.
    const std::set<std::string> vocab(tokens.begin(), tokens.end());
    for (const std::string& m : merges) {
      const size_t sp = m.find(' ');
      ASSERT_NE(sp, std::string::npos);
      EXPECT_TRUE(vocab.count(m.substr(0, sp)) && vocab.count(m.substr(sp + 1)) &&
                  vocab.count(m.substr(0, sp) + m.substr(sp + 1)))
          << m;
    }
  }

  // Weights: small and centred; norms near 1.
  const GgufTensor* q = f.FindTensor("blk.0.attn_q.weight");
  std::vector<float> row(static_cast<size_t>(q->dims[0]));
  cpu::ref::DequantizeRow(q->type, q->data, row.data(), q->dims[0]);
  double sum = 0, sq = 0;
  for (float x : row) {
    sum += x;
    sq += double{x} * x;
  }
  const double mean = sum / row.size(), rms = std::sqrt(sq / row.size());
  EXPECT_LT(std::fabs(mean), 0.01);
  EXPECT_GT(rms, 0.01);
  EXPECT_LT(rms, 0.04);
  const GgufTensor* norm = f.FindTensor("output_norm.weight");
  for (int64_t i = 0; i < norm->dims[0]; ++i) {
    float v;
    std::memcpy(&v, norm->data + i * 4, 4);
    EXPECT_NEAR(v, 1.0f, 0.15f);
  }
  std::filesystem::remove(path);
}

INSTANTIATE_TEST_SUITE_P(
    ArchAndType, SyntheticModels,
    ::testing::Combine(::testing::Values("gemma3", "llama"),
                       ::testing::Values(DType::kF32, DType::kF16, DType::kQ8_0, DType::kQ4_0,
                                         DType::kQ4_K, DType::kQ6_K, DType::kBF16)),
    [](const auto& info) {
      return std::get<0>(info.param) + "_" + std::string(DTypeName(std::get<1>(info.param)));
    });

TEST(Synthetic, SameSeedSameBytesOtherSeedOtherWeights) {
  auto a = BuildSyntheticModel(Tiny("llama", DType::kQ8_0));
  auto b = BuildSyntheticModel(Tiny("llama", DType::kQ8_0));
  SyntheticModelSpec other = Tiny("llama", DType::kQ8_0);
  other.seed = 43;
  auto c = BuildSyntheticModel(other);
  ASSERT_TRUE(a.ok() && b.ok() && c.ok());
  EXPECT_EQ(a->Serialize(), b->Serialize());
  EXPECT_NE(a->Serialize(), c->Serialize());
}

TEST(Synthetic, UntiedLlamaHasOutputWeight) {
  SyntheticModelSpec s = Tiny("llama", DType::kF16);
  s.tie_embeddings = false;
  auto w = BuildSyntheticModel(s);
  ASSERT_TRUE(w.ok());
  const auto bytes = w->Serialize();
  auto f = GgufFile::FromBuffer(bytes.data(), bytes.size(), "untied.gguf");
  ASSERT_TRUE(f.ok()) << f.status().ToString();
  const GgufTensor* out = f.value()->FindTensor("output.weight");
  ASSERT_NE(out, nullptr);
  EXPECT_EQ(out->dims, (std::vector<int64_t>{256, 400}));
}

TEST(Synthetic, MinimalVocabularies) {
  for (const std::string arch : {"gemma3", "llama"}) {
    SyntheticModelSpec s = Tiny(arch, DType::kF32);
    s.vocab = MinSyntheticVocab(arch);
    auto w = BuildSyntheticModel(s);
    ASSERT_TRUE(w.ok()) << arch << ": " << w.status().ToString();
    s.vocab -= 1;
    EXPECT_EQ(BuildSyntheticModel(s).status().code(), StatusCode::kInvalidArgument) << arch;
  }
}

TEST(Synthetic, LargeVocabularyIsFilledWithUniqueTokens) {
  SyntheticModelSpec s = Tiny("gemma3", DType::kQ8_0);
  s.layers = 1;
  s.vocab = 5000;
  auto w = BuildSyntheticModel(s);
  ASSERT_TRUE(w.ok());
  const auto bytes = w->Serialize();
  auto f = GgufFile::FromBuffer(bytes.data(), bytes.size(), "big.gguf");
  ASSERT_TRUE(f.ok()) << f.status().ToString();  // the reader refuses nothing; names are unique
  EXPECT_EQ(f.value()->GetStringArray("tokenizer.ggml.tokens")->size(), 5000u);
}

TEST(Synthetic, ValidationNamesTheField) {
  struct Case {
    std::function<void(SyntheticModelSpec*)> edit;
    StatusCode code;
    std::string substring;
  };
  const std::vector<Case> cases = {
      {[](auto* s) { s->arch = "mamba"; }, StatusCode::kUnimplemented, "unknown architecture 'mamba'"},
      {[](auto* s) { s->layers = 0; }, StatusCode::kInvalidArgument, "layers = 0 is outside"},
      {[](auto* s) { s->kv_heads = 3; }, StatusCode::kInvalidArgument,
       "heads = 4 is not a multiple of kv_heads = 3"},
      {[](auto* s) { s->kv_heads = 8; }, StatusCode::kInvalidArgument, "kv_heads = 8 is outside 1..4"},
      {[](auto* s) { s->head_dim = 63; }, StatusCode::kInvalidArgument, "head_dim = 63 is odd"},
      {[](auto* s) { s->vocab = 10; }, StatusCode::kInvalidArgument, "vocab = 10 is outside 262.."},
      {[](auto* s) { s->type = DType::kQ4_K; s->embd = 128; }, StatusCode::kInvalidArgument,
       "embd = 128 is not a multiple of 256, the q4_k block size"},
      {[](auto* s) { s->type = DType::kQ8_0; s->ff = 100; }, StatusCode::kInvalidArgument,
       "ff = 100 is not a multiple of 32, the q8_0 block size"},
      {[](auto* s) { s->type = DType::kI32; }, StatusCode::kUnimplemented, "cannot be written"},
  };
  for (const Case& c : cases) {
    SyntheticModelSpec s = Tiny("gemma3", DType::kF32);
    c.edit(&s);
    Status st = ValidateSyntheticSpec(s);
    EXPECT_EQ(st.code(), c.code) << st.message();
    EXPECT_NE(st.message().find(c.substring), std::string::npos) << st.message();
  }
}

}  // namespace
}  // namespace tlm
