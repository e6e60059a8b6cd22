/* rrwkv.h: the C API of rrwkv_rt, a runtime for RWKV-family and RRWKV language models.
 *
 * Plain C99, usable from C, C++ and any language with a C FFI. Link librrwkv_rt (CMake:
 * find_package(rrwkv_rt) and target rrwkv_rt::rrwkv_rt); docs/C_API.md shows how.
 *
 * Handles. An rrwkv_model is an immutable, memory-mapped .rrwkv file; an rrwkv_session is one
 * sequence's recurrent state on a model. A session keeps its model alive, so the model handle may
 * be freed before its sessions. Every *_free function accepts NULL.
 *
 * Errors. Every call that can fail returns an rrwkv_status; RRWKV_OK (0) is success. On failure
 * rrwkv_last_error() returns a sentence saying what was wrong, and output handles are set to NULL.
 * No C++ exception crosses this boundary and nothing aborts or exits on bad input.
 *
 * Thread-safety. A model may be used by any number of threads at once. A session may be called
 * from any thread; calls on one session are serialised (run several sessions for parallel
 * sequences). The last-error message is kept per thread.
 */
#ifndef RRWKV_RT_RRWKV_H
#define RRWKV_RT_RRWKV_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#if defined(_WIN32)
#  if defined(RRWKV_BUILDING_LIBRARY)
#    define RRWKV_API __declspec(dllexport)
#  else
#    define RRWKV_API __declspec(dllimport)
#  endif
#elif defined(__GNUC__) || defined(__clang__)
#  define RRWKV_API __attribute__((visibility("default")))
#else
#  define RRWKV_API
#endif

