// Measured memory read bandwidth, for the decode benchmark's floor (bytes read per token divided
// by this). Reads a buffer much larger than the caches with the same kernels and thread count
// that decode uses.
#pragma once

#include <cstdint>

#include "kernels/cpu/matvec.h"

namespace rrwkv::cpu {

// Median bytes/second over `repeats` full reads of a `bytes`-sized buffer on `threads` threads.
double measure_read_bandwidth(int64_t bytes, int threads, int repeats);

}  // namespace rrwkv::cpu
