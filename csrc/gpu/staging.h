// A call's small host arrays where the device reads them (what a GPU backend's stage() returns: a
// ragged batch's token offsets, store rows, positions, tokens, RRWKV's schedule). stage() puts the
// values in the next piece of one device buffer; begin() starts a call at offset 0. So a call that
// stages the same sizes in the same order gets the same addresses: what a captured graph needs,
// which reads the values staged before each replay.
//
// The values travel as the arguments of a small kernel queued on the call's stream (a launch
// copies its arguments when it is queued), not as a copy from host memory: the host's array is
// free again as soon as stage() returns, so a call never waits for the previous one to reuse a
// host buffer, and the engine synchronizes only where the host reads results. Every call uses one
// stream, so a call's values are written after the previous call's kernels have read theirs.
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

  // Starts a call on `stream` (the same stream every call): every piece is free again. Waits for
  // nothing.
  void begin(void* stream);

  // The n values at `host`, in device memory from the point the stream reaches the upload queued
  // on it here; `host` may change as soon as this returns. Valid until the next begin().
  // InvalidArgument past the capacity.
  const int64_t* stage(const int64_t* host, int64_t n);

  int64_t capacity() const { return capacity_; }

 private:
  int64_t capacity_, used_ = 0;
  int64_t* device_ = nullptr;
  void* stream_ = nullptr;
  bool queued_ = false;  // uploads queued since construction (the destructor waits for them)
};

}  // namespace rrwkv::gpu
