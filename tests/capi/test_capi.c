/* Tests of the C API (include/rrwkv_rt/rrwkv.h): every entry point with good and bad inputs.
 * Built against the installed package and run by tests/capi/test_capi.py, also under valgrind
 * and AddressSanitizer + UBSan.
 *
 *   test_capi MODEL OTHER_MODEL WORKDIR
 *
 * MODEL has a "bytes" tokenizer and vocab_size 256; OTHER_MODEL has the same shape, other
 * weights and no tokenizer; corrupt files are written into WORKDIR. Prints each failed check
 * and exits 1 if any failed. */
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <rrwkv_rt/rrwkv.h>

#include "expect.h"

static int same_floats(const float* a, const float* b, size_t n) { return memcmp(a, b, n * sizeof *a) == 0; }

static int close_floats(const float* a, const float* b, size_t n) {
  size_t i;
  for (i = 0; i < n; ++i)
    if (!(fabsf(a[i] - b[i]) <= 1e-4f + 1e-4f * fabsf(b[i]))) return 0;
  return 1;
}

static unsigned char* read_file(const char* path, size_t* size) {
  FILE* f = fopen(path, "rb");
  unsigned char* buf = NULL;
  long n;
  if (!f) return NULL;
  if (fseek(f, 0, SEEK_END) == 0 && (n = ftell(f)) > 0 && fseek(f, 0, SEEK_SET) == 0) {
    buf = malloc((size_t)n);
    if (buf && fread(buf, 1, (size_t)n, f) != (size_t)n) {
      free(buf);
      buf = NULL;
    }
    *size = (size_t)n;
  }
  fclose(f);
  return buf;
}

static void write_file(const char* path, const void* data, size_t size) {
  FILE* f = fopen(path, "wb");
  if (!f || (size && fwrite(data, 1, size, f) != size)) {
    fprintf(stderr, "cannot write %s\n", path);
    exit(2);
  }
  fclose(f);
}

static const char* join(char* buf, const char* dir, const char* name) {
  snprintf(buf, 4096, "%s/%s", dir, name);
  return buf;
}

/* ---- the tests -------------------------------------------------------------------------- */

static void test_basics(void) {
  EXPECT(strlen(rrwkv_version()) > 0);
  EXPECT(strcmp(rrwkv_last_error(), "") == 0);
  EXPECT(strcmp(rrwkv_status_name(RRWKV_OK), "RRWKV_OK") == 0);
  EXPECT(strcmp(rrwkv_status_name(RRWKV_ERR_STATE_MISMATCH), "RRWKV_ERR_STATE_MISMATCH") == 0);
  EXPECT(strcmp(rrwkv_status_name((rrwkv_status)99), "RRWKV_ERR_UNKNOWN") == 0);
  EXPECT(rrwkv_model_default_params().verify_checksums);
  EXPECT(rrwkv_session_default_params().n_threads == 0);
  rrwkv_model_free(NULL);
  rrwkv_session_free(NULL);
  EXPECT(rrwkv_model_vocab_size(NULL) == 0);
  EXPECT(rrwkv_session_pos(NULL) == -1);
  EXPECT(rrwkv_session_state_size(NULL) == 0);
}

