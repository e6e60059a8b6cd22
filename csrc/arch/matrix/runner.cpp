#include "arch/matrix/runner.h"

#include "ops/elementwise.h"
#include "ops/linear.h"
#include "ops/norm.h"
#include "ops/token_shift.h"

namespace rrwkv::matrix {

void Runner::shift(ExecContext& ctx, const RaggedBatch& b, int64_t l, Field field) {
  ops::token_shift(ctx, b.rows, xa_, C_, fields_.at(l, field), xp_);
}

void Runner::head_norm(ExecContext& ctx, int64_t N, const BlockCore& lw) {
  ops::group_norm(ctx, xa_, C_, N, C_, C_ / head_size_, lw.ln_x_w, lw.ln_x_b, gn_eps_, xa_, C_);
}

void Runner::gated_output(ExecContext& ctx, int64_t N, const BlockCore& lw, const float* g) {
  ops::multiply(ctx, xa_, xa_, g, N, C_, C_);
  ops::linear(ctx, {{&lw.output, xa_, C_, N, xp_, C_}});
  ops::add(ctx, x_, xp_, N, C_, C_);
}

}  // namespace rrwkv::matrix
