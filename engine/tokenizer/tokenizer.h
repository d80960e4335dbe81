// Tokenizers built from GGUF metadata (SentencePiece-style for "llama", GPT-2 byte-level BPE for
// "gpt2"), matching llama.cpp token for token, and the chat templates of the supported models.
#pragma once

#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "engine/common/status.h"
#include "engine/model/gguf.h"
#include "engine/tokenizer/token_table.h"

namespace tlm {

// GGUF tokenizer.ggml.token_type values.
enum class TokenKind : uint8_t {
  kUndefined = 0,
  kNormal = 1,
  kUnknown = 2,
  kControl = 3,
  kUserDefined = 4,
  kUnused = 5,
  kByte = 6,
};

// The tokenizer as the GGUF file describes it, validated but otherwise as written.
struct Vocab {
  std::string model;  // tokenizer.ggml.model: "llama" or "gpt2"
  std::string pre;    // tokenizer.ggml.pre ("smollm", "default", ...)
  std::vector<std::string> tokens;
  std::vector<float> scores;       // empty, or one per token
  std::vector<TokenKind> kinds;    // one per token (kNormal when the file has no token_type)
  std::vector<std::string> merges; // "left right", gpt2 only
  int32_t bos = -1, eos = -1, unk = -1, pad = -1;
  int32_t eot = -1;  // end of turn: tokenizer.ggml.eot_token_id, else found by text
                     // (<|eot_id|>, <|im_end|>, <|end|>, <end_of_turn>, ...)
  bool add_bos = false, add_eos = false, add_space_prefix = false;
  std::string chat_template;  // tokenizer.chat_template, may be empty
};

// Reads and validates the tokenizer.* keys: token, score and type arrays of one size, special
// ids in range, known token types, no duplicate tokens. Errors name the file and the key.
StatusOr<Vocab> LoadVocab(const GgufFile& file);

class Tokenizer {
 public:
  // SentencePiece-style for "llama", byte-level BPE for "gpt2" (pre-tokenizer "smollm"), else
  // Unimplemented naming the model or pre-tokenizer. Builds its lookup tables once.
  static StatusOr<std::unique_ptr<Tokenizer>> Create(Vocab vocab);
  virtual ~Tokenizer();
  Tokenizer(const Tokenizer&) = delete;
  Tokenizer& operator=(const Tokenizer&) = delete;

  // add_bos: llama.cpp's add_special; prepends BOS when vocab.add_bos (and appends EOS when
  // vocab.add_eos). parse_special: text like "<start_of_turn>" becomes the control token (as
  // llama.cpp's parse_special=true); otherwise only user-defined tokens are matched as such and
  // control-token text is tokenized as plain text.
  virtual std::vector<int32_t> Encode(std::string_view text, bool add_bos,
                                      bool parse_special) const = 0;

  // The bytes one token stands for: byte tokens <0xXX> give the raw byte, "▁" gives a space,
  // GPT-2's byte alphabet is mapped back to bytes. Control and unknown tokens give "" unless
  // render_special; user-defined tokens give their text.
  std::string TokenToPiece(int32_t id) const { return TokenToPiece(id, false); }
  virtual std::string TokenToPiece(int32_t id, bool render_special) const = 0;
  // Concatenated pieces (llama.cpp's detokenize without removing or rendering special tokens,
  // unless render_special). Ids out of range are skipped.
  std::string Decode(std::span<const int32_t> ids, bool render_special = false) const;

  const Vocab& vocab() const { return vocab_; }
  int32_t n_vocab() const { return static_cast<int32_t>(vocab_.tokens.size()); }
  // llama.cpp's end-of-generation set: eos, eot, and tokens whose text marks an end
  // (<|im_end|>, <end_of_turn>, <|endoftext|>, ...).
  bool IsEndOfGeneration(int32_t id) const;
  // The id of the token whose text is exactly `text`, or -1.
  int32_t TokenId(std::string_view text) const;

 protected:
  // Token attributes after llama.cpp's load-time fix-ups (end-of-generation texts become
  // control tokens, and so on); bit flags.
  enum Attr : uint8_t {
    kAttrNormal = 1 << 0,
    kAttrUnknown = 1 << 1,
    kAttrControl = 1 << 2,
    kAttrUserDefined = 1 << 3,
    kAttrUnused = 1 << 4,
    kAttrByte = 1 << 5,
  };
  // A piece of the input after special tokens are split out: a token, or a range of text.
  struct Fragment {
    int32_t token = -1;  // >= 0: a special token
    size_t offset = 0, length = 0;
  };

  explicit Tokenizer(Vocab vocab);
  Status Init();
  // Splits `text` on special-token texts the way llama.cpp's tokenizer_st_partition does:
  // longer tokens first, leftmost non-overlapping occurrences first.
  std::vector<Fragment> Partition(std::string_view text, bool parse_special) const;
  uint8_t attr(int32_t id) const { return attrs_[static_cast<size_t>(id)]; }
  // Byte value of a <0xXX> token.
  static uint8_t ByteTokenValue(std::string_view text);

  Vocab vocab_;

 private:
  struct TrieNode {
    std::vector<std::pair<uint8_t, int32_t>> children;  // sorted by byte
    int32_t token = -1;
  };
  void BuildSpecialTrie();

  TokenTable token_ids_;  // over vocab_.tokens
  std::vector<uint8_t> attrs_;
  std::vector<int32_t> eog_ids_;        // sorted
  std::vector<TrieNode> special_trie_;  // node 0 is the root
  std::vector<int32_t> special_rank_;   // per token: priority among special tokens, -1 if none
  std::vector<int32_t> special_by_rank_;  // special token ids, highest priority first
};

// Chat templates. The format comes from vocab.chat_template ("<|im_start|>" -> ChatML,
// "<start_of_turn>" -> Gemma), or, when the file has no template, from the vocabulary (a
// "<start_of_turn>" token -> Gemma, "<|im_start|>" -> ChatML).
// - Gemma (as llama.cpp's built-in gemma template): "<start_of_turn>user\n{content}<end_of_turn>\n"
//   per turn, "assistant" becomes "model", content trimmed, system messages prefixed to the next
//   user turn followed by "\n\n"; the generation prompt is "<start_of_turn>model\n".
// - ChatML (as the SmolLM2 jinja template): "<|im_start|>{role}\n{content}<|im_end|>\n" per turn,
//   and when the template inserts a default system prompt for conversations that do not start
//   with one, so do we; the generation prompt is "<|im_start|>assistant\n".
// The result carries no BOS text: encode it with Encode(prompt, /*add_bos=*/true,
// /*parse_special=*/true), which prepends BOS when the model wants one.
struct ChatMessage {
  std::string role;
  std::string content;
};
StatusOr<std::string> ApplyChatTemplate(const Vocab& vocab, std::span<const ChatMessage> messages,
                                        bool add_generation_prompt);

}  // namespace tlm