static void test_load_errors(const char* model_path, const char* dir) {
  char path[4096];
  rrwkv_model* m = (rrwkv_model*)&path; /* not NULL: failures must reset it */
  rrwkv_model_params no_crc = rrwkv_model_default_params();
  size_t size = 0;
  unsigned char* bytes = read_file(model_path, &size);
  EXPECT(bytes != NULL && size > 1024);
  if (!bytes) return;

  EXPECT_STATUS(rrwkv_model_load(NULL, NULL, &m), RRWKV_ERR_INVALID_ARGUMENT, "path is NULL");
  EXPECT(m == NULL);
  EXPECT_STATUS(rrwkv_model_load(model_path, NULL, NULL), RRWKV_ERR_INVALID_ARGUMENT, "out is NULL");
  EXPECT_STATUS(rrwkv_model_load("/no/such/dir/model.rrwkv", NULL, &m), RRWKV_ERR_FILE_NOT_FOUND,
                "/no/such/dir/model.rrwkv");
  EXPECT(m == NULL);
  EXPECT(rrwkv_model_load(dir, NULL, &m) != RRWKV_OK && m == NULL && rrwkv_last_error()[0] != '\0');

  write_file(join(path, dir, "empty.rrwkv"), "", 0);
  EXPECT_STATUS(rrwkv_model_load(path, NULL, &m), RRWKV_ERR_FORMAT, "not an .rrwkv model");
  write_file(join(path, dir, "text.rrwkv"), "hello, I am not a model\n", 24);
  EXPECT_STATUS(rrwkv_model_load(path, NULL, &m), RRWKV_ERR_FORMAT, "not an .rrwkv model");
  write_file(join(path, dir, "truncated.rrwkv"), bytes, size / 2);
  EXPECT_STATUS(rrwkv_model_load(path, NULL, &m), RRWKV_ERR_FORMAT, "truncated");
  EXPECT(m == NULL);

  bytes[size / 2 + 4] ^= 0x40; /* inside the tensor data: a checksum failure */
  write_file(join(path, dir, "flipped.rrwkv"), bytes, size);
  EXPECT_STATUS(rrwkv_model_load(path, NULL, &m), RRWKV_ERR_FORMAT, "checksum");
  EXPECT(m == NULL);
  no_crc.verify_checksums = false; /* the params are honoured: unchecked, the file opens */
  EXPECT_STATUS(rrwkv_model_load(path, &no_crc, &m), RRWKV_OK, "");
  EXPECT(m != NULL);
  rrwkv_model_free(m);
  free(bytes);
}

static void test_info(const rrwkv_model* m, const rrwkv_model* other) {
  rrwkv_model_info info;
  EXPECT_STATUS(rrwkv_model_get_info(NULL, &info), RRWKV_ERR_INVALID_ARGUMENT, "model is NULL");
  EXPECT_STATUS(rrwkv_model_get_info(m, NULL), RRWKV_ERR_INVALID_ARGUMENT, "info is NULL");
  EXPECT_STATUS(rrwkv_model_get_info(m, &info), RRWKV_OK, "");
  EXPECT(info.vocab_size == 256 && info.vocab_size == rrwkv_model_vocab_size(m));
  EXPECT(info.n_layer > 0 && info.n_embd > 0 && info.ffn_dim > 0 && info.medium_interval >= 1);
  EXPECT(strcmp(info.arch, "rwkv4") == 0 || strcmp(info.arch, "rrwkv") == 0);
  EXPECT(strcmp(info.dtype, "f32") == 0);
  EXPECT(info.tokenizer != NULL && strcmp(info.tokenizer, "bytes") == 0);
  EXPECT(info.format_version == 1 && info.file_size > 0 && info.decode_bytes_per_token > 0);
  EXPECT(info.layer_norm_eps > 0);
  EXPECT_STATUS(rrwkv_model_get_info(other, &info), RRWKV_OK, "");
  EXPECT(info.tokenizer == NULL);
}

