// The decode steps of an engine on a GPU as captured work (CUDA graphs), one per batch-size
// bucket: a step of n rows runs as a step of bucket(n) rows, the rows past n padding, and the
// whole step (every layer, the head) is recorded once per bucket and replayed on later steps, one
// launch instead of dozens. The engine stages each step's tokens, rows and positions (and the
// runner its plan, Runner::prepare) at the same addresses every step, so a replay reads the new
// step's values.
//
// Buckets: 1, 2, 4, 8, 16, then every multiple of 16, and the capacity. A projection reads each
// weight once per 16 rows (gpu/matvec.h: kMaxMatvecVectors), so rows padded up to the next
// multiple of 16 cost little compute and no memory traffic, and below 16 the powers of two keep
// the per-row kernels' waste under half; at most 5 + capacity / 16 graphs, made only for the
// buckets an engine meets.
//
// A bucket's first step runs uncaptured (it sizes the call scratch and lets libraries set
// themselves up, as nothing may allocate or synchronize inside a capture); its second is captured
// and then replayed, as is every later one. Graphs hold addresses: when the backend's scratch
// moves (Backend::address_generation) every graph is dropped and made again on next use.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <utility>

#include "ops/backend.h"

namespace rrwkv {

// What graphs did (for tests and diagnostics): steps replayed from a graph, graphs captured, and
// bucket steps run uncaptured (each bucket's first).
struct GraphStats {
  int64_t replays = 0, captures = 0, uncaptured = 0;
};

class DecodeGraphs {
 public:
  explicit DecodeGraphs(int64_t capacity) : capacity_(capacity) {}

  // The bucket of a step of n rows (1 <= n <= capacity).
  static int64_t bucket(int64_t n, int64_t capacity);
  int64_t bucket(int64_t n) const { return bucket(n, capacity_); }

  // Runs one step of `rows` (a bucket) rows, with or without logits, whose inputs are staged:
  // `work` queues its device work (uncaptured, or recorded by the backend's capture).
  void run(Backend& backend, int64_t rows, bool logits, const std::function<void()>& work);

  const GraphStats& stats() const { return stats_; }

 private:
  struct Entry {
    bool warmed = false;  // ran uncaptured once
    std::unique_ptr<CapturedWork> graph;
  };
  const int64_t capacity_;
  std::map<std::pair<int64_t, bool>, Entry> entries_;  // (bucket, logits)
  uint64_t generation_ = 0;  // the backend's address generation the graphs were made in
  GraphStats stats_;
};

}  // namespace rrwkv
