// The states of an engine's rows, on its device: `rows` states of row_floats() floats each (the
// architecture's schema), row r at data() + r * row_floats(), which the ops read through
// RaggedRows. Everything that crosses to the host goes through get / set, so a state blob (the
// host floats, engine/state_blob.h) saved from a store on one device loads into one on any.
#pragma once

#include <cstdint>
#include <vector>

namespace rrwkv {

class StateStore {
 public:
  StateStore(int64_t rows, std::vector<float> initial) : rows_(rows), initial_(std::move(initial)) {}
  virtual ~StateStore() = default;
  StateStore(const StateStore&) = delete;
  StateStore& operator=(const StateStore&) = delete;

  int64_t rows() const { return rows_; }
  int64_t row_floats() const { return static_cast<int64_t>(initial_.size()); }
  virtual float* data() = 0;  // device memory

  void init(int64_t row) { set(row, initial_.data()); }  // the schema's initial state
  virtual void get(int64_t row, float* host) const = 0;  // row_floats() floats to the host
  virtual void set(int64_t row, const float* host) = 0;
  virtual void copy(int64_t from, int64_t to) = 0;       // between rows of this store

 private:
  int64_t rows_;
  std::vector<float> initial_;
};

// The states in host memory (the CPU's store).
class HostStateStore final : public StateStore {
 public:
  HostStateStore(int64_t rows, std::vector<float> initial);
  float* data() override { return states_.data(); }
  void get(int64_t row, float* host) const override;
  void set(int64_t row, const float* host) override;
  void copy(int64_t from, int64_t to) override;

 private:
  std::vector<float> states_;
};

}  // namespace rrwkv
