// Token-shift mixes on device buffers, asynchronous on `stream`: the GPU twins of ops::lerp,
// ops::shift_mix and ops::token_shift. mu is a vector of `dim` floats; rows have stride ld.
#pragma once

#include <cstdint>

namespace rrwkv::gpu {

// y[i] = x[i] ⊙ mu + prev[i] ⊙ (1 - mu)
void lerp(float* y, const float* x, const float* prev, const float* mu, int64_t n, int64_t dim, int64_t ld,
          void* stream);

// y[i] = x[i] + (prev[i] - x[i]) ⊙ (mu + m[i])   (m null: mu alone; m rows have stride ldm)
void shift_mix(float* y, const float* x, const float* prev, const float* mu, const float* m, int64_t ldm, int64_t n,
               int64_t dim, int64_t ld, void* stream);

// Token shift over a ragged batch whose bookkeeping is in device memory: row i owns tokens
// [start[i], start[i+1]) of x (dense rows of dim floats) and the state row
// states + row_index[i] * state_stride, whose `field` holds the carried x (dim floats).
// prev[t] = x[t - 1] within a row, the carried value for its first token; then the carried value
// becomes the row's last x. prev must not alias x.
void token_shift(const int64_t* start, const int64_t* row_index, int64_t n_rows, float* states, int64_t state_stride,
                 int64_t field, const float* x, int64_t dim, float* prev, void* stream);

}  // namespace rrwkv::gpu
