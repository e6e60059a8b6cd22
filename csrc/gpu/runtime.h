// The GPU runtime as plain C++ for host code that is not a .cu file (tests, and later the CUDA
// backend's engine parts): device buffers, streams and copies. Everything throws DeviceError on a
// runtime failure. Exists in GPU builds only (RRWKV_WITH_CUDA: nvcc or HIP-CPU).
#pragma once

#include <cstddef>
#include <cstdint>
#include <utility>
#include <vector>

namespace rrwkv::gpu {

// Device memory owned by the object (freed in the destructor); empty when default-constructed.
class DeviceBuffer {
 public:
  DeviceBuffer() = default;
  explicit DeviceBuffer(size_t bytes);
  ~DeviceBuffer();
  DeviceBuffer(DeviceBuffer&& o) noexcept : data_(std::exchange(o.data_, nullptr)), bytes_(std::exchange(o.bytes_, 0)) {}
  DeviceBuffer& operator=(DeviceBuffer&& o) noexcept;
  DeviceBuffer(const DeviceBuffer&) = delete;
  DeviceBuffer& operator=(const DeviceBuffer&) = delete;

  void* data() const { return data_; }
  template <class T>
  T* as() const {
    return static_cast<T*>(data_);
  }
  size_t bytes() const { return bytes_; }

  // Synchronous copies of `n` bytes from / to the host, starting `offset` bytes into the buffer.
  void upload(const void* src, size_t n, size_t offset = 0);
  void download(void* dst, size_t n, size_t offset = 0) const;

 private:
  void* data_ = nullptr;
  size_t bytes_ = 0;
};

// A stream owned by the object (non-blocking with respect to the default stream).
class OwnedStream {
 public:
  OwnedStream();
  ~OwnedStream();
  OwnedStream(const OwnedStream&) = delete;
  OwnedStream& operator=(const OwnedStream&) = delete;
  void* get() const { return stream_; }

 private:
  void* stream_ = nullptr;
};

// Makes `device` the calling thread's current device and returns the one that was current (for
// restore_selected_device; ops/backend.h's DeviceScope pairs them). Changes nothing when it is
// current already. DeviceError for a device the runtime does not have.
int select_device(int device);
void restore_selected_device(int previous) noexcept;

// Waits for everything queued on `stream` (nullptr: the default stream).
void synchronize(void* stream);

// Queues a copy of n bytes on `stream` (either side device memory or host memory that stays
// valid until the copy has run).
void queue_copy(void* dst, const void* src, size_t n, void* stream);

// Conveniences for tests: a vector copied to a new device buffer, and n elements copied back.
template <class T>
DeviceBuffer to_device(const std::vector<T>& v) {
  DeviceBuffer b(v.size() * sizeof(T));
  b.upload(v.data(), v.size() * sizeof(T));
  return b;
}
template <class T>
std::vector<T> to_host(const DeviceBuffer& b, size_t n) {
  std::vector<T> v(n);
  b.download(v.data(), n * sizeof(T));
  return v;
}

}  // namespace rrwkv::gpu
