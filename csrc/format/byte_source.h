// The bytes a ModelFile is read from: a memory-mapped file (mapped_file.h), a buffer it owns
// (a file read into memory, or bytes handed over) or a caller's buffer it borrows (fuzzers,
// embedders that hold the model in memory). The reader sees only data(), size() and name().
#pragma once

#include <cstdint>
#include <string>

namespace rrwkv {

class ByteSource {
 public:
  virtual ~ByteSource() = default;
  virtual const uint8_t* data() const = 0;
  virtual uint64_t size() const = 0;
  // The path, or a description such as "<memory>", for path() and error messages.
  virtual const std::string& name() const = 0;
};

// Bytes moved in; they live as long as the source.
class OwnedBytes final : public ByteSource {
 public:
  OwnedBytes(std::string bytes, std::string name) : bytes_(std::move(bytes)), name_(std::move(name)) {}
  const uint8_t* data() const override { return reinterpret_cast<const uint8_t*>(bytes_.data()); }
  uint64_t size() const override { return bytes_.size(); }
  const std::string& name() const override { return name_; }

 private:
  std::string bytes_;
  std::string name_;
};

// A view of the caller's bytes, which must outlive every user of the ModelFile built on it.
class BorrowedBytes final : public ByteSource {
 public:
  BorrowedBytes(const void* data, uint64_t size, std::string name)
      : data_(static_cast<const uint8_t*>(data)), size_(size), name_(std::move(name)) {}
  const uint8_t* data() const override { return data_; }
  uint64_t size() const override { return size_; }
  const std::string& name() const override { return name_; }

 private:
  const uint8_t* data_;
  uint64_t size_;
  std::string name_;
};

}  // namespace rrwkv
