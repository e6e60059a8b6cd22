// Captured launches, replayed as one: the work a call queues on a stream (a decode step's dozens of
// small kernels) recorded once and launched again with one call. Under nvcc this is a CUDA graph
// (stream capture, then an instantiated graph); HIP-CPU has no graphs, so the emulated build
// records each launch, copy and fill of the capture (kernel, grid, arguments, pointers) and
// replays them in order on the stream it is given: the same kernels on the same pointers, which
// is what a CUDA graph launch runs (gpu/vendor.h, "stream capture").
//
// As with CUDA graphs: during the capture nothing runs; a replay reads the buffers' contents at
// the time it runs (change inputs in place between replays, never the pointers); the default
// stream cannot be captured; synchronizing the captured stream fails the capture; scratch that the
// captured work allocates and frees stream-ordered belongs to the graph (one address for every
// replay).
#pragma once

#include <functional>

namespace rrwkv::gpu {

class Graph {
 public:
  Graph() = default;  // empty: replay() throws
  ~Graph();
  Graph(Graph&& o) noexcept;
  Graph& operator=(Graph&& o) noexcept;
  Graph(const Graph&) = delete;
  Graph& operator=(const Graph&) = delete;

  // Runs `record` with `stream` in capture mode and returns what it queued there. If `record`
  // throws, the capture is ended, nothing is kept and the exception propagates. Throws
  // InvalidArgument for the default stream (nullptr), DeviceError when the runtime refuses.
  static Graph capture(void* stream, const std::function<void()>& record);

  // Queues the recorded work on `stream` (asynchronous, like the launches it stands for).
  void replay(void* stream) const;

  bool empty() const { return exec_ == nullptr; }

 private:
  void* exec_ = nullptr;  // the vendor's instantiated graph
};

}  // namespace rrwkv::gpu