static void test_tokenizer(const rrwkv_model* m, const rrwkv_model* no_tok) {
  int32_t ids[16];
  char text[16];
  size_t n = 99;
  const int32_t bad[2] = {104, 300};
  EXPECT_STATUS(rrwkv_tokenize(NULL, "hi", 2, ids, 16, &n), RRWKV_ERR_INVALID_ARGUMENT, "model is NULL");
  EXPECT_STATUS(rrwkv_tokenize(m, "hi", 2, ids, 16, NULL), RRWKV_ERR_INVALID_ARGUMENT, "n_tokens is NULL");
  EXPECT_STATUS(rrwkv_tokenize(m, NULL, 2, ids, 16, &n), RRWKV_ERR_INVALID_ARGUMENT, "text is NULL");
  EXPECT_STATUS(rrwkv_tokenize(m, "hi", 2, NULL, 16, &n), RRWKV_ERR_INVALID_ARGUMENT, "tokens is NULL");
  EXPECT_STATUS(rrwkv_tokenize(no_tok, "hi", 2, ids, 16, &n), RRWKV_ERR_FORMAT, "carries no tokenizer");
  EXPECT_STATUS(rrwkv_tokenize(m, "hello", 5, NULL, 0, &n), RRWKV_ERR_BUFFER_TOO_SMALL, "capacity is 0");
  EXPECT(n == 5);
  EXPECT_STATUS(rrwkv_tokenize(m, "hello", 5, ids, 4, &n), RRWKV_ERR_BUFFER_TOO_SMALL, "5 tokens");
  EXPECT_STATUS(rrwkv_tokenize(m, "hello", 5, ids, 16, &n), RRWKV_OK, "");
  EXPECT(n == 5 && ids[0] == 'h' && ids[4] == 'o');
  EXPECT_STATUS(rrwkv_tokenize(m, NULL, 0, NULL, 0, &n), RRWKV_OK, "");
  EXPECT(n == 0);

  EXPECT_STATUS(rrwkv_detokenize(m, ids, 5, text, 16, NULL), RRWKV_ERR_INVALID_ARGUMENT, "n_bytes is NULL");
  EXPECT_STATUS(rrwkv_detokenize(m, NULL, 5, text, 16, &n), RRWKV_ERR_INVALID_ARGUMENT, "tokens is NULL");
  EXPECT_STATUS(rrwkv_detokenize(m, ids, 5, NULL, 16, &n), RRWKV_ERR_INVALID_ARGUMENT, "text is NULL");
  EXPECT_STATUS(rrwkv_detokenize(no_tok, ids, 5, text, 16, &n), RRWKV_ERR_FORMAT, "carries no tokenizer");
  EXPECT_STATUS(rrwkv_detokenize(m, ids, 5, text, 5, &n), RRWKV_ERR_BUFFER_TOO_SMALL, "plus a NUL");
  EXPECT(n == 5);
  EXPECT_STATUS(rrwkv_detokenize(m, bad, 2, text, 16, &n), RRWKV_ERR_OUT_OF_RANGE, "300");
  EXPECT_STATUS(rrwkv_detokenize(m, ids, 5, text, 6, &n), RRWKV_OK, "");
  EXPECT(n == 5 && strcmp(text, "hello") == 0);
  EXPECT_STATUS(rrwkv_detokenize(m, NULL, 0, text, 1, &n), RRWKV_OK, "");
  EXPECT(n == 0 && text[0] == '\0');
}

static void test_session_errors(const rrwkv_model* m) {
  rrwkv_session* s = NULL;
  rrwkv_session* c = (rrwkv_session*)&s;
  rrwkv_session_params p = rrwkv_session_default_params();
  const int64_t V = rrwkv_model_vocab_size(m);
  float* logits = malloc((size_t)V * sizeof *logits);
  const int32_t good[3] = {1, 2, 3}, bad[3] = {1, 256, 3}, negative[1] = {-1};

  p.n_threads = -2;
  EXPECT_STATUS(rrwkv_session_new(NULL, NULL, &c), RRWKV_ERR_INVALID_ARGUMENT, "model is NULL");
  EXPECT(c == NULL);
  EXPECT_STATUS(rrwkv_session_new(m, NULL, NULL), RRWKV_ERR_INVALID_ARGUMENT, "out is NULL");
  EXPECT_STATUS(rrwkv_session_new(m, &p, &s), RRWKV_ERR_INVALID_ARGUMENT, "n_threads is -2");
  p.n_threads = 2;
  EXPECT_STATUS(rrwkv_session_new(m, &p, &s), RRWKV_OK, "");
  if (!s || !logits) return;
  EXPECT_STATUS(rrwkv_set_blas(""), RRWKV_ERR_INVALID_ARGUMENT, "already chosen");

  EXPECT_STATUS(rrwkv_session_step(NULL, 1, logits, (size_t)V), RRWKV_ERR_INVALID_ARGUMENT, "session is NULL");
  EXPECT_STATUS(rrwkv_session_step(s, 256, logits, (size_t)V), RRWKV_ERR_OUT_OF_RANGE, "token 256");
  EXPECT_STATUS(rrwkv_session_step(s, -1, logits, (size_t)V), RRWKV_ERR_OUT_OF_RANGE, "token -1");
  EXPECT_STATUS(rrwkv_session_step(s, 1, logits, (size_t)V - 1), RRWKV_ERR_BUFFER_TOO_SMALL, "needs 256");
  EXPECT_STATUS(rrwkv_session_step(s, 1, logits, 0), RRWKV_ERR_BUFFER_TOO_SMALL, "logits_len is 0");
  EXPECT(rrwkv_session_pos(s) == 0);

  EXPECT_STATUS(rrwkv_session_eval(NULL, good, 3, logits, (size_t)V), RRWKV_ERR_INVALID_ARGUMENT, "session is NULL");
  EXPECT_STATUS(rrwkv_session_eval(s, NULL, 3, logits, (size_t)V), RRWKV_ERR_INVALID_ARGUMENT, "tokens is NULL");
  EXPECT_STATUS(rrwkv_session_eval(s, good, 0, logits, (size_t)V), RRWKV_ERR_INVALID_ARGUMENT, "n is 0");
  EXPECT_STATUS(rrwkv_session_eval(s, bad, 3, logits, (size_t)V), RRWKV_ERR_OUT_OF_RANGE, "at index 1");
  EXPECT_STATUS(rrwkv_session_eval(s, negative, 1, NULL, 0), RRWKV_ERR_OUT_OF_RANGE, "token -1");
  EXPECT_STATUS(rrwkv_session_eval(s, good, 3, logits, 10), RRWKV_ERR_BUFFER_TOO_SMALL, "logits_len is 10");
  EXPECT_STATUS(rrwkv_session_eval_all(s, good, 3, NULL, 0), RRWKV_ERR_INVALID_ARGUMENT, "logits is NULL");
  EXPECT_STATUS(rrwkv_session_eval_all(s, good, 3, logits, (size_t)V), RRWKV_ERR_BUFFER_TOO_SMALL, "needs 768");
  EXPECT_STATUS(rrwkv_session_eval_all(s, good, (size_t)-1 / 2, logits, (size_t)V), RRWKV_ERR_INVALID_ARGUMENT,
                "overflows");
  EXPECT(rrwkv_session_pos(s) == 0);
  EXPECT_STATUS(rrwkv_session_reset(NULL), RRWKV_ERR_INVALID_ARGUMENT, "session is NULL");
  EXPECT_STATUS(rrwkv_session_clone(NULL, &c), RRWKV_ERR_INVALID_ARGUMENT, "session is NULL");
  EXPECT_STATUS(rrwkv_session_clone(s, NULL), RRWKV_ERR_INVALID_ARGUMENT, "out is NULL");

  /* nothing above changed the state: the first step equals a fresh session's */
  EXPECT_STATUS(rrwkv_session_step(s, 7, logits, (size_t)V), RRWKV_OK, "");
  EXPECT(rrwkv_session_pos(s) == 1);
  rrwkv_session_free(s);
  free(logits);
}

