// The CUDA backend (backend_cuda.h), over the GPU layer's runtime (gpu/runtime.h).
#include "ops/backend_cuda.h"

#ifdef RRWKV_WITH_CUDA

#include <algorithm>
#include <string>

#include "core/errors.h"
#include "gpu/gemm.h"
#include "gpu/graph.h"
#include "gpu/runtime.h"
#include "gpu/staging.h"

namespace rrwkv {
namespace {

// Row r at data() + r * row_floats(), in device memory. Its copies are queued on the backend's
// stream, after the calls that read and write the rows: get and set wait for theirs (the host
// array is read or written), copy between rows does not.
class DeviceStateStore final : public StateStore {
 public:
  DeviceStateStore(int64_t rows, std::vector<float> initial, const std::function<void()>& wait, void* stream)
      : StateStore(rows, std::move(initial)), states_(bytes(this->rows() * row_floats())), wait_(wait),
        stream_(stream) {}
  float* data() override { return states_.as<float>(); }
  void get(int64_t row, float* host) const override {
    check(row);
    gpu::queue_copy(host, states_.as<float>() + row * row_floats(), bytes(row_floats()), stream_);
    wait_();
  }
  void set(int64_t row, const float* host) override {
    check(row);
    gpu::queue_copy(data() + row * row_floats(), host, bytes(row_floats()), stream_);
    wait_();
  }
  void copy(int64_t from, int64_t to) override {
    check(from), check(to);
    if (from == to) return;
    gpu::queue_copy(data() + to * row_floats(), data() + from * row_floats(), bytes(row_floats()), stream_);
  }

 private:
  static size_t bytes(int64_t floats) { return static_cast<size_t>(floats) * sizeof(float); }
  void check(int64_t row) const {
    if (row < 0 || row >= rows())
      throw InvalidArgument("state store: row " + std::to_string(row) + " of a store of " + std::to_string(rows()));
  }
  gpu::DeviceBuffer states_;
  std::function<void()> wait_;  // the backend's wait()
  void* stream_;
};

class CudaGraph final : public CapturedWork {
 public:
  explicit CudaGraph(gpu::Graph g) : graph(std::move(g)) {}
  gpu::Graph graph;
};

class CudaBackend final : public GpuBackend {
 public:
  CudaBackend(const Device& device, int64_t max_staged) : GpuBackend(device), staging_(max_staged) {}
  void begin_call() override {
    staging_.begin(stream_.get());  // waits for the previous call's copies before reusing their buffer
    if (!spill_.empty()) {  // the last call outgrew the scratch: one buffer of what it used
      wait();
      spill_.clear();
      grow_scratch(peak_);
    }
    scratch_used_ = peak_ = 0;
    outputs_.clear();
  }
  float* output(float* host, int64_t floats, int64_t device_floats) override {
    if (!host || floats <= 0) return host;
    const int64_t room = std::max(floats, device_floats);
    auto* device = static_cast<float*>(scratch(static_cast<size_t>(room) * sizeof(float)));
    outputs_.push_back({host, device, floats});
    return device;
  }
  std::unique_ptr<CapturedWork> capture(const std::function<void()>& record) override {
    struct Capturing {  // stage() and growing the scratch are refused meanwhile
      bool& flag;
      explicit Capturing(bool& f) : flag(f) { flag = true; }
      ~Capturing() { flag = false; }
    } capturing(capturing_);
    return std::make_unique<CudaGraph>(gpu::Graph::capture(stream_.get(), record));
  }
  void replay(const CapturedWork& work) override {
    static_cast<const CudaGraph&>(work).graph.replay(stream_.get());
  }
  uint64_t address_generation() const override { return scratch_generation_; }
  void reserve_scratch(size_t bytes) override {
    if (bytes > scratch_.bytes()) {
      wait();  // queued work may still use the old buffer
      grow_scratch(bytes);
    }
  }
  // Waits only where the host reads results: a call without outputs returns with its work queued
  // (the next call, the state store's copies and a graph replay all queue behind it on the stream).
  void end_call() override {
    if (outputs_.empty()) return;
    for (const Output& o : outputs_)
      gpu::queue_copy(o.host, o.device, static_cast<size_t>(o.floats) * sizeof(float), stream_.get());
    outputs_.clear();
    wait();
  }
  void wait() override {
    ++waits_;
    gpu::synchronize(stream_.get());
  }
  int64_t host_waits() const override { return waits_; }
  const int64_t* stage(const int64_t* host, int64_t n) override {
    if (capturing_)
      throw InvalidArgument("stage() during a capture: a replay would not stage the values again; stage them "
                            "before (Runner::prepare)");
    return staging_.stage(host, n);
  }
  std::unique_ptr<StateStore> make_state_store(int64_t rows, std::vector<float> initial) const override {
    auto* self = const_cast<CudaBackend*>(this);  // the store's waits count as the backend's
    return std::make_unique<DeviceStateStore>(rows, std::move(initial), [self] { self->wait(); }, stream_.get());
  }
  void* stream() const override { return stream_.get(); }
  void* blas_handle() const override { return &blas_; }  // a gpu::Blas on the backend's stream
  // Pieces of one buffer, valid until the next begin_call(); a call that needs more gets buffers
  // of its own for the rest, and the next call one buffer of the whole.
  void* scratch(size_t bytes) override {
    const size_t at = (scratch_used_ + 255) / 256 * 256;
    peak_ = (peak_ + 255) / 256 * 256 + bytes;
    if (at + bytes <= scratch_.bytes()) {
      scratch_used_ = at + bytes;
      return static_cast<char*>(scratch_.data()) + at;
    }
    if (capturing_)  // a graph must not own memory the next call frees
      throw DeviceError("call scratch: " + std::to_string(bytes) + " bytes more during a capture, past the " +
                        std::to_string(scratch_.bytes()) + " reserved; reserve_scratch() before capturing");
    spill_.emplace_back(bytes);
    return spill_.back().data();
  }

