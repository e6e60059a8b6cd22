#include "format/model_file.h"

#include <algorithm>
#include <cstring>
#include <sstream>

#include "core/crc32.h"
#include "core/errors.h"
#include "core/text.h"
#include "format/byte_reader.h"
#include "format/mapped_file.h"

namespace rrwkv {
namespace {

const char* const kReexport = kReexportHint;

// a * b, or false on overflow
bool mul_ok(uint64_t a, uint64_t b, uint64_t* out) {
  if (a != 0 && b > UINT64_MAX / a) return false;
  *out = a * b;
  return true;
}

}  // namespace

std::string shape_str(const std::vector<uint64_t>& shape) {
  std::ostringstream s;
  s << "(";
  for (size_t i = 0; i < shape.size(); ++i) s << (i ? ", " : "") << shape[i];
  s << (shape.size() == 1 ? ",)" : ")");
  return s.str();
}

uint64_t TensorInfo::numel() const {
  uint64_t n = 1;
  for (uint64_t d : shape) n *= d;  // validated against overflow at open()
  return n;
}

std::string ModelFile::where() const { return "model file " + quoted(path(), 4096); }

std::shared_ptr<const ModelFile> ModelFile::open(const std::string& path, const OpenOptions& opts) {
  const auto load = opts.read_into_memory ? MappedFile::Load::Copy : MappedFile::Load::Map;
  return from_source(std::make_unique<MappedFile>(path, load), opts);
}

std::shared_ptr<const ModelFile> ModelFile::from_buffer(const void* data, size_t size, const std::string& name,
                                                        const OpenOptions& opts) {
  return from_source(std::make_unique<BorrowedBytes>(data, size, name), opts);
}

std::shared_ptr<const ModelFile> ModelFile::from_source(std::unique_ptr<ByteSource> source, const OpenOptions& opts) {
  if (!source || (source->size() > 0 && !source->data()))
    throw InvalidArgument("ModelFile::from_source: no bytes to read (a null source or data pointer)");
  std::shared_ptr<ModelFile> f(new ModelFile(std::move(source)));
  f->parse_preamble();
  f->parse_header();
  f->validate_tensor_bounds();
  if (opts.verify_checksums) f->verify_tensor_checksums();
  return f;
}

void ModelFile::parse_preamble() {
  const uint8_t* d = bytes_->data();
  const uint64_t size = bytes_->size();
  if (size < 8 || std::memcmp(d, kMagic, 8) != 0)
    throw FormatError(where() + " is not an .rrwkv model: its first 8 bytes are not the magic \"RRWKV\\0\\r\\n\"; " +
                      "convert a .pth or .safetensors checkpoint with `python -m rrwkv_rt export SRC DST`");
  if (size < kPreambleSize)
    throw FormatError(where() + " has " + std::to_string(size) + " bytes, fewer than the 64-byte preamble; the file is " +
                      "truncated — " + kReexport);
  ByteReader r(d + 8, kPreambleSize - 8, 8, where());
  version_ = r.read<uint32_t>("version");
  if (version_ == 0 || version_ > kFormatVersion)
    throw FormatError(where() + " has format version " + std::to_string(version_) + " but this rrwkv_rt reads versions 1.." +
                      std::to_string(kFormatVersion) + "; upgrade rrwkv_rt or re-export the model with this version");
  header_crc_ = r.read<uint32_t>("header_crc32");
  const uint64_t declared_size = r.read<uint64_t>("file_size");
  header_size_ = r.read<uint64_t>("header_size");
  data_offset_ = r.read<uint64_t>("data_offset");
  for (uint64_t b = 40; b < kPreambleSize; ++b)
    if (d[b] != 0)
      throw FormatError(where() + ": reserved preamble byte " + std::to_string(b) + " is " + std::to_string(d[b]) +
                        ", expected 0 (bytes 40..63 are reserved); the file is corrupt or from a newer rrwkv_rt — " +
                        "upgrade rrwkv_rt or " + kReexport);
  if (declared_size != size)
    throw FormatError(where() + " has " + std::to_string(size) + " bytes but its preamble (byte 16) says " +
                      std::to_string(declared_size) + "; the file is " + (size < declared_size ? "truncated" : "padded or corrupt") +
                      " — copy it again or " + kReexport);
  if (header_size_ > size - kPreambleSize)
    throw FormatError(where() + ": header_size (byte 24) is " + std::to_string(header_size_) + " but only " +
                      std::to_string(size - kPreambleSize) + " bytes follow the preamble; the file is corrupt — " + kReexport);
  const uint64_t header_end = kPreambleSize + header_size_;
  const uint64_t expected_data = (header_end + kAlignment - 1) / kAlignment * kAlignment;
  if (data_offset_ != expected_data || data_offset_ > size)
    throw FormatError(where() + ": data_offset (byte 32) is " + std::to_string(data_offset_) + ", expected " +
                      std::to_string(expected_data) + " (the header end rounded up to 64) within the " +
                      std::to_string(size) + "-byte file; the file is corrupt — " + kReexport);
  const uint32_t actual = crc32(d + 16, header_end - 16);
  if (actual != header_crc_)
    throw FormatError(where() + ": header checksum mismatch (stored " + hex32(header_crc_) + ", computed " + hex32(actual) +
                      " over bytes 16.." + std::to_string(header_end) + "); the header is corrupt — " + kReexport);
}

void ModelFile::parse_header() {
  ByteReader r(bytes_->data() + kPreambleSize, header_size_, kPreambleSize, where());
  const uint32_t n_fields = r.read<uint32_t>("field count");
  for (uint32_t i = 0; i < n_fields; ++i) {
    const std::string key = r.read_string("key of field " + std::to_string(i), 4096);
    const std::string q = quoted(key);
    const uint8_t type = r.read<uint8_t>("type of field " + q);
    FieldValue value;
    switch (static_cast<FieldType>(type)) {
      case FieldType::U64: value = r.read<uint64_t>(q); break;
      case FieldType::I64: value = r.read<int64_t>(q); break;
      case FieldType::F64: value = r.read<double>(q); break;
      case FieldType::Str: value = r.read_string(q); break;
      case FieldType::Bytes: {
        const uint64_t n = r.read<uint64_t>("length of " + q);
        value = ByteSpan{r.take(n, q), n};
        break;
      }
      default:
        throw FormatError(where() + ": header field " + q + " at byte " + std::to_string(r.offset() - 1) +
                          " has unknown type code " + std::to_string(type) + " (expected 1..5); " + kReexport);
    }
    if (!fields_.emplace(key, std::move(value)).second)
      throw FormatError(where() + ": header field " + q + " appears twice; " + kReexport);
  }
  const uint32_t n_tensors = r.read<uint32_t>("tensor count");
  for (uint32_t i = 0; i < n_tensors; ++i) {
    TensorInfo t;
    t.name = r.read_string("name of tensor " + std::to_string(i), 4096);
    const std::string what = "tensor " + quoted(t.name);
    const uint8_t dtype = r.read<uint8_t>("dtype of " + what);
    const DTypeTraits* dt = find_dtype(dtype);
    if (!dt || !dt->storable)
      throw FormatError(where() + ": " + what + " has dtype code " + std::to_string(dtype) + ", expected one of " +
                        storable_dtype_names() + "; " + kReexport);
    t.dtype = dt->type;
    const uint8_t ndim = r.read<uint8_t>("rank of " + what);
    if (ndim < 1 || ndim > 4)
      throw FormatError(where() + ": " + what + " has rank " + std::to_string(ndim) + ", expected 1..4; " + kReexport);
    for (uint8_t k = 0; k < ndim; ++k) t.shape.push_back(r.read<uint64_t>("shape of " + what));
    t.offset = r.read<uint64_t>("offset of " + what);
    t.nbytes = r.read<uint64_t>("size of " + what);
    t.crc32 = r.read<uint32_t>("checksum of " + what);
    if (!index_.emplace(t.name, tensors_.size()).second)
      throw FormatError(where() + ": " + what + " appears twice in the tensor table; " + kReexport);
    tensors_.push_back(std::move(t));
  }
  if (r.remaining() != 0)
    throw FormatError(where() + ": " + std::to_string(r.remaining()) + " unexpected bytes after the tensor table at byte " +
                      std::to_string(r.offset()) + "; " + kReexport);
}

void ModelFile::validate_tensor_bounds() {
  const uint64_t size = bytes_->size();
  for (TensorInfo& t : tensors_) {
    const std::string what = where() + ": tensor " + quoted(t.name);
    uint64_t n = 1;
    for (uint64_t d : t.shape)
      if (d == 0 || !mul_ok(n, d, &n))
        throw FormatError(what + " has an invalid shape " + shape_str(t.shape) +
                          " (every dimension >= 1, their product below 2^64 expected); " + kReexport);
    // a row is the last dimension: quantized types store it as whole blocks
    uint64_t row = 0, expected_bytes = 0;
    if (!row_bytes(t.dtype, t.shape.back(), &row) || !mul_ok(n / t.shape.back(), row, &expected_bytes))
      throw FormatError(what + " of shape " + shape_str(t.shape) + " and dtype " + dtype_name(t.dtype) +
                        " has no valid size (rows must be whole blocks of the dtype, below 2^64 bytes); " + kReexport);
    if (expected_bytes != t.nbytes)
      throw FormatError(what + " of shape " + shape_str(t.shape) + " and dtype " + dtype_name(t.dtype) + " should have " +
                        std::to_string(expected_bytes) + " bytes but the table says " + std::to_string(t.nbytes) + "; " +
                        kReexport);
    if (t.offset % kAlignment != 0 || t.offset < data_offset_)
      throw FormatError(what + " starts at byte " + std::to_string(t.offset) + ", expected a multiple of 64 at or after " +
                        "the data section (byte " + std::to_string(data_offset_) + "); " + kReexport);
    // Two comparisons, so that neither offset + nbytes nor size - offset can wrap around.
    if (t.offset > size || t.nbytes > size - t.offset)
      throw FormatError(what + " spans bytes " + std::to_string(t.offset) + " + " + std::to_string(t.nbytes) +
                        " but the file has " + std::to_string(size) + " bytes; the file is truncated or corrupt — " +
                        kReexport);
    t.data = bytes_->data() + t.offset;
  }
  // Tensors may not overlap, and every byte outside the header and the tensors must be zero
  // padding: with the checksums that leaves no byte of the file unchecked. Every range below
  // lies within [0, size]: the header's by parse_preamble, the tensors' by the loop above.
  std::vector<const TensorInfo*> by_offset;
  for (const TensorInfo& t : tensors_) by_offset.push_back(&t);
  std::sort(by_offset.begin(), by_offset.end(), [](auto* a, auto* b) { return a->offset < b->offset; });
  const uint8_t* d = bytes_->data();
  uint64_t cursor = kPreambleSize + header_size_;
  std::string previous = "the header";
  for (size_t i = 0; i <= by_offset.size(); ++i) {
    const uint64_t next = i < by_offset.size() ? by_offset[i]->offset : size;
    if (next < cursor)  // only a tensor can start before the end of what precedes it
      throw FormatError(where() + ": " + previous + " and tensor " + quoted(by_offset[i]->name) + " overlap (byte " +
                        std::to_string(next) + " < " + std::to_string(cursor) + "); " + kReexport);
    for (uint64_t b = cursor; b < next; ++b)
      if (d[b] != 0)
        throw FormatError(where() + ": padding byte " + std::to_string(b) + " is " + std::to_string(d[b]) +
                          ", expected 0; the file is corrupt — copy it again or " + kReexport);
    if (i < by_offset.size()) {
      cursor = by_offset[i]->offset + by_offset[i]->nbytes;
      previous = "tensor " + quoted(by_offset[i]->name);
    }
  }
}

void ModelFile::verify_tensor_checksums() const {
  for (const TensorInfo& t : tensors_) {
    const uint32_t actual = crc32(t.data, t.nbytes);
    if (actual != t.crc32)
      throw FormatError(where() + ": tensor " + quoted(t.name) + " (bytes " + std::to_string(t.offset) + ".." +
                        std::to_string(t.offset + t.nbytes) + ") fails its checksum (stored " + hex32(t.crc32) +
                        ", computed " + hex32(actual) + "); the data is corrupt — copy the file again or " + kReexport);
    // quantized rows carry their scales: every one must be a number (a writer bug otherwise)
    uint64_t bad = 0;
    if (traits(t.dtype).quantized &&
        !scales_finite(t.dtype, t.data, t.numel() / t.shape.back(), t.shape.back(), &bad))
      throw FormatError(where() + ": tensor " + quoted(t.name) + " (" + dtype_name(t.dtype) + ") has a scale that is " +
                        "not finite in row " + std::to_string(bad) + "; the file was written wrongly — " + kReexport);
  }
}

const TensorInfo* ModelFile::find(const std::string& name) const {
  auto it = index_.find(name);
  return it == index_.end() ? nullptr : &tensors_[it->second];
}

const TensorInfo& ModelFile::tensor(const std::string& name) const {
  const TensorInfo* t = find(name);
  if (!t) throw FormatError(where() + " has no tensor " + quoted(name) + "; " + kReexport);
  return *t;
}

}  // namespace rrwkv
