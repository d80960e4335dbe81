// ApplyChatTemplate: renders a conversation in the turn format of the model (Gemma or ChatML),
// as llama.cpp's built-in templates and the model's own jinja template would.
#include <algorithm>
#include <cctype>
#include <optional>

#include "engine/tokenizer/tokenizer.h"

namespace tlm {
namespace {

enum class ChatFormat { kGemma, kChatMl };

bool Contains(std::string_view haystack, std::string_view needle) {
  return haystack.find(needle) != std::string_view::npos;
}

bool HasToken(const Vocab& vocab, std::string_view text) {
  return std::find(vocab.tokens.begin(), vocab.tokens.end(), text) != vocab.tokens.end();
}

StatusOr<ChatFormat> DetectFormat(const Vocab& vocab) {
  const std::string& t = vocab.chat_template;
  if (!t.empty()) {
    // The same tests, in the same order, as llama.cpp's template detection.
    if (Contains(t, "<|im_start|>")) {
      if (Contains(t, "<|im_sep|>") || Contains(t, "<end_of_utterance>")) {
        return Unimplemented("chat template: a ChatML variant (Phi-4 or SmolVLM) is not supported");
      }
      return ChatFormat::kChatMl;
    }
    if (Contains(t, "<start_of_turn>")) return ChatFormat::kGemma;
    return Unimplemented(
        "chat template: the model's template uses neither ChatML (<|im_start|>) nor Gemma "
        "(<start_of_turn>) turn markers");
  }
  if (HasToken(vocab, "<start_of_turn>")) return ChatFormat::kGemma;
  if (HasToken(vocab, "<|im_start|>")) return ChatFormat::kChatMl;
  return NotFound(
      "chat template: the model has no tokenizer.chat_template and no <start_of_turn> or "
      "<|im_start|> token to infer one from");
}

// Trims ASCII whitespace, as llama.cpp's templates and jinja's trim do for these texts.
std::string_view Trim(std::string_view s) {
  auto space = [](char c) { return std::isspace(static_cast<unsigned char>(c)) != 0; };
  while (!s.empty() && space(s.front())) s.remove_prefix(1);
  while (!s.empty() && space(s.back())) s.remove_suffix(1);
  return s;
}

// Undoes the escapes of a jinja string literal (\n, \t, \\, \', \").
std::string UnescapeJinja(std::string_view s) {
  std::string out;
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] != '\\' || i + 1 == s.size()) {
      out += s[i];
      continue;
    }
    const char c = s[++i];
    switch (c) {
      case 'n': out += '\n'; break;
      case 't': out += '\t'; break;
      case 'r': out += '\r'; break;
      default: out += c; break;
    }
  }
  return out;
}

// SmolLM2-style templates open conversations that lack a system message with a fixed one:
//   {% if loop.first and messages[0]['role'] != 'system' %}{{ '<|im_start|>system\n...<|im_end|>\n' }}
// Returns that message's text when the template has such a clause.
std::optional<std::string> DefaultSystemPrompt(std::string_view tmpl) {
  if (!Contains(tmpl, "messages[0]['role'] != 'system'") &&
      !Contains(tmpl, "messages[0][\"role\"] != \"system\"")) {
    return std::nullopt;
  }
  constexpr std::string_view kOpen = "<|im_start|>system";
  constexpr std::string_view kClose = "<|im_end|>";
  for (size_t at = tmpl.find(kOpen); at != std::string_view::npos; at = tmpl.find(kOpen, at + 1)) {
    size_t begin = at + kOpen.size();
    if (tmpl.compare(begin, 1, "\n") == 0) {
      begin += 1;
    } else if (tmpl.compare(begin, 2, "\\n") == 0) {
      begin += 2;
    } else {
      continue;
    }
    const size_t end = tmpl.find(kClose, begin);
    if (end == std::string_view::npos) break;
    const std::string_view literal = tmpl.substr(begin, end - begin);
    // A literal, not an expression that builds the system turn from the messages.
    if (Contains(literal, "{{") || Contains(literal, "{%") || Contains(literal, "' +") ||
        Contains(literal, "\" +")) {
      continue;
    }
    return UnescapeJinja(literal);
  }
  return std::nullopt;
}

std::string RenderGemma(std::span<const ChatMessage> messages, bool add_generation_prompt) {
  std::string out;
  std::string system_prompt;
  for (const ChatMessage& m : messages) {
    if (m.role == "system") {
      // Gemma has no system turn: it joins the next user turn.
      system_prompt += Trim(m.content);
      continue;
    }
    const std::string_view role = m.role == "assistant" ? "model" : std::string_view(m.role);
    out += "<start_of_turn>";
    out += role;
    out += '\n';
    if (!system_prompt.empty() && role != "model") {
      out += system_prompt;
      out += "\n\n";
      system_prompt.clear();
    }
    out += Trim(m.content);
    out += "<end_of_turn>\n";
  }
  if (add_generation_prompt) out += "<start_of_turn>model\n";
  return out;
}

std::string RenderChatMl(std::span<const ChatMessage> messages, bool add_generation_prompt,
                         const std::optional<std::string>& default_system) {
  std::string out;
  for (size_t i = 0; i < messages.size(); ++i) {
    if (i == 0 && default_system && messages[0].role != "system") {
      out += "<|im_start|>system\n" + *default_system + "<|im_end|>\n";
    }
    out += "<|im_start|>" + messages[i].role + "\n" + messages[i].content + "<|im_end|>\n";
  }
  if (add_generation_prompt) out += "<|im_start|>assistant\n";
  return out;
}

}  // namespace

StatusOr<std::string> ApplyChatTemplate(const Vocab& vocab, std::span<const ChatMessage> messages,
                                        bool add_generation_prompt) {
  TLM_ASSIGN_OR_RETURN(const ChatFormat format, DetectFormat(vocab));
  switch (format) {
    case ChatFormat::kGemma:
      return RenderGemma(messages, add_generation_prompt);
    case ChatFormat::kChatMl:
      return RenderChatMl(messages, add_generation_prompt, DefaultSystemPrompt(vocab.chat_template));
  }
  return Internal("chat template: unhandled format");
}

}  // namespace tlm
