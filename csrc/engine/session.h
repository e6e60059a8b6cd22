// One sequence on a shared Model: an Engine of one row. What most users hold (step, forward,
// state); batches of sequences use the Engine directly. A Session serialises its own calls.
#pragma once

#include <cstdint>
#include <memory>
#include <string>

#include "engine/engine.h"

namespace rrwkv {

class Session {
 public:
  static constexpr int64_t kDefaultPrefillChunk = 128;

  // threads <= 0 means every CPU this process may use. prefill_chunk: tokens per internal call of
  // forward() (bounds the scratch: about 10 * n_embd + ffn_dim floats per token).
  // initial: the state it starts from and reset() returns to (nullptr: the model's). exact: false
  // runs the fast path (EngineOptions::exact), the same numbers a Batch with exact=false gives.
  explicit Session(std::shared_ptr<const Model> model, int threads = 0, int64_t prefill_chunk = kDefaultPrefillChunk,
                   const Device& device = Device::cpu(), InitialState initial = nullptr, bool exact = true);

  const std::shared_ptr<const Model>& model() const { return engine_.model(); }
  int threads() const { return engine_.threads(); }
  int64_t prefill_chunk() const { return engine_.prefill_chunk(); }
  const Device& device() const { return engine_.device(); }
  int64_t pos() const { return engine_.pos(0); }
  bool exact() const { return engine_.exact(); }

  // One token: logits (vocab_size floats, may be null). OutOfRange (state unchanged) for a bad token.
  void step(int64_t token, float* logits) { engine_.step(&kRow, &token, 1, logits); }
  // Prompt ingestion in sequence mode: the last token's logits (vocab floats) or, with
  // all_logits, every token's (n x vocab); all tokens are validated first.
  void forward(const int64_t* tokens, int64_t n, float* logits, bool all_logits) {
    engine_.forward(kRow, tokens, n, logits, all_logits);
  }
  void reset() { engine_.reset(kRow); }
  InitialState initial_state() const { return engine_.initial_state(kRow); }  // nullptr: the model's
  std::unique_ptr<Session> clone() const;  // same model, threads and device; a copy of the state
  std::string get_state() const { return engine_.get_state(kRow); }
  void set_state(const void* data, size_t size) { engine_.set_state(kRow, data, size); }

 private:
  static constexpr int64_t kRow = 0;
  Engine engine_;
};

}  // namespace rrwkv
