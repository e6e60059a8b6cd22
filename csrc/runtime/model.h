// An immutable, memory-mapped model: the validated .rrwkv file plus the per-layer weight
// pointers, resolved once. Thread-safety: a Model is never modified after open(), so any number
// of Sessions on any number of threads may share one.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "format/model_file.h"
#include "kernels/cpu/matvec.h"

namespace rrwkv {

struct LayerWeights {
  const float *ln1_w, *ln1_b, *ln2_w, *ln2_b;
  // time-mix
  const float *att_mix_k, *att_mix_v, *att_mix_r;
  const float *att_decay, *att_first;      // w = exp(time_decay), u = time_first
  const float *att_decay_m, *att_first_m;  // wm, bm (RRWKV), else nullptr
  cpu::MatRef att_key, att_value, att_receptance, att_output;
  // channel-mix
  const float *ffn_mix_k, *ffn_mix_r;
  const float *ffn_medium_mix_k, *ffn_medium_mix_r;  // η (RRWKV `add` mode), else nullptr
  cpu::MatRef ffn_key, ffn_receptance, ffn_value;
};

class Model {
 public:
  static std::shared_ptr<const Model> open(const std::string& path, const OpenOptions& opts = {});
  explicit Model(std::shared_ptr<const ModelFile> file);

  const ModelFile& file() const { return *file_; }
  const ModelConfig& config() const { return file_->config(); }
  int64_t n_layer() const { return static_cast<int64_t>(config().n_layer); }
  int64_t n_embd() const { return static_cast<int64_t>(config().n_embd); }
  int64_t ffn_dim() const { return static_cast<int64_t>(config().ffn_dim); }
  int64_t vocab_size() const { return static_cast<int64_t>(config().vocab_size); }
  int64_t medium_interval() const { return static_cast<int64_t>(config().medium_interval); }
  bool is_rrwkv() const { return config().arch == Arch::RRWKV; }
  bool add_mode() const { return is_rrwkv() && config().cm_mode == CmMode::Add; }
  // Channel-mix uses the previous token (RWKV-4 and `add` mode; `replace` uses only the medium).
  bool ffn_token_shift() const { return !is_rrwkv() || add_mode(); }
  DType matrix_dtype() const { return head.dtype; }  // as exported: every matrix has one dtype
  bool all_matrices_f32() const;                      // checked per tensor (the format allows a mix)

  // Bytes one decode step reads: every matrix but the embedding, one embedding row, the vectors.
  uint64_t decode_bytes_per_token() const;

  cpu::MatRef emb, head;
  const float *ln0_w, *ln0_b, *ln_out_w, *ln_out_b;
  std::vector<LayerWeights> layers;

 private:
  std::shared_ptr<const ModelFile> file_;
};

}  // namespace rrwkv
