// RRWKV_CLONES: compile a hot loop function twice, for x86-64-v3 (AVX2, FMA) and for baseline
// x86-64, the right one chosen at load time by the CPU's features (GCC function multiversioning).
// The library is built for baseline x86-64; this is how its vectorized loops use wide registers
// where the CPU has them. Off for other compilers and platforms, and with RRWKV_NO_TARGET_CLONES
// (ThreadSanitizer builds: the ifunc resolvers run before TSan is initialised).
#pragma once

#if defined(__GNUC__) && !defined(__clang__) && defined(__x86_64__) && defined(__linux__) && \
    !defined(RRWKV_NO_TARGET_CLONES)
#define RRWKV_CLONES __attribute__((target_clones("arch=x86-64-v3", "default")))
#else
#define RRWKV_CLONES
#endif
