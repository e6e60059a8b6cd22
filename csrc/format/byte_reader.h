// A bounds-checked little-endian cursor over the header bytes: every read names the field it
// reads, so a truncated or corrupt header gives a message that points at the bad field.
#pragma once

#include <cstdint>
#include <cstring>
#include <string>

#include "core/errors.h"
#include "core/text.h"

namespace rrwkv {

class ByteReader {
 public:
  // `base` is the absolute file offset of `data[0]`, for messages; `context` (e.g. "model file
  // 'PATH'") starts every message.
  ByteReader(const uint8_t* data, uint64_t size, uint64_t base, std::string context = "")
      : data_(data), size_(size), base_(base), context_(context.empty() ? "" : std::move(context) + ": ") {}

  uint64_t offset() const { return base_ + pos_; }  // absolute file offset of the next byte
  uint64_t remaining() const { return size_ - pos_; }

  template <typename T>
  T read(const std::string& field) {
    need(sizeof(T), field);
    T v;
    std::memcpy(&v, data_ + pos_, sizeof(T));
    pos_ += sizeof(T);
    return v;
  }

  // Returns a pointer to `n` bytes and advances past them.
  const uint8_t* take(uint64_t n, const std::string& field) {
    need(n, field);
    const uint8_t* p = data_ + pos_;
    pos_ += n;
    return p;
  }

  // A u32 length and that many bytes, which must be UTF-8 (the format's `str`).
  std::string read_string(const std::string& field, uint32_t max_len = 1u << 20) {
    const uint64_t at = offset();
    const uint32_t n = read<uint32_t>(field + " length");
    if (n > max_len)
      throw FormatError(context_ + "header field " + field + " at byte " + std::to_string(at) + " claims a length of " +
                        std::to_string(n) + " bytes (at most " + std::to_string(max_len) +
                        " expected); the header is corrupt — re-export the model");
    const uint8_t* p = take(n, field);
    std::string s(reinterpret_cast<const char*>(p), n);
    const size_t bad = utf8_invalid_offset(s);
    if (bad != s.size())
      throw FormatError(context_ + "header field " + field + " at byte " + std::to_string(at) +
                        " is not valid UTF-8 (byte " + std::to_string(at + 4 + bad) + " of the file); expected UTF-8 "
                        "text, as every str of the format is: the header is corrupt — re-export the model");
    return s;
  }

 private:
  void need(uint64_t n, const std::string& field) const {
    if (n > size_ - pos_)
      throw FormatError(context_ + "header field " + field + " at byte " + std::to_string(offset()) + " needs " +
                        std::to_string(n) + " bytes but only " + std::to_string(size_ - pos_) +
                        " remain in the header; the file is truncated or corrupt — re-export the model");
  }

  const uint8_t* data_;
  uint64_t size_;
  uint64_t base_;
  std::string context_;
  uint64_t pos_ = 0;
};

}  // namespace rrwkv