/* step == eval == eval_all, logits optional, clone and reset continue identically. */
static void test_session_math(const rrwkv_model* m) {
  enum { T = 9 };
  const int32_t toks[T] = {3, 14, 15, 92, 65, 35, 89, 79, 32};
  const size_t V = (size_t)rrwkv_model_vocab_size(m);
  float* stepped = malloc(T * V * sizeof(float));
  float* all = malloc(T * V * sizeof(float));
  float* last = malloc(V * sizeof(float));
  float* a = malloc(V * sizeof(float));
  float* b = malloc(V * sizeof(float));
  rrwkv_session *s = NULL, *c = NULL;
  size_t i;
  EXPECT_STATUS(rrwkv_session_new(m, NULL, &s), RRWKV_OK, "");
  if (!s) return;
  for (i = 0; i < T; ++i) EXPECT_STATUS(rrwkv_session_step(s, toks[i], stepped + i * V, V), RRWKV_OK, "");
  EXPECT(rrwkv_session_pos(s) == T);

  EXPECT_STATUS(rrwkv_session_reset(s), RRWKV_OK, "");
  EXPECT(rrwkv_session_pos(s) == 0);
  EXPECT_STATUS(rrwkv_session_eval_all(s, toks, T, all, T * V), RRWKV_OK, "");
  EXPECT(close_floats(all, stepped, T * V));
  EXPECT_STATUS(rrwkv_session_reset(s), RRWKV_OK, "");
  EXPECT_STATUS(rrwkv_session_eval(s, toks, T, last, V), RRWKV_OK, "");
  EXPECT(rrwkv_session_pos(s) == T);
  EXPECT(close_floats(last, stepped + (T - 1) * V, V));

  /* a step without logits advances the state like one with them */
  EXPECT_STATUS(rrwkv_session_reset(s), RRWKV_OK, "");
  for (i = 0; i + 1 < T; ++i) EXPECT_STATUS(rrwkv_session_step(s, toks[i], NULL, 0), RRWKV_OK, "");
  EXPECT_STATUS(rrwkv_session_step(s, toks[T - 1], a, V), RRWKV_OK, "");
  EXPECT(same_floats(a, stepped + (T - 1) * V, V));
  /* so does an eval without logits */
  EXPECT_STATUS(rrwkv_session_reset(s), RRWKV_OK, "");
  EXPECT_STATUS(rrwkv_session_eval(s, toks, T - 1, NULL, 0), RRWKV_OK, "");
  EXPECT_STATUS(rrwkv_session_step(s, toks[T - 1], a, V), RRWKV_OK, "");
  EXPECT(close_floats(a, stepped + (T - 1) * V, V));

  /* a clone continues exactly as the original, independently of it */
  EXPECT_STATUS(rrwkv_session_clone(s, &c), RRWKV_OK, "");
  if (c) {
    EXPECT(rrwkv_session_pos(c) == T);
    EXPECT_STATUS(rrwkv_session_step(c, 5, a, V), RRWKV_OK, "");
    EXPECT_STATUS(rrwkv_session_step(s, 5, b, V), RRWKV_OK, "");
    EXPECT(same_floats(a, b, V));
    EXPECT_STATUS(rrwkv_session_step(c, 6, a, V), RRWKV_OK, "");
    EXPECT(rrwkv_session_pos(c) == T + 2 && rrwkv_session_pos(s) == T + 1);
  }
  rrwkv_session_free(c);
  rrwkv_session_free(s);
  free(stepped);
  free(all);
  free(last);
  free(a);
  free(b);
}

