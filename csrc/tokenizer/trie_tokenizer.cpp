// Trie construction and greedy longest-match encoding; see trie_tokenizer.h.
#include "tokenizer/trie_tokenizer.h"

#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <utility>

#include "core/errors.h"

namespace rrwkv {

TrieTokenizer::TrieTokenizer(std::string vocab_text, const std::string& source)
    : vocab_text_(std::move(vocab_text)) {
  build(parse_vocab(vocab_text_, source), source);
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

  // 4. The decode table.
  if (total_bytes > UINT32_MAX)
    throw FormatError(source + " holds " + std::to_string(total_bytes) +
                      " bytes of tokens; expected at most 4 GiB");
  token_offset_.assign(static_cast<size_t>(max_id) + 2, 0);
  std::vector<const std::string*> by_id(static_cast<size_t>(max_id) + 1, nullptr);
  for (const VocabEntry& e : entries) by_id[static_cast<size_t>(e.id)] = &e.bytes;
  token_data_.reserve(total_bytes);
  for (size_t id = 0; id < by_id.size(); ++id) {
    if (by_id[id]) token_data_ += *by_id[id];
    token_offset_[id + 1] = static_cast<uint32_t>(token_data_.size());
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
  const uint32_t begin = token_offset_[static_cast<size_t>(id)], end = token_offset_[static_cast<size_t>(id) + 1];
  return std::string_view(token_data_).substr(begin, end - begin);
}

}  // namespace rrwkv
