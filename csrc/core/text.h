// Text from untrusted bytes: UTF-8 validation, and quoting for error messages so that a name
// holding a NUL, a control byte or invalid UTF-8 can neither cut a message short nor make it
// undecodable (Python turns messages into str).
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace rrwkv {

// Length of the well-formed UTF-8 sequence at s[i] (no overlongs, no surrogates, at most
// U+10FFFF), or 0 if none starts there. Requires i < s.size().
size_t utf8_sequence_length(std::string_view s, size_t i);

// s.size() if s is valid UTF-8, else the offset of the first byte that is not.
size_t utf8_invalid_offset(std::string_view s);

// 's' for a message: valid printable UTF-8 as is; control bytes, DEL and bytes of invalid UTF-8
// as \xhh, a backslash doubled; at most `max_bytes` of s are shown, then "...".
std::string quoted(std::string_view s, size_t max_bytes = 200);

// Appends code point cp (at most U+10FFFF) encoded as UTF-8.
void append_utf8(std::string& out, uint32_t cp);

// "0x0123abcd": a checksum for a message.
std::string hex32(uint32_t v);

}  // namespace rrwkv
