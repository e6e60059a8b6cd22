#include "arch/outer.h"

#include "ops/elementwise.h"
#include "ops/embedding.h"
#include "ops/linear.h"
#include "ops/norm.h"

namespace rrwkv {

void embed(ExecContext& ctx, const OuterWeights& w, const RaggedBatch& b, float* x) {
  const int64_t N = b.n_tokens(), C = w.emb.cols;
  ops::embedding(ctx, w.emb, b.tokens, N, x, C);
  ops::layer_norm(ctx, x, C, N, C, w.ln0_w, w.ln0_b, w.eps, x, C);
}

void logits(ExecContext& ctx, const OuterWeights& w, const RaggedBatch& b, const float* x, float* rows, float* normed,
            std::vector<int64_t>& last) {
  if (!b.logits) return;
  const int64_t C = w.emb.cols, N = b.n_tokens();
  if (b.all_logits) {
    ops::layer_norm(ctx, x, C, N, C, w.ln_out_w, w.ln_out_b, w.eps, normed, C);
    ops::linear(ctx, {{&w.head, normed, C, N, b.logits, b.ld_logits}});
    return;
  }
  const int64_t n = b.n_logit_rows;  // the last token of each of the first n rows
  if (n == 0) return;
  last.clear();
  for (int64_t i = 0; i < n; ++i) last.push_back(b.start[i + 1] - 1);
  ops::gather(ctx, x, C, last.data(), n, C, rows, C);
  ops::layer_norm(ctx, rows, C, n, C, w.ln_out_w, w.ln_out_b, w.eps, normed, C);
  ops::linear(ctx, {{&w.head, normed, C, n, b.logits, b.ld_logits}});
}

}  // namespace rrwkv
