// The Unicode the byte-level BPE encoder needs: UTF-8 decoding that tolerates invalid bytes, the
// character classes of the GPT-2 pre-tokenizer pattern, and NFC. The data are generated from the
// Unicode database by tools/gen_unicode_tables.py (unicode_tables.inc).
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace rrwkv::unicode {

// The Unicode version of the tables, e.g. "14.0.0".
const char* version();

// One step of UTF-8 decoding at text[pos]: the code point and its length in bytes. A byte that
// does not start a valid, shortest-form sequence of a scalar value gives kInvalid and length 1.
constexpr char32_t kInvalid = 0xFFFFFFFF;
struct Decoded {
  char32_t cp;
  size_t len;
};
Decoded decode_utf8(std::string_view text, size_t pos);

// The classes of the GPT-2 pattern: \p{L}, \p{N}, \s (White_Space), and everything else
// (invalid bytes included).
enum class CharClass : uint8_t { kOther = 0, kLetter = 1, kNumber = 2, kSpace = 3 };
CharClass char_class(char32_t cp);

// `text` in Normalization Form C. Invalid bytes are kept as they are, and no character composes
// across them. Text that NFC leaves alone (all ASCII, for one) is returned unchanged cheaply.
std::string nfc(std::string_view text);

}  // namespace rrwkv::unicode
