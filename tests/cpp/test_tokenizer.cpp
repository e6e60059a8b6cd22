// The World vocabulary parser (escapes, malformed lines) and the trie tokenizer (greedy longest
// match, decode, the factory). Parity with the `rwkv` package is tested in tests/tokenizer/.
#include <gtest/gtest.h>

#include <cstdio>
#include <string>
#include <vector>

#include "core/errors.h"
#include "tokenizer/byte_tokenizer.h"
#include "tokenizer/tokenizer.h"
#include "tokenizer/trie_tokenizer.h"
#include "tokenizer/vocab_parser.h"

namespace {

using rrwkv::FormatError;
using rrwkv::TokenId;

std::string lit(const std::string& literal) { return rrwkv::decode_python_literal(literal, "test: "); }

std::string format_error_of(const std::string& vocab) {
  try {
    rrwkv::parse_vocab(vocab, "vocabulary 'v.txt'");
  } catch (const FormatError& e) {
    return e.what();
  }
  return "";
}

// Ids 1..256 are the single bytes 0..255 (as in the World vocabulary), then `extra` lines.
std::string byte_vocab(const std::string& extra = "") {
  std::string v;
  char buf[32];
  for (int b = 0; b < 256; ++b) {
    std::snprintf(buf, sizeof buf, "%d b'\\x%02x' 1\n", b + 1, b);
    v += buf;
  }
  return v + extra;
}

TEST(VocabParser, SimpleEscapes) {
  EXPECT_EQ(lit("'abc'"), "abc");
  EXPECT_EQ(lit("\"it's\""), "it's");
  EXPECT_EQ(lit("'\\\\'"), "\\");
  EXPECT_EQ(lit("'\\''"), "'");
  EXPECT_EQ(lit("\"\\\"\""), "\"");
  EXPECT_EQ(lit("'\\a\\b\\f\\n\\r\\t\\v'"), "\a\b\f\n\r\t\v");
  EXPECT_EQ(lit("'  '"), "  ");
}

TEST(VocabParser, NumericEscapesInStrAreCodePoints) {
  EXPECT_EQ(lit("'\\x41'"), "A");
  EXPECT_EQ(lit("'\\xe4'"), "\xc3\xa4");  // U+00E4 as UTF-8, not the byte 0xe4
  EXPECT_EQ(lit("'\\u4e2d'"), "\xe4\xb8\xad");
  EXPECT_EQ(lit("'\\U0001F600'"), "\xf0\x9f\x98\x80");
  EXPECT_EQ(lit("'\\101\\0'"), std::string("A\0", 2));
  EXPECT_EQ(lit("'\\777'"), "\xc7\xbf");  // octal up to 511 in str literals
  EXPECT_EQ(lit("'中文'"), "中文");
}

TEST(VocabParser, BytesLiterals) {
  EXPECT_EQ(lit("b'\\xe4\\xb8'"), "\xe4\xb8");
  EXPECT_EQ(lit("b\"\\xff\""), "\xff");
  EXPECT_EQ(lit("b'\\377a'"), "\xff" "a");
  EXPECT_EQ(lit("B'x'"), "x");
}

TEST(VocabParser, BadLiteralsAreFormatErrors) {
  for (const char* bad : {"'\\q'", "'\\x4'", "'\\xZZ'", "'\\u12'", "'\\ud800'", "'\\U00110000'", "'\\N{DASH}'",
                          "b'\\u0041'", "b'\\400'", "b'\xc3\xa4'", "'\xff'", "'a'b'", "'abc", "abc", "'a\\'",
                          "r'a'", "''x", "'a\rb'"}) {
    EXPECT_THROW(lit(bad), FormatError) << bad;
  }
  try {
    lit("'x\\qy'");
    FAIL();
  } catch (const FormatError& e) {
    EXPECT_NE(std::string(e.what()).find("bad escape \\q"), std::string::npos) << e.what();
  }
}

TEST(VocabParser, LinesIdsAndLengths) {
  auto v = rrwkv::parse_vocab("1 'a' 1\r\n7 '\\xe4' 2\n\n300 b'\\x00\\x01' 2\n2 'x y' 3", "v.txt");
  ASSERT_EQ(v.size(), 4u);
  EXPECT_EQ(v[1].id, 7);
  EXPECT_EQ(v[1].bytes, "\xc3\xa4");
  EXPECT_EQ(v[2].id, 300);
  EXPECT_EQ(v[2].line, 4u);
  EXPECT_EQ(v[3].bytes, "x y");
}

TEST(VocabParser, MalformedLinesNameTheLine) {
  const std::string ok = "1 'a' 1\n";
  EXPECT_NE(format_error_of(ok + "2 'b' 2\n").find("line 2: token 2 states a length of 2 bytes but its literal holds 1"),
            std::string::npos);
  EXPECT_NE(format_error_of(ok + "x2 'b' 1\n").find("line 2: expected a decimal token id"), std::string::npos);
  EXPECT_NE(format_error_of(ok + "1 'b' 1\n").find("line 2: token id 1 was already defined on line 1"),
            std::string::npos);
  EXPECT_NE(format_error_of(ok + "3 'a' 1\n").find("line 2: token id 3 has the same bytes 'a' as id 1 on line 1"),
            std::string::npos);
  EXPECT_NE(format_error_of(ok + "\n5 'c'\n").find("line 3: expected `<id>"), std::string::npos);
  EXPECT_NE(format_error_of(ok + "5 'c' one\n").find("line 2: expected the token's byte length"), std::string::npos);
  EXPECT_NE(format_error_of(ok + "5 '' 0\n").find("line 2: token 5 is empty"), std::string::npos);
  EXPECT_NE(format_error_of(ok + "99999999999 'c' 1\n").find("line 2: expected a decimal token id"), std::string::npos);
  EXPECT_NE(format_error_of(ok + "5 '\\z' 1\n").find("v.txt' line 2: bad escape \\z"), std::string::npos);
}

TEST(TrieTokenizer, GreedyLongestMatch) {
  // "ab" and "abcd" are tokens, "abc" is not: "abcx" must fall back to "ab" then "c".
  rrwkv::TrieTokenizer t(byte_vocab("300 'ab' 2\n301 'abcd' 4\n302 'cx' 2\n303 '中' 3\n"), "v.txt");
  EXPECT_EQ(t.vocab_size(), 304u);
  EXPECT_EQ(t.encode("abcd"), (std::vector<TokenId>{301}));
  EXPECT_EQ(t.encode("abcx"), (std::vector<TokenId>{300, 302}));
  EXPECT_EQ(t.encode("abc"), (std::vector<TokenId>{300, 'c' + 1}));
  EXPECT_EQ(t.encode("a"), (std::vector<TokenId>{'a' + 1}));
  EXPECT_EQ(t.encode(""), (std::vector<TokenId>{}));
  EXPECT_EQ(t.encode("中\xff"), (std::vector<TokenId>{303, 256}));
  EXPECT_EQ(t.encode("\xe4\xb8"), (std::vector<TokenId>{0xe4 + 1, 0xb8 + 1}));  // a cut character: its bytes
  const std::vector<TokenId> ids{301, 0, 300, 256};
  EXPECT_EQ(t.decode(ids.data(), ids.size()), "abcdab\xff");  // id 0 has no token: no bytes
}

TEST(TrieTokenizer, DenseAndSparseNodesAgree) {
  // The root and nodes with many children use direct tables, the others sorted lists.
  std::string extra;
  for (int c = 0; c < 40; ++c) extra += std::to_string(400 + c) + " 'q" + std::string(1, char('0' + c)) + "' 2\n";
  rrwkv::TrieTokenizer t(byte_vocab(extra + "500 'zz' 2\n"), "v.txt");
  EXPECT_EQ(t.encode("qAqWzzqh"), (std::vector<TokenId>{400 + ('A' - '0'), 439, 500, 'q' + 1, 'h' + 1}));
}

TEST(TrieTokenizer, DecodeOutOfRangeNamesIdAndRange) {
  rrwkv::TrieTokenizer t(byte_vocab(), "v.txt");
  const std::vector<int32_t> ids{5, 257};
  try {
    t.decode(ids.data(), ids.size());
    FAIL();
  } catch (const rrwkv::OutOfRange& e) {
    EXPECT_NE(std::string(e.what()).find("token id 257 is out of range"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("0 <= id < 257"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("position 1"), std::string::npos) << e.what();
  }
  EXPECT_THROW(t.token_bytes(-1), rrwkv::OutOfRange);
}

TEST(TrieTokenizer, MissingSingleBytesAreFormatErrors) {
  try {
    rrwkv::TrieTokenizer t("1 'a' 1\n", "v.txt");
    FAIL();
  } catch (const FormatError& e) {
    EXPECT_NE(std::string(e.what()).find("no token for 255 single byte(s) (0x00, 0x01"), std::string::npos)
        << e.what();
  }
}

TEST(Tokenizer, FromHeader) {
  auto b = rrwkv::Tokenizer::from_header("bytes", "");
  EXPECT_EQ(b->kind(), "bytes");
  EXPECT_EQ(b->vocab_size(), 256u);
  EXPECT_EQ(b->encode(std::string_view("\x00\xff", 2)), (std::vector<TokenId>{0, 255}));
  const std::vector<TokenId> ids{104, 105};
  EXPECT_EQ(b->decode(ids.data(), 2), "hi");
  EXPECT_THROW(b->token_bytes(256), rrwkv::OutOfRange);

  const std::string vocab = byte_vocab("300 'ab' 2\n");
  auto w = rrwkv::Tokenizer::from_header("world", vocab);
  EXPECT_EQ(w->kind(), "world");
  EXPECT_EQ(w->header_vocab(), vocab);
  EXPECT_EQ(w->encode("ab"), (std::vector<TokenId>{300}));
  EXPECT_THROW(rrwkv::Tokenizer::from_header("world", ""), FormatError);
  EXPECT_THROW(rrwkv::Tokenizer::from_header("gpt2", ""), FormatError);
}

}  // namespace
