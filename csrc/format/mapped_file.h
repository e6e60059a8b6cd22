// A model file on disk: memory-mapped (zero-copy weights, shared by every session) or read into
// memory. A mapping sees later changes to the file: a file truncated while mapped makes the
// reads past its new end fault (SIGBUS) and one overwritten in place changes the weights, so
// replace model files by renaming a new file over them (the exporter does), never in place.
// A copy in memory (FileCopy) is immune to both, at the cost of the file's size in RAM.
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

// The whole regular file `path` read into private anonymous memory on 2 MiB pages where the kernel
// gives them (decode reads every weight per token, and a mapping of the page cache gets 2 MiB
// pages only for the parts the cache holds in 2 MiB folios: often half a file or less, and 4 KiB
// pages made a decode 1.1-1.2x slower). The same errors as MappedFile.
class FileCopy final : public ByteSource {
 public:
  explicit FileCopy(const std::string& path);
  ~FileCopy() override;
  FileCopy(const FileCopy&) = delete;
  FileCopy& operator=(const FileCopy&) = delete;

  const uint8_t* data() const override { return data_; }
  uint64_t size() const override { return size_; }
  const std::string& name() const override { return path_; }

 private:
  std::string path_;
  uint8_t* data_ = nullptr;
  uint64_t size_ = 0;     // bytes read (the file may have shrunk meanwhile: the reader reports it)
  uint64_t mapped_ = 0;   // bytes mapped
};

}  // namespace rrwkv
