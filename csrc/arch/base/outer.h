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

// The token rows whose logits the batch wants (each of its first n_logit_rows rows' last token),
// staged where the device reads them; null when it wants every token's or none. `last` is reused
// (no allocation once sized).
const int64_t* stage_logit_rows(ExecContext& ctx, const RaggedBatch& b, std::vector<int64_t>& last);

// The logits and final hidden states the batch asks for (RaggedBatch::logits, ::hidden), from the
// last block's output x (N x C); `last`: stage_logit_rows' rows. `scratch` (N x C) is overwritten.
void logits(ExecContext& ctx, const OuterWeights& w, const RaggedBatch& b, const float* x, float* scratch,
            const int64_t* last);

}  // namespace rrwkv
