// Byte-level BPE; see bpe_tokenizer.h.
#include "tokenizer/bpe_tokenizer.h"

#include <algorithm>
#include <array>

#include "core/errors.h"
#include "core/text.h"
#include "tokenizer/unicode.h"

namespace rrwkv {
namespace {

using unicode::CharClass;

// GPT-2's byte alphabet: each byte stands for a printable character in the vocabulary's
// strings ('!'..'~', '¡'..'¬', '®'..'ÿ' for themselves, the others for U+0100 onwards in order).
const std::array<char32_t, 256>& byte_to_char() {
  static const std::array<char32_t, 256> table = [] {
    std::array<char32_t, 256> t{};
    char32_t next = 256;
    for (int b = 0; b < 256; ++b) {
      const bool printable = (b >= '!' && b <= '~') || (b >= 0xA1 && b <= 0xAC) || (b >= 0xAE && b <= 0xFF);
      t[b] = printable ? static_cast<char32_t>(b) : next++;
    }
    return t;
  }();
  return table;
}

// A vocabulary string -> its bytes through the byte alphabet; characters outside the alphabet
// (a token that was added as text) stand for their own UTF-8. nullopt for invalid UTF-8.
std::optional<std::string> to_bytes(std::string_view s) {
  static const auto inverse = [] {
    std::array<int, 512> inv;
    inv.fill(-1);
    for (int b = 0; b < 256; ++b) inv[byte_to_char()[b]] = b;
    return inv;
  }();
  std::string out;
  for (size_t i = 0; i < s.size();) {
    const auto d = unicode::decode_utf8(s, i);
    if (d.cp == unicode::kInvalid) return std::nullopt;
    if (d.cp < inverse.size() && inverse[d.cp] >= 0)
      out += static_cast<char>(inverse[d.cp]);
    else
      out.append(s.substr(i, d.len));
    i += d.len;
  }
  return out;
}

CharClass class_at(std::string_view s, size_t pos, size_t* len) {
  const unsigned char b = static_cast<unsigned char>(s[pos]);
  if (b < 0x80) {  // the common case, without a table search
    *len = 1;
    if (b == ' ' || (b >= 9 && b <= 13)) return CharClass::kSpace;
    if ((b | 0x20) >= 'a' && (b | 0x20) <= 'z') return CharClass::kLetter;
    if (b >= '0' && b <= '9') return CharClass::kNumber;
    return CharClass::kOther;
  }
  const auto d = unicode::decode_utf8(s, pos);
  *len = d.len;
  return unicode::char_class(d.cp);
}

// The end of the GPT-2 pattern's match at `pos`:
//   's|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+
// (alternatives tried in that order, as a backtracking regex engine does).
size_t gpt2_match_end(std::string_view s, size_t pos) {
  const size_t n = s.size();
  if (s[pos] == '\'' && pos + 1 < n) {
    const char c = s[pos + 1];
    if (c == 's' || c == 't' || c == 'm' || c == 'd') return pos + 2;
    if (pos + 2 < n) {
      const std::string_view two = s.substr(pos + 1, 2);
      if (two == "re" || two == "ve" || two == "ll") return pos + 3;
    }
  }
  size_t len;
  size_t p = pos;
  CharClass cls = class_at(s, p, &len);
  if (s[pos] == ' ' && pos + 1 < n) {  // ` ?X+`: an optional space before a run of one class
    size_t next_len;
    const CharClass next = class_at(s, pos + 1, &next_len);
    if (next != CharClass::kSpace) cls = next, p = pos + 1, len = next_len;
  }
  if (cls != CharClass::kSpace) {
    size_t q = p + len;
    while (q < n && class_at(s, q, &len) == cls) q += len;
    return q;
  }
  // whitespace: all of it at the end of the text; before something else, all but its last
  // character (\s+(?!\S)) if that leaves one, else the one character (\s+)
  size_t q = pos, last = pos;
  while (q < n && class_at(s, q, &len) == CharClass::kSpace) last = q, q += len;
  if (q == n || last == pos) return q;
  return last;
}

}  // namespace

const std::string& BpeTokenizer::kind() const {
  static const std::string k = "hf";
  return k;
}

BpeTokenizer::BpeTokenizer(std::string json, const std::string& source, TokenId max_id, const std::string& max_id_what)
    : json_(std::move(json)) {
  ByteLevelBpeSpec spec = parse_tokenizer_json(json_, source, max_id, max_id_what);
  TokenId top = -1;
  std::unordered_map<std::string, TokenId> by_string;  // vocabulary string -> id
  by_string.reserve(spec.vocab.size());
  for (const auto& [s, id] : spec.vocab) {
    by_string.emplace(s, id);
    top = std::max(top, id);
  }
  for (const auto& a : spec.added) top = std::max(top, a.id);
  token_bytes_.assign(static_cast<size_t>(top + 1), std::string());
  for (const auto& [s, id] : spec.vocab) {
    auto b = to_bytes(s);
    if (!b) throw FormatError(source + ": model.vocab token " + quoted(s) + " is not valid UTF-8");
    if (spec.ignore_merges) word_id_.emplace(*b, id);
    token_bytes_[static_cast<size_t>(id)] = std::move(*b);
  }
  for (int b = 0; b < 256; ++b) {
    char32_t c = byte_to_char()[b];
    std::string key;
    if (c < 0x80) {
      key = std::string(1, static_cast<char>(c));
    } else {
      key += static_cast<char>(0xC0 | (c >> 6));
      key += static_cast<char>(0x80 | (c & 0x3F));
    }
    const auto it = by_string.find(key);
    if (it == by_string.end())
      throw FormatError(source + ": model.vocab has no token for the byte " + std::to_string(b) + " (written " +
                        quoted(key) + "); a byte-level BPE needs all 256, or some text could not be encoded");
    byte_id_[b] = it->second;
  }
  merges_.reserve(spec.merges.size());
  for (size_t rank = 0; rank < spec.merges.size(); ++rank) {
    const auto& [a, b] = spec.merges[rank];
    const auto ia = by_string.find(a), ib = by_string.find(b), ic = by_string.find(a + b);
    if (ia == by_string.end() || ib == by_string.end() || ic == by_string.end())
      throw FormatError(source + ": model.merges[" + std::to_string(rank) + "] (" + quoted(a) + ", " + quoted(b) +
                        ") names a token that model.vocab lacks (" +
                        quoted(ia == by_string.end() ? a : ib == by_string.end() ? b : a + b) + ")");
    const uint64_t key = (static_cast<uint64_t>(ia->second) << 32) | static_cast<uint64_t>(ib->second);
    merges_.emplace(key, Merge{static_cast<uint32_t>(rank), ic->second});  // the first (best) rank wins
  }
  for (const auto& a : spec.added) {
    token_bytes_[static_cast<size_t>(a.id)] = a.content;
    // normalized tokens are matched in the normalized text, so in their normalized form
    AddedSet& set = a.normalized ? normalized_added_ : raw_added_;
    set.tokens.push_back({a.normalized && spec.nfc ? unicode::nfc(a.content) : a.content, a.id});
    set.starts_with[static_cast<unsigned char>(set.tokens.back().content[0])] = true;
  }
  for (auto* set : {&raw_added_, &normalized_added_})
    std::stable_sort(set->tokens.begin(), set->tokens.end(),
                     [](const Added& x, const Added& y) { return x.content.size() > y.content.size(); });
  for (const char* name : {"<|endoftext|>", "</s>", "<eos>"}) {  // as the Python package picks it
    auto it = std::find_if(spec.added.begin(), spec.added.end(), [&](const auto& a) { return a.content == name; });
    if (it != spec.added.end()) {
      eos_ = it->id;
      break;
    }
    if (auto v = by_string.find(name); v != by_string.end()) {
      eos_ = v->second;
      break;
    }
  }
  spec_flags_.nfc = spec.nfc;
  spec_flags_.add_prefix_space = spec.add_prefix_space;
  spec_flags_.use_regex = spec.use_regex;
  spec_flags_.ignore_merges = spec.ignore_merges;
}

template <class Rest>
void BpeTokenizer::split_added(std::string_view text, const AddedSet& added, std::vector<TokenId>& out,
                               Rest&& rest) const {
  if (added.tokens.empty()) {
    rest(text);
    return;
  }
  size_t start = 0;
  for (size_t i = 0; i < text.size();) {
    if (!added.starts_with[static_cast<unsigned char>(text[i])]) {
      ++i;
      continue;
    }
    const Added* hit = nullptr;
    for (const auto& a : added.tokens) {  // longest first: the leftmost-longest match
      if (text.compare(i, a.content.size(), a.content) == 0) {
        hit = &a;
        break;
      }
    }
    if (!hit) {
      ++i;
      continue;
    }
    if (i > start) rest(text.substr(start, i - start));
    out.push_back(hit->id);
    i += hit->content.size();
    start = i;
  }
  if (start < text.size()) rest(text.substr(start));
}

void BpeTokenizer::encode(std::string_view text, std::vector<TokenId>& out) const {
  split_added(text, raw_added_, out, [&](std::string_view piece) {
    if (!spec_flags_.nfc) {
      split_added(piece, normalized_added_, out, [&](std::string_view p) { encode_normalized(p, out); });
      return;
    }
    const std::string normalized = unicode::nfc(piece);
    split_added(normalized, normalized_added_, out, [&](std::string_view p) { encode_normalized(p, out); });
  });
}

void BpeTokenizer::encode_normalized(std::string_view text, std::vector<TokenId>& out) const {
  std::string prefixed;
  if (spec_flags_.add_prefix_space && text[0] != ' ') {
    prefixed.reserve(text.size() + 1);
    prefixed.append(1, ' ').append(text);
    text = prefixed;
  }
  if (!spec_flags_.use_regex) {
    encode_word(text, out);
    return;
  }
  for (size_t pos = 0; pos < text.size();) {
    const size_t end = gpt2_match_end(text, pos);
    encode_word(text.substr(pos, end - pos), out);
    pos = end;
  }
}

void BpeTokenizer::encode_word(std::string_view word, std::vector<TokenId>& out) const {
  if (word.size() == 1) {
    out.push_back(byte_id_[static_cast<unsigned char>(word[0])]);
    return;
  }
  if (spec_flags_.ignore_merges) {
    const auto it = word_id_.find(std::string(word));
    if (it != word_id_.end()) {
      out.push_back(it->second);
      return;
    }
  }
  // Symbols in a linked list; merges in a heap by (rank, position). A popped merge whose symbols
  // have changed since it was pushed is stale and skipped, as in the `tokenizers` library.
  struct Symbol {
    TokenId id;
    int32_t prev, next;
    uint32_t len;  // bytes covered, 0 once merged into its left neighbour
  };
  struct Candidate {
    uint32_t rank;
    int32_t pos;
    TokenId left, right;
    bool operator>(const Candidate& o) const { return rank != o.rank ? rank > o.rank : pos > o.pos; }
  };
  thread_local std::vector<Symbol> sym;
  thread_local std::vector<Candidate> heap;
  sym.clear();
  heap.clear();
  const int32_t n = static_cast<int32_t>(word.size());
  for (int32_t i = 0; i < n; ++i) sym.push_back({byte_id_[static_cast<unsigned char>(word[i])], i - 1, i + 1, 1});
  const auto push = [&](int32_t pos) {
    const int32_t next = sym[pos].next;
    if (next >= n) return;
    if (const Merge* m = find_merge(sym[pos].id, sym[next].id)) {
      heap.push_back({m->rank, pos, sym[pos].id, sym[next].id});
      std::push_heap(heap.begin(), heap.end(), std::greater<Candidate>());
    }
  };
  for (int32_t i = 0; i + 1 < n; ++i) push(i);
  while (!heap.empty()) {
    std::pop_heap(heap.begin(), heap.end(), std::greater<Candidate>());
    const Candidate c = heap.back();
    heap.pop_back();
    Symbol& left = sym[c.pos];
    if (left.len == 0 || left.id != c.left || left.next >= n || sym[left.next].id != c.right) continue;
    Symbol& right = sym[left.next];
    left.id = find_merge(c.left, c.right)->id;
    left.len += right.len;
    right.len = 0;
    left.next = right.next;
    if (left.next < n) sym[left.next].prev = c.pos;
    if (left.prev >= 0) push(left.prev);
    push(c.pos);
  }
  for (int32_t i = 0; i < n; i = sym[i].next) out.push_back(sym[i].id);
}

std::string_view BpeTokenizer::token_bytes(int64_t id) const {
  if (id < 0 || static_cast<uint64_t>(id) >= token_bytes_.size()) throw OutOfRange(out_of_range_message(id));
  return token_bytes_[static_cast<size_t>(id)];
}

}  // namespace rrwkv
