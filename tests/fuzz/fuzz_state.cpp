// libFuzzer target: the session-state blob parser (engine/state_blob.h: deserialize_state)
// against a small model built in memory. The custom mutator recomputes the blob's two checksums
// (the floats', then the header's), so inputs get past them to the structural checks; an
// accepted blob must serialize back to exactly its own bytes (every byte is read and checked).
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <memory>
#include <string>
#include <vector>

#include "core/crc32.h"
#include "fuzz_common.h"
#include "engine/model.h"
#include "engine/state_blob.h"
#include "support/model_bytes.h"

extern "C" size_t LLVMFuzzerMutate(uint8_t* data, size_t size, size_t max_size);

namespace {

// blob v2: 96-byte header; the floats' checksum at byte 80, the header's (of bytes 0..92) at 92
constexpr size_t kBlobHeader = 96, kDataCrcAt = 80, kHeaderCrcAt = 92;

struct Fixture {
  std::string bytes;
  std::shared_ptr<const rrwkv::Model> model;
};

const Fixture& fixture() {
  static const Fixture f = [] {
    rrwkv::ModelConfig c;
    c.arch = "rrwkv", c.cm_mode = "add", c.medium_interval = 3;
    c.n_layer = 2, c.n_embd = 4, c.ffn_dim = 8, c.vocab_size = 16;
    Fixture x;
    x.bytes = rrwkv::testing::build_model(c);
    x.model = std::make_shared<rrwkv::Model>(rrwkv::ModelFile::from_buffer(x.bytes.data(), x.bytes.size(), "<fixture>"));
    return x;
  }();
  return f;
}

// RRWKV_FUZZ_WRITE_SEEDS=DIR: write seed blobs of the fixture model (initial state, and one
// with every field and pos set) into DIR and exit; tools/fuzz.sh does it for the seed corpus.
void write_seeds(const std::string& dir) {
  const rrwkv::Model& model = *fixture().model;
  std::vector<float> s(static_cast<size_t>(model.state_schema().floats()));
  model.state_schema().init(s.data());
  std::ofstream(dir + "/initial.state", std::ios::binary) << rrwkv::serialize_state(model, s.data(), 0);
  float v = 0.25f;
  for (float& x : s) x = (v = -v * 1.5f);
  std::ofstream(dir + "/stepped.state", std::ios::binary) << rrwkv::serialize_state(model, s.data(), 7);
}

}  // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  if (const char* dir = std::getenv("RRWKV_FUZZ_WRITE_SEEDS")) {
    write_seeds(dir);
    std::exit(0);
  }
  return 0;
}

extern "C" size_t LLVMFuzzerCustomMutator(uint8_t* data, size_t size, size_t max_size, unsigned int seed) {
  size = LLVMFuzzerMutate(data, size, max_size);
  if (seed % 8 != 0 && size >= kBlobHeader) {
    const uint32_t c = rrwkv::crc32(data + kBlobHeader, size - kBlobHeader);
    std::memcpy(data + kDataCrcAt, &c, 4);
    const uint32_t h = rrwkv::crc32(data, kHeaderCrcAt);
    std::memcpy(data + kHeaderCrcAt, &h, 4);
  }
  return size;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const rrwkv::Model& model = *fixture().model;
  rrwkv::fuzz::expect_clean_errors([&] {
    std::vector<float> state(static_cast<size_t>(model.state_schema().floats()));
    const int64_t pos = rrwkv::deserialize_state(model, data, size, state.data());
    const std::string again = rrwkv::serialize_state(model, state.data(), pos);
    if (again.size() != size || std::memcmp(again.data(), data, size) != 0)
      rrwkv::fuzz::finding("an accepted state does not serialize back to exactly its bytes");
  });
  return 0;
}
