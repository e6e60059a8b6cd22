// What every front end (Python generate, the C API sampler, the server) adds to a sampler for a
// model's tokenizer, so that they all draw the same tokens for the same settings: occurrence
// weights as the rwkv package counts them, a ban on ids the tokenizer cannot decode, and the
// tokenizer's end-of-text as the default stop token (World: id 0; a tokenizer.json: its
// <|endoftext|>, </s> or <eos>; none for bytes).
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

#include "sampling/sampler.h"

namespace rrwkv {

class Tokenizer;

// The stop tokens used when the caller names none.
std::vector<int64_t> default_stop_tokens(const Tokenizer* tokenizer);

// Adds the defaults to `p` for a model of `vocab_size` logits; `tokenizer` may be null (a model
// without one: nothing is added). With use_default_stop, p.stop_tokens gets default_stop_tokens.
void add_model_defaults(SamplerParams& p, const Tokenizer* tokenizer, size_t vocab_size, bool use_default_stop);

}  // namespace rrwkv
