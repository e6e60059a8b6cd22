// RWKV-4 / RRWKV as an Architecture: header fields, tensor layout, state schema, weight binding.
#include <memory>

#include "arch/base/layout.h"
#include "arch/rwkv4/rwkv4.h"
#include "arch/rwkv4/weights.h"
#include "kernels/wkv/wkv.h"

namespace rrwkv {
namespace {

using rwkv4::Variant;

constexpr auto kMinusInfinity = static_cast<float>(wkv::kMinusInfinity);  // where pp and mp start

Variant variant_of(const ModelConfig& c, bool mediums) {
  Variant v;
  v.mediums = mediums;
  v.add_mode = mediums && c.cm_mode == "add";
  v.s = mediums ? static_cast<int64_t>(c.medium_interval) : 0;
  return v;
}

class Rwkv4Family final : public LayeredArchitecture<rwkv4::Weights> {
 public:
  explicit Rwkv4Family(bool mediums)
      : LayeredArchitecture(mediums ? "rrwkv" : "rwkv4", mediums ? "RRWKV (RWKV-4 with mediums)" : "RWKV-4",
                            {"medium_interval", "cm_mode"}),
        mediums_(mediums) {}

  std::string check_config(const ModelConfig& c) const override {
    if (!mediums_) {
      if (c.medium_interval != 1 || c.cm_mode != "replace")
        return "an rwkv4 model has no mediums, so its header must say medium_interval=1 and cm_mode='replace', "
               "found medium_interval=" + std::to_string(c.medium_interval) + " and cm_mode='" + c.cm_mode + "'";
      return "";
    }
    if (c.cm_mode != "replace" && c.cm_mode != "add")
      return "header field 'cm_mode' is '" + c.cm_mode + "', expected 'replace' or 'add'";
    return "";
  }

  std::vector<TensorSpec> layout(const ModelConfig& cfg) const override {
    const uint64_t C = cfg.n_embd, F = cfg.ffn_dim;
    Layout out(cfg);
    out.embedding();
    for (uint64_t i = 0; i < cfg.n_layer; ++i) {
      Layout::Block blk = out.block(i);
      blk.norms()
          .vectors({"att.time_mix_k", "att.time_mix_v", "att.time_mix_r", "att.time_first", "att.decay"})
          .square({"att.key.weight", "att.value.weight", "att.receptance.weight", "att.output.weight"})
          .vectors({"ffn.time_mix_k", "ffn.time_mix_r"})
          .matrix("ffn.key.weight", F, C)
          .square({"ffn.receptance.weight"})
          .matrix("ffn.value.weight", C, F);
      if (mediums_) blk.vectors({"att.decay_m", "att.time_first_m"});
      if (mediums_ && cfg.cm_mode == "add") blk.vectors({"ffn.medium_mix_k", "ffn.medium_mix_r"});
    }
    out.head();
    return std::move(out).specs();
  }

  StateSchema state_schema(const ModelConfig& cfg) const override {
    const Variant v = variant_of(cfg, mediums_);
    const auto C = static_cast<int64_t>(cfg.n_embd);
    StateSchema s;
    s.n_layer = static_cast<int64_t>(cfg.n_layer);
    s.fields = {{"att_x", C, 0.0f}, {"aa", C, 0.0f}, {"bb", C, 0.0f}, {"pp", C, kMinusInfinity}};
    if (v.mediums) {
      for (StateField f : {StateField{"ma", C, 0.0f}, StateField{"mb", C, 0.0f}, StateField{"mp", C, kMinusInfinity},
                           StateField{"att_seg", C, 0.0f}})
        s.fields.push_back(f);
    }
    if (v.ffn_token_shift()) s.fields.push_back({"ffn_x", C, 0.0f});
    if (v.mediums) {
      s.fields.push_back({"ffn_med", C, 0.0f});
      s.fields.push_back({"ffn_seg", C, 0.0f});
    }
    return s;
  }

 protected:
  void bind_model(const ModelConfig& c, rwkv4::Weights& w) const override {
    w.variant = variant_of(c, mediums_);
  }
  void bind_layer(const Binder::Block& p, int64_t, const rwkv4::Weights& w, rwkv4::LayerWeights& l) const override {
    l.att_mix_k = p.vec("att.time_mix_k"), l.att_mix_v = p.vec("att.time_mix_v");
    l.att_mix_r = p.vec("att.time_mix_r");
    l.att_decay = p.vec("att.decay"), l.att_first = p.vec("att.time_first");
    l.att_key = p.mat("att.key.weight"), l.att_value = p.mat("att.value.weight");
    l.att_receptance = p.mat("att.receptance.weight"), l.att_output = p.mat("att.output.weight");
    l.ffn_mix_k = p.vec("ffn.time_mix_k"), l.ffn_mix_r = p.vec("ffn.time_mix_r");
    l.ffn_key = p.mat("ffn.key.weight"), l.ffn_receptance = p.mat("ffn.receptance.weight");
    l.ffn_value = p.mat("ffn.value.weight");
    if (w.variant.mediums) l.att_decay_m = p.vec("att.decay_m"), l.att_first_m = p.vec("att.time_first_m");
    if (w.variant.add_mode)
      l.ffn_medium_mix_k = p.vec("ffn.medium_mix_k"), l.ffn_medium_mix_r = p.vec("ffn.medium_mix_r");
  }

 private:
  bool mediums_;
};

}  // namespace

const Architecture& rwkv4_architecture() {
  static const Rwkv4Family a(false);
  return a;
}

const Architecture& rrwkv_architecture() {
  static const Rwkv4Family a(true);
  return a;
}

}  // namespace rrwkv
