// gpu::StagingBuffer (staging.h).
#include <algorithm>
#include <string>

#include "gpu/staging.h"
#include "gpu/vendor.h"

namespace rrwkv::gpu {
namespace {

constexpr int64_t kAlign = 32;  // values: pieces start 256 bytes apart at least

// One launch's values, passed by value: 3.8 KiB with the other arguments, under the 4 KiB that
// every CUDA version accepts as kernel arguments. Blocks of one thread, each writing kPerBlock
// values: HIP-CPU runs a one-thread block on its worker's own stack, where a fiber's ~7 KiB
// would not hold the argument.
constexpr int kChunk = 480, kPerBlock = 16;
struct Chunk {
  int64_t v[kChunk];
};

__global__ void upload_kernel(Chunk c, int n, int64_t* dst) {
  const int from = static_cast<int>(blockIdx.x) * kPerBlock, to = from + kPerBlock < n ? from + kPerBlock : n;
  for (int i = from; i < to; ++i) dst[i] = c.v[i];
}

}  // namespace

StagingBuffer::StagingBuffer(int64_t capacity) : capacity_(capacity) {
  if (capacity < 1)
    throw InvalidArgument("gpu StagingBuffer: the capacity must be at least 1 value, got " + std::to_string(capacity));
  device_ = static_cast<int64_t*>(malloc_bytes(static_cast<size_t>(capacity) * sizeof(int64_t)));
}

StagingBuffer::~StagingBuffer() {
  if (queued_) {
    try {
      stream_synchronize(to_stream(stream_));  // queued uploads write the buffer
    } catch (...) {
    }
  }
  free_bytes(device_);
}

void StagingBuffer::begin(void* stream) {
  stream_ = stream;
  used_ = 0;
}

const int64_t* StagingBuffer::stage(const int64_t* host, int64_t n) {
  const int64_t room = (n + kAlign - 1) / kAlign * kAlign;
  if (n < 0 || used_ + room > capacity_)
    throw InvalidArgument("gpu StagingBuffer: " + std::to_string(n) + " values do not fit (" +
                          std::to_string(capacity_ - used_) + " of " + std::to_string(capacity_) +
                          " left in this call); make it larger");
  int64_t* d = device_ + used_;
  used_ += room;
  for (int64_t at = 0; at < n; at += kChunk) {
    Chunk c;
    const int m = static_cast<int>(std::min<int64_t>(kChunk, n - at));
    std::copy_n(host + at, m, c.v);
    launch("gpu staging upload", upload_kernel, dim3(static_cast<unsigned>((m + kPerBlock - 1) / kPerBlock)), dim3(1), 0,
           to_stream(stream_), c, m, d + at);
    queued_ = true;
  }
  return d;
}

}  // namespace rrwkv::gpu
