#include "sampling/model_defaults.h"

#include "tokenizer/tokenizer.h"

namespace rrwkv {

std::vector<int64_t> default_stop_tokens(const Tokenizer* tokenizer) {
  if (tokenizer && tokenizer->end_of_text()) return {*tokenizer->end_of_text()};  // World: 0; hf: <|endoftext|>
  return {};
}

void add_model_defaults(SamplerParams& p, const Tokenizer* tokenizer, size_t vocab_size, bool use_default_stop) {
  if (use_default_stop) p.stop_tokens = default_stop_tokens(tokenizer);
  if (!tokenizer) return;
  p.occurrence_weights = occurrence_weights(*tokenizer, vocab_size);
  for (size_t id = tokenizer->vocab_size(); id < vocab_size; ++id) p.banned_tokens.push_back(static_cast<int64_t>(id));
}

}  // namespace rrwkv
