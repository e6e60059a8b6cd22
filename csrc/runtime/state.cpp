#include "runtime/state.h"

#include <cstring>

#include "core/crc32.h"
#include "core/errors.h"

namespace rrwkv {
namespace {

// Blob layout v1 (little-endian):
//   0  magic "RRWKVST\n"           8  u32 version          12 u32 model header crc32
//   16 u8 arch  17 u8 cm_mode     18 u16 field count      20 u32 reserved (0)
//   24 u64 n_layer                 32 u64 n_embd           40 u64 medium_interval
//   48 i64 pos                     56 u32 crc32 of the data 60 u32 reserved (0)
//   64 f32 data [field][layer][channel]
constexpr char kStateMagic[8] = {'R', 'R', 'W', 'K', 'V', 'S', 'T', '\n'};
constexpr uint32_t kStateVersion = 1;
constexpr size_t kHeaderBytes = 64;

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

std::string hex32(uint32_t v) {
  char buf[16];
  std::snprintf(buf, sizeof buf, "0x%08x", v);
  return buf;
}

std::string describe(const char* arch, uint64_t n_layer, uint64_t n_embd, uint64_t s) {
  std::string d = std::string(arch) + " with n_layer=" + std::to_string(n_layer) + ", n_embd=" + std::to_string(n_embd);
  if (std::string(arch) == "rrwkv") d += ", medium_interval=" + std::to_string(s);
  return d;
}

}  // namespace

const char* state_field_name(int field) {
  static const char* names[kNumStateFields] = {"att_x", "aa", "bb", "pp", "ma", "mb",
                                               "mp", "att_seg", "ffn_x", "ffn_med", "ffn_seg"};
  return field >= 0 && field < kNumStateFields ? names[field] : "?";
}

State::State(const Model& model)
    : n_layer_(model.n_layer()), n_embd_(model.n_embd()),
      data_(static_cast<size_t>(kNumStateFields * n_layer_ * n_embd_)) {
  reset();
}

void State::reset() {
  for (int f = 0; f < kNumStateFields; ++f) {
    const float init = (f == kPP || f == kMP) ? kPPInit : 0.0f;
    std::fill(data_.begin() + f * n_layer_ * n_embd_, data_.begin() + (f + 1) * n_layer_ * n_embd_, init);
  }
  pos = 0;
}

std::string State::serialize(const Model& model) const {
  const ModelConfig& c = model.config();
  const size_t data_bytes = data_.size() * sizeof(float);
  std::string s(kHeaderBytes + data_bytes, '\0');
  std::memcpy(&s[0], kStateMagic, 8);
  put<uint32_t>(s, 8, kStateVersion);
  put<uint32_t>(s, 12, model.file().header_crc32());
  put<uint8_t>(s, 16, static_cast<uint8_t>(c.arch));
  put<uint8_t>(s, 17, static_cast<uint8_t>(c.cm_mode));
  put<uint16_t>(s, 18, kNumStateFields);
  put<uint64_t>(s, 24, c.n_layer);
  put<uint64_t>(s, 32, c.n_embd);
  put<uint64_t>(s, 40, c.medium_interval);
  put<int64_t>(s, 48, pos);
  put<uint32_t>(s, 56, crc32(data_.data(), data_bytes));
  std::memcpy(&s[kHeaderBytes], data_.data(), data_bytes);
  return s;
}

void State::deserialize(const Model& model, const void* data, size_t size) {
  const ModelConfig& c = model.config();
  const auto* p = static_cast<const uint8_t*>(data);
  const size_t data_bytes = data_.size() * sizeof(float);
  const std::string mine = describe(arch_name(c.arch), c.n_layer, c.n_embd, c.medium_interval);
  if (size < kHeaderBytes || std::memcmp(p, kStateMagic, 8) != 0)
    throw InvalidArgument("not a session state: expected a blob from Session.get_state() starting with "
                          "\"RRWKVST\\n\", got " + std::to_string(size) + " bytes that do not");
  const uint32_t version = get<uint32_t>(p, 8);
  if (version != kStateVersion)
    throw InvalidArgument("session state has version " + std::to_string(version) + " but this rrwkv_rt reads version " +
                          std::to_string(kStateVersion) + "; save it again with this version");
  const uint8_t arch = get<uint8_t>(p, 16), cm_mode = get<uint8_t>(p, 17);
  const uint16_t n_fields = get<uint16_t>(p, 18);
  const uint64_t n_layer = get<uint64_t>(p, 24), n_embd = get<uint64_t>(p, 32), s = get<uint64_t>(p, 40);
  if (arch > 1 || cm_mode > 1 || n_fields != kNumStateFields)
    throw InvalidArgument("session state header is corrupt (arch code " + std::to_string(arch) + ", cm_mode code " +
                          std::to_string(cm_mode) + ", " + std::to_string(n_fields) + " fields)");
  const char* theirs = arch_name(static_cast<Arch>(arch));
  if (static_cast<Arch>(arch) != c.arch || n_layer != c.n_layer || n_embd != c.n_embd ||
      (c.arch == Arch::RRWKV && (s != c.medium_interval || static_cast<CmMode>(cm_mode) != c.cm_mode)))
    throw InvalidArgument("session state is from another model: it was saved from " +
                          describe(theirs, n_layer, n_embd, s) + ", but this session runs " + mine);
  const uint32_t model_crc = get<uint32_t>(p, 12);
  if (model_crc != model.file().header_crc32())
    throw InvalidArgument("session state is from another model of the same shape (model header crc32 " +
                          hex32(model_crc) + ", this model's is " + hex32(model.file().header_crc32()) +
                          "); restore it into a session of the model it was saved from");
  if (size != kHeaderBytes + data_bytes)
    throw InvalidArgument("session state has " + std::to_string(size) + " bytes, expected " +
                          std::to_string(kHeaderBytes + data_bytes) + " for " + mine + "; it is truncated or corrupt");
  const uint32_t stored = get<uint32_t>(p, 56), actual = crc32(p + kHeaderBytes, data_bytes);
  if (stored != actual)
    throw InvalidArgument("session state fails its checksum (stored " + hex32(stored) + ", computed " + hex32(actual) +
                          "); the blob is corrupt");
  const int64_t new_pos = get<int64_t>(p, 48);
  if (new_pos < 0) throw InvalidArgument("session state has a negative position " + std::to_string(new_pos));
  std::memcpy(data_.data(), p + kHeaderBytes, data_bytes);
  pos = new_pos;
}

}  // namespace rrwkv
