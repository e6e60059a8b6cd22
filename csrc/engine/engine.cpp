#include "engine/engine.h"

#include <algorithm>
#include <cstdlib>
#include <cstring>

#include "core/errors.h"
#include "engine/state_blob.h"

namespace rrwkv {
namespace {

// f16 / bf16 weights are converted tile by tile for BLAS: >= 1 MiB per thread, >= 16 rows.
int64_t tile_floats(const ModelConfig& c) {
  return std::max<int64_t>(int64_t{1} << 18, 16 * static_cast<int64_t>(std::max(c.n_embd, c.ffn_dim)));
}

const EngineOptions& checked(const EngineOptions& o) {
  if (o.capacity < 1 || o.capacity > Engine::kMaxCapacity)
    throw InvalidArgument("capacity must be in 1.." + std::to_string(Engine::kMaxCapacity) + " rows, got " +
                          std::to_string(o.capacity));
  if (o.prefill_chunk < 1 || o.prefill_chunk > Engine::kMaxPrefillChunk)
    throw InvalidArgument("prefill_chunk must be in 1.." + std::to_string(Engine::kMaxPrefillChunk) +
                          " tokens, got " + std::to_string(o.prefill_chunk));
  if (o.threads < 0) throw InvalidArgument("threads must be >= 0 (0: every CPU), got " + std::to_string(o.threads));
  return o;
}

// What an engine on a GPU cannot run yet, as a sentence ("" if it can): checked before the
// weights are copied to the device, so an unsupported model never computes there.
std::string gpu_unsupported(const EngineOptions& o) {
  if (!o.exact) return "exact=False (the fast path) runs on the CPU only; use exact=True on a CUDA device";
  const int count = cuda_device_count();
  if (count == 0) return "no usable CUDA device (" + cuda_status() + "); use device=\"cpu\"";
  if (o.device.index < 0 || o.device.index >= count)
    return "no such device: " + o.device.str() + "; found " + std::to_string(count) + " CUDA device" +
           (count == 1 ? "" : "s") + " (cuda:0" + (count == 1 ? "" : "..cuda:" + std::to_string(count - 1)) +
           "); use one of them or device=\"cpu\"";
  return "";
}

// Graphs unless the options or the environment (RRWKV_CUDA_GRAPHS=0) turn them off.
bool graphs_wanted(const EngineOptions& o) {
  const char* env = std::getenv("RRWKV_CUDA_GRAPHS");
  return !o.device.is_cpu() && o.cuda_graphs && !(env && std::string(env) == "0");
}

void check_initial(const InitialState& initial, int64_t floats) {
  if (initial && static_cast<int64_t>(initial->size()) != floats)
    throw InvalidArgument("an initial state of " + std::to_string(initial->size()) + " floats for a model whose "
                          "state has " + std::to_string(floats));
}

}  // namespace

Engine::Engine(std::shared_ptr<const Model> model, const EngineOptions& opts)
    : model_(std::move(model)),
      opts_(checked(opts)),
      floats_(model_->state_schema().floats()),
      max_tokens_(std::max(opts_.capacity, opts_.prefill_chunk)),
      threads_(opts_.threads > 0 ? opts_.threads : ThreadPool::available_cpus()) {
  if (!opts_.device.is_cpu() && cuda_compiled()) {
    const std::string why = gpu_unsupported(opts_);
    if (!why.empty()) throw InvalidArgument(why);
  }
  DeviceScope scope(opts_.device);
  const BoundWeights& w = model_->weights(opts_.device);
  const bool f32 = model_->matrix_dtypes() == "f32";
  // a call stages its offsets, store rows, positions, logit rows and RRWKV's schedule (each
  // array rounded up to 32 values) and its tokens
  const int64_t staged = 6 * (opts_.capacity + 33) + 2 * (max_tokens_ + 32);
  backend_ = make_backend(opts_.device, threads_, f32 ? 0 : tile_floats(model_->config()), !opts_.exact, staged);
  ctx_ = ExecContext(*backend_);
  ctx_.fast = !opts_.exact;
  runner_ = w.make_runner(max_tokens_, opts_.capacity);
  host_state_.resize(static_cast<size_t>(floats_));
  model_->init_state(host_state_.data());  // the store's initial row: the model's (a baked one, else the schema's)
  if (graphs_wanted(opts_)) {
    graphs_ = std::make_unique<DecodeGraphs>(opts_.capacity);
    pad_row_ = opts_.capacity;  // one row past the caller's: what a step's padding rows compute on
    // a step's logits (a full bucket's) fit the call scratch, so no step allocates after its first
    backend_->reserve_scratch(static_cast<size_t>(opts_.capacity * model_->vocab_size()) * sizeof(float) + 256);
  }
  states_ = backend_->make_state_store(opts_.capacity + (graphs_ ? 1 : 0), host_state_);
  if (graphs_) states_->init(pad_row_);  // the padding rows start from defined values
  const auto rows = static_cast<size_t>(opts_.capacity);
  pos_.assign(rows, 0);
  in_use_.assign(rows, 0);
  initial_.resize(rows);
  start_.resize(rows + 1);
  piece_tokens_.resize(static_cast<size_t>(max_tokens_));
  for (std::vector<int64_t>* v : {&piece_pos_, &piece_row_, &order_, &done_, &lens_, &offset_, &take_}) v->resize(rows);
  seen_.resize(rows);
}

Engine::~Engine() {
  try {
    DeviceScope scope(opts_.device);  // the device memory is freed on its device
    if (backend_) backend_->wait();   // after the work still queued that uses it
    graphs_.reset();
    states_.reset();
    runner_.reset();
    backend_.reset();
  } catch (...) {  // the device cannot be selected: the members go as they are
  }
}

int64_t Engine::device_waits() const {
  std::lock_guard<std::mutex> lock(mu_);
  return backend_->host_waits();
}

GraphStats Engine::graph_stats() const {
  std::lock_guard<std::mutex> lock(mu_);
  return graphs_ ? graphs_->stats() : GraphStats{};
}

void Engine::check_row(int64_t row, const char* what) const {
  if (row < 0 || row >= opts_.capacity || !in_use_[static_cast<size_t>(row)])
    throw OutOfRange(std::string(what) + ": row " + std::to_string(row) + " is not in the batch (rows in use: " +
                     std::to_string(std::count(in_use_.begin(), in_use_.end(), 1)) + " of " +
                     std::to_string(opts_.capacity) + "); add() a row first");
}

void Engine::init_row(int64_t row) {
  const InitialState& initial = initial_[static_cast<size_t>(row)];
  if (initial) states_->set(row, initial->data());
  else states_->init(row);
  pos_[static_cast<size_t>(row)] = 0;
}

int64_t Engine::add(InitialState initial) {
  check_initial(initial, floats_);
  std::lock_guard<std::mutex> lock(mu_);
  DeviceScope scope(opts_.device);
  for (int64_t r = 0; r < opts_.capacity; ++r) {
    if (in_use_[static_cast<size_t>(r)]) continue;
    initial_[static_cast<size_t>(r)] = std::move(initial);
    init_row(r);
    in_use_[static_cast<size_t>(r)] = 1;
    return r;
  }
  throw InvalidArgument("the batch is full: all " + std::to_string(opts_.capacity) +
                        " rows are in use; remove() one first or make a batch with a larger capacity");
}

void Engine::remove(int64_t row) {
  std::lock_guard<std::mutex> lock(mu_);
  check_row(row, "remove");
  in_use_[static_cast<size_t>(row)] = 0;
  initial_[static_cast<size_t>(row)] = nullptr;
}

std::vector<int64_t> Engine::rows() const {
  std::lock_guard<std::mutex> lock(mu_);
  std::vector<int64_t> out;
  for (int64_t r = 0; r < opts_.capacity; ++r)
    if (in_use_[static_cast<size_t>(r)]) out.push_back(r);
  return out;
}

int64_t Engine::pos(int64_t row) const {
  std::lock_guard<std::mutex> lock(mu_);
  check_row(row, "pos");
  return pos_[static_cast<size_t>(row)];
}

void Engine::reset(int64_t row) {
  std::lock_guard<std::mutex> lock(mu_);
  DeviceScope scope(opts_.device);
  check_row(row, "reset");
  init_row(row);
}

void Engine::set_initial_state(int64_t row, InitialState initial) {
  check_initial(initial, floats_);
  std::lock_guard<std::mutex> lock(mu_);
  check_row(row, "set_initial_state");
  initial_[static_cast<size_t>(row)] = std::move(initial);
}

InitialState Engine::initial_state(int64_t row) const {
  std::lock_guard<std::mutex> lock(mu_);
  check_row(row, "initial_state");
  return initial_[static_cast<size_t>(row)];
}

std::string Engine::get_state(int64_t row) const {
  std::lock_guard<std::mutex> lock(mu_);
  DeviceScope scope(opts_.device);
  check_row(row, "get_state");
  states_->get(row, host_state_.data());
  return serialize_state(*model_, host_state_.data(), pos_[static_cast<size_t>(row)]);
}

void Engine::set_state(int64_t row, const void* data, size_t size) {
  std::lock_guard<std::mutex> lock(mu_);
  DeviceScope scope(opts_.device);
  check_row(row, "set_state");
  const int64_t pos = deserialize_state(*model_, data, size, host_state_.data());  // the row is untouched on error
  states_->set(row, host_state_.data());
  pos_[static_cast<size_t>(row)] = pos;
}

void Engine::copy_row(int64_t from, Engine& dst, int64_t to) const {
  if (dst.model_ != model_ && dst.model_->file().header_crc32() != model_->file().header_crc32())
    throw StateMismatch("copy_row: the destination runs another model");
  if (&dst == this) {  // within the store, on its device (dst is this engine, writable)
    std::lock_guard<std::mutex> lock(dst.mu_);
    DeviceScope scope(opts_.device);
    dst.check_row(from, "copy_row");
    dst.check_row(to, "copy_row");
    dst.states_->copy(from, to);
    dst.pos_[static_cast<size_t>(to)] = dst.pos_[static_cast<size_t>(from)];
    return;
  }
  // between engines (their stores may be on different devices): through the host, one lock at a time
  std::vector<float> tmp(static_cast<size_t>(floats_));
  int64_t p;
  {
    std::lock_guard<std::mutex> lock(mu_);
    DeviceScope scope(opts_.device);
    check_row(from, "copy_row");
    states_->get(from, tmp.data());
    p = pos_[static_cast<size_t>(from)];
  }
  std::lock_guard<std::mutex> lock(dst.mu_);
  DeviceScope scope(dst.opts_.device);
  dst.check_row(to, "copy_row");
  dst.states_->set(to, tmp.data());
  dst.pos_[static_cast<size_t>(to)] = p;
}

void Engine::step(const int64_t* rows, const int64_t* tokens, int64_t n, float* logits) {
  if (n <= 0) return;
  if (n > opts_.capacity)
    throw InvalidArgument("step: " + std::to_string(n) + " rows, but the batch has only " +
                          std::to_string(opts_.capacity));
  std::lock_guard<std::mutex> lock(mu_);
  std::fill_n(lens_.begin(), n, 1);
  validate(rows, lens_.data(), tokens, n);
  DeviceScope scope(opts_.device);
  execute(rows, lens_.data(), tokens, n, logits, false);
}

void Engine::forward(int64_t row, const int64_t* tokens, int64_t n, float* logits, bool all_logits, float* hidden) {
  if (n <= 0) throw InvalidArgument("forward() needs at least one token");
  std::lock_guard<std::mutex> lock(mu_);
  validate(&row, &n, tokens, 1);
  DeviceScope scope(opts_.device);
  execute(&row, &n, tokens, 1, logits, all_logits, hidden);
}

void Engine::run(const int64_t* rows, const int64_t* lens, const int64_t* tokens, int64_t n, float* logits) {
  if (n <= 0) return;
  if (n > opts_.capacity)
    throw InvalidArgument("run: " + std::to_string(n) + " rows, but the batch has only " +
                          std::to_string(opts_.capacity));
  std::lock_guard<std::mutex> lock(mu_);
  validate(rows, lens, tokens, n);
  DeviceScope scope(opts_.device);
  execute(rows, lens, tokens, n, logits, false);
}

void Engine::validate(const int64_t* rows, const int64_t* lens, const int64_t* tokens, int64_t n) {
  const int64_t V = model_->vocab_size();
  std::fill(seen_.begin(), seen_.end(), 0);
  for (int64_t i = 0, off = 0; i < n; ++i) {
    check_row(rows[i], "run");
    if (seen_[static_cast<size_t>(rows[i])]++)
      throw InvalidArgument("row " + std::to_string(rows[i]) + " appears twice in one call; give each row once");
    if (lens[i] < 1)
      throw InvalidArgument("row " + std::to_string(rows[i]) + " has " + std::to_string(lens[i]) +
                            " tokens; every row of a call needs at least one");
    if (lens[i] > kMaxPosition - pos_[static_cast<size_t>(rows[i])])
      throw InvalidArgument("row " + std::to_string(rows[i]) + " would pass position 2^62; reset it");
    for (int64_t t = 0; t < lens[i]; ++t, ++off) {
      const int64_t tok = tokens[off];
      if (tok >= 0 && tok < V) continue;
      const std::string where =
          opts_.capacity > 1 ? " of row " + std::to_string(rows[i]) + " (its token " + std::to_string(t) + ")"
                             : (lens[i] > 1 ? " at index " + std::to_string(t) : "");
      throw OutOfRange("token " + std::to_string(tok) + where + " is outside the vocabulary: expected 0 <= token < " +
                       std::to_string(V) + " for this model; no state was changed");
    }
  }
}

// Runs validated rows in calls of at most max_tokens_ tokens, each row at most prefill_chunk
// tokens per call; the rows that finish in a call come first in it, since they want logits.
void Engine::execute(const int64_t* rows, const int64_t* lens, const int64_t* tokens, int64_t n, float* logits,
                     bool all_logits, float* hidden) {
  const int64_t V = model_->vocab_size(), C = static_cast<int64_t>(model_->config().n_embd);
  if (graphs_ && !all_logits && !hidden && std::all_of(lens, lens + n, [](int64_t l) { return l == 1; }))
    return step_graph(rows, tokens, n, logits);  // a decode step (n <= capacity: one call)
  for (int64_t i = 0, off = 0; i < n; ++i) {
    offset_[static_cast<size_t>(i)] = off;
    off += lens[i];
    done_[static_cast<size_t>(i)] = 0;
  }
  for (;;) {
    // what each row takes in this call, in the caller's order, until the token budget is spent
    int64_t n_finish = 0, n_pieces = 0, budget = max_tokens_;
    std::fill_n(take_.begin(), n, 0);
    for (int64_t i = 0; i < n && budget > 0; ++i) {
      const size_t ui = static_cast<size_t>(i);
      take_[ui] = std::min({lens[i] - done_[ui], opts_.prefill_chunk, budget});
      if (take_[ui] == 0) continue;
      budget -= take_[ui];
      ++n_pieces;
      if (take_[ui] == lens[i] - done_[ui]) ++n_finish;
    }
    if (n_pieces == 0) return;
    // lay the call out: finishing rows first (in the caller's order), then the partial ones
    int64_t nt = 0, kf = 0, kp = n_finish;
    bool in_order = true;  // finishing rows are the caller's first rows, in order
    start_[0] = 0;
    for (int64_t i = 0; i < n; ++i) {
      const size_t ui = static_cast<size_t>(i);
      if (take_[ui] == 0) continue;
      const bool finishes = take_[ui] == lens[i] - done_[ui];
      const int64_t slot = finishes ? kf++ : kp++;
      in_order = in_order && (!finishes || slot == i);
      order_[static_cast<size_t>(slot)] = i;
    }
    for (int64_t j = 0; j < n_pieces; ++j) {
      const int64_t i = order_[static_cast<size_t>(j)];
      const size_t ui = static_cast<size_t>(i);
      std::copy_n(tokens + offset_[ui] + done_[ui], take_[ui], piece_tokens_.begin() + nt);
      piece_pos_[static_cast<size_t>(j)] = pos_[static_cast<size_t>(rows[i])];
      piece_row_[static_cast<size_t>(j)] = rows[i];
      nt += take_[ui];
      start_[static_cast<size_t>(j + 1)] = nt;
    }
    // the call's arrays where the device reads them (one copy each; the CPU reads these)
    backend_->begin_call();
    RaggedBatch b;
    b.rows = {n_pieces, backend_->stage(start_.data(), n_pieces + 1), backend_->stage(piece_row_.data(), n_pieces),
              states_->data(), floats_};
    b.tokens = backend_->stage(piece_tokens_.data(), nt);
    b.pos = backend_->stage(piece_pos_.data(), n_pieces);
    b.host_start = start_.data();
    b.host_pos = piece_pos_.data();
    const bool scatter = logits && !all_logits && n_finish > 0 && !in_order;
    if (logits && all_logits) {  // one row (forward): each piece's logits go straight out
      b.logits = backend_->output(logits + (offset_[0] + done_[0]) * V, nt * V);
      b.ld_logits = V;
      b.all_logits = true;
    } else if (logits && n_finish > 0) {
      if (scatter && logits_scratch_.empty()) logits_scratch_.resize(static_cast<size_t>(opts_.capacity * V));
      b.logits = backend_->output(scatter ? logits_scratch_.data() : logits, n_finish * V);
      b.ld_logits = V;
      b.n_logit_rows = n_finish;
    }
    if (hidden && (all_logits || n_finish > 0)) {  // forward() only: one row, so in order
      b.hidden = backend_->output(hidden + (all_logits ? (offset_[0] + done_[0]) * C : 0), (all_logits ? nt : n_finish) * C);
      b.ld_hidden = C;
      b.all_logits = all_logits;
      b.n_logit_rows = all_logits ? 0 : n_finish;
    }
    ctx_.batch_invariant = opts_.exact && nt == n_pieces;  // a decode step: every row as if alone
    runner_->run(ctx_, b);
    backend_->end_call();  // the outputs at their host addresses (a GPU's copied back)
    for (int64_t j = 0; j < n_pieces; ++j) {
      const int64_t i = order_[static_cast<size_t>(j)];
      done_[static_cast<size_t>(i)] += take_[static_cast<size_t>(i)];
      pos_[static_cast<size_t>(rows[i])] += take_[static_cast<size_t>(i)];
      if (scatter && j < n_finish) std::copy_n(logits_scratch_.data() + j * V, V, logits + i * V);
    }
  }
}

// The step as one of its bucket's B rows: row j < n is the caller's rows[j]; the padding rows
// j >= n take token 0 at position 0 on pad_row_, a store row no caller can name, so they change
// no caller's state, and their logits are computed but never copied out. Everything that varies
// from step to step is staged data at the same addresses; the graph holds only addresses.
void Engine::step_graph(const int64_t* rows, const int64_t* tokens, int64_t n, float* logits) {
  const int64_t V = model_->vocab_size(), B = graphs_->bucket(n);
  for (int64_t j = 0; j < B; ++j) {
    const size_t uj = static_cast<size_t>(j);
    start_[uj] = j;
    piece_tokens_[uj] = j < n ? tokens[j] : 0;
    piece_row_[uj] = j < n ? rows[j] : pad_row_;
    piece_pos_[uj] = j < n ? pos_[static_cast<size_t>(rows[j])] : 0;
  }
  start_[static_cast<size_t>(B)] = B;
  backend_->begin_call();
  RaggedBatch b;
  b.rows = {B, backend_->stage(start_.data(), B + 1), backend_->stage(piece_row_.data(), B), states_->data(), floats_};
  b.tokens = backend_->stage(piece_tokens_.data(), B);
  b.pos = backend_->stage(piece_pos_.data(), B);
  b.host_start = start_.data();
  b.host_pos = piece_pos_.data();
  b.fixed_shape = true;
  if (logits) {
    b.logits = backend_->output(logits, n * V, B * V);
    b.ld_logits = V;
    b.n_logit_rows = B;
  }
  ctx_.batch_invariant = opts_.exact;
  runner_->prepare(ctx_, b);
  graphs_->run(*backend_, B, logits != nullptr, [&] { runner_->execute(ctx_, b); });
  backend_->end_call();
  for (int64_t j = 0; j < n; ++j) ++pos_[static_cast<size_t>(rows[j])];
}

}  // namespace rrwkv
