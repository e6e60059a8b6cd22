// The WKV front: checks a problem once, then dispatches to the CPU or CUDA kernels.
#include "kernels/wkv/wkv.h"

#include <limits>
#include <stdexcept>

#include "core/errors.h"

namespace rrwkv::wkv {
namespace {

[[noreturn]] void bad(const std::string& msg) { throw InvalidArgument("wkv: " + msg); }

void need(const void* p, const char* name, const char* why) {
  if (!p) bad(std::string(name) + " is a null pointer but " + why + "; pass its buffer");
}

void check(const Problem& p, const Inputs& in) {
  if (p.B < 0 || p.T < 0 || p.C < 0)
    bad("B, T, C must be >= 0, got B=" + std::to_string(p.B) + ", T=" + std::to_string(p.T) +
        ", C=" + std::to_string(p.C));
  if (p.T > std::numeric_limits<int32_t>::max() - kCheckpointInterval)
    bad("T=" + std::to_string(p.T) + " is too long for one call; split the sequence into chunks and carry the state");
  if (p.s < 1 || p.s > std::numeric_limits<int32_t>::max())
    bad("the medium interval s must be in [1, 2^31), got " + std::to_string(p.s));
  if (p.pos < 0) bad("pos must be >= 0, got " + std::to_string(p.pos));
  const int64_t want_j = p.medium ? medium_count(p.pos, p.T, p.s) : 0;
  if (p.J != want_j)
    bad("expected J=" + std::to_string(want_j) + " mediums (segment ends in positions [" + std::to_string(p.pos) +
        ", " + std::to_string(p.pos + p.T) + ") with s=" + std::to_string(p.s) +
        (p.medium ? "" : "; RWKV-4 takes none") + "), got J=" + std::to_string(p.J));
  if (p.dtype != DType::F32 && p.dtype != DType::F64 && p.dtype != DType::BF16)
    bad(std::string("dtype ") + dtype_name(p.dtype) + " is not supported; expected float32, float64 or bfloat16");
  if (p.dtype == DType::BF16 && p.device.is_cpu())
    bad("bfloat16 buffers are supported on CUDA only; convert them to float32 on the CPU");
  if (!p.device.is_cpu()) {
#ifndef RRWKV_WITH_CUDA
    throw std::runtime_error("wkv: CUDA buffers were passed but this build of rrwkv_rt has no CUDA kernels; "
                             "rebuild with a CUDA compiler (RRWKV_CUDA=ON) or use CPU tensors");
#endif
  }
  if (p.B * p.C == 0) return;
  need(in.w, "w", "C > 0");
  need(in.u, "u", "C > 0");
  if (p.medium) {
    need(in.wm, "wm", "the medium recurrence (RRWKV) needs it");
    need(in.bm, "bm", "the medium recurrence (RRWKV) needs it");
  }
  if (p.T > 0) {
    need(in.k, "k", "T > 0");
    need(in.v, "v", "T > 0");
  }
  if (p.J > 0) {
    need(in.km, "km", "mediums end in this chunk");
    need(in.vm, "vm", "mediums end in this chunk");
  }
}

}  // namespace

int64_t checkpoint_count(int64_t T) { return T <= 0 ? 0 : (T + kCheckpointInterval - 1) / kCheckpointInterval; }

int64_t medium_count(int64_t pos, int64_t T, int64_t s) {
  if (T <= 0 || s < 1 || pos < 0) return 0;
  const int64_t first = first_segment_end(pos, s);
  return first < T ? (T - 1 - first) / s + 1 : 0;
}

void forward(const Problem& p, const Inputs& in, const ForwardOutputs& out) {
  check(p, in);
  if (p.B * p.C == 0) return;
  if (p.T > 0) need(out.y, "y", "T > 0");
  if (p.device.is_cpu()) return detail::forward_cpu(p, in, out);
#ifdef RRWKV_WITH_CUDA
  detail::forward_cuda(p, in, out);
#endif
}

void backward(const Problem& p, const Inputs& in, const BackwardArgs& g) {
  check(p, in);
  if (p.C == 0) return;
  need(g.gw, "gw", "C > 0");
  need(g.gu, "gu", "C > 0");
  if (p.medium) {
    need(g.gwm, "gwm", "the medium recurrence (RRWKV) has these parameters");
    need(g.gbm, "gbm", "the medium recurrence (RRWKV) has these parameters");
  }
  if (p.B > 0 && p.T > 0) {
    need(g.ckpt, "ckpt", "backward recomputes from the checkpoints forward() saved");
    need(g.gy, "gy", "T > 0");
    need(g.gk, "gk", "T > 0");
    need(g.gv, "gv", "T > 0");
  }
  if (p.B > 0 && p.J > 0) {
    need(g.gkm, "gkm", "mediums end in this chunk");
    need(g.gvm, "gvm", "mediums end in this chunk");
  }
  if (p.device.is_cpu()) return detail::backward_cpu(p, in, g);
#ifdef RRWKV_WITH_CUDA
  detail::backward_cuda(p, in, g);
#endif
}

}  // namespace rrwkv::wkv
