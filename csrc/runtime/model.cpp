#include "runtime/model.h"

namespace rrwkv {
namespace {

cpu::MatRef matrix(const ModelFile& f, const std::string& name) {
  const TensorInfo& t = f.tensor(name);  // shapes were checked against the layout at open()
  return {t.data, t.dtype, static_cast<int64_t>(t.shape[0]), static_cast<int64_t>(t.shape[1])};
}

const float* vec(const ModelFile& f, const std::string& name) {
  return static_cast<const float*>(f.tensor(name).data);  // vectors are f32 (checked at open())
}

}  // namespace

std::shared_ptr<const Model> Model::open(const std::string& path, const OpenOptions& opts) {
  return std::make_shared<const Model>(ModelFile::open(path, opts));
}

Model::Model(std::shared_ptr<const ModelFile> file) : file_(std::move(file)) {
  const ModelFile& f = *file_;
  emb = matrix(f, "emb.weight");
  head = matrix(f, "head.weight");
  ln0_w = vec(f, "blocks.0.ln0.weight");
  ln0_b = vec(f, "blocks.0.ln0.bias");
  ln_out_w = vec(f, "ln_out.weight");
  ln_out_b = vec(f, "ln_out.bias");
  for (int64_t i = 0; i < n_layer(); ++i) {
    const std::string p = "blocks." + std::to_string(i) + ".";
    LayerWeights l{};
    l.ln1_w = vec(f, p + "ln1.weight");
    l.ln1_b = vec(f, p + "ln1.bias");
    l.ln2_w = vec(f, p + "ln2.weight");
    l.ln2_b = vec(f, p + "ln2.bias");
    l.att_mix_k = vec(f, p + "att.time_mix_k");
    l.att_mix_v = vec(f, p + "att.time_mix_v");
    l.att_mix_r = vec(f, p + "att.time_mix_r");
    l.att_decay = vec(f, p + "att.decay");
    l.att_first = vec(f, p + "att.time_first");
    l.att_key = matrix(f, p + "att.key.weight");
    l.att_value = matrix(f, p + "att.value.weight");
    l.att_receptance = matrix(f, p + "att.receptance.weight");
    l.att_output = matrix(f, p + "att.output.weight");
    l.ffn_mix_k = vec(f, p + "ffn.time_mix_k");
    l.ffn_mix_r = vec(f, p + "ffn.time_mix_r");
    l.ffn_key = matrix(f, p + "ffn.key.weight");
    l.ffn_receptance = matrix(f, p + "ffn.receptance.weight");
    l.ffn_value = matrix(f, p + "ffn.value.weight");
    if (is_rrwkv()) {
      l.att_decay_m = vec(f, p + "att.decay_m");
      l.att_first_m = vec(f, p + "att.time_first_m");
      if (add_mode()) {
        l.ffn_medium_mix_k = vec(f, p + "ffn.medium_mix_k");
        l.ffn_medium_mix_r = vec(f, p + "ffn.medium_mix_r");
      }
    }
    layers.push_back(l);
  }
}

bool Model::all_matrices_f32() const {
  for (const TensorInfo& t : file_->tensors())
    if (t.dtype != DType::F32) return false;
  return true;
}

uint64_t Model::decode_bytes_per_token() const {
  uint64_t bytes = static_cast<uint64_t>(head.bytes() + emb.row_bytes());
  for (const TensorInfo& t : file_->tensors()) {
    if (t.name == "emb.weight" || t.name == "head.weight") continue;
    bytes += t.nbytes;
  }
  return bytes;
}

}  // namespace rrwkv
