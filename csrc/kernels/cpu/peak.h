// Measured compute peaks of the dot-product instructions the kernels use, for the benchmarks'
// "% of peak" (a batched kernel's multiply-adds per second over this): f32 FMA on 512 and 256
// bits, vdpbf16ps (AVX512_BF16), vpdpbusd (AVX-512 VNNI, AVX-VNNI) and AMX's tdpbssd. Each thread runs
// independent accumulator chains of one instruction, so that only its issue rate limits it.
#pragma once

#include <string>
#include <vector>

namespace rrwkv::cpu {

// The instructions by name: "fma512", "fma256", "dpbf16ps512", "vpdpbusd512", "vpdpbusd256",
// "tdpbssd" (AMX-INT8: a 16 x 16 x 64 tile product, counted per call of the loop's 4).
std::vector<std::string> peak_instructions();

// Multiply-adds per second (an FMA lane does 1, a vdpbf16ps lane 2, a vpdpbusd lane 4) of
// `instruction` on `threads` threads over about `seconds`; 0 if this CPU lacks it. Throws
// InvalidArgument for an unknown name.
double measure_peak(const std::string& instruction, int threads, double seconds);

// The instruction the fast kernels in use run on for weights of family "bf16" or "int8"
// (kernels/cpu/fast_kernels.h), or "" if it is none of the above (scalar code, vpmaddubsw).
std::string fast_instruction(const std::string& family);

}  // namespace rrwkv::cpu
