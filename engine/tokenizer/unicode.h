// Unicode helpers for the tokenizers: lenient UTF-8 decoding, general-category groups
// (\p{L}, \p{N}, ...), White_Space, and GPT-2's byte <-> printable-code-point mapping.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace tlm {

// The general-category group of a code point, as the pre-tokenizer regexes see it.
enum class UnicodeCategory : uint8_t {
  kUndefined = 0,    // Cn, and anything past U+10FFFF
  kControl = 1,      // \p{C}: Cc, Cf, Co, Cs
  kLetter = 2,       // \p{L}
  kMark = 3,         // \p{M}
  kNumber = 4,       // \p{N}
  kPunctuation = 5,  // \p{P}
  kSymbol = 6,       // \p{S}
  kSeparator = 7,    // \p{Z}
};

UnicodeCategory UnicodeCategoryOf(uint32_t code_point);
// The White_Space property (what \s matches in the reference pre-tokenizers).
bool UnicodeIsWhitespace(uint32_t code_point);

// Length of the UTF-8 sequence that `lead` starts, judged by its top four bits alone (1 for
// continuation bytes); the SentencePiece-style tokenizer splits text into symbols with it.
size_t Utf8SequenceLength(uint8_t lead);

// Decodes UTF-8 the way llama.cpp does: a byte that does not start a well-formed sequence
// (bad lead, missing or bad continuation bytes) becomes U+FFFD and decoding resumes at the
// next byte. Overlong forms and surrogates are accepted as they come.
std::vector<uint32_t> DecodeUtf8Lenient(std::string_view text);
// Appends the UTF-8 form of `code_point`; values past U+10FFFF append U+FFFD.
void AppendUtf8(uint32_t code_point, std::string* out);

// GPT-2 byte-level BPE alphabet: every byte maps to one printable code point ("Ġ" for ' ').
// ByteToUnicodeUtf8 returns that code point's UTF-8; UnicodeToByte returns -1 for a code point
// outside the alphabet.
const std::string& ByteToUnicodeUtf8(uint8_t byte);
int UnicodeToByte(uint32_t code_point);

}  // namespace tlm
