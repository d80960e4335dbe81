// TokenTable: token text -> id for a whole vocabulary, an open-addressing table of ids whose
// keys are the vocabulary's own strings (building it for Gemma's 262144 tokens takes a few ms,
// where a node-based map takes tens).
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <string_view>
#include <vector>

namespace tlm {

class TokenTable {
 public:
  // Indexes `tokens`, which must outlive the table unchanged. Returns -1 when every text is
  // distinct, else the id of the first token that repeats an earlier one (Find then gives the
  // earlier id; the table is left incomplete).
  int32_t Build(const std::vector<std::string>& tokens) {
    tokens_ = &tokens;
    size_t capacity = 16;
    while (capacity < tokens.size() * 2) capacity *= 2;
    mask_ = capacity - 1;
    slots_.assign(capacity, -1);
    for (size_t i = 0; i < tokens.size(); ++i) {
      size_t slot = Hash(tokens[i]) & mask_;
      while (slots_[slot] >= 0) {
        if (tokens[static_cast<size_t>(slots_[slot])] == tokens[i]) return static_cast<int32_t>(i);
        slot = (slot + 1) & mask_;
      }
      slots_[slot] = static_cast<int32_t>(i);
    }
    return -1;
  }

  // The id of the token whose text is `text`, or -1.
  int32_t Find(std::string_view text) const {
    if (slots_.empty()) return -1;
    for (size_t slot = Hash(text) & mask_;; slot = (slot + 1) & mask_) {
      const int32_t id = slots_[slot];
      if (id < 0 || (*tokens_)[static_cast<size_t>(id)] == text) return id;
    }
  }

 private:
  static size_t Hash(std::string_view s) { return std::hash<std::string_view>{}(s); }

  const std::vector<std::string>* tokens_ = nullptr;
  std::vector<int32_t> slots_;
  size_t mask_ = 0;
};

}  // namespace tlm
