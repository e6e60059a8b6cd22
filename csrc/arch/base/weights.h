// The weights every architecture binds the same way, and the one binder that resolves a
// layout's tensors on a device. An architecture's Weights derive from ModelWeights and add its
// own sizes and its per-layer tensors; it derives from LayeredArchitecture<Weights>, whose bind()
// binds the common part and asks the architecture for each layer's own tensors.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "arch/architecture.h"
#include "arch/base/outer.h"
#include "core/matrix.h"

namespace rrwkv {

// The norms in front of a block's two halves: x_a = ln1(x) for the time mix, ln2 for the channel mix.
struct BlockNorms {
  const float *ln1_w = nullptr, *ln1_b = nullptr, *ln2_w = nullptr, *ln2_b = nullptr;
};

struct ModelWeights : BoundWeights {
  std::unique_ptr<WeightPlacement> placement;  // owns what the views below point into
  int64_t n_layer = 0, C = 0, F = 0, V = 0;
  double eps = 1e-5;  // of every LayerNorm
  OuterWeights outer;
  std::vector<BlockNorms> norms;  // one per layer
  StateSchema schema;

  // The sizes from the config (a derived Weights with sizes of its own hides this and calls it).
  void read_sizes(const ModelConfig& c);
};

// An architecture's weights: the common part and one Layer per block.
template <class LayerT>
struct LayeredWeights : ModelWeights {
  using Layer = LayerT;
  std::vector<Layer> layers;
};

class ModelFile;

// Tensors of a checked file by name, bound where `placement` puts them (CPU: views into the
// file's bytes; shapes and dtypes were checked against the architecture's layout when the model
// was opened). The one binder of every architecture.
class Binder {
 public:
  Binder(const ModelFile& file, const ModelConfig& config, WeightPlacement& placement, const Architecture& arch);

  const ModelConfig& config() const { return config_; }
  Matrix mat(const std::string& name) const;
  const float* vec(const std::string& name) const;

  // A block's tensors by their names inside it: "ln1.weight" is "blocks.<i>.ln1.weight".
  class Block {
   public:
    Matrix mat(const std::string& name) const { return b_.mat(prefix_ + name); }
    const float* vec(const std::string& name) const { return b_.vec(prefix_ + name); }

   private:
    friend class Binder;
    Block(const Binder& b, int64_t i) : b_(b), prefix_("blocks." + std::to_string(i) + ".") {}
    const Binder& b_;
    std::string prefix_;
  };
  Block block(int64_t i) const { return Block(*this, i); }

  // New weights of type W with the common part bound: W's sizes, the outer tensors, each
  // block's norms and the state schema.
  template <class W>
  std::unique_ptr<W> weights() const {
    auto w = std::make_unique<W>();
    w->read_sizes(config_);
    bind_common(*w);
    w->layers.reserve(static_cast<size_t>(w->n_layer));
    return w;
  }

 private:
  void bind_common(ModelWeights& w) const;

  const ModelFile& file_;
  const ModelConfig& config_;
  WeightPlacement& placement_;
  const Architecture& arch_;
};

// An architecture whose weights are W (a LayeredWeights): bind() is written once, here; the
// architecture binds only what is its own, per model and per layer.
template <class W>
class LayeredArchitecture : public Architecture {
 public:
  // `config_keys`: the header fields this architecture stores besides the common ones.
  LayeredArchitecture(const char* name, const char* description, std::vector<const char*> config_keys)
      : name_(name), description_(description), config_keys_(std::move(config_keys)) {}

  const char* name() const final { return name_; }
  const char* description() const final { return description_; }
  std::vector<ConfigField> config_fields() const final { return config_fields_named(config_keys_); }

  std::unique_ptr<const BoundWeights> bind(const ModelFile& file, const ModelConfig& config,
                                           std::unique_ptr<WeightPlacement> placement) const final {
    const Binder b(file, config, *placement, *this);
    auto w = b.weights<W>();
    bind_model(config, *w);
    for (int64_t i = 0; i < w->n_layer; ++i) bind_layer(b.block(i), i, *w, w->layers.emplace_back());
    w->placement = std::move(placement);
    return w;
  }

 protected:
  virtual void bind_model(const ModelConfig&, W&) const {}
  // Layer i's own tensors (the model's part of w is bound).
  virtual void bind_layer(const Binder::Block& p, int64_t i, const W& w, typename W::Layer& l) const = 0;

 private:
  const char *name_, *description_;
  std::vector<const char*> config_keys_;
};

// The one instance of an architecture, for its registry entry.
template <class A>
const Architecture& instance() {
  static const A a;
  return a;
}

}  // namespace rrwkv
