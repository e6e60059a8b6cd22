// The C API (include/rrwkv_rt/rrwkv.h) over the C++ runtime: argument checks, the mapping of
// exceptions to status codes, and the per-thread last-error message. No exception leaves a
// function of this file: each body runs inside guard().
#include "rrwkv_rt/rrwkv.h"

#include <cstdlib>
#include <cstring>
#include <limits>
#include <memory>
#include <mutex>
#include <new>
#include <string>
#include <system_error>
#include <vector>

#include "core/errors.h"
#include "engine/engine.h"
#include "engine/session.h"
#include "engine/state_blob.h"
#include "kernels/cpu/blas.h"
#include "sampling/model_defaults.h"
#include "sampling/sampler.h"
#include "tokenizer/tokenizer.h"

struct rrwkv_model {
  std::shared_ptr<const rrwkv::Model> model;
  std::unique_ptr<rrwkv::Tokenizer> tokenizer;  // nullptr if the file has none or a bad one...
  std::string tokenizer_error;                  // ...and then why
  std::string dtypes;                           // for rrwkv_model_info.dtype
};

struct rrwkv_sampler {
  rrwkv::Sampler sampler;
};

struct rrwkv_session {
  std::unique_ptr<rrwkv::Session> session;  // holds the model alive
  size_t state_size = 0;
};

struct rrwkv_batch {
  std::unique_ptr<rrwkv::Engine> engine;  // holds the model alive
  size_t state_size = 0;
};

namespace {

// A failure detected here, before the runtime is called.
class ApiError : public std::runtime_error {
 public:
  ApiError(rrwkv_status status, const std::string& msg) : std::runtime_error(msg), status(status) {}
  rrwkv_status status;
};

thread_local std::string t_error;
thread_local const char* t_static_error = nullptr;  // used when t_error cannot be allocated

rrwkv_status fail(rrwkv_status status, const char* fn, const char* msg) noexcept {
  try {
    t_error.assign(fn).append(": ").append(msg);
    t_static_error = nullptr;
  } catch (...) {
    t_static_error = "out of memory while formatting an rrwkv error message";
  }
  return status;
}

// Runs body, returns RRWKV_OK or the status of what it threw. `invalid` is the status of a
// runtime InvalidArgument (STATE_MISMATCH where the only runtime check is of a state blob).
template <class F>
rrwkv_status guard(const char* fn, F&& body, rrwkv_status invalid = RRWKV_ERR_INVALID_ARGUMENT) noexcept {
  try {
    body();
    t_error.clear();
    t_static_error = nullptr;
    return RRWKV_OK;
  } catch (const ApiError& e) {
    return fail(e.status, fn, e.what());
  } catch (const rrwkv::FormatError& e) {
    return fail(RRWKV_ERR_FORMAT, fn, e.what());
  } catch (const rrwkv::FileNotFound& e) {
    return fail(RRWKV_ERR_FILE_NOT_FOUND, fn, e.what());
  } catch (const rrwkv::OutOfRange& e) {
    return fail(RRWKV_ERR_OUT_OF_RANGE, fn, e.what());
  } catch (const rrwkv::StateMismatch& e) {
    return fail(RRWKV_ERR_STATE_MISMATCH, fn, e.what());
  } catch (const rrwkv::InvalidArgument& e) {
    return fail(invalid, fn, e.what());
  } catch (const std::bad_alloc&) {
    return fail(RRWKV_ERR_OUT_OF_MEMORY, fn, "out of memory");
  } catch (const std::system_error& e) {  // e.g. threads that could not be started
    const std::string msg = std::string("system error: ") + e.what();
    return fail(RRWKV_ERR_INTERNAL, fn, msg.c_str());
  } catch (const std::exception& e) {
    const std::string msg = std::string("internal error (please report it): ") + e.what();
    return fail(RRWKV_ERR_INTERNAL, fn, msg.c_str());
  } catch (...) {
    return fail(RRWKV_ERR_INTERNAL, fn, "internal error (please report it): an unknown exception");
  }
}

void require(const void* p, const char* name) {
  if (!p) throw ApiError(RRWKV_ERR_INVALID_ARGUMENT, std::string(name) + " is NULL; expected a valid pointer");
}

template <class T>
void clear_out(T** out) {
  if (out) *out = nullptr;
}

void check_logits_len(size_t len, size_t needed, const char* what) {
  if (len < needed)
    throw ApiError(RRWKV_ERR_BUFFER_TOO_SMALL, "logits_len is " + std::to_string(len) + " floats, but " + what +
                                                   " needs " + std::to_string(needed) + "; pass a larger buffer");
}

std::vector<int64_t> widen(const int32_t* tokens, size_t n) {
  require(tokens, "tokens");
  if (n == 0) throw ApiError(RRWKV_ERR_INVALID_ARGUMENT, "n is 0; expected at least one token");
  return std::vector<int64_t>(tokens, tokens + n);
}

const rrwkv::Tokenizer& tokenizer_of(const rrwkv_model* model) {
  require(model, "model");
  if (!model->tokenizer) throw ApiError(RRWKV_ERR_FORMAT, model->tokenizer_error);
  return *model->tokenizer;
}

// BLAS is chosen once per process, at the first session or batch: by rrwkv_set_blas, else by the
// environment (RRWKV_BLAS, the policy of kernels/cpu/blas.h).
std::mutex g_blas_mu;
bool g_blas_chosen = false;

void choose_blas_from_env() {
  std::lock_guard<std::mutex> lock(g_blas_mu);
  if (g_blas_chosen) return;
  g_blas_chosen = true;
  rrwkv::cpu::blas_configure_from_env("");
}

}  // namespace

