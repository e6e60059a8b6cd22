// Test and fuzzing support: build a small valid .rrwkv file in memory (the same layout the
// Python writer produces), and recompute the checksums of a damaged one so that it gets past
// them to the structural checks. Header-only; for tests and fuzzers, not the library.
#pragma once

#include <cstdint>
#include <cstring>
#include <string>
#include <utility>
#include <vector>

#include "arch/architecture.h"
#include "arch/base/model_check.h"
#include "core/crc32.h"
#include "format/model_file.h"

namespace rrwkv::testing {

inline void put_u8(std::string& s, uint8_t v) { s.push_back(static_cast<char>(v)); }
template <class T>
void put(std::string& s, T v) {
  char b[sizeof(T)];
  std::memcpy(b, &v, sizeof(T));
  s.append(b, sizeof(T));
}
inline void put_str(std::string& s, const std::string& v) {
  put<uint32_t>(s, static_cast<uint32_t>(v.size()));
  s += v;
}

struct ExtraField {
  std::string key;
  uint8_t type;       // FieldType code
  std::string value;  // str/bytes payload, or the 8 raw bytes of a number
};

// A complete file for `cfg`: every runtime-layout tensor (matrices in `matrix_dtype`), values
// small and deterministic, plus `extra` header fields (e.g. a tokenizer).
inline std::string build_model(const ModelConfig& cfg, DType matrix_dtype = DType::F32,
                               const std::vector<ExtraField>& extra = {}) {
  std::string fields;
  uint32_t n_fields = 0;
  auto str_field = [&](const std::string& k, const std::string& v) {
    put_str(fields, k), put_u8(fields, 4), put_str(fields, v), ++n_fields;
  };
  auto u64_field = [&](const std::string& k, uint64_t v) {
    put_str(fields, k), put_u8(fields, 1), put<uint64_t>(fields, v), ++n_fields;
  };
  const Architecture* arch = find_architecture(cfg.arch);
  str_field("arch", cfg.arch);
  for (const ConfigField& f : arch ? config_fields_of(*arch) : common_config_fields()) {
    if (f.optional && f.kind == ConfigField::Kind::U64 && cfg.*f.u64 == 0) continue;  // as the writer does
    if (f.kind == ConfigField::Kind::U64) u64_field(f.key, cfg.*f.u64);
    else if (f.kind == ConfigField::Kind::Str) str_field(f.key, cfg.*f.str);
    else put_str(fields, f.key), put_u8(fields, 3), put<double>(fields, cfg.*f.f64), ++n_fields;
  }
  for (const ExtraField& f : extra) {
    put_str(fields, f.key), put_u8(fields, f.type), ++n_fields;
    if (f.type == 4) put_str(fields, f.value);
    else if (f.type == 5) put<uint64_t>(fields, f.value.size()), fields += f.value;
    else fields += f.value;
  }

  struct T {
    TensorSpec spec;
    DType dtype;
    std::string data;
  };
  std::vector<T> tensors;
  uint32_t seed = 1;
  for (const TensorSpec& spec : arch ? arch->layout(cfg) : std::vector<TensorSpec>{}) {
    T t{spec, spec.is_matrix ? matrix_dtype : DType::F32, {}};
    uint64_t n = 1;
    for (uint64_t d : spec.shape) n *= d;
    for (uint64_t i = 0; i < n; ++i) {
      seed = seed * 1664525u + 1013904223u;
      const float v = static_cast<float>(static_cast<int>(seed >> 24) - 128) / 256.0f;  // exact in bf16 and f16
      if (t.dtype == DType::F32) {
        put<float>(t.data, v);
      } else {
        uint32_t bits;
        std::memcpy(&bits, &v, 4);
        uint16_t h;
        if (t.dtype == DType::BF16) {
          h = static_cast<uint16_t>(bits >> 16);
        } else {  // f16 of a value k/256, |k| <= 128: exact
          const uint32_t sign = (bits >> 16) & 0x8000, exp = (bits >> 23) & 0xFF, man = bits & 0x7FFFFF;
          h = exp == 0 ? static_cast<uint16_t>(sign)
                       : static_cast<uint16_t>(sign | ((exp - 127 + 15) << 10) | (man >> 13));
        }
        put<uint16_t>(t.data, h);
      }
    }
    tensors.push_back(std::move(t));
  }

  auto entry_size = [](const T& t) { return 4 + t.spec.name.size() + 2 + 8 * t.spec.shape.size() + 8 + 8 + 4; };
  uint64_t header_size = 4 + fields.size() + 4;
  for (const T& t : tensors) header_size += entry_size(t);
  const uint64_t data_offset = (kPreambleSize + header_size + kAlignment - 1) / kAlignment * kAlignment;
  std::vector<uint64_t> offsets;
  uint64_t cursor = data_offset;
  for (const T& t : tensors) {
    offsets.push_back(cursor);
    cursor = (cursor + t.data.size() + kAlignment - 1) / kAlignment * kAlignment;
  }
  const uint64_t file_size = tensors.empty() ? data_offset : offsets.back() + tensors.back().data.size();

  std::string header;
  put<uint32_t>(header, n_fields);
  header += fields;
  put<uint32_t>(header, static_cast<uint32_t>(tensors.size()));
  for (size_t i = 0; i < tensors.size(); ++i) {
    const T& t = tensors[i];
    put_str(header, t.spec.name);
    put_u8(header, static_cast<uint8_t>(t.dtype));
    put_u8(header, static_cast<uint8_t>(t.spec.shape.size()));
    for (uint64_t d : t.spec.shape) put<uint64_t>(header, d);
    put<uint64_t>(header, offsets[i]);
    put<uint64_t>(header, t.data.size());
    put<uint32_t>(header, crc32(t.data.data(), t.data.size()));
  }

  std::string out(kMagic, 8);
  put<uint32_t>(out, kFormatVersion);
  put<uint32_t>(out, 0);  // header crc, below
  put<uint64_t>(out, file_size);
  put<uint64_t>(out, header_size);
  put<uint64_t>(out, data_offset);
  out.append(24, '\0');
  out += header;
  for (size_t i = 0; i < tensors.size(); ++i) {
    out.resize(offsets[i], '\0');
    out += tensors[i].data;
  }
  const uint32_t hc = crc32(out.data() + 16, kPreambleSize + header_size - 16);
  std::memcpy(&out[12], &hc, 4);
  return out;
}

// Rewrites the tensor checksums and then the header checksum of a (possibly damaged) file in
// place, wherever the structure can still be followed; the rest is left as it is. Lenient on
// purpose: it must never read out of bounds whatever the bytes.
inline void fix_checksums(uint8_t* d, size_t size) {
  if (size < kPreambleSize) return;
  uint64_t header_size;
  std::memcpy(&header_size, d + 24, 8);
  if (header_size > size - kPreambleSize) return;
  const uint64_t header_end = kPreambleSize + header_size;
  uint64_t pos = kPreambleSize;
  auto have = [&](uint64_t n) { return n <= header_end - pos; };
  auto u32 = [&](uint32_t* v) { return have(4) && (std::memcpy(v, d + pos, 4), pos += 4, true); };
  auto u64 = [&](uint64_t* v) { return have(8) && (std::memcpy(v, d + pos, 8), pos += 8, true); };
  auto skip = [&](uint64_t n) { return have(n) && (pos += n, true); };
  [&] {
    uint32_t n_fields, len;
    if (!u32(&n_fields)) return;
    for (uint32_t i = 0; i < n_fields; ++i) {
      if (!u32(&len) || !skip(len) || !have(1)) return;
      const uint8_t type = d[pos++];
      uint64_t n = 0;
      if (type == 1 || type == 2 || type == 3) n = 8;
      else if (type == 4) n = u32(&len) ? len : UINT64_MAX;
      else if (type == 5) n = u64(&n) ? n : UINT64_MAX;
      else return;
      if (!skip(n)) return;
    }
    uint32_t n_tensors;
    if (!u32(&n_tensors)) return;
    for (uint32_t i = 0; i < n_tensors; ++i) {
      if (!u32(&len) || !skip(len) || !have(2)) return;
      const uint8_t ndim = d[pos + 1];
      pos += 2;
      uint64_t off, nbytes;
      if (!skip(8 * uint64_t{ndim}) || !u64(&off) || !u64(&nbytes) || !have(4)) return;
      if (off <= size && nbytes <= size - off) {
        const uint32_t c = crc32(d + off, nbytes);
        std::memcpy(d + pos, &c, 4);
      }
      pos += 4;
    }
  }();
  const uint32_t hc = crc32(d + 16, header_end - 16);
  std::memcpy(d + 12, &hc, 4);
}

inline void fix_checksums(std::string& bytes) {
  fix_checksums(reinterpret_cast<uint8_t*>(bytes.data()), bytes.size());
}

}  // namespace rrwkv::testing
