// The recurrent state of one sequence (docs/RRWKV.md §5) and its versioned blob.
//
// Every per-layer field of §5 is kept for both architectures so one layout serves all models;
// fields an architecture does not use stay at their initial value.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "runtime/model.h"

namespace rrwkv {

enum StateField : int {
  kAttX, kAA, kBB, kPP, kMA, kMB, kMP, kAttSeg, kFfnX, kFfnMed, kFfnSeg, kNumStateFields
};

const char* state_field_name(int field);
constexpr float kPPInit = -1e38f;  // "minus infinity" that keeps pp - w finite

class State {
 public:
  explicit State(const Model& model);

  float* field(int f, int64_t layer) { return data_.data() + (f * n_layer_ + layer) * n_embd_; }
  const float* field(int f, int64_t layer) const { return data_.data() + (f * n_layer_ + layer) * n_embd_; }
  int64_t pos = 0;  // tokens processed since the last reset

  void reset();

  // Blob: magic, version, the model's identity (header crc32, arch, shape), pos, the fields, and
  // a checksum of the fields. Layout in state.cpp.
  std::string serialize(const Model& model) const;
  // Throws InvalidArgument naming the mismatch (wrong size, another model or architecture,
  // corrupt data) and leaves *this unchanged on any error.
  void deserialize(const Model& model, const void* data, size_t size);

 private:
  int64_t n_layer_, n_embd_;
  std::vector<float> data_;  // [field][layer][channel]
};

}  // namespace rrwkv
