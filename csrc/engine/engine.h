// The batched engine: up to `capacity` independent sequences ("rows") on one shared Model, each
// with its own recurrent state and position, stepped together so that every weight is read once
// for all of them. Rows join (add) and leave (remove) between calls. A Session is an engine of
// one row.
//
// Thread-safety: an Engine serialises its own calls (one mutex); run several engines for
// parallel batches. Nothing is allocated per call but the returned state blobs and copy_row's
// copy of one row's state between two engines (it locks them one after the other). Row states
// live in a StateStore on the engine's device (ops/state_store.h); blobs are host floats, so a
// state saved on one device loads on any.
#pragma once

#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "core/thread_pool.h"
#include "engine/decode_graphs.h"
#include "engine/model.h"
#include "ops/context.h"

namespace rrwkv {

struct EngineOptions {
  int64_t capacity = 1;         // rows that may be in the batch at once
  int threads = 0;              // CPU threads; 0: every CPU this process may use
  int64_t prefill_chunk = 128;  // tokens of one row per internal call (bounds the scratch)
  Device device = Device::cpu();
  // true: f32 activations throughout; decode steps compute every row exactly as a Session would
  // alone (bit for bit). false: the fast path: every projection rounds its activations (to bf16
  // for float weights, int8 per block of 32 for quantized ones) for the CPU's dot-product
  // instructions (kernels/cpu/fast_kernels.h, docs/FAST_PATH.md): more throughput on large
  // batches and (quantized weights) prefill, results within that rounding of the exact ones;
  // each row still independent of the others.
  bool exact = true;
  // An engine on a GPU captures its decode steps as CUDA graphs, one per batch-size bucket, and
  // replays them (engine/decode_graphs.h). false, or the environment variable
  // RRWKV_CUDA_GRAPHS=0, runs every step launch by launch (for debugging and comparisons); the
  // results are the same bit for bit.
  bool cuda_graphs = true;
};

class Engine {
 public:
  static constexpr int64_t kMaxCapacity = 4096;
  static constexpr int64_t kMaxPrefillChunk = int64_t{1} << 16;

  // Throws InvalidArgument for a bad option or a device this build cannot use.
  Engine(std::shared_ptr<const Model> model, const EngineOptions& opts);
  ~Engine();

  const std::shared_ptr<const Model>& model() const { return model_; }
  int64_t capacity() const { return opts_.capacity; }
  int threads() const { return threads_; }
  int64_t prefill_chunk() const { return opts_.prefill_chunk; }
  const Device& device() const { return opts_.device; }
  bool exact() const { return opts_.exact; }
  // Whether decode steps run as captured graphs (a GPU engine with cuda_graphs, not turned off by
  // RRWKV_CUDA_GRAPHS=0), and what the graphs did so far.
  bool uses_graphs() const { return graphs_ != nullptr; }
  GraphStats graph_stats() const;
  // How often the host has waited for the device (a GPU engine; 0 on the CPU): only where it reads
  // results (logits, hidden states, get_state) or hands the device values (set_state, add, reset).
  int64_t device_waits() const;

  // A free row at the initial state (`initial`, else the model's); InvalidArgument if all
  // `capacity` rows are in use. reset() returns the row to that state.
  int64_t add(InitialState initial = nullptr);
  // The row's initial state from now on (nullptr: the model's); the current state is unchanged.
  void set_initial_state(int64_t row, InitialState initial);
  InitialState initial_state(int64_t row) const;  // nullptr where it is the model's
  void remove(int64_t row);
  std::vector<int64_t> rows() const;  // the rows in use, ascending
  int64_t pos(int64_t row) const;     // tokens the row has taken since its last reset
  void reset(int64_t row);
  std::string get_state(int64_t row) const;
  // FormatError (not a state, corrupt) or StateMismatch (another model); the row is then unchanged.
  void set_state(int64_t row, const void* data, size_t size);
  // Copies row `from`'s state and position into row `to` of `dst` (same model; may be this engine).
  void copy_row(int64_t from, Engine& dst, int64_t to) const;

  // One token for each of n distinct rows in use; logits (may be null) gets n x vocab floats,
  // row i for rows[i]. Everything is checked before anything runs: a bad row or token throws
  // (OutOfRange names the row) and no state changes.
  void step(const int64_t* rows, const int64_t* tokens, int64_t n, float* logits);
  // Tokens of one row in sequence mode (prompt ingestion). logits (may be null) gets the last
  // token's logits or, with all_logits, n x vocab; hidden (may be null) the final hidden state,
  // ln_out(x), of the same tokens (n_embd floats each: embeddings).
  void forward(int64_t row, const int64_t* tokens, int64_t n, float* logits, bool all_logits,
               float* hidden = nullptr);
  // The general call: row rows[i] takes lens[i] >= 1 tokens (concatenated in `tokens`); logits
  // (may be null) gets each row's last-token logits, n x vocab. Long rows are cut into pieces of
  // prefill_chunk that run alongside the others, so prefill interleaves with decode.
  void run(const int64_t* rows, const int64_t* lens, const int64_t* tokens, int64_t n, float* logits);

 private:
  void init_row(int64_t row);  // its initial state (the row's, else the model's), position 0
  void check_row(int64_t row, const char* what) const;
  void validate(const int64_t* rows, const int64_t* lens, const int64_t* tokens, int64_t n);
  void execute(const int64_t* rows, const int64_t* lens, const int64_t* tokens, int64_t n, float* logits,
               bool all_logits, float* hidden = nullptr);
  // A decode step (one token for each of n rows) through the graph of its bucket.
  void step_graph(const int64_t* rows, const int64_t* tokens, int64_t n, float* logits);

  std::shared_ptr<const Model> model_;
  const EngineOptions opts_;
  const int64_t floats_;      // state floats of one row
  const int64_t max_tokens_;  // tokens per runner call
  const int threads_;         // CPU threads
  mutable std::mutex mu_;
  std::unique_ptr<Backend> backend_;  // the pool, the BLAS tiles and (exact=false) the fast scratch
  ExecContext ctx_;
  std::unique_ptr<Runner> runner_;
  std::unique_ptr<StateStore> states_;  // capacity rows of floats_ (+ pad_row_), on the device
  std::unique_ptr<DecodeGraphs> graphs_;  // null: every step uncaptured
  int64_t pad_row_ = -1;  // with graphs: the store row a step's padding rows use (no caller's)
  mutable std::vector<float> host_state_;  // one row's state on the host (get_state, set_state)
  std::vector<int64_t> pos_;
  std::vector<uint8_t> in_use_;
  std::vector<InitialState> initial_;  // per row; nullptr: the model's
  // per-call scratch, sized at construction (start_, piece_*: a call's ragged batch on the host)
  std::vector<int64_t> start_, piece_tokens_, piece_pos_, piece_row_, order_, done_, lens_, offset_, take_;
  std::vector<uint8_t> seen_;
  std::vector<float> logits_scratch_;  // rows x vocab, for calls whose rows finish out of order
};

}  // namespace rrwkv
