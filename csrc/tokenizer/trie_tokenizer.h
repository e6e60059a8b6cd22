// The RWKV World tokenizer: greedy longest match over bytes through a trie of the vocabulary,
// the same ids as the `rwkv` package's TRIE_TOKENIZER. Built from the vocabulary text
// (vocab_parser.h), which it keeps so a model file can carry it.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "tokenizer/tokenizer.h"
#include "tokenizer/vocab_parser.h"

namespace rrwkv {

class TrieTokenizer final : public Tokenizer {
 public:
  // Parses `vocab_text`; FormatError (naming `source`) if it is malformed, uses an id above
  // max_id (`max_id_what` says why that is the limit) or lacks a token for some single byte.
  TrieTokenizer(std::string vocab_text, const std::string& source, TokenId max_id = kMaxTokenId,
                const std::string& max_id_what = "the format's limit");

  const std::string& kind() const override;
  size_t vocab_size() const override { return vocab_size_; }
  std::string_view header_vocab() const override { return vocab_text_; }
  void encode(std::string_view text, std::vector<TokenId>& out) const override;
  using Tokenizer::encode;
  std::string_view token_bytes(int64_t id) const override;
  std::optional<TokenId> end_of_text() const override { return 0; }  // World's id 0


 private:
  // Nodes are numbered breadth-first, so the children of a node are consecutive, sorted by the
  // byte that leads to them. Node 0 is the root, so 0 also means "no child".
  struct Node {
    uint32_t first_child = 0;
    uint32_t dense = 0;       // 0, or 1 + the index of this node's 256-entry child table
    int32_t token = -1;       // the token ending here, -1 if none
    uint16_t n_children = 0;
  };
  static constexpr uint16_t kDenseMin = 12;  // nodes with this many children get a direct table

  void build(const std::vector<VocabEntry>& entries, const std::string& source);
  uint32_t child(uint32_t node, uint8_t byte) const {
    const Node& n = nodes_[node];
    if (n.dense) return dense_[(size_t{n.dense} - 1) * 256 + byte];
    const uint8_t* b = in_byte_.data() + n.first_child;
    for (uint32_t k = 0; k < n.n_children; ++k) {
      if (b[k] == byte) return n.first_child + k;
      if (b[k] > byte) break;
    }
    return 0;
  }

  std::string vocab_text_;
  std::vector<Node> nodes_;
  std::vector<uint8_t> in_byte_;        // per node: the byte on the edge into it
  std::vector<uint32_t> dense_;         // 256 entries per dense node
  // The decode table. Memory follows the vocabulary's size, not its largest id: with ids_ empty
  // the table is indexed by id (the usual, dense case); otherwise ids_ holds the ids in order
  // and the table is indexed by an id's rank among them (found by binary search).
  size_t vocab_size_ = 0;               // one past the largest id
  std::vector<uint32_t> ids_;           // sorted ids, or empty when dense
  std::vector<uint32_t> token_offset_;  // row -> its bytes in token_data_ (rows + 1 entries)
  std::string token_data_;
};

}  // namespace rrwkv