/* A batch: rows at different positions, stepped together, equal sessions stepped alone (bit for
 * bit); bad rows and tokens are refused before anything runs; states move to and from sessions. */
static void test_batch(const rrwkv_model* m, const rrwkv_model* other) {
  enum { R = 3 };
  const size_t V = (size_t)rrwkv_model_vocab_size(m);
  const int32_t prompts[R][4] = {{1, 2, 3, 4}, {5, 6, 0, 0}, {7, 0, 0, 0}};
  const size_t lens[R] = {4, 2, 1};
  float* got = malloc(R * V * sizeof(float));
  float* want = malloc(V * sizeof(float));
  rrwkv_batch* b = NULL;
  rrwkv_session* s[R] = {NULL, NULL, NULL};
  rrwkv_batch_params p = rrwkv_batch_default_params();
  int32_t rows[R], toks[R], row = -1, bad_rows[2], extra = -1;
  size_t i, written = 0;
  uint8_t* blob;
  rrwkv_model_info info;
  int step;
  EXPECT(p.capacity == 8 && p.n_threads == 0);
  p.capacity = R;
  EXPECT_STATUS(rrwkv_batch_new(NULL, &p, &b), RRWKV_ERR_INVALID_ARGUMENT, "model is NULL");
  p.capacity = 0;
  EXPECT_STATUS(rrwkv_batch_new(m, &p, &b), RRWKV_ERR_INVALID_ARGUMENT, "capacity must be");
  EXPECT(b == NULL);
  p.capacity = R;
  EXPECT_STATUS(rrwkv_batch_new(m, &p, &b), RRWKV_OK, "");
  if (!b) return;
  for (i = 0; i < R; ++i) {
    EXPECT_STATUS(rrwkv_batch_add(b, &rows[i]), RRWKV_OK, "");
    EXPECT_STATUS(rrwkv_session_new(m, NULL, &s[i]), RRWKV_OK, "");
    EXPECT_STATUS(rrwkv_batch_eval(b, rows[i], prompts[i], lens[i], NULL, 0), RRWKV_OK, "");
    EXPECT_STATUS(rrwkv_session_eval(s[i], prompts[i], lens[i], NULL, 0), RRWKV_OK, "");
    EXPECT(rrwkv_batch_pos(b, rows[i]) == (int64_t)lens[i]);
  }
  EXPECT_STATUS(rrwkv_batch_add(b, &extra), RRWKV_ERR_INVALID_ARGUMENT, "the batch is full");
  EXPECT(extra == -1);
  for (step = 0; step < 5; ++step) {
    for (i = 0; i < R; ++i) toks[i] = (int32_t)((7 * step + 3 * i + 1) % V);
    EXPECT_STATUS(rrwkv_batch_step(b, rows, toks, R, got, R * V), RRWKV_OK, "");
    for (i = 0; i < R; ++i) {
      EXPECT_STATUS(rrwkv_session_step(s[i], toks[i], want, V), RRWKV_OK, "");
      EXPECT(same_floats(got + i * V, want, V));
    }
  }
  /* refused before anything runs: positions stay */
  toks[1] = (int32_t)V;
  EXPECT_STATUS(rrwkv_batch_step(b, rows, toks, R, got, R * V), RRWKV_ERR_OUT_OF_RANGE, "of row 1");
  toks[1] = 0;
  bad_rows[0] = rows[0], bad_rows[1] = rows[0];
  EXPECT_STATUS(rrwkv_batch_step(b, bad_rows, toks, 2, got, R * V), RRWKV_ERR_INVALID_ARGUMENT, "appears twice");
  EXPECT_STATUS(rrwkv_batch_step(b, rows, toks, R, got, R * V - 1), RRWKV_ERR_BUFFER_TOO_SMALL, "logits_len");
  EXPECT(rrwkv_batch_pos(b, rows[0]) == 9 && rrwkv_batch_pos(b, rows[2]) == 6);
  /* a row's state continues in a session and a session's in a row */
  EXPECT_STATUS(rrwkv_model_get_info(m, &info), RRWKV_OK, "");
  blob = malloc(info.state_size);
  EXPECT_STATUS(rrwkv_batch_get_state(b, rows[1], NULL, 0, &written), RRWKV_ERR_BUFFER_TOO_SMALL, "buf_size is 0");
  EXPECT(written == info.state_size);
  EXPECT_STATUS(rrwkv_batch_get_state(b, rows[1], blob, info.state_size, NULL), RRWKV_OK, "");
  EXPECT_STATUS(rrwkv_session_set_state(s[0], blob, info.state_size), RRWKV_OK, "");
  EXPECT_STATUS(rrwkv_batch_step(b, &rows[1], toks, 1, got, V), RRWKV_OK, "");
  EXPECT_STATUS(rrwkv_session_step(s[0], toks[0], want, V), RRWKV_OK, "");
  EXPECT(same_floats(got, want, V));
  EXPECT_STATUS(rrwkv_batch_set_state(b, rows[2], "junk", 4), RRWKV_ERR_FORMAT, "not a session state");
  /* rows leave and join */
  EXPECT_STATUS(rrwkv_batch_remove(b, rows[2]), RRWKV_OK, "");
  EXPECT_STATUS(rrwkv_batch_remove(b, rows[2]), RRWKV_ERR_OUT_OF_RANGE, "not in the batch");
  EXPECT(rrwkv_batch_pos(b, rows[2]) == -1);
  EXPECT_STATUS(rrwkv_batch_step(b, rows, toks, R, got, R * V), RRWKV_ERR_OUT_OF_RANGE, "not in the batch");
  EXPECT_STATUS(rrwkv_batch_add(b, &row), RRWKV_OK, "");
  EXPECT(row == rows[2] && rrwkv_batch_pos(b, row) == 0);
  EXPECT_STATUS(rrwkv_batch_reset(b, rows[0]), RRWKV_OK, "");
  EXPECT(rrwkv_batch_pos(b, rows[0]) == 0);
  (void)other;
  free(blob);
  for (i = 0; i < R; ++i) rrwkv_session_free(s[i]);
  rrwkv_batch_free(b);
  rrwkv_batch_free(NULL);
  free(got);
  free(want);
}

