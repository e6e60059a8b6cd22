#include "engine/state_blob.h"

#include <algorithm>
#include <cstring>

#include "core/crc32.h"
#include "core/errors.h"
#include "core/text.h"

namespace rrwkv {
namespace {

// Layout version 2 (little-endian), a 96-byte header then the floats:
//   0  magic "RRWKVST\n"        8  u32 version (2)        12 u32 header size (96)
//   16 u32 model header crc32  20 u32 flags (0)          24 char[16] arch, NUL padded
//   40 u64 n_layer             48 u64 n_embd             56 u64 state floats
//   64 i64 pos                 72 u64 medium_interval    80 u32 crc32 of the floats
//   84 u32 reserved (0)        88 u32 reserved (0)       92 u32 crc32 of bytes 0..92
//   96 f32 state, the architecture's schema ([layer][field][element])
// Version 1 (rrwkv_rt 0.1) had one fixed RWKV-4 layout and no header checksum.
constexpr char kStateMagic[8] = {'R', 'R', 'W', 'K', 'V', 'S', 'T', '\n'};
constexpr size_t kHeaderBytes = kStateHeaderBytes, kArchBytes = 16, kHeaderCrcAt = kStateHeaderCrcAt;

template <class T>
void put(std::string& s, size_t at, T v) {
  std::memcpy(&s[at], &v, sizeof v);
}

template <class T>
T get(const uint8_t* p, size_t at) {
  T v;
  std::memcpy(&v, p + at, sizeof v);
  return v;
}

struct Identity {
  std::string arch;
  uint64_t n_layer, n_embd, floats, s;
  uint32_t model_crc;

  bool same_shape(const Identity& o) const {
    return arch == o.arch && n_layer == o.n_layer && n_embd == o.n_embd && floats == o.floats && s == o.s;
  }
  std::string str() const {
    std::string d = arch + " n_layer=" + std::to_string(n_layer) + " n_embd=" + std::to_string(n_embd);
    if (arch == "rrwkv") d += " medium_interval=" + std::to_string(s);
    return d + " (" + std::to_string(floats) + " state floats, model header crc32 " + hex32(model_crc) + ")";
  }
};

Identity identity_of(const Model& m) {
  const ModelConfig& c = m.config();
  return {c.arch, c.n_layer, c.n_embd, static_cast<uint64_t>(m.state_schema().floats()), c.medium_interval,
          m.file().header_crc32()};
}

[[noreturn]] void corrupt(const std::string& what) {
  throw FormatError("session state " + what + "; it is not a complete state from get_state() / save_state(): "
                    "save it again or recompute it from its prompt");
}

}  // namespace

size_t state_blob_size(const Model& model) {
  return kHeaderBytes + static_cast<size_t>(model.state_schema().bytes());
}

std::string serialize_state(const Model& model, const float* state, int64_t pos) {
  const Identity id = identity_of(model);
  const size_t data_bytes = static_cast<size_t>(model.state_schema().bytes());
  std::string s(kHeaderBytes + data_bytes, '\0');
  std::memcpy(&s[0], kStateMagic, 8);
  put<uint32_t>(s, 8, kStateBlobVersion);
  put<uint32_t>(s, 12, static_cast<uint32_t>(kHeaderBytes));
  put<uint32_t>(s, 16, id.model_crc);
  std::memcpy(&s[24], id.arch.data(), std::min(id.arch.size(), kArchBytes - 1));
  put<uint64_t>(s, 40, id.n_layer);
  put<uint64_t>(s, 48, id.n_embd);
  put<uint64_t>(s, kStateFloatsAt, id.floats);
  put<int64_t>(s, 64, pos);
  put<uint64_t>(s, 72, id.s);
  std::memcpy(&s[kHeaderBytes], state, data_bytes);
  put<uint32_t>(s, 80, crc32(&s[kHeaderBytes], data_bytes));
  put<uint32_t>(s, kHeaderCrcAt, crc32(s.data(), kHeaderCrcAt));
  return s;
}

int64_t deserialize_state(const Model& model, const void* data, size_t size, float* state) {
  const auto* p = static_cast<const uint8_t*>(data);
  if (size >= 8 && std::memcmp(p, "RRWKVSF\n", 8) == 0)
    throw FormatError("this is a state file of rrwkv_rt 0.1 (an extra 64-byte header around a version-1 state), "
                      "which this release cannot read; recompute the state from its prompt and save it again");
  if (size < 12 || std::memcmp(p, kStateMagic, 8) != 0)
    throw FormatError("not a session state: expected a blob from get_state() or a file from save_state(), which "
                      "start with \"RRWKVST\\n\", got " + std::to_string(size) + " bytes that do not");
  const uint32_t version = get<uint32_t>(p, 8);
  if (version != kStateBlobVersion)
    throw FormatError("session state has version " + std::to_string(version) + ", but this rrwkv_rt reads version " +
                      std::to_string(kStateBlobVersion) +
                      (version < kStateBlobVersion ? " (version 1 was written by rrwkv_rt 0.1, whose states this "
                                                     "release cannot convert); recompute the state from its prompt"
                                                   : "; upgrade rrwkv_rt to read it"));
  if (size < kHeaderBytes) corrupt("is truncated: " + std::to_string(size) + " bytes, shorter than its header");
  if (get<uint32_t>(p, 12) != kHeaderBytes || get<uint32_t>(p, kHeaderCrcAt) != crc32(p, kHeaderCrcAt))
    corrupt("has a corrupt header (its checksum or size does not match)");
  // every byte is read: flags and reserved bytes must be zero, the arch name NUL padded
  bool clean = get<uint32_t>(p, 20) == 0 && get<uint32_t>(p, 84) == 0 && get<uint32_t>(p, 88) == 0;
  char arch[kArchBytes + 1] = {};
  std::memcpy(arch, p + 24, kArchBytes);
  for (size_t i = std::strlen(arch); i < kArchBytes; ++i) clean = clean && arch[i] == 0;
  if (!clean) corrupt("has non-zero reserved bytes (flags, padding) in its header");
  const Identity theirs{arch,
                        get<uint64_t>(p, 40),
                        get<uint64_t>(p, 48),
                        get<uint64_t>(p, kStateFloatsAt),
                        get<uint64_t>(p, 72),
                        get<uint32_t>(p, 16)};
  const Identity mine = identity_of(model);
  if (!theirs.same_shape(mine) || theirs.model_crc != mine.model_crc)
    throw StateMismatch("session state was saved from " +
                        std::string(theirs.same_shape(mine) ? "another model of the same shape (other weights)"
                                                            : "another model") +
                        ": " + theirs.str() + ", but this model is " + mine.str() +
                        "; restore it into a session of the model it was saved from, or recompute it from its prompt");
  const size_t data_bytes = static_cast<size_t>(model.state_schema().bytes());
  if (size != kHeaderBytes + data_bytes)
    corrupt("has " + std::to_string(size) + " bytes, expected " + std::to_string(kHeaderBytes + data_bytes) +
            " (truncated or padded)");
  const uint32_t stored = get<uint32_t>(p, 80), actual = crc32(p + kHeaderBytes, data_bytes);
  if (stored != actual) corrupt("fails its checksum (stored " + hex32(stored) + ", computed " + hex32(actual) + ")");
  const int64_t pos = get<int64_t>(p, 64);
  if (pos < 0 || pos >= kMaxPosition) corrupt("has an impossible position " + std::to_string(pos));
  std::memcpy(state, p + kHeaderBytes, data_bytes);
  return pos;
}

}  // namespace rrwkv
