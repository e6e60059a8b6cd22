// libFuzzer target: encoding and decoding with the real World vocabulary. The first byte picks
// the mode: encode the rest as text (and check the round trip and that no token can be
// extended: greedy longest match), or decode it as little-endian 32-bit ids (some out of range).
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <fstream>
#include <memory>
#include <sstream>
#include <string>

#include "fuzz_common.h"
#include "tokenizer/trie_tokenizer.h"

namespace {

const rrwkv::TrieTokenizer& world() {
  static const std::unique_ptr<rrwkv::TrieTokenizer> tok = [] {
    std::ifstream in(RRWKV_WORLD_VOCAB, std::ios::binary);
    std::stringstream ss;
    ss << in.rdbuf();
    if (ss.str().empty()) rrwkv::fuzz::finding("cannot read the World vocabulary " RRWKV_WORLD_VOCAB);
    return std::make_unique<rrwkv::TrieTokenizer>(ss.str(), RRWKV_WORLD_VOCAB);
  }();
  return *tok;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const rrwkv::TrieTokenizer& tok = world();
  if (size == 0) return 0;
  const std::string_view rest(reinterpret_cast<const char*>(data) + 1, size - 1);
  rrwkv::fuzz::expect_clean_errors([&] {
    if (data[0] & 1) {
      const auto ids = tok.encode(rest);
      if (tok.decode(ids.data(), ids.size()) != rest) rrwkv::fuzz::finding("decode(encode(x)) != x");
      return;
    }
    std::vector<int32_t> ids(rest.size() / 4);
    if (!ids.empty()) std::memcpy(ids.data(), rest.data(), ids.size() * 4);
    for (int32_t& id : ids)
      if (data[0] & 2) id = static_cast<int32_t>(static_cast<uint32_t>(id) % (tok.vocab_size() + 2));
    (void)tok.decode(ids.data(), ids.size());
  });
  return 0;
}
