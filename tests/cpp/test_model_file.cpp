// Error paths of the reader that need no Python-written fixture; the Python suite covers the
// full files (tests/test_format.py: every truncation and every byte flip).
#include <gtest/gtest.h>

#include <cstdio>
#include <fstream>
#include <string>
#include <vector>

#include "core/errors.h"
#include "format/byte_reader.h"
#include "arch/architecture.h"
#include "format/model_file.h"

namespace {

std::string write_temp(const std::string& bytes) {
  std::string path = ::testing::TempDir() + "rrwkv_test_" + std::to_string(std::rand()) + ".rrwkv";
  std::ofstream(path, std::ios::binary).write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
  return path;
}

std::string message_of(const std::string& path) {
  try {
    rrwkv::ModelFile::open(path);
  } catch (const rrwkv::FormatError& e) {
    return e.what();
  }
  return "";
}

TEST(ModelFile, MissingPathIsFileNotFound) {
  EXPECT_THROW(rrwkv::ModelFile::open("/definitely/not/here.rrwkv"), rrwkv::FileNotFound);
}

TEST(ModelFile, EmptyAndForeignFilesAreFormatErrors) {
  EXPECT_NE(message_of(write_temp("")).find("not an .rrwkv model"), std::string::npos);
  EXPECT_NE(message_of(write_temp("PK\x03\x04 a zip file")).find("not an .rrwkv model"), std::string::npos);
}

TEST(ModelFile, PreambleTooShortSaysTruncated) {
  std::string bytes(rrwkv::kMagic, 8);
  bytes += std::string(20, '\0');
  EXPECT_NE(message_of(write_temp(bytes)).find("truncated"), std::string::npos);
}

TEST(ModelFile, NewerVersionIsRefusedWithAnUpgradeHint) {
  std::string bytes(rrwkv::kMagic, 8);
  bytes += std::string("\x07\0\0\0", 4);
  bytes += std::string(52, '\0');
  const std::string msg = message_of(write_temp(bytes));
  EXPECT_NE(msg.find("format version 7"), std::string::npos) << msg;
  EXPECT_NE(msg.find("upgrade rrwkv_rt"), std::string::npos) << msg;
}

TEST(ByteReader, ReadsPastTheEndNameTheField) {
  const uint8_t data[6] = {1, 0, 0, 0, 9, 9};
  rrwkv::ByteReader r(data, sizeof data, 100);
  EXPECT_EQ(r.read<uint32_t>("count"), 1u);
  EXPECT_EQ(r.offset(), 104u);
  try {
    r.read<uint32_t>("n_layer");
    FAIL() << "expected a FormatError";
  } catch (const rrwkv::FormatError& e) {
    const std::string msg = e.what();
    EXPECT_NE(msg.find("n_layer at byte 104 needs 4 bytes but only 2 remain"), std::string::npos) << msg;
  }
}

TEST(ByteReader, AbsurdStringLengthIsRefusedBeforeAllocating) {
  const uint8_t data[8] = {0xff, 0xff, 0xff, 0x7f, 'a', 'b', 'c', 'd'};
  rrwkv::ByteReader r(data, sizeof data, 64);
  EXPECT_THROW(r.read_string("key"), rrwkv::FormatError);
}

TEST(Layout, CountsPerArchitecture) {
  rrwkv::ModelConfig c;
  c.n_layer = 3, c.n_embd = 8, c.ffn_dim = 32, c.vocab_size = 10;
  const size_t per_block_rwkv4 = 4 + 5 + 4 + 2 + 3;  // ln1/ln2, att vectors, att matrices, ffn mix, ffn matrices
  const rrwkv::Architecture* rwkv4 = rrwkv::find_architecture("rwkv4");
  const rrwkv::Architecture* rrwkv = rrwkv::find_architecture("rrwkv");
  ASSERT_NE(rwkv4, nullptr);
  ASSERT_NE(rrwkv, nullptr);
  EXPECT_EQ(rwkv4->layout(c).size(), 1 + 2 + 3 * per_block_rwkv4 + 3);
  EXPECT_EQ(rrwkv->layout(c).size(), 1 + 2 + 3 * (per_block_rwkv4 + 2) + 3);
  c.cm_mode = "add";
  EXPECT_EQ(rrwkv->layout(c).size(), 1 + 2 + 3 * (per_block_rwkv4 + 4) + 3);
  for (const auto& t : rrwkv->layout(c))
    if (t.name == "blocks.2.ffn.value.weight") EXPECT_EQ(t.shape, (std::vector<uint64_t>{8, 32}));
}

TEST(Layout, UnknownArchIsNotFound) {
  EXPECT_EQ(rrwkv::find_architecture("rwkv99"), nullptr);
  EXPECT_NE(rrwkv::architecture_names().find("'rwkv4', 'rrwkv'"), std::string::npos);
}

}  // namespace
