// The byte-level BPE of tokenizer.json files on small vocabularies written here, with results
// worked out by hand from the rules (merge by rank, leftmost first; the GPT-2 pattern's pieces;
// added tokens cut out first), NFC, refusals by name, and encoding from several threads at once
// (under TSan: tools/sanitize.sh tsan). Parity with the `tokenizers` library on large corpora is
// tested in tests/tokenizer/test_bpe_native.py.
#include <gtest/gtest.h>

#include <cstdio>
#include <string>
#include <thread>
#include <vector>

#include "core/errors.h"
#include "tokenizer/bpe_tokenizer.h"
#include "tokenizer/tokenizer.h"
#include "tokenizer/unicode.h"

namespace {

using rrwkv::BpeTokenizer;
using rrwkv::FormatError;
using rrwkv::TokenId;

// GPT-2's byte alphabet as the format defines it: printable bytes stand for themselves, the
// others for U+0100 onwards in byte order.
char32_t byte_char(int b) {
  int next = 256;
  for (int x = 0; x < 256; ++x) {
    const bool printable = (x >= '!' && x <= '~') || (x >= 0xA1 && x <= 0xAC) || (x >= 0xAE && x <= 0xFF);
    if (x == b) return printable ? static_cast<char32_t>(x) : static_cast<char32_t>(next);
    if (!printable) ++next;
  }
  return 0;
}

// The JSON string literal of a vocabulary string made of the byte chars of `bytes`.
std::string token(const std::string& bytes) {
  std::string out = "\"";
  char buf[8];
  for (unsigned char b : bytes) {
    std::snprintf(buf, sizeof buf, "\\u%04X", static_cast<unsigned>(byte_char(b)));
    out += buf;
  }
  return out + "\"";
}

// A tokenizer.json: ids 0..255 are the single bytes, then each merge's result in order (ids
// 256, 257, ...); `added` is the added_tokens array's inside; `extra` more top-level fields.
std::string tokenizer_json(const std::vector<std::pair<std::string, std::string>>& merges, const std::string& added = "",
                           const std::string& normalizer = "null", const std::string& model_type = "BPE") {
  std::string vocab, list;
  for (int b = 0; b < 256; ++b) vocab += (b ? "," : "") + token(std::string(1, static_cast<char>(b))) + ":" + std::to_string(b);
  int id = 256;
  for (const auto& [a, b] : merges) {
    vocab += "," + token(a + b) + ":" + std::to_string(id++);
    list += std::string(list.empty() ? "" : ",") + "[" + token(a) + "," + token(b) + "]";
  }
  return "{\"version\":\"1.0\",\"added_tokens\":[" + added + "],\"normalizer\":" + normalizer +
         ",\"pre_tokenizer\":{\"type\":\"ByteLevel\",\"add_prefix_space\":false,\"trim_offsets\":true,\"use_regex\":true},"
         "\"post_processor\":null,\"decoder\":{\"type\":\"ByteLevel\"},\"model\":{\"type\":\"" + model_type +
         "\",\"dropout\":null,\"unk_token\":null,\"vocab\":{" + vocab + "},\"merges\":[" + list + "]}}";
}

std::vector<TokenId> bytes_ids(const std::string& s) { return std::vector<TokenId>(s.begin(), s.end()); }

TEST(BpeTokenizer, MergesByRankLeftmostFirst) {
  BpeTokenizer t(tokenizer_json({{"h", "e"}, {"l", "l"}, {"he", "ll"}, {"hell", "o"}}), "test");
  EXPECT_EQ(t.encode("hello"), std::vector<TokenId>({259}));  // he, ll, hell, hello
  EXPECT_EQ(t.encode("hell"), std::vector<TokenId>({258}));
  BpeTokenizer ab_first(tokenizer_json({{"a", "b"}, {"b", "c"}}), "test");
  EXPECT_EQ(ab_first.encode("abc"), std::vector<TokenId>({256, 'c'}));
  BpeTokenizer bc_first(tokenizer_json({{"b", "c"}, {"a", "b"}}), "test");
  EXPECT_EQ(bc_first.encode("abc"), std::vector<TokenId>({'a', 256}));
  BpeTokenizer aa(tokenizer_json({{"a", "a"}}), "test");
  EXPECT_EQ(aa.encode("aaa"), std::vector<TokenId>({256, 'a'}));  // the leftmost pair first
  EXPECT_EQ(aa.encode("aaaa"), std::vector<TokenId>({256, 256}));
}

TEST(BpeTokenizer, Gpt2PatternPieces) {
  // merges that would cross the pattern's piece boundaries if it did not cut there
  BpeTokenizer t(tokenizer_json({{" ", "h"}, {" ", " "}, {"t", "'"}, {"'", "s"}, {"a", "1"}, {"\n", "x"}}), "test");
  // "  here": " " then " here" (whitespace before a letter gives its last space to the word)
  EXPECT_EQ(t.encode("  here"), std::vector<TokenId>({' ', 256, 'e', 'r', 'e'}));
  EXPECT_EQ(t.encode("  "), std::vector<TokenId>({257}));                 // trailing whitespace: one piece
  EXPECT_EQ(t.encode("it's"), std::vector<TokenId>({'i', 't', 259}));    // 's is a piece of its own
  EXPECT_EQ(t.encode("a1"), std::vector<TokenId>({'a', '1'}));           // letters and digits apart
  EXPECT_EQ(t.encode("\nx"), std::vector<TokenId>({'\n', 'x'}));         // only a space joins the next word
}

TEST(BpeTokenizer, AddedTokensAreCutOutFirst) {
  const std::string added = "{\"id\":256,\"content\":\"<|endoftext|>\",\"single_word\":false,\"lstrip\":false,"
                            "\"rstrip\":false,\"normalized\":false,\"special\":true}";
  std::string json = tokenizer_json({}, added);
  json.insert(json.find("\"vocab\":{") + 9, "\"<|endoftext|>\":256,");
  BpeTokenizer t(json, "test");
  EXPECT_EQ(t.encode("x<|endoftext|>y"), std::vector<TokenId>({'x', 256, 'y'}));
  EXPECT_EQ(t.end_of_text(), std::optional<TokenId>(256));
  const auto ids = t.encode("<|endoftext|");
  EXPECT_EQ(ids, bytes_ids("<|endoftext|"));
}

TEST(BpeTokenizer, NfcBeforeSplitting) {
  BpeTokenizer t(tokenizer_json({{"\xc3", "\xa9"}}, "", "{\"type\":\"NFC\"}"), "test");
  // "e" + U+0301 is é (U+00E9, bytes C3 A9) in NFC: the merge applies to the composed form
  EXPECT_EQ(t.encode("e\xcc\x81"), std::vector<TokenId>({256}));
  EXPECT_EQ(rrwkv::unicode::nfc("A\xcc\x8a"), "\xc3\x85");  // A + ring above -> Å
  EXPECT_EQ(rrwkv::unicode::nfc("\xe1\x84\x80\xe1\x85\xa1"), "\xea\xb0\x80");  // Hangul L + V -> 가
  EXPECT_EQ(rrwkv::unicode::nfc("a\xff\xcc\x81"), "a\xff\xcc\x81");  // nothing composes across an invalid byte
}

TEST(BpeTokenizer, AnyBytesRoundTripWithoutANormalizer) {
  BpeTokenizer t(tokenizer_json({{"a", "b"}}), "test");
  std::string all;
  for (int b = 0; b < 256; ++b) all += static_cast<char>(b);
  all += "ab\xe4\xbd\xa0\xe4\xbd";  // a cut character
  const auto ids = t.encode(all);
  EXPECT_EQ(t.decode(ids.data(), ids.size()), all);
}

TEST(BpeTokenizer, OtherKindsAreRefusedByName) {
  const auto refusal = [](const std::string& json) {
    try {
      BpeTokenizer t(json, "tokenizer.json 'x'");
    } catch (const FormatError& e) {
      return std::string(e.what());
    }
    return std::string();
  };
  EXPECT_NE(refusal(tokenizer_json({}, "", "null", "WordPiece")).find("model is of type 'WordPiece'"), std::string::npos);
  EXPECT_NE(refusal(tokenizer_json({}, "", "{\"type\":\"Lowercase\"}")).find("normalizer is of type 'Lowercase'"),
            std::string::npos);
  EXPECT_NE(refusal("{\"model\": ").find("tokenizer.json 'x' is not valid JSON"), std::string::npos);
  std::string missing_byte = tokenizer_json({});
  missing_byte.replace(missing_byte.find(token("a") + ":97,"), token("a").size() + 4, "");
  EXPECT_NE(refusal(missing_byte).find("has no token for the byte 97"), std::string::npos);
  EXPECT_THROW(rrwkv::Tokenizer::from_header("hf", tokenizer_json({}), "v", 200), FormatError);  // ids 0..255 > 199
}

// In the Concurrency suite, which tools/sanitize.sh tsan runs.
TEST(Concurrency, BpeTokenizerEncodesFromManyThreadsAtOnce) {
  BpeTokenizer t(tokenizer_json({{"h", "e"}, {"l", "l"}, {"he", "ll"}, {"hell", "o"}, {" ", "w"}}), "test");
  std::vector<std::string> texts;
  for (int i = 0; i < 8; ++i) texts.push_back(std::string(200 * (i + 1), 'l') + " hello world\xff " + std::to_string(i));
  std::vector<std::vector<TokenId>> want;
  for (const auto& s : texts) want.push_back(t.encode(s));
  std::vector<std::thread> threads;
  std::vector<int> ok(texts.size(), 0);
  for (size_t i = 0; i < texts.size(); ++i)
    threads.emplace_back([&, i] {
      for (int r = 0; r < 20; ++r) ok[i] += t.encode(texts[i]) == want[i];
    });
  for (auto& th : threads) th.join();
  for (size_t i = 0; i < texts.size(); ++i) EXPECT_EQ(ok[i], 20) << i;
}

}  // namespace
