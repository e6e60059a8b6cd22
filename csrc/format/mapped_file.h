// A model file on disk: memory-mapped (zero-copy weights, shared by every session) or read into
// memory. A mapping sees later changes to the file: a file truncated while mapped makes the
// reads past its new end fault (SIGBUS) and one overwritten in place changes the weights, so
// replace model files by renaming a new file over them (the exporter does), never in place.
// A copy in memory (Load::Copy) is immune to both, at the cost of the file's size in RAM.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>

#include "format/byte_source.h"

namespace rrwkv {

class MappedFile final : public ByteSource {
 public:
  // Map: the file mapped read-only (MAP_SHARED, 2 MiB pages asked for). Copy: the file read into
  // private anonymous memory, 2 MiB-aligned with 2 MiB pages asked for before the first touch,
  // then made read-only: a mapped model decoded 1.15-1.26x slower than a copy on the machine
  // measured, and not because of the page cache's 4 KiB pages: with the file in 2 MiB folios the
  // mapping was slower still (docs/CPU_DECODE.md).
  enum class Load { Map, Copy };

  // Throws FileNotFound if the path does not exist, FormatError if it is not a regular file or
  // cannot be mapped or read, std::bad_alloc if a copy finds no memory.
  explicit MappedFile(const std::string& path, Load load = Load::Map);
  ~MappedFile() override;
  MappedFile(const MappedFile&) = delete;
  MappedFile& operator=(const MappedFile&) = delete;

  const uint8_t* data() const override { return data_; }
  uint64_t size() const override { return size_; }
  const std::string& name() const override { return path_; }

 private:
  void map(int fd, uint64_t size);
  void copy(int fd, uint64_t size);

  std::string path_;
  const uint8_t* data_ = nullptr;
  uint64_t size_ = 0;    // bytes readable (a copy's file may have shrunk meanwhile: the reader reports it)
  uint64_t mapped_ = 0;  // bytes to unmap
};

}  // namespace rrwkv
