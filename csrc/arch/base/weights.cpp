#include "arch/base/weights.h"

#include <map>

#include "core/pack_cache.h"
#include "format/model_file.h"
#ifdef RRWKV_WITH_CUDA
#include "gpu/runtime.h"
#endif

namespace rrwkv {

namespace {

class HostPlacement final : public WeightPlacement {
 public:
  HostPlacement() : WeightPlacement(Device::cpu()) {}
  const void* place(const TensorInfo& t) override { return t.data; }
  PackCache* packs() override { return &packs_; }  // the fast path's packed weights

 private:
  PackCache packs_;
};

#ifdef RRWKV_WITH_CUDA
// Each tensor copied to device memory once, when it is first placed (the binder places every
// tensor of the layout once; a tensor placed again gets the same copy).
class DevicePlacement final : public WeightPlacement {
 public:
  using WeightPlacement::WeightPlacement;
  ~DevicePlacement() override {
    try {
      DeviceScope scope(device());  // freed on the device they were copied to
      copies_.clear();
    } catch (...) {  // the device cannot be selected: the copies go as they are
    }
  }
  const void* place(const TensorInfo& t) override {
    auto it = copies_.find(&t);
    if (it == copies_.end()) {
      gpu::DeviceBuffer b(static_cast<size_t>(t.nbytes));
      b.upload(t.data, static_cast<size_t>(t.nbytes));
      it = copies_.emplace(&t, std::move(b)).first;
    }
    return it->second.data();
  }

 private:
  std::map<const TensorInfo*, gpu::DeviceBuffer> copies_;
};
#endif

}  // namespace

std::unique_ptr<WeightPlacement> placement_for(const Device& device, const std::string& what) {
  if (device.is_cpu()) return std::make_unique<HostPlacement>();
#ifdef RRWKV_WITH_CUDA
  return std::make_unique<DevicePlacement>(device);
#else
  throw_backend_unavailable(what.c_str(), device);
#endif
}

Binder::Binder(const ModelFile& file, const ModelConfig& config, WeightPlacement& placement, const Architecture& arch)
    : file_(file), config_(config), placement_(placement), arch_(arch) {}

Matrix Binder::mat(const std::string& name) const {
  const TensorInfo& t = file_.tensor(name);
  Matrix m = Matrix::dense(placement_.place(t), t.dtype, static_cast<int64_t>(t.shape[0]),
                           static_cast<int64_t>(t.shape[1]));
  m.packs = placement_.packs();
  return m;
}

const float* Binder::vec(const std::string& name) const {
  return static_cast<const float*>(placement_.place(file_.tensor(name)));
}

void ModelWeights::read_sizes(const ModelConfig& c) {
  n_layer = static_cast<int64_t>(c.n_layer);
  C = static_cast<int64_t>(c.n_embd);
  F = static_cast<int64_t>(c.ffn_dim);
  V = static_cast<int64_t>(c.vocab_size);
  eps = c.layer_norm_eps;
}

void Binder::bind_common(ModelWeights& w) const {
  const ModelConfig& c = config_;
  w.outer = {mat("emb.weight"),    mat("head.weight"), vec("blocks.0.ln0.weight"), vec("blocks.0.ln0.bias"),
             vec("ln_out.weight"), vec("ln_out.bias"), c.layer_norm_eps};
  for (int64_t i = 0; i < w.n_layer; ++i) {
    const Block p = block(i);
    w.norms.push_back({p.vec("ln1.weight"), p.vec("ln1.bias"), p.vec("ln2.weight"), p.vec("ln2.bias")});
  }
  w.schema = arch_.state_schema(c);
}

}  // namespace rrwkv