static void test_state(const rrwkv_model* m, const rrwkv_model* other) {
  const size_t V = (size_t)rrwkv_model_vocab_size(m);
  const int32_t prompt[4] = {10, 20, 30, 40};
  rrwkv_session *s = NULL, *o = NULL;
  float* a = malloc(V * sizeof(float));
  float* b = malloc(V * sizeof(float));
  unsigned char *blob = NULL, *theirs = NULL;
  size_t size, written = 0;
  EXPECT_STATUS(rrwkv_session_new(m, NULL, &s), RRWKV_OK, "");
  EXPECT_STATUS(rrwkv_session_new(other, NULL, &o), RRWKV_OK, "");
  if (!s || !o) return;
  size = rrwkv_session_state_size(s);
  EXPECT(size > 64 && size == rrwkv_session_state_size(o));
  blob = malloc(size + 8);
  theirs = malloc(size);

  EXPECT_STATUS(rrwkv_session_eval(s, prompt, 4, NULL, 0), RRWKV_OK, "");
  EXPECT_STATUS(rrwkv_session_get_state(NULL, blob, size, &written), RRWKV_ERR_INVALID_ARGUMENT, "session is NULL");
  EXPECT_STATUS(rrwkv_session_get_state(s, NULL, size, &written), RRWKV_ERR_INVALID_ARGUMENT, "buf is NULL");
  EXPECT_STATUS(rrwkv_session_get_state(s, NULL, 0, &written), RRWKV_ERR_BUFFER_TOO_SMALL, "buf_size is 0");
  EXPECT(written == size);
  EXPECT_STATUS(rrwkv_session_get_state(s, blob, size - 1, NULL), RRWKV_ERR_BUFFER_TOO_SMALL, "allocate");
  EXPECT_STATUS(rrwkv_session_get_state(s, blob, size + 8, &written), RRWKV_OK, "");
  EXPECT(written == size);
  EXPECT_STATUS(rrwkv_session_get_state(o, theirs, size, NULL), RRWKV_OK, "");

  /* continue, then rewind and continue again: identical */
  EXPECT_STATUS(rrwkv_session_step(s, 50, a, V), RRWKV_OK, "");
  EXPECT_STATUS(rrwkv_session_set_state(s, blob, size), RRWKV_OK, "");
  EXPECT(rrwkv_session_pos(s) == 4);
  EXPECT_STATUS(rrwkv_session_step(s, 50, b, V), RRWKV_OK, "");
  EXPECT(same_floats(a, b, V));
  EXPECT_STATUS(rrwkv_session_set_state(s, blob, size), RRWKV_OK, "");

  /* every bad blob is refused and leaves the state as it was: a corrupt one with RRWKV_ERR_FORMAT,
     an intact one of another model with RRWKV_ERR_STATE_MISMATCH */
  EXPECT_STATUS(rrwkv_session_set_state(NULL, blob, size), RRWKV_ERR_INVALID_ARGUMENT, "session is NULL");
  EXPECT_STATUS(rrwkv_session_set_state(s, NULL, size), RRWKV_ERR_INVALID_ARGUMENT, "buf is NULL");
  EXPECT_STATUS(rrwkv_session_set_state(s, blob, 0), RRWKV_ERR_FORMAT, "not a session state");
  EXPECT_STATUS(rrwkv_session_set_state(s, "garbage", 7), RRWKV_ERR_FORMAT, "not a session state");
  EXPECT_STATUS(rrwkv_session_set_state(s, blob, size - 4), RRWKV_ERR_FORMAT, "truncated");
  EXPECT_STATUS(rrwkv_session_set_state(s, blob, size + 8), RRWKV_ERR_FORMAT, "bytes, expected");
  EXPECT_STATUS(rrwkv_session_set_state(s, theirs, size), RRWKV_ERR_STATE_MISMATCH, "another model");
  blob[size - 3] ^= 0x10;
  EXPECT_STATUS(rrwkv_session_set_state(s, blob, size), RRWKV_ERR_FORMAT, "checksum");
  EXPECT(rrwkv_session_pos(s) == 4);
  EXPECT_STATUS(rrwkv_session_step(s, 50, b, V), RRWKV_OK, "");
  EXPECT(same_floats(a, b, V));

  rrwkv_session_free(s);
  rrwkv_session_free(o);
  free(blob);
  free(theirs);
  free(a);
  free(b);
}

