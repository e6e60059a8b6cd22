// The C API's batches (rrwkv_batch_*): many sequences stepped together. Conventions: rrwkv_capi.cpp.
#include "capi/handles.h"

#include <cstring>
#include <limits>

#include "engine/state_blob.h"

using namespace rrwkv::capi;

extern "C" {

// ---- batches --------------------------------------------------------------------------------

rrwkv_batch_params rrwkv_batch_default_params(void) {
  rrwkv_batch_params p;
  p.capacity = 8;
  p.n_threads = 0;
  p.exact = true;
  return p;
}

rrwkv_status rrwkv_batch_new(const rrwkv_model* model, const rrwkv_batch_params* params, rrwkv_batch** out) {
  return rrwkv_batch_new_on(model, params, nullptr, out);
}

rrwkv_status rrwkv_batch_new_on(const rrwkv_model* model, const rrwkv_batch_params* params, const char* device,
                                rrwkv_batch** out) {
  clear_out(out);
  return guard(__func__, [&] {
    require(model, "model");
    require(out, "out");
    const rrwkv_batch_params c = params ? *params : rrwkv_batch_default_params();
    if (c.n_threads < 0)
      throw ApiError(RRWKV_ERR_INVALID_ARGUMENT, "n_threads is " + std::to_string(c.n_threads) +
                                                     "; expected >= 1, or 0 for every available CPU");
    const rrwkv::Device dev = device_arg(device, c.exact);
    choose_blas_from_env();
    rrwkv::EngineOptions o;
    o.device = dev;
    o.capacity = c.capacity;
    o.threads = c.n_threads;
    o.exact = c.exact;
    auto h = std::make_unique<rrwkv_batch>();
    h->engine = std::make_unique<rrwkv::Engine>(model->model, o);
    h->state_size = rrwkv::state_blob_size(*model->model);
    h->device = dev.str();
    *out = h.release();
  });
}

void rrwkv_batch_free(rrwkv_batch* batch) { delete batch; }

const char* rrwkv_batch_device(const rrwkv_batch* batch) { return batch ? batch->device.c_str() : ""; }

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

}  // extern "C"
