// gpu::Graph (graph.h) over the vendor header's capture calls.
#include <utility>

#include "gpu/graph.h"
#include "gpu/vendor.h"

namespace rrwkv::gpu {

Graph::~Graph() {
  if (exec_) graph_destroy(static_cast<GraphExec>(exec_));
}

Graph::Graph(Graph&& o) noexcept : exec_(std::exchange(o.exec_, nullptr)) {}

Graph& Graph::operator=(Graph&& o) noexcept {
  if (this != &o) {
    if (exec_) graph_destroy(static_cast<GraphExec>(exec_));
    exec_ = std::exchange(o.exec_, nullptr);
  }
  return *this;
}

Graph Graph::capture(void* stream, const std::function<void()>& record) {
  if (!stream)
    throw InvalidArgument("gpu graph capture: the default stream cannot be captured; queue the work on a stream of "
                          "its own (gpu::OwnedStream)");
  const Stream s = to_stream(stream);
  capture_begin(s);
  try {
    record();
  } catch (...) {
    capture_abandon(s);
    throw;
  }
  Graph g;
  g.exec_ = static_cast<void*>(capture_end(s));
  return g;
}

void Graph::replay(void* stream) const {
  if (!exec_) throw InvalidArgument("gpu graph replay: the graph is empty (default-constructed or moved from)");
  graph_launch(static_cast<GraphExec>(exec_), to_stream(stream));
}

}  // namespace rrwkv::gpu
