// Parser of the RWKV World vocabulary text format (rwkv_vocab_v20230424.txt): one token per
// line, `<id> <Python str or bytes literal> <byte length>`, LF or CRLF line ends. The literal is
// decoded here, never evaluated; a str literal stands for its UTF-8 bytes.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

#include "tokenizer/tokenizer.h"

namespace rrwkv {

struct VocabEntry {
  TokenId id = 0;
  std::string bytes;
  size_t line = 0;  // 1-based, for messages
};

// The largest token id a vocabulary may use (the format's vocab_size limit is 2^26).
constexpr TokenId kMaxTokenId = (1 << 26) - 1;
// The longest token, in bytes. Greedy encoding walks the trie up to this far from every
// position, so it bounds the work per input byte (the World vocabulary's longest is 128).
constexpr size_t kMaxTokenBytes = 256;

// Parses a whole vocabulary. Throws FormatError naming `source` (a description such as
// "vocabulary '/path/vocab.txt'"), the line number, what was
// expected and what was found, for: a malformed line, a bad escape, a stated length that differs
// from the token's, an empty token or one longer than kMaxTokenBytes, an id above `max_id`, a
// duplicate id or a byte string listed under two ids. Blank lines are skipped.
// `max_id_what` says where max_id comes from, for the message.
std::vector<VocabEntry> parse_vocab(std::string_view text, const std::string& source, TokenId max_id = kMaxTokenId,
                                    const std::string& max_id_what = "the format's limit");

// Decodes one Python string literal: '...' / "..." (UTF-8 of the text) or b'...' / b"..."
// (ASCII and escapes). Supported escapes: \\ \' \" \a \b \f \n \r \t \v \ooo \xhh, and in str
// literals \uXXXX \UXXXXXXXX (no surrogates). Throws FormatError with `where` as its prefix.
std::string decode_python_literal(std::string_view literal, const std::string& where);

}  // namespace rrwkv
