// A model: the validated, memory-mapped file, its architecture and its weights bound per device
// (the CPU binding points into the mapping; other devices get their own copy on first use).
// Thread-safety: a Model never changes what it computes after open(); any number of engines and
// sessions on any number of threads may share one.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <string>

#include "arch/architecture.h"
#include "arch/base/model_check.h"
#include "engine/initial_state.h"
#include "format/model_file.h"

namespace rrwkv {

class Model {
 public:
  // The file checked as a model of a registered architecture (arch/base/model_check.h): throws
  // FileNotFound or FormatError, and InvalidArgument if the CPU weights cannot be bound.
  static std::shared_ptr<const Model> open(const std::string& path, const OpenOptions& opts = {});
  explicit Model(std::shared_ptr<const ModelFile> file);

  const ModelFile& file() const { return *file_; }
  const ModelConfig& config() const { return checked_.config; }
  const Architecture& arch() const { return *checked_.arch; }
  const StateSchema& state_schema() const { return schema_; }
  // The state rows start from and reset() returns to: the one the file bakes in
  // (engine/initial_state.h), else the schema's.
  void init_state(float* state) const;
  const InitialState& baked_initial_state() const { return baked_; }
  int64_t vocab_size() const { return static_cast<int64_t>(config().vocab_size); }

  // The weights on `device`, bound on first use and kept for the model's lifetime.
  const BoundWeights& weights(const Device& device) const;
  // Bytes one decode step of one sequence reads (every weight once, one embedding row).
  uint64_t decode_bytes_per_token() const { return decode_bytes_; }
  // The storage types of the weight matrices, e.g. "f16" or "f32+f16" (the format allows a mix).
  std::string matrix_dtypes() const;

 private:
  std::shared_ptr<const ModelFile> file_;
  CheckedModel checked_;
  StateSchema schema_;
  InitialState baked_;
  uint64_t decode_bytes_ = 0;
  mutable std::mutex mu_;
  mutable std::map<Device, std::unique_ptr<const BoundWeights>> weights_;
};

}  // namespace rrwkv
