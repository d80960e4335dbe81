// SentencePiece-style tokenizer ("llama" vocabularies such as Gemma's): spaces become "▁", then
// adjacent pieces merge greedily by token score, and what never forms a token falls back to
// <0xXX> byte tokens. Matches llama.cpp's llm_tokenizer_spm.
#include <array>
#include <queue>

#include "engine/tokenizer/tokenizer_internal.h"
#include "engine/tokenizer/unicode.h"

namespace tlm::tokenizer_internal {
namespace {

constexpr std::string_view kSpaceMarker = "\xe2\x96\x81";  // U+2581 "▁"

class SpmTokenizer final : public Tokenizer {
 public:
  explicit SpmTokenizer(Vocab vocab) : Tokenizer(std::move(vocab)) {}

  Status InitSpm() {
    TLM_RETURN_IF_ERROR(Init());
    for (int b = 0; b < 256; ++b) {
      // llama.cpp looks for "<0xXX>", then for the byte as a one-character token.
      int32_t id = TokenId(fmt::format("<0x{:02X}>", b));
      if (id < 0) id = TokenId(std::string(1, static_cast<char>(b)));
      if (id < 0) id = vocab_.unk;  // llama.cpp would throw; we stay total
      byte_tokens_[b] = id;
    }
    return Status::Ok();
  }

  using Tokenizer::TokenToPiece;

  std::vector<int32_t> Encode(std::string_view text, bool add_bos,
                              bool parse_special) const override {
    std::vector<int32_t> out;
    if (add_bos && vocab_.add_bos && vocab_.bos >= 0) out.push_back(vocab_.bos);
    if (!text.empty()) {
      bool prev_special = true;  // the first text gets the space prefix, as after a special token
      std::string escaped;
      for (const Fragment& f : Partition(text, parse_special)) {
        if (f.token >= 0) {
          out.push_back(f.token);
          prev_special = true;
          continue;
        }
        escaped.clear();
        if (vocab_.add_space_prefix && prev_special) escaped = kSpaceMarker;
        for (char c : text.substr(f.offset, f.length)) {
          if (c == ' ') {
            escaped += kSpaceMarker;
          } else {
            escaped += c;
          }
        }
        EncodeText(escaped, &out);
        prev_special = false;
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
      for (size_t i = 0; i < text.size();) {
        if (text.compare(i, kSpaceMarker.size(), kSpaceMarker) == 0) {
          out += ' ';
          i += kSpaceMarker.size();
        } else {
          out += text[i++];
        }
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
    float score;
    uint32_t length;
  };
  // Highest score first; among equals, the leftmost.
  struct BigramOrder {
    bool operator()(const Bigram& a, const Bigram& b) const {
      return a.score < b.score || (a.score == b.score && a.left > b.left);
    }
  };
  using BigramQueue = std::priority_queue<Bigram, std::vector<Bigram>, BigramOrder>;

  void EncodeText(std::string_view text, std::vector<int32_t>* out) const {
    std::vector<Symbol> symbols;
    symbols.reserve(text.size());
    for (size_t offset = 0; offset < text.size();) {
      const size_t length =
          std::min(Utf8SequenceLength(static_cast<uint8_t>(text[offset])), text.size() - offset);
      const auto index = static_cast<int32_t>(symbols.size());
      symbols.push_back({index - 1, offset + length == text.size() ? -1 : index + 1,
                         static_cast<uint32_t>(offset), static_cast<uint32_t>(length)});
      offset += length;
    }
    if (symbols.empty()) return;

    BigramQueue queue;
    auto try_add = [&](int32_t left, int32_t right) {
      if (left < 0 || right < 0) return;
      const uint32_t length = symbols[left].length + symbols[right].length;
      const int32_t id = TokenId(text.substr(symbols[left].start, length));
      if (id < 0) return;
      const float score = vocab_.scores.empty() ? 0.0f : vocab_.scores[id];
      queue.push({left, right, score, length});
    };
    for (int32_t i = 1; i < static_cast<int32_t>(symbols.size()); ++i) try_add(i - 1, i);

    while (!queue.empty()) {
      const Bigram bigram = queue.top();
      queue.pop();
      Symbol& left = symbols[bigram.left];
      Symbol& right = symbols[bigram.right];
      // Stale: one side was merged away or grew since this pair was queued.
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

    // Every merged symbol is a token by construction; a symbol that never merged and is no
    // token falls back to its bytes.
    for (int32_t i = 0; i != -1; i = symbols[i].next) {
      const Symbol& s = symbols[i];
      const std::string_view piece = text.substr(s.start, s.length);
      const int32_t id = TokenId(piece);
      if (id >= 0) {
        out->push_back(id);
        continue;
      }
      for (char c : piece) {
        const int32_t byte_id = byte_tokens_[static_cast<uint8_t>(c)];
        if (byte_id >= 0) out->push_back(byte_id);
      }
    }
  }

  std::array<int32_t, 256> byte_tokens_{};
};

}  // namespace

StatusOr<std::unique_ptr<Tokenizer>> CreateSpmTokenizer(Vocab vocab) {
  auto tokenizer = std::make_unique<SpmTokenizer>(std::move(vocab));
  TLM_RETURN_IF_ERROR(tokenizer->InitSpm());
  return std::unique_ptr<Tokenizer>(std::move(tokenizer));
}

}  // namespace tlm::tokenizer_internal
