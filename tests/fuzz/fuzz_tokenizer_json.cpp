// libFuzzer target: the tokenizer.json reader (nlohmann/json, then hf_json.cpp's checks) and the
// byte-level BPE built from what it accepts. The input is the JSON, then optionally a NUL and a
// text; an accepted file encodes the text (and a fixed one), every id is in range, and the ids
// decode; without NFC or a prefix space the bytes come back exactly.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "fuzz_common.h"
#include "tokenizer/bpe_tokenizer.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view input(reinterpret_cast<const char*>(data), size);
  const size_t nul = input.find('\0');
  const std::string json(input.substr(0, nul));
  const std::string text = nul == std::string_view::npos ? std::string("x = 'e\xcc\x81' \xff\n  ")
                                                         : std::string(input.substr(nul + 1));
  rrwkv::fuzz::expect_clean_errors([&] {
    rrwkv::BpeTokenizer tok(json, "<fuzz>", 70000, "the fuzzer's model");
    if (tok.vocab_size() > 70001) rrwkv::fuzz::finding("an id above the limit was accepted");
    const auto ids = tok.encode(text);
    for (auto id : ids)
      if (id < 0 || static_cast<size_t>(id) >= tok.vocab_size()) rrwkv::fuzz::finding("encode gave an id out of range");
    const std::string back = tok.decode(ids.data(), ids.size());
    if (tok.round_trips() && back != text) rrwkv::fuzz::finding("decode(encode(x)) != x without NFC or a prefix space");
  });
  return 0;
}
