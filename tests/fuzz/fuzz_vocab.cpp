// libFuzzer target: the World vocabulary parser and trie construction from arbitrary text, then
// a round trip through the tokenizer that was built (encode, decode, compare).
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "fuzz_common.h"
#include "tokenizer/trie_tokenizer.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string text(reinterpret_cast<const char*>(data), size);
  rrwkv::fuzz::expect_clean_errors([&] {
    rrwkv::TrieTokenizer tok(text, "<fuzz>", 70000, "the fuzzer's model");
    if (tok.vocab_size() > 70001) rrwkv::fuzz::finding("an id above the limit was accepted");
    const std::string sample = text.substr(0, 512) + std::string("\x00\xff\x80 abc", 7);
    const auto ids = tok.encode(sample);
    if (tok.decode(ids.data(), ids.size()) != sample) rrwkv::fuzz::finding("decode(encode(x)) != x");
    for (int64_t id : {int64_t{0}, static_cast<int64_t>(tok.vocab_size()) - 1}) (void)tok.token_bytes(id);
  });
  return 0;
}
