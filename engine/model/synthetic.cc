// Synthetic gemma3/llama GGUF models with seeded random weights and a real tokenizer vocabulary.
#include "engine/model/synthetic.h"

#include <cmath>
#include <cstring>
#include <numbers>
#include <random>
#include <set>
#include <unordered_set>
#include <vector>

#include "kernels/cpu/ref/quant.h"

namespace tlm {
namespace {

constexpr int kMaxLayers = 1024;
constexpr int kMaxWidth = 1 << 17;   // embd, ff, heads * head_dim
constexpr int kMaxVocab = 1 << 20;
constexpr float kWeightScale = 0.02f;
constexpr float kNormScale = 0.02f;  // norms are 1 + noise at this scale

// Token types as llama.cpp numbers them (llama_token_type).
constexpr int32_t kTokenNormal = 1;
constexpr int32_t kTokenControl = 3;
constexpr int32_t kTokenUnused = 5;
constexpr int32_t kTokenByte = 6;

// Common English words: the vocabulary grows pieces for them first, so text tokenizes into
// plausible multi-character tokens rather than only bytes.
constexpr const char* kWords[] = {
    "the", "of", "and", "to", "in", "is", "you", "that", "it", "he", "was", "for", "on", "are",
    "as", "with", "his", "they", "at", "be", "this", "have", "from", "or", "one", "had", "by",
    "word", "but", "not", "what", "all", "were", "we", "when", "your", "can", "said", "there",
    "use", "an", "each", "which", "she", "do", "how", "their", "if", "will", "up", "other",
    "about", "out", "many", "then", "them", "these", "so", "some", "her", "would", "make",
    "like", "him", "into", "time", "has", "look", "two", "more", "write", "go", "see", "number",
    "no", "way", "could", "people", "my", "than", "first", "water", "been", "call", "who", "oil",
    "its", "now", "find", "long", "down", "day", "did", "get", "come", "made", "may", "part",
    "hello", "world", "model", "token", "small", "language", "bench", "test", "answer",
    "question", "story", "once", "upon", "a", "i", "little", "cat", "dog", "sun", "sky", "blue",
    "red", "green", "house", "tree", "good", "new", "old", "great", "very", "after", "where",
    "most", "know", "think", "help", "through", "back", "much", "before", "line", "right",
    "too", "mean", "same", "tell", "boy", "follow", "came", "want", "show", "also", "around",
    "form", "three", "set", "put", "end", "does", "another", "well", "large", "must", "big",
    "even", "such", "because", "turn", "here", "why", "ask", "went", "men", "read", "need",
    "land", "different", "home", "us", "move", "try", "kind", "hand", "picture", "again",
    "change", "off", "play", "spell", "air", "away", "animal", "point", "page", "letter",
    "mother", "found", "study", "still", "learn", "should", "america", "name", "just"};

constexpr const char* kGemmaChatTemplate =
    "{{ bos_token }}{% for message in messages %}{% if (message['role'] == 'assistant') %}"
    "{% set role = 'model' %}{% else %}{% set role = message['role'] %}{% endif %}"
    "{{ '<start_of_turn>' + role + '\\n' + message['content'] | trim + '<end_of_turn>\\n' }}"
    "{% endfor %}{% if add_generation_prompt %}{{'<start_of_turn>model\\n'}}{% endif %}";

constexpr const char* kChatMlTemplate =
    "{% for message in messages %}{{'<|im_start|>' + message['role'] + '\\n' + "
    "message['content'] + '<|im_end|>' + '\\n'}}{% endfor %}{% if add_generation_prompt %}"
    "{{ '<|im_start|>assistant\\n' }}{% endif %}";

// llama.cpp's llama_ftype for a file whose matrices are all `type`.
uint32_t FileType(DType type) {
  switch (type) {
    case DType::kF32: return 0;
    case DType::kF16: return 1;
    case DType::kQ4_0: return 2;
    case DType::kQ4_1: return 3;
    case DType::kQ8_0: return 7;
    case DType::kQ5_0: return 8;
    case DType::kQ5_1: return 9;
    case DType::kQ2_K: return 10;
    case DType::kQ3_K: return 12;  // Q3_K_M
    case DType::kQ4_K: return 14;  // Q4_K_S: every matrix Q4_K
    case DType::kQ5_K: return 16;  // Q5_K_S
    case DType::kQ6_K: return 18;
    case DType::kBF16: return 32;
    default: return 0;
  }
}

bool Quantizable(DType type) {
  switch (type) {
    case DType::kF32: case DType::kF16: case DType::kBF16: case DType::kQ4_0: case DType::kQ4_1:
    case DType::kQ5_0: case DType::kQ5_1: case DType::kQ8_0: case DType::kQ2_K: case DType::kQ3_K:
    case DType::kQ4_K: case DType::kQ5_K: case DType::kQ6_K:
      return true;
    default:
      return false;
  }
}

uint64_t SplitMix64(uint64_t x) {
  x += 0x9e3779b97f4a7c15ull;
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
  return x ^ (x >> 31);
}

uint64_t TensorSeed(uint64_t seed, std::string_view name) {
  uint64_t h = 0xcbf29ce484222325ull;  // FNV-1a
  for (unsigned char c : name) h = (h ^ c) * 0x100000001b3ull;
  return SplitMix64(seed ^ SplitMix64(h));
}

// Standard normal samples from mt19937_64 by Box-Muller (portable, unlike normal_distribution).
class Normal {
 public:
  explicit Normal(uint64_t seed) : rng_(seed) {}
  float Next() {
    if (have_spare_) {
      have_spare_ = false;
      return spare_;
    }
    const double u1 = (static_cast<double>(rng_() >> 11) + 1.0) * 0x1.0p-53;  // (0, 1]
    const double u2 = static_cast<double>(rng_() >> 11) * 0x1.0p-53;          // [0, 1)
    const double r = std::sqrt(-2.0 * std::log(u1));
    const double t = 2.0 * std::numbers::pi * u2;
    spare_ = static_cast<float>(r * std::sin(t));
    have_spare_ = true;
    return static_cast<float>(r * std::cos(t));
  }

