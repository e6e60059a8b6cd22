// RWKV-4 / RRWKV as an Architecture: header fields, tensor layout, state schema, weight binding.
#include <memory>

#include "arch/rwkv4/rwkv4.h"
#include "arch/rwkv4/weights.h"
#include "core/errors.h"
#include "format/model_file.h"

namespace rrwkv {
namespace {

using rwkv4::Variant;

constexpr float kMinusInfinity = -1e38f;  // pp, mp start here: "minus infinity" that keeps pp - w finite

Variant variant_of(const ModelConfig& c, bool mediums) {
  Variant v;
  v.mediums = mediums;
  v.add_mode = mediums && c.cm_mode == "add";
  v.s = mediums ? static_cast<int64_t>(c.medium_interval) : 0;
  return v;
}

class Rwkv4Family final : public Architecture {
 public:
  explicit Rwkv4Family(bool mediums) : mediums_(mediums) {}

  const char* name() const override { return mediums_ ? "rrwkv" : "rwkv4"; }
  const char* description() const override { return mediums_ ? "RRWKV (RWKV-4 with mediums)" : "RWKV-4"; }

  std::vector<ConfigField> config_fields() const override {
    ConfigField s{"medium_interval", ConfigField::Kind::U64};
    s.u64 = &ModelConfig::medium_interval;
    s.lo = 1;
    s.hi = uint64_t{1} << 30;
    ConfigField m{"cm_mode", ConfigField::Kind::Str};
    m.str = &ModelConfig::cm_mode;
    return {s, m};
  }

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
    const uint64_t C = cfg.n_embd, F = cfg.ffn_dim, V = cfg.vocab_size;
    std::vector<TensorSpec> out;
    auto vec = [&](const std::string& name) { out.push_back({name, {C}, false}); };
    auto mat = [&](const std::string& name, uint64_t rows, uint64_t cols) { out.push_back({name, {rows, cols}, true}); };
    mat("emb.weight", V, C);
    vec("blocks.0.ln0.weight");
    vec("blocks.0.ln0.bias");
    for (uint64_t i = 0; i < cfg.n_layer; ++i) {
      const std::string p = "blocks." + std::to_string(i) + ".";
      for (const char* ln : {"ln1", "ln2"}) {
        vec(p + ln + ".weight");
        vec(p + ln + ".bias");
      }
      for (const char* v : {"att.time_mix_k", "att.time_mix_v", "att.time_mix_r", "att.time_first", "att.decay"})
        vec(p + v);
      for (const char* m : {"att.key.weight", "att.value.weight", "att.receptance.weight", "att.output.weight"})
        mat(p + m, C, C);
      vec(p + "ffn.time_mix_k");
      vec(p + "ffn.time_mix_r");
      mat(p + "ffn.key.weight", F, C);
      mat(p + "ffn.receptance.weight", C, C);
      mat(p + "ffn.value.weight", C, F);
      if (mediums_) {
        vec(p + "att.decay_m");
        vec(p + "att.time_first_m");
        if (cfg.cm_mode == "add") {
          vec(p + "ffn.medium_mix_k");
          vec(p + "ffn.medium_mix_r");
        }
      }
    }
    vec("ln_out.weight");
    vec("ln_out.bias");
    mat("head.weight", V, C);
    return out;
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

  std::unique_ptr<const BoundWeights> bind(const ModelFile& f, const Device& device) const override {
    if (!device.is_cpu()) throw_backend_unavailable("the rwkv4 architecture", device);
    const ModelConfig& cfg = f.config();
    auto w = std::make_unique<rwkv4::Weights>();
    w->variant = variant_of(cfg, mediums_);
    w->n_layer = static_cast<int64_t>(cfg.n_layer);
    w->C = static_cast<int64_t>(cfg.n_embd);
    w->F = static_cast<int64_t>(cfg.ffn_dim);
    w->V = static_cast<int64_t>(cfg.vocab_size);
    w->eps = cfg.layer_norm_eps;
    w->schema = state_schema(cfg);
    // shapes and dtypes were checked against layout() when the file was opened
    auto mat = [&](const std::string& name) {
      const TensorInfo& t = f.tensor(name);
      return Matrix::dense(t.data, t.dtype, static_cast<int64_t>(t.shape[0]), static_cast<int64_t>(t.shape[1]));
    };
    auto vec = [&](const std::string& name) { return static_cast<const float*>(f.tensor(name).data); };
    w->outer = {mat("emb.weight"), mat("head.weight"), vec("blocks.0.ln0.weight"), vec("blocks.0.ln0.bias"),
                vec("ln_out.weight"), vec("ln_out.bias"), cfg.layer_norm_eps};
    for (int64_t i = 0; i < w->n_layer; ++i) {
      const std::string p = "blocks." + std::to_string(i) + ".";
      rwkv4::LayerWeights l{};
      l.ln1_w = vec(p + "ln1.weight");
      l.ln1_b = vec(p + "ln1.bias");
      l.ln2_w = vec(p + "ln2.weight");
      l.ln2_b = vec(p + "ln2.bias");
      l.att_mix_k = vec(p + "att.time_mix_k");
      l.att_mix_v = vec(p + "att.time_mix_v");
      l.att_mix_r = vec(p + "att.time_mix_r");
      l.att_decay = vec(p + "att.decay");
      l.att_first = vec(p + "att.time_first");
      l.att_key = mat(p + "att.key.weight");
      l.att_value = mat(p + "att.value.weight");
      l.att_receptance = mat(p + "att.receptance.weight");
      l.att_output = mat(p + "att.output.weight");
      l.ffn_mix_k = vec(p + "ffn.time_mix_k");
      l.ffn_mix_r = vec(p + "ffn.time_mix_r");
      l.ffn_key = mat(p + "ffn.key.weight");
      l.ffn_receptance = mat(p + "ffn.receptance.weight");
      l.ffn_value = mat(p + "ffn.value.weight");
      if (w->variant.mediums) {
        l.att_decay_m = vec(p + "att.decay_m");
        l.att_first_m = vec(p + "att.time_first_m");
        if (w->variant.add_mode) {
          l.ffn_medium_mix_k = vec(p + "ffn.medium_mix_k");
          l.ffn_medium_mix_r = vec(p + "ffn.medium_mix_r");
        }
      }
      w->layers.push_back(l);
    }
    // one decode step reads every tensor of the layout once, but only one row of the embedding
    uint64_t bytes = 0;
    for (const TensorSpec& spec : layout(cfg))
      bytes += spec.name == "emb.weight" ? static_cast<uint64_t>(w->outer.emb.ld) : f.tensor(spec.name).nbytes;
    w->decode_bytes = bytes;
    return w;
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
