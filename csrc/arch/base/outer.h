// What every RWKV generation has around its blocks: x = ln0(emb[token]) before the first block,
// logits = head · ln_out(x) after the last (for every token, or each row's last token); ln_out(x)
// itself is the final hidden state (embeddings).
#pragma once

#include <cstdint>
#include <vector>

#include "arch/architecture.h"
#include "core/matrix.h"

namespace rrwkv {

struct OuterWeights {
  Matrix emb, head;
  const float *ln0_w = nullptr, *ln0_b = nullptr, *ln_out_w = nullptr, *ln_out_b = nullptr;
  double eps = 1e-5;
};

// x (N x C) = ln0(emb[tokens]).
void embed(ExecContext& ctx, const OuterWeights& w, const RaggedBatch& b, float* x);

// The logits and final hidden states the batch asks for (RaggedBatch::logits, ::hidden), from the
// last block's output x (N x C).
// `scratch` (N x C) is overwritten; `last` is reused (no allocation once sized).
void logits(ExecContext& ctx, const OuterWeights& w, const RaggedBatch& b, const float* x, float* scratch,
            std::vector<int64_t>& last);

}  // namespace rrwkv
