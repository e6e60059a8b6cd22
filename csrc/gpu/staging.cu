// gpu::StagingBuffer (staging.h).
#include <cstring>
#include <string>

#include "gpu/staging.h"
#include "gpu/vendor.h"

namespace rrwkv::gpu {
namespace {

constexpr int64_t kAlign = 32;  // values: pieces start 256 bytes apart at least

}  // namespace

StagingBuffer::StagingBuffer(int64_t capacity) : capacity_(capacity) {
  if (capacity < 1)
    throw InvalidArgument("gpu StagingBuffer: the capacity must be at least 1 value, got " + std::to_string(capacity));
  const size_t bytes = static_cast<size_t>(capacity) * sizeof(int64_t);
  host_ = static_cast<int64_t*>(malloc_host_pinned(bytes));
  try {
    device_ = static_cast<int64_t*>(malloc_bytes(bytes));
  } catch (...) {
    free_host_pinned(host_);
    throw;
  }
}

StagingBuffer::~StagingBuffer() {
  if (pending_) {
    try {
      stream_synchronize(to_stream(stream_));  // the queued copies read host_
    } catch (...) {
    }
  }
  free_bytes(device_);
  free_host_pinned(host_);
}

void StagingBuffer::begin(void* stream) {
  if (pending_) stream_synchronize(to_stream(stream_));
  pending_ = false;
  stream_ = stream;
  used_ = 0;
}

const int64_t* StagingBuffer::stage(const int64_t* host, int64_t n, bool queue) {
  const int64_t room = (n + kAlign - 1) / kAlign * kAlign;
  if (n < 0 || used_ + room > capacity_)
    throw InvalidArgument("gpu StagingBuffer: " + std::to_string(n) + " values do not fit (" +
                          std::to_string(capacity_ - used_) + " of " + std::to_string(capacity_) +
                          " left in this call); make it larger");
  int64_t* h = host_ + used_;
  int64_t* d = device_ + used_;
  used_ += room;
  if (n == 0) return d;
  std::memcpy(h, host, static_cast<size_t>(n) * sizeof(int64_t));
  if (queue) copy_async(d, h, static_cast<size_t>(n) * sizeof(int64_t), to_stream(stream_));
  pending_ = true;  // queued here or by a graph replayed on the stream: read when the stream gets there
  return d;
}

}  // namespace rrwkv::gpu
