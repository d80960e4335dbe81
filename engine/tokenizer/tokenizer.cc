// What every tokenizer shares: vocabulary lookups, token attributes, splitting text on special
// tokens, decoding, and the choice of the concrete tokenizer.
#include "engine/tokenizer/tokenizer.h"

#include <algorithm>
#include <array>

#include "engine/tokenizer/tokenizer_internal.h"

namespace tlm {
namespace {

// Texts llama.cpp treats as ending generation (and therefore as control tokens).
constexpr std::array<std::string_view, 21> kEndOfGenerationTexts = {
    "<|eot_id|>", "<|im_end|>", "<|end|>", "<|return|>", "<|call|>", "<|flush|>", "<|calls|>",
    "<end_of_turn>", "<|endoftext|>", "</s>", "<|eom_id|>", "<EOT>", "_<EOT>", "[EOT]", "[EOS]",
    "<|end_of_text|>", "<end_of_utterance>", "<eos>", "<turn|>", "<|tool_response>",
    "<\xef\xbd\x9c" "end\xe2\x96\x81of\xe2\x96\x81sentence\xef\xbd\x9c>"};

// Fill-in-the-middle tokens found by text: llama.cpp marks the first of each role a control
// token, and those of the last three roles also end generation.
struct FimRole {
  std::array<std::string_view, 8> texts;
  bool ends_generation;
};
constexpr std::array<FimRole, 6> kFimRoles = {{
    {{"<|fim_prefix|>", "<fim-prefix>", "<fim_prefix>", "<\xef\xbd\x9c" "fim\xe2\x96\x81" "begin\xef\xbd\x9c>",
      "<PRE>", "\xe2\x96\x81<PRE>", "<|code_prefix|>", "<|prefix|>"}, false},
    {{"<|fim_suffix|>", "<fim-suffix>", "<fim_suffix>", "<\xef\xbd\x9c" "fim\xe2\x96\x81hole\xef\xbd\x9c>",
      "<SUF>", "\xe2\x96\x81<SUF>", "<|code_suffix|>", "<|suffix|>"}, false},
    {{"<|fim_middle|>", "<fim-middle>", "<fim_middle>", "<\xef\xbd\x9c" "fim\xe2\x96\x81" "end\xef\xbd\x9c>",
      "<MID>", "\xe2\x96\x81<MID>", "<|code_middle|>", "<|middle|>"}, false},
    {{"<|fim_pad|>", "<fim-pad>", "<fim_pad>", "<PAD>", "[PAD]"}, true},
    {{"<|fim_repo|>", "<|repo_name|>", "<fim-repo>", "<REPO>", "<reponame>"}, true},
    {{"<|file_sep|>"}, true},
}};

}  // namespace

Tokenizer::Tokenizer(Vocab vocab) : vocab_(std::move(vocab)) {}
Tokenizer::~Tokenizer() = default;

StatusOr<std::unique_ptr<Tokenizer>> Tokenizer::Create(Vocab vocab) {
  const size_t n = vocab.tokens.size();
  if (n == 0) return InvalidArgument("tokenizer: the vocabulary is empty");
  if (vocab.kinds.size() != n) {
    return InvalidArgument("tokenizer: {} token kinds for {} tokens", vocab.kinds.size(), n);
  }
  if (!vocab.scores.empty() && vocab.scores.size() != n) {
    return InvalidArgument("tokenizer: {} scores for {} tokens", vocab.scores.size(), n);
  }
  for (int32_t id : {vocab.bos, vocab.eos, vocab.unk, vocab.pad, vocab.eot}) {
    if (id >= static_cast<int64_t>(n)) {
      return InvalidArgument("tokenizer: special token id {} is past the {} tokens", id, n);
    }
  }
  if (vocab.model == "llama") return tokenizer_internal::CreateSpmTokenizer(std::move(vocab));
  if (vocab.model == "gpt2") return tokenizer_internal::CreateBpeTokenizer(std::move(vocab));
  return Unimplemented("tokenizer: tokenizer model '{}' is not supported (only 'llama' and 'gpt2')",
                       vocab.model);
}

Status Tokenizer::Init() {
  const size_t n = vocab_.tokens.size();
  for (size_t i = 0; i < n; ++i) {
    if (vocab_.tokens[i].empty()) return InvalidArgument("tokenizer: token {} is empty", i);
  }
  if (const int32_t dup = token_ids_.Build(vocab_.tokens); dup >= 0) {
    return InvalidArgument("tokenizer: tokens {} and {} are both '{}'",
                           token_ids_.Find(vocab_.tokens[dup]), dup, vocab_.tokens[dup]);
  }

  attrs_.resize(n);
  for (size_t i = 0; i < n; ++i) {
    switch (vocab_.kinds[i]) {
      case TokenKind::kNormal: attrs_[i] = kAttrNormal; break;
      case TokenKind::kUnknown: attrs_[i] = kAttrUnknown; break;
      case TokenKind::kControl: attrs_[i] = kAttrControl; break;
      case TokenKind::kUserDefined: attrs_[i] = kAttrUserDefined; break;
      case TokenKind::kUnused: attrs_[i] = kAttrUnused; break;
      case TokenKind::kByte: attrs_[i] = kAttrByte; break;
      default: attrs_[i] = 0; break;
    }
  }

  // llama.cpp's load-time fix-ups, in its order. They change how text is split on special
  // tokens (Gemma's user-defined "</s>" becomes a control token, for one), so they matter for
  // matching its output.
  std::vector<int32_t> eog;
  for (const FimRole& role : kFimRoles) {
    int32_t found = -1;
    for (std::string_view text : role.texts) {
      if (text.empty()) break;
      const int32_t id = TokenId(text);
      if (id >= 0 && (found < 0 || id < found)) found = id;
    }
    if (found < 0) continue;
    attrs_[found] |= kAttrControl;
    if (role.ends_generation) eog.push_back(found);
  }
  for (std::string_view text : kEndOfGenerationTexts) {
    const int32_t id = TokenId(text);
    if (id < 0) continue;
    eog.push_back(id);
    attrs_[id] |= kAttrControl;
  }
  for (std::string_view text : {"<|channel|>", "<|message|>", "<|start|>", "<|constrain|>"}) {
    const int32_t id = TokenId(text);
    if (id >= 0) attrs_[id] = kAttrUserDefined;
  }
  if (vocab_.eos >= 0) eog.push_back(vocab_.eos);
  if (vocab_.eot >= 0) eog.push_back(vocab_.eot);
  std::sort(eog.begin(), eog.end());
  eog.erase(std::unique(eog.begin(), eog.end()), eog.end());
  auto in_eog = [&](std::string_view text) {
    const int32_t id = TokenId(text);
    return id >= 0 && std::binary_search(eog.begin(), eog.end(), id);
  };
  auto drop_from_eog = [&](std::string_view text, uint8_t new_attr) {
    const int32_t id = TokenId(text);
    eog.erase(std::remove(eog.begin(), eog.end(), id), eog.end());
    attrs_[id] = new_attr;
  };
  // Harmony-style vocabularies: "<|end|>" ends a message, not the generation.
  if (in_eog("<|end|>") && ((in_eog("<|return|>") && in_eog("<|call|>")) ||
                            (in_eog("<|calls|>") && in_eog("<|flush|>")))) {
    drop_from_eog("<|end|>", kAttrUserDefined);
  }
  // Gemma 4 style vocabularies: "</s>" is ordinary text there.
  if (in_eog("<|tool_response>") && in_eog("</s>")) drop_from_eog("</s>", kAttrNormal);
  eog_ids_ = std::move(eog);
  for (size_t i = 0; i < n; ++i) {
    if ((attrs_[i] & kAttrControl) && vocab_.tokens[i].find("unused") != std::string::npos) {
      attrs_[i] |= kAttrUnused;
    }
  }

  BuildSpecialTrie();
  return Status::Ok();
}

void Tokenizer::BuildSpecialTrie() {
  const size_t n = vocab_.tokens.size();
  std::vector<int32_t> special;
  for (size_t i = 0; i < n; ++i) {
    if (attrs_[i] & (kAttrControl | kAttrUserDefined | kAttrUnknown)) {
      special.push_back(static_cast<int32_t>(i));
    }
  }
  // llama.cpp tries longer special tokens first. It leaves the order of equal lengths to an
  // unstable sort; we take lower ids first, which only matters if two special tokens of one
  // length overlap in the text.
  std::stable_sort(special.begin(), special.end(), [&](int32_t a, int32_t b) {
    return vocab_.tokens[a].size() > vocab_.tokens[b].size();
  });
  special_rank_.assign(n, -1);
  special_by_rank_ = special;
  special_trie_.assign(1, TrieNode{});
  for (size_t rank = 0; rank < special.size(); ++rank) {
    const int32_t id = special[rank];
    special_rank_[id] = static_cast<int32_t>(rank);
    int32_t node = 0;
    for (char c : vocab_.tokens[id]) {
      const auto byte = static_cast<uint8_t>(c);
      auto& children = special_trie_[node].children;
      auto it = std::lower_bound(children.begin(), children.end(), byte,
                                 [](const auto& child, uint8_t b) { return child.first < b; });
      if (it != children.end() && it->first == byte) {
        node = it->second;
        continue;
      }
      const auto child = static_cast<int32_t>(special_trie_.size());
      children.insert(it, {byte, child});
      special_trie_.push_back(TrieNode{});  // may move `children`: not used after this
      node = child;
    }
    special_trie_[node].token = id;
  }
}

std::vector<Tokenizer::Fragment> Tokenizer::Partition(std::string_view text,
                                                      bool parse_special) const {
  // llama.cpp takes the special tokens one by one, longest first, and splits every stretch of
  // text not yet claimed at that token's leftmost non-overlapping occurrences. We do the same,
  // but only for the tokens that occur in the text at all, found with one walk of the trie from
  // every position (llama.cpp searches the text for each of Gemma's 6414 special tokens).
  std::vector<int32_t> ranks;
  std::vector<uint8_t> seen(special_by_rank_.size(), 0);
  for (size_t pos = 0; pos < text.size(); ++pos) {
    int32_t node = 0;
    for (size_t i = pos; i < text.size(); ++i) {
      const auto byte = static_cast<uint8_t>(text[i]);
      const auto& children = special_trie_[node].children;
      auto it = std::lower_bound(children.begin(), children.end(), byte,
                                 [](const auto& child, uint8_t b) { return child.first < b; });
      if (it == children.end() || it->first != byte) break;
      node = it->second;
      const int32_t token = special_trie_[node].token;
      if (token < 0) continue;
      // Without parse_special only user-defined tokens are split out.
      if (!parse_special && (attr(token) & (kAttrControl | kAttrUnknown))) continue;
      const int32_t rank = special_rank_[token];
      if (!seen[rank]) {
        seen[rank] = 1;
        ranks.push_back(rank);
      }
    }
  }
  std::sort(ranks.begin(), ranks.end());

  std::vector<Fragment> fragments;
  if (!text.empty()) fragments.push_back({-1, 0, text.size()});
  std::vector<Fragment> next;
  for (int32_t rank : ranks) {
    const int32_t token = special_by_rank_[rank];
    const std::string_view needle = vocab_.tokens[token];
    next.clear();
    bool split = false;
    for (const Fragment& f : fragments) {
      if (f.token >= 0) {
        next.push_back(f);
        continue;
      }
      const std::string_view stretch = text.substr(f.offset, f.length);
      size_t cursor = 0;
      for (size_t at = stretch.find(needle); at != std::string_view::npos;
           at = stretch.find(needle, cursor)) {
        if (at > cursor) next.push_back({-1, f.offset + cursor, at - cursor});
        next.push_back({token, f.offset + at, needle.size()});
        cursor = at + needle.size();
        split = true;
      }
      if (cursor < stretch.size()) next.push_back({-1, f.offset + cursor, stretch.size() - cursor});
    }
    if (split) fragments.swap(next);
  }
  return fragments;
}

uint8_t Tokenizer::ByteTokenValue(std::string_view text) {
  // "<0xXX>": the hex digits at 3 and 4 (validated by LoadVocab; lenient like strtol otherwise).
  uint8_t value = 0;
  for (size_t i = 3; i < 5 && i < text.size(); ++i) {
    const char c = text[i];
    int digit;
    if (c >= '0' && c <= '9') digit = c - '0';
    else if (c >= 'a' && c <= 'f') digit = c - 'a' + 10;
    else if (c >= 'A' && c <= 'F') digit = c - 'A' + 10;
    else break;
    value = static_cast<uint8_t>(value * 16 + digit);
  }
  return value;
}

std::string Tokenizer::Decode(std::span<const int32_t> ids, bool render_special) const {
  std::string out;
  // Like llama.cpp: a model that prepends a space when encoding has one space stripped from the
  // first piece.
  bool strip_space = vocab_.add_space_prefix;
  for (int32_t id : ids) {
    if (id < 0 || id >= n_vocab()) continue;
    std::string piece = TokenToPiece(id, render_special);
    if (strip_space && !piece.empty() && piece[0] == ' ') piece.erase(0, 1);
    strip_space = false;
    out += piece;
  }
  return out;
}

bool Tokenizer::IsEndOfGeneration(int32_t id) const {
  return std::binary_search(eog_ids_.begin(), eog_ids_.end(), id);
}

int32_t Tokenizer::TokenId(std::string_view text) const { return token_ids_.Find(text); }

}  // namespace tlm
