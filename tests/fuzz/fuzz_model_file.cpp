// libFuzzer target: the .rrwkv reader (ModelFile::from_buffer), then everything a loader does
// with an accepted file: the runtime Model's weight pointers, the tokenizer it carries, every
// tensor's bytes. The custom mutator recomputes the checksums after each mutation, so most
// inputs reach the structural checks behind them.
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string>

#include "format/model_file.h"
#include "fuzz_common.h"
#include "engine/model.h"
#include "support/model_bytes.h"
#include "tokenizer/tokenizer.h"

extern "C" size_t LLVMFuzzerMutate(uint8_t* data, size_t size, size_t max_size);

namespace {

uint64_t read_u64(const uint8_t* p) {
  uint64_t v;
  std::memcpy(&v, p, 8);
  return v;
}

// Values that sit on the edges of the checks: sizes and offsets near the file's end, overflow.
uint64_t edge_value(uint64_t r, size_t size) {
  switch (r % 10) {
    case 0: return size;
    case 1: return size + 64;
    case 2: return size - size % 64;
    case 3: return ~uint64_t{0};
    case 4: return ~uint64_t{63};
    case 5: return uint64_t{1} << 32;
    case 6: return uint64_t{1} << 63;
    case 7: return 0;
    case 8: return (r >> 8) % (size + 1);
    default: return (r >> 8) & 0xffff;
  }
}

}  // namespace

extern "C" size_t LLVMFuzzerCustomMutator(uint8_t* data, size_t size, size_t max_size, unsigned int seed) {
  uint64_t r = seed * 0x9E3779B97F4A7C15ull;
  if (size >= 72 && r % 4 == 0) {
    // Overwrite one 8-byte-aligned word of the preamble or header with an edge value.
    uint64_t header_size = read_u64(data + 24);
    const uint64_t end = header_size <= size - 64 ? 64 + header_size : size;
    const size_t at = 16 + 8 * ((r >> 8) % ((end - 16) / 8));
    const uint64_t v = edge_value(r >> 20, size);
    if (at + 8 <= size) std::memcpy(data + at, &v, 8);
  } else {
    size = LLVMFuzzerMutate(data, size, max_size);
  }
  if ((r >> 4) % 8 != 0) rrwkv::testing::fix_checksums(data, size);  // 1 in 8 keeps raw damage
  return size;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  rrwkv::fuzz::expect_clean_errors([&] {
    auto file = rrwkv::ModelFile::from_buffer(data, size, "<fuzz>");
    uint32_t sum = 0;
    for (const rrwkv::TensorInfo& t : file->tensors()) {  // every byte a tensor claims must be readable
      const auto* p = static_cast<const uint8_t*>(t.data);
      for (uint64_t i = 0; i < t.nbytes; i += 61) sum += p[i];
      if (t.nbytes) sum += p[t.nbytes - 1];
    }
    for (const auto& [key, value] : file->fields()) sum += static_cast<uint32_t>(key.size() + value.index());
    if (sum == 0xdeadbeef) std::fprintf(stderr, " ");  // keeps the reads
    rrwkv::Model model(file);
    rrwkv::fuzz::expect_clean_errors([&] {
      auto tok = rrwkv::Tokenizer::from_model(*file, model.config().vocab_size);
      if (tok && tok->vocab_size() > static_cast<size_t>(model.vocab_size()))
        rrwkv::fuzz::finding("a tokenizer with ids the model has no logits for");
    });
  });
  return 0;
}
