// GPT-2 byte-level BPE ("gpt2" vocabularies such as SmolLM2's): a regex-like pre-tokenizer
// splits text into words, each word's bytes are spelled in GPT-2's printable alphabet, and
// merges apply by rank. Matches llama.cpp's llm_tokenizer_bpe for the pre-tokenizers below.
#include <functional>
#include <queue>
#include <unordered_map>

#include "engine/tokenizer/tokenizer_internal.h"
#include "engine/tokenizer/unicode.h"

namespace tlm::tokenizer_internal {
namespace {

// How text is split into words before merging.
enum class PreTokenizer {
  // llama.cpp's "smollm" (also starcoder, refact, ...): every \p{N} code point on its own,
  // then 's|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+ within
  // each piece.
  kSmolLm,
};

struct PairHash {
  size_t operator()(const std::pair<std::string_view, std::string_view>& p) const {
    const size_t h1 = std::hash<std::string_view>{}(p.first);
    const size_t h2 = std::hash<std::string_view>{}(p.second);
    return h1 ^ (h2 + 0x9e3779b97f4a7c15ULL + (h1 << 6) + (h1 >> 2));
  }
};

// One code point of the text with what the pre-tokenizer needs to know about it.
struct CodePointClass {
  bool letter = false, number = false, whitespace = false;
};

CodePointClass Classify(uint32_t cp) {
  const UnicodeCategory cat = UnicodeCategoryOf(cp);
  return {cat == UnicodeCategory::kLetter, cat == UnicodeCategory::kNumber,
          UnicodeIsWhitespace(cp)};
}

// Appends the lengths (in code points) of the words of cps[begin, end) under the GPT-2 pattern
// 's|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+ to `words`.
// Lookahead stops at `end`: a run of spaces at the end of the piece is one word.
void SplitGpt2(const std::vector<uint32_t>& cps, const std::vector<CodePointClass>& cls,
               size_t begin, size_t end, std::vector<size_t>* words) {
  auto in = [&](size_t i) { return i >= begin && i < end; };
  auto letter = [&](size_t i) { return in(i) && cls[i].letter; };
  auto number = [&](size_t i) { return in(i) && cls[i].number; };
  auto space = [&](size_t i) { return in(i) && cls[i].whitespace; };
  auto other = [&](size_t i) {
    return in(i) && !cls[i].letter && !cls[i].number && !cls[i].whitespace;
  };
  size_t pos = begin;
  auto emit = [&](size_t word_end) {
    if (word_end > pos) words->push_back(word_end - pos);
    pos = word_end;
  };
  while (pos < end) {
    const uint32_t c = cps[pos];
    if (c == '\'' && pos + 1 < end) {
      const uint32_t c1 = cps[pos + 1];
      if (c1 == 's' || c1 == 't' || c1 == 'm' || c1 == 'd') {
        emit(pos + 2);
        continue;
      }
      if (pos + 2 < end) {
        const uint32_t c2 = cps[pos + 2];
        if ((c1 == 'r' && c2 == 'e') || (c1 == 'v' && c2 == 'e') || (c1 == 'l' && c2 == 'l')) {
          emit(pos + 3);
          continue;
        }
      }
    }
    // The optional leading space of the next three alternatives.
    const size_t first = c == ' ' ? pos + 1 : pos;
    if (letter(first)) {
      size_t i = first;
      while (letter(i)) ++i;
      emit(i);
      continue;
    }
    if (number(first)) {
      size_t i = first;
      while (number(i)) ++i;
      emit(i);
      continue;
    }
    if (other(first)) {
      size_t i = first;
      while (other(i)) ++i;
      emit(i);
      continue;
    }
    size_t run = 0;
    while (space(pos + run)) ++run;
    if (run > 1 && pos + run < end) {
      // \s+(?!\S): leave the last space to lead the next word.
      emit(pos + run - 1);
      continue;
    }
    if (run > 0) {
      emit(pos + run);
      continue;
    }
    emit(pos + 1);
  }
}

class BpeTokenizer final : public Tokenizer {
 public:
  BpeTokenizer(Vocab vocab, PreTokenizer pre) : Tokenizer(std::move(vocab)), pre_(pre) {}

