// The C API (include/rrwkv_rt/rrwkv.h) over the C++ runtime: argument checks, the mapping of
// exceptions to status codes, and the per-thread last-error message; errors, models, tokenizers
// and sessions here, batches in capi_batch.cpp, samplers in capi_sampler.cpp. No exception leaves
// a C API function: each body runs inside guard() (handles.h).
#include "capi/handles.h"

#include <cstdio>

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

namespace rrwkv::capi {

namespace {
thread_local std::string t_error;
thread_local const char* t_static_error = nullptr;  // used when t_error cannot be allocated
}  // namespace

rrwkv_status fail(rrwkv_status status, const char* fn, const char* msg) noexcept {
  try {
    t_error.assign(fn).append(": ").append(msg);
    t_static_error = nullptr;
  } catch (...) {
    t_static_error = "out of memory while formatting an rrwkv error message";
  }
  return status;
}

void clear_error() noexcept {
  t_error.clear();
  t_static_error = nullptr;
}

void require(const void* p, const char* name) {
  if (!p) throw ApiError(RRWKV_ERR_INVALID_ARGUMENT, std::string(name) + " is NULL; expected a valid pointer");
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

rrwkv::Device device_arg(const char* name, bool exact) {
  const rrwkv::DeviceChoice c =
      rrwkv::resolve_device(name ? name : "cpu", exact ? "" : "exact = false (the fast path) runs on the CPU only");
  if (!c.notice.empty() && rrwkv::claim_device_notice()) std::fprintf(stderr, "rrwkv_rt: %s\n", c.notice.c_str());
  return c.device;
}

void choose_blas_from_env() {
  std::lock_guard<std::mutex> lock(g_blas_mu);
  if (g_blas_chosen) return;
  g_blas_chosen = true;
  rrwkv::cpu::blas_configure_from_env("");
}

}  // namespace rrwkv::capi

using namespace rrwkv::capi;

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

namespace {

rrwkv_status load_model(const char* func, const char* path, const rrwkv_model_params* params, bool read_into_memory,
                        rrwkv_model** out) {
  clear_out(out);
  return guard(func, [&] {
    require(path, "path");
    require(out, "out");
    rrwkv::OpenOptions opts;
    opts.verify_checksums = params ? params->verify_checksums : true;
    opts.read_into_memory = read_into_memory;
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

}  // namespace

rrwkv_status rrwkv_model_load(const char* path, const rrwkv_model_params* params, rrwkv_model** out) {
  return load_model(__func__, path, params, false, out);
}

rrwkv_status rrwkv_model_load_into_memory(const char* path, const rrwkv_model_params* params, rrwkv_model** out) {
  return load_model(__func__, path, params, true, out);
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
  return rrwkv_session_new_on(model, params, nullptr, out);
}

rrwkv_status rrwkv_session_new_on(const rrwkv_model* model, const rrwkv_session_params* params, const char* device,
                                  rrwkv_session** out) {
  clear_out(out);
  return guard(__func__, [&] {
    require(model, "model");
    require(out, "out");
    const int32_t n_threads = params ? params->n_threads : 0;
    if (n_threads < 0)
      throw ApiError(RRWKV_ERR_INVALID_ARGUMENT, "n_threads is " + std::to_string(n_threads) +
                                                     "; expected >= 1, or 0 for every available CPU");
    const rrwkv::Device dev = device_arg(device, true);
    choose_blas_from_env();
    auto h = std::make_unique<rrwkv_session>();
    h->session = std::make_unique<rrwkv::Session>(model->model, n_threads, rrwkv::Session::kDefaultPrefillChunk, dev);
    h->state_size = rrwkv::state_blob_size(*model->model);
    h->device = dev.str();
    *out = h.release();
  });
}

void rrwkv_session_free(rrwkv_session* session) { delete session; }

const char* rrwkv_session_device(const rrwkv_session* session) { return session ? session->device.c_str() : ""; }

int32_t rrwkv_cuda_device_count(void) { return rrwkv::cuda_device_count(); }

rrwkv_status rrwkv_session_clone(const rrwkv_session* session, rrwkv_session** out) {
  clear_out(out);
  return guard(__func__, [&] {
    require(session, "session");
    require(out, "out");
    auto h = std::make_unique<rrwkv_session>();
    h->session = session->session->clone();
    h->state_size = session->state_size;
    h->device = session->device;
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

}  // extern "C"
