// Trie construction and greedy longest-match encoding; see trie_tokenizer.h.
#include "tokenizer/trie_tokenizer.h"

#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <utility>

#include "core/errors.h"

namespace rrwkv {

TrieTokenizer::TrieTokenizer(std::string vocab_text, const std::string& source, TokenId max_id,
                             const std::string& max_id_what)
    : vocab_text_(std::move(vocab_text)) {
  build(parse_vocab(vocab_text_, source, max_id, max_id_what), source);
}

const std::string& TrieTokenizer::kind() const {
  static const std::string k = "world";
  return k;
}

void TrieTokenizer::build(const std::vector<VocabEntry>& entries, const std::string& source) {
  // 1. A plain trie, children in insertion order.
  struct Tmp {
    int32_t token = -1;
    std::vector<std::pair<uint8_t, uint32_t>> kids;
  };
  std::vector<Tmp> tmp(1);
  TokenId max_id = -1;
  size_t total_bytes = 0;
  for (const VocabEntry& e : entries) {
    uint32_t node = 0;
    for (char ch : e.bytes) {
      const auto c = static_cast<uint8_t>(ch);
      auto& kids = tmp[node].kids;
      auto it = std::find_if(kids.begin(), kids.end(), [c](const auto& k) { return k.first == c; });
      if (it != kids.end()) {
        node = it->second;
      } else {
        kids.emplace_back(c, static_cast<uint32_t>(tmp.size()));
        node = static_cast<uint32_t>(tmp.size());
        tmp.emplace_back();
      }
    }
    tmp[node].token = static_cast<int32_t>(e.id);  // parse_vocab: distinct byte strings, id <= kMaxTokenId
    max_id = std::max(max_id, e.id);
    total_bytes += e.bytes.size();
  }

  // 2. Every single byte must be a token, or some input could not be encoded.
  std::string missing;
  size_t n_missing = 0;
  for (int c = 0; c < 256; ++c) {
    const auto& kids = tmp[0].kids;
    auto it = std::find_if(kids.begin(), kids.end(), [c](const auto& k) { return k.first == c; });
    if (it == kids.end() || tmp[it->second].token < 0) {
      char buf[8];
      std::snprintf(buf, sizeof buf, "0x%02x", c);
      if (n_missing < 8) missing += (missing.empty() ? "" : ", ") + std::string(buf);
      ++n_missing;
    }
  }
  if (n_missing)
    throw FormatError(source + " has no token for " + std::to_string(n_missing) +
                      " single byte(s) (" + missing + (n_missing > 8 ? ", ..." : "") +
                      "); expected all 256 single bytes, so that any input can be encoded");

  // 3. Renumber breadth-first with sorted children, so siblings are consecutive.
  nodes_.assign(tmp.size(), Node{});
  in_byte_.assign(tmp.size(), 0);
  std::vector<uint32_t> order{0};  // order[new id] = old id
  order.reserve(tmp.size());
  for (size_t q = 0; q < order.size(); ++q) {
    Tmp& t = tmp[order[q]];
    std::sort(t.kids.begin(), t.kids.end());
    Node& n = nodes_[q];
    n.token = t.token;
    n.first_child = static_cast<uint32_t>(order.size());
    n.n_children = static_cast<uint16_t>(t.kids.size());
    for (const auto& [c, old] : t.kids) {
      in_byte_[order.size()] = c;
      order.push_back(old);
    }
    if (q == 0 || n.n_children >= kDenseMin) {
      n.dense = static_cast<uint32_t>(dense_.size() / 256 + 1);
      dense_.resize(dense_.size() + 256, 0);
      for (uint32_t k = 0; k < n.n_children; ++k)
        dense_[(size_t{n.dense} - 1) * 256 + in_byte_[n.first_child + k]] = n.first_child + k;
    }
  }

  // 4. The decode table: by id when at least about half the ids in [0, max_id] are used (a
  //    few unused ids cost a little memory), else by rank, so that one huge id in a small
  //    vocabulary cannot make the table huge.
  if (total_bytes > UINT32_MAX)
    throw FormatError(source + " holds " + std::to_string(total_bytes) +
                      " bytes of tokens; expected at most 4 GiB");
  vocab_size_ = static_cast<size_t>(max_id) + 1;
  std::vector<const VocabEntry*> by_id;
  by_id.reserve(entries.size());
  for (const VocabEntry& e : entries) by_id.push_back(&e);
  std::sort(by_id.begin(), by_id.end(), [](auto* a, auto* b) { return a->id < b->id; });
  const bool dense = vocab_size_ <= 2 * entries.size() + 1024;
  token_data_.reserve(total_bytes);
  token_offset_.assign(1, 0);
  token_offset_.reserve((dense ? vocab_size_ : entries.size()) + 1);
  for (const VocabEntry* e : by_id) {
    if (dense) {  // rows for the unused ids before this one, empty
      while (token_offset_.size() - 1 < static_cast<size_t>(e->id)) token_offset_.push_back(token_offset_.back());
    } else {
      ids_.push_back(static_cast<uint32_t>(e->id));
    }
    token_data_ += e->bytes;
    token_offset_.push_back(static_cast<uint32_t>(token_data_.size()));
  }
}

void TrieTokenizer::encode(std::string_view text, std::vector<TokenId>& out) const {
  const auto* p = reinterpret_cast<const uint8_t*>(text.data());
  const size_t n = text.size();
  const uint32_t* root = dense_.data();  // the root's table is the first
  size_t i = 0;
  while (i < n) {
    uint32_t node = root[p[i]];
    TokenId best = nodes_[node].token;  // every single byte is a token (checked in build)
    size_t best_end = i + 1;
    for (size_t j = i + 1; j < n; ++j) {
      node = child(node, p[j]);
      if (node == 0) break;
      if (nodes_[node].token >= 0) {
        best = nodes_[node].token;
        best_end = j + 1;
      }
    }
    out.push_back(best);
    i = best_end;
  }
}

std::string_view TrieTokenizer::token_bytes(int64_t id) const {
  if (id < 0 || static_cast<uint64_t>(id) >= vocab_size()) throw OutOfRange(out_of_range_message(id));
  size_t row = static_cast<size_t>(id);
  if (!ids_.empty()) {
    const auto it = std::lower_bound(ids_.begin(), ids_.end(), static_cast<uint32_t>(id));
    if (it == ids_.end() || *it != static_cast<uint32_t>(id)) return {};  // an id without a token
    row = static_cast<size_t>(it - ids_.begin());
  }
  const uint32_t begin = token_offset_[row], end = token_offset_[row + 1];
  return std::string_view(token_data_).substr(begin, end - begin);
}

}  // namespace rrwkv