  Status InitBpe() {
    TLM_RETURN_IF_ERROR(Init());
    merge_rank_.reserve(vocab_.merges.size());
    for (size_t i = 0; i < vocab_.merges.size(); ++i) {
      // "left right", split at the first space after the first byte (left may be a space).
      const std::string_view merge = vocab_.merges[i];
      const size_t space = merge.find(' ', 1);
      if (space == std::string_view::npos) continue;  // can never apply; llama.cpp keeps it too
      // The first of duplicate merges wins, as in llama.cpp.
      merge_rank_.try_emplace({merge.substr(0, space), merge.substr(space + 1)},
                              static_cast<int32_t>(i));
    }
    return Status::Ok();
  }

  using Tokenizer::TokenToPiece;

  std::vector<int32_t> Encode(std::string_view text, bool add_bos,
                              bool parse_special) const override {
    std::vector<int32_t> out;
    if (add_bos && vocab_.add_bos && vocab_.bos >= 0) out.push_back(vocab_.bos);
    if (!text.empty()) {
      for (const Fragment& f : Partition(text, parse_special)) {
        if (f.token >= 0) {
          out.push_back(f.token);
        } else {
          EncodeText(text.substr(f.offset, f.length), &out);
        }
      }
    }
    if (add_bos && vocab_.add_eos && vocab_.eos >= 0) out.push_back(vocab_.eos);
    return out;
  }

  std::string TokenToPiece(int32_t id, bool render_special) const override {
    if (id < 0 || id >= n_vocab()) return {};
    const uint8_t a = attr(id);
    if (!render_special && (a & (kAttrControl | kAttrUnknown))) return {};
    const std::string& text = vocab_.tokens[id];
    if (a & (kAttrControl | kAttrUnknown | kAttrUserDefined)) return text;
    if (a & kAttrNormal) {
      std::string out;
      out.reserve(text.size());
      for (uint32_t cp : DecodeUtf8Lenient(text)) {
        const int byte = UnicodeToByte(cp);
        if (byte >= 0) {
          out += static_cast<char>(byte);
          continue;
        }
        // Outside GPT-2's alphabet: llama.cpp writes this marker (with the whole token text).
        std::string utf8;
        AppendUtf8(cp, &utf8);
        out += "[UNK_BYTE_0x";
        for (char c : utf8) out += fmt::format("{:02x}", static_cast<uint8_t>(c));
        out += text + "]";
      }
      return out;
    }
    if (a & kAttrByte) return std::string(1, static_cast<char>(ByteTokenValue(text)));
    return {};
  }

 private:
  struct Symbol {
    int32_t prev, next;
    uint32_t start, length;
  };
  struct Bigram {
    int32_t left, right;
    int32_t rank;
    uint32_t length;
  };
  // Lowest rank first; among equals, the leftmost.
  struct BigramOrder {
    bool operator()(const Bigram& a, const Bigram& b) const {
      return a.rank > b.rank || (a.rank == b.rank && a.left > b.left);
    }
  };

  // Words of `text`, each spelled in GPT-2's byte alphabet.
  std::vector<std::string> PreTokenize(std::string_view text) const {
    const std::vector<uint32_t> cps = DecodeUtf8Lenient(text);
    std::vector<CodePointClass> cls(cps.size());
    for (size_t i = 0; i < cps.size(); ++i) cls[i] = Classify(cps[i]);

    std::vector<size_t> lengths;
    switch (pre_) {
      case PreTokenizer::kSmolLm: {
        // First pass: each number on its own; the second pass runs within each piece.
        size_t piece_begin = 0;
        for (size_t i = 0; i <= cps.size(); ++i) {
          if (i < cps.size() && !cls[i].number) continue;
          SplitGpt2(cps, cls, piece_begin, i, &lengths);
          if (i < cps.size()) lengths.push_back(1);
          piece_begin = i + 1;
        }
        break;
      }
    }

    std::vector<std::string> words;
    words.reserve(lengths.size());
    size_t start = 0;
    std::string utf8;
    for (size_t length : lengths) {
      utf8.clear();
      for (size_t i = start; i < start + length; ++i) AppendUtf8(cps[i], &utf8);
      std::string word;
      word.reserve(utf8.size() * 2);
      for (char c : utf8) word += ByteToUnicodeUtf8(static_cast<uint8_t>(c));
      words.push_back(std::move(word));
      start += length;
    }
    return words;
  }

