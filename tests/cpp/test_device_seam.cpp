// The seam a GPU backend plugs into, exercised on the CPU: weights bound through a placement that
// owns copies of every tensor, a backend that stages each call's arrays in memory of its own, and
// the state store must give exactly what the CPU's own path gives (views, no staging): logits,
// final hidden states and states, on the exact path and on the fast one (its scratch the
// backend's); the dtype table's kernel columns; the state store's row operations.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdlib>
#include <cstring>
#include <deque>
#include <memory>
#include <vector>

#include "arch/base/weights.h"
#include "core/errors.h"
#include "engine/model.h"
#include "format/model_file.h"
#include "ops/kernels.h"
#include "support/model_bytes.h"

namespace {

using rrwkv::DType;
using rrwkv::Device;

// Every tensor copied into memory this placement owns (what a device placement does).
class CopyingPlacement final : public rrwkv::WeightPlacement {
 public:
  CopyingPlacement() : WeightPlacement(Device::cpu()) {}
  ~CopyingPlacement() override {
    for (void* p : copies_) std::free(p);
  }
  const void* place(const rrwkv::TensorInfo& t) override {
    void* p = std::aligned_alloc(64, (t.nbytes + 63) / 64 * 64);
    std::memcpy(p, t.data, t.nbytes);
    copies_.push_back(p);
    return p;
  }

 private:
  std::vector<void*> copies_;
};

// Each staged array copied into this backend's own memory, poisoned when the next call begins.
class StagingBackend final : public rrwkv::CpuBackend {
 public:
  explicit StagingBackend(bool fast) : CpuBackend(2, 1 << 16, fast) {}
  void begin_call() override {
    for (auto& a : staged_) std::fill(a.begin(), a.end(), int64_t{-1});
    staged_.clear();
  }
  const int64_t* stage(const int64_t* host, int64_t n) override {
    staged_.emplace_back(host, host + n);
    return staged_.back().data();
  }