#ifdef __cplusplus
extern "C" {
#endif

/* ---- status codes ------------------------------------------------------------------------- */

typedef enum rrwkv_status {
  RRWKV_OK = 0,
  RRWKV_ERR_INVALID_ARGUMENT = 1, /* a NULL pointer, a zero count, a bad option */
  RRWKV_ERR_FILE_NOT_FOUND = 2,   /* the path does not exist or cannot be opened */
  RRWKV_ERR_FORMAT = 3,           /* not a .rrwkv file, truncated, corrupt, newer format, bad tokenizer */
  RRWKV_ERR_OUT_OF_RANGE = 4,     /* a token id outside [0, vocab_size) */
  RRWKV_ERR_STATE_MISMATCH = 5,   /* a state blob of another model, another size, or corrupt */
  RRWKV_ERR_BUFFER_TOO_SMALL = 6, /* an output buffer shorter than the result; the size needed is reported */
  RRWKV_ERR_OUT_OF_MEMORY = 7,
  RRWKV_ERR_INTERNAL = 8          /* a failed system call (threads), or a bug: the message says which */
} rrwkv_status;

/* The message of the last failed call on this thread ("" if none; a call that succeeds clears
 * it). The pointer stays valid until the next rrwkv_* call on this thread. Never NULL. */
RRWKV_API const char* rrwkv_last_error(void);

/* "RRWKV_OK", "RRWKV_ERR_FORMAT", ...; "RRWKV_ERR_UNKNOWN" for a value not listed above. */
RRWKV_API const char* rrwkv_status_name(rrwkv_status status);

/* The library's version, e.g. "0.1.0" (the Python package's version). */
RRWKV_API const char* rrwkv_version(void);

/* Use the BLAS library at `path` (a shared library exporting cblas_sgemm, e.g. OpenBLAS) for the
 * matrix products of rrwkv_session_eval; "" or NULL means the built-in kernels. Without this call
 * the environment variable RRWKV_BLAS is used if set ("0" or "" for none), else the built-in
 * kernels. Chosen once per process, at the first rrwkv_session_new: call it before that.
 * Returns RRWKV_OK; RRWKV_ERR_INVALID_ARGUMENT if the choice was already made. */
RRWKV_API rrwkv_status rrwkv_set_blas(const char* path);

/* ---- models ------------------------------------------------------------------------------- */

typedef struct rrwkv_model rrwkv_model;

typedef struct rrwkv_model_params {
  bool verify_checksums; /* CRC-check every tensor at load (about 1 GB/s); default true */
} rrwkv_model_params;

RRWKV_API rrwkv_model_params rrwkv_model_default_params(void);

/* Opens and validates a .rrwkv file (header, layout, bounds, checksums). params may be NULL for
 * the defaults. Returns RRWKV_OK and *out; RRWKV_ERR_INVALID_ARGUMENT (path or out NULL),
 * RRWKV_ERR_FILE_NOT_FOUND, RRWKV_ERR_FORMAT, RRWKV_ERR_OUT_OF_MEMORY. */
RRWKV_API rrwkv_status rrwkv_model_load(const char* path, const rrwkv_model_params* params, rrwkv_model** out);

/* rrwkv_model_load, but the file is read into private, read-only memory on 2 MiB pages instead of
 * mapped: costs its size in RAM and the read at load. A mapped model's CPU decode took 1.15-1.26x
 * the time on the machine measured (docs/CPU_DECODE.md); and a copy is
 * immune to the file being truncated or overwritten on disk afterwards. The same statuses. */
RRWKV_API rrwkv_status rrwkv_model_load_into_memory(const char* path, const rrwkv_model_params* params,
                                                    rrwkv_model** out);

/* Releases the handle; sessions created from it stay valid. NULL is a no-op. */
RRWKV_API void rrwkv_model_free(rrwkv_model* model);

typedef struct rrwkv_model_info {
  const char* arch;        /* the architecture: "rwkv4", "rrwkv", ... */
  const char* cm_mode;     /* "replace" or "add" (RRWKV channel-mix mode) */
  const char* dtype;       /* storage types of the weight matrices: "f32", "f16", "bf16" or a mix ("f16+f32") */
  const char* tokenizer;   /* "bytes", "world", "hf" (a tokenizer.json), or NULL if the file carries no usable one */
  int64_t n_layer;
  int64_t n_embd;
  int64_t ffn_dim;
  int64_t vocab_size;      /* logits per token */
  int64_t medium_interval; /* RRWKV s (1 otherwise) */
  int64_t head_size;       /* RWKV-5/6/7 head size (0 otherwise) */
  double layer_norm_eps;
  uint32_t format_version;
  uint32_t header_crc32;   /* identifies the model's contents */
  uint64_t file_size;
  uint64_t decode_bytes_per_token; /* weight bytes one step reads */
  size_t state_size;               /* bytes of one sequence's state blob */
} rrwkv_model_info;

/* Fills *info. Its strings belong to the model handle and live as long as it.
 * Returns RRWKV_OK; RRWKV_ERR_INVALID_ARGUMENT (model or info NULL). */
RRWKV_API rrwkv_status rrwkv_model_get_info(const rrwkv_model* model, rrwkv_model_info* info);

/* Logits per token; 0 if model is NULL. */
RRWKV_API int64_t rrwkv_model_vocab_size(const rrwkv_model* model);

/* ---- tokenizer (the one the model file carries) ----------------------------------------- */

/* Encodes text_len bytes of text into token ids. Writes *n_tokens (always, when non-NULL) and,
 * if capacity >= *n_tokens, the ids. Returns RRWKV_OK; RRWKV_ERR_INVALID_ARGUMENT (model or
 * n_tokens NULL, text NULL with text_len > 0, tokens NULL with capacity > 0); RRWKV_ERR_FORMAT
 * (the file has no usable tokenizer); RRWKV_ERR_BUFFER_TOO_SMALL (call again with *n_tokens). */
RRWKV_API rrwkv_status rrwkv_tokenize(const rrwkv_model* model, const char* text, size_t text_len, int32_t* tokens,
                                      size_t capacity, size_t* n_tokens);

/* Decodes n ids into bytes plus a terminating NUL. Writes *n_bytes (always, when non-NULL; the
 * NUL not counted) and, if capacity > *n_bytes, the bytes. Returns RRWKV_OK;
 * RRWKV_ERR_INVALID_ARGUMENT (model or n_bytes NULL, tokens NULL with n > 0, text NULL with
 * capacity > 0); RRWKV_ERR_FORMAT (no usable tokenizer); RRWKV_ERR_OUT_OF_RANGE (a bad id);
 * RRWKV_ERR_BUFFER_TOO_SMALL (call again with capacity *n_bytes + 1). */
RRWKV_API rrwkv_status rrwkv_detokenize(const rrwkv_model* model, const int32_t* tokens, size_t n, char* text,
                                        size_t capacity, size_t* n_bytes);

/* ---- sessions ----------------------------------------------------------------------------- */

typedef struct rrwkv_session rrwkv_session;

typedef struct rrwkv_session_params {
  int32_t n_threads; /* threads of the session's pool; 0 (default) = every CPU this process may use */
} rrwkv_session_params;

RRWKV_API rrwkv_session_params rrwkv_session_default_params(void);

/* A session at the initial state (pos 0). params may be NULL for the defaults. Returns RRWKV_OK
 * and *out; RRWKV_ERR_INVALID_ARGUMENT (model or out NULL, n_threads < 0),
 * RRWKV_ERR_OUT_OF_MEMORY, RRWKV_ERR_INTERNAL (threads could not be started). */
RRWKV_API rrwkv_status rrwkv_session_new(const rrwkv_model* model, const rrwkv_session_params* params,
                                         rrwkv_session** out);

/* Devices. A session or batch runs on the device named at its creation by the *_new_on functions:
 * "cpu"; "cuda" (= "cuda:0") or "cuda:N", a CUDA GPU (builds with the CUDA kernels; exact
 * batches only); "auto", cuda:0 when rrwkv_cuda_device_count() > 0 and otherwise the CPU (also
 * the CPU for a batch with exact = false), writing one line to stderr, once per process, that
 * says which it picked and why. NULL is "cpu". A name it does not know, or "cuda" where there is
 * no usable CUDA device (a build without CUDA, no driver, no GPU), is RRWKV_ERR_INVALID_ARGUMENT
 * with a message saying which. The weights are copied to a GPU once per model and shared by every
 * session and batch on it; logits and state blobs are host memory on every device, and a state
 * blob moves between devices. rrwkv_session_new / rrwkv_batch_new are the same on "cpu". */

/* Usable CUDA devices now: 0 in a build without CUDA, without a driver or without a GPU. */
RRWKV_API int32_t rrwkv_cuda_device_count(void);

/* rrwkv_session_new on a device (see "Devices" above). */
RRWKV_API rrwkv_status rrwkv_session_new_on(const rrwkv_model* model, const rrwkv_session_params* params,
                                            const char* device, rrwkv_session** out);

/* The device the session runs on: "cpu" or "cuda:N" (what "auto" resolved to); "" for NULL.
 * The string lives as long as the session. */
RRWKV_API const char* rrwkv_session_device(const rrwkv_session* session);

/* NULL is a no-op. */
RRWKV_API void rrwkv_session_free(rrwkv_session* session);

/* An independent session with a copy of the state, the same model, thread count and device.
 * Returns RRWKV_OK and *out; RRWKV_ERR_INVALID_ARGUMENT, RRWKV_ERR_OUT_OF_MEMORY. */
RRWKV_API rrwkv_status rrwkv_session_clone(const rrwkv_session* session, rrwkv_session** out);

/* Feeds one token. logits (may be NULL) receives vocab_size floats; logits_len is its length in
 * floats. Returns RRWKV_OK; RRWKV_ERR_INVALID_ARGUMENT (session NULL);
 * RRWKV_ERR_OUT_OF_RANGE (bad token; the state is unchanged); RRWKV_ERR_BUFFER_TOO_SMALL
 * (logits_len < vocab_size; nothing is computed). */
RRWKV_API rrwkv_status rrwkv_session_step(rrwkv_session* session, int32_t token, float* logits, size_t logits_len);

/* Feeds n >= 1 tokens in sequence mode (prompt ingestion; same result as n steps up to float
 * rounding). logits (may be NULL, which skips the output projection) receives the last token's
 * vocab_size logits. Returns RRWKV_OK; RRWKV_ERR_INVALID_ARGUMENT (session NULL, tokens NULL,
 * n == 0); RRWKV_ERR_OUT_OF_RANGE (a bad token; all are checked first and the state is
 * unchanged); RRWKV_ERR_BUFFER_TOO_SMALL (logits_len < vocab_size). */
RRWKV_API rrwkv_status rrwkv_session_eval(rrwkv_session* session, const int32_t* tokens, size_t n, float* logits,
                                          size_t logits_len);

/* As rrwkv_session_eval, but logits (required) receives every token's logits, row-major
 * n x vocab_size, so logits_len must be at least n * vocab_size. */
RRWKV_API rrwkv_status rrwkv_session_eval_all(rrwkv_session* session, const int32_t* tokens, size_t n, float* logits,
                                              size_t logits_len);

/* Back to the initial state, pos 0. Returns RRWKV_OK; RRWKV_ERR_INVALID_ARGUMENT (NULL). */
RRWKV_API rrwkv_status rrwkv_session_reset(rrwkv_session* session);

/* Tokens fed since the last reset (or carried by a restored state); -1 if session is NULL. */
RRWKV_API int64_t rrwkv_session_pos(const rrwkv_session* session);

/* Bytes of a state blob for this session's model; 0 if session is NULL. */
RRWKV_API size_t rrwkv_session_state_size(const rrwkv_session* session);

/* Copies the state (a versioned blob tagged with the model's identity) into buf. Writes *written
 * (when non-NULL) with the blob's size, also on RRWKV_ERR_BUFFER_TOO_SMALL. Returns RRWKV_OK;
 * RRWKV_ERR_INVALID_ARGUMENT (session NULL, buf NULL with buf_size > 0);
 * RRWKV_ERR_BUFFER_TOO_SMALL (buf_size < rrwkv_session_state_size()). */
RRWKV_API rrwkv_status rrwkv_session_get_state(const rrwkv_session* session, void* buf, size_t buf_size,
                                               size_t* written);

/* Restores a blob from rrwkv_session_get_state of a session on the same model. Returns RRWKV_OK;
 * RRWKV_ERR_INVALID_ARGUMENT (session or buf NULL); RRWKV_ERR_FORMAT (not a state blob, another
 * version, truncated or corrupt); RRWKV_ERR_STATE_MISMATCH (an intact state of another model).
 * On any error the state is unchanged. */
RRWKV_API rrwkv_status rrwkv_session_set_state(rrwkv_session* session, const void* buf, size_t size);

/* ---- batches ------------------------------------------------------------------------------ */

/* A batch: up to `capacity` independent sequences ("rows") on one model, stepped together so that
 * the weights are read once for all of them (much more throughput than one session per sequence).
 * Rows join with rrwkv_batch_add and leave with rrwkv_batch_remove between calls; each has its own
 * state and position. Calls on one batch are serialised. Row ids are in [0, capacity). */
typedef struct rrwkv_batch rrwkv_batch;

typedef struct rrwkv_batch_params {
  int32_t capacity;  /* most rows at once, 1..4096; default 8 */
  int32_t n_threads; /* 0 (default) = every CPU this process may use */
  bool exact;        /* true (default): f32 activations, every row of a step bit for bit what a session
                        gives alone; false: the fast path: activations rounded to bf16 (int8 per block
                        of 32 for quantized weights) for the CPU's dot-product instructions: more
                        throughput on large batches (and prompts, quantized weights), each row computed
                        independently of the others (docs/FAST_PATH.md) */
} rrwkv_batch_params;

RRWKV_API rrwkv_batch_params rrwkv_batch_default_params(void);

/* Returns RRWKV_OK and *out; RRWKV_ERR_INVALID_ARGUMENT (NULL, a bad capacity or n_threads),
 * RRWKV_ERR_OUT_OF_MEMORY, RRWKV_ERR_INTERNAL. A batch keeps its model alive. */
RRWKV_API rrwkv_status rrwkv_batch_new(const rrwkv_model* model, const rrwkv_batch_params* params, rrwkv_batch** out);

/* rrwkv_batch_new on a device (see "Devices" above; a GPU batch must be exact). */
RRWKV_API rrwkv_status rrwkv_batch_new_on(const rrwkv_model* model, const rrwkv_batch_params* params,
                                          const char* device, rrwkv_batch** out);

/* The device the batch runs on: "cpu" or "cuda:N"; "" for NULL. Lives as long as the batch. */
RRWKV_API const char* rrwkv_batch_device(const rrwkv_batch* batch);

/* NULL is a no-op. */
RRWKV_API void rrwkv_batch_free(rrwkv_batch* batch);

/* A free row at the initial state into *row. RRWKV_ERR_INVALID_ARGUMENT if every row is in use. */
RRWKV_API rrwkv_status rrwkv_batch_add(rrwkv_batch* batch, int32_t* row);

/* The row leaves the batch. RRWKV_ERR_OUT_OF_RANGE for a row not in it. */
RRWKV_API rrwkv_status rrwkv_batch_remove(rrwkv_batch* batch, int32_t row);

/* One token for each of n distinct rows: logits (may be NULL) receives n x vocab_size floats,
 * row i for rows[i]. Everything is checked before anything runs: RRWKV_ERR_OUT_OF_RANGE (a row
 * not in the batch, or a token outside [0, vocab_size); the message names the row),
 * RRWKV_ERR_INVALID_ARGUMENT (NULL, n == 0, a row twice), RRWKV_ERR_BUFFER_TOO_SMALL; then no
 * row's state changed. */
RRWKV_API rrwkv_status rrwkv_batch_step(rrwkv_batch* batch, const int32_t* rows, const int32_t* tokens, size_t n,
                                        float* logits, size_t logits_len);

/* n >= 1 tokens of one row in sequence mode (prompt ingestion); logits (may be NULL) receives the
 * last token's vocab_size logits. Errors as rrwkv_batch_step. */
RRWKV_API rrwkv_status rrwkv_batch_eval(rrwkv_batch* batch, int32_t row, const int32_t* tokens, size_t n,
                                        float* logits, size_t logits_len);

/* The row back to the initial state. RRWKV_ERR_OUT_OF_RANGE for a row not in the batch. */
RRWKV_API rrwkv_status rrwkv_batch_reset(rrwkv_batch* batch, int32_t row);

/* Tokens the row has taken since its last reset; -1 if batch is NULL or the row is not in it. */
RRWKV_API int64_t rrwkv_batch_pos(const rrwkv_batch* batch, int32_t row);

/* The row's state blob (the format of rrwkv_session_get_state; rrwkv_model_info.state_size
 * bytes), as rrwkv_session_get_state. RRWKV_ERR_OUT_OF_RANGE for a row not in the batch. */
RRWKV_API rrwkv_status rrwkv_batch_get_state(const rrwkv_batch* batch, int32_t row, void* buf, size_t buf_size,
                                             size_t* written);

/* Restores a blob (from a batch row or a session of the same model) into a row; errors as
 * rrwkv_session_set_state, the row unchanged on any. */
RRWKV_API rrwkv_status rrwkv_batch_set_state(rrwkv_batch* batch, int32_t row, const void* buf, size_t size);

/* ---- sampling ------------------------------------------------------------------------------ */

/* A token sampler with the semantics of the `rwkv` package's PIPELINE: banned tokens, then
 * presence / frequency penalties from occurrence counts that decay at each accepted token, then
 * top-p / top-k / min-p on the probabilities at temperature 1, then the temperature, then one
 * draw from a seeded generator (the same seed gives the same tokens on every platform).
 * A sampler belongs to one sequence: calls on one sampler must not overlap. It allocates
 * nothing per token. Loop: token = sample(logits); stop if is_stop(token); accept(token);
 * rrwkv_session_step(token). */
typedef struct rrwkv_sampler rrwkv_sampler;

typedef struct rrwkv_sampler_params {
  double temperature;        /* >= 0; 0 = greedy (argmax); default 1 */
  double top_p;              /* [0, 1]; 1 = off; default 0.85 (as generate() and the rwkv package) */
  int32_t top_k;             /* >= 0; 0 = off (default) */
  double min_p;              /* [0, 1]; keep p >= min_p * p_max; 0 = off (default) */
  double presence_penalty;   /* alpha_presence: subtracted from every seen token's logit; default 0 */
  double frequency_penalty;  /* alpha_frequency: times the token's count, subtracted too; default 0 */
  double penalty_decay;      /* alpha_decay, [0, 1]: counts are multiplied by it per accepted token; 0.996 */
  double repetition_penalty; /* > 0: seen tokens' logits, positive / rp, negative * rp; 1 = off (default) */
  const int32_t* banned_tokens; /* never sampled; the array is copied; may be NULL when n_banned is 0 */
  size_t n_banned;
  const int32_t* stop_tokens;   /* rrwkv_sampler_is_stop() is true for them; copied. NULL (default): the
                                   model's default, the World tokenizer's end-of-text (id 0) or none;
                                   non-NULL with n_stop 0: no stop tokens */
  size_t n_stop;
  bool has_seed;             /* false (default): seeded at random */
  uint64_t seed;
} rrwkv_sampler_params;

RRWKV_API rrwkv_sampler_params rrwkv_sampler_default_params(void);

/* A sampler for `model`'s logits (vocab_size), with the same per-model policy as the Python
 * package's generate(): if the model file carries a tokenizer, tokens whose text is part of
 * " \t0123456789" add 0 to their count (as in the rwkv package; others add 1), ids the tokenizer
 * cannot decode are banned, and stop_tokens NULL means the tokenizer's end-of-text. params may be NULL for the defaults.
 * Returns RRWKV_OK and *out; RRWKV_ERR_INVALID_ARGUMENT (model or out NULL, a parameter out of
 * its range: the message names it and the range); RRWKV_ERR_OUT_OF_RANGE (a banned or stop
 * token outside [0, vocab_size)); RRWKV_ERR_OUT_OF_MEMORY. */
RRWKV_API rrwkv_status rrwkv_sampler_new(const rrwkv_model* model, const rrwkv_sampler_params* params,
                                         rrwkv_sampler** out);

/* NULL is a no-op. */
RRWKV_API void rrwkv_sampler_free(rrwkv_sampler* sampler);

/* Draws one token from n_logits logits (n_logits must be the model's vocab_size). Returns
 * RRWKV_OK and *token; RRWKV_ERR_INVALID_ARGUMENT (NULL pointers, a wrong n_logits, or no token
 * can be drawn: every token banned or -inf). */
RRWKV_API rrwkv_status rrwkv_sampler_sample(rrwkv_sampler* sampler, const float* logits, size_t n_logits,
                                            int32_t* token);

/* rrwkv_sampler_sample with a mask of the tokens this draw may return (constrained decoding: a
 * grammar's next-token set, e.g. from llguidance): n_words 32-bit words, which must be
 * (n_logits + 31) / 32; bit (t % 32) of allowed[t / 32] set allows token t, the others count as
 * banned. allowed NULL is no mask. Errors as rrwkv_sampler_sample (also a wrong n_words, and a
 * mask that leaves nothing to draw). */
RRWKV_API rrwkv_status rrwkv_sampler_sample_masked(rrwkv_sampler* sampler, const float* logits, size_t n_logits,
                                                   const uint32_t* allowed, size_t n_words, int32_t* token);

/* Sets the additive logit bias (OpenAI's logit_bias): bias[i] is added to token tokens[i]'s logit
 * after the bans, before the penalties, at every later draw; entries for one token add up; n 0
 * clears it. Counts and the generator are unchanged. Returns RRWKV_OK; RRWKV_ERR_INVALID_ARGUMENT
 * (NULL arrays with n > 0, a bias that is not finite); RRWKV_ERR_OUT_OF_RANGE (a token outside
 * [0, vocab_size)). On an error the previous bias stays. */
RRWKV_API rrwkv_status rrwkv_sampler_set_logit_bias(rrwkv_sampler* sampler, const int32_t* tokens, const float* bias,
                                                    size_t n);

/* Records a token that was kept (not a stop token): every count decays, then the token's grows.
 * Returns RRWKV_OK; RRWKV_ERR_INVALID_ARGUMENT (NULL); RRWKV_ERR_OUT_OF_RANGE (bad token). */
RRWKV_API rrwkv_status rrwkv_sampler_accept(rrwkv_sampler* sampler, int32_t token);

/* Whether token is one of the stop tokens; false for NULL or an id out of range. */
RRWKV_API bool rrwkv_sampler_is_stop(const rrwkv_sampler* sampler, int32_t token);

/* Forgets every occurrence and restarts the generator from the seed (the same draws again).
 * Returns RRWKV_OK; RRWKV_ERR_INVALID_ARGUMENT (NULL). */
RRWKV_API rrwkv_status rrwkv_sampler_reset(rrwkv_sampler* sampler);

#ifdef __cplusplus
} /* extern "C" */
#endif

#endif /* RRWKV_RT_RRWKV_H */
