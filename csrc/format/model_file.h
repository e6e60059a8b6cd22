// The .rrwkv model file (docs/FORMAT.md): a fully validated, immutable view of its bytes (a
// mapping of the file, a copy in memory or a caller's buffer: byte_source.h). The reader checks
// that the bytes are a well-formed file; whether they are a model this build runs (its config
// and tensor layout) is checked above it, by the architecture (arch/base/model_check.h).
// Thread-safety: a ModelFile is never modified after open(), so any number of threads and
// sessions may read it at once.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <variant>
#include <vector>

#include "core/dtype.h"
#include "format/byte_source.h"

namespace rrwkv {

constexpr char kMagic[8] = {'R', 'R', 'W', 'K', 'V', '\0', '\r', '\n'};
constexpr uint32_t kFormatVersion = 1;
constexpr uint64_t kPreambleSize = 64;
constexpr uint64_t kAlignment = 64;

// What every message about a bad file ends with.
constexpr const char* kReexportHint = "re-export the model with `python -m rrwkv_rt export`";

// Header field type codes.
enum class FieldType : uint8_t { U64 = 1, I64 = 2, F64 = 3, Str = 4, Bytes = 5 };

struct ByteSpan {  // a view into the file's bytes
  const uint8_t* data = nullptr;
  uint64_t size = 0;
};

using FieldValue = std::variant<uint64_t, int64_t, double, std::string, ByteSpan>;

struct TensorInfo {
  std::string name;
  DType dtype = DType::F32;
  std::vector<uint64_t> shape;
  uint64_t offset = 0;  // absolute byte offset in the file, a multiple of kAlignment
  uint64_t nbytes = 0;
  uint32_t crc32 = 0;
  const void* data = nullptr;  // points into the file's bytes

  uint64_t numel() const;
};

// "(3, 4)", "(5,)": a shape for messages.
std::string shape_str(const std::vector<uint64_t>& shape);

struct OpenOptions {
  bool verify_checksums = true;  // CRC every tensor before use (about 1 GB/s)
  // Read the file into memory (on 2 MiB pages: MappedFile::Load::Copy) instead of mapping it: costs its size
  // in RAM, but a file that is truncated or overwritten on disk afterwards can neither crash the
  // process (SIGBUS) nor change the weights, and a CPU decode was faster than a mapping's on the
  // machine measured (MappedFile::Load). Used by open(path) only.
  bool read_into_memory = false;
};

class ModelFile {
 public:
  // Validates magic, version, sizes, header checksum, every tensor's bounds, alignment and size
  // and the tensor checksums. Throws FileNotFound or FormatError.
  static std::shared_ptr<const ModelFile> open(const std::string& path, const OpenOptions& opts = {});
  // The same checks on bytes from anywhere; `source` names them in messages ("<memory>").
  static std::shared_ptr<const ModelFile> from_source(std::unique_ptr<ByteSource> source,
                                                      const OpenOptions& opts = {});
  // A caller's buffer, not copied: it must outlive the ModelFile and everything built on it.
  static std::shared_ptr<const ModelFile> from_buffer(const void* data, size_t size, const std::string& name,
                                                      const OpenOptions& opts = {});

  const std::string& path() const { return bytes_->name(); }  // or the source's description
  uint64_t file_size() const { return bytes_->size(); }
  uint32_t version() const { return version_; }
  uint32_t header_crc32() const { return header_crc_; }  // identifies the model's contents
  const std::map<std::string, FieldValue>& fields() const { return fields_; }
  const std::vector<TensorInfo>& tensors() const { return tensors_; }

  const TensorInfo* find(const std::string& name) const;
  const TensorInfo& tensor(const std::string& name) const;  // throws FormatError if absent
  std::string where() const;  // "model file 'PATH'": how messages name this file

 private:
  explicit ModelFile(std::unique_ptr<ByteSource> bytes) : bytes_(std::move(bytes)) {}
  void parse_preamble();
  void parse_header();
  void validate_tensor_bounds();
  void verify_tensor_checksums() const;

  std::unique_ptr<ByteSource> bytes_;
  uint32_t version_ = 0;
  uint32_t header_crc_ = 0;
  uint64_t header_size_ = 0;
  uint64_t data_offset_ = 0;
  std::map<std::string, FieldValue> fields_;
  std::vector<TensorInfo> tensors_;
  std::map<std::string, size_t> index_;
};

}  // namespace rrwkv
