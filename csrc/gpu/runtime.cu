#include "gpu/runtime.h"

#include "gpu/vendor.h"

namespace rrwkv::gpu {

DeviceBuffer::DeviceBuffer(size_t bytes) : data_(bytes ? malloc_bytes(bytes) : nullptr), bytes_(bytes) {}

DeviceBuffer::~DeviceBuffer() {
  if (data_) free_bytes(data_);
}

DeviceBuffer& DeviceBuffer::operator=(DeviceBuffer&& o) noexcept {
  if (this != &o) {
    if (data_) free_bytes(data_);
    data_ = std::exchange(o.data_, nullptr);
    bytes_ = std::exchange(o.bytes_, 0);
  }
  return *this;
}

void DeviceBuffer::upload(const void* src, size_t n, size_t offset) {
  if (offset + n > bytes_)
    throw InvalidArgument("DeviceBuffer::upload: " + std::to_string(n) + " bytes at offset " + std::to_string(offset) +
                          " do not fit a buffer of " + std::to_string(bytes_));
  if (n) copy(static_cast<char*>(data_) + offset, src, n);
}

void DeviceBuffer::download(void* dst, size_t n, size_t offset) const {
  if (offset + n > bytes_)
    throw InvalidArgument("DeviceBuffer::download: " + std::to_string(n) + " bytes at offset " + std::to_string(offset) +
                          " are past the end of a buffer of " + std::to_string(bytes_));
  if (n) copy(dst, static_cast<const char*>(data_) + offset, n);
}

OwnedStream::OwnedStream() : stream_(stream_create()) {}

OwnedStream::~OwnedStream() { stream_destroy(to_stream(stream_)); }

int select_device(int device) {
  const int previous = current_device();
  if (previous != device) set_device(device);
  return previous;
}

void restore_selected_device(int previous) noexcept {
  try {
    if (current_device() != previous) restore_device(previous);
  } catch (...) {  // a destructor's restore: nothing to do about a failure
  }
}

void synchronize(void* stream) { stream_synchronize(to_stream(stream)); }

void queue_copy(void* dst, const void* src, size_t n, void* stream) {
  if (n) copy_async(dst, src, n, to_stream(stream));
}

}  // namespace rrwkv::gpu
