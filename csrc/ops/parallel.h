// How the CPU bodies of the ops split elementwise work: in parallel only when there is enough of
// it to pay for a parallel region (a decode step of one sequence runs its small ops inline).
#pragma once

#include <algorithm>
#include <cstdint>

#include "ops/context.h"
#include "ops/ragged.h"

namespace rrwkv::ops::detail {

constexpr int64_t kInlineWork = 16384;  // elements below which a region costs more than it saves

// fn(i) for every row i in [0, n) of `width` elements each.
template <class F>
void for_rows(ExecContext& ctx, int64_t n, int64_t width, F&& fn) {
  if (n * width < kInlineWork || n == 1) {
    for (int64_t i = 0; i < n; ++i) fn(i);
    return;
  }
  ctx.cpu().pool().run(n, [&](int64_t i, int) { fn(i); });
}

// fn(i, c0, c1) for every row i in [0, n) and block [c0, c1) of `block` of its `width` channels.
template <class F>
void for_row_blocks(ExecContext& ctx, int64_t n, int64_t width, int64_t work, int64_t block, F&& fn) {
  if (work < kInlineWork) {
    for (int64_t i = 0; i < n; ++i) fn(i, int64_t{0}, width);
    return;
  }
  const int64_t per_row = (width + block - 1) / block;
  ctx.cpu().pool().run(n * per_row, [&](int64_t task, int) {
    const int64_t i = task / per_row, c0 = task % per_row * block;
    fn(i, c0, std::min(width, c0 + block));
  });
}

// fn(i, h, state) for every (row i, head h) of a matrix-state recurrence, `state` pointing at the
// row's S x S state of head h; fn walks the row's tokens in order.
template <class F>
void for_row_heads(ExecContext& ctx, const HeadBatch& b, F&& fn) {
  const int64_t S = b.head_size, H = b.C / S, n = b.rows.n_rows;
  for_rows(ctx, n * H, (b.rows.n_tokens() / std::max<int64_t>(1, n)) * S * S, [&](int64_t task) {
    const int64_t i = task / H, h = task % H;
    fn(i, h, b.rows.state(i) + b.field + h * S * S);
  });
}

}  // namespace rrwkv::ops::detail
