// RWKV-6 through a ragged batch (the equations: python/rrwkv_rt/reference/rwkv6.py): per layer the
// data-dependent token shift (one LoRA for the five mixes), the projections, the decay LoRA, the
// RWKV-5 matrix recurrence with a per-token decay, GroupNorm per head, the gate and the output;
// then the channel mix with RWKV-6's shift. Only ops: the same code for every device.
#include "arch/matrix/runner.h"
#include "arch/rwkv6/decay_op.h"
#include "arch/rwkv6/weights.h"
#include "ops/elementwise.h"
#include "ops/linear.h"
#include "ops/wkv5.h"

namespace rrwkv::rwkv6 {
namespace {

using ops::Epilogue;
enum Branch { W, K, V, R, G };

class Rwkv6Runner final : public matrix::Runner {
 public:
  Rwkv6Runner(const Weights& w, int64_t max_tokens, int64_t max_rows) : matrix::Runner(w, max_tokens, max_rows), w_(w) {
    const int64_t N = max_tokens, NC = N * w.C;
    carve({{&xp_, NC}, {&z_, kBranches * NC}, {&m_, kBranches * NC}, {&r_, NC}, {&k_, NC}, {&v_, NC}, {&g_, NC},
           {&wd_, NC}, {&q_, N * kBranches * w.lora_mix}, {&td_, N * w.lora_decay}});
  }

 private:
  float* z(int b) { return z_ + b * max_tokens_ * w_.C; }  // the five mixed inputs

  void time_mix(ExecContext& ctx, const RaggedBatch& b, int64_t l) override {
    const LayerWeights& lw = w_.layers[static_cast<size_t>(l)];
    const int64_t N = b.n_tokens(), C = C_, D = w_.lora_mix, D2 = w_.lora_decay, B = kBranches;
    shift(ctx, b, l, matrix::kAttX);
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
    s.rows = b.rows, s.C = C, s.head_size = head_size_, s.field = wkv_field(l);
    s.r = r_, s.k = k_, s.v = v_, s.w = wd_, s.ldw = C, s.u = lw.first, s.y = xa_;
    ops::wkv5(ctx, s);
    head_output(ctx, N, lw, g_);
  }

  void channel_mix(ExecContext& ctx, const RaggedBatch& b, int64_t l) override {
    const LayerWeights& lw = w_.layers[static_cast<size_t>(l)];
    const int64_t N = b.n_tokens(), C = C_;
    shift(ctx, b, l, matrix::kFfnX);
    ops::shift_mix(ctx, z(K), xa_, xp_, lw.ffn_maa_k, nullptr, 0, N, C, C);
    ops::shift_mix(ctx, z(R), xa_, xp_, lw.ffn_maa_r, nullptr, 0, N, C, C);
    channel_output(ctx, N, lw.ffn_key, &lw.ffn_receptance, lw.ffn_value, z(K), z(R), r_, v_);
  }

  const Weights& w_;
  float *z_, *m_, *r_, *k_, *v_, *g_, *wd_, *q_, *td_;
};

}  // namespace

std::unique_ptr<Runner> Weights::make_runner(int64_t max_tokens, int64_t max_rows) const {
  return std::make_unique<Rwkv6Runner>(*this, max_tokens, max_rows);
}

}  // namespace rrwkv::rwkv6
