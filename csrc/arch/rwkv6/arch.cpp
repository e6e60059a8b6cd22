// RWKV-6 as an Architecture: header fields, tensor layout (docs/FORMAT.md), state, binding.
#include "arch/base/layout.h"
#include "arch/rwkv6/rwkv6.h"
#include "arch/rwkv6/weights.h"

namespace rrwkv {
namespace {

constexpr const char* kBranchNames[rwkv6::kBranches] = {"w", "k", "v", "r", "g"};

class Rwkv6 final : public matrix::MatrixArchitecture<rwkv6::Weights> {
 public:
  Rwkv6() : MatrixArchitecture("rwkv6", "RWKV-6 (Finch)", {"lora_mix", "lora_decay"}) {}

  std::vector<TensorSpec> layout(const ModelConfig& c) const override {
    const uint64_t C = c.n_embd, D = c.lora_mix, D2 = c.lora_decay;
    Layout out(c);
    out.embedding().head();
    for (uint64_t i = 0; i < c.n_layer; ++i) {
      Layout::Block blk = out.block(i);
      blk.norms().vectors({"att.time_maa_x", "att.time_decay", "att.time_faaaa", "att.ln_x.weight", "att.ln_x.bias",
                           "ffn.time_maa_k", "ffn.time_maa_r"});
      for (const char* b : kBranchNames) blk.vector("att.time_maa_" + std::string(b));
      blk.matrix("att.time_maa_w1", rwkv6::kBranches * D, C)
          .matrix("att.time_maa_w2", rwkv6::kBranches * C, D)
          .matrix("att.time_decay_w1", D2, C)
          .matrix("att.time_decay_w2", C, D2)
          .square({"att.receptance.weight", "att.key.weight", "att.value.weight", "att.gate.weight",
                   "att.output.weight", "ffn.receptance.weight"})
          .ffn();
    }
    return std::move(out).specs();
  }

 protected:
  void bind_layer(const Binder::Block& p, int64_t, const rwkv6::Weights& w, rwkv6::LayerWeights& l) const override {
    matrix::bind_core(p, l, /*gate=*/true);
    l.maa_x = p.vec("att.time_maa_x");
    l.maa_w1 = p.mat("att.time_maa_w1");
    const Matrix w2 = p.mat("att.time_maa_w2");  // (5 C, D): branch j is rows j C .. (j + 1) C
    for (int j = 0; j < rwkv6::kBranches; ++j) {
      l.maa[j] = p.vec("att.time_maa_" + std::string(kBranchNames[j]));
      l.maa_w2[j] = w2;
      l.maa_w2[j].data = w2.row(j * w.C);
      l.maa_w2[j].rows = w.C;
    }
    l.decay = p.vec("att.time_decay");
    l.decay_w1 = p.mat("att.time_decay_w1"), l.decay_w2 = p.mat("att.time_decay_w2");
    l.first = p.vec("att.time_faaaa");
    l.ffn_maa_k = p.vec("ffn.time_maa_k"), l.ffn_maa_r = p.vec("ffn.time_maa_r");
  }
};

}  // namespace

const Architecture& rwkv6_architecture() { return instance<Rwkv6>(); }

}  // namespace rrwkv
