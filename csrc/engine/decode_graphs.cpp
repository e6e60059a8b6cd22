#include "engine/decode_graphs.h"

#include <algorithm>

namespace rrwkv {

int64_t DecodeGraphs::bucket(int64_t n, int64_t capacity) {
  int64_t b = 1;
  while (b < n && b < 16) b *= 2;
  if (b < n) b = (n + 15) / 16 * 16;
  return std::min(b, capacity);
}

void DecodeGraphs::run(Backend& backend, int64_t rows, bool logits, const std::function<void()>& work) {
  if (backend.address_generation() != generation_) {  // the graphs hold addresses that moved
    for (auto& [key, entry] : entries_) entry.graph.reset();
    generation_ = backend.address_generation();
  }
  Entry& e = entries_[{rows, logits}];
  if (!e.warmed) {
    work();
    e.warmed = true;
    ++stats_.uncaptured;
    return;
  }
  if (!e.graph) {
    e.graph = backend.capture(work);
    if (!e.graph) {  // a backend without captures: run it as it is
      work();
      ++stats_.uncaptured;
      return;
    }
    ++stats_.captures;
  }
  backend.replay(*e.graph);
  ++stats_.replays;
}

}  // namespace rrwkv
