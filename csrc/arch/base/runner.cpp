#include "arch/base/runner.h"

#include <string>

#include "core/errors.h"
#include "ops/elementwise.h"
#include "ops/linear.h"
#include "ops/norm.h"

namespace rrwkv {

FieldOffsets::FieldOffsets(const StateSchema& schema, std::initializer_list<const char*> names)
    : stride_(schema.layer_floats()) {
  for (const char* name : names) first_.push_back(schema.offset(name, 0));
}

void LayerRunner::carve(std::initializer_list<std::pair<float**, int64_t>> buffers) {
  const int64_t NC = max_tokens_ * base_.C;
  std::vector<int64_t> sizes = {NC, NC, max_tokens_ * base_.F};
  for (const auto& [ptr, floats] : buffers) sizes.push_back(floats);
  std::vector<float*> at;
  if (base_.placement->device().is_cpu()) {
    buf_ = AlignedFloats(sizes);
    for (size_t i = 0; i < sizes.size(); ++i) at.push_back(buf_[i]);
  } else {  // in device memory, each piece 256-byte aligned
    int64_t total = 0;
    for (int64_t n : sizes) total += (n + 63) / 64 * 64;
    device_buf_ = device_floats(base_.placement->device(), total);
    float* p = device_buf_.get();
    for (int64_t n : sizes) at.push_back(p), p += (n + 63) / 64 * 64;
  }
  x_ = at[0];
  xa_ = at[1];
  kk_ = at[2];
  size_t i = 3;
  for (const auto& [ptr, floats] : buffers) *ptr = at[i++];
}

void LayerRunner::channel_output(ExecContext& ctx, int64_t N, const Matrix& key, const Matrix* receptance,
                                 const Matrix& value, const float* zk, const float* zr, float* r, float* v) {
  const int64_t C = base_.C, F = base_.F;
  const ops::Projection in[2] = {{&key, zk, C, N, kk_, F, ops::Epilogue::ReluSquare},
                                 {receptance, zr, C, N, r, C, ops::Epilogue::Sigmoid}};
  ops::linear(ctx, in, receptance ? 2 : 1);
  ops::linear(ctx, {{&value, kk_, F, N, v, C}});
  if (receptance) ops::add_product(ctx, x_, r, v, N, C, C);
  else ops::add(ctx, x_, v, N, C, C);
}

void LayerRunner::prepare(ExecContext& ctx, const RaggedBatch& b) {
  const int64_t N = b.n_tokens();
  if (N > max_tokens_ || b.n_rows() > max_rows_)
    throw InvalidArgument("runner: a call of " + std::to_string(N) + " tokens in " + std::to_string(b.n_rows()) +
                          " rows exceeds its scratch (" + std::to_string(max_tokens_) + " tokens, " +
                          std::to_string(max_rows_) + " rows)");
  plan(ctx, b);
  staged_last_ = stage_logit_rows(ctx, b, last_);
}

void LayerRunner::execute(ExecContext& ctx, const RaggedBatch& b) {
  const int64_t N = b.n_tokens(), C = base_.C;
  embed(ctx, base_.outer, b, x_);
  for (int64_t l = 0; l < base_.n_layer; ++l) {
    const BlockNorms& n = base_.norms[static_cast<size_t>(l)];
    ops::layer_norm(ctx, x_, C, N, C, n.ln1_w, n.ln1_b, base_.eps, xa_, C);
    time_mix(ctx, b, l);
    ops::layer_norm(ctx, x_, C, N, C, n.ln2_w, n.ln2_b, base_.eps, xa_, C);
    channel_mix(ctx, b, l);
  }
  logits(ctx, base_.outer, b, x_, xa_, staged_last_);
}

}  // namespace rrwkv
