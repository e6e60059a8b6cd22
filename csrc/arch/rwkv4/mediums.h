// Where RRWKV's segments end in a ragged batch (docs/RRWKV.md §2, §5): for each row, from its own
// position, the local indices of the tokens after which a medium folds in. Built once per call
// on the host and staged where the device reads it; every layer and both blocks use it. Medium j of the call is row
// n_tokens + j of the key/value inputs.
#pragma once

#include <cstdint>
#include <vector>

#include "arch/architecture.h"
#include "kernels/wkv/wkv.h"

namespace rrwkv::rwkv4 {

class MediumSchedule {
 public:
  void reserve(int64_t max_rows, int64_t max_tokens) {
    med_start_.reserve(static_cast<size_t>(max_rows + 1));
    fold_at_.reserve(static_cast<size_t>(max_tokens));
  }

  // s == 0: no mediums (RWKV-4).
  void build(const RaggedBatch& b, int64_t s) {
    s_ = s;
    med_start_.assign(1, 0);
    fold_at_.clear();
    for (int64_t i = 0; i < b.n_rows(); ++i) {
      if (s > 0)
        for (int64_t t = wkv::first_segment_end(b.host_pos[i], s); t < b.len(i); t += s) fold_at_.push_back(t);
      med_start_.push_back(static_cast<int64_t>(fold_at_.size()));
    }
  }

  int64_t count() const { return med_start_.back(); }
  // The schedule where the device reads it (staged for this call); fold_at takes room for at
  // least `min_mediums` values, so that a captured step's later staged arrays keep their places
  // whatever this step's count.
  ops::MediumRows staged(Backend& backend, int64_t min_mediums = 0) {
    const size_t n = fold_at_.size();
    if (static_cast<int64_t>(n) < min_mediums) fold_at_.resize(static_cast<size_t>(min_mediums), 0);
    ops::MediumRows m{s_, backend.stage(med_start_.data(), static_cast<int64_t>(med_start_.size())),
                      backend.stage(fold_at_.data(), static_cast<int64_t>(fold_at_.size()))};
    fold_at_.resize(n);
    return m;
  }

 private:
  int64_t s_ = 0;
  std::vector<int64_t> med_start_{0};
  std::vector<int64_t> fold_at_;
};

}  // namespace rrwkv::rwkv4
