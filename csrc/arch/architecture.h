// The seam between the engine and a model architecture. An architecture is one folder under
// arch/ that owns everything about its models: the header fields it reads, the tensors a file
// must hold, the recurrent state and how to run a batch of tokens through it. The engine knows
// only this interface; registry.cpp maps a file's `arch` to the implementation (one line each).
//
// Data flow: ModelFile (validated bytes) -> Architecture::bind (weights on a device) ->
// BoundWeights::make_runner (scratch for one engine) -> Runner::run (a ragged batch, through
// the ops of ops/, which dispatch to the device's kernels). What the architectures share (the
// binder, the weights and runner bases, the outer tensors) is in arch/base/.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "core/device.h"
#include "format/config.h"
#include "ops/context.h"
#include "ops/ragged.h"

namespace rrwkv {

class PackCache;  // core/pack_cache.h

class ModelFile;
struct TensorInfo;

// A tensor a model file must hold. Vectors (per-channel parameters) are always f32; matrices
// may have any storable dtype. A per-token table (the embedding) is read one row per token.
struct TensorSpec {
  std::string name;
  std::vector<uint64_t> shape;
  bool is_matrix;
  bool per_token = false;
};

// The recurrent state of one sequence: per layer, `fields` in order, each `size` floats with an
// initial value; n_layer times that, plus a position the engine keeps.
struct StateField {
  std::string name;
  int64_t size;
  float init;
};

struct StateSchema {
  std::vector<StateField> fields;  // of one layer
  int64_t n_layer = 0;

  int64_t layer_floats() const;
  int64_t floats() const { return n_layer * layer_floats(); }
  int64_t bytes() const { return floats() * static_cast<int64_t>(sizeof(float)); }
  // Offset of field `name` of `layer` in a state ([layer][field][element]); -1 if absent.
  int64_t offset(const std::string& name, int64_t layer) const;
  void init(float* state) const;
};

// The tokens of one call: row i of the batch has its own state and position and the tokens
// [start[i], start[i+1]) of `tokens` (at least one). The runner updates every row's state;
// the engine advances the positions. The rows, tokens and positions are where the device reads
// them (staged once per call); the offsets and positions are also on the host, for what a runner
// plans there (RRWKV's segment ends, the rows that get logits).
struct RaggedBatch {
  ops::RaggedRows rows;
  const int64_t* tokens = nullptr;
  const int64_t* pos = nullptr;  // each row's position before its first token in this call
  const int64_t* host_start = nullptr;  // rows.start on the host
  const int64_t* host_pos = nullptr;    // pos on the host
  // Logits (vocab_size floats per row, row stride ld_logits), if `logits` is set: with
  // all_logits one row per token, in token order; otherwise one per batch row for its last
  // token, for the first n_logit_rows rows (the engine puts the rows that want them first).
  float* logits = nullptr;
  int64_t ld_logits = 0;
  bool all_logits = false;
  int64_t n_logit_rows = 0;
  // The final hidden state, ln_out(x) (n_embd floats per row, row stride ld_hidden), of the same
  // tokens as the logits (embeddings); set with or without `logits`.
  float* hidden = nullptr;
  int64_t ld_hidden = 0;
  // A decode step that may be captured and replayed (engine/decode_graphs.h): the work the runner
  // queues must depend only on the batch's shape (rows, tokens, whether logits are wanted), never
  // on host values that change from step to step; those go to the device as staged data. RRWKV
  // then projects a medium slot for every row, whether or not its segment ends.
  bool fixed_shape = false;

  int64_t n_rows() const { return rows.n_rows; }
  int64_t n_tokens() const { return host_start[rows.n_rows]; }
  int64_t len(int64_t i) const { return host_start[i + 1] - host_start[i]; }
};

// One engine's compute for one architecture: its scratch, sized once for at most `max_tokens`
// tokens and `max_rows` rows per call. Not thread-safe (an engine serialises its calls).
// A call is two parts, so that the second can be captured once and replayed: prepare() plans on
// the host and stages what it planned (Backend::stage: RRWKV's schedule, the rows that get
// logits); execute() queues the device work and stages nothing.
class Runner {
 public:
  virtual ~Runner() = default;
  virtual void prepare(ExecContext&, const RaggedBatch&) {}
  virtual void execute(ExecContext& ctx, const RaggedBatch& batch) = 0;
  void run(ExecContext& ctx, const RaggedBatch& batch) {
    prepare(ctx, batch);
    execute(ctx, batch);
  }
};

// Where a model's weights live on one device; the bound weights own it, so a device's copies are
// made once per (model, device) and freed with the weights. The CPU's (HostPlacement) are views
// into the file's bytes, which the Model keeps alive; a device backend copies each tensor.
class WeightPlacement : public OnDevice {
 public:
  using OnDevice::OnDevice;
  // The tensor's bytes where the device reads them, valid as long as this placement.
  virtual const void* place(const TensorInfo& t) = 0;
  // Where the device's kernels keep converted copies of the matrices (core/pack_cache.h), owned
  // by this placement; null where they keep none.
  virtual PackCache* packs() { return nullptr; }
};

// The placement of weights on `device`: InvalidArgument (throw_backend_unavailable, naming `what`)
// for a device this build has no backend for.
std::unique_ptr<WeightPlacement> placement_for(const Device& device, const std::string& what);

// A model's weights bound on one device (CPU: views into the file mapping). Immutable.
class BoundWeights {
 public:
  virtual ~BoundWeights() = default;
  virtual std::unique_ptr<Runner> make_runner(int64_t max_tokens, int64_t max_rows) const = 0;
};

class Architecture {
 public:
  virtual ~Architecture() = default;
  virtual const char* name() const = 0;          // the header's `arch`, e.g. "rwkv4"
  virtual const char* description() const = 0;   // e.g. "RWKV-4"
  // Header fields this architecture needs beyond the common ones (all required in its files).
  virtual std::vector<ConfigField> config_fields() const = 0;
  // Checks across fields once they are read; every problem as a sentence, "" if none.
  virtual std::string check_config(const ModelConfig& cfg) const = 0;
  virtual std::vector<TensorSpec> layout(const ModelConfig& cfg) const = 0;
  virtual StateSchema state_schema(const ModelConfig& cfg) const = 0;
  // The weights of a file checked against this architecture (arch/base/model_check.h) with its
  // config, placed by `placement` (placement_for(device), or an embedder's own), which they own.
  virtual std::unique_ptr<const BoundWeights> bind(const ModelFile& file, const ModelConfig& config,
                                                   std::unique_ptr<WeightPlacement> placement) const = 0;
};

// The architecture of a header's `arch`, or nullptr.
const Architecture* find_architecture(const std::string& name);
// Every architecture this build runs, in registration order.
const std::vector<const Architecture*>& architectures();
// "rwkv4, rrwkv, ...": for messages.
std::string architecture_names();

}  // namespace rrwkv
