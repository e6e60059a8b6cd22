// A model file on disk: memory-mapped (zero-copy weights, shared by every session) or read into
// memory. A mapping sees later changes to the file: a file truncated while mapped makes the
// reads past its new end fault (SIGBUS) and one overwritten in place changes the weights, so
// replace model files by renaming a new file over them (the exporter does), never in place.
// A copy in memory (read_file_bytes) is immune to both, at the cost of the file's size in RAM.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>

#include "format/byte_source.h"

namespace rrwkv {

class MappedFile final : public ByteSource {
 public:
  // Throws FileNotFound if the path does not exist, FormatError if it is not a regular file.
  explicit MappedFile(const std::string& path);
  ~MappedFile() override;
  MappedFile(const MappedFile&) = delete;
  MappedFile& operator=(const MappedFile&) = delete;

  const uint8_t* data() const override { return data_; }
  uint64_t size() const override { return size_; }
  const std::string& name() const override { return path_; }

 private:
  std::string path_;
  const uint8_t* data_ = nullptr;
  uint64_t size_ = 0;
};

// The whole regular file `path` read into memory; the same errors as MappedFile.
std::unique_ptr<OwnedBytes> read_file_bytes(const std::string& path);

}  // namespace rrwkv