  int32_t MergeRank(std::string_view left, std::string_view right) const {
    auto it = merge_rank_.find({left, right});
    return it == merge_rank_.end() ? -1 : it->second;
  }

  void EncodeText(std::string_view text, std::vector<int32_t>* out) const {
    std::vector<Symbol> symbols;
    for (const std::string& word : PreTokenize(text)) {
      symbols.clear();
      for (size_t offset = 0; offset < word.size();) {
        const size_t length = std::min(Utf8SequenceLength(static_cast<uint8_t>(word[offset])),
                                       word.size() - offset);
        const auto index = static_cast<int32_t>(symbols.size());
        symbols.push_back({index - 1, offset + length == word.size() ? -1 : index + 1,
                           static_cast<uint32_t>(offset), static_cast<uint32_t>(length)});
        offset += length;
      }
      const std::string_view w = word;
      auto piece = [&](const Symbol& s) { return w.substr(s.start, s.length); };

      std::priority_queue<Bigram, std::vector<Bigram>, BigramOrder> queue;
      auto try_add = [&](int32_t left, int32_t right) {
        if (left < 0 || right < 0) return;
        const int32_t rank = MergeRank(piece(symbols[left]), piece(symbols[right]));
        if (rank < 0) return;
        queue.push({left, right, rank, symbols[left].length + symbols[right].length});
      };
      for (int32_t i = 1; i < static_cast<int32_t>(symbols.size()); ++i) try_add(i - 1, i);

      while (!queue.empty()) {
        const Bigram bigram = queue.top();
        queue.pop();
        Symbol& left = symbols[bigram.left];
        Symbol& right = symbols[bigram.right];
        // Stale: one side was merged away or grew since this pair was queued (both sides start
        // where they did, so equal lengths mean equal text).
        if (left.length == 0 || right.length == 0 || left.length + right.length != bigram.length) {
          continue;
        }
        left.length += right.length;
        right.length = 0;
        left.next = right.next;
        if (right.next >= 0) symbols[right.next].prev = bigram.left;
        try_add(left.prev, bigram.left);
        try_add(bigram.left, left.next);
      }

      for (const Symbol& s : symbols) {
        if (s.length == 0) continue;
        const int32_t id = TokenId(piece(s));
        if (id >= 0) {
          out->push_back(id);
          continue;
        }
        // llama.cpp then looks each raw byte of the spelled piece up as a token, and drops the
        // bytes that are none.
        for (char c : piece(s)) {
          const int32_t byte_id = TokenId(std::string_view(&c, 1));
          if (byte_id >= 0) out->push_back(byte_id);
        }
      }
    }
  }

  PreTokenizer pre_;
  std::unordered_map<std::pair<std::string_view, std::string_view>, int32_t, PairHash> merge_rank_;
};

}  // namespace

StatusOr<std::unique_ptr<Tokenizer>> CreateBpeTokenizer(Vocab vocab) {
  PreTokenizer pre;
  if (vocab.pre == "smollm") {
    pre = PreTokenizer::kSmolLm;
  } else {
    return Unimplemented("tokenizer: gpt2 pre-tokenizer '{}' is not supported (only 'smollm')",
                         vocab.pre);
  }
  auto tokenizer = std::make_unique<BpeTokenizer>(std::move(vocab), pre);
  TLM_RETURN_IF_ERROR(tokenizer->InitBpe());
  return std::unique_ptr<Tokenizer>(std::move(tokenizer));
}

}  // namespace tlm::tokenizer_internal
