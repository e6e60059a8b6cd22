// RWKV-7 DeepEmbed's elementwise steps on device buffers, asynchronous on `stream`: the GPU twins
// of rwkv7::deep_embed_mix and rwkv7::deep_embed_scale (csrc/arch/rwkv7/deep_embed.h); the table
// rows come from gpu::embedding and the two projections from gpu::matvec / gemm, as on the CPU.
#pragma once

#include <cstdint>

namespace rrwkv::gpu {

// out[t] = proj[t] · E_t for n tokens, E_t = table_rows[t] viewed as R x R (row-major).
void deep_embed_mix(const float* proj, const float* table_rows, int64_t n, int64_t R, float* out, void* stream);

// k[t] ⊙= mod[t] + s0 for n rows of F.
void deep_embed_scale(float* k, const float* mod, const float* s0, int64_t n, int64_t F, void* stream);

}  // namespace rrwkv::gpu
