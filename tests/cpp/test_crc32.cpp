#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "core/crc32.h"

namespace {

TEST(Crc32, StandardCheckValues) {
  // The catalogue check value of CRC-32/ISO-HDLC (zlib's CRC) over "123456789".
  const std::string s = "123456789";
  EXPECT_EQ(rrwkv::crc32(s.data(), s.size()), 0xCBF43926u);
  EXPECT_EQ(rrwkv::crc32(nullptr, 0), 0u);
  const std::string fox = "The quick brown fox jumps over the lazy dog";
  EXPECT_EQ(rrwkv::crc32(fox.data(), fox.size()), 0x414FA339u);
}

TEST(Crc32, ChunkedEqualsWholeAtEverySplit) {
  std::vector<unsigned char> data(1000);
  for (size_t i = 0; i < data.size(); ++i) data[i] = static_cast<unsigned char>(i * 131 + 7);
  const uint32_t whole = rrwkv::crc32(data.data(), data.size());
  for (size_t split = 0; split <= data.size(); split += 37) {
    uint32_t c = rrwkv::crc32(data.data(), split);
    c = rrwkv::crc32(data.data() + split, data.size() - split, c);
    EXPECT_EQ(c, whole) << "split at " << split;
  }
}

}  // namespace
