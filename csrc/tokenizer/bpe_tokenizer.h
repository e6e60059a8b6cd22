// The byte-level BPE of Hugging Face tokenizer.json files (GPT-2, GPT-NeoX 20B of the RWKV-4 Pile
// models), kind "hf": the same ids as the `tokenizers` library (tests/tokenizer/test_bpe_native.py).
// Encoding: added tokens are cut out first (those not `normalized` in the raw text, leftmost
// longest; then the others in the normalized text), the rest is normalized (NFC), split by the
// GPT-2 pattern, and each piece's bytes are merged by rank. Invalid UTF-8 is encoded too (as
// bytes that form no letter, number or space): without a normalizer decode(encode(b)) == b for
// any bytes; with NFC, valid text comes back in NFC.
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "tokenizer/hf_json.h"
#include "tokenizer/tokenizer.h"

namespace rrwkv {

class BpeTokenizer final : public Tokenizer {
 public:
  // Parses a tokenizer.json (hf_json.h); FormatError naming `source` for a malformed file, one of
  // a kind this class does not implement, a merge of tokens the vocabulary lacks, a vocabulary
  // without a token for some byte, or an id above `max_id` (`max_id_what` says why).
  BpeTokenizer(std::string json, const std::string& source, TokenId max_id = kMaxHfTokenId,
               const std::string& max_id_what = "the format's limit");

  static constexpr TokenId kMaxHfTokenId = (1 << 26) - 1;

  const std::string& kind() const override;
  size_t vocab_size() const override { return token_bytes_.size(); }
  std::string_view header_vocab() const override { return json_; }
  void encode(std::string_view text, std::vector<TokenId>& out) const override;
  using Tokenizer::encode;
  std::string_view token_bytes(int64_t id) const override;
  std::optional<TokenId> end_of_text() const override { return eos_; }
  // Whether decode(encode(b)) == b for any bytes b: neither NFC nor a prefix space changes the text.
  bool round_trips() const { return !spec_flags_.nfc && !spec_flags_.add_prefix_space; }

 private:
  struct Added {
    std::string content;  // as matched (normalized tokens: in NFC)
    TokenId id;
  };
  struct AddedSet {
    std::vector<Added> tokens;           // longest first
    std::array<bool, 256> starts_with{};  // the first bytes of the tokens: other positions are skipped
  };
  struct Merge {
    uint32_t rank;
    TokenId id;
  };

  // Appends the ids of `text` with the added tokens of `added` cut out; `rest` handles the text
  // between them.
  template <class Rest>
  void split_added(std::string_view text, const AddedSet& added, std::vector<TokenId>& out,
                   Rest&& rest) const;
  void encode_normalized(std::string_view text, std::vector<TokenId>& out) const;
  void encode_word(std::string_view word, std::vector<TokenId>& out) const;
  const Merge* find_merge(TokenId a, TokenId b) const {
    const auto it = merges_.find((static_cast<uint64_t>(a) << 32) | static_cast<uint64_t>(b));
    return it == merges_.end() ? nullptr : &it->second;
  }

  std::string json_;
  ByteLevelBpeSpec spec_flags_;           // the options (its vocab, merges and added are moved out)
  TokenId byte_id_[256];                  // the token of each single byte
  std::unordered_map<uint64_t, Merge> merges_;  // (left id << 32 | right id) -> rank and result
  std::unordered_map<std::string, TokenId> word_id_;  // token bytes -> id (ignore_merges only)
  AddedSet raw_added_, normalized_added_;
  std::vector<std::string> token_bytes_;  // by id; "" where no token has the id
  std::optional<TokenId> eos_;
};

}  // namespace rrwkv
