// The byte-level tokenizer: token id i is the single byte i (ids 0..255).
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "tokenizer/tokenizer.h"

namespace rrwkv {

class ByteTokenizer final : public Tokenizer {
 public:
  const std::string& kind() const override;
  size_t vocab_size() const override { return 256; }
  std::string_view header_vocab() const override { return {}; }
  void encode(std::string_view text, std::vector<TokenId>& out) const override;
  using Tokenizer::encode;
  std::string_view token_bytes(int64_t id) const override;
};

}  // namespace rrwkv
