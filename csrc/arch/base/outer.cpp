#include "arch/base/outer.h"

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

const int64_t* stage_logit_rows(ExecContext& ctx, const RaggedBatch& b, std::vector<int64_t>& last) {
  if ((!b.logits && !b.hidden) || b.all_logits || b.n_logit_rows == 0) return nullptr;
  last.clear();
  for (int64_t i = 0; i < b.n_logit_rows; ++i) last.push_back(b.host_start[i + 1] - 1);
  return ctx.backend->stage(last.data(), b.n_logit_rows);
}

void logits(ExecContext& ctx, const OuterWeights& w, const RaggedBatch& b, const float* x, float* scratch,
            const int64_t* last) {
  if (!b.logits && !b.hidden) return;
  const int64_t C = w.emb.cols, N = b.n_tokens();
  // ln_out(x) goes to `scratch`, or straight to the caller's hidden rows when it wants them
  const bool direct = b.hidden != nullptr;
  float* out = direct ? b.hidden : scratch;
  const int64_t ld = direct ? b.ld_hidden : C;
  if (b.all_logits) {
    ops::layer_norm(ctx, x, C, N, C, w.ln_out_w, w.ln_out_b, w.eps, out, ld);
    if (b.logits) ops::linear(ctx, {{&w.head, out, ld, N, b.logits, b.ld_logits}});
    return;
  }
  const int64_t n = b.n_logit_rows;  // the last token of each of the first n rows
  if (n == 0) return;
  ops::gather(ctx, x, C, last, n, C, scratch, C);
  ops::layer_norm(ctx, scratch, C, n, C, w.ln_out_w, w.ln_out_b, w.eps, out, ld);  // in place when not direct
  if (b.logits) ops::linear(ctx, {{&w.head, out, ld, n, b.logits, b.ld_logits}});
}

}  // namespace rrwkv
