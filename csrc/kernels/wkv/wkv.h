// WKV recurrence kernels of RWKV-4 and RRWKV (docs/RRWKV.md §5, §6 production form): forward and
// backward over (B, T, C) on raw buffers, on the CPU or on a CUDA device with the caller's stream
// (wkv_cuda.cu; in an emulated build the device is HIP-CPU's, docs/ARCHITECTURE.md).
// This front checks the problem and dispatches; the math is in wkv_step.h.
//
// Buffers are dense, C fastest. Element types: k, v, km, vm, y and their gradients are `dtype`
// (f32, f64, or bf16 on a device); everything else — w, u, wm, bm, their gradients, the state and the
// checkpoints — is in the math type (f64 for F64, f32 otherwise).
//
// Memory-lean backward: forward() can save the state (aa, bb, pp, ma, mb, mp) before every
// kCheckpointInterval-th token; backward() walks the blocks between checkpoints from last to first,
// recomputes the states of a block from its checkpoint and runs the reverse-mode step of
// wkv_step.h through it. Extra memory is 6 values per channel per kCheckpointInterval tokens, so T
// has no ceiling (CPU and CUDA alike).
//
// Thread safety: the functions hold no state; concurrent calls on distinct outputs are safe.
#pragma once

#include <cstdint>
#include <string>

#include "core/device.h"
#include "core/dtype.h"

namespace rrwkv::wkv {

using rrwkv::DType;  // F32, F64, or BF16 (CUDA only)

constexpr int64_t kCheckpointInterval = 64;
constexpr int kStateFields = 6;  // aa, bb, pp, ma, mb, mp: the order of reference.WkvState
// Where pp and mp start (reference.wkv.PP_INIT): a "minus infinity" that keeps pp - w finite.
constexpr double kMinusInfinity = -1e38;

// Chunk-local index of the first segment end of a chunk at absolute position pos, (s - 1 - pos) mod s.
inline int64_t first_segment_end(int64_t pos, int64_t s) { return (s - 1 - pos % s) % s; }

// Checkpoints forward() writes for T tokens: ceil(T / kCheckpointInterval).
int64_t checkpoint_count(int64_t T);
// Mediums folded in a chunk of T tokens at absolute position pos: segment ends in [pos, pos + T).
int64_t medium_count(int64_t pos, int64_t T, int64_t s);

struct Problem {
  int64_t B = 0, T = 0, C = 0;
  int64_t J = 0;            // mediums in the chunk; must equal medium_count(pos, T, s) (0 for RWKV-4)
  int64_t pos = 0;          // absolute position of token 0 (decides where segments end)
  int64_t s = 1;            // medium interval
  bool medium = false;      // RRWKV: merge the medium sums; false: RWKV-4
  DType dtype = DType::F32;
  // Where the buffers are and the kernels run, as for every op (core/device.h): the CPU (host
  // pointers) or a CUDA device owning the pointers, with the cudaStream_t to run on.
  Device device = Device::cpu();
  void* stream = nullptr;
  int n_threads = 0;        // CPU threads; 0: every CPU this process may use
};

struct Inputs {
  const void* w = nullptr;   // (C) decay rate exp(time_decay) > 0
  const void* u = nullptr;   // (C) time_first
  const void* wm = nullptr;  // (C) exp(time_decay_m); medium only
  const void* bm = nullptr;  // (C) time_first_m; medium only
  const void* k = nullptr;   // (B, T, C)
  const void* v = nullptr;   // (B, T, C)
  const void* km = nullptr;  // (B, J, C) keys of the mediums folded in this chunk, in order
  const void* vm = nullptr;  // (B, J, C)
  const void* state_in = nullptr;  // (6, B, C) state before the chunk; null: the initial state (may be state_out)
};

struct ForwardOutputs {
  void* y = nullptr;          // (B, T, C)
  void* state_out = nullptr;  // (6, B, C) state after the chunk, or null; may be state_in (in place)
  void* ckpt = nullptr;       // (checkpoint_count(T), 6, B, C) for backward(), or null (inference)
};

struct BackwardArgs {
  const void* ckpt = nullptr;  // written by forward() from the same problem and inputs
  const void* gy = nullptr;    // (B, T, C) dL/dy
  void* gk = nullptr;          // (B, T, C)
  void* gv = nullptr;          // (B, T, C)
  void* gw = nullptr;          // (C) summed over the batch (w itself, not time_decay)
  void* gu = nullptr;          // (C)
  void* gwm = nullptr;         // (C) medium only
  void* gbm = nullptr;         // (C) medium only
  void* gkm = nullptr;         // (B, J, C) medium only
  void* gvm = nullptr;         // (B, J, C) medium only
};

// y and the state after the chunk. Throws InvalidArgument on a bad problem, std::runtime_error on
// a CUDA failure or for a CUDA device when CUDA was not compiled in.
void forward(const Problem& p, const Inputs& in, const ForwardOutputs& out);

// Gradients of sum(gy * y) for every input but the state (training starts from it; pp/mp are not
// differentiable). Outputs are overwritten, not accumulated.
void backward(const Problem& p, const Inputs& in, const BackwardArgs& g);

// Inference entry on the host (the runtime's decode and prefill): the forward recurrence of
// forward() in f32, same per-step code, on channels [c0, c1) of one sequence. Rows are strided
// so the runtime's scratch buffers are used in place; the state is updated in place.
struct RowScan {
  const float *w, *u;        // (C) decay rate exp(time_decay), time_first
  const float *wm, *bm;      // (C) exp(time_decay_m), time_first_m; both null: RWKV-4
  const float *k, *v;        // T rows, stride ld
  const float *km, *vm;      // medium j at row j (stride ld), folded right after local token fold_at[j]
  const int64_t* fold_at;    // increasing; ignored for RWKV-4
  int64_t n_fold, ld, T;
  float* state[kStateFields];  // aa, bb, pp, ma, mb, mp: C floats each
  float* out;                // T rows, stride ldo
  int64_t ldo;
};
// Per channel the result depends only on that channel, not on [c0, c1): callers may split
// channels across threads freely. No checks (the runtime's shapes are validated at load).
void scan_rows_f32(const RowScan& r, int64_t c0, int64_t c1);

namespace detail {
void forward_cpu(const Problem& p, const Inputs& in, const ForwardOutputs& out);
void backward_cpu(const Problem& p, const Inputs& in, const BackwardArgs& g);
#ifdef RRWKV_WITH_CUDA
void forward_cuda(const Problem& p, const Inputs& in, const ForwardOutputs& out);
void backward_cuda(const Problem& p, const Inputs& in, const BackwardArgs& g);
#endif
}  // namespace detail

}  // namespace rrwkv::wkv