extern "C" {

const char* rrwkv_last_error(void) { return t_static_error ? t_static_error : t_error.c_str(); }

const char* rrwkv_status_name(rrwkv_status status) {
  switch (status) {
    case RRWKV_OK: return "RRWKV_OK";
    case RRWKV_ERR_INVALID_ARGUMENT: return "RRWKV_ERR_INVALID_ARGUMENT";
    case RRWKV_ERR_FILE_NOT_FOUND: return "RRWKV_ERR_FILE_NOT_FOUND";
    case RRWKV_ERR_FORMAT: return "RRWKV_ERR_FORMAT";
    case RRWKV_ERR_OUT_OF_RANGE: return "RRWKV_ERR_OUT_OF_RANGE";
    case RRWKV_ERR_STATE_MISMATCH: return "RRWKV_ERR_STATE_MISMATCH";
    case RRWKV_ERR_BUFFER_TOO_SMALL: return "RRWKV_ERR_BUFFER_TOO_SMALL";
    case RRWKV_ERR_OUT_OF_MEMORY: return "RRWKV_ERR_OUT_OF_MEMORY";
    case RRWKV_ERR_INTERNAL: return "RRWKV_ERR_INTERNAL";
  }
  return "RRWKV_ERR_UNKNOWN";
}

const char* rrwkv_version(void) { return RRWKV_VERSION; }

rrwkv_status rrwkv_set_blas(const char* path) {
  return guard(__func__, [&] {
    std::lock_guard<std::mutex> lock(g_blas_mu);
    if (g_blas_chosen)
      throw ApiError(RRWKV_ERR_INVALID_ARGUMENT,
                     "the BLAS of this process was already chosen (at the first rrwkv_session_new or "
                     "rrwkv_set_blas); call rrwkv_set_blas once, before creating sessions");
    g_blas_chosen = true;
    rrwkv::cpu::blas_configure(path ? path : "");
  });
}

// ---- models ---------------------------------------------------------------------------------

rrwkv_model_params rrwkv_model_default_params(void) {
  rrwkv_model_params p;
  p.verify_checksums = true;
  return p;
}

rrwkv_status rrwkv_model_load(const char* path, const rrwkv_model_params* params, rrwkv_model** out) {
  clear_out(out);
  return guard(__func__, [&] {
    require(path, "path");
    require(out, "out");
    rrwkv::OpenOptions opts;
    opts.verify_checksums = params ? params->verify_checksums : true;
    auto h = std::make_unique<rrwkv_model>();
    h->model = rrwkv::Model::open(path, opts);
    h->dtypes = h->model->matrix_dtypes();
    try {  // a bad tokenizer fails only the tokenizer calls: the model is usable without it
      h->tokenizer = rrwkv::Tokenizer::from_model(h->model->file(), h->model->config().vocab_size);
      if (!h->tokenizer)
        h->tokenizer_error = "model file '" + std::string(path) +
                             "' carries no tokenizer (no header field tokenizer.kind); tokenize with another "
                             "library, or re-export the model with a tokenizer";
    } catch (const rrwkv::FormatError& e) {
      h->tokenizer_error = e.what();
    }
    *out = h.release();
  });
}

void rrwkv_model_free(rrwkv_model* model) { delete model; }

rrwkv_status rrwkv_model_get_info(const rrwkv_model* model, rrwkv_model_info* info) {
  return guard(__func__, [&] {
    require(model, "model");
    require(info, "info");
    const rrwkv::Model& m = *model->model;
    const rrwkv::ModelConfig& c = m.config();
    rrwkv_model_info r;
    std::memset(&r, 0, sizeof r);
    r.arch = c.arch.c_str();
    r.cm_mode = c.cm_mode.c_str();
    r.dtype = model->dtypes.c_str();
    r.tokenizer = model->tokenizer ? model->tokenizer->kind().c_str() : nullptr;
    r.n_layer = static_cast<int64_t>(c.n_layer);
    r.n_embd = static_cast<int64_t>(c.n_embd);
    r.ffn_dim = static_cast<int64_t>(c.ffn_dim);
    r.vocab_size = m.vocab_size();
    r.medium_interval = static_cast<int64_t>(c.medium_interval);
    r.head_size = static_cast<int64_t>(c.head_size);
    r.layer_norm_eps = c.layer_norm_eps;
    r.format_version = m.file().version();
    r.header_crc32 = m.file().header_crc32();
    r.file_size = m.file().file_size();
    r.decode_bytes_per_token = m.decode_bytes_per_token();
    r.state_size = rrwkv::state_blob_size(m);
    *info = r;
  });
}

int64_t rrwkv_model_vocab_size(const rrwkv_model* model) { return model ? model->model->vocab_size() : 0; }

// ---- tokenizer ------------------------------------------------------------------------------

rrwkv_status rrwkv_tokenize(const rrwkv_model* model, const char* text, size_t text_len, int32_t* tokens,
                            size_t capacity, size_t* n_tokens) {
  return guard(__func__, [&] {
    const rrwkv::Tokenizer& tok = tokenizer_of(model);
    require(n_tokens, "n_tokens");
    if (text_len > 0) require(text, "text");
    if (capacity > 0) require(tokens, "tokens");
    const std::vector<rrwkv::TokenId> ids = tok.encode(std::string_view(text ? text : "", text_len));
    *n_tokens = ids.size();
    if (capacity < ids.size())
      throw ApiError(RRWKV_ERR_BUFFER_TOO_SMALL, "the text is " + std::to_string(ids.size()) +
                                                     " tokens but capacity is " + std::to_string(capacity) +
                                                     "; call again with capacity >= *n_tokens");
    for (size_t i = 0; i < ids.size(); ++i) tokens[i] = static_cast<int32_t>(ids[i]);  // ids < 2^26
  });
}

rrwkv_status rrwkv_detokenize(const rrwkv_model* model, const int32_t* tokens, size_t n, char* text,
                              size_t capacity, size_t* n_bytes) {
  return guard(__func__, [&] {
    const rrwkv::Tokenizer& tok = tokenizer_of(model);
    require(n_bytes, "n_bytes");
    if (n > 0) require(tokens, "tokens");
    if (capacity > 0) require(text, "text");
    const std::vector<int64_t> ids(tokens, tokens + n);
    const std::string bytes = tok.decode(ids.data(), ids.size());
    *n_bytes = bytes.size();
    if (capacity <= bytes.size())
      throw ApiError(RRWKV_ERR_BUFFER_TOO_SMALL, "the text is " + std::to_string(bytes.size()) +
                                                     " bytes plus a NUL but capacity is " + std::to_string(capacity) +
                                                     "; call again with capacity >= *n_bytes + 1");
    std::memcpy(text, bytes.data(), bytes.size());
    text[bytes.size()] = '\0';
  });
}

// ---- sessions -------------------------------------------------------------------------------

rrwkv_session_params rrwkv_session_default_params(void) {
  rrwkv_session_params p;
  p.n_threads = 0;
  return p;
}

rrwkv_status rrwkv_session_new(const rrwkv_model* model, const rrwkv_session_params* params, rrwkv_session** out) {
  clear_out(out);
  return guard(__func__, [&] {
    require(model, "model");
    require(out, "out");
    const int32_t n_threads = params ? params->n_threads : 0;
    if (n_threads < 0)
      throw ApiError(RRWKV_ERR_INVALID_ARGUMENT, "n_threads is " + std::to_string(n_threads) +
                                                     "; expected >= 1, or 0 for every available CPU");
    choose_blas_from_env();
    auto h = std::make_unique<rrwkv_session>();
    h->session = std::make_unique<rrwkv::Session>(model->model, n_threads);
    h->state_size = rrwkv::state_blob_size(*model->model);
    *out = h.release();
  });
}

void rrwkv_session_free(rrwkv_session* session) { delete session; }

rrwkv_status rrwkv_session_clone(const rrwkv_session* session, rrwkv_session** out) {
  clear_out(out);
  return guard(__func__, [&] {
    require(session, "session");
    require(out, "out");
    auto h = std::make_unique<rrwkv_session>();
    h->session = session->session->clone();
    h->state_size = session->state_size;
    *out = h.release();
  });
}

rrwkv_status rrwkv_session_step(rrwkv_session* session, int32_t token, float* logits, size_t logits_len) {
  return guard(__func__, [&] {
    require(session, "session");
    rrwkv::Session& s = *session->session;
    const auto V = static_cast<size_t>(s.model()->vocab_size());
    if (logits) check_logits_len(logits_len, V, "one token's logits (vocab_size)");
    s.step(token, logits);
  });
}

rrwkv_status rrwkv_session_eval(rrwkv_session* session, const int32_t* tokens, size_t n, float* logits,
                                size_t logits_len) {
  return guard(__func__, [&] {
    require(session, "session");
    rrwkv::Session& s = *session->session;
    if (logits) check_logits_len(logits_len, static_cast<size_t>(s.model()->vocab_size()), "the last token's logits");
    const std::vector<int64_t> ids = widen(tokens, n);
    s.forward(ids.data(), static_cast<int64_t>(n), logits, false);
  });
}

rrwkv_status rrwkv_session_eval_all(rrwkv_session* session, const int32_t* tokens, size_t n, float* logits,
                                    size_t logits_len) {
  return guard(__func__, [&] {
    require(session, "session");
    require(logits, "logits");
    rrwkv::Session& s = *session->session;
    const auto V = static_cast<size_t>(s.model()->vocab_size());
    if (n > std::numeric_limits<size_t>::max() / V)
      throw ApiError(RRWKV_ERR_INVALID_ARGUMENT, "n * vocab_size overflows size_t (n = " + std::to_string(n) + ")");
    check_logits_len(logits_len, n * V, "n x vocab_size logits");
    const std::vector<int64_t> ids = widen(tokens, n);
    s.forward(ids.data(), static_cast<int64_t>(n), logits, true);
  });
}

rrwkv_status rrwkv_session_reset(rrwkv_session* session) {
  return guard(__func__, [&] {
    require(session, "session");
    session->session->reset();
  });
}

int64_t rrwkv_session_pos(const rrwkv_session* session) {
  try {
    return session ? session->session->pos() : -1;
  } catch (...) {  // a failed mutex lock: not expected
    return -1;
  }
}

size_t rrwkv_session_state_size(const rrwkv_session* session) { return session ? session->state_size : 0; }

rrwkv_status rrwkv_session_get_state(const rrwkv_session* session, void* buf, size_t buf_size, size_t* written) {
  return guard(__func__, [&] {
    require(session, "session");
    if (buf_size > 0) require(buf, "buf");
    if (written) *written = session->state_size;
    if (buf_size < session->state_size)
      throw ApiError(RRWKV_ERR_BUFFER_TOO_SMALL, "buf_size is " + std::to_string(buf_size) +
                                                     " bytes but the state is " + std::to_string(session->state_size) +
                                                     "; allocate rrwkv_session_state_size() bytes");
    const std::string blob = session->session->get_state();
    std::memcpy(buf, blob.data(), blob.size());
  });
}

rrwkv_status rrwkv_session_set_state(rrwkv_session* session, const void* buf, size_t size) {
  return guard(__func__, [&] {
    require(session, "session");
    require(buf, "buf");
    session->session->set_state(buf, size);
  });
}

// ---- batches --------------------------------------------------------------------------------

rrwkv_batch_params rrwkv_batch_default_params(void) {
  rrwkv_batch_params p;
  p.capacity = 8;
  p.n_threads = 0;
  p.exact = true;
  return p;
}

rrwkv_status rrwkv_batch_new(const rrwkv_model* model, const rrwkv_batch_params* params, rrwkv_batch** out) {
  clear_out(out);
  return guard(__func__, [&] {
    require(model, "model");
    require(out, "out");
    const rrwkv_batch_params c = params ? *params : rrwkv_batch_default_params();
    if (c.n_threads < 0)
      throw ApiError(RRWKV_ERR_INVALID_ARGUMENT, "n_threads is " + std::to_string(c.n_threads) +
                                                     "; expected >= 1, or 0 for every available CPU");
    choose_blas_from_env();
    rrwkv::EngineOptions o;
    o.capacity = c.capacity;
    o.threads = c.n_threads;
    o.exact = c.exact;
    auto h = std::make_unique<rrwkv_batch>();
    h->engine = std::make_unique<rrwkv::Engine>(model->model, o);
    h->state_size = rrwkv::state_blob_size(*model->model);
    *out = h.release();
  });
}

void rrwkv_batch_free(rrwkv_batch* batch) { delete batch; }

rrwkv_status rrwkv_batch_add(rrwkv_batch* batch, int32_t* row) {
  if (row) *row = -1;
  return guard(__func__, [&] {
    require(batch, "batch");
    require(row, "row");
    *row = static_cast<int32_t>(batch->engine->add());
  });
}

rrwkv_status rrwkv_batch_remove(rrwkv_batch* batch, int32_t row) {
  return guard(__func__, [&] {
    require(batch, "batch");
    batch->engine->remove(row);
  });
}

rrwkv_status rrwkv_batch_step(rrwkv_batch* batch, const int32_t* rows, const int32_t* tokens, size_t n, float* logits,
                              size_t logits_len) {
  return guard(__func__, [&] {
    require(batch, "batch");
    require(rows, "rows");
    rrwkv::Engine& e = *batch->engine;
    if (n == 0) throw ApiError(RRWKV_ERR_INVALID_ARGUMENT, "n is 0; expected at least one row");
    const auto V = static_cast<size_t>(e.model()->vocab_size());
    if (logits) {
      if (n > std::numeric_limits<size_t>::max() / V)
        throw ApiError(RRWKV_ERR_INVALID_ARGUMENT, "n * vocab_size overflows size_t (n = " + std::to_string(n) + ")");
      check_logits_len(logits_len, n * V, "n x vocab_size logits");
    }
    const std::vector<int64_t> r(rows, rows + n), ids = widen(tokens, n);
    e.step(r.data(), ids.data(), static_cast<int64_t>(n), logits);
  });
}

rrwkv_status rrwkv_batch_eval(rrwkv_batch* batch, int32_t row, const int32_t* tokens, size_t n, float* logits,
                              size_t logits_len) {
  return guard(__func__, [&] {
    require(batch, "batch");
    rrwkv::Engine& e = *batch->engine;
    if (logits) check_logits_len(logits_len, static_cast<size_t>(e.model()->vocab_size()), "the last token's logits");
    const std::vector<int64_t> ids = widen(tokens, n);
    e.forward(row, ids.data(), static_cast<int64_t>(n), logits, false);
  });
}

rrwkv_status rrwkv_batch_reset(rrwkv_batch* batch, int32_t row) {
  return guard(__func__, [&] {
    require(batch, "batch");
    batch->engine->reset(row);
  });
}

int64_t rrwkv_batch_pos(const rrwkv_batch* batch, int32_t row) {
  try {
    return batch ? batch->engine->pos(row) : -1;
  } catch (...) {  // a row not in the batch
    return -1;
  }
}

rrwkv_status rrwkv_batch_get_state(const rrwkv_batch* batch, int32_t row, void* buf, size_t buf_size,
                                   size_t* written) {
  return guard(__func__, [&] {
    require(batch, "batch");
    if (buf_size > 0) require(buf, "buf");
    if (written) *written = batch->state_size;
    const std::string blob = batch->engine->get_state(row);  // checks the row first
    if (buf_size < blob.size())
      throw ApiError(RRWKV_ERR_BUFFER_TOO_SMALL, "buf_size is " + std::to_string(buf_size) +
                                                     " bytes but the state is " + std::to_string(blob.size()) +
                                                     "; allocate rrwkv_model_info.state_size bytes");
    std::memcpy(buf, blob.data(), blob.size());
  });
}

rrwkv_status rrwkv_batch_set_state(rrwkv_batch* batch, int32_t row, const void* buf, size_t size) {
  return guard(__func__, [&] {
    require(batch, "batch");
    require(buf, "buf");
    batch->engine->set_state(row, buf, size);
  });
}

// ---- sampling -------------------------------------------------------------------------------

rrwkv_sampler_params rrwkv_sampler_default_params(void) {
  const rrwkv::SamplerParams d;
  rrwkv_sampler_params p;
  p.temperature = d.temperature;
  p.top_p = d.top_p;
  p.top_k = static_cast<int32_t>(d.top_k);
  p.min_p = d.min_p;
  p.presence_penalty = d.alpha_presence;
  p.frequency_penalty = d.alpha_frequency;
  p.penalty_decay = d.alpha_decay;
  p.repetition_penalty = d.repetition_penalty;
  p.banned_tokens = nullptr;
  p.n_banned = 0;
  p.stop_tokens = nullptr;
  p.n_stop = 0;
  p.has_seed = false;
  p.seed = 0;
  return p;
}

rrwkv_status rrwkv_sampler_new(const rrwkv_model* model, const rrwkv_sampler_params* params, rrwkv_sampler** out) {
  clear_out(out);
  return guard(__func__, [&] {
    require(model, "model");
    require(out, "out");
    const rrwkv_sampler_params c = params ? *params : rrwkv_sampler_default_params();
    if (c.n_banned > 0) require(c.banned_tokens, "params->banned_tokens");
    if (c.n_stop > 0) require(c.stop_tokens, "params->stop_tokens");
    const auto V = static_cast<size_t>(model->model->vocab_size());
    rrwkv::SamplerParams p;
    p.temperature = c.temperature;
    p.top_p = c.top_p;
    p.top_k = c.top_k;
    p.min_p = c.min_p;
    p.alpha_presence = c.presence_penalty;
    p.alpha_frequency = c.frequency_penalty;
    p.alpha_decay = c.penalty_decay;
    p.repetition_penalty = c.repetition_penalty;
    p.banned_tokens.assign(c.banned_tokens, c.banned_tokens + c.n_banned);
    p.stop_tokens.assign(c.stop_tokens, c.stop_tokens + c.n_stop);
    rrwkv::add_model_defaults(p, model->tokenizer.get(), V, /*use_default_stop=*/c.stop_tokens == nullptr);
    if (c.has_seed) p.seed = c.seed;
    *out = new rrwkv_sampler{rrwkv::Sampler(V, std::move(p))};
  });
}

void rrwkv_sampler_free(rrwkv_sampler* sampler) { delete sampler; }

rrwkv_status rrwkv_sampler_sample(rrwkv_sampler* sampler, const float* logits, size_t n_logits, int32_t* token) {
  return guard(__func__, [&] {
    require(sampler, "sampler");
    require(logits, "logits");
    require(token, "token");
    *token = static_cast<int32_t>(sampler->sampler.sample(logits, n_logits));
  });
}

rrwkv_status rrwkv_sampler_sample_masked(rrwkv_sampler* sampler, const float* logits, size_t n_logits,
                                         const uint32_t* allowed, size_t n_words, int32_t* token) {
  return guard(__func__, [&] {
    require(sampler, "sampler");
    require(logits, "logits");
    require(token, "token");
    if (allowed && n_words != rrwkv::mask_words(n_logits))
      throw rrwkv::InvalidArgument("n_words is " + std::to_string(n_words) + "; a mask of " + std::to_string(n_logits) +
                                   " tokens has (n_logits + 31) / 32 = " +
                                   std::to_string(rrwkv::mask_words(n_logits)) + " words");
    *token = static_cast<int32_t>(sampler->sampler.sample(logits, n_logits, allowed));
  });
}

rrwkv_status rrwkv_sampler_set_logit_bias(rrwkv_sampler* sampler, const int32_t* tokens, const float* bias, size_t n) {
  return guard(__func__, [&] {
    require(sampler, "sampler");
    if (n > 0) {
      require(tokens, "tokens");
      require(bias, "bias");
    }
    std::vector<rrwkv::TokenBias> b(n);
    for (size_t i = 0; i < n; ++i) b[i] = {tokens[i], bias[i]};
    sampler->sampler.set_logit_bias(std::move(b));
  });
}

rrwkv_status rrwkv_sampler_accept(rrwkv_sampler* sampler, int32_t token) {
  return guard(__func__, [&] {
    require(sampler, "sampler");
    sampler->sampler.accept(token);
  });
}

bool rrwkv_sampler_is_stop(const rrwkv_sampler* sampler, int32_t token) {
  return sampler != nullptr && sampler->sampler.is_stop(token);
}

rrwkv_status rrwkv_sampler_reset(rrwkv_sampler* sampler) {
  return guard(__func__, [&] {
    require(sampler, "sampler");
    sampler->sampler.reset();
  });
}

}  // extern "C"