 private:
  std::mt19937_64 rng_;
  float spare_ = 0;
  bool have_spare_ = false;
};

class ModelBuilder {
 public:
  ModelBuilder(const SyntheticModelSpec& spec, GgufWriter* w) : spec_(spec), w_(w) {}

  // A matrix of `rows` rows of `cols` elements (dims {cols, rows}) in the spec's type.
  Status Matrix(const std::string& name, int64_t cols, int64_t rows) {
    Normal normal(TensorSeed(spec_.seed, name));
    uint64_t row_bytes = 0;
    if (!ElemsToBytes(spec_.type, static_cast<uint64_t>(cols), &row_bytes)) {
      return InvalidArgument("tensor '{}': row of {} elements does not fit {} blocks", name, cols,
                             DTypeName(spec_.type));
    }
    std::vector<uint8_t> data(row_bytes * static_cast<uint64_t>(rows));
    std::vector<float> row(static_cast<size_t>(cols));
    for (int64_t r = 0; r < rows; ++r) {
      for (float& x : row) x = kWeightScale * normal.Next();
      TLM_RETURN_IF_ERROR(
          cpu::ref::QuantizeRow(spec_.type, row.data(), data.data() + r * row_bytes, cols)
              .WithContext(fmt::format("tensor '{}' row {}", name, r)));
    }
    w_->AddTensor(name, spec_.type, {cols, rows}, std::move(data));
    return Status::Ok();
  }

  // A 1-D F32 norm weight near 1.
  void Norm(const std::string& name, int64_t n) {
    Normal normal(TensorSeed(spec_.seed, name));
    std::vector<uint8_t> data(static_cast<size_t>(n) * sizeof(float));
    for (int64_t i = 0; i < n; ++i) {
      const float v = 1.0f + kNormScale * normal.Next();
      std::memcpy(data.data() + i * sizeof(float), &v, sizeof(float));
    }
    w_->AddTensor(name, DType::kF32, {n}, std::move(data));
  }

 private:
  const SyntheticModelSpec& spec_;
  GgufWriter* w_;
};

struct Vocab {
  std::vector<std::string> tokens;
  std::vector<int32_t> types;
  std::vector<float> scores;
  std::vector<std::string> merges;
  std::unordered_set<std::string> seen;