 private:
  std::deque<std::vector<int64_t>> staged_;
};

struct Outputs {
  std::vector<float> logits, hidden, states;
};

// Two calls of a two-row ragged batch (rows in store rows 1 and 0, at positions 5 and 0). With
// `staged_only`, the host's tokens and store rows are overwritten once staged: the ops must read
// the staged arrays (the offsets and positions stay: runners plan with them on the host). `fast`:
// the fast path (exact=false), whose scratch is the backend's.
Outputs run(const rrwkv::Model& m, const rrwkv::BoundWeights& w, rrwkv::Backend& backend, bool staged_only,
            bool fast) {
  const int64_t V = m.vocab_size(), C = m.config().n_embd;
  std::vector<float> init(static_cast<size_t>(m.state_schema().floats()));
  m.state_schema().init(init.data());
  auto store = backend.make_state_store(2, init);
  store->init(0), store->init(1);
  auto runner = w.make_runner(8, 2);
  rrwkv::ExecContext ctx(backend);
  ctx.fast = fast;
  Outputs out{std::vector<float>(static_cast<size_t>(4 * V)), std::vector<float>(static_cast<size_t>(4 * C)), {}};
  std::vector<int64_t> start = {0, 3, 4}, rows = {1, 0}, tokens = {1, 2, 3, 4}, pos = {5, 0};
  for (int call = 0; call < 2; ++call) {
    const std::vector<int64_t> keep_rows = rows, keep_tokens = tokens;
    backend.begin_call();
    rrwkv::RaggedBatch b;
    b.rows = {2, backend.stage(start.data(), 3), backend.stage(rows.data(), 2), store->data(),
              store->row_floats()};
    b.tokens = backend.stage(tokens.data(), 4);
    b.pos = backend.stage(pos.data(), 2);
    b.host_start = start.data(), b.host_pos = pos.data();
    if (staged_only) std::fill(rows.begin(), rows.end(), 99), std::fill(tokens.begin(), tokens.end(), -5);
    b.logits = out.logits.data() + call * 2 * V, b.ld_logits = V, b.n_logit_rows = 2;
    b.hidden = out.hidden.data() + call * 2 * C, b.ld_hidden = C;
    runner->run(ctx, b);
    rows = keep_rows, tokens = keep_tokens;
    pos = {8, 1};
  }
  out.states.resize(static_cast<size_t>(2 * store->row_floats()));
  store->get(0, out.states.data());
  store->get(1, out.states.data() + store->row_floats());
  return out;
}

TEST(DeviceSeam, OwnedWeightsAndStagedArraysGiveTheCpusResults) {
  for (const char* arch : {"rwkv4", "rrwkv", "rwkv5", "rwkv6", "rwkv7"}) {
    rrwkv::ModelConfig c;
    c.arch = arch, c.n_layer = 2, c.n_embd = 32, c.ffn_dim = 64, c.vocab_size = 40;
    if (c.arch == "rrwkv") c.medium_interval = 3, c.cm_mode = "add";
    if (c.arch != "rwkv4" && c.arch != "rrwkv") c.head_size = 8, c.group_norm_eps = 64e-5;
    if (c.arch == "rwkv6") c.lora_mix = 4, c.lora_decay = 8;
    if (c.arch == "rwkv7") c.lora_decay = 8, c.lora_a = 8, c.lora_v = 4, c.lora_gate = 8;
    std::string bytes = rrwkv::testing::build_model(c, DType::F16);
    rrwkv::Model m(rrwkv::ModelFile::from_buffer(bytes.data(), bytes.size(), "<test>"));
    rrwkv::CpuBackend cpu(2, 1 << 16), cpu_fast(2, 1 << 16, true);
    const Outputs want = run(m, m.weights(Device::cpu()), cpu, false, false);
    const Outputs want_fast = run(m, m.weights(Device::cpu()), cpu_fast, false, true);
    auto owned = m.arch().bind(m.file(), m.config(), std::make_unique<CopyingPlacement>());
    // the owned copies must be all the weights read: the file's tensors become NaN
    for (const rrwkv::TensorInfo& t : m.file().tensors()) std::memset(&bytes[t.offset], 0xff, t.nbytes);
    const auto& emb = dynamic_cast<const rrwkv::ModelWeights&>(*owned).outer.emb;
    const auto* file_begin = reinterpret_cast<const char*>(m.file().tensors().front().data);
    const auto* at = static_cast<const char*>(emb.data);
    EXPECT_TRUE(at < file_begin || at >= file_begin + m.file().file_size()) << arch << ": a view into the file";

    for (bool fast : {false, true}) {
      StagingBackend staging(fast);
      const Outputs& w = fast ? want_fast : want;
      const Outputs got = run(m, *owned, staging, true, fast);
      for (auto field : {&Outputs::logits, &Outputs::hidden, &Outputs::states})
        EXPECT_EQ(std::memcmp((w.*field).data(), (got.*field).data(), (w.*field).size() * sizeof(float)), 0)
            << arch << (fast ? " fast" : "");
      bool finite = true;
      for (float v : w.logits) finite = finite && std::isfinite(v);
      EXPECT_TRUE(finite) << arch;
    }
    // the fast path really ran: its rounded activations give other logits
    EXPECT_NE(std::memcmp(want.logits.data(), want_fast.logits.data(), want.logits.size() * sizeof(float)), 0) << arch;
  }
}

TEST(DeviceSeam, TheDtypeTableSaysWhichTypesHaveKernels) {
  for (DType t : {DType::F32, DType::F16, DType::BF16, DType::Q8_0, DType::Q4_1})
    EXPECT_TRUE(rrwkv::has_kernel(t, Device::cpu())) << rrwkv::dtype_name(t);
  EXPECT_FALSE(rrwkv::has_kernel(DType::F64, Device::cpu()));
  // a GPU build's matvec and embedding kernels read every storable type; other builds have none
  for (DType t : {DType::F32, DType::F16, DType::BF16, DType::Q8_0, DType::Q4_1})
    EXPECT_EQ(rrwkv::has_kernel(t, Device::cuda(0)), rrwkv::cuda_compiled()) << rrwkv::dtype_name(t);
  EXPECT_FALSE(rrwkv::has_kernel(DType::F64, Device::cuda(0)));
  try {
    rrwkv::require_kernel("linear", DType::F64, Device::cpu());
    FAIL();
  } catch (const rrwkv::InvalidArgument& e) {
    EXPECT_NE(std::string(e.what()).find("linear: no kernel for weights of dtype f64 on cpu"), std::string::npos);
  }
  EXPECT_EQ(rrwkv::dtype_traits(DType::Q4_1).block_bytes, 20);
}

TEST(DeviceSeam, StateStoreRowsInitGetSetCopy) {
  rrwkv::CpuBackend cpu(1, 0);
  auto store = cpu.make_state_store(3, {1.0f, -2.0f});
  for (int64_t r = 0; r < 3; ++r) store->init(r);
  const float mine[2] = {5.0f, 6.0f};
  store->set(2, mine);
  store->copy(2, 0);
  float got[2];
  store->get(0, got);
  EXPECT_EQ(got[0], 5.0f);
  EXPECT_EQ(got[1], 6.0f);
  store->get(1, got);
  EXPECT_EQ(got[0], 1.0f);
  EXPECT_EQ(got[1], -2.0f);
  EXPECT_EQ(store->data()[4], 5.0f);  // row 2 at data() + 2 * row_floats()
}

}  // namespace
