// What the C API's translation units share (not installed): the handles behind the opaque C
// types, and guard(), through which every C function runs its body so that no exception leaves
// it and each failure sets the per-thread last error.
#pragma once

#include "rrwkv_rt/rrwkv.h"

#include <cstdint>
#include <memory>
#include <stdexcept>
#include <string>
#include <system_error>
#include <vector>

#include "core/errors.h"
#include "engine/engine.h"
#include "engine/session.h"
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
  std::string device;  // for rrwkv_session_device: "cpu", "cuda:0"
};

struct rrwkv_batch {
  std::unique_ptr<rrwkv::Engine> engine;  // holds the model alive
  size_t state_size = 0;
  std::string device;  // for rrwkv_batch_device
};

namespace rrwkv::capi {

// A failure detected here, before the runtime is called.
class ApiError : public std::runtime_error {
 public:
  ApiError(rrwkv_status status, const std::string& msg) : std::runtime_error(msg), status(status) {}
  rrwkv_status status;
};

// Records "fn: msg" as this thread's last error and returns status.
rrwkv_status fail(rrwkv_status status, const char* fn, const char* msg) noexcept;
// Clears this thread's last error (a call that succeeded).
void clear_error() noexcept;

// Runs body, returns RRWKV_OK or the status of what it threw. `invalid` is the status of a
// runtime InvalidArgument (STATE_MISMATCH where the only runtime check is of a state blob).
template <class F>
rrwkv_status guard(const char* fn, F&& body, rrwkv_status invalid = RRWKV_ERR_INVALID_ARGUMENT) noexcept {
  try {
    body();
    clear_error();
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

void require(const void* p, const char* name);

template <class T>
void clear_out(T** out) {
  if (out) *out = nullptr;
}

void check_logits_len(size_t len, size_t needed, const char* what);
std::vector<int64_t> widen(const int32_t* tokens, size_t n);
const rrwkv::Tokenizer& tokenizer_of(const rrwkv_model* model);
void choose_blas_from_env();
// The device named by a *_new_on call (NULL: the CPU; "auto" as core/device.h's resolve_device,
// its notice written once per process to stderr); InvalidArgument for a bad name.
rrwkv::Device device_arg(const char* name, bool exact);

}  // namespace rrwkv::capi