/* The session keeps its model alive after the model handle is freed. */
static void test_model_freed_first(const char* model_path) {
  rrwkv_model* m = NULL;
  rrwkv_session* s = NULL;
  float logits[256];
  const int32_t toks[2] = {1, 2};
  EXPECT_STATUS(rrwkv_model_load(model_path, NULL, &m), RRWKV_OK, "");
  EXPECT_STATUS(rrwkv_session_new(m, NULL, &s), RRWKV_OK, "");
  rrwkv_model_free(m);
  EXPECT_STATUS(rrwkv_session_eval(s, toks, 2, logits, 256), RRWKV_OK, "");
  EXPECT_STATUS(rrwkv_session_step(s, 3, logits, 256), RRWKV_OK, "");
  rrwkv_session_free(s);
}

/* A model read into memory computes what the mapped one does, bit for bit; bad arguments and a
 * missing file are refused as rrwkv_model_load refuses them. */
static void test_model_load_into_memory(const char* model_path) {
  rrwkv_model *mapped = NULL, *copied = NULL;
  rrwkv_session *a = NULL, *b = NULL;
  float la[256], lb[256];
  const int32_t toks[3] = {5, 6, 7};
  EXPECT_STATUS(rrwkv_model_load_into_memory(NULL, NULL, &copied), RRWKV_ERR_INVALID_ARGUMENT, "path is NULL");
  EXPECT_STATUS(rrwkv_model_load_into_memory(model_path, NULL, NULL), RRWKV_ERR_INVALID_ARGUMENT, "out is NULL");
  EXPECT_STATUS(rrwkv_model_load_into_memory("/no/such/dir/model.rrwkv", NULL, &copied), RRWKV_ERR_FILE_NOT_FOUND,
                "does not exist");
  EXPECT(copied == NULL);
  EXPECT_STATUS(rrwkv_model_load(model_path, NULL, &mapped), RRWKV_OK, "");
  EXPECT_STATUS(rrwkv_model_load_into_memory(model_path, NULL, &copied), RRWKV_OK, "");
  EXPECT_STATUS(rrwkv_session_new(mapped, NULL, &a), RRWKV_OK, "");
  EXPECT_STATUS(rrwkv_session_new(copied, NULL, &b), RRWKV_OK, "");
  EXPECT_STATUS(rrwkv_session_eval(a, toks, 3, la, 256), RRWKV_OK, "");
  EXPECT_STATUS(rrwkv_session_eval(b, toks, 3, lb, 256), RRWKV_OK, "");
  EXPECT(memcmp(la, lb, sizeof la) == 0);
  rrwkv_session_free(a);
  rrwkv_session_free(b);
  rrwkv_model_free(mapped);
  rrwkv_model_free(copied);
}

