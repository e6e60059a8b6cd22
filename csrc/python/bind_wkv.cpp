// Bindings of the WKV kernels on raw buffers: integer addresses (0 for none) plus sizes, a dtype
// name and, for CUDA, the device and the cudaStream_t as an integer. No torch here: the autograd
// wrappers in python/rrwkv_rt/autograd.py pass tensor.data_ptr() and keep the tensors alive and shaped.
#include <algorithm>
#include <chrono>
#include <cstdint>
#include <string>
#include <vector>

#include "kernels/wkv/wkv.h"
#include "python/bindings.h"
#ifdef RRWKV_WITH_CUDA
#include "gpu/runtime.h"
#endif

namespace py = pybind11;

namespace rrwkv::python {
namespace {

const void* cptr(uintptr_t a) { return reinterpret_cast<const void*>(a); }
void* mptr(uintptr_t a) { return reinterpret_cast<void*>(a); }

wkv::Problem make_problem(int64_t B, int64_t T, int64_t C, int64_t J, int64_t pos, int64_t s, bool medium,
                          const std::string& dtype, int device, uintptr_t stream, int n_threads) {
  wkv::Problem p;
  p.B = B, p.T = T, p.C = C, p.J = J, p.pos = pos, p.s = s, p.medium = medium;
  p.dtype = parse_dtype(dtype);
  if (device < -1) throw InvalidArgument("wkv: device must be -1 (CPU) or a CUDA device index, got " +
                                         std::to_string(device));
  p.device = device < 0 ? Device::cpu() : Device::cuda(device);
  p.stream = mptr(stream);
  p.n_threads = n_threads;
  return p;
}

wkv::Inputs make_inputs(uintptr_t w, uintptr_t u, uintptr_t wm, uintptr_t bm, uintptr_t k, uintptr_t v,
                        uintptr_t km, uintptr_t vm, uintptr_t state_in) {
  wkv::Inputs in;
  in.w = cptr(w), in.u = cptr(u), in.wm = cptr(wm), in.bm = cptr(bm);
  in.k = cptr(k), in.v = cptr(v), in.km = cptr(km), in.vm = cptr(vm), in.state_in = cptr(state_in);
  return in;
}

}  // namespace

void bind_wkv(py::module_& m) {
  m.attr("WKV_CHECKPOINT_INTERVAL") = wkv::kCheckpointInterval;
  m.def("wkv_checkpoint_count", &wkv::checkpoint_count, py::arg("T"),
        "Checkpoints wkv_forward writes for T tokens (each (6, B, C) in the math type).");
  m.def("wkv_medium_count", &wkv::medium_count, py::arg("pos"), py::arg("T"), py::arg("s"),
        "Mediums folded in a chunk of T tokens at position pos with interval s.");

  m.def("wkv_forward",
        [](int64_t B, int64_t T, int64_t C, int64_t J, int64_t pos, int64_t s, bool medium, const std::string& dtype,
           int device, uintptr_t stream, int n_threads, uintptr_t w, uintptr_t u, uintptr_t wm, uintptr_t bm,
           uintptr_t k, uintptr_t v, uintptr_t km, uintptr_t vm, uintptr_t state_in, uintptr_t y,
           uintptr_t state_out, uintptr_t ckpt) {
          const wkv::Problem p = make_problem(B, T, C, J, pos, s, medium, dtype, device, stream, n_threads);
          const wkv::Inputs in = make_inputs(w, u, wm, bm, k, v, km, vm, state_in);
          wkv::ForwardOutputs out;
          out.y = mptr(y), out.state_out = mptr(state_out), out.ckpt = mptr(ckpt);
          py::gil_scoped_release release;
          wkv::forward(p, in, out);
        },
        py::kw_only(), py::arg("B"), py::arg("T"), py::arg("C"), py::arg("J"), py::arg("pos"), py::arg("s"),
        py::arg("medium"), py::arg("dtype"), py::arg("device") = -1, py::arg("stream") = 0, py::arg("n_threads") = 0,
        py::arg("w"), py::arg("u"), py::arg("wm") = 0, py::arg("bm") = 0, py::arg("k"), py::arg("v"),
        py::arg("km") = 0, py::arg("vm") = 0, py::arg("state_in") = 0, py::arg("y"), py::arg("state_out") = 0,
        py::arg("ckpt") = 0,
        "Low-level WKV forward on raw buffers (see csrc/kernels/wkv/wkv.h); use rrwkv_rt.kernels instead.");

  m.def("wkv_backward",
        [](int64_t B, int64_t T, int64_t C, int64_t J, int64_t pos, int64_t s, bool medium, const std::string& dtype,
           int device, uintptr_t stream, int n_threads, uintptr_t w, uintptr_t u, uintptr_t wm, uintptr_t bm,
           uintptr_t k, uintptr_t v, uintptr_t km, uintptr_t vm, uintptr_t ckpt, uintptr_t gy, uintptr_t gk,
           uintptr_t gv, uintptr_t gw, uintptr_t gu, uintptr_t gwm, uintptr_t gbm, uintptr_t gkm, uintptr_t gvm) {
          const wkv::Problem p = make_problem(B, T, C, J, pos, s, medium, dtype, device, stream, n_threads);
          const wkv::Inputs in = make_inputs(w, u, wm, bm, k, v, km, vm, 0);
          wkv::BackwardArgs g;
          g.ckpt = cptr(ckpt), g.gy = cptr(gy), g.gk = mptr(gk), g.gv = mptr(gv), g.gw = mptr(gw), g.gu = mptr(gu);
          g.gwm = mptr(gwm), g.gbm = mptr(gbm), g.gkm = mptr(gkm), g.gvm = mptr(gvm);
          py::gil_scoped_release release;
          wkv::backward(p, in, g);
        },
        py::kw_only(), py::arg("B"), py::arg("T"), py::arg("C"), py::arg("J"), py::arg("pos"), py::arg("s"),
        py::arg("medium"), py::arg("dtype"), py::arg("device") = -1, py::arg("stream") = 0, py::arg("n_threads") = 0,
        py::arg("w"), py::arg("u"), py::arg("wm") = 0, py::arg("bm") = 0, py::arg("k"), py::arg("v"),
        py::arg("km") = 0, py::arg("vm") = 0, py::arg("ckpt"), py::arg("gy"), py::arg("gk"), py::arg("gv"),
        py::arg("gw"), py::arg("gu"), py::arg("gwm") = 0, py::arg("gbm") = 0, py::arg("gkm") = 0, py::arg("gvm") = 0,
        "Low-level WKV backward on raw buffers (see csrc/kernels/wkv/wkv.h); use rrwkv_rt.kernels instead.");

  m.def("cuda_synchronize",
        [](uintptr_t stream) {
#ifdef RRWKV_WITH_CUDA
          py::gil_scoped_release release;
          gpu::synchronize(mptr(stream));
#else
          (void)stream;
          throw std::runtime_error("cuda_synchronize: this build of rrwkv_rt has no CUDA kernels");
#endif
        },
        py::arg("stream") = 0,
        "Waits for the kernels queued on a cudaStream_t (0: the default stream) of the current device; "
        "needed where the caller reads device memory directly (the emulated device's is host memory).");

  m.def("device_copy_bandwidth",
        [](int64_t nbytes, int repeats) {
          if (nbytes < 1 || repeats < 1)
            throw InvalidArgument("device_copy_bandwidth: nbytes and repeats must be >= 1, got " +
                                  std::to_string(nbytes) + " and " + std::to_string(repeats));
#ifdef RRWKV_WITH_CUDA
          if (cuda_device_count() == 0) throw InvalidArgument("device_copy_bandwidth: no usable CUDA device (" +
                                                              cuda_status() + ")");
          py::gil_scoped_release release;
          const auto n = static_cast<size_t>(nbytes);
          gpu::DeviceBuffer src(n), dst(n);
          gpu::OwnedStream stream;
          gpu::queue_copy(dst.data(), src.data(), n, stream.get());  // first touch, not timed
          gpu::synchronize(stream.get());
          std::vector<double> secs;
          for (int r = 0; r < repeats; ++r) {
            const auto t0 = std::chrono::steady_clock::now();
            gpu::queue_copy(dst.data(), src.data(), n, stream.get());
            gpu::synchronize(stream.get());
            secs.push_back(std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count());
          }
          std::nth_element(secs.begin(), secs.begin() + repeats / 2, secs.end());
          return 2.0 * static_cast<double>(n) / secs[static_cast<size_t>(repeats / 2)];
#else
          throw InvalidArgument("device_copy_bandwidth: this build of rrwkv_rt has no CUDA kernels");
#endif
        },
        py::arg("nbytes"), py::arg("repeats") = 5,
        "Bytes per second a device-to-device copy of nbytes moves on cuda:0 (read plus written, so 2 * nbytes per "
        "copy), the median of `repeats` copies, each timed from the host around a synchronize: the memory floor of "
        "the GPU benchmarks (tools/bench.py --device cuda).");
}

}  // namespace rrwkv::python
