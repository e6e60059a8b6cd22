// The steps every matrix-state runner (RWKV-5.2, 6, 7) takes around its own mixes: the token
// shift of a block's input, and after the recurrence the GroupNorm per head, the gate and the
// output projection into the residual stream.
#pragma once

#include <cstdint>

#include "arch/matrix/common.h"

namespace rrwkv::matrix {

class Runner : public LayerRunner {
 protected:
  template <class Layer>
  Runner(const Weights<Layer>& w, int64_t max_tokens, int64_t max_rows)
      : LayerRunner(w, max_tokens, max_rows), C_(w.C), head_size_(w.head_size), gn_eps_(w.gn_eps),
        fields_(state_fields(w.schema)) {}

  // xp_ = each token's predecessor in its row (the row's carried `field` of layer l for its first).
  void shift(ExecContext& ctx, const RaggedBatch& b, int64_t l, Field field);
  // The recurrence's state field of layer l.
  int64_t wkv_field(int64_t l) const { return fields_.at(l, kWkv); }
  // xa_ (the recurrence's output y) = GroupNorm per head of y.
  void head_norm(ExecContext& ctx, int64_t N, const BlockCore& lw);
  // x_ += output · (xa_ ⊙ g).
  void gated_output(ExecContext& ctx, int64_t N, const BlockCore& lw, const float* g);
  // Both: x_ += output · (GroupNorm(y) ⊙ g) (RWKV-7 adds its bonus between them).
  void head_output(ExecContext& ctx, int64_t N, const BlockCore& lw, const float* g) {
    head_norm(ctx, N, lw);
    gated_output(ctx, N, lw, g);
  }

  const int64_t C_, head_size_;
  const double gn_eps_;
  float* xp_ = nullptr;  // carved by the runner (max_tokens x C)

 private:
  const FieldOffsets fields_;
};

}  // namespace rrwkv::matrix