/* Last-error messages are per thread; sessions on one model run in parallel. */
typedef struct {
  const rrwkv_model* model;
  int id, ok;
  float logits[256];
} worker_arg;

static void* worker(void* p) {
  worker_arg* w = p;
  char want[64];
  rrwkv_session* s = NULL;
  const int32_t toks[3] = {7, 8, 9};
  int i;
  w->ok = rrwkv_session_new(w->model, NULL, &s) == RRWKV_OK;
  snprintf(want, sizeof want, "token %d ", 1000 + w->id);
  for (i = 0; i < 50 && w->ok; ++i) {
    w->ok = rrwkv_session_step(s, 1000 + w->id, NULL, 0) == RRWKV_ERR_OUT_OF_RANGE &&
            strstr(rrwkv_last_error(), want) != NULL;
  }
  w->ok = w->ok && rrwkv_session_eval(s, toks, 3, w->logits, 256) == RRWKV_OK && rrwkv_last_error()[0] == '\0';
  rrwkv_session_free(s);
  return NULL;
}

static void test_threads(const rrwkv_model* m) {
  enum { N = 4 };
  pthread_t th[N];
  worker_arg args[N];
  int i;
  EXPECT_STATUS(rrwkv_model_get_info(m, NULL), RRWKV_ERR_INVALID_ARGUMENT, "info is NULL");
  for (i = 0; i < N; ++i) {
    args[i].model = m;
    args[i].id = i;
    args[i].ok = 0;
    EXPECT(pthread_create(&th[i], NULL, worker, &args[i]) == 0);
  }
  for (i = 0; i < N; ++i) pthread_join(th[i], NULL);
  for (i = 0; i < N; ++i) {
    EXPECT(args[i].ok);
    EXPECT(same_floats(args[i].logits, args[0].logits, 256));
  }
  EXPECT(strstr(rrwkv_last_error(), "info is NULL") != NULL); /* this thread's message is untouched */
}

int main(int argc, char** argv) {
  rrwkv_model *m = NULL, *other = NULL;
  if (argc != 4) {
    fprintf(stderr, "usage: test_capi MODEL OTHER_MODEL WORKDIR\n");
    return 2;
  }
  test_basics();
  test_load_errors(argv[1], argv[3]);
  EXPECT_STATUS(rrwkv_model_load(argv[1], NULL, &m), RRWKV_OK, "");
  EXPECT_STATUS(rrwkv_model_load(argv[2], NULL, &other), RRWKV_OK, "");
  if (m && other) {
    test_info(m, other);
    test_tokenizer(m, other);
    test_session_errors(m);
    test_session_math(m);
    test_batch(m, other);
    test_state(m, other);
    test_model_freed_first(argv[1]);
    test_model_load_into_memory(argv[1]);
    test_threads(m);
  }
  rrwkv_model_free(m);
  rrwkv_model_free(other);
  printf("%d checks, %d failed\n", g_checks, g_failures);
  return g_failures ? 1 : 0;
}
