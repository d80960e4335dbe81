// Unit tests of the tokenizers on tiny hand-made vocabularies: merges, byte fallback, special
// tokens, pre-tokenization, decoding, vocabulary validation, chat templates, Unicode helpers.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "engine/model/gguf.h"
#include "engine/tokenizer/tokenizer.h"
#include "engine/tokenizer/unicode.h"

namespace tlm {
namespace {

using Ids = std::vector<int32_t>;

// A SentencePiece-style vocabulary: <unk>, <s>, </s>, the 256 byte tokens, then `pieces`
// (text, score), then `specials`.
using Pieces = std::vector<std::pair<std::string, float>>;
using Specials = std::vector<std::pair<std::string, TokenKind>>;

Vocab MakeSpmVocab(const Pieces& pieces, const Specials& specials = {},
                  bool add_space_prefix = false) {
  Vocab v;
  v.model = "llama";
  v.pre = "default";
  auto add = [&](std::string text, float score, TokenKind kind) {
    v.tokens.push_back(std::move(text));
    v.scores.push_back(score);
    v.kinds.push_back(kind);
  };
  add("<unk>", 0, TokenKind::kUnknown);
  add("<s>", 0, TokenKind::kControl);
  add("</s>", 0, TokenKind::kControl);
  for (int b = 0; b < 256; ++b) add(fmt::format("<0x{:02X}>", b), 0, TokenKind::kByte);
  for (const auto& [text, score] : pieces) add(text, score, TokenKind::kNormal);
  for (const auto& [text, kind] : specials) add(text, -1000, kind);
  v.unk = 0;
  v.bos = 1;
  v.eos = 2;
  v.add_bos = true;
  v.add_space_prefix = add_space_prefix;
  return v;
}

std::unique_ptr<Tokenizer> MustCreate(Vocab vocab) {
  auto tok = Tokenizer::Create(std::move(vocab));
  EXPECT_TRUE(tok.ok()) << tok.status().ToString();
  return tok.ok() ? std::move(tok).value() : nullptr;
}

int32_t Id(const Tokenizer& tok, std::string_view text) {
  const int32_t id = tok.TokenId(text);
  EXPECT_GE(id, 0) << "no token '" << text << "'";
  return id;
}

constexpr int32_t kByteBase = 3;  // id of <0x00> in MakeSpmVocab

TEST(SpmTokenizer, MergesHighestScoreFirst) {
  {
    auto tok = MustCreate(MakeSpmVocab({{"a", -5}, {"b", -5}, {"c", -5}, {"ab", -1}, {"bc", -2}}));
    ASSERT_TRUE(tok);
    EXPECT_EQ(tok->Encode("abc", false, false), (Ids{Id(*tok, "ab"), Id(*tok, "c")}));
  }
  {
    auto tok = MustCreate(MakeSpmVocab({{"a", -5}, {"b", -5}, {"c", -5}, {"ab", -2}, {"bc", -1}}));
    ASSERT_TRUE(tok);
    EXPECT_EQ(tok->Encode("abc", false, false), (Ids{Id(*tok, "a"), Id(*tok, "bc")}));
  }
  {
    // A merged pair keeps merging while the longer text is a token.
    auto tok = MustCreate(
        MakeSpmVocab({{"a", -5}, {"b", -5}, {"c", -5}, {"ab", -1}, {"abc", -3}}));
    ASSERT_TRUE(tok);
    EXPECT_EQ(tok->Encode("abc", false, false), (Ids{Id(*tok, "abc")}));
  }
  {
    // Equal scores: the leftmost pair merges first.
    auto tok = MustCreate(MakeSpmVocab({{"a", -5}, {"aa", -1}}));
    ASSERT_TRUE(tok);
    EXPECT_EQ(tok->Encode("aaa", false, false), (Ids{Id(*tok, "aa"), Id(*tok, "a")}));
  }
}

TEST(SpmTokenizer, ByteFallbackAndBos) {
  auto tok = MustCreate(MakeSpmVocab({{"a", -1}}));
  ASSERT_TRUE(tok);
  // "é" is not a token: its two UTF-8 bytes become byte tokens.
  EXPECT_EQ(tok->Encode("a\xc3\xa9", false, false),
            (Ids{Id(*tok, "a"), kByteBase + 0xC3, kByteBase + 0xA9}));
  EXPECT_EQ(tok->Encode("a", true, false), (Ids{1, Id(*tok, "a")}));
  EXPECT_EQ(tok->Encode("", true, false), (Ids{1}));
  EXPECT_EQ(tok->Encode("", false, false), (Ids{}));
  EXPECT_EQ(tok->Decode(tok->Encode("a\xc3\xa9z", true, false)), "a\xc3\xa9z");
}

TEST(SpmTokenizer, SpacesBecomeLowerBlocks) {
  auto tok = MustCreate(MakeSpmVocab(
      {{"\xe2\x96\x81", -3}, {"a", -2}, {"b", -2}, {"\xe2\x96\x81" "a", -1}, {"\xe2\x96\x81" "b", -1}}, {}, true));
  ASSERT_TRUE(tok);
  const int32_t sa = Id(*tok, "\xe2\x96\x81" "a"), sb = Id(*tok, "\xe2\x96\x81" "b");
  // add_space_prefix: the text gets a leading space, which Decode strips again.
  EXPECT_EQ(tok->Encode("a b", false, false), (Ids{sa, sb}));
  EXPECT_EQ(tok->Decode(Ids{sa, sb}), "a b");
  EXPECT_EQ(tok->TokenToPiece(sa), " a");
}

TEST(SpmTokenizer, SpecialTokens) {
  auto tok = MustCreate(MakeSpmVocab({{"a", -1}, {"<", -2}, {">", -2}, {"t", -2}}, {{"<t>", TokenKind::kControl},
                                                   {"<u>", TokenKind::kUserDefined}}));
  ASSERT_TRUE(tok);
  const int32_t t = Id(*tok, "<t>"), u = Id(*tok, "<u>"), a = Id(*tok, "a");
  // parse_special: control text becomes the control token.
  EXPECT_EQ(tok->Encode("a<t>a", false, true), (Ids{a, t, a}));
  // Without it, control text is plain text, but user-defined tokens are still split out.
  EXPECT_EQ(tok->Encode("a<t>a", false, false),
            (Ids{a, Id(*tok, "<"), Id(*tok, "t"), Id(*tok, ">"), a}));
  EXPECT_EQ(tok->Encode("a<u>a", false, false), (Ids{a, u, a}));
  // Control tokens decode to nothing unless rendered; user-defined ones to their text.
  EXPECT_EQ(tok->Decode(Ids{1, a, t, u}), "a<u>");
  EXPECT_EQ(tok->Decode(Ids{1, a, t, u}, /*render_special=*/true), "<s>a<t><u>");
  EXPECT_EQ(tok->TokenToPiece(t), "");
  EXPECT_EQ(tok->TokenToPiece(t, true), "<t>");
}

TEST(SpmTokenizer, LongerSpecialTokensWinEvenWhenToTheRight) {
  // llama.cpp splits on the longest special tokens first: in "abcde" the 4-byte "bcde" claims
  // its text before the 2-byte "ab" is looked for, though "ab" starts further left.
  auto tok = MustCreate(MakeSpmVocab({{"a", -1}}, {{"ab", TokenKind::kUserDefined},
                                                   {"bcde", TokenKind::kUserDefined}}));
  ASSERT_TRUE(tok);
  EXPECT_EQ(tok->Encode("abcde", false, false), (Ids{Id(*tok, "a"), Id(*tok, "bcde")}));
  EXPECT_EQ(tok->Encode("abab", false, false), (Ids{Id(*tok, "ab"), Id(*tok, "ab")}));
}

TEST(SpmTokenizer, EndOfGenerationTextsBecomeControl) {
  // Like llama.cpp, a user-defined "</s>" (Gemma has one) is treated as a control token.
  Vocab v = MakeSpmVocab({{"x", -1}}, {{"<end_of_turn>", TokenKind::kControl}});
  v.tokens[2] = "<eos>";
  v.tokens.push_back("</s>");
  v.scores.push_back(0);
  v.kinds.push_back(TokenKind::kUserDefined);
  const auto slash_s = static_cast<int32_t>(v.tokens.size() - 1);
  v.eot = static_cast<int32_t>(v.tokens.size() - 2);
  auto tok = MustCreate(std::move(v));
  ASSERT_TRUE(tok);
  EXPECT_TRUE(tok->IsEndOfGeneration(2));
  EXPECT_TRUE(tok->IsEndOfGeneration(Id(*tok, "<end_of_turn>")));
  EXPECT_TRUE(tok->IsEndOfGeneration(slash_s));
  EXPECT_FALSE(tok->IsEndOfGeneration(Id(*tok, "x")));
  EXPECT_EQ(tok->TokenToPiece(slash_s), "");
  EXPECT_EQ(tok->Encode("</s>", false, true), (Ids{slash_s}));
  EXPECT_NE(tok->Encode("</s>", false, false), (Ids{slash_s}));
}

// A GPT-2 byte-level vocabulary: the 256 byte characters, then merges' results, then specials.
Vocab MakeBpeVocab(const std::vector<std::string>& merges) {
  Vocab v;
  v.model = "gpt2";
  v.pre = "smollm";
  v.tokens.push_back("<|endoftext|>");
  v.tokens.push_back("<|im_start|>");
  v.tokens.push_back("<|im_end|>");
  for (int b = 0; b < 256; ++b) v.tokens.push_back(ByteToUnicodeUtf8(static_cast<uint8_t>(b)));
  for (const std::string& m : merges) {
    const size_t space = m.find(' ', 1);
    std::string merged = m.substr(0, space) + m.substr(space + 1);
    if (std::find(v.tokens.begin(), v.tokens.end(), merged) == v.tokens.end()) {
      v.tokens.push_back(merged);
    }
  }
  v.kinds.assign(v.tokens.size(), TokenKind::kNormal);
  v.kinds[0] = v.kinds[1] = v.kinds[2] = TokenKind::kControl;
  v.merges = merges;
  v.bos = 1;
  v.eos = 2;
  v.unk = 0;
  return v;
}

constexpr int32_t kBpeByteBase = 3;

TEST(BpeTokenizer, MergesLowestRankFirst) {
  {
    auto tok = MustCreate(MakeBpeVocab({"a b", "b c"}));
    ASSERT_TRUE(tok);
    EXPECT_EQ(tok->Encode("abc", false, false), (Ids{Id(*tok, "ab"), kBpeByteBase + 'c'}));
  }
  {
    auto tok = MustCreate(MakeBpeVocab({"b c", "a b"}));
    ASSERT_TRUE(tok);
    EXPECT_EQ(tok->Encode("abc", false, false), (Ids{kBpeByteBase + 'a', Id(*tok, "bc")}));
  }
  {
    auto tok = MustCreate(MakeBpeVocab({"h e", "l l", "he ll", "hell o", "\xc4\xa0 w"}));
    ASSERT_TRUE(tok);
    EXPECT_EQ(tok->Encode("hello world", false, false),
              (Ids{Id(*tok, "hello"), Id(*tok, "\xc4\xa0w"), kBpeByteBase + 'o',
                   kBpeByteBase + 'r', kBpeByteBase + 'l', kBpeByteBase + 'd'}));
    EXPECT_EQ(tok->Decode(tok->Encode("hello world", false, false)), "hello world");
  }
}

TEST(BpeTokenizer, PreTokenizerSplitsWords) {
  // Merges across word boundaries never apply: digits stand alone, a run of spaces leaves its
  // last space to the next word, contractions split off.
  auto tok = MustCreate(MakeBpeVocab(
      {"1 2", "\xc4\xa0 \xc4\xa0", "\xc4\xa0 b", "a \xc4\xa0", "' t", "d o", "do n", "n '"}));
  ASSERT_TRUE(tok);
  const int32_t gg = Id(*tok, "\xc4\xa0\xc4\xa0"), gb = Id(*tok, "\xc4\xa0" "b");
  EXPECT_EQ(tok->Encode("12", false, false), (Ids{kBpeByteBase + '1', kBpeByteBase + '2'}));
  EXPECT_EQ(tok->Encode("a   b", false, false), (Ids{kBpeByteBase + 'a', gg, gb}));
  EXPECT_EQ(tok->Encode("don't", false, false), (Ids{Id(*tok, "don"), Id(*tok, "'t")}));
  // Spaces at the end of the text stay one word.
  EXPECT_EQ(tok->Encode("a  ", false, false), (Ids{kBpeByteBase + 'a', gg}));
}

TEST(BpeTokenizer, BytesAndSpecials) {
  auto tok = MustCreate(MakeBpeVocab({}));
  ASSERT_TRUE(tok);
  // Invalid UTF-8 is read as U+FFFD, like llama.cpp does.
  EXPECT_EQ(tok->Encode("\xff", false, false),
            (Ids{kBpeByteBase + 0xEF, kBpeByteBase + 0xBF, kBpeByteBase + 0xBD}));
  EXPECT_EQ(tok->Decode(tok->Encode("\xc3\xa9\n\t ", false, false)), "\xc3\xa9\n\t ");
  EXPECT_EQ(tok->Encode("<|im_start|>x", false, true), (Ids{1, kBpeByteBase + 'x'}));
  EXPECT_EQ(tok->Encode("<|im_start|>x", false, false).size(), 13u);
  EXPECT_EQ(tok->Decode(tok->Encode("<|im_start|>x", false, true), true), "<|im_start|>x");
  // add_bos follows the vocabulary: gpt2 vocabularies usually do not add one.
  EXPECT_EQ(tok->Encode("x", true, false), (Ids{kBpeByteBase + 'x'}));
  EXPECT_TRUE(tok->IsEndOfGeneration(2));
  EXPECT_TRUE(tok->IsEndOfGeneration(0));  // <|endoftext|>
  EXPECT_FALSE(tok->IsEndOfGeneration(1));
}

TEST(Tokenizer, CreateRefusesWhatItCannotRun) {
  Vocab v = MakeBpeVocab({});
  v.pre = "qwen2";
  auto bad_pre = Tokenizer::Create(v);
  ASSERT_FALSE(bad_pre.ok());
  EXPECT_EQ(bad_pre.status().code(), StatusCode::kUnimplemented);
  EXPECT_NE(bad_pre.status().message().find("qwen2"), std::string::npos);

  v.model = "bert";
  auto bad_model = Tokenizer::Create(v);
  ASSERT_FALSE(bad_model.ok());
  EXPECT_EQ(bad_model.status().code(), StatusCode::kUnimplemented);
  EXPECT_NE(bad_model.status().message().find("bert"), std::string::npos);

  Vocab short_kinds = MakeSpmVocab({});
  short_kinds.kinds.pop_back();
  EXPECT_EQ(Tokenizer::Create(short_kinds).status().code(), StatusCode::kInvalidArgument);

  Vocab duplicate = MakeSpmVocab({{"a", -1}, {"a", -2}});
  auto dup = Tokenizer::Create(duplicate);
  ASSERT_FALSE(dup.ok());
  EXPECT_EQ(dup.status().code(), StatusCode::kInvalidArgument);
  EXPECT_NE(dup.status().message().find("259 and 260"), std::string::npos) << dup.status().ToString();
}

TEST(Tokenizer, AddEosWhenTheVocabularyAsks) {
  Vocab v = MakeSpmVocab({{"a", -1}});
  v.add_eos = true;
  auto tok = MustCreate(std::move(v));
  ASSERT_TRUE(tok);
  EXPECT_EQ(tok->Encode("a", true, false), (Ids{1, Id(*tok, "a"), 2}));
  EXPECT_EQ(tok->Encode("a", false, false), (Ids{Id(*tok, "a")}));
}

// --- LoadVocab on GGUF files built in memory ---

GgufWriter TinyGguf() {
  GgufWriter w;
  w.SetString("general.architecture", "llama");
  w.SetString("tokenizer.ggml.model", "llama");
  w.SetStringArray("tokenizer.ggml.tokens", {"<unk>", "<s>", "</s>", "<0x41>", "a", "\xe2\x96\x81" "a"});
  w.SetF32Array("tokenizer.ggml.scores", {0, 0, 0, 0, -1, -0.5f});
  w.SetI32Array("tokenizer.ggml.token_type", {2, 3, 3, 6, 1, 1});
  w.SetU32("tokenizer.ggml.bos_token_id", 1);
  w.SetU32("tokenizer.ggml.eos_token_id", 2);
  w.SetBool("tokenizer.ggml.add_space_prefix", false);
  return w;
}

StatusOr<Vocab> LoadFrom(const GgufWriter& w) {
  static std::vector<std::vector<uint8_t>> keep_alive;  // GgufFile views the buffer
  keep_alive.push_back(w.Serialize());
  auto file = GgufFile::FromBuffer(keep_alive.back().data(), keep_alive.back().size(), "tiny.gguf");
  if (!file.ok()) return file.status();
  return LoadVocab(**file);
}

TEST(LoadVocab, ReadsTokenizerKeys) {
  auto v = LoadFrom(TinyGguf());
  ASSERT_TRUE(v.ok()) << v.status().ToString();
  EXPECT_EQ(v->model, "llama");
  EXPECT_EQ(v->tokens.size(), 6u);
  EXPECT_EQ(v->kinds[3], TokenKind::kByte);
  EXPECT_FLOAT_EQ(v->scores[5], -0.5f);
  EXPECT_EQ(v->bos, 1);
  EXPECT_EQ(v->eos, 2);
  EXPECT_EQ(v->unk, 0);       // llama default
  EXPECT_TRUE(v->add_bos);    // llama default
  EXPECT_FALSE(v->add_space_prefix);
  auto tok = MustCreate(std::move(v).value());
  ASSERT_TRUE(tok);
  EXPECT_EQ(tok->Encode("aA", true, false), (Ids{1, 4, 3}));
}

void ExpectLoadError(const GgufWriter& w, StatusCode code, std::string_view needle) {
  auto v = LoadFrom(w);
  ASSERT_FALSE(v.ok());
  EXPECT_EQ(v.status().code(), code) << v.status().ToString();
  EXPECT_NE(v.status().message().find(needle), std::string::npos) << v.status().ToString();
  EXPECT_NE(v.status().message().find("tiny.gguf"), std::string::npos) << v.status().ToString();
}

TEST(LoadVocab, RefusesInconsistentFiles) {
  {
    GgufWriter w = TinyGguf();
    w.SetF32Array("tokenizer.ggml.scores", {0, 0, 0});
    ExpectLoadError(w, StatusCode::kInvalidArgument, "tokenizer.ggml.scores");
  }
  {
    GgufWriter w = TinyGguf();
    w.SetI32Array("tokenizer.ggml.token_type", {2, 3, 3, 6, 1, 9});
    ExpectLoadError(w, StatusCode::kInvalidArgument, "tokenizer.ggml.token_type");
  }
  {
    GgufWriter w = TinyGguf();
    w.SetU32("tokenizer.ggml.bos_token_id", 6);
    ExpectLoadError(w, StatusCode::kInvalidArgument, "tokenizer.ggml.bos_token_id");
  }
  {
    GgufWriter w = TinyGguf();
    w.SetStringArray("tokenizer.ggml.tokens", {"<unk>", "<s>", "</s>", "<0x41>", "a", "a"});
    ExpectLoadError(w, StatusCode::kInvalidArgument, "tokenizer.ggml.tokens");
  }
  {
    GgufWriter w = TinyGguf();
    w.SetStringArray("tokenizer.ggml.tokens", {"<unk>", "<s>", "</s>", "<0xZZ>", "a", "b"});
    ExpectLoadError(w, StatusCode::kInvalidArgument, "<0xZZ>");
  }
  {
    GgufWriter w = TinyGguf();
    w.RemoveKey("tokenizer.ggml.tokens");
    ExpectLoadError(w, StatusCode::kNotFound, "tokenizer.ggml.tokens");
  }
  {
    GgufWriter w = TinyGguf();
    w.SetString("tokenizer.ggml.model", "gpt2");  // gpt2 needs merges
    ExpectLoadError(w, StatusCode::kNotFound, "tokenizer.ggml.merges");
  }
  {
    GgufWriter w = TinyGguf();
    w.SetU32("tokenizer.ggml.model", 3);
    ExpectLoadError(w, StatusCode::kInvalidArgument, "tokenizer.ggml.model");
  }
}

TEST(LoadVocab, FindsEndOfTurnByText) {
  GgufWriter w = TinyGguf();
  w.SetStringArray("tokenizer.ggml.tokens", {"<unk>", "<s>", "</s>", "<0x41>", "<|endoftext|>", "<|im_end|>"});
  auto v = LoadFrom(w);
  ASSERT_TRUE(v.ok()) << v.status().ToString();
  EXPECT_EQ(v->eot, 5);  // <|im_end|> is preferred to <|endoftext|>
  w.SetU32("tokenizer.ggml.eot_token_id", 4);
  v = LoadFrom(w);
  ASSERT_TRUE(v.ok());
  EXPECT_EQ(v->eot, 4);
}

// --- Chat templates ---

TEST(ChatTemplate, GemmaFromVocabulary) {
  Vocab v = MakeSpmVocab({}, {{"<start_of_turn>", TokenKind::kControl},
                                       {"<end_of_turn>", TokenKind::kControl}});
  std::vector<ChatMessage> chat = {{"system", " Be brief. "},
                                   {"user", " Hi \n"},
                                   {"assistant", "Hello."},
                                   {"user", "Bye"}};
  auto prompt = ApplyChatTemplate(v, chat, true);
  ASSERT_TRUE(prompt.ok()) << prompt.status().ToString();
  EXPECT_EQ(*prompt,
            "<start_of_turn>user\nBe brief.\n\nHi<end_of_turn>\n"
            "<start_of_turn>model\nHello.<end_of_turn>\n"
            "<start_of_turn>user\nBye<end_of_turn>\n"
            "<start_of_turn>model\n");
  auto no_gen = ApplyChatTemplate(v, std::span(chat).subspan(1, 1), false);
  ASSERT_TRUE(no_gen.ok());
  EXPECT_EQ(*no_gen, "<start_of_turn>user\nHi<end_of_turn>\n");
}

TEST(ChatTemplate, ChatMlWithDefaultSystemPrompt) {
  Vocab v = MakeBpeVocab({});
  v.chat_template =
      "{% for message in messages %}{% if loop.first and messages[0]['role'] != 'system' %}"
      "{{ '<|im_start|>system\nYou are helpful<|im_end|>\n' }}{% endif %}"
      "{{'<|im_start|>' + message['role'] + '\n' + message['content'] + '<|im_end|>' + '\n'}}"
      "{% endfor %}{% if add_generation_prompt %}{{ '<|im_start|>assistant\n' }}{% endif %}";
  std::vector<ChatMessage> chat = {{"user", " Hi "}};
  auto prompt = ApplyChatTemplate(v, chat, true);
  ASSERT_TRUE(prompt.ok()) << prompt.status().ToString();
  EXPECT_EQ(*prompt,
            "<|im_start|>system\nYou are helpful<|im_end|>\n<|im_start|>user\n Hi <|im_end|>\n"
            "<|im_start|>assistant\n");
  std::vector<ChatMessage> with_system = {{"system", "S"}, {"user", "U"}};
  prompt = ApplyChatTemplate(v, with_system, false);
  ASSERT_TRUE(prompt.ok());
  EXPECT_EQ(*prompt, "<|im_start|>system\nS<|im_end|>\n<|im_start|>user\nU<|im_end|>\n");

  // Plain ChatML (no default system prompt), chosen from the vocabulary.
  v.chat_template.clear();
  prompt = ApplyChatTemplate(v, chat, true);
  ASSERT_TRUE(prompt.ok());
  EXPECT_EQ(*prompt, "<|im_start|>user\n Hi <|im_end|>\n<|im_start|>assistant\n");
}

TEST(ChatTemplate, RefusesUnknownFormats) {
  Vocab v = MakeSpmVocab({});
  std::vector<ChatMessage> chat = {{"user", "x"}};
  EXPECT_EQ(ApplyChatTemplate(v, chat, true).status().code(), StatusCode::kNotFound);
  v.chat_template = "{% for m in messages %}[INST] {{ m['content'] }} [/INST]{% endfor %}";
  EXPECT_EQ(ApplyChatTemplate(v, chat, true).status().code(), StatusCode::kUnimplemented);
}

// --- Unicode helpers ---

TEST(Unicode, Categories) {
  EXPECT_EQ(UnicodeCategoryOf('A'), UnicodeCategory::kLetter);
  EXPECT_EQ(UnicodeCategoryOf('7'), UnicodeCategory::kNumber);
  EXPECT_EQ(UnicodeCategoryOf(0xB2), UnicodeCategory::kNumber);    // ²
  EXPECT_EQ(UnicodeCategoryOf(0x2167), UnicodeCategory::kNumber);  // Ⅷ
  EXPECT_EQ(UnicodeCategoryOf(0x4E2D), UnicodeCategory::kLetter);  // 中
  EXPECT_EQ(UnicodeCategoryOf(0x0301), UnicodeCategory::kMark);
  EXPECT_EQ(UnicodeCategoryOf('!'), UnicodeCategory::kPunctuation);
  EXPECT_EQ(UnicodeCategoryOf('$'), UnicodeCategory::kSymbol);
  EXPECT_EQ(UnicodeCategoryOf(0x1F355), UnicodeCategory::kSymbol);  // 🍕
  EXPECT_EQ(UnicodeCategoryOf(' '), UnicodeCategory::kSeparator);
  EXPECT_EQ(UnicodeCategoryOf('\n'), UnicodeCategory::kControl);
  EXPECT_EQ(UnicodeCategoryOf(0x0378), UnicodeCategory::kUndefined);
  EXPECT_EQ(UnicodeCategoryOf(0x2EBF0), UnicodeCategory::kLetter);  // CJK Ext. I (Unicode 15.1)
  EXPECT_EQ(UnicodeCategoryOf(0x10FFFF), UnicodeCategory::kUndefined);
  EXPECT_EQ(UnicodeCategoryOf(0x110000), UnicodeCategory::kUndefined);
  EXPECT_TRUE(UnicodeIsWhitespace(0x3000));
  EXPECT_TRUE(UnicodeIsWhitespace('\t'));
  EXPECT_FALSE(UnicodeIsWhitespace(0x200B));  // zero width space is no White_Space
}

TEST(Unicode, LenientUtf8) {
  EXPECT_EQ(DecodeUtf8Lenient("a\xc3\xa9\xe4\xb8\xad\xf0\x9f\x8d\x95"),
            (std::vector<uint32_t>{'a', 0xE9, 0x4E2D, 0x1F355}));
  // A lone continuation byte, a truncated sequence, a 0xFF.
  EXPECT_EQ(DecodeUtf8Lenient("\x80" "a\xe4\xb8" "b\xff"),
            (std::vector<uint32_t>{0xFFFD, 'a', 0xFFFD, 0xFFFD, 'b', 0xFFFD}));
  std::string s;
  AppendUtf8(0x1F355, &s);
  EXPECT_EQ(s, "\xf0\x9f\x8d\x95");
}

TEST(Unicode, ByteAlphabetRoundTrips) {
  for (int b = 0; b < 256; ++b) {
    const std::string& utf8 = ByteToUnicodeUtf8(static_cast<uint8_t>(b));
    const std::vector<uint32_t> cps = DecodeUtf8Lenient(utf8);
    ASSERT_EQ(cps.size(), 1u);
    EXPECT_EQ(UnicodeToByte(cps[0]), b);
  }
  EXPECT_EQ(ByteToUnicodeUtf8(' '), "\xc4\xa0");  // Ġ
  EXPECT_EQ(ByteToUnicodeUtf8('\n'), "\xc4\x8a");  // Ċ
  EXPECT_EQ(UnicodeToByte(0x4E2D), -1);
}

}  // namespace
}  // namespace tlm
