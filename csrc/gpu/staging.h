// A call's small host arrays where the device reads them (what a GPU backend's stage() returns: a
// ragged batch's token offsets, store rows, positions, tokens, RRWKV's schedule). stage() copies
// the values into the next piece of one pinned host buffer and queues their copy to the same
// offset of one device buffer; begin() starts a call at offset 0. So a call that stages the same
// sizes in the same order gets the same addresses, host and device: what a captured graph needs,
// since its recorded copies read the host buffer when they run (stage the next call's values with
// `queue` false and replay).
#pragma once

#include <cstddef>
#include <cstdint>

namespace rrwkv::gpu {

class StagingBuffer {
 public:
  // Room for `capacity` int64 values a call (each array is rounded up to 32 values).
  explicit StagingBuffer(int64_t capacity);
  ~StagingBuffer();
  StagingBuffer(const StagingBuffer&) = delete;
  StagingBuffer& operator=(const StagingBuffer&) = delete;

  // Starts a call on `stream`: waits for the previous call's stream, if it staged anything, before
  // the host values its copies read are overwritten; then every piece is free again.
  void begin(void* stream);

  // The n values at `host`, in device memory from the point the stream reaches the copy queued on
  // it here (queue false: only the host buffer is written, for a graph that copies it itself).
  // Valid until the next begin(). InvalidArgument past the capacity.
  const int64_t* stage(const int64_t* host, int64_t n, bool queue = true);

  int64_t capacity() const { return capacity_; }

 private:
  int64_t capacity_, used_ = 0;
  int64_t* host_ = nullptr;  // pinned
  int64_t* device_ = nullptr;
  void* stream_ = nullptr;
  bool pending_ = false;  // values staged since begin()
};

}  // namespace rrwkv::gpu
