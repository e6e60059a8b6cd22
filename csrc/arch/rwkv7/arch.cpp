// RWKV-7 as an Architecture: header fields, tensor layout (docs/FORMAT.md), state, binding.
#include "arch/base/layout.h"
#include "arch/rwkv7/rwkv7.h"
#include "arch/rwkv7/weights.h"

namespace rrwkv {
namespace {

class Rwkv7 final : public matrix::MatrixArchitecture<rwkv7::Weights> {
 public:
  Rwkv7() : MatrixArchitecture("rwkv7", "RWKV-7 (Goose)", {"lora_decay", "lora_a", "lora_v", "lora_gate", "deep_embed"}) {}

  std::vector<TensorSpec> layout(const ModelConfig& c) const override {
    const uint64_t C = c.n_embd;
    Layout out(c);
    out.embedding().head();
    for (uint64_t i = 0; i < c.n_layer; ++i) {
      Layout::Block blk = out.block(i);
      blk.norms().vectors({"att.x_r", "att.x_w", "att.x_k", "att.x_v", "att.x_a", "att.x_g", "att.w0", "att.a0",
                           "att.k_k", "att.k_a", "att.r_k", "att.ln_x.weight", "att.ln_x.bias", "ffn.x_k"});
      // the value residual starts at layer 1: block 0 of a checkpoint has v0/v1/v2, unused
      const std::pair<const char*, uint64_t> loras[] = {
          {"w", c.lora_decay}, {"a", c.lora_a}, {"v", c.lora_v}, {"g", c.lora_gate}};
      for (const auto& [x, D] : loras) {
        if (x[0] == 'v' && i == 0) continue;
        const std::string a = "att." + std::string(x);
        blk.matrix(a + "1", D, C).matrix(a + "2", C, D);
      }
      if (i > 0) blk.vector("att.v0");
      blk.square({"att.receptance.weight", "att.key.weight", "att.value.weight", "att.output.weight"}).ffn();
      rwkv7::add_deep_embed_layout(c, blk);
    }
    return std::move(out).specs();
  }

 protected:
  void bind_layer(const Binder::Block& p, int64_t i, const rwkv7::Weights& w,
                  rwkv7::LayerWeights& l) const override {
    matrix::bind_core(p, l, /*gate=*/false);
    l.x_r = p.vec("att.x_r"), l.x_w = p.vec("att.x_w"), l.x_k = p.vec("att.x_k");
    l.x_v = p.vec("att.x_v"), l.x_a = p.vec("att.x_a"), l.x_g = p.vec("att.x_g");
    l.w0 = p.vec("att.w0"), l.a0 = p.vec("att.a0");
    l.w1 = p.mat("att.w1"), l.w2 = p.mat("att.w2");
    l.a1 = p.mat("att.a1"), l.a2 = p.mat("att.a2");
    l.g1 = p.mat("att.g1"), l.g2 = p.mat("att.g2");
    if (i > 0) l.v0 = p.vec("att.v0"), l.v1 = p.mat("att.v1"), l.v2 = p.mat("att.v2");
    l.k_k = p.vec("att.k_k"), l.k_a = p.vec("att.k_a"), l.r_k = p.vec("att.r_k");
    l.ffn_x_k = p.vec("ffn.x_k");
    if (w.deep_embed) l.deep_embed = rwkv7::bind_deep_embed(p);
  }
};

}  // namespace

const Architecture& rwkv7_architecture() { return instance<Rwkv7>(); }

}  // namespace rrwkv
