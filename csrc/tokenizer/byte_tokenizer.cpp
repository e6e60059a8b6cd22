// The byte-level tokenizer; see byte_tokenizer.h.
#include "tokenizer/byte_tokenizer.h"

#include <cstdint>

#include "core/errors.h"

namespace rrwkv {
namespace {

// Every byte value once, so token_bytes() can return a view.
struct AllBytes {
  char b[256];
  AllBytes() {
    for (int i = 0; i < 256; ++i) b[i] = static_cast<char>(i);
  }
};

}  // namespace

const std::string& ByteTokenizer::kind() const {
  static const std::string k = "bytes";
  return k;
}

void ByteTokenizer::encode(std::string_view text, std::vector<TokenId>& out) const {
  out.reserve(out.size() + text.size());
  for (char c : text) out.push_back(static_cast<TokenId>(static_cast<uint8_t>(c)));
}

std::string_view ByteTokenizer::token_bytes(int64_t id) const {
  static const AllBytes all;
  if (id < 0 || id >= 256) throw OutOfRange(out_of_range_message(id));
  return std::string_view(all.b + id, 1);
}

}  // namespace rrwkv
