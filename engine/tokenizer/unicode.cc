// Unicode helpers for the tokenizers: category table lookup, UTF-8 coding, GPT-2 byte alphabet.
#include "engine/tokenizer/unicode.h"

#include <algorithm>
#include <array>
#include <iterator>

namespace tlm {
namespace {

#include "engine/tokenizer/unicode_data.inc"

constexpr uint32_t kMaxCodePoint = 0x10FFFF;
constexpr uint32_t kReplacementChar = 0xFFFD;

// GPT-2's alphabet: bytes that are printable Latin-1 keep their code point, the other 68 are
// numbered from U+0100 upwards in byte order.
bool ByteIsPrintable(int b) {
  return (b >= 0x21 && b <= 0x7E) || (b >= 0xA1 && b <= 0xAC) || (b >= 0xAE && b <= 0xFF);
}

struct ByteAlphabet {
  std::array<uint32_t, 256> code_point{};
  std::array<std::string, 256> utf8;
  std::array<int16_t, 256 + 68> byte_of;  // indexed by code point, -1 outside the alphabet
  ByteAlphabet() {
    byte_of.fill(-1);
    uint32_t next = 256;
    for (int b = 0; b < 256; ++b) {
      code_point[b] = ByteIsPrintable(b) ? static_cast<uint32_t>(b) : next++;
      AppendUtf8(code_point[b], &utf8[b]);
      byte_of[code_point[b]] = static_cast<int16_t>(b);
    }
  }
};

const ByteAlphabet& Alphabet() {
  static const ByteAlphabet alphabet;
  return alphabet;
}

}  // namespace

UnicodeCategory UnicodeCategoryOf(uint32_t code_point) {
  if (code_point > kMaxCodePoint) return UnicodeCategory::kUndefined;
  // Entries are (start << 3) | category, sorted by start: find the last start <= code_point.
  const uint32_t key = (code_point << 3) | 7u;
  const uint32_t* it = std::upper_bound(std::begin(kUnicodeCategoryRanges),
                                        std::end(kUnicodeCategoryRanges), key);
  return static_cast<UnicodeCategory>(*(it - 1) & 7u);
}

bool UnicodeIsWhitespace(uint32_t cp) {
  // PropList.txt, White_Space.
  return (cp >= 0x09 && cp <= 0x0D) || cp == 0x20 || cp == 0x85 || cp == 0xA0 || cp == 0x1680 ||
         (cp >= 0x2000 && cp <= 0x200A) || cp == 0x2028 || cp == 0x2029 || cp == 0x202F ||
         cp == 0x205F || cp == 0x3000;
}

size_t Utf8SequenceLength(uint8_t lead) {
  static constexpr uint8_t kLength[16] = {1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 2, 2, 3, 4};
  return kLength[lead >> 4];
}

std::vector<uint32_t> DecodeUtf8Lenient(std::string_view text) {
  std::vector<uint32_t> out;
  out.reserve(text.size());
  const size_t n = text.size();
  auto byte = [&](size_t i) { return static_cast<uint8_t>(text[i]); };
  auto is_cont = [&](size_t i) { return i < n && (byte(i) & 0xC0) == 0x80; };
  size_t i = 0;
  while (i < n) {
    const uint8_t b0 = byte(i);
    if (b0 < 0x80) {
      out.push_back(b0);
      i += 1;
    } else if ((b0 & 0xE0) == 0xC0 && is_cont(i + 1)) {
      out.push_back((uint32_t(b0 & 0x1F) << 6) | (byte(i + 1) & 0x3F));
      i += 2;
    } else if ((b0 & 0xF0) == 0xE0 && is_cont(i + 1) && is_cont(i + 2)) {
      out.push_back((uint32_t(b0 & 0x0F) << 12) | (uint32_t(byte(i + 1) & 0x3F) << 6) |
                    (byte(i + 2) & 0x3F));
      i += 3;
    } else if ((b0 & 0xF8) == 0xF0 && is_cont(i + 1) && is_cont(i + 2) && is_cont(i + 3)) {
      out.push_back((uint32_t(b0 & 0x07) << 18) | (uint32_t(byte(i + 1) & 0x3F) << 12) |
                    (uint32_t(byte(i + 2) & 0x3F) << 6) | (byte(i + 3) & 0x3F));
      i += 4;
    } else {
      out.push_back(kReplacementChar);
      i += 1;
    }
  }
  return out;
}

void AppendUtf8(uint32_t cp, std::string* out) {
  if (cp <= 0x7F) {
    out->push_back(static_cast<char>(cp));
  } else if (cp <= 0x7FF) {
    out->push_back(static_cast<char>(0xC0 | (cp >> 6)));
    out->push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  } else if (cp <= 0xFFFF) {
    out->push_back(static_cast<char>(0xE0 | (cp >> 12)));
    out->push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
    out->push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  } else if (cp <= kMaxCodePoint) {
    out->push_back(static_cast<char>(0xF0 | (cp >> 18)));
    out->push_back(static_cast<char>(0x80 | ((cp >> 12) & 0x3F)));
    out->push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
    out->push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  } else {
    AppendUtf8(kReplacementChar, out);
  }
}

const std::string& ByteToUnicodeUtf8(uint8_t byte) { return Alphabet().utf8[byte]; }

int UnicodeToByte(uint32_t code_point) {
  const auto& byte_of = Alphabet().byte_of;
  return code_point < byte_of.size() ? byte_of[code_point] : -1;
}

}  // namespace tlm