  bool full(int vocab) const { return static_cast<int>(tokens.size()) >= vocab; }
  bool Add(const std::string& text, int32_t type, float score) {
    if (!seen.insert(text).second) return false;
    tokens.push_back(text);
    types.push_back(type);
    scores.push_back(score);
    return true;
  }
  // Pads to `vocab` with unused placeholder tokens.
  void Fill(int vocab) {
    for (int n = 0; !full(vocab); ++n) Add(fmt::format("<unused{}>", n), kTokenUnused, -1e9f);
  }
};

// SentencePiece-style vocabulary as gemma3 files carry it: control tokens, byte fallback
// tokens, then pieces ("▁the") with descending scores. Every multi-character piece is a shorter
// piece plus one character, so llama.cpp's SPM merging can reach it.
Vocab GemmaVocab(int vocab) {
  Vocab v;
  for (const char* t : {"<pad>", "<eos>", "<bos>", "<unk>", "<start_of_turn>", "<end_of_turn>"}) {
    v.Add(t, kTokenControl, 0.0f);
  }
  for (int b = 0; b < 256; ++b) v.Add(fmt::format("<0x{:02X}>", b), kTokenByte, 0.0f);
  float score = -1.0f;
  auto piece = [&](const std::string& s) {
    if (!v.full(vocab) && v.Add(s, kTokenNormal, score)) score -= 1.0f;
  };
  const std::string space = "\xE2\x96\x81";  // U+2581, SentencePiece's visible space
  piece(space);
  for (char c = 'a'; c <= 'z'; ++c) piece(std::string(1, c));
  for (char c = 'A'; c <= 'Z'; ++c) piece(std::string(1, c));
  for (char c = '0'; c <= '9'; ++c) piece(std::string(1, c));
  for (const char* p = ".,!?'\"-:;()\n"; *p != '\0'; ++p) piece(std::string(1, *p));
  for (const char* word : kWords) {
    std::string cur = space;
    for (const char* c = word; *c != '\0'; ++c) {
      cur += *c;
      piece(cur);
    }
  }
  for (const char* word : kWords) {  // the same words without the leading space
    std::string cur(1, word[0]);
    for (const char* c = word + 1; *c != '\0'; ++c) {
      cur += *c;
      piece(cur);
    }
  }
  v.Fill(vocab);
  return v;
}

// GPT-2's reversible byte-to-unicode table: printable bytes map to themselves, the rest to
// U+0100 upwards (space becomes 'Ġ'). Returned in GPT-2's order, as the byte tokens appear.
std::vector<std::pair<int, std::string>> Gpt2Bytes() {
  auto utf8 = [](uint32_t cp) {
    std::string s;
    if (cp < 0x80) {
      s += static_cast<char>(cp);
    } else {
      s += static_cast<char>(0xC0 | (cp >> 6));
      s += static_cast<char>(0x80 | (cp & 0x3F));
    }
    return s;
  };
  std::vector<std::pair<int, std::string>> out;
  std::set<int> printable;
  for (int b = '!'; b <= '~'; ++b) printable.insert(b);
  for (int b = 0xA1; b <= 0xAC; ++b) printable.insert(b);
  for (int b = 0xAE; b <= 0xFF; ++b) printable.insert(b);
  for (int b : printable) out.emplace_back(b, utf8(static_cast<uint32_t>(b)));
  uint32_t n = 0;
  for (int b = 0; b < 256; ++b) {
    if (!printable.count(b)) out.emplace_back(b, utf8(256 + n++));
  }
  return out;
}

// GPT-2 byte-level BPE vocabulary in the smollm style: control tokens, the 256 byte tokens,
// then one token per merge, built left to right over common words ("Ġ t", "Ġt h", "Ġth e").
Vocab Gpt2Vocab(int vocab) {
  Vocab v;
  for (const char* t : {"<|endoftext|>", "<|im_start|>", "<|im_end|>"}) {
    v.Add(t, kTokenControl, 0.0f);
  }
  for (const auto& [byte, text] : Gpt2Bytes()) v.Add(text, kTokenNormal, 0.0f);
  const std::string space = "\xC4\xA0";  // 'Ġ', GPT-2's byte 0x20
  auto merge_word = [&](const std::string& first, const char* rest) {
    std::string cur = first;
    for (const char* c = rest; *c != '\0' && !v.full(vocab); ++c) {
      const std::string next(1, *c);
      const std::string merged = cur + next;
      if (v.Add(merged, kTokenNormal, 0.0f)) v.merges.push_back(cur + " " + next);
      cur = merged;
    }
  };
  for (const char* word : kWords) merge_word(space, word);
  for (const char* word : kWords) merge_word(std::string(1, word[0]), word + 1);
  v.Fill(vocab);
  return v;
}

std::string DefaultName(const SyntheticModelSpec& s) {
  return fmt::format("synthetic-{}-L{}-E{}-F{}-H{}x{}-KV{}-V{}-{}", s.arch, s.layers, s.embd, s.ff,
                     s.heads, s.head_dim, s.kv_heads, s.vocab, DTypeName(s.type));
}

}  // namespace

int MinSyntheticVocab(std::string_view arch) { return arch == "llama" ? 3 + 256 : 6 + 256; }

Status ValidateSyntheticSpec(const SyntheticModelSpec& s) {
  if (s.arch != "gemma3" && s.arch != "llama") {
    return Unimplemented("unknown architecture '{}' (supported: gemma3, llama)", s.arch);
  }
  auto range = [](std::string_view field, int v, int lo, int hi) -> Status {
    if (v < lo || v > hi) return InvalidArgument("{} = {} is outside {}..{}", field, v, lo, hi);
    return Status::Ok();
  };
  TLM_RETURN_IF_ERROR(range("layers", s.layers, 1, kMaxLayers));
  TLM_RETURN_IF_ERROR(range("embd", s.embd, 1, kMaxWidth));
  TLM_RETURN_IF_ERROR(range("ff", s.ff, 1, kMaxWidth));
  TLM_RETURN_IF_ERROR(range("heads", s.heads, 1, kMaxWidth));
  TLM_RETURN_IF_ERROR(range("kv_heads", s.kv_heads, 1, s.heads));
  TLM_RETURN_IF_ERROR(range("head_dim", s.head_dim, 2, kMaxWidth));
  TLM_RETURN_IF_ERROR(range("vocab", s.vocab, MinSyntheticVocab(s.arch), kMaxVocab));
  TLM_RETURN_IF_ERROR(range("context_length", s.context_length, 1, 1 << 24));
  if (s.arch == "gemma3") {
    TLM_RETURN_IF_ERROR(range("sliding_window", s.sliding_window, 1, 1 << 24));
  }
  if (s.heads % s.kv_heads != 0) {
    return InvalidArgument("heads = {} is not a multiple of kv_heads = {}", s.heads, s.kv_heads);
  }
  if (s.head_dim % 2 != 0) {
    return InvalidArgument("head_dim = {} is odd; rotary embeddings need an even head size",
                           s.head_dim);
  }
  if (static_cast<int64_t>(s.heads) * s.head_dim > kMaxWidth) {
    return InvalidArgument("heads * head_dim = {} exceeds {}",
                           static_cast<int64_t>(s.heads) * s.head_dim, kMaxWidth);
  }
  if (FindDType(static_cast<uint32_t>(s.type)) == nullptr || !Quantizable(s.type)) {
    return Unimplemented("type {} cannot be written by make-model (supported: f32, f16, bf16, "
                         "q4_0, q4_1, q5_0, q5_1, q8_0, q2_k, q3_k, q4_k, q5_k, q6_k)",
                         static_cast<uint32_t>(s.type));
  }
  const int64_t block = Info(s.type).block_elems;
  auto rows_fit = [&](std::string_view field, int64_t n) -> Status {
    if (n % block != 0) {
      return InvalidArgument("{} = {} is not a multiple of {}, the {} block size", field, n,
                             block, DTypeName(s.type));
    }
    return Status::Ok();
  };
  TLM_RETURN_IF_ERROR(rows_fit("embd", s.embd));
  TLM_RETURN_IF_ERROR(rows_fit("ff", s.ff));
  TLM_RETURN_IF_ERROR(rows_fit("heads * head_dim", static_cast<int64_t>(s.heads) * s.head_dim));
  return Status::Ok();
}

StatusOr<GgufWriter> BuildSyntheticModel(const SyntheticModelSpec& s) {
  TLM_RETURN_IF_ERROR(ValidateSyntheticSpec(s));
  GgufWriter w;
  const std::string& a = s.arch;
  const bool gemma = a == "gemma3";
  auto u32 = [](int v) { return static_cast<uint32_t>(v); };

  w.SetString("general.architecture", a);
  w.SetString("general.type", "model");
  w.SetString("general.name", s.name.empty() ? DefaultName(s) : s.name);
  w.SetU32("general.file_type", FileType(s.type));
  w.SetU32("general.quantization_version", 2);
  w.SetU32(a + ".context_length", u32(s.context_length));
  w.SetU32(a + ".embedding_length", u32(s.embd));
  w.SetU32(a + ".block_count", u32(s.layers));
  w.SetU32(a + ".feed_forward_length", u32(s.ff));
  w.SetU32(a + ".attention.head_count", u32(s.heads));
  w.SetU32(a + ".attention.head_count_kv", u32(s.kv_heads));
  w.SetU32(a + ".attention.key_length", u32(s.head_dim));
  w.SetU32(a + ".attention.value_length", u32(s.head_dim));
  if (gemma) {
    w.SetF32(a + ".attention.layer_norm_rms_epsilon", 1e-6f);
    w.SetF32(a + ".rope.freq_base", 1000000.0f);
    w.SetU32(a + ".attention.sliding_window", u32(s.sliding_window));
  } else {
    w.SetF32(a + ".attention.layer_norm_rms_epsilon", 1e-5f);
    w.SetF32(a + ".rope.freq_base", 10000.0f);
    w.SetU32(a + ".rope.dimension_count", u32(s.head_dim));
    w.SetU32(a + ".vocab_size", u32(s.vocab));
  }

  if (gemma) {
    Vocab v = GemmaVocab(s.vocab);
    w.SetString("tokenizer.ggml.model", "llama");
    w.SetString("tokenizer.ggml.pre", "default");
    w.SetStringArray("tokenizer.ggml.tokens", std::move(v.tokens));
    w.SetF32Array("tokenizer.ggml.scores", std::move(v.scores));
    w.SetI32Array("tokenizer.ggml.token_type", std::move(v.types));
    w.SetU32("tokenizer.ggml.bos_token_id", 2);
    w.SetU32("tokenizer.ggml.eos_token_id", 1);
    w.SetU32("tokenizer.ggml.unknown_token_id", 3);
    w.SetU32("tokenizer.ggml.padding_token_id", 0);
    w.SetBool("tokenizer.ggml.add_bos_token", true);
    w.SetBool("tokenizer.ggml.add_eos_token", false);
    w.SetBool("tokenizer.ggml.add_space_prefix", false);
    w.SetString("tokenizer.chat_template", kGemmaChatTemplate);
  } else {
    Vocab v = Gpt2Vocab(s.vocab);
    w.SetString("tokenizer.ggml.model", "gpt2");
    w.SetString("tokenizer.ggml.pre", "smollm");
    w.SetStringArray("tokenizer.ggml.tokens", std::move(v.tokens));
    w.SetI32Array("tokenizer.ggml.token_type", std::move(v.types));
    w.SetStringArray("tokenizer.ggml.merges", std::move(v.merges));
    w.SetU32("tokenizer.ggml.bos_token_id", 1);
    w.SetU32("tokenizer.ggml.eos_token_id", 2);
    w.SetU32("tokenizer.ggml.unknown_token_id", 0);
    w.SetU32("tokenizer.ggml.padding_token_id", 2);
    w.SetBool("tokenizer.ggml.add_bos_token", false);
    w.SetBool("tokenizer.ggml.add_space_prefix", false);
    w.SetString("tokenizer.chat_template", kChatMlTemplate);
  }

  ModelBuilder b(s, &w);
  const int64_t embd = s.embd, ff = s.ff, q_dim = int64_t{s.heads} * s.head_dim,
                kv_dim = int64_t{s.kv_heads} * s.head_dim;
  TLM_RETURN_IF_ERROR(b.Matrix("token_embd.weight", embd, s.vocab));
  for (int l = 0; l < s.layers; ++l) {
    const std::string p = fmt::format("blk.{}.", l);
    b.Norm(p + "attn_norm.weight", embd);
    TLM_RETURN_IF_ERROR(b.Matrix(p + "attn_q.weight", embd, q_dim));
    TLM_RETURN_IF_ERROR(b.Matrix(p + "attn_k.weight", embd, kv_dim));
    TLM_RETURN_IF_ERROR(b.Matrix(p + "attn_v.weight", embd, kv_dim));
    TLM_RETURN_IF_ERROR(b.Matrix(p + "attn_output.weight", q_dim, embd));
    if (gemma) {
      b.Norm(p + "attn_q_norm.weight", s.head_dim);
      b.Norm(p + "attn_k_norm.weight", s.head_dim);
      b.Norm(p + "post_attention_norm.weight", embd);
    }
    b.Norm(p + "ffn_norm.weight", embd);
    TLM_RETURN_IF_ERROR(b.Matrix(p + "ffn_gate.weight", embd, ff));
    TLM_RETURN_IF_ERROR(b.Matrix(p + "ffn_up.weight", embd, ff));
    TLM_RETURN_IF_ERROR(b.Matrix(p + "ffn_down.weight", ff, embd));
    if (gemma) b.Norm(p + "post_ffw_norm.weight", embd);
  }
  b.Norm("output_norm.weight", embd);
  if (!gemma && !s.tie_embeddings) {
    TLM_RETURN_IF_ERROR(b.Matrix("output.weight", embd, s.vocab));
  }
  return w;
}

Status WriteSyntheticModel(const SyntheticModelSpec& spec, const std::string& path) {
  TLM_ASSIGN_OR_RETURN(GgufWriter w, BuildSyntheticModel(spec));
  return w.WriteFile(path);
}

}  // namespace tlm
