#include "arch/base/layout.h"

namespace rrwkv {

Layout& Layout::embedding() {
  out_.push_back({"emb.weight", {c_.vocab_size, c_.n_embd}, true, /*per_token=*/true});
  out_.push_back({"blocks.0.ln0.weight", {c_.n_embd}, false});
  out_.push_back({"blocks.0.ln0.bias", {c_.n_embd}, false});
  return *this;
}

Layout& Layout::head() {
  out_.push_back({"ln_out.weight", {c_.n_embd}, false});
  out_.push_back({"ln_out.bias", {c_.n_embd}, false});
  out_.push_back({"head.weight", {c_.vocab_size, c_.n_embd}, true});
  return *this;
}

Layout::Block& Layout::Block::norms() { return vectors({"ln1.weight", "ln1.bias", "ln2.weight", "ln2.bias"}); }

Layout::Block& Layout::Block::vector(const std::string& name, uint64_t size) {
  l_.out_.push_back({prefix_ + name, {size ? size : l_.c_.n_embd}, false});
  return *this;
}

Layout::Block& Layout::Block::vectors(std::initializer_list<const char*> names) {
  for (const char* n : names) vector(n);
  return *this;
}

Layout::Block& Layout::Block::matrix(const std::string& name, uint64_t rows, uint64_t cols) {
  l_.out_.push_back({prefix_ + name, {rows, cols}, true});
  return *this;
}

Layout::Block& Layout::Block::table(const std::string& name, uint64_t rows, uint64_t cols) {
  l_.out_.push_back({prefix_ + name, {rows, cols}, true, /*per_token=*/true});
  return *this;
}

Layout::Block& Layout::Block::square(std::initializer_list<const char*> names) {
  for (const char* n : names) matrix(n, l_.c_.n_embd, l_.c_.n_embd);
  return *this;
}

Layout::Block& Layout::Block::ffn() {
  return matrix("ffn.key.weight", l_.c_.ffn_dim, l_.c_.n_embd).matrix("ffn.value.weight", l_.c_.n_embd, l_.c_.ffn_dim);
}

}  // namespace rrwkv
