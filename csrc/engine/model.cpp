#include "engine/model.h"

#include <algorithm>
#include <set>

#include "ops/backend.h"

namespace rrwkv {

std::shared_ptr<const Model> Model::open(const std::string& path, const OpenOptions& opts) {
  return std::make_shared<const Model>(ModelFile::open(path, opts));
}

Model::Model(std::shared_ptr<const ModelFile> file)
    : file_(std::move(file)),
      checked_(check_model(*file_)),
      schema_(arch().state_schema(config())),
      baked_(read_baked_initial_state(*file_, schema_)) {
  // one decode step reads every tensor of the layout once, but one row of a per-token table
  for (const TensorSpec& spec : arch().layout(config())) {
    const TensorInfo& t = file_->tensor(spec.name);
    decode_bytes_ += spec.per_token ? t.nbytes / t.shape[0] : t.nbytes;
  }
  weights(Device::cpu());  // binds (and so checks) the CPU weights now
}

void Model::init_state(float* state) const {
  if (baked_) std::copy(baked_->begin(), baked_->end(), state);
  else schema_.init(state);
}

const BoundWeights& Model::weights(const Device& device) const {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = weights_.find(device);
  if (it == weights_.end()) {
    DeviceScope scope(device);  // the copies go to `device`, whatever the thread had selected
    auto placement = placement_for(device, "the " + std::string(arch().name()) + " architecture");
    it = weights_.emplace(device, arch().bind(*file_, config(), std::move(placement))).first;
  }
  return *it->second;
}

std::string Model::matrix_dtypes() const {
  std::set<std::string> names;
  for (const TensorSpec& spec : arch().layout(config()))
    if (spec.is_matrix) names.insert(dtype_name(file_->tensor(spec.name).dtype));
  std::string s;
  for (const std::string& n : names) s += (s.empty() ? "" : "+") + n;
  return s;
}

}  // namespace rrwkv
