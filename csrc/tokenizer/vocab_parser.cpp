// Parser of the World vocabulary text format; see vocab_parser.h.
#include "tokenizer/vocab_parser.h"

#include <algorithm>
#include <cstdint>
#include <string_view>
#include <unordered_map>

#include "core/errors.h"
#include "core/text.h"

namespace rrwkv {
namespace {

constexpr const char* kLineShape = "`<id> <Python str or bytes literal> <byte length>`";
constexpr const char* kEscapes = "\\\\ \\' \\\" \\a \\b \\f \\n \\r \\t \\v \\ooo \\xhh, and \\uXXXX \\UXXXXXXXX in str literals";

// `s` quoted for a message: printable ASCII as is, other bytes as \xhh, long text shortened.
std::string show(std::string_view s) {
  static const char* hex = "0123456789abcdef";
  std::string out = "'";
  for (size_t i = 0; i < s.size(); ++i) {
    if (i == 60) {
      out += "...";
      break;
    }
    const auto c = static_cast<unsigned char>(s[i]);
    if (c >= 0x20 && c < 0x7f) {
      out += static_cast<char>(c);
    } else {
      out += "\\x";
      out += hex[c >> 4];
      out += hex[c & 15];
    }
  }
  return out + "'";
}

int hex_value(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

// Decimal digits only, at most `max`; -1 otherwise.
int64_t parse_decimal(std::string_view s, int64_t max) {
  if (s.empty() || s.size() > 18) return -1;
  int64_t v = 0;
  for (char c : s) {
    if (c < '0' || c > '9') return -1;
    v = v * 10 + (c - '0');
  }
  return v <= max ? v : -1;
}

}  // namespace

std::string decode_python_literal(std::string_view lit, const std::string& where) {
  const bool is_bytes = !lit.empty() && (lit[0] == 'b' || lit[0] == 'B');
  const std::string_view quoted = is_bytes ? lit.substr(1) : lit;
  if (quoted.size() < 2 || (quoted[0] != '\'' && quoted[0] != '"') || quoted.back() != quoted[0])
    throw FormatError(where + "expected a Python string literal ('...', \"...\", b'...' or b\"...\") between the "
                      "id and the length, found " + show(lit));
  const char quote = quoted[0];
  const std::string_view body = quoted.substr(1, quoted.size() - 2);
  const char* kind = is_bytes ? "bytes" : "str";
  std::string out;
  for (size_t i = 0; i < body.size();) {
    const char c = body[i];
    if (c == quote)
      throw FormatError(where + "unescaped " + std::string(1, quote) + " inside the literal " + show(lit) +
                        "; expected it written as \\" + std::string(1, quote));
    if (c == '\n' || c == '\r' || c == '\0')
      throw FormatError(where + "raw control byte " + show(std::string_view(&c, 1)) + " inside the literal " + show(lit) +
                        "; expected it escaped");
    if (c != '\\') {
      if (static_cast<unsigned char>(c) < 0x80) {
        out += c;
        ++i;
        continue;
      }
      if (is_bytes)
        throw FormatError(where + "non-ASCII byte inside the bytes literal " + show(lit) +
                          "; expected bytes >= 0x80 written as \\xhh");
      const size_t n = utf8_sequence_length(body, i);
      if (n == 0)
        throw FormatError(where + "invalid UTF-8 inside the str literal " + show(lit) +
                          "; expected the file to be UTF-8 text");
      out.append(body.substr(i, n));
      i += n;
      continue;
    }
    if (i + 1 >= body.size())
      throw FormatError(where + "the literal " + show(lit) + " ends in a lone backslash; expected an escape after it");
    const char e = body[i + 1];
    i += 2;
    uint32_t value = 0;
    switch (e) {
      case '\\': case '\'': case '"': out += e; continue;
      case 'a': out += '\a'; continue;
      case 'b': out += '\b'; continue;
      case 'f': out += '\f'; continue;
      case 'n': out += '\n'; continue;
      case 'r': out += '\r'; continue;
      case 't': out += '\t'; continue;
      case 'v': out += '\v'; continue;
      case '0': case '1': case '2': case '3': case '4': case '5': case '6': case '7': {
        value = static_cast<uint32_t>(e - '0');
        for (int k = 0; k < 2 && i < body.size() && body[i] >= '0' && body[i] <= '7'; ++k, ++i)
          value = value * 8 + static_cast<uint32_t>(body[i] - '0');
        if (is_bytes && value > 0xFF)
          throw FormatError(where + "octal escape above \\377 in the bytes literal " + show(lit) +
                            "; expected a byte value 0..255");
        break;
      }
      case 'x': case 'u': case 'U': {
        const size_t digits = e == 'x' ? 2 : e == 'u' ? 4 : 8;
        if (e != 'x' && is_bytes)
          throw FormatError(where + "escape \\" + std::string(1, e) + " in the bytes literal " + show(lit) +
                            " is not an escape in bytes literals; expected one of " + kEscapes);
        for (size_t k = 0; k < digits; ++k, ++i) {
          const int h = i < body.size() ? hex_value(body[i]) : -1;
          if (h < 0)
            throw FormatError(where + "truncated \\" + std::string(1, e) + " escape in the literal " + show(lit) +
                              "; expected exactly " + std::to_string(digits) + " hex digits after it");
          value = value * 16 + static_cast<uint32_t>(h);
        }
        if (value > 0x10FFFF || (value >= 0xD800 && value <= 0xDFFF))
          throw FormatError(where + "escape in the literal " + show(lit) +
                            " is a surrogate or beyond U+10FFFF, which has no UTF-8 form; expected a Unicode scalar value");
        break;
      }
      default:
        throw FormatError(where + "bad escape \\" + (static_cast<unsigned char>(e) < 0x80 ? std::string(1, e) : "<non-ASCII>") +
                          " in the " + kind + " literal " + show(lit) + "; expected one of " + kEscapes);
    }
    if (is_bytes) out += static_cast<char>(value);
    else append_utf8(out, value);
  }
  return out;
}

std::vector<VocabEntry> parse_vocab(std::string_view text, const std::string& source, TokenId max_id,
                                    const std::string& max_id_what) {
  max_id = std::min(max_id, kMaxTokenId);
  std::vector<VocabEntry> entries;
  std::unordered_map<TokenId, size_t> line_of_id;
  size_t line_no = 0;
  for (size_t pos = 0; pos < text.size();) {
    size_t end = text.find('\n', pos);
    if (end == std::string_view::npos) end = text.size();
    std::string_view line = text.substr(pos, end - pos);
    pos = end + 1;
    ++line_no;
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    if (line.empty()) continue;

    const std::string where = source + " line " + std::to_string(line_no) + ": ";
    const size_t first = line.find(' '), last = line.rfind(' ');
    if (first == std::string_view::npos || first == last)
      throw FormatError(where + "expected " + kLineShape + " separated by single spaces, found " + show(line));
    const int64_t id = parse_decimal(line.substr(0, first), max_id);
    if (id < 0)
      throw FormatError(where + "expected a decimal token id 0.." + std::to_string(max_id) + " (" + max_id_what +
                        ") before the first space, found " + show(line.substr(0, first)));
    const int64_t stated = parse_decimal(line.substr(last + 1), int64_t{1} << 32);
    if (stated < 0)
      throw FormatError(where + "expected the token's byte length (a decimal number) after the last space, found " +
                        show(line.substr(last + 1)));
    if (stated > static_cast<int64_t>(kMaxTokenBytes))
      throw FormatError(where + "token " + std::to_string(id) + " states a length of " + std::to_string(stated) +
                        " bytes; expected at most " + std::to_string(kMaxTokenBytes) +
                        " (longer tokens would make encoding slow)");
    VocabEntry entry{static_cast<TokenId>(id), decode_python_literal(line.substr(first + 1, last - first - 1), where),
                     line_no};
    if (entry.bytes.empty())
      throw FormatError(where + "token " + std::to_string(id) + " is empty; expected at least one byte");
    if (static_cast<int64_t>(entry.bytes.size()) != stated)
      throw FormatError(where + "token " + std::to_string(id) + " states a length of " + std::to_string(stated) +
                        " bytes but its literal holds " + std::to_string(entry.bytes.size()) +
                        " (a str literal counts its UTF-8 bytes); expected them to agree");
    const auto [it, inserted] = line_of_id.emplace(entry.id, line_no);
    if (!inserted)
      throw FormatError(where + "token id " + std::to_string(id) + " was already defined on line " +
                        std::to_string(it->second) + "; expected every id once");
    entries.push_back(std::move(entry));
  }

  std::unordered_map<std::string_view, const VocabEntry*> by_bytes;
  by_bytes.reserve(entries.size());
  for (const VocabEntry& e : entries) {
    const auto [it, inserted] = by_bytes.emplace(e.bytes, &e);
    if (!inserted)
      throw FormatError(source + " line " + std::to_string(e.line) + ": token id " +
                        std::to_string(e.id) + " has the same bytes " + show(e.bytes) + " as id " +
                        std::to_string(it->second->id) + " on line " + std::to_string(it->second->line) +
                        "; expected every byte string once, so that encoding is unambiguous");
  }
  return entries;
}

}  // namespace rrwkv
