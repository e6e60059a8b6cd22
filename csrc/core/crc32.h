// CRC-32 (IEEE 802.3, reflected, the one zlib.crc32 computes): checksums of .rrwkv files.
#pragma once

#include <cstddef>
#include <cstdint>

namespace rrwkv {

// Continues a running CRC: crc32(b, crc32(a)) == crc32(a + b); start with 0.
uint32_t crc32(const void* data, size_t size, uint32_t crc = 0);

}  // namespace rrwkv