 private:
  gpu::OwnedStream stream_;
  mutable gpu::Blas blas_{stream_.get()};
  gpu::StagingBuffer staging_;
  void grow_scratch(size_t bytes) {
    scratch_ = gpu::DeviceBuffer(bytes);
    ++scratch_generation_;  // captured work that holds the old buffer's addresses is stale
  }

  gpu::DeviceBuffer scratch_;
  std::vector<gpu::DeviceBuffer> spill_;
  size_t scratch_used_ = 0, peak_ = 0;
  uint64_t scratch_generation_ = 0;
  bool capturing_ = false;
  int64_t waits_ = 0;
  struct Output {
    float* host;
    const float* device;
    int64_t floats;
  };
  std::vector<Output> outputs_;
};

}  // namespace

std::unique_ptr<GpuBackend> make_cuda_backend(const Device& device, int64_t max_staged) {
  if (device.is_cpu()) throw InvalidArgument("make_cuda_backend: " + device.str() + " is not a CUDA device");
  return std::make_unique<CudaBackend>(device, max_staged);
}

std::shared_ptr<float> cuda_floats(const Device& device, int64_t n) {
  if (device.is_cpu()) throw InvalidArgument("cuda_floats: " + device.str() + " is not a CUDA device");
  auto buffer = std::make_shared<gpu::DeviceBuffer>(static_cast<size_t>(std::max<int64_t>(n, 1)) * sizeof(float));
  buffer->upload(std::vector<float>(static_cast<size_t>(std::max<int64_t>(n, 1)), 0.0f).data(), buffer->bytes());
  return std::shared_ptr<float>(buffer, buffer->as<float>());  // aliasing: owns the buffer
}

}  // namespace rrwkv

#endif  // RRWKV_WITH_CUDA
