// RWKV-6 through a ragged batch (the equations: python/rrwkv_rt/reference/rwkv6.py): per layer the
// data-dependent token shift (one LoRA for the five mixes), the projections, the decay LoRA, the
// RWKV-5 matrix recurrence with a per-token decay, GroupNorm per head, the gate and the output;
// then the channel mix with RWKV-6's shift. Only ops: the same code for every device.
#include "arch/rwkv6/decay_op.h"
#include "arch/rwkv6/weights.h"
#include "core/aligned.h"
#include "core/errors.h"
#include "ops/elementwise.h"
#include "ops/linear.h"
#include "ops/norm.h"
#include "ops/token_shift.h"
#include "ops/wkv5.h"

namespace rrwkv::rwkv6 {
namespace {

using ops::Epilogue;
enum Branch { W, K, V, R, G };

class Rwkv6Runner final : public Runner {
 public:
  Rwkv6Runner(const Weights& w, int64_t max_tokens, int64_t max_rows)
      : w_(w), max_tokens_(max_tokens), max_rows_(max_rows) {
    const int64_t N = max_tokens, NC = N * w.C;
    buf_ = AlignedFloats({NC, NC, NC, kBranches * NC, kBranches * NC, NC, NC, NC, NC, NC,
                          N * kBranches * w.lora_mix, N * w.lora_decay, N * w.F});
    x_ = buf_[0], xa_ = buf_[1], xp_ = buf_[2], z_ = buf_[3], m_ = buf_[4];
    r_ = buf_[5], k_ = buf_[6], v_ = buf_[7], g_ = buf_[8], wd_ = buf_[9];
    q_ = buf_[10], td_ = buf_[11], kk_ = buf_[12];
    last_.reserve(static_cast<size_t>(max_rows));
    for (int64_t l = 0; l < w.n_layer; ++l)
      offsets_.push_back({w.schema.offset("att_x", l), w.schema.offset("wkv", l), w.schema.offset("ffn_x", l)});
  }

  void run(ExecContext& ctx, const RaggedBatch& b) override {
    const int64_t N = b.n_tokens();
    if (N > max_tokens_ || b.n_rows > max_rows_)
      throw InvalidArgument("rwkv6 runner: a call of " + std::to_string(N) + " tokens exceeds its scratch");
    const ops::RaggedRows rows{b.n_rows, b.start, b.state};
    embed(ctx, w_.outer, b, x_);
    for (int64_t l = 0; l < w_.n_layer; ++l) {
      time_mix(ctx, rows, l);
      channel_mix(ctx, rows, l);
    }
    logits(ctx, w_.outer, b, x_, xa_, xp_, last_);
  }

 private:
  struct Offsets {
    int64_t att_x, wkv, ffn_x;
  };

  float* z(int b) { return z_ + b * max_tokens_ * w_.C; }  // the five mixed inputs

  void time_mix(ExecContext& ctx, const ops::RaggedRows& rows, int64_t l) {
    const LayerWeights& lw = w_.layers[static_cast<size_t>(l)];
    const int64_t N = rows.n_tokens(), C = w_.C, D = w_.lora_mix, D2 = w_.lora_decay, B = kBranches;
    ops::layer_norm(ctx, x_, C, N, C, lw.ln1_w, lw.ln1_b, w_.eps, xa_, C);
    ops::token_shift(ctx, rows, xa_, C, offsets_[l].att_x, xp_);
    // the shift LoRA: q = tanh(W1 (x + d ⊙ maa_x)), then each branch's m_b = W2_b q_b
    ops::shift_mix(ctx, z(0), xa_, xp_, lw.maa_x, nullptr, 0, N, C, C);
    ops::linear(ctx, {{&lw.maa_w1, z(0), C, N, q_, B * D, Epilogue::Tanh}});
    ops::Projection per_branch[kBranches];
    for (int j = 0; j < B; ++j) per_branch[j] = {&lw.maa_w2[j], q_ + j * D, B * D, N, m_ + j * C, B * C};
    ops::linear(ctx, per_branch, B);
    for (int j = 0; j < B; ++j) ops::shift_mix(ctx, z(j), xa_, xp_, lw.maa[j], m_ + j * C, B * C, N, C, C);
    ops::linear(ctx, {{&lw.receptance, z(R), C, N, r_, C},
                      {&lw.key, z(K), C, N, k_, C},
                      {&lw.value, z(V), C, N, v_, C},
                      {&lw.gate, z(G), C, N, g_, C, Epilogue::Silu},
                      {&lw.decay_w1, z(W), C, N, td_, D2, Epilogue::Tanh}});
    ops::linear(ctx, {{&lw.decay_w2, td_, D2, N, m_, C}});
    decay(ctx, wd_, lw.decay, m_, N, C);
    ops::Wkv5Batch s;
    s.rows = rows, s.C = C, s.head_size = w_.head_size, s.field = offsets_[l].wkv;
    s.r = r_, s.k = k_, s.v = v_, s.w = wd_, s.ldw = C, s.u = lw.first, s.y = xa_;
    ops::wkv5(ctx, s);
    ops::group_norm(ctx, xa_, C, N, C, C / w_.head_size, lw.ln_x_w, lw.ln_x_b, w_.gn_eps, xa_, C);
    ops::multiply(ctx, xa_, xa_, g_, N, C, C);
    ops::linear(ctx, {{&lw.output, xa_, C, N, xp_, C}});
    ops::add(ctx, x_, xp_, N, C, C);
  }

  void channel_mix(ExecContext& ctx, const ops::RaggedRows& rows, int64_t l) {
    const LayerWeights& lw = w_.layers[static_cast<size_t>(l)];
    const int64_t N = rows.n_tokens(), C = w_.C, F = w_.F;
    ops::layer_norm(ctx, x_, C, N, C, lw.ln2_w, lw.ln2_b, w_.eps, xa_, C);
    ops::token_shift(ctx, rows, xa_, C, offsets_[l].ffn_x, xp_);
    ops::shift_mix(ctx, z(K), xa_, xp_, lw.ffn_maa_k, nullptr, 0, N, C, C);
    ops::shift_mix(ctx, z(R), xa_, xp_, lw.ffn_maa_r, nullptr, 0, N, C, C);
    ops::linear(ctx, {{&lw.ffn_key, z(K), C, N, kk_, F, Epilogue::ReluSquare},
                      {&lw.ffn_receptance, z(R), C, N, r_, C, Epilogue::Sigmoid}});
    ops::linear(ctx, {{&lw.ffn_value, kk_, F, N, v_, C}});
    ops::add_product(ctx, x_, r_, v_, N, C, C);
  }

  const Weights& w_;
  const int64_t max_tokens_, max_rows_;
  AlignedFloats buf_;
  float *x_, *xa_, *xp_, *z_, *m_, *r_, *k_, *v_, *g_, *wd_, *q_, *td_, *kk_;
  std::vector<int64_t> last_;
  std::vector<Offsets> offsets_;
};

}  // namespace

std::unique_ptr<Runner> Weights::make_runner(int64_t max_tokens, int64_t max_rows) const {
  return std::make_unique<Rwkv6Runner>(*this, max_tokens, max_rows);
}

}  // namespace rrwkv::rwkv6
