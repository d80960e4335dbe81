// LoadVocab: reads the tokenizer.* metadata of a GGUF file into a validated Vocab.
#include <algorithm>
#include <array>
#include <cctype>
#include <climits>
#include <string_view>

#include "engine/tokenizer/token_table.h"
#include "engine/tokenizer/tokenizer.h"

namespace tlm {
namespace {

constexpr std::string_view kModelKey = "tokenizer.ggml.model";
constexpr std::string_view kPreKey = "tokenizer.ggml.pre";
constexpr std::string_view kTokensKey = "tokenizer.ggml.tokens";
constexpr std::string_view kScoresKey = "tokenizer.ggml.scores";
constexpr std::string_view kTypesKey = "tokenizer.ggml.token_type";
constexpr std::string_view kMergesKey = "tokenizer.ggml.merges";
constexpr std::string_view kAddBosKey = "tokenizer.ggml.add_bos_token";
constexpr std::string_view kAddEosKey = "tokenizer.ggml.add_eos_token";
constexpr std::string_view kAddSpacePrefixKey = "tokenizer.ggml.add_space_prefix";
constexpr std::string_view kChatTemplateKey = "tokenizer.chat_template";

// Texts llama.cpp takes for the end-of-turn token when the file names none, in our order of
// preference (llama.cpp takes whichever its hash map yields first).
constexpr std::array<std::string_view, 11> kEndOfTurnTexts = {
    "<|eot_id|>", "<|im_end|>", "<|end|>", "<end_of_turn>", "<|endoftext|>", "<|end_of_text|>",
    "<EOT>", "_<EOT>", "[EOT]", "<\xef\xbd\x9c" "end\xe2\x96\x81of\xe2\x96\x81sentence\xef\xbd\x9c>",
    "<end_of_utterance>"};

Status KeyError(const GgufFile& file, std::string_view key, const Status& status) {
  return status.WithContext(fmt::format("{}: key '{}'", file.path(), key));
}

// An optional bool key: leaves `out` alone when absent.
Status ReadOptionalBool(const GgufFile& file, std::string_view key, bool* out) {
  if (file.Find(key) == nullptr) return Status::Ok();
  auto value = file.GetBool(key);
  if (!value.ok()) return KeyError(file, key, value.status());
  *out = *value;
  return Status::Ok();
}

// An optional token id key: leaves `out` alone when absent, refuses ids past the vocabulary.
Status ReadOptionalTokenId(const GgufFile& file, std::string_view key, size_t n_tokens,
                           int32_t* out) {
  if (file.Find(key) == nullptr) return Status::Ok();
  auto value = file.GetUInt(key);
  if (!value.ok()) return KeyError(file, key, value.status());
  if (*value >= n_tokens) {
    return InvalidArgument("{}: key '{}' is {}, past the {} tokens of the vocabulary", file.path(),
                           key, *value, n_tokens);
  }
  *out = static_cast<int32_t>(*value);
  return Status::Ok();
}

}  // namespace

StatusOr<Vocab> LoadVocab(const GgufFile& file) {
  Vocab vocab;
  {
    auto model = file.GetString(kModelKey);
    if (!model.ok()) return KeyError(file, kModelKey, model.status());
    vocab.model = std::move(model).value();
  }
  if (file.Find(kPreKey) != nullptr) {
    auto pre = file.GetString(kPreKey);
    if (!pre.ok()) return KeyError(file, kPreKey, pre.status());
    vocab.pre = std::move(pre).value();
  }
  {
    auto tokens = file.GetStringArray(kTokensKey);
    if (!tokens.ok()) return KeyError(file, kTokensKey, tokens.status());
    vocab.tokens = std::move(tokens).value();
  }
  const size_t n = vocab.tokens.size();
  if (n == 0) return InvalidArgument("{}: key '{}' is empty", file.path(), kTokensKey);
  if (n > static_cast<size_t>(INT32_MAX)) {
    return InvalidArgument("{}: key '{}' has {} tokens, more than int32 ids can name", file.path(),
                           kTokensKey, n);
  }
  // llama.cpp renames empty tokens so that every token has a text of its own.
  for (size_t i = 0; i < n; ++i) {
    if (vocab.tokens[i].empty()) vocab.tokens[i] = fmt::format("[EMPTY_{}]", i);
  }
  {
    TokenTable table;
    if (const int32_t dup = table.Build(vocab.tokens); dup >= 0) {
      return InvalidArgument("{}: key '{}': tokens {} and {} are both '{}'", file.path(),
                             kTokensKey, table.Find(vocab.tokens[dup]), dup, vocab.tokens[dup]);
    }
  }

  if (file.Find(kScoresKey) != nullptr) {
    auto scores = file.GetFloatArray(kScoresKey);
    if (!scores.ok()) return KeyError(file, kScoresKey, scores.status());
    if (scores->size() != n) {
      return InvalidArgument("{}: key '{}' has {} values for {} tokens", file.path(), kScoresKey,
                             scores->size(), n);
    }
    vocab.scores.assign(scores->begin(), scores->end());
  }

  vocab.kinds.assign(n, TokenKind::kNormal);
  if (file.Find(kTypesKey) != nullptr) {
    auto types = file.GetIntArray(kTypesKey);
    if (!types.ok()) return KeyError(file, kTypesKey, types.status());
    if (types->size() != n) {
      return InvalidArgument("{}: key '{}' has {} values for {} tokens", file.path(), kTypesKey,
                             types->size(), n);
    }
    for (size_t i = 0; i < n; ++i) {
      const int64_t t = (*types)[i];
      if (t < 0 || t > static_cast<int64_t>(TokenKind::kByte)) {
        return InvalidArgument("{}: key '{}': token {} ('{}') has unknown type {}", file.path(),
                               kTypesKey, i, vocab.tokens[i], t);
      }
      vocab.kinds[i] = static_cast<TokenKind>(t);
    }
  }
  for (size_t i = 0; i < n; ++i) {
    if (vocab.kinds[i] != TokenKind::kByte) continue;
    const std::string& t = vocab.tokens[i];
    // Byte tokens are "<0xXX>" (llama) or a single character (some BPE vocabularies).
    const bool hex_form = t.size() == 6 && t.compare(0, 3, "<0x") == 0 && t[5] == '>' &&
                          std::isxdigit(static_cast<unsigned char>(t[3])) &&
                          std::isxdigit(static_cast<unsigned char>(t[4]));
    if (!hex_form) {
      return InvalidArgument("{}: key '{}': byte token {} is '{}', not of the form <0xXX>",
                             file.path(), kTypesKey, i, t);
    }
  }

  if (vocab.model == "gpt2") {
    auto merges = file.GetStringArray(kMergesKey);
    if (!merges.ok()) return KeyError(file, kMergesKey, merges.status());
    vocab.merges = std::move(merges).value();
  } else if (file.Find(kMergesKey) != nullptr) {
    auto merges = file.GetStringArray(kMergesKey);
    if (!merges.ok()) return KeyError(file, kMergesKey, merges.status());
    vocab.merges = std::move(merges).value();
  }

  // Defaults as llama.cpp sets them per tokenizer model, before the file's keys override them.
  auto default_id = [n](int32_t id) { return static_cast<size_t>(id) < n ? id : -1; };
  if (vocab.model == "llama") {
    vocab.bos = default_id(1);
    vocab.eos = default_id(2);
    vocab.unk = default_id(0);
    vocab.add_bos = true;
    vocab.add_space_prefix = true;
  } else if (vocab.model == "gpt2") {
    vocab.bos = default_id(11);
    vocab.eos = default_id(11);
  }
  TLM_RETURN_IF_ERROR(ReadOptionalTokenId(file, "tokenizer.ggml.bos_token_id", n, &vocab.bos));
  TLM_RETURN_IF_ERROR(ReadOptionalTokenId(file, "tokenizer.ggml.eos_token_id", n, &vocab.eos));
  TLM_RETURN_IF_ERROR(ReadOptionalTokenId(file, "tokenizer.ggml.unknown_token_id", n, &vocab.unk));
  TLM_RETURN_IF_ERROR(ReadOptionalTokenId(file, "tokenizer.ggml.padding_token_id", n, &vocab.pad));
  TLM_RETURN_IF_ERROR(ReadOptionalTokenId(file, "tokenizer.ggml.eot_token_id", n, &vocab.eot));
  TLM_RETURN_IF_ERROR(ReadOptionalBool(file, kAddBosKey, &vocab.add_bos));
  TLM_RETURN_IF_ERROR(ReadOptionalBool(file, kAddEosKey, &vocab.add_eos));
  TLM_RETURN_IF_ERROR(ReadOptionalBool(file, kAddSpacePrefixKey, &vocab.add_space_prefix));
  if (vocab.add_bos && vocab.bos < 0) {
    return InvalidArgument("{}: key '{}' is true but the vocabulary has no BOS token", file.path(),
                           kAddBosKey);
  }
  if (vocab.add_eos && vocab.eos < 0) {
    return InvalidArgument("{}: key '{}' is true but the vocabulary has no EOS token", file.path(),
                           kAddEosKey);
  }

  if (vocab.eot < 0) {
    // Only short texts that start like the candidates can match: skip the rest cheaply.
    size_t best = kEndOfTurnTexts.size();
    for (size_t i = 0; i < n && best > 0; ++i) {
      const std::string& t = vocab.tokens[i];
      if (t.size() > 32 || (t[0] != '<' && t[0] != '_' && t[0] != '[')) continue;
      for (size_t k = 0; k < best; ++k) {
        if (t == kEndOfTurnTexts[k]) {
          best = k;
          vocab.eot = static_cast<int32_t>(i);
          break;
        }
      }
    }
  }

  if (file.Find(kChatTemplateKey) != nullptr) {
    auto tmpl = file.GetString(kChatTemplateKey);
    if (!tmpl.ok()) return KeyError(file, kChatTemplateKey, tmpl.status());
    vocab.chat_template = std::move(tmpl).value();
  }
  return vocab;
}

}  // namespace tlm
