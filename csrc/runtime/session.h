// One sequence being run on a shared Model: its recurrent state, its thread pool and its scratch.
// Nothing is allocated per step (the decode scratch is allocated at construction, the prefill
// scratch at the first forward()). A Session serialises its own calls (an internal mutex); run
// several sessions for parallel sequences.
#pragma once

#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "core/thread_pool.h"
#include "kernels/cpu/gemm.h"
#include "runtime/model.h"
#include "runtime/state.h"

namespace rrwkv {

class Session {
 public:
  // threads <= 0 means every CPU this process may use. prefill_chunk: tokens per internal chunk
  // of forward() (bounds the prefill scratch: about 10 * n_embd + ffn_dim floats per token).
  explicit Session(std::shared_ptr<const Model> model, int threads = 0, int64_t prefill_chunk = kDefaultPrefillChunk);
  ~Session();

  const std::shared_ptr<const Model>& model() const { return model_; }
  int threads() const { return pool_.size(); }
  int64_t prefill_chunk() const { return prefill_chunk_; }
  int64_t pos() const;

  // One token: logits (vocab_size floats). Throws OutOfRange (state unchanged) for a bad token.
  void step(int64_t token, float* logits);
  // Prompt ingestion in sequence mode. logits receives the last token's logits (vocab floats)
  // or, with all_logits, every token's (n x vocab). All tokens are validated first.
  void forward(const int64_t* tokens, int64_t n, float* logits, bool all_logits);

  void reset();
  std::unique_ptr<Session> clone() const;  // same model and thread count, a copy of the state
  std::string get_state() const;
  void set_state(const void* data, size_t size);  // InvalidArgument, state unchanged, on error

  static constexpr int64_t kDefaultPrefillChunk = 128;

 private:
  struct DecodeScratch;
  struct PrefillScratch;

  void check_token(int64_t token, int64_t index) const;
  void step_locked(int64_t token, float* logits);
  void run_prefill_chunk(const int64_t* tokens, int64_t n, float* logits, int64_t ld_logits, bool all_logits);
  void step_time_mix(int64_t layer);
  void step_channel_mix(int64_t layer);
  void chunk_time_mix(int64_t layer, int64_t n);
  void chunk_channel_mix(int64_t layer, int64_t n);

  std::shared_ptr<const Model> model_;
  const int64_t prefill_chunk_;
  mutable std::mutex mu_;
  ThreadPool pool_;
  State state_;
  std::unique_ptr<DecodeScratch> dec_;
  std::unique_ptr<PrefillScratch> pre_;
  std::unique_ptr<cpu::GemmWorkspace> gemm_ws_;
};

}  // namespace rrwkv
